/* The Draw view: strokes from the gestures, rasterised with cairo, preprocessed as MNIST was (core), and
 * classified on every stroke update; an occlusion map answers "why". */

#define G_LOG_DOMAIN "cs-draw-view"

#include "config.h"

#include <math.h>
#include <string.h>

#include "formats/cs-checkpoint.h"
#include "nn/cs-occlusion.h"
#include "data/cs-digit.h"
#include "cs-draw-view.h"
#include "cs-style.h"
#include "cs-loaded-model.h"
#include "train/cs-run.h"

#define RASTER 280
#define OCC_PATCH 6
#define OCC_STRIDE 2
#define OCC_N ((28 - OCC_PATCH) / OCC_STRIDE + 1)

struct _CsDrawView
{
  GtkWidget       parent_instance;

  GtkWidget      *box;
  GtkDrawingArea *pad;
  GtkButton      *clear_button;
  GtkButton      *undo_button;
  GtkCheckButton *why_toggle;
  GtkDropDown    *model_choice;
  GtkStringList  *model_names;
  GtkLabel       *answer;
  GtkDrawingArea *bars;
  GtkDrawingArea *preview;
  GtkButton      *maps_button;
  GtkLabel       *latency;

  GPtrArray      *strokes;      /* GArray of double x, y in [0, 1] */
  GPtrArray      *candidates;   /* GObject, in dropdown order after the bundled model */
  CsModel        *model;
  char           *model_name;
  GObject        *model_item;
  gulong          snapshot_handler;
  float           input[784];
  float           proba[10];
  float           occlusion[OCC_N * OCC_N];
  gboolean        has_input;
  int             prediction;
  double          latency_us;
};

G_DEFINE_FINAL_TYPE (CsDrawView, cs_draw_view, GTK_TYPE_WIDGET)

enum { SIGNAL_SHOW_MAPS, N_SIGNALS };
static guint signals[N_SIGNALS];

/* Strokes hold points in [0, 1]^2 (x, y pairs): each is stroked scaled to sx x sy,
 * a single point as a dot. The pad and the model's input draw them the same way. */
static void
trace_strokes (cairo_t   *cr,
               GPtrArray *strokes,
               double     sx,
               double     sy)
{
  for (guint i = 0; i < strokes->len; i++)
    {
      GArray *pts = g_ptr_array_index (strokes, i);
      const double *p = (const double *) pts->data;
      guint n = pts->len / 2;

      if (n == 0)
        continue;
      cairo_move_to (cr, p[0] * sx, p[1] * sy);
      if (n == 1)
        cairo_line_to (cr, p[0] * sx + 0.01, p[1] * sy);
      for (guint k = 1; k < n; k++)
        cairo_line_to (cr, p[2 * k] * sx, p[2 * k + 1] * sy);
      cairo_stroke (cr);
    }
}

float *
cs_draw_rasterize (GPtrArray *strokes,
                   int        size,
                   double     line_width)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_A8, size, size);
  cairo_t *cr = cairo_create (s);
  float *out = g_new (float, (gsize) size * size);
  const guint8 *data;
  int stride;

  cairo_set_line_width (cr, line_width);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_source_rgba (cr, 0, 0, 0, 1);
  trace_strokes (cr, strokes, size, size);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  data = cairo_image_surface_get_data (s);
  stride = cairo_image_surface_get_stride (s);
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      out[y * size + x] = data[y * stride + x] / 255.0f;
  cairo_surface_destroy (s);
  return out;
}

/* The occlusion map: how much the answer's probability falls when a patch of the input is blanked. */
static void
compute_occlusion (CsDrawView *self)
{
  int rows = 0, cols = 0;
  g_autofree float *map = cs_occlusion_map (self->model, self->input, self->prediction, OCC_PATCH, OCC_STRIDE,
                                            0.0f, &rows, &cols);

  if (map != NULL && rows == OCC_N && cols == OCC_N)
    memcpy (self->occlusion, map, sizeof self->occlusion);
  else
    memset (self->occlusion, 0, sizeof self->occlusion);
}

