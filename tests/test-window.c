/* UI tests (under Xvfb): the window with its runs, live curves, compare, open and save, errors, closing. */

#include "config.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "cs-confusion.h"
#include "cs-curves-view.h"
#include "cs-digit-grid.h"
#include "cs-draw-view.h"
#include "cs-gl-probe.h"
#include "cs-inside-view.h"
#include "cs-loaded-model.h"
#include "cs-new-run-dialog.h"
#include "cs-plot.h"
#include "cs-summary-view.h"
#include "cs-test-ui.h"
#include "formats/cs-checkpoint.h"
#include "nn/cs-presets.h"
#include "render/cs-render.h"

/* The first widget of @type in @root's tree. */
static GtkWidget *
find_widget (GtkWidget *root,
             GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_widget (c, type);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A short LeNet-5 run makes the plot receive points; the window lists it and stays responsive. */
static void
test_live_run (void)
{
  CsWindow *window = open_window ();
  CsCurvesView *curves = cs_window_get_curves_view (window);
  CsPlot *loss = cs_curves_view_get_loss_plot (curves);
  CsRun *run;
  guint before = cs_window_get_n_sidebar_items (window);

  run = start (window, "lenet5", 1, 0);
  cs_window_select (window, (GObject **) &run, 1);
  g_assert_cmpuint (cs_window_get_n_sidebar_items (window), ==, before + 1);
  /* 200 batches of LeNet-5 arrive in the loss plot, live. */
  WAIT_FOR (cs_plot_get_n_series (loss) == 1 && cs_plot_get_n_points (loss, 0) >= 200);
  g_assert_true (g_str_has_prefix (cs_window_get_status_text (window), "LeNet-5 · epoch 1/1"));
  cs_run_stop (run);
  WAIT_FOR (cs_run_get_state (run) == CS_RUN_STOPPED);
  cs_run_join (run);
  close_window (window);
}

/* The window opens with the runs kept on disk, the newest selected. */
static void
test_opens_with_runs (void)
{
  CsWindow *window = open_window ();

  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Convscope");
  g_assert_cmpuint (cs_window_get_n_sidebar_items (window), >=, 1);
  g_assert_true (strstr (cs_window_get_status_text (window), "LeNet-5 · stopped") != NULL);
  /* The summary of the selected run: torchinfo's table for LeNet-5. */
  g_assert_cmpuint (cs_summary_view_get_n_rows (cs_window_get_summary_view (window)), ==, 13);
  g_assert_nonnull (strstr (cs_summary_view_get_totals (cs_window_get_summary_view (window)), "Total params: 61,706"));
  close_window (window);
}

/* MLP and CNN side by side: both curves, then both in the compare view. */
static void
test_compare_two_runs (void)
{
  CsWindow *window = open_window ();
  CsCompareView *compare = cs_window_get_compare_view (window);
  CsPlot *acc = cs_curves_view_get_accuracy_plot (cs_window_get_curves_view (window));
  CsRun *runs[2];

  runs[0] = start (window, "mlp", 1, 0);
  runs[1] = start (window, "lenet5", 1, 0);
  cs_window_select (window, (GObject **) runs, 2);
  g_assert_cmpuint (cs_plot_get_n_series (acc), ==, 2);
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (runs[0])) && !cs_run_state_is_live (cs_run_get_state (runs[1])));
  cs_run_join (runs[0]);
  cs_run_join (runs[1]);
  drain ();
  g_assert_cmpuint (cs_plot_get_n_points (acc, 0), ==, 1);
  g_assert_cmpuint (cs_plot_get_n_points (acc, 1), ==, 1);

  gtk_stack_set_visible_child_name (cs_window_get_views (window), "compare");
  g_assert_cmpuint (cs_compare_view_get_n_columns (compare), ==, 2);
  WAIT_FOR (cs_compare_view_get_n_evaluated (compare) == 2);

  /* History of both as CSV: a header and one row per run and epoch. */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *csv_path = g_build_filename (runs_dir, "export.csv", NULL);
    g_autofree char *csv = NULL;
    g_auto(GStrv) lines = NULL;

    g_assert_true (cs_window_export_csv (window, csv_path, &error));
    g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
    lines = g_strsplit (csv, "\n", -1);
    g_assert_cmpuint (g_strv_length (lines), ==, 4);
  }

  /* A confusion cell picks its mistakes; a mistake opens in Inside with its model. */
  {
    CsConfusion *confusion = CS_CONFUSION (find_widget (GTK_WIDGET (compare), CS_TYPE_CONFUSION));
    CsDigitGrid *grid = CS_DIGIT_GRID (find_widget (GTK_WIDGET (compare), CS_TYPE_DIGIT_GRID));
    guint all, t = 0, p = 0, pick_t = 0, pick_p = 0;
    float confidence = 0;

    g_assert_nonnull (confusion);
    g_assert_nonnull (grid);
    all = cs_digit_grid_get_n_shown (grid);
    g_assert_cmpuint (all, >, 0);
    cs_digit_grid_get_image (grid, cs_digit_grid_get_shown (grid, 0), &pick_t, &pick_p, &confidence);
    g_assert_cmpfloat (confidence, >, 0.0f);
    g_assert_cmpfloat (confidence, <=, 1.0f);
    g_signal_emit_by_name (confusion, "cell-activated", (int) pick_t, (int) pick_p);
    g_assert_cmpuint (cs_digit_grid_get_n_shown (grid), >, 0);
    for (guint k = 0; k < cs_digit_grid_get_n_shown (grid); k++)
      {
        cs_digit_grid_get_image (grid, cs_digit_grid_get_shown (grid, k), &t, &p, NULL);
        g_assert_cmpuint (t, ==, pick_t);
        g_assert_cmpuint (p, ==, pick_p);
      }
    g_signal_emit_by_name (confusion, "cell-activated", (int) pick_t, (int) pick_p);   /* again: all */
    g_assert_cmpuint (cs_digit_grid_get_n_shown (grid), ==, all);

    g_signal_emit_by_name (grid, "image-activated", cs_digit_grid_get_shown (grid, 0));
    drain ();
    g_assert_cmpstr (gtk_stack_get_visible_child_name (cs_window_get_views (window)), ==, "inside");
    g_assert_cmpstr (cs_inside_view_get_page (cs_window_get_inside_view (window)), ==, "maps");
  }
  close_window (window);
}

