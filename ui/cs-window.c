/* The main window: the runs sidebar, the views of the selected runs, and the actions on them. */

#define G_LOG_DOMAIN "cs-window"

#include "config.h"

#include <string.h>

#include "formats/cs-checkpoint.h"
#include "cs-compare-view.h"
#include "cs-curves-view.h"
#include "data/cs-dataset.h"
#include "cs-draw-view.h"
#include "cs-inside-view.h"
#include "cs-loaded-model.h"
#include "cs-new-run-dialog.h"
#include "nn/cs-presets.h"
#include "cs-run-row.h"
#include "train/cs-run-store.h"
#include "cs-summary-view.h"
#include "cs-window.h"

struct _CsWindow
{
  GtkApplicationWindow  parent_instance;

  GtkHeaderBar         *header_bar;
  GtkRevealer          *banner;
  GtkWidget            *banner_box;
  GtkImage             *banner_icon;
  GtkLabel             *banner_label;
  GtkButton            *banner_close;
  GtkListView          *run_list;
  GtkStack             *main_stack;
  GtkStack             *views;
  GtkLabel             *status_label;
  GtkProgressBar       *status_progress;
  GtkButton            *pause_button;
  GtkButton            *stop_button;
  CsCurvesView         *curves_view;
  CsCompareView        *compare_view;
  CsSummaryView        *summary_view;
  CsInsideView         *inside_view;
  CsDrawView           *draw_view;

  CsRunStore           *store;
  GListStore           *loaded;       /* CsLoadedModel */
  GtkMultiSelection    *selection;
  GPtrArray            *selected;     /* GObject: CsRun or CsLoadedModel */
  CsDataset            *mnist;
  CsDataset            *fashion;
  GPtrArray            *watched;      /* CsRun whose signals update the window */
};

G_DEFINE_FINAL_TYPE (CsWindow, cs_window, GTK_TYPE_APPLICATION_WINDOW)

/* ---- messages in the window ---------------------------------------------- */

