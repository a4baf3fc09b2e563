/* The main window: the runs sidebar, the views of the selected runs and the
 * line above them. Its actions are in cs-window-actions.c, files dropped on
 * it in cs-window-dnd.c; what they share is in cs-window-private.h. */

#define G_LOG_DOMAIN "cs-window"

#include "config.h"

#include <string.h>

#include "cs-run-row.h"
#include "cs-state.h"
#include "cs-style.h"
#include "cs-window-private.h"

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

CsDataset *
cs_window_get_dataset (CsWindow    *self,
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
  CsDataset *ds = cs_window_get_dataset (self, "mnist", NULL, &error);

  if (ds == NULL)
    {
      cs_window_show_message (self, error->message, TRUE);
      return NULL;
    }
  cs_dataset_unref (ds);   /* the window keeps its own reference */
  return self->mnist;
}

/* ---- the selected runs --------------------------------------------------- */

CsRun *
cs_window_get_live_run (CsWindow *self)
{
  for (guint i = 0; i < self->selected->len; i++)
    {
      GObject *item = g_ptr_array_index (self->selected, i);
      if (CS_IS_RUN (item) && cs_run_state_is_live (cs_run_get_state (CS_RUN (item))))
        return CS_RUN (item);
    }
  return NULL;
}

void
cs_window_update_status (CsWindow *self)
{
  CsRun *live = cs_window_get_live_run (self);
  GAction *pause = g_action_map_lookup_action (G_ACTION_MAP (self), "pause-resume");
  GAction *stop = g_action_map_lookup_action (G_ACTION_MAP (self), "stop");

  g_simple_action_set_enabled (G_SIMPLE_ACTION (pause), live != NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (stop), live != NULL);
  if (live != NULL)
    {
      const char *icon = cs_run_get_state (live) == CS_RUN_PAUSED ? "media-playback-start-symbolic"
                                                                   : "media-playback-pause-symbolic";
      if (g_strcmp0 (gtk_button_get_icon_name (self->pause_button), icon) != 0)
        gtk_button_set_icon_name (self->pause_button, icon);
    }
  cs_status_bar_update (self->status_bar, self->selected, live ? G_OBJECT (live) : NULL);
}

/* Progress comes 30 times a second per run; the status line says it on the
 * views' shared tick (cs_ui_tick_add()). */
static gboolean
status_timeout_cb (gpointer data)
{
  CsWindow *self = data;

  self->status_source = 0;
  cs_window_update_status (self);
  return G_SOURCE_REMOVE;
}

static void
run_progress_cb (CsRun    *run,
                 CsWindow *self)
{
  if (self->status_source == 0)
    self->status_source = cs_ui_tick_add (status_timeout_cb, self);
}

static void
run_epoch_cb (CsRun    *run,
              guint     epoch,
              CsWindow *self)
{
  cs_window_update_status (self);
}

/* A run that ends while the person looks elsewhere is announced. */
static void
notify_ended (CsWindow *self,
              CsRun    *run)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  g_autoptr(GNotification) note = NULL;
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  g_autofree char *id = NULL;
  guint ne = cs_run_get_n_epochs (run);

  if (app == NULL || gtk_window_is_active (GTK_WINDOW (self)))
    return;
  title = g_strdup_printf ("%s %s", cs_run_get_name (run),
                           cs_run_get_state (run) == CS_RUN_FAILED ? "failed" : "finished");
  if (cs_run_get_state (run) == CS_RUN_FAILED && cs_run_get_message (run) != NULL)
    body = g_strdup (cs_run_get_message (run));
  else if (ne > 0)
    body = g_strdup_printf ("%.2f%% test accuracy after %u epoch%s", cs_run_get_epoch (run, ne - 1)->test_acc, ne,
                            ne == 1 ? "" : "s");
  note = g_notification_new (title);
  if (body != NULL)
    g_notification_set_body (note, body);
  id = g_strdup_printf ("run-%s", cs_run_get_id (run));
  g_application_send_notification (G_APPLICATION (app), id, note);
}

static void
run_failed_check_cb (CsRun      *run,
                     GParamSpec *pspec,
                     CsWindow   *self)
{
  if (g_str_equal (pspec->name, "state") &&
      (cs_run_get_state (run) == CS_RUN_FINISHED || cs_run_get_state (run) == CS_RUN_FAILED))
    notify_ended (self, run);
  cs_window_update_status (self);
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

/* A renamed run: its legends and the status line say the new name. */
static void
run_renamed_cb (CsWindow *self)
{
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    cs_window_refresh_views (self);
}

void
cs_window_watch_run (CsWindow *self,
                     CsRun    *run)
{
  if (g_ptr_array_find (self->watched, run, NULL))
    return;
  g_ptr_array_add (self->watched, g_object_ref (run));
  g_signal_connect_object (run, "progress", G_CALLBACK (run_progress_cb), self, 0);
  g_signal_connect_object (run, "epoch-done", G_CALLBACK (run_epoch_cb), self, 0);
  g_signal_connect_object (run, "notify::state", G_CALLBACK (run_failed_check_cb), self, 0);
  g_signal_connect_object (run, "notify::message", G_CALLBACK (run_failed_check_cb), self, 0);
  g_signal_connect_object (run, "notify::name", G_CALLBACK (run_renamed_cb), self, G_CONNECT_SWAPPED);
}

void
cs_window_refresh_views (CsWindow *self)
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
  cs_window_update_status (self);
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
  cs_window_refresh_views (self);
}