static void
update_prediction (CsDrawView *self)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autofree float *raster = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *lat = NULL;

  self->has_input = FALSE;
  self->prediction = -1;
  if (self->strokes->len > 0 && self->model != NULL)
    {
      raster = cs_draw_rasterize (self->strokes, RASTER, RASTER / 12.0);
      if (cs_digit_preprocess (self->input, raster, RASTER, RASTER, FALSE, NULL))
        {
          self->has_input = TRUE;
          cs_model_predict (self->model, self->input, 1, self->proba);
          self->prediction = 0;
          for (int c = 1; c < 10; c++)
            if (self->proba[c] > self->proba[self->prediction])
              self->prediction = c;
          if (gtk_check_button_get_active (self->why_toggle))
            compute_occlusion (self);
        }
    }
  self->latency_us = (double) (g_get_monotonic_time () - t0);

  if (self->prediction >= 0)
    answer = g_strdup_printf ("%d  <span size=\"small\">%.1f%%</span>", self->prediction, 100 * self->proba[self->prediction]);
  gtk_label_set_markup (self->answer, answer ? answer : "");
  lat = g_strdup_printf ("%s · stroke to answer in %.2f ms", self->model_name ? self->model_name : "no model",
                         self->latency_us / 1000.0);
  gtk_label_set_text (self->latency, self->strokes->len ? lat : "Draw with the mouse, a pen or a finger.");
  {
    g_autofree char *desc = self->prediction >= 0
      ? g_strdup_printf ("The model reads %d with %.0f%% confidence", self->prediction, 100 * self->proba[self->prediction])
      : g_strdup ("Nothing drawn yet");
    gtk_accessible_update_property (GTK_ACCESSIBLE (self->bars), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, desc, -1);
  }
  gtk_widget_set_sensitive (GTK_WIDGET (self->maps_button), self->has_input);
  gtk_widget_queue_draw (GTK_WIDGET (self->pad));
  gtk_widget_queue_draw (GTK_WIDGET (self->bars));
  gtk_widget_queue_draw (GTK_WIDGET (self->preview));
}

/* ---- strokes ---- */

void
cs_draw_view_begin_stroke (CsDrawView *self,
                           double      x,
                           double      y)
{
  GArray *pts = g_array_new (FALSE, FALSE, sizeof (double));
  double p[2] = { CLAMP (x, 0, 1), CLAMP (y, 0, 1) };

  g_array_append_vals (pts, p, 2);
  g_ptr_array_add (self->strokes, pts);
  update_prediction (self);
}

void
cs_draw_view_extend_stroke (CsDrawView *self,
                            double      x,
                            double      y)
{
  GArray *pts;
  double p[2] = { CLAMP (x, 0, 1), CLAMP (y, 0, 1) };

  if (self->strokes->len == 0)
    {
      cs_draw_view_begin_stroke (self, x, y);
      return;
    }
  pts = g_ptr_array_index (self->strokes, self->strokes->len - 1);
  g_array_append_vals (pts, p, 2);
  update_prediction (self);
}

void
cs_draw_view_clear (CsDrawView *self)
{
  g_ptr_array_set_size (self->strokes, 0);
  update_prediction (self);
}

void
cs_draw_view_undo (CsDrawView *self)
{
  if (self->strokes->len > 0)
    g_ptr_array_set_size (self->strokes, self->strokes->len - 1);
  update_prediction (self);
}

guint cs_draw_view_get_n_strokes (CsDrawView *self) { return self->strokes->len; }
int cs_draw_view_get_prediction (CsDrawView *self) { return self->prediction; }
const float *cs_draw_view_get_probabilities (CsDrawView *self) { return self->prediction >= 0 ? self->proba : NULL; }
const float *cs_draw_view_get_input (CsDrawView *self) { return self->has_input ? self->input : NULL; }
double cs_draw_view_get_latency_us (CsDrawView *self) { return self->latency_us; }
const char *cs_draw_view_get_model_name (CsDrawView *self) { return self->model_name; }