void
cs_window_show_message (CsWindow   *self,
                        const char *message,
                        gboolean    is_error)
{
  gtk_label_set_text (self->banner_label, message);
  gtk_image_set_from_icon_name (self->banner_icon, is_error ? "dialog-error-symbolic" : "dialog-information-symbolic");
  gtk_widget_remove_css_class (self->banner_box, is_error ? "info" : "error");
  gtk_widget_add_css_class (self->banner_box, is_error ? "error" : "info");
  gtk_revealer_set_reveal_child (self->banner, TRUE);
  /* Screen readers hear it too, not only sighted people. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->banner_label), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, message, -1);
  if (is_error)
    gtk_widget_error_bell (GTK_WIDGET (self));
}

const char *
cs_window_get_message (CsWindow *self)
{
  return gtk_revealer_get_reveal_child (self->banner) ? gtk_label_get_text (self->banner_label) : NULL;
}

static void
banner_close_cb (GtkButton *button,
                 CsWindow  *self)
{
  gtk_revealer_set_reveal_child (self->banner, FALSE);
}

/* ---- data --------------------------------------------------------------- */

static CsDataset *
get_dataset (CsWindow    *self,
             const char  *name,
             const char  *dir,
             GError     **error)
{
  CsDataset **slot;

  if (dir != NULL)
    return cs_dataset_open (dir, name, error);
  slot = g_strcmp0 (name, "fashion-mnist") == 0 ? &self->fashion : &self->mnist;
  if (*slot == NULL)
    *slot = cs_dataset_open (NULL, name ? name : "mnist", error);
  return *slot ? cs_dataset_ref (*slot) : NULL;
}

CsDataset *
cs_window_get_mnist (CsWindow *self)
{
  g_autoptr(GError) error = NULL;
  CsDataset *ds = get_dataset (self, "mnist", NULL, &error);

  if (ds == NULL)
    {
      cs_window_show_message (self, error->message, TRUE);
      return NULL;
    }
  cs_dataset_unref (ds);   /* the window keeps its own reference */
  return self->mnist;
}

/* ---- the selected runs --------------------------------------------------- */

static CsRun *
selected_live_run (CsWindow *self)
{
  for (guint i = 0; i < self->selected->len; i++)
    {
      GObject *item = g_ptr_array_index (self->selected, i);
      if (CS_IS_RUN (item) && cs_run_state_is_live (cs_run_get_state (CS_RUN (item))))
        return CS_RUN (item);
    }
  return NULL;
}

static void
update_status (CsWindow *self)
{
  CsRun *live = selected_live_run (self);
  GAction *pause = g_action_map_lookup_action (G_ACTION_MAP (self), "pause-resume");
  GAction *stop = g_action_map_lookup_action (G_ACTION_MAP (self), "stop");
  g_autofree char *text = NULL;

  g_simple_action_set_enabled (G_SIMPLE_ACTION (pause), live != NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (stop), live != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->status_progress), live != NULL);

  if (live != NULL)
    {
      const CsHyperParams *hp = cs_run_get_hyper_params (live);
      int nb = cs_run_get_n_batches (live), epoch = cs_run_get_current_epoch (live), batch = cs_run_get_current_batch (live);
      double sps = cs_run_get_samples_per_sec (live);
      double done = nb > 0 ? epoch + (double) batch / nb : 0;
      double remaining = nb > 0 && sps > 0 ? (hp->epochs - done) * nb * hp->batch_size / sps : 0;
      g_autofree char *pct = g_strdup_printf ("%.0f%%", 100 * done / hp->epochs);

      if (cs_run_get_state (live) == CS_RUN_PAUSED)
        text = g_strdup_printf ("%s · paused at epoch %d, batch %d/%d", cs_run_get_name (live), epoch + 1, batch, nb);
      else if (nb > 0)
        text = g_strdup_printf ("%s · epoch %d/%d · batch %d/%d · %.0f samples/s · ETA %d:%02d",
                                cs_run_get_name (live), epoch + 1, hp->epochs, batch, nb, sps,
                                (int) remaining / 60, (int) remaining % 60);
      else
        text = g_strdup_printf ("%s · starting…", cs_run_get_name (live));
      gtk_progress_bar_set_fraction (self->status_progress, CLAMP (done / hp->epochs, 0, 1));
      gtk_progress_bar_set_text (self->status_progress, pct);
      gtk_button_set_icon_name (self->pause_button, cs_run_get_state (live) == CS_RUN_PAUSED
                                ? "media-playback-start-symbolic" : "media-playback-pause-symbolic");
    }
  else if (self->selected->len == 1)
    {
      GObject *item = g_ptr_array_index (self->selected, 0);
      if (CS_IS_RUN (item))
        {
          CsRun *run = CS_RUN (item);
          guint ne = cs_run_get_n_epochs (run);
          g_autofree char *acc = ne ? g_strdup_printf (" · %.2f%% after %u epoch%s", cs_run_get_epoch (run, ne - 1)->test_acc,
                                                       ne, ne == 1 ? "" : "s") : g_strdup ("");
          text = g_strdup_printf ("%s · %s%s%s%s", cs_run_get_name (run), cs_run_state_to_string (cs_run_get_state (run)),
                                  acc, cs_run_get_message (run) ? " · " : "",
                                  cs_run_get_message (run) ? cs_run_get_message (run) : "");
        }
      else
        {
          CsLoadedModel *m = CS_LOADED_MODEL (item);
          const CsEpochResult *r = cs_loaded_model_get_result (m);
          text = r ? g_strdup_printf ("%s · %s · test accuracy %.2f%%", cs_loaded_model_get_name (m),
                                      cs_loaded_model_get_model (m), r->test_acc)
                   : cs_loaded_model_get_eval_error (m)
                   ? g_strdup_printf ("%s · %s · cannot be evaluated: %s", cs_loaded_model_get_name (m),
                                      cs_loaded_model_get_model (m), cs_loaded_model_get_eval_error (m))
                   : g_strdup_printf ("%s · %s · %s", cs_loaded_model_get_name (m), cs_loaded_model_get_model (m),
                                      cs_loaded_model_is_evaluating (m) ? "evaluating on the test set…"
                                                                         : "Evaluate it from the menu");
        }
    }
  else if (self->selected->len == 0)
    text = g_strdup ("Draw a digit: the model answers as you draw");
  else
    text = g_strdup_printf ("%u selected", self->selected->len);
  gtk_label_set_text (self->status_label, text);
  /* The line is ellipsized in a narrow window: the whole of it on hover. */
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->status_label), text);
}

