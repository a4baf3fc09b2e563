/* The main window. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CS_TYPE_WINDOW (cs_window_get_type ())

G_DECLARE_FINAL_TYPE (CsWindow, cs_window, CS, WINDOW, GtkApplicationWindow)

CsWindow    *cs_window_new              (GtkApplication *application) G_GNUC_WARN_UNUSED_RESULT;
const char  *cs_window_get_status_text  (CsWindow       *self);

G_END_DECLS
