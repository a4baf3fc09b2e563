/* The compare view: figures from the runs' histories, then each model evaluated on the test set
 * on a GTask thread for its confusion matrix and its mistakes. */

#define G_LOG_DOMAIN "cs-compare-view"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "formats/cs-checkpoint.h"
#include "cs-compare-view.h"
#include "cs-style.h"
#include "cs-confusion.h"
#include "cs-digit-grid.h"
#include "cs-loaded-model.h"
#include "base/cs-thread-pool.h"
#include "cs-plot.h"
#include "train/cs-run.h"

/* Kept per model; the grid shows 24 of them, of the kind a confusion cell picks. */
#define MAX_MISTAKES 400

struct _CsCompareView
{
  GtkWidget    parent_instance;

  GtkWidget   *scroller;
  GtkLabel    *hint;
  GtkGrid     *table;
  GtkGrid     *classes;
  GtkFlowBox  *confusions;
  GtkFlowBox  *mistakes;

  guint        generation;
  guint        n_columns;
  guint        n_evaluated;
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (CsCompareView, cs_compare_view, GTK_TYPE_WIDGET)

enum { SIGNAL_SHOW_IMAGE, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct
{
  CsCompareView *view;       /* weak: checked through the generation */
  guint          generation;
  char          *name;
  GdkRGBA        color;
  CsSpec        *spec;
  float         *params;
  char          *checkpoint;  /* or a file to load params from */
  CsDataset     *data;
  CsConfusion   *confusion;
  CsDigitGrid   *grid;
  /* results */
  guint          counts[100];
  guint8         images[MAX_MISTAKES * 784];
  guint8         truth[MAX_MISTAKES];
  guint8         pred[MAX_MISTAKES];
  float          confidence[MAX_MISTAKES];
  guint          n_mistakes;
  char          *error;
} EvalJob;

static void
eval_job_free (EvalJob *job)
{
  g_free (job->name);
  cs_spec_free (job->spec);
  g_free (job->params);
  g_free (job->checkpoint);
  cs_dataset_unref (job->data);
  g_clear_object (&job->confusion);
  g_clear_object (&job->grid);
  g_free (job->error);
  g_free (job);
}

static void
eval_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  EvalJob *job = task_data;
  g_autoptr(CsModel) model = cs_model_new (job->spec);
  g_autoptr(CsThreadPool) pool = cs_thread_pool_new (1);
  const CsDataSplit *test = &job->data->test;
  int n_out = cs_model_n_outputs (model);
  float *x;
  gint32 y[100];

  if (job->params != NULL)
    memcpy (cs_model_params (model), job->params, cs_model_n_values (model) * sizeof (float));
  else
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CsCheckpoint) ckpt = cs_checkpoint_load (job->checkpoint, &error);
      if (ckpt == NULL || !cs_checkpoint_apply (ckpt, model, &error))
        {
          job->error = g_strdup (error->message);
          g_task_return_boolean (task, TRUE);
          return;
        }
    }
  cs_thread_pool_set_current (pool);
  x = cs_alloc_floats (100 * cs_model_input_size (model));
  for (guint first = 0; first < test->n && !g_cancellable_is_cancelled (cancellable); first += 100)
    {
      int B = (int) MIN (100, test->n - first);
      const float *out;

      cs_data_split_first_to_float (test, first, B, x, y);
      out = cs_model_forward (model, x, B, FALSE, NULL);
      for (int s = 0; s < B; s++)
        {
          int best = 0;
          for (int c = 1; c < n_out; c++)
            if (out[s * n_out + c] > out[s * n_out + best])
              best = c;
          if (best < 10)
            job->counts[y[s] * 10 + best]++;
          if (best != y[s] && job->n_mistakes < MAX_MISTAKES)
            {
              memcpy (job->images + job->n_mistakes * 784, test->pixels + (gsize) (first + s) * 784, 784);
              double sum = 0;

              /* softmax of the best output: its probability (log-softmax outputs too) */
              for (int c = 0; c < n_out; c++)
                sum += exp ((double) out[s * n_out + c] - out[s * n_out + best]);
              job->truth[job->n_mistakes] = (guint8) y[s];
              job->pred[job->n_mistakes] = (guint8) best;
              job->confidence[job->n_mistakes] = (float) (1.0 / sum);
              job->n_mistakes++;
            }
        }
    }
  cs_free_floats (x);
  cs_thread_pool_set_current (NULL);
  g_task_return_boolean (task, TRUE);
}

