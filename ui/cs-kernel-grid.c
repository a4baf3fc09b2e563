/* The kernel grid widget: cs_render_kernels() on snapshot, the cells it reports for hover and click. */

#define G_LOG_DOMAIN "cs-kernel-grid"

#include "config.h"

#include <math.h>
#include <string.h>

#include "cs-kernel-grid.h"
#include "cs-style.h"

struct _CsKernelGrid
{
  GtkWidget      parent_instance;
  CsSpec        *spec;
  CsModel       *layout;     /* names and offsets of the tensors */
  float         *params;
  CsKernelScale  scale;
  GArray        *cells;      /* CsKernelCell, from the last draw */
  char          *readout;
  int            selected;   /* index into cells, -1 */
  GtkWidget     *popover;
  GtkWidget     *detail;
};

G_DEFINE_FINAL_TYPE (CsKernelGrid, cs_kernel_grid, GTK_TYPE_WIDGET)

static void
cs_kernel_grid_snapshot (GtkWidget   *widget,
                         GtkSnapshot *snapshot)
{
  CsKernelGrid *self = CS_KERNEL_GRID (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  cairo_t *cr;

  if (self->spec == NULL)
    return;
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  cs_render_kernels (cr, self->spec, self->params, self->layout, self->scale, w, cs_widget_is_dark (widget), self->cells);
  cairo_destroy (cr);
}

static void
cs_kernel_grid_measure (GtkWidget      *widget,
                        GtkOrientation  orientation,
                        int             for_size,
                        int            *minimum,
                        int            *natural,
                        int            *minimum_baseline,
                        int            *natural_baseline)
{
  CsKernelGrid *self = CS_KERNEL_GRID (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 300;
      *natural = 800;
      return;
    }
  *minimum = *natural = self->spec
    ? (int) cs_render_kernels (NULL, self->spec, self->params, self->layout, self->scale, for_size > 0 ? for_size : 800,
                               FALSE, NULL)
    : 0;
}

static GtkSizeRequestMode
cs_kernel_grid_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static int
cell_at (CsKernelGrid *self,
         double        x,
         double        y,
         int          *pi,
         int          *pj)
{
  for (guint i = 0; i < self->cells->len; i++)
    {
      CsKernelCell *c = &g_array_index (self->cells, CsKernelCell, i);
      if (x >= c->x && y >= c->y && x < c->x + c->kw * c->pixel && y < c->y + c->kh * c->pixel)
        {
          *pi = (int) ((y - c->y) / c->pixel);
          *pj = (int) ((x - c->x) / c->pixel);
          return (int) i;
        }
    }
  return -1;
}

static const float *
kernel_values (CsKernelGrid       *self,
               const CsKernelCell *c)
{
  const CsLayerSpec *ls = cs_spec_layer (self->spec, c->layer);
  g_autofree char *name = g_strdup_printf ("%s.weight", ls->name);
  const CsParam *p = cs_model_find_tensor (self->layout, name);

  return self->params + p->offset + ((gsize) c->out_ch * ls->in_channels + c->in_ch) * c->kh * c->kw;
}

void
cs_kernel_grid_hover (CsKernelGrid *self,
                      double        x,
                      double        y)
{
  int i, j, idx = self->spec && x >= 0 ? cell_at (self, x, y, &i, &j) : -1;
  g_autofree char *text = NULL;

  g_clear_pointer (&self->readout, g_free);
  if (idx >= 0)
    {
      CsKernelCell *c = &g_array_index (self->cells, CsKernelCell, idx);
      const float *k = kernel_values (self, c);
      self->readout = g_strdup_printf ("%s.weight[%d, %d, %d, %d] = %.5f",
                                       cs_spec_layer (self->spec, c->layer)->name, c->out_ch, c->in_ch, i, j,
                                       k[i * c->kw + j]);
    }
  gtk_widget_set_tooltip_text (GTK_WIDGET (self), self->readout);
}

const char *
cs_kernel_grid_get_readout (CsKernelGrid *self)
{
  return self->readout;
}

char *
cs_kernel_grid_describe_selected (CsKernelGrid *self)
{
  CsKernelCell *c;
  const float *k;
  GString *s;

  if (self->selected < 0 || self->selected >= (int) self->cells->len)
    return NULL;
  c = &g_array_index (self->cells, CsKernelCell, self->selected);
  k = kernel_values (self, c);
  s = g_string_new (NULL);
  g_string_append_printf (s, "%s, output channel %d, input channel %d (%d×%d)\n",
                          cs_spec_layer (self->spec, c->layer)->name, c->out_ch, c->in_ch, c->kh, c->kw);
  for (int i = 0; i < c->kh; i++)
    {
      for (int j = 0; j < c->kw; j++)
        g_string_append_printf (s, "%s%+.4f", j ? "  " : "", k[i * c->kw + j]);
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

static void
detail_draw (GtkDrawingArea *area,
             cairo_t        *cr,
             int             width,
             int             height,
             gpointer        user_data)
{
  CsKernelGrid *self = user_data;
  CsKernelCell *c;
  const float *k;
  double m = 0, cell;

  if (self->selected < 0 || self->selected >= (int) self->cells->len)
    return;
  c = &g_array_index (self->cells, CsKernelCell, self->selected);
  k = kernel_values (self, c);
  for (int i = 0; i < c->kh * c->kw; i++)
    m = MAX (m, fabs (k[i]));
  cell = MIN (width / (double) c->kw, height / (double) c->kh);
  cairo_select_font_face (cr, "Monospace", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, MIN (12, cell / 5));
  for (int i = 0; i < c->kh; i++)
    for (int j = 0; j < c->kw; j++)
      {
        double r, g, b, v = k[i * c->kw + j];
        char buf[32];
        cairo_text_extents_t ext;

        cs_colormap_diverging (m > 0 ? v / m : 0, &r, &g, &b);
        cairo_set_source_rgb (cr, r, g, b);
        cairo_rectangle (cr, j * cell, i * cell, cell - 1, cell - 1);
        cairo_fill (cr);
        g_snprintf (buf, sizeof buf, "%+.3f", v);
        cairo_text_extents (cr, buf, &ext);
        cairo_set_source_rgb (cr, fabs (v) / MAX (m, 1e-9) > 0.6 ? 1 : 0.1, fabs (v) / MAX (m, 1e-9) > 0.6 ? 1 : 0.1,
                              fabs (v) / MAX (m, 1e-9) > 0.6 ? 1 : 0.1);
        cairo_move_to (cr, j * cell + (cell - ext.x_advance) / 2, i * cell + cell / 2 + ext.height / 2);
        cairo_show_text (cr, buf);
      }
}

void
cs_kernel_grid_select_at (CsKernelGrid *self,
                          double        x,
                          double        y)
{
  int i, j, idx = self->spec ? cell_at (self, x, y, &i, &j) : -1;
  g_autofree char *desc = NULL;

  self->selected = idx;
  if (idx < 0)
    return;
  desc = cs_kernel_grid_describe_selected (self);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->detail), GTK_ACCESSIBLE_PROPERTY_LABEL, desc, -1);
  gtk_widget_queue_draw (self->detail);
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    {
      GdkRectangle rect = { (int) x, (int) y, 1, 1 };
      gtk_popover_set_pointing_to (GTK_POPOVER (self->popover), &rect);
      gtk_popover_popup (GTK_POPOVER (self->popover));
    }
}

static void
motion_cb (GtkEventControllerMotion *motion,
           double                    x,
           double                    y,
           CsKernelGrid             *self)
{
  cs_kernel_grid_hover (self, x, y);
}

static void
pressed_cb (GtkGestureClick *click,
            int              n_press,
            double           x,
            double           y,
            CsKernelGrid    *self)
{
  cs_kernel_grid_select_at (self, x, y);
}

void
cs_kernel_grid_set_weights (CsKernelGrid *self,
                            const CsSpec *spec,
                            const float  *params)
{
  gboolean same = self->spec && spec && g_str_equal (self->spec->text, spec->text);

  if (!same)
    {
      g_clear_pointer (&self->spec, cs_spec_free);
      g_clear_pointer (&self->layout, cs_model_free);
      g_clear_pointer (&self->params, g_free);
      self->selected = -1;
      if (spec != NULL)
        {
          self->spec = cs_spec_parse (spec->text, NULL);
          self->layout = cs_model_new (self->spec);
          self->params = g_new (float, cs_model_n_values (self->layout));
        }
    }
  if (params != NULL && self->layout != NULL)
    memcpy (self->params, params, cs_model_n_values (self->layout) * sizeof (float));
  if (self->spec != NULL)
    {
      /* Lay the cells out now, so hover works before the first frame. */
      cs_render_kernels (NULL, self->spec, self->params, self->layout, self->scale,
                         MAX (gtk_widget_get_width (GTK_WIDGET (self)), 800), FALSE, self->cells);
    }
  if (same)
    gtk_widget_queue_draw (GTK_WIDGET (self));
  else
    gtk_widget_queue_resize (GTK_WIDGET (self));
  if (self->selected >= 0)
    gtk_widget_queue_draw (self->detail);
}

void
cs_kernel_grid_set_scale (CsKernelGrid  *self,
                          CsKernelScale  scale)
{
  self->scale = scale;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
cs_kernel_grid_get_n_kernels (CsKernelGrid *self)
{
  return self->cells->len;
}

static double
render_cb (cairo_t *cr,
           double   width,
           gpointer data)
{
  CsKernelGrid *self = data;
  return cs_render_kernels (cr, self->spec, self->params, self->layout, self->scale, width, FALSE, NULL);
}

gboolean
cs_kernel_grid_export (CsKernelGrid  *self,
                       const char    *path,
                       GError       **error)
{
  if (self->spec == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no model to export");
      return FALSE;
    }
  return cs_render_to_file (path, 1000, render_cb, self, error);
}

static void
cs_kernel_grid_size_allocate (GtkWidget *widget,
                              int        width,
                              int        height,
                              int        baseline)
{
  gtk_popover_present (GTK_POPOVER (CS_KERNEL_GRID (widget)->popover));
}

static void
cs_kernel_grid_dispose (GObject *object)
{
  CsKernelGrid *self = CS_KERNEL_GRID (object);

  g_clear_pointer (&self->popover, gtk_widget_unparent);
  g_clear_pointer (&self->spec, cs_spec_free);
  g_clear_pointer (&self->layout, cs_model_free);
  g_clear_pointer (&self->params, g_free);
  g_clear_pointer (&self->cells, g_array_unref);
  g_clear_pointer (&self->readout, g_free);
  G_OBJECT_CLASS (cs_kernel_grid_parent_class)->dispose (object);
}

static void
cs_kernel_grid_class_init (CsKernelGridClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_kernel_grid_dispose;
  widget_class->snapshot = cs_kernel_grid_snapshot;
  widget_class->measure = cs_kernel_grid_measure;
  widget_class->get_request_mode = cs_kernel_grid_get_request_mode;
  widget_class->size_allocate = cs_kernel_grid_size_allocate;
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
cs_kernel_grid_init (CsKernelGrid *self)
{
  GtkEventController *motion = gtk_event_controller_motion_new ();
  GtkGesture *click = gtk_gesture_click_new ();

  self->cells = g_array_new (FALSE, FALSE, sizeof (CsKernelCell));
  self->selected = -1;
  g_signal_connect (motion, "motion", G_CALLBACK (motion_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);
  g_signal_connect (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  self->detail = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (self->detail), 320);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (self->detail), 320);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self->detail), detail_draw, self, NULL);
  self->popover = gtk_popover_new ();
  gtk_popover_set_child (GTK_POPOVER (self->popover), self->detail);
  gtk_widget_set_parent (self->popover, GTK_WIDGET (self));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, "Convolution kernels",
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  "Each Conv2d layer's weights, blue negative, red positive; click a kernel for its values",
                                  -1);
}

CsKernelGrid *
cs_kernel_grid_new (void)
{
  return g_object_new (CS_TYPE_KERNEL_GRID, NULL);
}
