/* The window's actions: start, pause, stop and delete runs, open and save
 * checkpoints, export plots and histories, evaluate, and the Draw view's
 * way into Inside. */

#define G_LOG_DOMAIN "cs-window"

#include "config.h"

#include <string.h>

#include "cs-new-run-dialog.h"
#include "cs-run-row.h"
#include "cs-window-private.h"
#include "nn/cs-presets.h"

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

  ds = cs_window_get_dataset (self, settings->dataset, settings->data_dir, error);
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
  cs_window_watch_run (self, run);
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
  cs_new_run_dialog_remember (dialog);
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
  gboolean any_running = FALSE;

  /* Every selected live run: paused if any of them trains, else resumed. */
  for (guint i = 0; i < self->selected->len; i++)
    {
      GObject *item = g_ptr_array_index (self->selected, i);
      if (CS_IS_RUN (item) && cs_run_get_state (CS_RUN (item)) == CS_RUN_RUNNING)
        any_running = TRUE;
    }
  for (guint i = 0; i < self->selected->len; i++)
    {
      GObject *item = g_ptr_array_index (self->selected, i);
      CsRunState state;

      if (!CS_IS_RUN (item))
        continue;
      state = cs_run_get_state (CS_RUN (item));
      if (any_running && (state == CS_RUN_RUNNING || state == CS_RUN_QUEUED))
        cs_run_pause (CS_RUN (item));
      else if (!any_running && state == CS_RUN_PAUSED)
        cs_run_resume (CS_RUN (item));
    }
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

/* Rename Run (F2, or a double-click on the run): an entry in a popover at
 * the run's row in the sidebar; Enter renames, Escape leaves it as it was. */
static void
rename_activate_cb (GtkWidget *widget,
                    CsWindow  *self)
{
  GtkWidget *popover = gtk_widget_get_ancestor (widget, GTK_TYPE_POPOVER);
  GtkEntry *entry = g_object_get_data (G_OBJECT (popover), "entry");
  CsRun *run = g_object_get_data (G_OBJECT (popover), "run");
  g_autoptr(GError) error = NULL;

  if (!cs_run_set_name (run, gtk_editable_get_text (GTK_EDITABLE (entry)), &error))
    {
      /* The popover stays: the person can correct the name. */
      gtk_widget_error_bell (GTK_WIDGET (entry));
      gtk_widget_set_tooltip_text (GTK_WIDGET (entry), error->message);
      gtk_widget_add_css_class (GTK_WIDGET (entry), "error");
      return;
    }
  gtk_popover_popdown (GTK_POPOVER (popover));
}

static gboolean
unparent_idle (gpointer data)
{
  gtk_widget_unparent (data);
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

static void
rename_closed_cb (GtkPopover *popover,
                  gpointer    data)
{
  g_idle_add (unparent_idle, g_object_ref (popover));
}

/* The sidebar row that shows @item, if it is on screen. */
static GtkWidget *
row_of (GtkWidget *root,
        GObject   *item)
{
  if (CS_IS_RUN_ROW (root) && cs_run_row_get_item (CS_RUN_ROW (root)) == item)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = row_of (c, item);
      if (found != NULL)
        return found;
    }
  return NULL;
}

void
cs_window_rename_run (CsWindow *self,
                      CsRun    *run)
{
  GtkWidget *popover, *box, *entry, *button, *row;
  graphene_rect_t bounds;

  g_return_if_fail (CS_IS_WINDOW (self));
  g_return_if_fail (CS_IS_RUN (run));

  popover = gtk_popover_new ();
  gtk_widget_set_name (popover, "cs-rename-popover");
  box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), cs_run_get_name (run));
  gtk_entry_set_max_length (GTK_ENTRY (entry), 200);
  gtk_editable_set_width_chars (GTK_EDITABLE (entry), 24);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, "Run name", -1);
  button = gtk_button_new_with_mnemonic ("_Rename");
  gtk_widget_add_css_class (button, "suggested-action");
  gtk_box_append (GTK_BOX (box), entry);
  gtk_box_append (GTK_BOX (box), button);
  gtk_popover_set_child (GTK_POPOVER (popover), box);
  g_object_set_data_full (G_OBJECT (popover), "run", g_object_ref (run), g_object_unref);
  g_object_set_data (G_OBJECT (popover), "entry", entry);
  g_signal_connect_object (entry, "activate", G_CALLBACK (rename_activate_cb), self, 0);
  g_signal_connect_object (button, "clicked", G_CALLBACK (rename_activate_cb), self, 0);
  g_signal_connect (popover, "closed", G_CALLBACK (rename_closed_cb), NULL);
  gtk_widget_set_parent (popover, GTK_WIDGET (self->run_list));
  /* At the run's row, where its name is. */
  row = row_of (GTK_WIDGET (self->run_list), G_OBJECT (run));
  if (row != NULL && gtk_widget_compute_bounds (row, GTK_WIDGET (self->run_list), &bounds))
    gtk_popover_set_pointing_to (GTK_POPOVER (popover),
                                 &(GdkRectangle) { (int) bounds.origin.x, (int) bounds.origin.y,
                                                   (int) bounds.size.width, (int) bounds.size.height });
  gtk_popover_set_position (GTK_POPOVER (popover), GTK_POS_RIGHT);
  gtk_popover_popup (GTK_POPOVER (popover));
  gtk_widget_grab_focus (entry);
}

static void
rename_run_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  CsWindow *self = user_data;
  GObject *item = self->selected->len == 1 ? g_ptr_array_index (self->selected, 0) : NULL;

  if (item == NULL || !CS_IS_RUN (item))
    {
      cs_window_show_message (self, "Select one run to rename it.", TRUE);
      return;
    }
  cs_window_rename_run (self, CS_RUN (item));
}

