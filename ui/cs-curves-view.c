/* The curves view: two plots fed from the runs' histories, redrawn as their events arrive. */

#define G_LOG_DOMAIN "cs-curves-view"

#include "config.h"

#include <math.h>

#include "cs-curves-view.h"
#include "cs-style.h"
#include "train/cs-run.h"

struct _CsCurvesView
{
  GtkWidget   parent_instance;

  GtkWidget  *box;
  GtkScale   *smoothing;
  GtkCheckButton *log_scale;
  GtkCheckButton *full_accuracy;
  GtkCheckButton *train_accuracy;
  GtkCheckButton *time_axis;
  GtkPaned       *split;
  int             split_set;     /* the position this view gave the split, -1 once the person moved it */
  GtkLabel   *info;
  CsPlot     *accuracy_plot;
  CsPlot     *loss_plot;

  GPtrArray  *runs;       /* CsRun, with their colour index in colors */
  GArray     *colors;     /* guint */
  GArray     *handlers;   /* gulong, 3 per run */
  GArray     *seen;       /* guint, per run: the epochs and loss points its series show */
  guint       progress_source;
};

G_DEFINE_FINAL_TYPE (CsCurvesView, cs_curves_view, GTK_TYPE_WIDGET)

/* Series @r of both plots from the run's history. */
/* Batches per epoch of @run: a live run knows; a finished one is worked out
 * from its last loss point (0 when there is nothing to go by). */
static int
batches_per_epoch (CsRun             *run,
                   guint              n_ep,
                   const CsLossPoint *pts,
                   guint              n_pts)
{
  gboolean live = cs_run_state_is_live (cs_run_get_state (run));

  if (live && cs_run_get_n_batches (run) > 0)
    return cs_run_get_n_batches (run);
  if (n_ep > 0 && n_pts > 0)
    return (int) round (pts[n_pts - 1].step / MAX (1.0, n_ep + (live ? 1 : 0)));
  return 0;
}

/* Seconds of training when global batch @step ended: the epochs' own
 * training times, interpolated within each (the live one from its speed). */
static double
step_seconds (CsRun  *run,
              double  step,
              int     per_epoch)
{
  guint n_ep = cs_run_get_n_epochs (run);
  int k = per_epoch > 0 ? (int) ((step - 1) / per_epoch) : 0;
  double t = 0, within;

  for (int e = 0; e < k && (guint) e < n_ep; e++)
    t += cs_run_get_epoch (run, e)->seconds;
  within = per_epoch > 0 ? step - (double) k * per_epoch : step;
  if ((guint) k < n_ep && per_epoch > 0)
    return t + within / per_epoch * cs_run_get_epoch (run, k)->seconds;
  if (cs_run_get_samples_per_sec (run) > 0)
    return t + within * cs_run_get_hyper_params (run)->batch_size / cs_run_get_samples_per_sec (run);
  return t;
}