/* A double-click (or Enter) on a run renames it, in place. */
static void
row_activated_cb (GtkListView *list,
                  guint        position,
                  CsWindow    *self)
{
  g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (self->selection), position);

  if (item != NULL && CS_IS_RUN (item))
    cs_window_rename_run (self, CS_RUN (item));
}

/* Items that leave the sidebar (a run deleted, a checkpoint closed) leave the
 * selection and the views with it. */
static void
selection_items_changed_cb (GListModel *model,
                            guint       position,
                            guint       removed,
                            guint       added,
                            CsWindow   *self)
{
  if (removed > 0)
    selection_changed_cb (GTK_SELECTION_MODEL (model), 0, 0, self);
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

/* Space pauses and resumes the selected live runs, wherever the focus is
 * (a sidebar row included: the list's own Space would deselect it), except
 * where Space types or presses: entries, text, buttons, toggles, sliders. */
static gboolean
space_cb (GtkWidget *widget,
          GVariant  *args,
          gpointer   user_data)
{
  CsWindow *self = CS_WINDOW (widget);
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

  for (GtkWidget *w = focus; w != NULL && w != widget; w = gtk_widget_get_parent (w))
    if (GTK_IS_EDITABLE (w) || GTK_IS_TEXT_VIEW (w) || GTK_IS_BUTTON (w) || GTK_IS_CHECK_BUTTON (w) ||
        GTK_IS_RANGE (w) || GTK_IS_SWITCH (w) || GTK_IS_DROP_DOWN (w))
      return FALSE;
  if (cs_window_get_live_run (self) == NULL)
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
      cs_window_watch_run (self, run);
      /* Its colour for this session, whatever else is selected with it. */
      if (cs_item_color_index (G_OBJECT (run), G_MAXUINT) == G_MAXUINT)
        cs_item_set_color_index (G_OBJECT (run), self->next_color++);
    }
}

static void
loaded_items_changed_cb (GListModel *model,
                         guint       position,
                         guint       removed,
                         guint       added,
                         CsWindow   *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(GObject) item = g_list_model_get_item (model, i);
      if (cs_item_color_index (item, G_MAXUINT) == G_MAXUINT)
        cs_item_set_color_index (item, self->next_color++);
    }
}

/* Its size and the checkpoints it had open, for the next start. */
static void
remember_state (CsWindow *self)
{
  GKeyFile *state = cs_state_get ();
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();
  gboolean maximized = gtk_window_is_maximized (GTK_WINDOW (self));

  if (!maximized)
    {
      int w = 0, h = 0;

      /* (GTK 4 keeps the default size up to date as the window is resized.) */
      gtk_window_get_default_size (GTK_WINDOW (self), &w, &h);
      if (w > 0 && h > 0)
        {
          g_key_file_set_integer (state, "window", "width", w);
          g_key_file_set_integer (state, "window", "height", h);
        }
    }
  g_key_file_set_boolean (state, "window", "maximized", maximized);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->loaded)); i++)
    {
      g_autoptr(CsLoadedModel) m = g_list_model_get_item (G_LIST_MODEL (self->loaded), i);
      if (!cs_loaded_model_is_bundled (m) && cs_loaded_model_get_path (m) != NULL)
        g_ptr_array_add (paths, (gpointer) cs_loaded_model_get_path (m));
    }
  g_key_file_set_string_list (state, "checkpoints", "open", (const char * const *) paths->pdata, paths->len);
  cs_state_save ();
}

static void
restore_state (CsWindow *self)
{
  GKeyFile *state = cs_state_get ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) paths = NULL;
  int w = g_key_file_get_integer (state, "window", "width", &error), h;

  if (error == NULL)
    {
      h = g_key_file_get_integer (state, "window", "height", &error);
      if (error == NULL && w >= 400 && h >= 300 && w <= 16384 && h <= 16384)
        gtk_window_set_default_size (GTK_WINDOW (self), w, h);
    }
  if (g_key_file_get_boolean (state, "window", "maximized", NULL))
    gtk_window_maximize (GTK_WINDOW (self));
  /* The checkpoints that were open; one that is gone is mentioned once. */
  paths = g_key_file_get_string_list (state, "checkpoints", "open", NULL, NULL);
  for (guint i = 0; paths && paths[i] && i < 64; i++)
    {
      g_autoptr(GError) open_error = NULL;
      g_autoptr(CsLoadedModel) model = cs_loaded_model_new (paths[i], &open_error);

      if (model != NULL)
        g_list_store_append (self->loaded, model);
      else
        {
          g_autofree char *msg = g_strdup_printf ("Could not reopen a checkpoint: %s", open_error->message);
          cs_window_show_message (self, msg, TRUE);
        }
    }
}