static void
run_progress_cb (CsRun    *run,
                 CsWindow *self)
{
  update_status (self);
}

static void
run_epoch_cb (CsRun    *run,
              guint     epoch,
              CsWindow *self)
{
  update_status (self);
}

static void
run_failed_check_cb (CsRun      *run,
                     GParamSpec *pspec,
                     CsWindow   *self)
{
  update_status (self);
  if (cs_run_get_state (run) == CS_RUN_FAILED && cs_run_get_message (run) != NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s failed: %s", cs_run_get_name (run), cs_run_get_message (run));
      cs_window_show_message (self, msg, TRUE);
    }
  else if (cs_run_get_state (run) == CS_RUN_RUNNING && cs_run_get_message (run) != NULL)
    {
      /* A running run with a message: its last save failed (disk full, ...). */
      cs_window_show_message (self, cs_run_get_message (run), TRUE);
    }
}

static void
watch_run (CsWindow *self,
           CsRun    *run)
{
  if (g_ptr_array_find (self->watched, run, NULL))
    return;
  g_ptr_array_add (self->watched, g_object_ref (run));
  g_signal_connect_object (run, "progress", G_CALLBACK (run_progress_cb), self, 0);
  g_signal_connect_object (run, "epoch-done", G_CALLBACK (run_epoch_cb), self, 0);
  g_signal_connect_object (run, "notify::state", G_CALLBACK (run_failed_check_cb), self, 0);
  g_signal_connect_object (run, "notify::message", G_CALLBACK (run_failed_check_cb), self, 0);
}

static void
refresh_views (CsWindow *self)
{
  GObject *first = self->selected->len ? g_ptr_array_index (self->selected, 0) : NULL;

  cs_curves_view_set_items (self->curves_view, self->selected);
  if (g_str_equal (gtk_stack_get_visible_child_name (self->views), "inside"))
    cs_inside_view_set_item (self->inside_view, first, self->mnist);
  if (g_str_equal (gtk_stack_get_visible_child_name (self->views), "compare") && self->mnist != NULL)
    cs_compare_view_set_items (self->compare_view, self->selected, self->mnist);
  if (first != NULL && CS_IS_RUN (first))
    cs_summary_view_set_model (self->summary_view, cs_run_get_spec (CS_RUN (first)), cs_run_get_model (CS_RUN (first)),
                               cs_run_get_hyper_params (CS_RUN (first)));
  else if (first != NULL)
    cs_summary_view_set_model (self->summary_view, cs_loaded_model_get_spec (CS_LOADED_MODEL (first)),
                               cs_loaded_model_get_model (CS_LOADED_MODEL (first)), NULL);
  else
    cs_summary_view_set_model (self->summary_view, NULL, NULL, NULL);
  update_status (self);
}

static void
selection_changed_cb (GtkSelectionModel *model,
                      guint              position,
                      guint              n_items,
                      CsWindow          *self)
{
  GtkBitset *set = gtk_selection_model_get_selection (model);
  guint64 n = gtk_bitset_get_size (set);

  g_ptr_array_set_size (self->selected, 0);
  for (guint64 i = 0; i < n; i++)
    {
      guint pos = gtk_bitset_get_nth (set, (guint) i);
      g_ptr_array_add (self->selected, g_list_model_get_item (G_LIST_MODEL (model), pos));
    }
  gtk_bitset_unref (set);
  /* The Draw view needs no run: it has the bundled model. */
  if (self->selected->len > 0 || !g_str_equal (gtk_stack_get_visible_child_name (self->views), "draw"))
    gtk_stack_set_visible_child_name (self->main_stack, self->selected->len ? "views" : "welcome");
  refresh_views (self);
}

