/* The sidebar row: name, state and progress of a run, kept current from its signals. */

#define G_LOG_DOMAIN "cs-run-row"

#include "config.h"

#include "cs-style.h"

#include "cs-loaded-model.h"
#include "train/cs-run.h"
#include "cs-run-row.h"

struct _CsRunRow
{
  GtkWidget       parent_instance;

  GtkWidget      *box;
  GtkImage       *icon;
  GtkLabel       *title;
  GtkLabel       *subtitle;
  GtkLabel       *accuracy;
  GtkProgressBar *progress;

  GObject        *item;
  gulong          handlers[4];
  guint           progress_source;
};

G_DEFINE_FINAL_TYPE (CsRunRow, cs_run_row, GTK_TYPE_WIDGET)

static void
update (CsRunRow *self)
{
  g_autofree char *sub = NULL;
  g_autofree char *acc = NULL;

  if (self->item == NULL)
    return;

  if (CS_IS_RUN (self->item))
    {
      CsRun *run = CS_RUN (self->item);
      CsRunState state = cs_run_get_state (run);
      guint ne = cs_run_get_n_epochs (run);
      const CsHyperParams *hp = cs_run_get_hyper_params (run);
      gboolean live = cs_run_state_is_live (state);

      gtk_label_set_text (self->title, cs_run_get_name (run));
      if (live && cs_run_get_n_batches (run) > 0)
        {
          g_autofree char *progress = cs_run_format_progress (run, CS_RUN_PROGRESS_SPEED);
          sub = g_strdup_printf ("%s · %s", cs_run_state_to_string (state), progress);
        }
      else
        sub = g_strdup_printf ("%s · %s · %u/%d epochs", cs_run_get_model (run), cs_run_state_to_string (state),
                               ne, hp->epochs);
      if (ne > 0)
        acc = g_strdup_printf ("%.2f%%", cs_run_get_epoch (run, ne - 1)->test_acc);
      gtk_image_set_from_icon_name (self->icon,
                                    state == CS_RUN_RUNNING ? "media-playback-start-symbolic" :
                                    state == CS_RUN_PAUSED ? "media-playback-pause-symbolic" :
                                    state == CS_RUN_FAILED ? "dialog-error-symbolic" :
                                    state == CS_RUN_STOPPED ? "media-playback-stop-symbolic" :
                                    state == CS_RUN_QUEUED ? "content-loading-symbolic" : "emblem-ok-symbolic");
      gtk_widget_set_visible (GTK_WIDGET (self->progress), live);
      if (live && cs_run_get_n_batches (run) > 0)
        {
          double done = cs_run_get_current_epoch (run) + (double) cs_run_get_current_batch (run) / cs_run_get_n_batches (run);
          gtk_progress_bar_set_fraction (self->progress, CLAMP (done / hp->epochs, 0, 1));
        }
      /* Everything that tells it from the others, and why it failed. */
      {
        g_autofree char *about = cs_run_describe_settings (run);
        gtk_widget_set_tooltip_text (GTK_WIDGET (self), about);
      }
    }
  else if (CS_IS_LOADED_MODEL (self->item))
    {
      CsLoadedModel *m = CS_LOADED_MODEL (self->item);
      const CsEpochResult *r = cs_loaded_model_get_result (m);

      gtk_label_set_text (self->title, cs_loaded_model_get_name (m));
      sub = g_strdup_printf ("%s · %s checkpoint%s", cs_loaded_model_get_model (m),
                             g_str_equal (cs_loaded_model_get_format (m), "pytorch") ? "PyTorch" : "safetensors",
                             cs_loaded_model_is_evaluating (m) ? " · evaluating…"
                             : cs_loaded_model_get_eval_error (m) ? " · cannot be evaluated" : "");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self), cs_loaded_model_get_eval_error (m));
      if (r != NULL)
        acc = g_strdup_printf ("%.2f%%", r->test_acc);
      gtk_image_set_from_icon_name (self->icon, "document-open-symbolic");
      gtk_widget_set_visible (GTK_WIDGET (self->progress), FALSE);
    }
  gtk_label_set_text (self->subtitle, sub);
  gtk_label_set_text (self->accuracy, acc ? acc : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, gtk_label_get_text (self->title),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, sub, -1);
}

/* Progress on the views' shared tick (cs_ui_tick_add()). */
static gboolean
progress_timeout_cb (gpointer data)
{
  CsRunRow *self = data;

  self->progress_source = 0;
  update (self);
  return G_SOURCE_REMOVE;
}

static void
progress_cb (GObject  *object,
             CsRunRow *self)
{
  if (self->progress_source == 0)
    self->progress_source = cs_ui_tick_add (progress_timeout_cb, self);
}

static void
changed_cb (GObject  *object,
            gpointer  arg,
            CsRunRow *self)
{
  update (self);
}

static void
disconnect_item (CsRunRow *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->handlers); i++)
    if (self->handlers[i] != 0)
      {
        g_signal_handler_disconnect (self->item, self->handlers[i]);
        self->handlers[i] = 0;
      }
  g_clear_object (&self->item);
}

void
cs_run_row_set_item (CsRunRow *self,
                     GObject  *item)
{
  if (self->item == item)
    return;
  if (self->item != NULL)
    disconnect_item (self);
  if (item == NULL)
    return;
  self->item = g_object_ref (item);
  if (CS_IS_RUN (item))
    {
      self->handlers[0] = g_signal_connect (item, "progress", G_CALLBACK (progress_cb), self);
      self->handlers[1] = g_signal_connect (item, "epoch-done", G_CALLBACK (changed_cb), self);
      self->handlers[2] = g_signal_connect (item, "notify::state", G_CALLBACK (changed_cb), self);
      self->handlers[3] = g_signal_connect (item, "notify::name", G_CALLBACK (changed_cb), self);
    }
  else
    self->handlers[0] = g_signal_connect (item, "notify::evaluated", G_CALLBACK (changed_cb), self);
  update (self);
}

GObject *
cs_run_row_get_item (CsRunRow *self)
{
  g_return_val_if_fail (CS_IS_RUN_ROW (self), NULL);

  return self->item;
}

const char *
cs_run_row_get_title (CsRunRow *self)
{
  return gtk_label_get_text (self->title);
}

const char *
cs_run_row_get_subtitle (CsRunRow *self)
{
  return gtk_label_get_text (self->subtitle);
}

static void
cs_run_row_dispose (GObject *object)
{
  CsRunRow *self = CS_RUN_ROW (object);

  if (self->item != NULL)
    disconnect_item (self);
  g_clear_handle_id (&self->progress_source, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), CS_TYPE_RUN_ROW);
  G_OBJECT_CLASS (cs_run_row_parent_class)->dispose (object);
}

static void
cs_run_row_class_init (CsRunRowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_run_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-run-row.ui");
  gtk_widget_class_bind_template_child (widget_class, CsRunRow, box);
  gtk_widget_class_bind_template_child (widget_class, CsRunRow, icon);
  gtk_widget_class_bind_template_child (widget_class, CsRunRow, title);
  gtk_widget_class_bind_template_child (widget_class, CsRunRow, subtitle);
  gtk_widget_class_bind_template_child (widget_class, CsRunRow, accuracy);
  gtk_widget_class_bind_template_child (widget_class, CsRunRow, progress);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
cs_run_row_init (CsRunRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

CsRunRow *
cs_run_row_new (void)
{
  return g_object_new (CS_TYPE_RUN_ROW, NULL);
}