/* Series @r of both plots (and the extra ones) from the run's history. */
static void
set_run_points (CsCurvesView *self,
                guint         r)
{
  CsRun *run = g_ptr_array_index (self->runs, r);
  guint n_ep = cs_run_get_n_epochs (run), n_pts;
  const CsLossPoint *pts = cs_run_get_loss_points (run, &n_pts);
  g_autofree double *ex = g_new (double, MAX (n_ep, 1));
  g_autofree double *ey = g_new (double, MAX (n_ep, 1));
  g_autofree double *lx = g_new (double, MAX (n_pts, 1));
  g_autofree double *ly = g_new (double, MAX (n_pts, 1));
  gboolean by_time = gtk_check_button_get_active (self->time_axis);
  int per_epoch = batches_per_epoch (run, n_ep, pts, n_pts);

  for (guint e = 0; e < n_ep; e++)
    {
      ex[e] = cs_run_get_epoch (run, e)->epoch + 1;   /* epoch 1 is the first, as people count */
      ey[e] = cs_run_get_epoch (run, e)->test_acc;
    }
  for (guint i = 0; i < n_pts; i++)
    {
      lx[i] = by_time ? step_seconds (run, pts[i].step, per_epoch) : pts[i].step;
      ly[i] = pts[i].loss;
    }
  cs_plot_set_points (self->accuracy_plot, r, ex, ey, n_ep);
  cs_plot_set_points (self->loss_plot, r, lx, ly, n_pts);
  /* Per epoch, on demand: train accuracy (over the epoch's batches, as
   * trained) beside the test accuracy, test loss at the epoch's end among
   * the per-batch train losses. */
  if (gtk_check_button_get_active (self->train_accuracy))
    {
      g_autofree double *tx = g_new (double, MAX (n_ep, 1));
      g_autofree double *ty = g_new (double, MAX (n_ep, 1));

      for (guint e = 0; e < n_ep; e++)
        {
          ey[e] = cs_run_get_epoch (run, e)->train_acc;
          tx[e] = by_time ? step_seconds (run, (double) (e + 1) * per_epoch, per_epoch) : (double) (e + 1) * per_epoch;
          ty[e] = cs_run_get_epoch (run, e)->test_loss;
        }
      cs_plot_set_points (self->accuracy_plot, self->runs->len + r, ex, ey, n_ep);
      cs_plot_set_points (self->loss_plot, self->runs->len + r, tx, ty, per_epoch > 0 ? n_ep : 0);
    }
  /* Where the first run's epochs ended. */
  if (r == 0)
    {
      g_autofree double *marks = NULL;
      guint n_marks = 0;

      if (per_epoch > 0)
        {
          marks = g_new (double, n_ep + 1);
          for (guint e = 1; e <= n_ep; e++)
            marks[n_marks++] = by_time ? step_seconds (run, (double) e * per_epoch, per_epoch) : (double) e * per_epoch;
        }
      cs_plot_set_marks (self->loss_plot, marks, n_marks);
    }
  g_array_index (self->seen, guint, 2 * r) = n_ep;
  g_array_index (self->seen, guint, 2 * r + 1) = n_pts;
}

static void
update_info (CsCurvesView *self)
{
  g_autoptr(GString) info = g_string_new (NULL);

  for (guint r = 0; r < self->runs->len; r++)
    {
      CsRun *run = g_ptr_array_index (self->runs, r);

      if (cs_run_state_is_live (cs_run_get_state (run)) && cs_run_get_n_batches (run) > 0)
        {
          g_autofree char *progress = cs_run_format_progress (run, CS_RUN_PROGRESS_BATCH | CS_RUN_PROGRESS_SPEED);
          g_string_append_printf (info, "%s%s: %s", info->len ? " · " : "", cs_run_get_name (run), progress);
        }
    }
  gtk_label_set_text (self->info, info->str);
}

/* Every series again: the runs, their names or their states changed. */
static void
refresh (CsCurvesView *self)
{
  cs_plot_clear (self->accuracy_plot);
  cs_plot_clear (self->loss_plot);
  g_array_set_size (self->seen, 2 * self->runs->len);
  for (guint r = 0; r < self->runs->len; r++)
    {
      CsRun *run = g_ptr_array_index (self->runs, r);
      g_autofree char *label = NULL;
      GdkRGBA color;

      cs_plot_palette_color (g_array_index (self->colors, guint, r), &color);
      /* A failed run (diverged, or ended at chance) says so in the legends. */
      if (cs_run_get_state (run) == CS_RUN_FAILED)
        label = g_strdup_printf ("%s (failed)", cs_run_get_name (run));
      else
        label = g_strdup (cs_run_get_name (run));
      cs_plot_add_series (self->accuracy_plot, label, &color);
      cs_plot_add_series (self->loss_plot, label, &color);
    }
  /* The train accuracy curves, each in its run's colour, paler. */
  if (gtk_check_button_get_active (self->train_accuracy))
    for (guint r = 0; r < self->runs->len; r++)
      {
        CsRun *run = g_ptr_array_index (self->runs, r);
        g_autofree char *label = g_strdup_printf ("%s · train", cs_run_get_name (run));
        GdkRGBA color;

        g_autofree char *test_label = g_strdup_printf ("%s · test", cs_run_get_name (run));
        guint k;

        cs_plot_palette_color (g_array_index (self->colors, guint, r), &color);
        k = cs_plot_add_series (self->loss_plot, test_label, &color);
        cs_plot_set_series_points (self->loss_plot, k, TRUE);
        color.red = 0.45 * color.red + 0.55;
        color.green = 0.45 * color.green + 0.55;
        color.blue = 0.45 * color.blue + 0.55;
        cs_plot_add_series (self->accuracy_plot, label, &color);
      }
  if (self->runs->len == 0)
    cs_plot_set_marks (self->loss_plot, NULL, 0);
  for (guint r = 0; r < self->runs->len; r++)
    set_run_points (self, r);
  update_info (self);
}

