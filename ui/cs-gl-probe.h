#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

const char *cs_prefer_cairo_on_software_gl (void);

G_END_DECLS