/* A PyTorch .pth opened in the window, evaluated, and saved as safetensors. */
static void
test_open_and_save (void)
{
  CsWindow *window = open_window ();
  g_autoptr(GError) error = NULL;
  g_autofree char *pth = g_test_build_filename (G_TEST_DIST, "data", "lenet5-trained.pth", NULL);
  g_autofree char *out = g_build_filename (runs_dir, "saved.safetensors", NULL);
  g_autoptr(CsCheckpoint) back = NULL;
  guint before = cs_window_get_n_sidebar_items (window);

  g_assert_true (cs_window_open_checkpoint (window, pth, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cs_window_get_n_sidebar_items (window), ==, before + 1);
  g_assert_nonnull (strstr (cs_window_get_status_text (window), "lenet5-trained.pth · lenet5"));
  /* Its summary measures what Convscope would allocate to train it (with its
   * preset's settings), not 0.00 MB. */
  {
    const char *mem = cs_summary_view_get_memory (cs_window_get_summary_view (window));
    g_assert_nonnull (strstr (mem, "Convscope allocates to train at batch 100"));
    g_assert_null (strstr (mem, "parameters 0.00 MB"));
    g_assert_null (strstr (mem, "total 0.00 MB"));
  }
  g_action_group_activate_action (G_ACTION_GROUP (window), "evaluate", NULL);
  WAIT_FOR (strstr (cs_window_get_status_text (window), "test accuracy") != NULL);
  g_assert_nonnull (strstr (cs_window_get_status_text (window), "test accuracy 96.33%"));

  g_assert_true (cs_window_save_selected (window, out, &error));
  back = cs_checkpoint_load (out, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (back->metadata, "model"), ==, "lenet5");

  /* A file that is no checkpoint: the error comes back to be shown in the window. */
  g_assert_false (cs_window_open_checkpoint (window, "/dev/null", &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* A model with one output opens, and says why it cannot be evaluated on
   * MNIST's ten classes (the evaluation once read past its logits). */
  {
    g_autofree char *one = g_build_filename (runs_dir, "one-output.safetensors", NULL);
    g_autoptr(CsSpec) spec = cs_spec_parse ("input 784\nfc = nn.Linear(784, 1)\n", NULL);
    g_autoptr(CsModel) model = cs_model_new (spec);
    g_autoptr(GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);

    g_hash_table_insert (meta, (char *) "spec", spec->text);
    g_assert_true (cs_checkpoint_save (one, model, NULL, meta, &error));
    g_assert_true (cs_window_open_checkpoint (window, one, &error));
    g_assert_no_error (error);
    g_action_group_activate_action (G_ACTION_GROUP (window), "evaluate", NULL);
    WAIT_FOR (strstr (cs_window_get_status_text (window), "cannot be evaluated") != NULL);
    g_assert_nonnull (strstr (cs_window_get_status_text (window),
                              "cannot be evaluated: the model has 1 output but MNIST has 10 classes"));
    /* The line is ellipsized; the whole reason, with its advice, is in its tooltip. */
    {
      GtkWidget *label = find_label (GTK_WIDGET (window), cs_window_get_status_text (window));
      g_assert_nonnull (label);
      g_assert_cmpstr (gtk_widget_get_tooltip_text (label), ==, cs_window_get_status_text (window));
      g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (label), "its last layer should have 10 outputs"));
    }
  }
  close_window (window);
}

/* A run that diverges tells the person, in the window. */
static void
test_errors_reach_window (void)
{
  CsWindow *window = open_window ();
  CsRun *run;
  g_autoptr(GError) error = NULL;
  g_auto(CsRunSettings) settings = { 0 };

  g_assert_true (cs_run_settings_init_preset (&settings, "mlp", NULL));
  g_free (settings.name);
  settings.name = g_strdup ("diverges");
  settings.hp.optim.lr = 1000;
  run = cs_window_start_run (window, &settings, &error);
  g_assert_no_error (error);
  WAIT_FOR (cs_run_get_state (run) == CS_RUN_FAILED);
  cs_run_join (run);
  drain ();
  g_assert_nonnull (cs_window_get_message (window));
  g_assert_nonnull (strstr (cs_window_get_message (window), "diverges failed: loss"));
  g_assert_nonnull (strstr (cs_window_get_message (window), "likely too high"));

  /* A data directory that holds nothing is an error, not a crash. */
  settings.data_dir = g_strdup (runs_dir);
  g_assert_null (cs_window_start_run (window, &settings, &error));
  g_assert_nonnull (strstr (error->message, "holds no IDX data set"));
  close_window (window);
}

/* Closing the window while a run trains: the trainer stops cleanly, nothing is lost or left running. */
static void
test_close_while_training (void)
{
  CsWindow *window = open_window ();
  g_autoptr(CsRunStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  CsRun *run = start (window, "cnn", 5, 0);

  id = g_strdup (cs_run_get_id (run));
  WAIT_FOR (cs_run_get_current_batch (run) > 10);
  close_window (window);
  g_assert_cmpuint (cs_run_n_active_threads (), ==, 0);

  store = cs_run_store_new (runs_dir);
  g_assert_true (cs_run_store_load (store, NULL, &error));
  {
    CsRun *again = cs_run_store_find (store, id, &error);
    g_autofree char *ckpt = NULL;
    g_assert_no_error (error);
    g_assert_cmpint (cs_run_get_state (again), ==, CS_RUN_STOPPED);
    ckpt = cs_run_get_checkpoint_path (again);
    g_assert_true (g_file_test (ckpt, G_FILE_TEST_EXISTS));
  }
}

/* Presses Space as the window's capture-phase shortcut sees it, whatever has the focus. */
static void
press_space (CsWindow *window)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (window));
  GtkShortcutController *keys = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (controllers) && keys == NULL; i++)
    {
      g_autoptr(GtkEventController) c = g_list_model_get_item (controllers, i);
      if (g_strcmp0 (gtk_event_controller_get_name (c), "cs-window-space") == 0)
        keys = GTK_SHORTCUT_CONTROLLER (c);
    }
  g_assert_nonnull (keys);
  g_assert_cmpint (gtk_event_controller_get_propagation_phase (GTK_EVENT_CONTROLLER (keys)), ==, GTK_PHASE_CAPTURE);
  {
    g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (keys), 0);
    g_autofree char *trigger = gtk_shortcut_trigger_to_string (gtk_shortcut_get_trigger (shortcut));

    g_assert_cmpstr (trigger, ==, "space");
    g_assert_true (gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), GTK_SHORTCUT_ACTION_EXCLUSIVE,
                                                 GTK_WIDGET (window), NULL));
  }
}

