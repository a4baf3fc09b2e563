/* UI tests: the Inside view and its widgets (kernel grid, feature maps), live from a training run, and the renderer it is drawn with. */

#include "config.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "cs-gl-probe.h"
#include "cs-new-run-dialog.h"
#include "cs-plot.h"
#include "cs-test-ui.h"
#include "formats/cs-checkpoint.h"
#include "nn/cs-presets.h"
#include "render/cs-render.h"

/* A known weight tensor draws the expected colours at known cells. */
/* Kernels grow with the view: a 2,400-pixel-wide grid draws LeNet-5's
 * weights three times the size it does at 800. */
static void
test_kernels_scale_with_width (void)
{
  g_autoptr(CsSpec) spec = cs_spec_for_model ("lenet5", NULL);
  g_autoptr(CsModel) model = cs_model_new (spec);
  g_autoptr(GArray) narrow = g_array_new (FALSE, FALSE, sizeof (CsKernelCell));
  g_autoptr(GArray) wide = g_array_new (FALSE, FALSE, sizeof (CsKernelCell));

  cs_render_kernels (NULL, spec, cs_model_params (model), model, CS_SCALE_PER_LAYER, 800, FALSE, narrow);
  cs_render_kernels (NULL, spec, cs_model_params (model), model, CS_SCALE_PER_LAYER, 2400, FALSE, wide);
  g_assert_cmpuint (narrow->len, ==, wide->len);
  g_assert_cmpuint (narrow->len, >, 0);
  g_assert_cmpfloat (g_array_index (wide, CsKernelCell, 0).pixel, >=, 2.5 * g_array_index (narrow, CsKernelCell, 0).pixel);
}

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

/* A graph: a convolution called twice has its kernels drawn once. */
static void
test_graph_kernels (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "classes", "tied_net.py", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_load_file (path, &error);
  g_autoptr(CsModel) model = NULL;
  g_autoptr(GArray) cells = g_array_new (FALSE, FALSE, sizeof (CsKernelCell));
  CsRng rng;

  g_assert_no_error (error);
  model = cs_model_new (spec);
  cs_rng_seed (&rng, 1, 0);
  cs_model_init_params (model, &rng);
  cs_render_kernels (NULL, spec, cs_model_params (model), model, CS_SCALE_PER_LAYER, 800, FALSE, cells);
  /* stem: 8 kernels of 1 channel; conv: 8 of 8 channels; conv_2 (the same weights) adds none */
  g_assert_cmpuint (cells->len, ==, 8 + 8 * 8);
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

int
main (int   argc,
      char *argv[])
{
  int ret;

  /* What was asked before the test setup makes the app's own choice. */
  asked_renderer = g_strdup (g_getenv ("GSK_RENDERER"));
  cs_test_ui_init (&argc, &argv);
  gl_renderer = cs_prefer_cairo_on_software_gl ();

  g_test_add_func ("/ui/kernels/known-colours", test_kernel_colours);
  g_test_add_func ("/ui/kernels/scale-with-width", test_kernels_scale_with_width);
  g_test_add_func ("/ui/kernels/graph-shared-drawn-once", test_graph_kernels);
  g_test_add_func ("/ui/feature-maps/match-core", test_feature_maps_match_core);
  g_test_add_func ("/ui/inside/live", test_inside_live);
  g_test_add_func ("/ui/inside/renderer-choice", test_renderer_choice);

  ret = g_test_run ();
  g_free (asked_renderer);
  return cs_test_ui_finish (ret);
}