static void
eval_done (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  EvalJob *job = g_task_get_task_data (G_TASK (res));
  CsCompareView *self = user_data;

  if (!g_task_propagate_boolean (G_TASK (res), NULL) || self->generation != job->generation)
    {
      g_object_unref (self);
      return;
    }
  if (job->error != NULL)
    {
      cs_confusion_set_counts (job->confusion, job->error, NULL, &job->color);
      cs_digit_grid_set_images (job->grid, job->name, NULL, NULL, NULL, NULL, 0);
    }
  else
    {
      g_autofree char *title = g_strdup_printf ("%s: mistakes (click a confusion cell for one kind)", job->name);
      cs_confusion_set_counts (job->confusion, job->name, job->counts, &job->color);
      cs_digit_grid_set_images (job->grid, title, job->images, job->truth, job->pred, job->confidence,
                                job->n_mistakes);
    }
  self->n_evaluated++;
  g_object_unref (self);
}

/* A confusion cell: the grid shows that kind of mistake; the same cell again, all. */
static void
cell_activated_cb (CsConfusion *confusion,
                   int          t,
                   int          p,
                   gpointer     data)
{
  CsDigitGrid *grid = g_object_get_data (G_OBJECT (confusion), "grid");
  int *sel = g_object_get_data (G_OBJECT (confusion), "selected");

  if (sel == NULL)
    {
      sel = g_new (int, 2);
      sel[0] = sel[1] = -1;
      g_object_set_data_full (G_OBJECT (confusion), "selected", sel, g_free);
    }
  if (t == p || (sel[0] == t && sel[1] == p))
    sel[0] = sel[1] = -1;   /* the diagonal holds no mistakes: it clears the filter */
  else
    sel[0] = t, sel[1] = p;
  cs_confusion_set_selected (confusion, sel[0], sel[1]);
  cs_digit_grid_set_filter (grid, sel[0], sel[1]);
}

static void
image_activated_cb (CsDigitGrid   *grid,
                    guint          i,
                    CsCompareView *self)
{
  GObject *item = g_object_get_data (G_OBJECT (grid), "item");
  const guint8 *pixels = cs_digit_grid_get_image (grid, i, NULL, NULL, NULL);
  float image[784];

  /* As the test set is fed to models (cs_data_split_to_float()): bytes to 0..1. */
  for (int k = 0; k < 784; k++)
    image[k] = pixels[k] / 255.0f;
  g_signal_emit (self, signals[SIGNAL_SHOW_IMAGE], 0, item, image);
}

static void
clear_grid (GtkGrid *grid)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (grid))) != NULL)
    gtk_grid_remove (grid, child);
}

static void
clear_flow (GtkFlowBox *box)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (box))) != NULL)
    gtk_flow_box_remove (box, child);
}

static GtkWidget *
cell (const char *text,
      gboolean    heading,
      double      xalign)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), xalign);
  if (heading)
    gtk_widget_add_css_class (label, "heading");
  else
    gtk_widget_add_css_class (label, "numeric");
  return label;
}