GObject *
cs_draw_view_get_model_item (CsDrawView *self)
{
  g_return_val_if_fail (CS_IS_DRAW_VIEW (self), NULL);

  return self->model_item;
}

static double drag_x0, drag_y0;

static void
drag_begin_cb (GtkGestureDrag *drag,
               double          x,
               double          y,
               CsDrawView     *self)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self->pad)), h = gtk_widget_get_height (GTK_WIDGET (self->pad));

  drag_x0 = x;
  drag_y0 = y;
  gtk_widget_grab_focus (GTK_WIDGET (self->pad));
  cs_draw_view_begin_stroke (self, x / MAX (w, 1), y / MAX (h, 1));
}

static void
drag_update_cb (GtkGestureDrag *drag,
                double          dx,
                double          dy,
                CsDrawView     *self)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self->pad)), h = gtk_widget_get_height (GTK_WIDGET (self->pad));

  cs_draw_view_extend_stroke (self, (drag_x0 + dx) / MAX (w, 1), (drag_y0 + dy) / MAX (h, 1));
}

/* A pen through GtkGestureStylus: the same strokes, claimed so the drag does not double them. */
static void
stylus_down_cb (GtkGestureStylus *stylus,
                double            x,
                double            y,
                CsDrawView       *self)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self->pad)), h = gtk_widget_get_height (GTK_WIDGET (self->pad));

  gtk_gesture_set_state (GTK_GESTURE (stylus), GTK_EVENT_SEQUENCE_CLAIMED);
  cs_draw_view_begin_stroke (self, x / MAX (w, 1), y / MAX (h, 1));
}

static void
stylus_motion_cb (GtkGestureStylus *stylus,
                  double            x,
                  double            y,
                  CsDrawView       *self)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self->pad)), h = gtk_widget_get_height (GTK_WIDGET (self->pad));
  double pressure;

  /* Motion while the pen touches the surface extends the stroke. */
  if (gtk_gesture_stylus_get_axis (stylus, GDK_AXIS_PRESSURE, &pressure) && pressure <= 0)
    return;
  cs_draw_view_extend_stroke (self, x / MAX (w, 1), y / MAX (h, 1));
}

/* ---- drawing ---- */

static void
pad_draw (GtkDrawingArea *area,
          cairo_t        *cr,
          int             width,
          int             height,
          gpointer        user_data)
{
  CsDrawView *self = user_data;
  /* Paper and ink follow the theme (what the model reads does not depend on them). */
  gboolean dark = cs_widget_is_dark (GTK_WIDGET (area));
  double paper = dark ? 0.16 : 1.0, ink = dark ? 0.93 : 0.1;

  cairo_set_source_rgb (cr, paper, paper, paper);
  cairo_paint (cr);
  cairo_set_source_rgba (cr, ink, ink, ink, 0.12);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, 0.5, 0.5, width - 1, height - 1);
  cairo_stroke (cr);
  cairo_set_source_rgb (cr, ink, ink, ink * 1.02);
  cairo_set_line_width (cr, MIN (width, height) / 12.0);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  trace_strokes (cr, self->strokes, width, height);
  if (self->strokes->len == 0)
    {
      cairo_set_source_rgba (cr, ink, ink, ink, 0.45);
      cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
      cairo_set_font_size (cr, 16);
      cairo_move_to (cr, 16, height / 2.0);
      cairo_show_text (cr, "Draw a digit here");
    }
}