/* Runs are deleted from the disk only once the person has said yes; live
 * runs are left alone (stop them first); closing a checkpoint removes only
 * its row. */
static void
delete_items (CsWindow  *self,
              GPtrArray *items)
{
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

static void
delete_response_cb (GtkDialog *dialog,
                    int        response,
                    CsWindow  *self)
{
  GPtrArray *items = g_object_get_data (G_OBJECT (dialog), "items");

  if (response == GTK_RESPONSE_ACCEPT)
    delete_items (self, items);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
delete_run_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  CsWindow *self = user_data;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *title = NULL;
  g_autofree char *detail = NULL;
  GtkWidget *dialog, *button;
  guint n_runs = 0;
  CsRun *first = NULL;

  for (guint i = 0; i < self->selected->len; i++)
    {
      GObject *item = g_ptr_array_index (self->selected, i);

      if (CS_IS_RUN (item) && cs_run_state_is_live (cs_run_get_state (CS_RUN (item))))
        {
          g_autofree char *msg = g_strdup_printf ("%s is training: stop it before deleting it.",
                                                  cs_run_get_name (CS_RUN (item)));
          cs_window_show_message (self, msg, TRUE);
          continue;
        }
      if (CS_IS_RUN (item) && n_runs++ == 0)
        first = CS_RUN (item);
      g_ptr_array_add (items, g_object_ref (item));
    }
  if (items->len == 0)
    return;
  if (n_runs == 0)
    {
      delete_items (self, items);
      return;
    }

  title = n_runs == 1 ? g_strdup_printf ("Delete “%s”?", cs_run_get_name (first))
                      : g_strdup_printf ("Delete %u runs?", n_runs);
  detail = g_strdup (n_runs == 1 ? "Its history and checkpoint are removed from the disk. This cannot be undone."
                                 : "Their histories and checkpoints are removed from the disk. This cannot be undone.");
  dialog = gtk_message_dialog_new (GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                   GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE, "%s", title);
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog), "%s", detail);
  gtk_dialog_add_button (GTK_DIALOG (dialog), "_Cancel", GTK_RESPONSE_CANCEL);
  button = gtk_dialog_add_button (GTK_DIALOG (dialog), "_Delete", GTK_RESPONSE_ACCEPT);
  gtk_widget_add_css_class (button, "destructive-action");
  gtk_dialog_set_default_response (GTK_DIALOG (dialog), GTK_RESPONSE_CANCEL);
  gtk_widget_set_name (dialog, "cs-delete-dialog");
  g_object_set_data_full (G_OBJECT (dialog), "items", g_steal_pointer (&items), (GDestroyNotify) g_ptr_array_unref);
  g_signal_connect_object (dialog, "response", G_CALLBACK (delete_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

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
  cs_window_refresh_views (self);
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
  cs_window_update_status (self);
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

/* The bundled LeNet-5 in the sidebar, added the first time it is needed. */
static CsLoadedModel *
bundled_in_sidebar (CsWindow  *self,
                    GError   **error)
{
  g_autoptr(CsLoadedModel) bundled = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->loaded)); i++)
    {
      g_autoptr(CsLoadedModel) m = g_list_model_get_item (G_LIST_MODEL (self->loaded), i);
      if (cs_loaded_model_is_bundled (m))
        return m;   /* the list keeps its reference */
    }
  bundled = cs_loaded_model_new_bundled (error);
  if (bundled == NULL)
    return NULL;
  g_list_store_append (self->loaded, bundled);
  return bundled;
}

/* "See Its Feature Maps": the drawn digit through the model that read it, on
 * Inside's feature maps page. */
static void
show_maps_cb (CsDrawView  *view,
              const float *input,
              CsWindow    *self)
{
  GObject *source = cs_draw_view_get_model_item (view);

  cs_window_get_mnist (self);
  if (source == NULL)
    {
      g_autoptr(GError) error = NULL;

      source = G_OBJECT (bundled_in_sidebar (self, &error));
      if (source == NULL)
        {
          cs_window_show_message (self, error->message, TRUE);
          return;
        }
    }
  if (self->selected->len != 1 || g_ptr_array_index (self->selected, 0) != source)
    cs_window_select (self, &source, 1);
  gtk_stack_set_visible_child_name (self->views, "inside");
  cs_inside_view_set_image (self->inside_view, input, "the drawn digit");
  cs_inside_view_show_feature_maps (self->inside_view);
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
  { .name = "rename-run", .activate = rename_run_action },
  { .name = "compare-mlp-cnn", .activate = compare_mlp_cnn_action },
};

/* A mistake clicked in Compare: that model, on Inside's feature maps, with that image. */
static void
compare_show_image_cb (CsCompareView *view,
                       GObject       *item,
                       const float   *image,
                       CsWindow      *self)
{
  if (self->selected->len != 1 || g_ptr_array_index (self->selected, 0) != item)
    cs_window_select (self, &item, 1);
  gtk_stack_set_visible_child_name (self->views, "inside");
  cs_inside_view_set_image (self->inside_view, image, "a test image it got wrong");
  cs_inside_view_show_feature_maps (self->inside_view);
}

void
cs_window_add_actions (CsWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions), self);
  g_signal_connect (self->draw_view, "show-feature-maps", G_CALLBACK (show_maps_cb), self);
  g_signal_connect (self->compare_view, "show-image", G_CALLBACK (compare_show_image_cb), self);
}
