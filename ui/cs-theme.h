/* The app's stylesheets: style.css always, style-dark.css on a dark theme. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Loads them for the default display and follows GTK's dark preference and
 * theme name from then on. Safe to call more than once. */
void     cs_theme_install (void);
/* Whether the dark stylesheet is in use. */
gboolean cs_theme_is_dark (void);

G_END_DECLS