static void
preview_draw (GtkDrawingArea *area,
              cairo_t        *cr,
              int             width,
              int             height,
              gpointer        user_data)
{
  CsDrawView *self = user_data;
  double px = MIN (width, height) / 28.0;

  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_rectangle (cr, 0, 0, 28 * px, 28 * px);
  cairo_fill (cr);
  if (!self->has_input)
    return;
  for (int y = 0; y < 28; y++)
    for (int x = 0; x < 28; x++)
      {
        double v = self->input[y * 28 + x];
        if (v <= 0)
          continue;
        cairo_set_source_rgb (cr, v, v, v);
        cairo_rectangle (cr, x * px, y * px, px + 0.05, px + 0.05);
        cairo_fill (cr);
      }
  if (gtk_check_button_get_active (self->why_toggle))
    {
      float m = 1e-6f;
      for (int i = 0; i < OCC_N * OCC_N; i++)
        m = MAX (m, self->occlusion[i]);
      for (int oy = 0; oy < OCC_N; oy++)
        for (int ox = 0; ox < OCC_N; ox++)
          {
            double a = self->occlusion[oy * OCC_N + ox] / m;
            if (a < 0.05)
              continue;
            cairo_set_source_rgba (cr, 0.95, 0.2, 0.1, 0.45 * a);
            cairo_rectangle (cr, (ox * OCC_STRIDE + OCC_PATCH / 2.0 - 1) * px, (oy * OCC_STRIDE + OCC_PATCH / 2.0 - 1) * px,
                             OCC_STRIDE * px, OCC_STRIDE * px);
            cairo_fill (cr);
          }
    }
}

static void
bars_draw (GtkDrawingArea *area,
           cairo_t        *cr,
           int             width,
           int             height,
           gpointer        user_data)
{
  CsDrawView *self = user_data;
  double row = height / 10.0;
  GdkRGBA fg;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (area)), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, MIN (13, row * 0.7));
  for (int c = 0; c < 10; c++)
    {
      double p = self->prediction >= 0 ? self->proba[c] : 0, y = c * row;
      char buf[32];

      g_snprintf (buf, sizeof buf, "%d", c);
      gdk_cairo_set_source_rgba (cr, &fg);
      cairo_move_to (cr, 2, y + row * 0.72);
      cairo_show_text (cr, buf);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.08);
      cairo_rectangle (cr, 20, y + 2, width - 80, row - 4);
      cairo_fill (cr);
      if (c == self->prediction)
        cairo_set_source_rgb (cr, 0.21, 0.52, 0.89);
      else
        cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.4);
      cairo_rectangle (cr, 20, y + 2, (width - 80) * p, row - 4);
      cairo_fill (cr);
      g_snprintf (buf, sizeof buf, "%.1f%%", 100 * p);
      gdk_cairo_set_source_rgba (cr, &fg);
      cairo_move_to (cr, width - 54, y + row * 0.72);
      cairo_show_text (cr, buf);
    }
}

/* ---- the model ---- */

static void
set_model_params (CsDrawView   *self,
                  const CsSpec *spec,
                  const float  *params,
                  const char   *name)
{
  g_clear_pointer (&self->model, cs_model_free);
  g_free (self->model_name);
  self->model_name = g_strdup (name);
  if (spec == NULL || cs_shape_numel (spec->input) != 784 || cs_shape_numel (cs_spec_output_shape (spec)) < 10)
    return;
  self->model = cs_model_new (spec);
  cs_model_set_batch_capacity (self->model, OCC_N * OCC_N);
  if (params != NULL)
    memcpy (cs_model_params (self->model), params, cs_model_n_values (self->model) * sizeof (float));
}

static void
model_snapshot_cb (CsRun      *run,
                   CsDrawView *self)
{
  CsSnapshot *snap = cs_run_get_snapshot (run);

  /* A run still training: its latest snapshot, never the trainer's own buffers. */
  if (snap != NULL && self->model != NULL)
    {
      memcpy (cs_model_params (self->model), snap->params, snap->n_params * sizeof (float));
      update_prediction (self);
    }
}

static void
use_bundled (CsDrawView *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsLoadedModel) bundled = cs_loaded_model_new_bundled (&error);

  if (bundled == NULL)
    {
      g_warning ("%s", error->message);
      set_model_params (self, NULL, NULL, NULL);
      return;
    }
  set_model_params (self, cs_loaded_model_get_spec (bundled),
                    cs_model_params (cs_loaded_model_get_model_instance (bundled)), "Bundled LeNet-5");
}