/* Space pauses and resumes every selected live run, with the sidebar focused;
 * the selection stays as it was. */
static void
test_space_pauses_all (void)
{
  CsWindow *window = open_window ();
  GObject *runs[2];
  GtkWidget *list = find_widget (GTK_WIDGET (window), GTK_TYPE_LIST_VIEW);

  runs[0] = G_OBJECT (start (window, "lenet5", 3, 0));
  runs[1] = G_OBJECT (start (window, "mlp", 3, 0));
  cs_window_select (window, runs, 2);
  WAIT_FOR (cs_run_get_state (CS_RUN (runs[0])) == CS_RUN_RUNNING && cs_run_get_state (CS_RUN (runs[1])) == CS_RUN_RUNNING);
  g_assert_nonnull (list);
  gtk_widget_grab_focus (list);

  press_space (window);
  WAIT_FOR (cs_run_get_state (CS_RUN (runs[0])) == CS_RUN_PAUSED && cs_run_get_state (CS_RUN (runs[1])) == CS_RUN_PAUSED);
  g_assert_true (g_str_has_prefix (cs_window_get_status_text (window), "LeNet-5 · paused at epoch 1/3"));
  press_space (window);
  WAIT_FOR (cs_run_get_state (CS_RUN (runs[0])) == CS_RUN_RUNNING && cs_run_get_state (CS_RUN (runs[1])) == CS_RUN_RUNNING);
  g_assert_cmpstr (cs_window_get_status_text (window), !=, "2 selected");

  /* Stop stops both. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "stop", NULL);
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (CS_RUN (runs[0]))) &&
            !cs_run_state_is_live (cs_run_get_state (CS_RUN (runs[1]))));
  cs_run_join (CS_RUN (runs[0]));
  cs_run_join (CS_RUN (runs[1]));
  g_assert_cmpint (cs_run_get_state (CS_RUN (runs[0])), ==, CS_RUN_STOPPED);
  g_assert_cmpint (cs_run_get_state (CS_RUN (runs[1])), ==, CS_RUN_STOPPED);
  close_window (window);
}


/* "See Its Feature Maps" opens Inside on its feature maps page with the model
 * that read the digit, the bundled LeNet-5 added to the sidebar once, not
 * again each time. */
static void
test_see_feature_maps (void)
{
  CsWindow *window = open_window ();
  CsDrawView *draw = cs_window_get_draw_view (window);
  guint before = cs_window_get_n_sidebar_items (window);
  float digit[784] = { 0 };

  for (int y = 6; y < 22; y++)
    digit[y * 28 + 14] = 1.0f;
  cs_window_select (window, NULL, 0);
  g_action_group_activate_action (G_ACTION_GROUP (window), "draw", NULL);
  drain ();
  for (int i = 0; i < 2; i++)
    {
      g_signal_emit_by_name (draw, "show-feature-maps", digit);
      drain ();
      g_assert_cmpuint (cs_window_get_n_sidebar_items (window), ==, before + 1);
      g_assert_cmpstr (gtk_stack_get_visible_child_name (cs_window_get_views (window)), ==, "inside");
      g_assert_cmpstr (cs_inside_view_get_page (cs_window_get_inside_view (window)), ==, "maps");
      g_assert_true (g_str_has_prefix (cs_window_get_status_text (window), "Bundled LeNet-5"));
      g_action_group_activate_action (G_ACTION_GROUP (window), "draw", NULL);
      drain ();
    }
  close_window (window);
}

/* The widget named @name in @root's tree. */
static GtkWidget *
find_named (GtkWidget  *root,
            const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_named (c, name);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* One of the window's dialogs, by its widget name, once it is up. */
static GtkDialog *
find_named_dialog (const char *name)
{
  GListModel *tops = gtk_window_get_toplevels ();   /* GTK's own list */

  for (guint i = 0; i < g_list_model_get_n_items (tops); i++)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (tops, i);
      if (GTK_IS_DIALOG (w) && g_strcmp0 (gtk_widget_get_name (w), name) == 0)
        return GTK_DIALOG (w);
    }
  return NULL;
}

static GtkDialog *
find_delete_dialog (void)
{
  return find_named_dialog ("cs-delete-dialog");
}

/* Delete Run asks first; Cancel keeps everything; Delete removes the folder,
 * the row and the run from every view. */
static void
test_delete_asks (void)
{
  CsWindow *window = open_window ();
  CsRun *run = start (window, "mlp", 1, 0);
  g_autofree char *dir = NULL;
  guint before;

  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (run)));
  cs_run_join (run);
  drain ();
  dir = g_strdup (cs_run_get_dir (run));
  before = cs_window_get_n_sidebar_items (window);
  cs_window_select (window, (GObject **) &run, 1);

  g_action_group_activate_action (G_ACTION_GROUP (window), "delete-run", NULL);
  drain ();
  g_assert_nonnull (find_delete_dialog ());
  gtk_dialog_response (find_delete_dialog (), GTK_RESPONSE_CANCEL);
  drain ();
  g_assert_null (find_delete_dialog ());
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (cs_window_get_n_sidebar_items (window), ==, before);

  g_action_group_activate_action (G_ACTION_GROUP (window), "delete-run", NULL);
  drain ();
  gtk_dialog_response (find_delete_dialog (), GTK_RESPONSE_ACCEPT);
  drain ();
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (cs_window_get_n_sidebar_items (window), ==, before - 1);
  /* Nothing of it stays on screen. */
  g_assert_cmpuint (cs_plot_get_n_series (cs_curves_view_get_accuracy_plot (cs_window_get_curves_view (window))), ==, 0);
  g_assert_null (strstr (cs_window_get_status_text (window), "MLP"));
  close_window (window);
}