static gboolean
close_request_cb (GtkWindow *window,
                  CsWindow  *self)
{
  remember_state (self);
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
cs_window_dispose (GObject *object)
{
  CsWindow *self = CS_WINDOW (object);

  g_clear_handle_id (&self->status_source, g_source_remove);
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
  g_type_ensure (CS_TYPE_STATUS_BAR);
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
  gtk_widget_class_bind_template_child (widget_class, CsWindow, status_bar);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, pause_button);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, stop_button);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, curves_view);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, compare_view);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, summary_view);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, inside_view);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, draw_view);
}

static void
cs_window_init (CsWindow *self)
{
  g_autoptr(GListStore) models = g_list_store_new (G_TYPE_LIST_MODEL);
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
  g_autoptr(GPtrArray) warnings = NULL;
  g_autoptr(GError) error = NULL;
  const char *runs_dir = g_getenv ("CONVSCOPE_RUNS_DIR");

  gtk_widget_init_template (GTK_WIDGET (self));
  self->selected = g_ptr_array_new_with_free_func (g_object_unref);
  self->watched = g_ptr_array_new_with_free_func (g_object_unref);
  cs_window_add_actions (self);

  /* The sidebar: the runs directory, then the checkpoints opened this session. */
  self->store = cs_run_store_new (runs_dir && runs_dir[0] ? runs_dir : NULL);
  self->loaded = g_list_store_new (CS_TYPE_LOADED_MODEL);
  g_signal_connect (self->store, "items-changed", G_CALLBACK (store_items_changed_cb), self);
  g_signal_connect (self->loaded, "items-changed", G_CALLBACK (loaded_items_changed_cb), self);
  if (!cs_run_store_load (self->store, &warnings, &error))
    cs_window_show_message (self, error->message, TRUE);
  else if (warnings->len > 0)
    {
      g_autofree char *joined = NULL;
      g_ptr_array_add (warnings, NULL);
      joined = g_strjoinv ("\n", (char **) warnings->pdata);
      cs_window_show_message (self, joined, TRUE);
    }
  restore_state (self);
  g_list_store_append (models, self->store);
  g_list_store_append (models, self->loaded);
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (gtk_flatten_list_model_new (g_object_ref (G_LIST_MODEL (models)))));
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (self->run_list, factory);
  gtk_list_view_set_model (self->run_list, GTK_SELECTION_MODEL (self->selection));
  g_signal_connect (self->selection, "selection-changed", G_CALLBACK (selection_changed_cb), self);
  g_signal_connect (self->run_list, "activate", G_CALLBACK (row_activated_cb), self);
  g_signal_connect_after (self->selection, "items-changed", G_CALLBACK (selection_items_changed_cb), self);
  g_signal_connect (self->views, "notify::visible-child", G_CALLBACK (views_changed_cb), self);
  g_signal_connect (self->banner_close, "clicked", G_CALLBACK (banner_close_cb), self);
  g_signal_connect (self, "close-request", G_CALLBACK (close_request_cb), self);

  cs_window_add_drop_target (self);

  /* Before the focused widget sees it: a focused row would take Space itself. */
  {
    GtkEventController *keys = gtk_shortcut_controller_new ();

    gtk_event_controller_set_name (keys, "cs-window-space");
    gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
    gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys),
                                          gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_space, 0),
                                                            gtk_callback_action_new (space_cb, NULL, NULL)));
    gtk_widget_add_controller (GTK_WIDGET (self), keys);
  }

  /* Start where the person left off: the newest run selected. */
  if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) > 0)
    {
      guint last = g_list_model_get_n_items (G_LIST_MODEL (self->store)) - 1;
      gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), last, TRUE);
    }
  else
    gtk_stack_set_visible_child_name (self->main_stack, "welcome");
  cs_window_update_status (self);
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

GObject *
cs_window_get_sidebar_item (CsWindow *self,
                            guint     i)
{
  g_return_val_if_fail (CS_IS_WINDOW (self), NULL);

  return g_list_model_get_item (G_LIST_MODEL (self->selection), i);
}

guint
cs_window_get_n_sidebar_items (CsWindow *self)
{
  return g_list_model_get_n_items (G_LIST_MODEL (self->selection));
}

const char *
cs_window_get_status_text (CsWindow *self)
{
  return cs_status_bar_get_text (self->status_bar);
}
