/* UI tests (under Xvfb): the window with its runs, live curves, compare, summary, the new-run window, plots on file. */

#include "config.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <math.h>
#include <string.h>

#include "cs-checkpoint.h"
#include "cs-new-run-dialog.h"
#include "cs-plot.h"
#include "cs-presets.h"
#include "cs-window.h"

static char *runs_dir;

static gboolean
timeout_cb (gpointer data)
{
  g_error ("timed out waiting for %s", (const char *) data);
  return G_SOURCE_REMOVE;
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

#define WAIT_FOR(cond)                                                              \
  G_STMT_START {                                                                    \
    guint _t = g_timeout_add_seconds (120, timeout_cb, (gpointer) #cond);           \
    guint _tick = g_timeout_add (10, tick_cb, NULL);                                \
    while (!(cond))                                                                 \
      g_main_context_iteration (NULL, TRUE);                                        \
    g_source_remove (_t);                                                           \
    g_source_remove (_tick);                                                        \
  } G_STMT_END

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
finalized_cb (gpointer  data,
              GObject  *where)
{
  *(gboolean *) data = TRUE;
}

static CsWindow *
open_window (void)
{
  CsWindow *window = cs_window_new (NULL);

  gtk_window_present (GTK_WINDOW (window));
  drain ();
  return window;
}

static void
close_window (CsWindow *window)
{
  gboolean finalized = FALSE;

  g_object_weak_ref (G_OBJECT (window), finalized_cb, &finalized);
  gtk_window_close (GTK_WINDOW (window));
  drain ();
  WAIT_FOR (finalized);
}

static CsRun *
start (CsWindow   *window,
       const char *model,
       int         epochs,
       double      lr)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model (model, NULL);
  CsHyperParams hp;
  CsRun *run;

  cs_hyper_params_for_preset (&hp, model);
  hp.epochs = epochs;
  if (lr > 0)
    hp.optim.lr = lr;
  run = cs_window_start_run (window, cs_preset_lookup (model)->title, model, spec, &hp, "mnist", NULL, &error);
  g_assert_no_error (error);
  return run;
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
  close_window (window);
}

/* A run that diverges tells the person, in the window. */
static void
test_errors_reach_window (void)
{
  CsWindow *window = open_window ();
  CsRun *run;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model ("mlp", NULL);
  CsHyperParams hp;

  cs_hyper_params_for_preset (&hp, "mlp");
  hp.optim.lr = 1000;
  run = cs_window_start_run (window, "diverges", "mlp", spec, &hp, "mnist", NULL, &error);
  g_assert_no_error (error);
  WAIT_FOR (cs_run_get_state (run) == CS_RUN_FAILED);
  cs_run_join (run);
  drain ();
  g_assert_nonnull (cs_window_get_message (window));
  g_assert_nonnull (strstr (cs_window_get_message (window), "diverges failed: loss"));
  g_assert_nonnull (strstr (cs_window_get_message (window), "likely too high"));

  /* A data directory that holds nothing is an error, not a crash. */
  g_assert_null (cs_window_start_run (window, "x", "mlp", spec, &hp, "mnist", runs_dir, &error));
  g_assert_nonnull (strstr (error->message, "holds no IDX data set"));
  close_window (window);
}

/* The spec is checked as you type: shapes beside each line, errors at their line. */
static void
test_new_run_dialog (void)
{
  CsNewRunDialog *dialog = cs_new_run_dialog_new (NULL);
  gboolean finalized = FALSE;
  g_autofree char *shapes = NULL;
  g_autoptr(CsSpec) spec = NULL;

  g_object_weak_ref (G_OBJECT (dialog), finalized_cb, &finalized);
  gtk_window_present (GTK_WINDOW (dialog));
  drain ();
  /* LeNet-5 by default, valid, with each layer's shape. */
  spec = cs_new_run_dialog_get_spec (dialog);
  g_assert_nonnull (spec);
  g_assert_nonnull (strstr (cs_new_run_dialog_get_status (dialog), "61706 parameters"));
  shapes = cs_new_run_dialog_get_shapes (dialog);
  g_assert_nonnull (strstr (shapes, "→ 6×28×28"));
  g_assert_nonnull (strstr (shapes, "→ 16×5×5"));
  g_assert_nonnull (strstr (shapes, "→ 10"));

  cs_new_run_dialog_set_spec_text (dialog, "input 1x28x28\nconv = nn.Conv2d(1, 4, 5)\nfc = nn.Linear(100, 10)\n");
  g_assert_cmpint (cs_new_run_dialog_get_error_line (dialog), ==, 3);
  g_assert_nonnull (strstr (cs_new_run_dialog_get_status (dialog), "line 3, fc:"));
  g_clear_pointer (&spec, cs_spec_free);
  g_assert_null (cs_new_run_dialog_get_spec (dialog));
  g_free (shapes);
  shapes = cs_new_run_dialog_get_shapes (dialog);
  /* The lines before the error still show their shapes. */
  g_assert_nonnull (strstr (shapes, "→ 4×24×24"));

  gtk_window_destroy (GTK_WINDOW (dialog));
  drain ();
  g_assert_true (finalized);
}

/* The plot on file: a PNG with the curve's colour along the curve, and valid SVG and PDF. */
static void
test_plot_export (void)
{
  CsPlot *plot = g_object_ref_sink (cs_plot_new ());
  g_autofree char *png = g_build_filename (runs_dir, "plot.png", NULL);
  g_autofree char *svg = g_build_filename (runs_dir, "plot.svg", NULL);
  g_autofree char *pdf = g_build_filename (runs_dir, "plot.pdf", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *bytes = NULL;
  double x[11], y[11];
  GdkRGBA red = { 1, 0, 0, 1 };
  cairo_surface_t *s;
  const guint8 *data;
  int stride, w, h, on_curve = 0, red_pixels = 0;
  gboolean finalized = FALSE;

  for (int i = 0; i <= 10; i++)
    x[i] = y[i] = i;
  cs_plot_set_title (plot, "Test");
  cs_plot_add_series (plot, "diagonal", &red);
  cs_plot_set_points (plot, 0, x, y, 11);
  g_assert_true (cs_plot_export (plot, png, 400, 300, &error));
  g_assert_no_error (error);

  s = cairo_image_surface_create_from_png (png);
  g_assert_cmpint (cairo_surface_status (s), ==, CAIRO_STATUS_SUCCESS);
  w = cairo_image_surface_get_width (s);
  h = cairo_image_surface_get_height (s);
  stride = cairo_image_surface_get_stride (s);
  data = cairo_image_surface_get_data (s);
  g_assert_cmpint (w, ==, 400);
  for (int yy = 0; yy < h; yy++)
    for (int xx = 0; xx < w; xx++)
      {
        guint32 p = *(const guint32 *) (data + yy * stride + 4 * xx);
        if (((p >> 16) & 0xff) > 200 && ((p >> 8) & 0xff) < 60 && (p & 0xff) < 60)
          red_pixels++;
      }
  /* The curve: red pixels near the diagonal of the plot area (left 62, top 30, right 384, bottom 258). */
  for (int i = 1; i < 10; i++)
    {
      int cx = (int) (62 + (384 - 62) * i / 10.0), cy = (int) (258 - (258 - 30) * (i * 0.88 + 0.6) / 10.0 * 1.0);
      gboolean found = FALSE;
      for (int dy = -30; dy <= 30 && !found; dy++)
        {
          guint32 p;
          if (cy + dy < 0 || cy + dy >= h)
            continue;
          p = *(const guint32 *) (data + (cy + dy) * stride + 4 * cx);
          found = ((p >> 16) & 0xff) > 200 && ((p >> 8) & 0xff) < 60;
        }
      on_curve += found;
    }
  cairo_surface_destroy (s);
  g_assert_cmpint (red_pixels, >, 300);
  g_assert_cmpint (on_curve, ==, 9);

  g_assert_true (cs_plot_export (plot, svg, 400, 300, &error));
  g_assert_true (g_file_get_contents (svg, &bytes, NULL, NULL));
  g_assert_nonnull (strstr (bytes, "<svg"));
  g_free (bytes);
  g_assert_true (cs_plot_export (plot, pdf, 400, 300, &error));
  g_assert_true (g_file_get_contents (pdf, &bytes, NULL, NULL));
  g_assert_true (g_str_has_prefix (bytes, "%PDF"));
  g_assert_false (cs_plot_export (plot, "/tmp/plot.bmp", 10, 10, &error));

  g_object_weak_ref (G_OBJECT (plot), finalized_cb, &finalized);
  g_object_unref (plot);
  g_assert_true (finalized);
}

static void
rm_rf (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  runs_dir = g_dir_make_tmp ("cs-test-ui-XXXXXX", NULL);
  g_setenv ("CONVSCOPE_RUNS_DIR", runs_dir, TRUE);
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/plot/export-shows-curve", test_plot_export);
  g_test_add_func ("/ui/new-run/validates-as-you-type", test_new_run_dialog);
  g_test_add_func ("/ui/window/live-run-feeds-plot", test_live_run);
  g_test_add_func ("/ui/window/opens-with-runs", test_opens_with_runs);
  g_test_add_func ("/ui/window/compare-two-runs", test_compare_two_runs);
  g_test_add_func ("/ui/window/open-and-save-checkpoint", test_open_and_save);
  g_test_add_func ("/ui/window/errors-reach-window", test_errors_reach_window);

  ret = g_test_run ();
  rm_rf (runs_dir);
  g_free (runs_dir);
  return ret;
}