static void
line_read_cb (GObject      *stream,
              GAsyncResult *res,
              gpointer      data)
{
  char **line = data;
  g_autoptr(GError) error = NULL;

  *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (stream), res, NULL, &error);
  if (*line == NULL)
    *line = g_strdup (error ? error->message : "(end of output)");
}

/* `convscope FILE` opens FILE in the window (GApplication's open): here a
 * checkpoint that is not there, whose error the window reports. */
static void
test_open_from_command_line (void)
{
  const char *bin = g_getenv ("CONVSCOPE_BIN");
  g_autofree char *missing = g_build_filename (runs_dir, "not-there.pth", NULL);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  g_assert_nonnull (bin);
  /* (This process's windows have no GtkApplication, so nothing else owns
   * the application's D-Bus name: the spawned program opens the file itself.) */
  g_subprocess_launcher_setenv (launcher, "CONVSCOPE_RUNS_DIR", runs_dir, TRUE);
  proc = g_subprocess_launcher_spawn (launcher, &error, bin, missing, NULL);
  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (proc));
  /* Skip GTK's and D-Bus's chatter to the first line that is ours. */
  while (TRUE)
    {
      g_clear_pointer (&line, g_free);
      g_data_input_stream_read_line_async (err, G_PRIORITY_DEFAULT, NULL, line_read_cb, &line);
      WAIT_FOR (line != NULL);
      if (g_str_has_prefix (line, "convscope: ") || g_str_has_prefix (line, "(end of output)"))
        break;
    }
  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait (proc, NULL, NULL);
  g_assert_true (g_str_has_prefix (line, "convscope: "));
  g_assert_nonnull (strstr (line, missing));
  g_assert_null (strstr (line, "unknown verb"));
}