/* Progress arrives up to 30 times a second per run: the plots take it once
 * a second, on the views' shared tick (cs_ui_tick_add_every()), and only the series that grew are replaced (the
 * finished runs' curves keep their smoothing cached). */
static void
update_grown_series (CsCurvesView *self)
{
  for (guint r = 0; r < self->runs->len && 2 * r + 1 < self->seen->len; r++)
    {
      CsRun *run = g_ptr_array_index (self->runs, r);
      guint n_pts;

      cs_run_get_loss_points (run, &n_pts);
      if (cs_run_get_n_epochs (run) != g_array_index (self->seen, guint, 2 * r) ||
          n_pts != g_array_index (self->seen, guint, 2 * r + 1))
        set_run_points (self, r);
    }
  update_info (self);
}

static gboolean
progress_timeout_cb (gpointer data)
{
  CsCurvesView *self = data;

  self->progress_source = 0;
  update_grown_series (self);
  return G_SOURCE_REMOVE;
}

static void
run_progress_cb (CsRun        *run,
                 CsCurvesView *self)
{
  if (self->progress_source == 0)
    self->progress_source = cs_ui_tick_add_every (2, progress_timeout_cb, self);
}

static void
run_epoch_cb (CsRun        *run,
              guint         epoch,
              CsCurvesView *self)
{
  /* A new epoch shows at once (a pending progress tick stays scheduled). */
  update_grown_series (self);
}

static void
run_state_cb (CsRun        *run,
              GParamSpec   *pspec,
              CsCurvesView *self)
{
  refresh (self);
}

static void
disconnect_all (CsCurvesView *self)
{
  for (guint r = 0; r < self->runs->len; r++)
    for (guint k = 0; k < 3; k++)
      g_signal_handler_disconnect (g_ptr_array_index (self->runs, r), g_array_index (self->handlers, gulong, 3 * r + k));
  g_ptr_array_set_size (self->runs, 0);
  g_array_set_size (self->colors, 0);
  g_array_set_size (self->handlers, 0);
}

void
cs_curves_view_set_items (CsCurvesView *self,
                          GPtrArray    *items)
{
  disconnect_all (self);
  for (guint i = 0; items && i < items->len; i++)
    {
      GObject *item = g_ptr_array_index (items, i);
      gulong h;

      if (!CS_IS_RUN (item))
        continue;
      guint color = cs_item_color_index (item, i);

      g_ptr_array_add (self->runs, g_object_ref (item));
      g_array_append_val (self->colors, color);
      h = g_signal_connect (item, "progress", G_CALLBACK (run_progress_cb), self);
      g_array_append_val (self->handlers, h);
      h = g_signal_connect (item, "epoch-done", G_CALLBACK (run_epoch_cb), self);
      g_array_append_val (self->handlers, h);
      h = g_signal_connect (item, "notify::state", G_CALLBACK (run_state_cb), self);
      g_array_append_val (self->handlers, h);
    }
  refresh (self);
}

CsPlot *
cs_curves_view_get_accuracy_plot (CsCurvesView *self)
{
  return self->accuracy_plot;
}

CsPlot *
cs_curves_view_get_loss_plot (CsCurvesView *self)
{
  return self->loss_plot;
}

static void
smoothing_changed_cb (GtkRange     *range,
                      CsCurvesView *self)
{
  cs_plot_set_smoothing (self->loss_plot, gtk_range_get_value (range));
}

static void
log_toggled_cb (GtkCheckButton *button,
                CsCurvesView   *self)
{
  cs_plot_set_log_y (self->loss_plot, gtk_check_button_get_active (button));
}

/* The two plots share the height equally, at any window size, until the
 * person drags the divider (then theirs stays). */
