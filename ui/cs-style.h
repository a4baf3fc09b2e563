/* What the widgets ask of the theme. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Whether the widget's text colour is light, i.e. it sits on a dark theme. */
static inline gboolean
cs_widget_is_dark (GtkWidget *widget)
{
  GdkRGBA color;

  /* gtk_widget_get_color() is 4.10; 4.8 only has the style context. */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &color);
  G_GNUC_END_IGNORE_DEPRECATIONS
  return (color.red + color.green + color.blue) / 3 > 0.5;
}

G_END_DECLS