static void
views_changed_cb (GtkStack   *stack,
                  GParamSpec *pspec,
                  CsWindow   *self)
{
  if (g_str_equal (gtk_stack_get_visible_child_name (stack), "compare"))
    {
      if (cs_window_get_mnist (self) != NULL)
        cs_compare_view_set_items (self->compare_view, self->selected, self->mnist);
    }
  else if (g_str_equal (gtk_stack_get_visible_child_name (stack), "draw"))
    {
      g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func (g_object_unref);
      for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->selection)); i++)
        g_ptr_array_add (all, g_list_model_get_item (G_LIST_MODEL (self->selection), i));
      cs_draw_view_set_candidates (self->draw_view, all);
    }
  else if (g_str_equal (gtk_stack_get_visible_child_name (stack), "inside"))
    {
      cs_window_get_mnist (self);
      cs_inside_view_set_item (self->inside_view, self->selected->len ? g_ptr_array_index (self->selected, 0) : NULL,
                               self->mnist);
    }
}

/* Selects exactly these items of the sidebar. */
void
cs_window_select (CsWindow  *self,
                  GObject  **items,
                  guint      n)
{
  GListModel *model = G_LIST_MODEL (self->selection);
  g_autoptr(GtkBitset) set = gtk_bitset_new_empty ();
  g_autoptr(GtkBitset) mask = gtk_bitset_new_range (0, g_list_model_get_n_items (model));

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(GObject) item = g_list_model_get_item (model, i);
      for (guint k = 0; k < n; k++)
        if (item == items[k])
          gtk_bitset_add (set, i);
    }
  gtk_selection_model_set_selection (GTK_SELECTION_MODEL (self->selection), set, mask);
}

/* ---- starting runs ------------------------------------------------------- */

CsRun *
cs_window_start_run (CsWindow            *self,
                     const CsRunSettings *settings,
                     GError             **error)
{
  g_autoptr(CsDataset) ds = NULL;
  CsRunSettings found;
  CsRun *run;

  g_return_val_if_fail (CS_IS_WINDOW (self), NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  ds = get_dataset (self, settings->dataset, settings->data_dir, error);
  if (ds == NULL)
    return NULL;
  /* The same settings (borrowed), with the dataset as it was found. */
  found = *settings;
  found.dataset = ds->name;
  found.data_dir = ds->dir;
  run = cs_run_store_create (self->store, &found, error);
  if (run == NULL)
    return NULL;
  cs_run_set_snapshot_interval (run, 50);
  watch_run (self, run);
  if (!cs_run_start (run, ds, error))
    return NULL;
  return run;
}

static void
new_run_start_cb (CsNewRunDialog *dialog,
                  CsWindow       *self)
{
  g_auto(CsRunSettings) settings = { 0 };
  g_autoptr(GError) error = NULL;
  CsRun *run;

  cs_new_run_dialog_get_settings (dialog, &settings);
  run = cs_window_start_run (self, &settings, &error);
  if (run == NULL)
    {
      /* The dialog stays open: the person can fix what is wrong. */
      cs_window_show_message (self, error->message, TRUE);
      return;
    }
  gtk_window_destroy (GTK_WINDOW (dialog));
  cs_window_select (self, (GObject **) &run, 1);
}

static void
new_run_action (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  CsWindow *self = user_data;
  CsNewRunDialog *dialog = cs_new_run_dialog_new (GTK_WINDOW (self));

  g_signal_connect_object (dialog, "start", G_CALLBACK (new_run_start_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
compare_mlp_cnn_action (GSimpleAction *action,
                        GVariant      *param,
                        gpointer       user_data)
{
  CsWindow *self = user_data;
  static const char * const models[] = { "mlp", "cnn" };
  GObject *runs[2] = { NULL };

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GError) error = NULL;
      g_auto(CsRunSettings) settings = { 0 };

      if (cs_run_settings_init_preset (&settings, models[i], &error))
        runs[i] = G_OBJECT (cs_window_start_run (self, &settings, &error));
      if (runs[i] == NULL)
        {
          cs_window_show_message (self, error->message, TRUE);
          return;
        }
    }
  cs_window_select (self, runs, 2);
  gtk_stack_set_visible_child_name (self->views, "curves");
}

static void
pause_resume_action (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  CsWindow *self = user_data;
  CsRun *run = selected_live_run (self);

  if (run == NULL)
    return;
  if (cs_run_get_state (run) == CS_RUN_PAUSED)
    cs_run_resume (run);
  else
    cs_run_pause (run);
}

static void
stop_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  CsWindow *self = user_data;

  for (guint i = 0; i < self->selected->len; i++)
    {
      GObject *item = g_ptr_array_index (self->selected, i);
      if (CS_IS_RUN (item))
        cs_run_stop (CS_RUN (item));
    }
}

static void
delete_run_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  CsWindow *self = user_data;
  g_autoptr(GPtrArray) items = g_ptr_array_copy (self->selected, (GCopyFunc) g_object_ref, NULL);

  g_ptr_array_set_free_func (items, g_object_unref);
  for (guint i = 0; i < items->len; i++)
    {
      GObject *item = g_ptr_array_index (items, i);
      g_autoptr(GError) error = NULL;
      guint pos;

      if (CS_IS_RUN (item) && !cs_run_store_delete (self->store, CS_RUN (item), &error))
        cs_window_show_message (self, error->message, TRUE);
      else if (CS_IS_LOADED_MODEL (item) && g_list_store_find (self->loaded, item, &pos))
        g_list_store_remove (self->loaded, pos);
    }
}