void
cs_compare_view_set_items (CsCompareView *self,
                           GPtrArray     *items,
                           CsDataset     *data)
{
  static const char * const rows[] = { "", "Model", "Final test accuracy", "Best test accuracy", "Epochs",
                                       "Train time", "Samples/s", "Parameters", "State" };

  self->generation++;
  self->n_evaluated = 0;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  clear_grid (self->table);
  clear_grid (self->classes);
  clear_flow (self->confusions);
  clear_flow (self->mistakes);
  self->n_columns = items ? items->len : 0;
  gtk_widget_set_visible (GTK_WIDGET (self->hint), self->n_columns < 2);

  for (guint r = 0; r < G_N_ELEMENTS (rows); r++)
    gtk_grid_attach (self->table, cell (rows[r], TRUE, 0), 0, r, 1, 1);
  gtk_grid_attach (self->classes, cell ("Class", TRUE, 0), 0, 0, 1, 1);
  for (int c = 0; c < 10; c++)
    {
      g_autofree char *t = g_strdup_printf ("%d", c);
      gtk_grid_attach (self->classes, cell (t, TRUE, 0), 0, c + 1, 1, 1);
    }

  for (guint i = 0; items && i < items->len; i++)
    {
      GObject *item = g_ptr_array_index (items, i);
      const CsEpochResult *last = NULL;
      double best = -1;
      g_autofree char *v[9] = { NULL };
      EvalJob *job = g_new0 (EvalJob, 1);
      GtkWidget *swatch;
      g_autoptr(GTask) task = NULL;
      GdkRGBA color;

      cs_plot_palette_color (cs_item_color_index (item, i), &color);
      job->view = self;
      job->generation = self->generation;
      job->color = color;
      job->data = cs_dataset_ref (data);

      if (CS_IS_RUN (item))
        {
          CsRun *run = CS_RUN (item);
          guint ne = cs_run_get_n_epochs (run);
          CsSnapshot *snap = cs_run_get_snapshot (run);

          for (guint e = 0; e < ne; e++)
            best = MAX (best, cs_run_get_epoch (run, e)->test_acc);
          last = ne ? cs_run_get_epoch (run, ne - 1) : NULL;
          v[0] = g_strdup (cs_run_get_name (run));
          v[1] = g_strdup (cs_run_get_model (run));
          v[4] = g_strdup_printf ("%u / %d", ne, cs_run_get_hyper_params (run)->epochs);
          v[5] = g_strdup_printf ("%.1f s", cs_run_get_train_seconds (run));
          v[6] = last ? g_strdup_printf ("%.0f", last->samples_per_sec) : g_strdup ("–");
          v[7] = g_strdup_printf ("%" G_GSIZE_FORMAT, cs_run_get_n_params (run));
          v[8] = g_strdup (cs_run_state_to_string (cs_run_get_state (run)));
          job->name = g_strdup (cs_run_get_name (run));
          job->spec = cs_spec_parse (cs_run_get_spec (run)->text, NULL);
          /* A run still training: its latest snapshot, never the trainer's buffers. */
          if (snap != NULL)
            job->params = g_memdup2 (snap->params, snap->n_params * sizeof (float));
          else
            job->checkpoint = cs_run_get_checkpoint_path (run);
        }
      else
        {
          CsLoadedModel *m = CS_LOADED_MODEL (item);
          CsModel *model = cs_loaded_model_get_model_instance (m);

          last = cs_loaded_model_get_result (m);
          best = last ? last->test_acc : -1;
          v[0] = g_strdup (cs_loaded_model_get_name (m));
          v[1] = g_strdup (cs_loaded_model_get_model (m));
          v[4] = g_strdup ("–");
          v[5] = g_strdup ("–");
          v[6] = g_strdup ("–");
          v[7] = g_strdup_printf ("%" G_GSIZE_FORMAT, cs_model_n_params (model));
          v[8] = g_strdup ("checkpoint");
          job->name = g_strdup (cs_loaded_model_get_name (m));
          job->spec = cs_spec_parse (cs_loaded_model_get_spec (m)->text, NULL);
          job->params = g_memdup2 (cs_model_params (model), cs_model_n_values (model) * sizeof (float));
        }
      v[2] = last ? g_strdup_printf ("%.2f %%", last->test_acc) : g_strdup ("–");
      v[3] = best >= 0 ? g_strdup_printf ("%.2f %%", best) : g_strdup ("–");

      for (guint r = 0; r < G_N_ELEMENTS (rows); r++)
        {
          GtkWidget *label = cell (v[r], r == 0, 1);
          if (r == 0)
            {
              g_autofree char *markup = g_markup_printf_escaped ("<span foreground=\"#%02x%02x%02x\">●</span> %s",
                                                                 (int) (color.red * 255), (int) (color.green * 255),
                                                                 (int) (color.blue * 255), v[0]);
              gtk_label_set_markup (GTK_LABEL (label), markup);
            }
          gtk_grid_attach (self->table, label, i + 1, r, 1, 1);
        }
      swatch = cell (v[0], TRUE, 1);
      gtk_grid_attach (self->classes, swatch, i + 1, 0, 1, 1);
      for (int c = 0; c < 10; c++)
        {
          g_autofree char *t = last ? g_strdup_printf ("%.2f", last->class_acc[c]) : g_strdup ("–");
          gtk_grid_attach (self->classes, cell (t, FALSE, 1), i + 1, c + 1, 1, 1);
        }

      job->confusion = g_object_ref_sink (cs_confusion_new ());
      job->grid = g_object_ref_sink (cs_digit_grid_new ());
      cs_confusion_set_counts (job->confusion, job->name, NULL, &color);
      gtk_widget_set_size_request (GTK_WIDGET (job->confusion), 300, 320);
      gtk_flow_box_append (self->confusions, GTK_WIDGET (job->confusion));
      cs_digit_grid_set_images (job->grid, "Evaluating…", NULL, NULL, NULL, NULL, 0);
      /* A cell picks the grid's mistakes; an image opens in Inside with its model. */
      g_object_set_data_full (G_OBJECT (job->grid), "item", g_object_ref (item), g_object_unref);
      g_object_set_data (G_OBJECT (job->confusion), "grid", job->grid);
      g_signal_connect (job->confusion, "cell-activated", G_CALLBACK (cell_activated_cb), NULL);
      g_signal_connect_object (job->grid, "image-activated", G_CALLBACK (image_activated_cb), self, 0);
      gtk_flow_box_append (self->mistakes, GTK_WIDGET (job->grid));

      task = g_task_new (NULL, self->cancellable, eval_done, g_object_ref (self));
      g_task_set_task_data (task, job, (GDestroyNotify) eval_job_free);
      g_task_run_in_thread (task, eval_thread);
    }
}