static void
split_max_cb (GtkPaned     *paned,
              GParamSpec   *pspec,
              CsCurvesView *self)
{
  int max = 0;

  g_object_get (paned, "max-position", &max, NULL);
  if (self->split_set >= 0 && max > 0)
    {
      self->split_set = max / 2;
      gtk_paned_set_position (paned, self->split_set);
    }
}

static void
split_moved_cb (GtkPaned     *paned,
                GParamSpec   *pspec,
                CsCurvesView *self)
{
  if (self->split_set >= 0 && gtk_paned_get_position (paned) != self->split_set &&
      gtk_widget_get_mapped (GTK_WIDGET (paned)) && self->split_set > 0)
    self->split_set = -1;
}

/* Auto-zoom makes a run stuck at chance look like learning: 0-100 % shows it as it is. */
static void
full_accuracy_toggled_cb (GtkCheckButton *button,
                          CsCurvesView   *self)
{
  cs_plot_set_y_range (self->accuracy_plot, 0, 100, gtk_check_button_get_active (button));
}

static void
train_accuracy_toggled_cb (GtkCheckButton *button,
                           CsCurvesView   *self)
{
  refresh (self);
}

static void
time_axis_toggled_cb (GtkCheckButton *button,
                      CsCurvesView   *self)
{
  cs_plot_set_axis_labels (self->loss_plot, gtk_check_button_get_active (button) ? "training time (s)" : "batch",
                           "loss");
  refresh (self);
}

static void
cs_curves_view_dispose (GObject *object)
{
  CsCurvesView *self = CS_CURVES_VIEW (object);

  if (self->runs != NULL)
    disconnect_all (self);
  g_clear_pointer (&self->runs, g_ptr_array_unref);
  g_clear_pointer (&self->colors, g_array_unref);
  g_clear_pointer (&self->handlers, g_array_unref);
  g_clear_pointer (&self->seen, g_array_unref);
  g_clear_handle_id (&self->progress_source, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), CS_TYPE_CURVES_VIEW);
  G_OBJECT_CLASS (cs_curves_view_parent_class)->dispose (object);
}

static void
cs_curves_view_class_init (CsCurvesViewClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_curves_view_dispose;
  g_type_ensure (CS_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-curves-view.ui");
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, box);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, smoothing);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, log_scale);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, full_accuracy);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, train_accuracy);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, time_axis);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, split);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, info);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, accuracy_plot);
  gtk_widget_class_bind_template_child (widget_class, CsCurvesView, loss_plot);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
cs_curves_view_init (CsCurvesView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->runs = g_ptr_array_new_with_free_func (g_object_unref);
  self->colors = g_array_new (FALSE, FALSE, sizeof (guint));
  self->handlers = g_array_new (FALSE, FALSE, sizeof (gulong));
  self->seen = g_array_new (FALSE, TRUE, sizeof (guint));

  cs_plot_set_title (self->accuracy_plot, "Test accuracy");
  cs_plot_set_axis_labels (self->accuracy_plot, "epoch", "accuracy (%)");
  cs_plot_set_y_unit (self->accuracy_plot, "%");
  cs_plot_set_markers (self->accuracy_plot, TRUE);
  cs_plot_set_y_range (self->accuracy_plot, 0, 100, FALSE);
  cs_plot_set_title (self->loss_plot, "Train loss");
  cs_plot_set_axis_labels (self->loss_plot, "batch", "loss");
  cs_plot_set_log_y (self->loss_plot, TRUE);
  cs_plot_set_smoothing (self->loss_plot, 0.6);
  g_signal_connect (self->smoothing, "value-changed", G_CALLBACK (smoothing_changed_cb), self);
  g_signal_connect (self->log_scale, "toggled", G_CALLBACK (log_toggled_cb), self);
  g_signal_connect (self->full_accuracy, "toggled", G_CALLBACK (full_accuracy_toggled_cb), self);
  g_signal_connect (self->train_accuracy, "toggled", G_CALLBACK (train_accuracy_toggled_cb), self);
  g_signal_connect (self->time_axis, "toggled", G_CALLBACK (time_axis_toggled_cb), self);
  g_signal_connect (self->split, "notify::max-position", G_CALLBACK (split_max_cb), self);
  g_signal_connect (self->split, "notify::position", G_CALLBACK (split_moved_cb), self);
}