/* ---- open, save, export --------------------------------------------------- */

gboolean
cs_window_open_checkpoint (CsWindow    *self,
                           const char  *path,
                           GError     **error)
{
  g_autoptr(CsLoadedModel) model = cs_loaded_model_new (path, error);

  if (model == NULL)
    return FALSE;
  g_list_store_append (self->loaded, model);
  cs_window_select (self, (GObject **) &model, 1);
  return TRUE;
}

static void
open_response_cb (GtkNativeDialog *dialog,
                  int              response,
                  CsWindow        *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      g_autoptr(GError) error = NULL;

      if (!cs_window_open_checkpoint (self, path, &error))
        cs_window_show_message (self, error->message, TRUE);
    }
  g_object_unref (dialog);
}

static void
open_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  CsWindow *self = user_data;
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new ("Open a Checkpoint", GTK_WINDOW (self),
                                                               GTK_FILE_CHOOSER_ACTION_OPEN, "_Open", "_Cancel");
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, "Checkpoints (.safetensors, PyTorch .pth)");
  gtk_file_filter_add_pattern (filter, "*.safetensors");
  gtk_file_filter_add_pattern (filter, "*.pth");
  gtk_file_filter_add_pattern (filter, "*.pt");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_object_unref (filter);
  g_signal_connect (chooser, "response", G_CALLBACK (open_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* Writes the selected run's or checkpoint's weights as safetensors at @path. */
gboolean
cs_window_save_selected (CsWindow    *self,
                         const char  *path,
                         GError     **error)
{
  GObject *item = self->selected->len ? g_ptr_array_index (self->selected, 0) : NULL;

  if (item == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "select a run or a checkpoint to save");
      return FALSE;
    }
  if (CS_IS_RUN (item))
    return cs_run_save_weights (CS_RUN (item), path, CS_WRITE_USER_PATH, error);
  else
    {
      CsLoadedModel *m = CS_LOADED_MODEL (item);
      g_autoptr(GHashTable) meta = cs_checkpoint_metadata_new (cs_loaded_model_get_spec (m),
                                                               cs_loaded_model_get_model (m));

      return cs_checkpoint_save_full (path, cs_loaded_model_get_model_instance (m), NULL, meta,
                                      CS_WRITE_USER_PATH, error);
    }
}

typedef enum { SAVE_CHECKPOINT, SAVE_ACCURACY_PLOT, SAVE_LOSS_PLOT, SAVE_CSV } SaveKind;

static void
save_response_cb (GtkNativeDialog *dialog,
                  int              response,
                  CsWindow        *self)
{
  SaveKind kind = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "kind"));

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      g_autoptr(GError) error = NULL;
      gboolean ok = FALSE;

      switch (kind)
        {
        case SAVE_CHECKPOINT:
          ok = cs_window_save_selected (self, path, &error);
          break;
        case SAVE_ACCURACY_PLOT:
          ok = cs_plot_export (cs_curves_view_get_accuracy_plot (self->curves_view), path, 1200, 700, &error);
          break;
        case SAVE_LOSS_PLOT:
          ok = cs_plot_export (cs_curves_view_get_loss_plot (self->curves_view), path, 1200, 700, &error);
          break;
        case SAVE_CSV:
          ok = cs_window_export_csv (self, path, &error);
          break;
        default:
          g_assert_not_reached ();
        }
      if (ok)
        {
          g_autofree char *msg = g_strdup_printf ("Saved %s", path);
          cs_window_show_message (self, msg, FALSE);
        }
      else
        cs_window_show_message (self, error->message, TRUE);
    }
  g_object_unref (dialog);
}