/* The window fits half a 1920-pixel screen and a 1366x768 laptop: its
 * smallest size, with every view, is at most 900x600. */
static void
test_min_size (void)
{
  CsWindow *window = open_window ();
  static const char * const views[] = { "curves", "compare", "inside", "draw", "summary" };

  gtk_stack_set_visible_child_name (cs_window_get_views (window), "curves");
  for (guint i = 0; i < G_N_ELEMENTS (views); i++)
    {
      int min_w, min_h;

      gtk_stack_set_visible_child_name (cs_window_get_views (window), views[i]);
      drain ();
      gtk_widget_measure (GTK_WIDGET (window), GTK_ORIENTATION_HORIZONTAL, -1, &min_w, NULL, NULL, NULL);
      gtk_widget_measure (GTK_WIDGET (window), GTK_ORIENTATION_VERTICAL, min_w, &min_h, NULL, NULL, NULL);
      g_test_message ("%s: at least %d x %d", views[i], min_w, min_h);
      if (min_w > 900 || min_h > 600)
        g_error ("with %s shown the window cannot be smaller than %d x %d", views[i], min_w, min_h);
    }
  close_window (window);
}

/* On a 2560x1440 screen the accuracy and loss plots share the height. */
static void
test_large_screen (void)
{
  CsWindow *window = cs_window_new (NULL);
  CsCurvesView *curves;
  int ha, hl;

  gtk_window_set_default_size (GTK_WINDOW (window), 2560, 1400);
  gtk_window_present (GTK_WINDOW (window));
  drain ();
  /* The views on screen even with no run (as the Draw action shows them), then Curves. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "draw", NULL);
  gtk_stack_set_visible_child_name (cs_window_get_views (window), "curves");
  curves = cs_window_get_curves_view (window);
  {
    gint64 until = g_get_monotonic_time () + 500 * 1000;
    WAIT_FOR (g_get_monotonic_time () > until);
  }
  ha = gtk_widget_get_height (GTK_WIDGET (cs_curves_view_get_accuracy_plot (curves)));
  hl = gtk_widget_get_height (GTK_WIDGET (cs_curves_view_get_loss_plot (curves)));
  g_test_message ("accuracy plot %d px high, loss plot %d px", ha, hl);
  g_assert_cmpint (ha, >, 400);
  g_assert_cmpint (ABS (ha - hl), <, 20);
  close_window (window);
}

/* A run keeps its colour whatever is selected with it, and a rename reaches
 * the legends and the sidebar row's tooltip tells its settings. */
static void
test_colours_and_names (void)
{
  CsWindow *window = open_window ();
  CsPlot *acc = cs_curves_view_get_accuracy_plot (cs_window_get_curves_view (window));
  GObject *runs[2];
  GdkRGBA alone, together, other;

  runs[0] = G_OBJECT (start (window, "mlp", 1, 0));
  runs[1] = G_OBJECT (start (window, "mlp", 1, 0.05));
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (CS_RUN (runs[0]))) &&
            !cs_run_state_is_live (cs_run_get_state (CS_RUN (runs[1]))));
  cs_run_join (CS_RUN (runs[0]));
  cs_run_join (CS_RUN (runs[1]));
  drain ();

  cs_window_select (window, &runs[1], 1);
  g_assert_cmpuint (cs_plot_get_n_series (acc), ==, 1);
  cs_plot_get_series_color (acc, 0, &alone);
  cs_window_select (window, runs, 2);
  g_assert_cmpuint (cs_plot_get_n_series (acc), ==, 2);
  cs_plot_get_series_color (acc, 1, &together);
  cs_plot_get_series_color (acc, 0, &other);
  g_assert_true (gdk_rgba_equal (&alone, &together));
  g_assert_false (gdk_rgba_equal (&alone, &other));

  /* The loss plot marks where the epoch ended; train accuracy joins the test curves on demand. */
  {
    CsCurvesView *curves = cs_window_get_curves_view (window);
    GtkCheckButton *train = GTK_CHECK_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (curves), CS_TYPE_CURVES_VIEW,
                                                                             "train_accuracy"));

    g_assert_cmpuint (cs_plot_get_n_marks (cs_curves_view_get_loss_plot (curves)), ==, 1);
    CsPlot *loss = cs_curves_view_get_loss_plot (curves);
    GtkCheckButton *time_axis = GTK_CHECK_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (curves),
                                                                                 CS_TYPE_CURVES_VIEW, "time_axis"));

    gtk_check_button_set_active (train, TRUE);
    g_assert_cmpuint (cs_plot_get_n_series (acc), ==, 4);
    g_assert_true (g_str_has_suffix (cs_plot_get_series_name (acc, 2), " · train"));
    g_assert_cmpuint (cs_plot_get_n_points (acc, 2), ==, 1);
    /* ... and each run's test loss at its epoch's end, among the batch losses. */
    g_assert_cmpuint (cs_plot_get_n_series (loss), ==, 4);
    g_assert_true (g_str_has_suffix (cs_plot_get_series_name (loss, 3), " · test"));
    g_assert_cmpuint (cs_plot_get_n_points (loss, 3), ==, 1);
    /* Against training time the epoch still ends once, every point still there. */
    gtk_check_button_set_active (time_axis, TRUE);
    g_assert_cmpuint (cs_plot_get_n_marks (loss), ==, 1);
    g_assert_cmpuint (cs_plot_get_n_points (loss, 0), >=, 590);
    gtk_check_button_set_active (time_axis, FALSE);
    gtk_check_button_set_active (train, FALSE);
    g_assert_cmpuint (cs_plot_get_n_series (acc), ==, 2);
  }

  /* Rename Run: a name typed at its row reaches the legends. */
  cs_window_select (window, &runs[1], 1);
  g_action_group_activate_action (G_ACTION_GROUP (window), "rename-run", NULL);
  drain ();
  {
    GtkWidget *popover = find_named (GTK_WIDGET (window), "cs-rename-popover");
    GtkEditable *entry;

    g_assert_nonnull (popover);
    g_assert_true (gtk_widget_get_visible (popover));
    entry = g_object_get_data (G_OBJECT (popover), "entry");
    gtk_editable_set_text (entry, "   ");
    g_signal_emit_by_name (entry, "activate");   /* Enter */
    drain ();
    g_assert_true (gtk_widget_get_visible (popover));   /* an empty name is refused */
    g_assert_cmpstr (cs_run_get_name (CS_RUN (runs[1])), ==, "MLP");   /* the refused name changed nothing */
    gtk_editable_set_text (entry, "faster lr");
    g_signal_emit_by_name (entry, "activate");
    drain ();
    g_assert_cmpstr (cs_run_get_name (CS_RUN (runs[1])), ==, "faster lr");
    popover = find_named (GTK_WIDGET (window), "cs-rename-popover");
    g_assert_true (popover == NULL || !gtk_widget_get_visible (popover));
  }
  cs_window_select (window, runs, 2);
  drain ();
  g_assert_cmpstr (cs_run_get_name (CS_RUN (runs[1])), ==, "faster lr");
  g_assert_cmpstr (cs_plot_get_series_name (acc, 1), ==, "faster lr");
  close_window (window);
}

