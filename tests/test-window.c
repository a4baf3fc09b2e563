/* UI tests (under Xvfb): the window with its runs, live curves, compare, summary, the new-run window, plots on file. */

#include "config.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <math.h>
#include <string.h>

#include "cs-test-mnist.h"
#include "cs-test-files.h"
#include "cs-test-wait.h"
#include "base/cs-alloc.h"
#include "formats/cs-checkpoint.h"
#include "cs-gl-probe.h"
#include "render/cs-render.h"
#include "cs-new-run-dialog.h"
#include "cs-plot.h"
#include "nn/cs-presets.h"
#include "cs-window.h"

static char *runs_dir;

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
  g_auto(CsRunSettings) settings = { 0 };
  CsRun *run;

  g_assert_true (cs_run_settings_init_preset (&settings, model, NULL));
  settings.hp.epochs = epochs;
  if (lr > 0)
    settings.hp.optim.lr = lr;
  run = cs_window_start_run (window, &settings, &error);
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

/* The label in @root's tree that shows @text. */
static GtkWidget *
find_label (GtkWidget  *root,
            const char *text)
{
  if (GTK_IS_LABEL (root) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (root)), text) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_label (c, text);
      if (found != NULL)
        return found;
    }
  return NULL;
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

/* Red pixels within 3 of (x, y). */
static int
red_near (cairo_surface_t *s,
          int              x,
          int              y)
{
  const guint8 *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s), n = 0;

  for (int dy = -3; dy <= 3; dy++)
    for (int dx = -3; dx <= 3; dx++)
      {
        int xx = CLAMP (x + dx, 0, cairo_image_surface_get_width (s) - 1);
        int yy = CLAMP (y + dy, 0, cairo_image_surface_get_height (s) - 1);
        guint32 p = *(const guint32 *) (data + yy * stride + 4 * xx);
        n += ((p >> 16) & 0xff) > 200 && ((p >> 8) & 0xff) < 60 && (p & 0xff) < 60;
      }
  return n;
}

/* A curve that ends at the top right (accuracy, epoch after epoch): the legend
 * goes to a corner where it hides nothing, so the last segment and the last
 * point stay in full colour. */
static void
test_plot_legend_clear (void)
{
  CsPlot *plot = g_object_ref_sink (cs_plot_new ());
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 600, 300);
  cairo_t *cr = cairo_create (s);
  double x[5] = { 0, 1, 2, 3, 4 }, y[5] = { 95.6, 97.0, 98.2, 98.0, 98.4 };
  GdkRGBA red = { 1, 0, 0, 1 };
  /* The frame: left 62, right 600 - 16, top 30 (a title), bottom 300 - 42; the
   * y range [95.6, 98.4] is padded by 6 % of its span on each side. */
  double y0 = 95.6 - 0.168, y1 = 98.4 + 0.168;
#define PX(v) ((int) (62 + (v) / 4.0 * (584 - 62)))
#define PY(v) ((int) (258 - ((v) - y0) / (y1 - y0) * (258 - 30)))

  cs_plot_set_title (plot, "Test accuracy");
  cs_plot_set_markers (plot, TRUE);
  cs_plot_add_series (plot, "lenet5 with a long name", &red);
  cs_plot_set_points (plot, 0, x, y, 5);
  cs_plot_draw (plot, cr, 600, 300, FALSE);
  cairo_surface_flush (s);
  g_assert_cmpint (red_near (s, PX (4), PY (98.4)), >=, 10);        /* the last point */
  g_assert_cmpint (red_near (s, PX (3.5), PY (98.2)), >=, 3);       /* the last segment's middle */
  g_assert_cmpint (red_near (s, PX (2), PY (98.2)), >=, 10);        /* the highest but one */
#undef PX
#undef PY
  cairo_destroy (cr);
  cairo_surface_destroy (s);
  g_object_unref (plot);
}