static void
ask_save (CsWindow   *self,
          const char *title,
          const char *suggested,
          SaveKind    kind)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (title, GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE,
                                                               "_Save", "_Cancel");

  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), suggested);
  g_object_set_data (G_OBJECT (chooser), "kind", GINT_TO_POINTER (kind));
  g_signal_connect (chooser, "response", G_CALLBACK (save_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
save_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  CsWindow *self = user_data;
  GObject *item = self->selected->len ? g_ptr_array_index (self->selected, 0) : NULL;
  g_autofree char *name = NULL;

  if (item == NULL)
    {
      cs_window_show_message (self, "Select a run or a checkpoint to save.", TRUE);
      return;
    }
  name = g_strdup_printf ("%s.safetensors", CS_IS_RUN (item) ? cs_run_get_id (CS_RUN (item)) : "model");
  ask_save (self, "Save Checkpoint", name, SAVE_CHECKPOINT);
}

static void
export_plot_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  CsWindow *self = user_data;
  gboolean loss = g_str_equal (g_variant_get_string (param, NULL), "loss");

  ask_save (self, loss ? "Export Loss Plot (PNG, SVG or PDF)" : "Export Accuracy Plot (PNG, SVG or PDF)",
            loss ? "loss.png" : "accuracy.png", loss ? SAVE_LOSS_PLOT : SAVE_ACCURACY_PLOT);
}

gboolean
cs_window_export_csv (CsWindow    *self,
                      const char  *path,
                      GError     **error)
{
  g_autoptr(GPtrArray) runs = g_ptr_array_new ();
  g_autofree char *csv = NULL;
  gsize len;

  for (guint i = 0; i < self->selected->len; i++)
    if (CS_IS_RUN (g_ptr_array_index (self->selected, i)))
      g_ptr_array_add (runs, g_ptr_array_index (self->selected, i));
  if (runs->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "select one or more runs to export their history");
      return FALSE;
    }
  csv = cs_runs_to_csv ((CsRun * const *) runs->pdata, runs->len, &len);
  return cs_write_file_full (path, csv, len, CS_WRITE_USER_PATH, error);
}

static void
export_csv_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  ask_save (user_data, "Export History as CSV", "runs.csv", SAVE_CSV);
}

static void
loaded_evaluated_cb (CsLoadedModel *model,
                     GParamSpec    *pspec,
                     CsWindow      *self)
{
  refresh_views (self);
}

static void
evaluate_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  CsWindow *self = user_data;
  CsDataset *ds = cs_window_get_mnist (self);

  if (ds == NULL)
    return;
  for (guint i = 0; i < self->selected->len; i++)
    {
      GObject *item = g_ptr_array_index (self->selected, i);
      if (CS_IS_LOADED_MODEL (item))
        {
          g_signal_connect_object (item, "notify::evaluated", G_CALLBACK (loaded_evaluated_cb), self, 0);
          cs_loaded_model_evaluate (CS_LOADED_MODEL (item), ds);
        }
      else if (CS_IS_RUN (item) && cs_run_state_is_live (cs_run_get_state (CS_RUN (item))))
        cs_run_evaluate_now (CS_RUN (item));
    }
  update_status (self);
}

/* Files dropped on the window are opened as checkpoints. */
static gboolean
drop_cb (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         CsWindow      *self)
{
  GSList *files;

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  files = g_value_get_boxed (value);
  for (GSList *l = files; l; l = l->next)
    {
      g_autofree char *path = g_file_get_path (l->data);
      g_autoptr(GError) error = NULL;

      if (path == NULL || !cs_window_open_checkpoint (self, path, &error))
        cs_window_show_message (self, error ? error->message : "Only local files can be opened.", TRUE);
    }
  return TRUE;
}