guint
cs_compare_view_get_n_columns (CsCompareView *self)
{
  return self->n_columns;
}

guint
cs_compare_view_get_n_evaluated (CsCompareView *self)
{
  return self->n_evaluated;
}

static void
cs_compare_view_dispose (GObject *object)
{
  CsCompareView *self = CS_COMPARE_VIEW (object);

  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), CS_TYPE_COMPARE_VIEW);
  G_OBJECT_CLASS (cs_compare_view_parent_class)->dispose (object);
}

static void
cs_compare_view_class_init (CsCompareViewClass *klass)
{
  /* A mistake was clicked: the item (CsRun or CsLoadedModel) and the image, 784 floats. */
  signals[SIGNAL_SHOW_IMAGE] = g_signal_new ("show-image", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                             NULL, NULL, G_TYPE_NONE, 2, G_TYPE_OBJECT, G_TYPE_POINTER);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_compare_view_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-compare-view.ui");
  gtk_widget_class_bind_template_child (widget_class, CsCompareView, scroller);
  gtk_widget_class_bind_template_child (widget_class, CsCompareView, hint);
  gtk_widget_class_bind_template_child (widget_class, CsCompareView, table);
  gtk_widget_class_bind_template_child (widget_class, CsCompareView, classes);
  gtk_widget_class_bind_template_child (widget_class, CsCompareView, confusions);
  gtk_widget_class_bind_template_child (widget_class, CsCompareView, mistakes);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
cs_compare_view_init (CsCompareView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