static void
model_choice_cb (GtkDropDown *dropdown,
                 GParamSpec  *pspec,
                 CsDrawView  *self)
{
  guint i = gtk_drop_down_get_selected (dropdown);

  if (self->model_item != NULL && self->snapshot_handler != 0)
    g_signal_handler_disconnect (self->model_item, self->snapshot_handler);
  self->snapshot_handler = 0;
  g_clear_object (&self->model_item);

  if (i == 0 || i == GTK_INVALID_LIST_POSITION || i - 1 >= self->candidates->len)
    use_bundled (self);
  else
    {
      GObject *item = g_ptr_array_index (self->candidates, i - 1);

      self->model_item = g_object_ref (item);
      if (CS_IS_RUN (item))
        {
          CsRun *run = CS_RUN (item);
          CsSnapshot *snap = cs_run_get_snapshot (run);
          g_autoptr(CsModel) tmp = cs_model_new (cs_run_get_spec (run));

          if (snap != NULL)
            memcpy (cs_model_params (tmp), snap->params, snap->n_params * sizeof (float));
          else
            {
              g_autofree char *path = cs_run_get_checkpoint_path (run);
              g_autoptr(CsCheckpoint) ckpt = cs_checkpoint_load (path, NULL);
              if (ckpt != NULL)
                cs_checkpoint_apply (ckpt, tmp, NULL);
            }
          set_model_params (self, cs_run_get_spec (run), cs_model_params (tmp), cs_run_get_name (run));
          self->snapshot_handler = g_signal_connect (run, "snapshot", G_CALLBACK (model_snapshot_cb), self);
        }
      else
        {
          CsLoadedModel *m = CS_LOADED_MODEL (item);
          set_model_params (self, cs_loaded_model_get_spec (m), cs_model_params (cs_loaded_model_get_model_instance (m)),
                            cs_loaded_model_get_name (m));
        }
    }
  update_prediction (self);
}

void
cs_draw_view_set_candidates (CsDrawView *self,
                             GPtrArray  *items)
{
  const char *keep = NULL;
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->model_names));
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint select = 0;

  if (self->model_item != NULL)
    keep = "";
  g_ptr_array_set_size (self->candidates, 0);
  g_ptr_array_add (names, g_strdup ("Bundled LeNet-5"));
  for (guint i = 0; items && i < items->len; i++)
    {
      GObject *item = g_ptr_array_index (items, i);
      const CsSpec *spec = CS_IS_RUN (item) ? cs_run_get_spec (CS_RUN (item))
                                            : cs_loaded_model_get_spec (CS_LOADED_MODEL (item));
      if (cs_shape_numel (spec->input) != 784)
        continue;
      if (item == self->model_item)
        select = self->candidates->len + 1;
      g_ptr_array_add (self->candidates, g_object_ref (item));
      g_ptr_array_add (names, g_strdup (CS_IS_RUN (item) ? cs_run_get_name (CS_RUN (item))
                                                         : cs_loaded_model_get_name (CS_LOADED_MODEL (item))));
    }
  g_ptr_array_add (names, NULL);
  (void) keep;
  g_signal_handlers_block_by_func (self->model_choice, model_choice_cb, self);
  gtk_string_list_splice (self->model_names, 0, n_old, (const char * const *) names->pdata);
  gtk_drop_down_set_selected (self->model_choice, select);
  g_signal_handlers_unblock_by_func (self->model_choice, model_choice_cb, self);
  if (select == 0 && self->model_item != NULL)
    model_choice_cb (self->model_choice, NULL, self);
}

static void
clear_cb (GtkButton  *button,
          CsDrawView *self)
{
  cs_draw_view_clear (self);
}

static void
undo_cb (GtkButton  *button,
         CsDrawView *self)
{
  cs_draw_view_undo (self);
}