/* Space pauses and resumes, except where Space types. */
static gboolean
space_cb (GtkWidget *widget,
          GVariant  *args,
          gpointer   user_data)
{
  CsWindow *self = CS_WINDOW (widget);
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

  if (focus != NULL && (GTK_IS_EDITABLE (focus) || GTK_IS_TEXT_VIEW (focus)))
    return FALSE;
  if (selected_live_run (self) == NULL)
    return FALSE;
  g_action_group_activate_action (G_ACTION_GROUP (self), "pause-resume", NULL);
  return TRUE;
}

/* ---- construction --------------------------------------------------------- */

static void
setup_row_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              gpointer                  user_data)
{
  gtk_list_item_set_child (item, GTK_WIDGET (cs_run_row_new ()));
}

static void
bind_row_cb (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  user_data)
{
  cs_run_row_set_item (CS_RUN_ROW (gtk_list_item_get_child (item)), gtk_list_item_get_item (item));
}

static void
unbind_row_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  user_data)
{
  cs_run_row_set_item (CS_RUN_ROW (gtk_list_item_get_child (item)), NULL);
}

static void
store_items_changed_cb (GListModel *model,
                        guint       position,
                        guint       removed,
                        guint       added,
                        CsWindow   *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(CsRun) run = g_list_model_get_item (model, i);
      watch_run (self, run);
    }
}

static gboolean
close_request_cb (GtkWindow *window,
                  CsWindow  *self)
{
  /* Runs training when the window closes stop cleanly: their state and
   * what they learned are saved, and no thread outlives the window. */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->store)); i++)
    {
      g_autoptr(CsRun) run = g_list_model_get_item (G_LIST_MODEL (self->store), i);
      if (cs_run_state_is_live (cs_run_get_state (run)))
        cs_run_stop (run);
    }
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->store)); i++)
    {
      g_autoptr(CsRun) run = g_list_model_get_item (G_LIST_MODEL (self->store), i);
      cs_run_join (run);
    }
  return FALSE;
}

static void
draw_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  CsWindow *self = user_data;

  gtk_stack_set_visible_child_name (self->views, "draw");
  gtk_stack_set_visible_child_name (self->main_stack, "views");
}

static void
show_maps_cb (CsDrawView  *view,
              const float *input,
              CsWindow    *self)
{
  cs_window_get_mnist (self);
  if (self->selected->len == 0)
    {
      /* The drawn digit through the model that read it. */
      g_autoptr(GError) error = NULL;
      g_autoptr(CsLoadedModel) bundled = cs_loaded_model_new_bundled (&error);
      if (bundled == NULL)
        {
          cs_window_show_message (self, error->message, TRUE);
          return;
        }
      g_list_store_append (self->loaded, bundled);
      cs_window_select (self, (GObject **) &bundled, 1);
    }
  gtk_stack_set_visible_child_name (self->views, "inside");
  cs_inside_view_set_image (self->inside_view, input, "the drawn digit");
}

static const GActionEntry win_actions[] = {
  { .name = "draw", .activate = draw_action },
  { .name = "new-run", .activate = new_run_action },
  { .name = "open", .activate = open_action },
  { .name = "save", .activate = save_action },
  { .name = "export-plot", .activate = export_plot_action, .parameter_type = "s" },
  { .name = "export-csv", .activate = export_csv_action },
  { .name = "pause-resume", .activate = pause_resume_action },
  { .name = "stop", .activate = stop_action },
  { .name = "evaluate", .activate = evaluate_action },
  { .name = "delete-run", .activate = delete_run_action },
  { .name = "compare-mlp-cnn", .activate = compare_mlp_cnn_action },
};

static void
cs_window_dispose (GObject *object)
{
  CsWindow *self = CS_WINDOW (object);

  g_clear_pointer (&self->watched, g_ptr_array_unref);
  g_clear_pointer (&self->selected, g_ptr_array_unref);
  g_clear_object (&self->selection);
  g_clear_object (&self->store);
  g_clear_object (&self->loaded);
  g_clear_pointer (&self->mnist, cs_dataset_unref);
  g_clear_pointer (&self->fashion, cs_dataset_unref);
  G_OBJECT_CLASS (cs_window_parent_class)->dispose (object);
}