/* A known weight tensor draws the expected colours at known cells. */
static void
test_kernel_colours (void)
{
  g_autoptr(CsSpec) spec = cs_spec_parse ("input 1x4x4\nconv = nn.Conv2d(1, 2, 2)\nflat = nn.Flatten()\nfc = nn.Linear(18, 10)\n", NULL);
  g_autoptr(CsModel) model = cs_model_new (spec);
  g_autoptr(GArray) cells = g_array_new (FALSE, FALSE, sizeof (CsKernelCell));
  const CsParam *w = cs_model_find_tensor (model, "conv.weight");
  float *p = cs_model_params (model) + w->offset;
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 600, 300);
  cairo_t *cr = cairo_create (s);
  const float values[8] = { 1.0f, -1.0f, 0.0f, 0.5f, -0.25f, 0.25f, 1.0f, -1.0f };
  const CsKernelCell *c0;
  const guint8 *data;
  int stride;

  memcpy (p, values, sizeof values);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cs_render_kernels (cr, spec, cs_model_params (model), model, CS_SCALE_PER_LAYER, 600, FALSE, cells);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  g_assert_cmpuint (cells->len, ==, 2);
  c0 = &g_array_index (cells, CsKernelCell, 0);
  data = cairo_image_surface_get_data (s);
  stride = cairo_image_surface_get_stride (s);

#define PIXEL(cell, i, j) (*(const guint32 *) (data + (int) ((cell)->y + ((i) + 0.5) * (cell)->pixel) * stride + \
                                                4 * (int) ((cell)->x + ((j) + 0.5) * (cell)->pixel)))
  /* +1 is the full red of the map, -1 the full blue, 0 the neutral white. */
  g_assert_cmphex (PIXEL (c0, 0, 0) & 0xffffff, ==, (178u << 16) | (24u << 8) | 43u);
  g_assert_cmphex (PIXEL (c0, 0, 1) & 0xffffff, ==, (33u << 16) | (102u << 8) | 172u);
  g_assert_cmphex (PIXEL (c0, 1, 0) & 0xffffff, ==, (247u << 16) | (247u << 8) | 247u);
  /* +0.5 is half way from white to red. */
  g_assert_cmpuint ((PIXEL (c0, 1, 1) >> 8) & 0xff, >, 100);
  g_assert_cmpuint ((PIXEL (c0, 1, 1) >> 8) & 0xff, <, 160);
#undef PIXEL
  cairo_surface_destroy (s);
}

