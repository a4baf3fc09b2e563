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

/* How often the views follow a training run: twice a second, on shared
 * half-second boundaries, so the status line, the sidebar and the curves
 * change in one frame, not three (each frame repaints the whole window with
 * GTK 4.8's cairo renderer on X11, on the cores the trainer uses). */
#define CS_UI_TICK_MS 500

static inline guint
cs_ui_tick_add_every (guint       ticks,
                      GSourceFunc func,
                      gpointer    data)
{
  gint64 now_ms = g_get_monotonic_time () / 1000, period = (gint64) CS_UI_TICK_MS * MAX (ticks, 1);

  return g_timeout_add ((guint) (period - now_ms % period), func, data);
}

static inline guint
cs_ui_tick_add (GSourceFunc func,
                gpointer    data)
{
  return cs_ui_tick_add_every (1, func, data);
}

G_END_DECLS