/* The next start finds the window as it was left: its size and its open checkpoints. */
static void
test_remembers (void)
{
  g_autofree char *pth = g_test_build_filename (G_TEST_DIST, "data", "lenet5-trained.pth", NULL);
  CsWindow *window = cs_window_new (NULL);
  g_autoptr(GError) error = NULL;
  int w, h;
  gboolean found = FALSE;

  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  gtk_window_present (GTK_WINDOW (window));
  drain ();
  g_assert_true (cs_window_open_checkpoint (window, pth, &error));
  close_window (window);

  window = open_window ();
  gtk_window_get_default_size (GTK_WINDOW (window), &w, &h);
  g_assert_cmpint (w, ==, 1000);
  g_assert_cmpint (h, ==, 700);
  for (guint i = 0; i < cs_window_get_n_sidebar_items (window) && !found; i++)
    {
      g_autoptr(GObject) item = cs_window_get_sidebar_item (window, i);
      found = CS_IS_LOADED_MODEL (item) && g_strcmp0 (cs_loaded_model_get_path (CS_LOADED_MODEL (item)), pth) == 0;
    }
  g_assert_true (found);
  close_window (window);
}

#include <time.h>

static double
thread_cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The UI thread's share of a core with the Curves open on three finished
 * 3,000-batch runs and one that trains: under 10 %. */