/* The feature-maps view shows exactly core's activations, and repeated updates do not leak. */
static void
test_feature_maps_match_core (void)
{
  g_autoptr(CsSpec) spec = cs_spec_for_model ("lenet5", NULL);
  g_autoptr(CsModel) reference = cs_model_new (spec);
  CsFeatureMaps *maps = g_object_ref_sink (cs_feature_maps_new ());
  CsKernelGrid *grid = g_object_ref_sink (cs_kernel_grid_new ());
  float image[784];
  CsRng rng;
  gsize before;

  cs_rng_seed (&rng, 9, 0);
  cs_model_init_params (reference, &rng);
  for (int i = 0; i < 784; i++)
    image[i] = cs_rng_uniform (&rng);
  cs_feature_maps_set_weights (maps, spec, cs_model_params (reference));
  cs_feature_maps_set_image (maps, image, "noise");
  cs_model_forward (reference, image, 1, FALSE, NULL);
  for (guint l = 0; l < cs_spec_n_layers (spec); l++)
    g_assert_cmpmem (cs_feature_maps_get_activation (maps, l), cs_shape_numel (cs_spec_layer (spec, l)->out) * 4,
                     cs_model_layer_output (reference, l), cs_shape_numel (cs_spec_layer (spec, l)->out) * 4);

  /* A hundred updates (a training run's snapshots) leave no allocation behind. */
  cs_kernel_grid_set_weights (grid, spec, cs_model_params (reference));
  before = cs_allocated_bytes ();
  for (int i = 0; i < 100; i++)
    {
      cs_feature_maps_set_weights (maps, spec, cs_model_params (reference));
      cs_kernel_grid_set_weights (grid, spec, cs_model_params (reference));
    }
  g_assert_cmpuint (cs_allocated_bytes (), ==, before);
  g_assert_cmpuint (cs_kernel_grid_get_n_kernels (grid), ==, 6 + 16 * 6 + 120 * 16);

  /* Hover reads a weight; a click describes the kernel with its values. */
  {
    g_autofree char *desc = NULL;
    cs_kernel_grid_hover (grid, 14, 70);
    g_assert_nonnull (cs_kernel_grid_get_readout (grid));
    g_assert_true (g_str_has_prefix (cs_kernel_grid_get_readout (grid), "conv1.weight[0, 0, "));
    cs_kernel_grid_select_at (grid, 14, 70);
    desc = cs_kernel_grid_describe_selected (grid);
    g_assert_true (g_str_has_prefix (desc, "conv1, output channel 0, input channel 0 (5×5)"));
  }
  /* What one frame of each view costs to draw (reported, not asserted: timings are benchmarks). */
  {
    cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 1000, 3000);
    cairo_t *cr = cairo_create (surface);
    const float *acts[32];
    float proba[10];
    gint64 t0 = g_get_monotonic_time ();

    for (int i = 0; i < 20; i++)
      cs_render_kernels (cr, spec, cs_model_params (reference), reference, CS_SCALE_PER_LAYER, 1000, FALSE, NULL);
    g_test_message ("drawing LeNet-5's 2,022 kernels: %.2f ms a frame", (g_get_monotonic_time () - t0) / 20e3);
    cs_model_predict (reference, image, 1, proba);
    for (guint l = 0; l < cs_spec_n_layers (spec); l++)
      acts[l] = cs_model_layer_output (reference, l);
    t0 = g_get_monotonic_time ();
    for (int i = 0; i < 20; i++)
      cs_render_feature_maps (cr, spec, image, "noise", acts, proba, 10, 1000, FALSE);
    g_test_message ("drawing LeNet-5's feature maps: %.2f ms a frame", (g_get_monotonic_time () - t0) / 20e3);
    cairo_destroy (cr);
    cairo_surface_destroy (surface);
  }
  g_object_unref (maps);
  g_object_unref (grid);
}

/* The Inside view follows a training run's snapshots; frame times are measured, not asserted. */
static gboolean
frame_tick (GtkWidget     *widget,
            GdkFrameClock *clock,
            gpointer       data)
{
  GArray *times = data;
  gint64 t = gdk_frame_clock_get_frame_time (clock);
  g_array_append_val (times, t);
  return G_SOURCE_CONTINUE;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* Median, 95th percentile and worst of the intervals between the frame times in times. */
static void
report_intervals (const char *what,
                  GArray     *times)
{
  g_autoptr(GArray) deltas = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 1; i < times->len; i++)
    {
      gint64 d = g_array_index (times, gint64, i) - g_array_index (times, gint64, i - 1);
      g_array_append_val (deltas, d);
    }
  if (deltas->len < 5)
    return;
  g_array_sort (deltas, compare_gint64);
  g_test_message ("frame intervals %s: %u frames, median %.1f ms, 95th percentile %.1f ms, worst %.1f ms",
                  what, deltas->len, g_array_index (deltas, gint64, deltas->len / 2) / 1000.0,
                  g_array_index (deltas, gint64, deltas->len * 95 / 100) / 1000.0,
                  g_array_index (deltas, gint64, deltas->len - 1) / 1000.0);
}

