/* The desktop application: one instance, one main window. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CS_TYPE_APPLICATION (cs_application_get_type ())

G_DECLARE_FINAL_TYPE (CsApplication, cs_application, CS, APPLICATION, GtkApplication)

CsApplication *cs_application_new (void) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
