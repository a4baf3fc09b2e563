/* The plot widget: snapshot() hands cairo to cs_plot_draw(), which also renders PNG, SVG and PDF files. */

#define G_LOG_DOMAIN "cs-plot"

#include "config.h"

#include <math.h>
#include <string.h>

#include "cs-plot-private.h"
#include "cs-style.h"
#include "render/cs-render.h"

G_DEFINE_FINAL_TYPE (CsPlot, cs_plot, GTK_TYPE_WIDGET)

/* Something that shows changed: the next frame draws the plot again. */
static void
invalidate (CsPlot *self)
{
  self->version++;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static const char * const palette[] = {
  "#3584e4", "#e66100", "#2ec27e", "#9141ac", "#e01b24", "#986a44", "#1c71d8", "#f5c211",
};

void
cs_plot_palette_color (guint    index,
                       GdkRGBA *color)
{
  gdk_rgba_parse (color, palette[index % G_N_ELEMENTS (palette)]);
}

static void
series_free (Series *s)
{
  g_free (s->smoothed);
  g_free (s->name);
  g_array_unref (s->x);
  g_array_unref (s->y);
  g_free (s);
}

static void
cs_plot_snapshot (GtkWidget   *widget,
                  GtkSnapshot *snapshot)
{
  CsPlot *self = CS_PLOT (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  int scale = gtk_widget_get_scale_factor (widget);
  gboolean dark = cs_widget_is_dark (widget);

  if (w <= 0 || h <= 0)
    return;
  if (self->cached == NULL || self->cached_version != self->version || self->cached_w != w ||
      self->cached_h != h || self->cached_scale != scale || self->cached_dark != dark)
    {
      cairo_t *cr;

      g_clear_pointer (&self->cached, cairo_surface_destroy);
      self->cached = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w * scale, h * scale);
      cairo_surface_set_device_scale (self->cached, scale, scale);
      cr = cairo_create (self->cached);
      cs_plot_draw (self, cr, w, h, dark);
      cairo_destroy (cr);
      self->cached_version = self->version;
      self->cached_w = w;
      self->cached_h = h;
      self->cached_scale = scale;
      self->cached_dark = dark;
    }
  /* The node the renderer replays each frame is one image paint. */
  {
    cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));

    cairo_set_source_surface (cr, self->cached, 0, 0);
    cairo_paint (cr);
    cairo_destroy (cr);
  }
}

static void
update_readout (CsPlot *self)
{
  Frame f = cs_plot_compute_frame (self, gtk_widget_get_width (GTK_WIDGET (self)), gtk_widget_get_height (GTK_WIDGET (self)));
  double best = 30 * 30;
  int best_s = -1;
  guint best_i = 0;

  g_clear_pointer (&self->readout, g_free);
  self->hover_series = -1;
  if (!self->hovering || f.empty)
    return;
  for (guint s = 0; s < self->series->len; s++)
    {
      Series *se = g_ptr_array_index (self->series, s);
      for (guint i = 0; i < se->x->len; i++)
        {
          double x = g_array_index (se->x, double, i), y = g_array_index (se->y, double, i);
          double dx, dy;
          if (!isfinite (y) || (self->log_y && y <= 0))
            continue;
          dx = cs_plot_px (&f, x) - self->hover_x;
          dy = cs_plot_py (&f, cs_plot_ty (self, y)) - self->hover_y;
          if (dx * dx + dy * dy < best)
            {
              best = dx * dx + dy * dy;
              best_s = (int) s;
              best_i = i;
            }
        }
    }
  if (best_s >= 0)
    {
      Series *se = g_ptr_array_index (self->series, best_s);
      double x = g_array_index (se->x, double, best_i), y = g_array_index (se->y, double, best_i);

      self->hover_series = best_s;
      self->hover_px = cs_plot_px (&f, x);
      self->hover_py = cs_plot_py (&f, cs_plot_ty (self, y));
      self->readout = g_strdup_printf ("%s · %s %g · %.4g%s", se->name, self->x_label ? self->x_label : "x", x, y,
                                       self->y_unit ? self->y_unit : "");
    }
}

void
cs_plot_hover (CsPlot *self,
               double  x,
               double  y)
{
  self->hovering = x >= 0;
  self->hover_x = x;
  self->hover_y = y;
  update_readout (self);
  invalidate (self);
}