static gboolean
quit_loop (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_inside_live (void)
{
  CsWindow *window = open_window ();
  CsInsideView *inside = cs_window_get_inside_view (window);
  g_autoptr(GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) idle_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  CsRun *run;
  guint start_updates, tick;
  gboolean done = FALSE;

  /* The frame clock on its own first (nothing training): what the display gives. */
  gtk_stack_set_visible_child_name (cs_window_get_views (window), "inside");
  tick = gtk_widget_add_tick_callback (GTK_WIDGET (window), frame_tick, idle_times, NULL);
  g_timeout_add (1500, quit_loop, &done);
  WAIT_FOR (done);
  gtk_widget_remove_tick_callback (GTK_WIDGET (window), tick);
  report_intervals ("with nothing training", idle_times);

  run = start (window, "lenet5", 1, 0);
  cs_window_select (window, (GObject **) &run, 1);
  gtk_stack_set_visible_child_name (cs_window_get_views (window), "inside");
  start_updates = cs_inside_view_get_n_updates (inside);
  tick = gtk_widget_add_tick_callback (GTK_WIDGET (window), frame_tick, times, NULL);
  /* Snapshots every 50 batches: the kernels move while it trains. */
  WAIT_FOR (cs_inside_view_get_n_updates (inside) >= start_updates + 4);
  g_assert_cmpuint (cs_kernel_grid_get_n_kernels (cs_inside_view_get_kernels (inside)), >, 0);
  g_assert_nonnull (cs_feature_maps_get_probabilities (cs_inside_view_get_maps (inside)));
  gtk_widget_remove_tick_callback (GTK_WIDGET (window), tick);
  report_intervals ("while LeNet-5 trains with the Inside view", times);
  cs_run_stop (run);
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (run)));
  cs_run_join (run);
  close_window (window);
}

/* Set in main(): what the person asked for (GSK_RENDERER) and what the probe found. */
static char *asked_renderer;
static const char *gl_renderer;

/* As the app does at startup: on a software GL rasteriser the window draws
 * with cairo; a renderer named in GSK_RENDERER is kept. */
static void
test_renderer_choice (void)
{
  CsWindow *window = open_window ();
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  const char *type = G_OBJECT_TYPE_NAME (renderer);

  g_test_message ("GL renderer: %s; GSK_RENDERER asked: %s; window draws with %s",
                  gl_renderer ? gl_renderer : "(not probed)", asked_renderer ? asked_renderer : "(nothing)", type);
  if (asked_renderer != NULL && g_str_equal (asked_renderer, "gl"))
    g_assert_cmpstr (type, ==, "GskGLRenderer");
  else if (asked_renderer == NULL && gl_renderer != NULL && strstr (gl_renderer, "llvmpipe") != NULL)
    g_assert_cmpstr (type, ==, "GskCairoRenderer");
  else if (asked_renderer == NULL && gl_renderer != NULL)
    g_assert_cmpstr (type, ==, "GskGLRenderer");
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

int
main (int   argc,
      char *argv[])
{
  int ret;

  runs_dir = g_dir_make_tmp ("cs-test-ui-XXXXXX", NULL);
  g_setenv ("CONVSCOPE_RUNS_DIR", runs_dir, TRUE);
  gtk_test_init (&argc, &argv, NULL);
  cs_test_require_mnist ();
  asked_renderer = g_strdup (g_getenv ("GSK_RENDERER"));
  gl_renderer = cs_prefer_cairo_on_software_gl ();

  g_test_add_func ("/ui/plot/export-shows-curve", test_plot_export);
  g_test_add_func ("/ui/plot/legend-keeps-last-point-clear", test_plot_legend_clear);
  g_test_add_func ("/ui/new-run/validates-as-you-type", test_new_run_dialog);
  g_test_add_func ("/ui/window/live-run-feeds-plot", test_live_run);
  g_test_add_func ("/ui/window/opens-with-runs", test_opens_with_runs);
  g_test_add_func ("/ui/window/compare-two-runs", test_compare_two_runs);
  g_test_add_func ("/ui/window/open-and-save-checkpoint", test_open_and_save);
  g_test_add_func ("/ui/window/errors-reach-window", test_errors_reach_window);
  g_test_add_func ("/ui/kernels/known-colours", test_kernel_colours);
  g_test_add_func ("/ui/feature-maps/match-core", test_feature_maps_match_core);
  g_test_add_func ("/ui/inside/live", test_inside_live);
  g_test_add_func ("/ui/inside/renderer-choice", test_renderer_choice);
  g_test_add_func ("/ui/window/close-while-training", test_close_while_training);

  ret = g_test_run ();
  cs_test_rm_rf (runs_dir);
  g_free (runs_dir);
  g_free (asked_renderer);
  return ret;
}