static void
cs_window_class_init (CsWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_window_dispose;
  g_type_ensure (CS_TYPE_CURVES_VIEW);
  g_type_ensure (CS_TYPE_COMPARE_VIEW);
  g_type_ensure (CS_TYPE_SUMMARY_VIEW);
  g_type_ensure (CS_TYPE_INSIDE_VIEW);
  g_type_ensure (CS_TYPE_DRAW_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-window.ui");
  gtk_widget_class_bind_template_child (widget_class, CsWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, banner);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, banner_box);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, banner_icon);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, banner_close);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, run_list);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, views);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, status_label);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, status_progress);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, pause_button);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, stop_button);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, curves_view);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, compare_view);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, summary_view);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, inside_view);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, draw_view);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_space, 0, space_cb, NULL);
}

static void
cs_window_init (CsWindow *self)
{
  g_autoptr(GListStore) models = g_list_store_new (G_TYPE_LIST_MODEL);
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
  g_autoptr(GPtrArray) warnings = NULL;
  g_autoptr(GError) error = NULL;
  GtkDropTarget *drop;
  const char *runs_dir = g_getenv ("CONVSCOPE_RUNS_DIR");

  gtk_widget_init_template (GTK_WIDGET (self));
  self->selected = g_ptr_array_new_with_free_func (g_object_unref);
  self->watched = g_ptr_array_new_with_free_func (g_object_unref);
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions), self);

  /* The sidebar: the runs directory, then the checkpoints opened this session. */
  self->store = cs_run_store_new (runs_dir && runs_dir[0] ? runs_dir : NULL);
  self->loaded = g_list_store_new (CS_TYPE_LOADED_MODEL);
  g_signal_connect (self->store, "items-changed", G_CALLBACK (store_items_changed_cb), self);
  if (!cs_run_store_load (self->store, &warnings, &error))
    cs_window_show_message (self, error->message, TRUE);
  else if (warnings->len > 0)
    {
      g_autofree char *joined = NULL;
      g_ptr_array_add (warnings, NULL);
      joined = g_strjoinv ("\n", (char **) warnings->pdata);
      cs_window_show_message (self, joined, TRUE);
    }
  g_list_store_append (models, self->store);
  g_list_store_append (models, self->loaded);
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (gtk_flatten_list_model_new (g_object_ref (G_LIST_MODEL (models)))));
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (self->run_list, factory);
  gtk_list_view_set_model (self->run_list, GTK_SELECTION_MODEL (self->selection));
  g_signal_connect (self->selection, "selection-changed", G_CALLBACK (selection_changed_cb), self);
  g_signal_connect (self->views, "notify::visible-child", G_CALLBACK (views_changed_cb), self);
  g_signal_connect (self->banner_close, "clicked", G_CALLBACK (banner_close_cb), self);
  g_signal_connect (self->draw_view, "show-feature-maps", G_CALLBACK (show_maps_cb), self);
  g_signal_connect (self, "close-request", G_CALLBACK (close_request_cb), self);

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  /* Start where the person left off: the newest run selected. */
  if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) > 0)
    {
      guint last = g_list_model_get_n_items (G_LIST_MODEL (self->store)) - 1;
      gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), last, TRUE);
    }
  else
    gtk_stack_set_visible_child_name (self->main_stack, "welcome");
  update_status (self);
}

CsWindow *
cs_window_new (GtkApplication *application)
{
  return g_object_new (CS_TYPE_WINDOW, "application", application, NULL);
}

CsRunStore *
cs_window_get_run_store (CsWindow *self)
{
  return self->store;
}

CsCurvesView *
cs_window_get_curves_view (CsWindow *self)
{
  return self->curves_view;
}

CsCompareView *
cs_window_get_compare_view (CsWindow *self)
{
  return self->compare_view;
}

CsInsideView *
cs_window_get_inside_view (CsWindow *self)
{
  return self->inside_view;
}

CsDrawView *
cs_window_get_draw_view (CsWindow *self)
{
  return self->draw_view;
}

CsSummaryView *
cs_window_get_summary_view (CsWindow *self)
{
  return self->summary_view;
}

GtkStack *
cs_window_get_views (CsWindow *self)
{
  return self->views;
}

guint
cs_window_get_n_sidebar_items (CsWindow *self)
{
  return g_list_model_get_n_items (G_LIST_MODEL (self->selection));
}

const char *
cs_window_get_status_text (CsWindow *self)
{
  return gtk_label_get_text (self->status_label);
}