static void
motion_cb (GtkEventControllerMotion *motion,
           double                    x,
           double                    y,
           CsPlot                   *self)
{
  cs_plot_hover (self, x, y);
}

static void
leave_cb (GtkEventControllerMotion *motion,
          CsPlot                   *self)
{
  cs_plot_hover (self, -1, -1);
}

static void
cs_plot_measure (GtkWidget      *widget,
                 GtkOrientation  orientation,
                 int             for_size,
                 int            *minimum,
                 int            *natural,
                 int            *minimum_baseline,
                 int            *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 240 : 160;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 640 : 280;
}

static void
cs_plot_dispose (GObject *object)
{
  CsPlot *self = CS_PLOT (object);

  g_clear_pointer (&self->series, g_ptr_array_unref);
  g_clear_pointer (&self->cached, cairo_surface_destroy);
  g_clear_pointer (&self->marks, g_array_unref);
  g_clear_pointer (&self->title, g_free);
  g_clear_pointer (&self->x_label, g_free);
  g_clear_pointer (&self->y_label, g_free);
  g_clear_pointer (&self->y_unit, g_free);
  g_clear_pointer (&self->readout, g_free);
  G_OBJECT_CLASS (cs_plot_parent_class)->dispose (object);
}

static void
cs_plot_class_init (CsPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cs_plot_dispose;
  widget_class->snapshot = cs_plot_snapshot;
  widget_class->measure = cs_plot_measure;
  gtk_widget_class_set_css_name (widget_class, "plot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
cs_plot_init (CsPlot *self)
{
  GtkEventController *motion = gtk_event_controller_motion_new ();

  self->series = g_ptr_array_new_with_free_func ((GDestroyNotify) series_free);
  self->hover_series = -1;
  self->range_y0 = 0;
  self->range_y1 = 1;
  g_signal_connect (motion, "motion", G_CALLBACK (motion_cb), self);
  g_signal_connect (motion, "leave", G_CALLBACK (leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
}

CsPlot *
cs_plot_new (void)
{
  return g_object_new (CS_TYPE_PLOT, NULL);
}

static void
update_accessible (CsPlot *self)
{
  g_autoptr(GString) desc = g_string_new (NULL);

  for (guint s = 0; s < self->series->len; s++)
    {
      Series *se = g_ptr_array_index (self->series, s);
      if (se->y->len > 0)
        g_string_append_printf (desc, "%s%s: last %.4g%s", desc->len ? "; " : "", se->name,
                                g_array_index (se->y, double, se->y->len - 1), self->y_unit ? self->y_unit : "");
    }
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, self->title ? self->title : "Plot",
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, desc->len ? desc->str : "No data yet",
                                  -1);
}

void
cs_plot_set_title (CsPlot     *self,
                   const char *title)
{
  g_free (self->title);
  self->title = g_strdup (title);
  update_accessible (self);
  invalidate (self);
}

void
cs_plot_set_axis_labels (CsPlot     *self,
                         const char *x_label,
                         const char *y_label)
{
  g_free (self->x_label);
  g_free (self->y_label);
  self->x_label = g_strdup (x_label);
  self->y_label = g_strdup (y_label);
  invalidate (self);
}

void
cs_plot_set_y_unit (CsPlot     *self,
                    const char *unit)
{
  g_free (self->y_unit);
  self->y_unit = g_strdup (unit);
}

void
cs_plot_clear (CsPlot *self)
{
  g_ptr_array_set_size (self->series, 0);
  update_readout (self);
  update_accessible (self);
  invalidate (self);
}

guint
cs_plot_add_series (CsPlot        *self,
                    const char    *name,
                    const GdkRGBA *color)
{
  Series *s = g_new0 (Series, 1);

  s->name = g_strdup (name);
  s->color = *color;
  s->x = g_array_new (FALSE, FALSE, sizeof (double));
  s->y = g_array_new (FALSE, FALSE, sizeof (double));
  g_ptr_array_add (self->series, s);
  invalidate (self);
  return self->series->len - 1;
}

void
cs_plot_set_series_points (CsPlot   *self,
                           guint     series,
                           gboolean  points)
{
  g_return_if_fail (CS_IS_PLOT (self) && series < self->series->len);

  ((Series *) g_ptr_array_index (self->series, series))->points = points;
  invalidate (self);
}

void
cs_plot_set_points (CsPlot       *self,
                    guint         series,
                    const double *x,
                    const double *y,
                    guint         n)
{
  Series *s;

  g_return_if_fail (series < self->series->len);
  s = g_ptr_array_index (self->series, series);
  g_array_set_size (s->x, 0);
  g_array_set_size (s->y, 0);
  g_array_append_vals (s->x, x, n);
  g_array_append_vals (s->y, y, n);
  g_clear_pointer (&s->smoothed, g_free);
  update_readout (self);
  update_accessible (self);
  invalidate (self);
}

guint
cs_plot_get_n_series (CsPlot *self)
{
  return self->series->len;
}

guint
cs_plot_get_n_points (CsPlot *self,
                      guint   series)
{
  g_return_val_if_fail (series < self->series->len, 0);
  return ((Series *) g_ptr_array_index (self->series, series))->x->len;
}

void
cs_plot_set_log_y (CsPlot   *self,
                   gboolean  log_y)
{
  self->log_y = log_y;
  update_readout (self);
  invalidate (self);
}

const char *
cs_plot_get_series_name (CsPlot *self,
                         guint   series)
{
  g_return_val_if_fail (CS_IS_PLOT (self) && series < self->series->len, NULL);

  return ((Series *) g_ptr_array_index (self->series, series))->name;
}

void
cs_plot_get_series_color (CsPlot  *self,
                          guint    series,
                          GdkRGBA *color)
{
  g_return_if_fail (CS_IS_PLOT (self) && series < self->series->len && color != NULL);

  *color = ((Series *) g_ptr_array_index (self->series, series))->color;
}

void
cs_plot_set_marks (CsPlot       *self,
                   const double *xs,
                   guint         n)
{
  g_return_if_fail (CS_IS_PLOT (self));
  g_return_if_fail (xs != NULL || n == 0);

  if (self->marks == NULL)
    self->marks = g_array_new (FALSE, FALSE, sizeof (double));
  if (self->marks->len == n && (n == 0 || memcmp (self->marks->data, xs, n * sizeof (double)) == 0))
    return;
  g_array_set_size (self->marks, 0);
  g_array_append_vals (self->marks, xs, n);
  invalidate (self);
}

guint
cs_plot_get_n_marks (CsPlot *self)
{
  g_return_val_if_fail (CS_IS_PLOT (self), 0);

  return self->marks ? self->marks->len : 0;
}

void
cs_plot_set_y_range (CsPlot   *self,
                     double    min,
                     double    max,
                     gboolean  fixed)
{
  g_return_if_fail (CS_IS_PLOT (self));
  g_return_if_fail (min < max);

  self->range_y0 = min;
  self->range_y1 = max;
  self->range_fixed = fixed;
  update_readout (self);
  invalidate (self);
}

void
cs_plot_get_shown_y_range (CsPlot *self,
                           double *min,
                           double *max)
{
  Frame f;

  g_return_if_fail (CS_IS_PLOT (self));

  f = cs_plot_compute_frame (self, 400, 300);
  *min = self->log_y ? pow (10, f.y0) : f.y0;
  *max = self->log_y ? pow (10, f.y1) : f.y1;
}

void
cs_plot_set_smoothing (CsPlot *self,
                       double  weight)
{
  self->smoothing = CLAMP (weight, 0.0, 0.999);
  invalidate (self);   /* (the smoothed caches see the new weight when drawn) */
}

void
cs_plot_set_markers (CsPlot   *self,
                     gboolean  markers)
{
  self->markers = markers;
  invalidate (self);
}

const char *
cs_plot_get_readout (CsPlot *self)
{
  return self->readout;
}

typedef struct
{
  CsPlot *plot;
  double  height;
} ExportData;

static double
export_draw (cairo_t  *cr,
             double    width,
             gpointer  user_data)
{
  ExportData *d = user_data;
  CsPlot *self = d->plot;
  gboolean hovering;
  char *readout;

  if (cr == NULL)
    return d->height;
  /* The file shows the plot without the pointer's readout. */
  hovering = self->hovering;
  readout = g_steal_pointer (&self->readout);
  cs_plot_draw (self, cr, (int) width, (int) d->height, FALSE);
  self->readout = readout;
  self->hovering = hovering;
  return d->height;
}

gboolean
cs_plot_export (CsPlot      *self,
                const char  *path,
                int          width,
                int          height,
                GError     **error)
{
  ExportData d = { self, height };

  return cs_render_to_file (path, width, export_draw, &d, error);
}