static void
test_curves_cpu (void)
{
  g_autoptr(CsRunStore) store = cs_run_store_new (runs_dir);
  g_autoptr(CsDataset) mnist = cs_test_open_mnist ();
  g_autoptr(CsDataset) small = cs_dataset_new_subset (mnist, 3000, 500);
  g_autoptr(GPtrArray) items = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  CsWindow *window;
  CsRun *live;
  double cpu0, cpu1;
  gint64 t0, t1, frames0;

  /* Three finished runs of 3,000 batches each: a linear model, batch 10, 10 epochs of 300. */
  for (int i = 0; i < 3; i++)
    {
      g_auto(CsRunSettings) settings = { 0 };
      g_autofree char *name = g_strdup_printf ("long %d", i);
      CsRun *run;

      settings.spec = cs_spec_parse ("input 1x28x28\nx.view(-1, 784)\nfc = nn.Linear(784, 10)\n", &error);
      g_assert_no_error (error);
      settings.name = g_strdup (name);
      settings.model = g_strdup ("custom");
      cs_hyper_params_for_preset (&settings.hp, NULL);
      settings.hp.batch_size = 10;
      settings.hp.epochs = 10;
      settings.hp.seed = i + 1;
      settings.hp.threads = 1;
      settings.dataset = g_strdup (small->name);
      settings.data_dir = g_strdup (small->dir);
      run = cs_run_store_create (store, &settings, &error);
      g_assert_no_error (error);
      g_assert_true (cs_run_start (run, small, &error));
      WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (run)));
      cs_run_join (run);
      g_assert_cmpint (cs_run_get_state (run), ==, CS_RUN_FINISHED);
    }

  window = open_window ();
  live = start (window, "lenet5", 3, 0);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (cs_window_get_run_store (window))); i++)
    {
      g_autoptr(CsRun) run = g_list_model_get_item (G_LIST_MODEL (cs_window_get_run_store (window)), i);
      if (g_str_has_prefix (cs_run_get_name (run), "long ") || run == live)
        g_ptr_array_add (items, run);
    }
  g_assert_cmpuint (items->len, ==, 4);
  cs_window_select (window, (GObject **) items->pdata, items->len);
  gtk_stack_set_visible_child_name (cs_window_get_views (window), "curves");
  WAIT_FOR (cs_run_get_current_batch (live) > 10);
  {
    guint n = 0;
    const CsLossPoint *pts = cs_run_get_loss_points (g_ptr_array_index (items, 0), &n);
    g_assert_cmpuint (n, >=, 2900);
    (void) pts;
  }

  /* Three seconds of training with the Curves on screen. */
  frames0 = gdk_frame_clock_get_frame_counter (gtk_widget_get_frame_clock (GTK_WIDGET (window)));
  cpu0 = thread_cpu_seconds ();
  t0 = g_get_monotonic_time ();
  {
    gint64 until = t0 + 3 * G_USEC_PER_SEC;
    WAIT_FOR (g_get_monotonic_time () > until);
  }
  cpu1 = thread_cpu_seconds ();
  t1 = g_get_monotonic_time ();
  g_test_message ("%" G_GINT64_FORMAT " frames in %.1f s",
                  gdk_frame_clock_get_frame_counter (gtk_widget_get_frame_clock (GTK_WIDGET (window))) - frames0,
                  (t1 - t0) / 1e6);
  g_test_message ("UI thread with the Curves open (3 finished 3,000-batch runs, 1 training): %.1f %% of a core",
                  100 * (cpu1 - cpu0) / ((t1 - t0) / 1e6));
  g_assert_cmpfloat (100 * (cpu1 - cpu0) / ((t1 - t0) / 1e6), <, 10.0);
  cs_run_stop (live);
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (live)));
  cs_run_join (live);
  close_window (window);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  cs_test_ui_init (&argc, &argv);
  g_test_add_func ("/ui/window/live-run-feeds-plot", test_live_run);
  g_test_add_func ("/ui/window/opens-with-runs", test_opens_with_runs);
  g_test_add_func ("/ui/window/compare-two-runs", test_compare_two_runs);
  g_test_add_func ("/ui/window/open-and-save-checkpoint", test_open_and_save);
  g_test_add_func ("/ui/window/errors-reach-window", test_errors_reach_window);
  g_test_add_func ("/ui/window/close-while-training", test_close_while_training);
  g_test_add_func ("/ui/window/space-pauses-every-selected-run", test_space_pauses_all);
  g_test_add_func ("/ui/window/see-feature-maps", test_see_feature_maps);
  g_test_add_func ("/ui/window/delete-asks-first", test_delete_asks);
  g_test_add_func ("/ui/window/open-from-command-line", test_open_from_command_line);
  g_test_add_func ("/ui/window/small-screens", test_min_size);
  g_test_add_func ("/ui/window/large-screens", test_large_screen);
  g_test_add_func ("/ui/window/colours-and-names", test_colours_and_names);
  g_test_add_func ("/ui/curves/ui-thread-cpu", test_curves_cpu);
  g_test_add_func ("/ui/window/remembers-size-and-checkpoints", test_remembers);

  ret = g_test_run ();
  return cs_test_ui_finish (ret);
}
