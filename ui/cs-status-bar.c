/* The status bar: one line naming what is selected and what it is doing
 * (training progress as cs_run_format_progress() words it, a checkpoint's
 * test accuracy or why it cannot be evaluated), with a progress bar while a
 * run trains. The whole line is its tooltip: a narrow window ellipsizes it. */

#define G_LOG_DOMAIN "cs-status-bar"

#include "config.h"

#include "cs-loaded-model.h"
#include "cs-status-bar.h"
#include "train/cs-run.h"

struct _CsStatusBar
{
  GtkWidget       parent_instance;

  GtkWidget      *box;
  GtkLabel       *label;
  GtkProgressBar *progress;
};

G_DEFINE_FINAL_TYPE (CsStatusBar, cs_status_bar, GTK_TYPE_WIDGET)

static char *
run_text (CsRun *run)
{
  guint ne = cs_run_get_n_epochs (run);
  g_autofree char *acc = NULL;
  const char *message = cs_run_get_message (run);

  acc = ne ? g_strdup_printf (" · %.2f%% after %u epoch%s", cs_run_get_epoch (run, ne - 1)->test_acc, ne,
                              ne == 1 ? "" : "s")
           : g_strdup ("");
  return g_strdup_printf ("%s · %s%s%s%s", cs_run_get_name (run), cs_run_state_to_string (cs_run_get_state (run)),
                          acc, message ? " · " : "", message ? message : "");
}

static char *
loaded_text (CsLoadedModel *m)
{
  const CsEpochResult *r = cs_loaded_model_get_result (m);

  if (r != NULL)
    return g_strdup_printf ("%s · %s · test accuracy %.2f%%", cs_loaded_model_get_name (m),
                            cs_loaded_model_get_model (m), r->test_acc);
  if (cs_loaded_model_get_eval_error (m) != NULL)
    return g_strdup_printf ("%s · %s · cannot be evaluated: %s", cs_loaded_model_get_name (m),
                            cs_loaded_model_get_model (m), cs_loaded_model_get_eval_error (m));
  return g_strdup_printf ("%s · %s · %s", cs_loaded_model_get_name (m), cs_loaded_model_get_model (m),
                          cs_loaded_model_is_evaluating (m) ? "evaluating on the test set…"
                                                             : "Evaluate it from the menu");
}

void
cs_status_bar_update (CsStatusBar *self,
                      GPtrArray   *items,
                      GObject     *live)
{
  g_autofree char *text = NULL;
  guint n = items ? items->len : 0;

  g_return_if_fail (CS_IS_STATUS_BAR (self));
  g_return_if_fail (live == NULL || CS_IS_RUN (live));

  gtk_widget_set_visible (GTK_WIDGET (self->progress), live != NULL);
  if (live != NULL)
    {
      CsRun *run = CS_RUN (live);
      g_autofree char *progress = cs_run_format_progress (run, CS_RUN_PROGRESS_BATCH | CS_RUN_PROGRESS_SPEED |
                                                               CS_RUN_PROGRESS_ETA);
      double done = cs_run_get_fraction_done (run);
      g_autofree char *pct = g_strdup_printf ("%.0f%%", 100 * done);

      text = g_strdup_printf ("%s · %s%s", cs_run_get_name (run),
                              cs_run_get_state (run) == CS_RUN_PAUSED ? "paused at " : "", progress);
      gtk_progress_bar_set_fraction (self->progress, done);
      gtk_progress_bar_set_text (self->progress, pct);
    }
  else if (n == 1)
    {
      GObject *item = g_ptr_array_index (items, 0);
      text = CS_IS_RUN (item) ? run_text (CS_RUN (item)) : loaded_text (CS_LOADED_MODEL (item));
    }
  else if (n == 0)
    text = g_strdup ("Draw a digit: the model answers as you draw");
  else
    text = g_strdup_printf ("%u selected", n);
  if (g_strcmp0 (gtk_label_get_text (self->label), text) != 0)
    {
      gtk_label_set_text (self->label, text);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->label), text);
    }
}

const char *
cs_status_bar_get_text (CsStatusBar *self)
{
  g_return_val_if_fail (CS_IS_STATUS_BAR (self), NULL);

  return gtk_label_get_text (self->label);
}

static void
cs_status_bar_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), CS_TYPE_STATUS_BAR);
  G_OBJECT_CLASS (cs_status_bar_parent_class)->dispose (object);
}

static void
cs_status_bar_class_init (CsStatusBarClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_status_bar_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-status-bar.ui");
  gtk_widget_class_bind_template_child (widget_class, CsStatusBar, box);
  gtk_widget_class_bind_template_child (widget_class, CsStatusBar, label);
  gtk_widget_class_bind_template_child (widget_class, CsStatusBar, progress);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_STATUS);
}

static void
cs_status_bar_init (CsStatusBar *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

CsStatusBar *
cs_status_bar_new (void)
{
  return g_object_new (CS_TYPE_STATUS_BAR, NULL);
}
