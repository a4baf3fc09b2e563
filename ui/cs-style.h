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

/* A run's or checkpoint's colour in the plots: the one the window gave it
 * when it joined the sidebar (so it keeps it across selections), else @fallback. */
static inline guint
cs_item_color_index (GObject *item,
                     guint    fallback)
{
  gpointer data = item ? g_object_get_data (item, "cs-color") : NULL;

  return data != NULL ? GPOINTER_TO_UINT (data) - 1 : fallback;
}

static inline void
cs_item_set_color_index (GObject *item,
                         guint    index)
{
  g_object_set_data (item, "cs-color", GUINT_TO_POINTER (index + 1));
}

G_END_DECLS