static void
why_cb (GtkCheckButton *button,
        CsDrawView     *self)
{
  update_prediction (self);
}

static void
maps_cb (GtkButton  *button,
         CsDrawView *self)
{
  if (self->has_input)
    g_signal_emit (self, signals[SIGNAL_SHOW_MAPS], 0, self->input);
}

static gboolean
clear_shortcut (GtkWidget *widget,
                GVariant  *args,
                gpointer   user_data)
{
  cs_draw_view_clear (CS_DRAW_VIEW (widget));
  return TRUE;
}

static gboolean
undo_shortcut (GtkWidget *widget,
               GVariant  *args,
               gpointer   user_data)
{
  cs_draw_view_undo (CS_DRAW_VIEW (widget));
  return TRUE;
}

static void
free_stroke (gpointer data)
{
  g_array_unref (data);
}

static void
cs_draw_view_dispose (GObject *object)
{
  CsDrawView *self = CS_DRAW_VIEW (object);

  if (self->model_item != NULL && self->snapshot_handler != 0)
    g_signal_handler_disconnect (self->model_item, self->snapshot_handler);
  self->snapshot_handler = 0;
  g_clear_object (&self->model_item);
  g_clear_pointer (&self->strokes, g_ptr_array_unref);
  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  g_clear_pointer (&self->model, cs_model_free);
  g_clear_pointer (&self->model_name, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), CS_TYPE_DRAW_VIEW);
  G_OBJECT_CLASS (cs_draw_view_parent_class)->dispose (object);
}

static void
cs_draw_view_class_init (CsDrawViewClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_draw_view_dispose;
  /* The drawn digit's 28x28 input (784 floats), for its feature maps. */
  signals[SIGNAL_SHOW_MAPS] = g_signal_new ("show-feature-maps", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-draw-view.ui");
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, box);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, pad);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, clear_button);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, undo_button);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, why_toggle);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, model_choice);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, model_names);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, answer);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, bars);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, preview);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, maps_button);
  gtk_widget_class_bind_template_child (widget_class, CsDrawView, latency);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Escape, 0, clear_shortcut, NULL);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_z, GDK_CONTROL_MASK, undo_shortcut, NULL);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
cs_draw_view_init (CsDrawView *self)
{
  GtkGesture *drag;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->strokes = g_ptr_array_new_with_free_func (free_stroke);
  self->candidates = g_ptr_array_new_with_free_func (g_object_unref);
  self->prediction = -1;

  /* Mouse, pen and touch all arrive as drags (a pen's events are pointer events). */
  drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), 0);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (drag_begin_cb), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (drag_update_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->pad), GTK_EVENT_CONTROLLER (drag));
  {
    GtkGesture *stylus = gtk_gesture_stylus_new ();
    g_signal_connect (stylus, "down", G_CALLBACK (stylus_down_cb), self);
    g_signal_connect (stylus, "motion", G_CALLBACK (stylus_motion_cb), self);
    gtk_widget_add_controller (GTK_WIDGET (self->pad), GTK_EVENT_CONTROLLER (stylus));
    gtk_gesture_group (stylus, drag);
  }

  gtk_drawing_area_set_draw_func (self->pad, pad_draw, self, NULL);
  gtk_drawing_area_set_draw_func (self->preview, preview_draw, self, NULL);
  gtk_drawing_area_set_draw_func (self->bars, bars_draw, self, NULL);
  g_signal_connect (self->clear_button, "clicked", G_CALLBACK (clear_cb), self);
  g_signal_connect (self->undo_button, "clicked", G_CALLBACK (undo_cb), self);
  g_signal_connect (self->why_toggle, "toggled", G_CALLBACK (why_cb), self);
  g_signal_connect (self->maps_button, "clicked", G_CALLBACK (maps_cb), self);
  g_signal_connect (self->model_choice, "notify::selected", G_CALLBACK (model_choice_cb), self);
  cs_draw_view_set_candidates (self, NULL);
  use_bundled (self);
  update_prediction (self);
}
