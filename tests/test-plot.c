/* UI tests: the plot widget, as drawn on screen and exported to files. */

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

/* An empty accuracy plot spans 0-100 %, one that zooms to its points can be
 * held at 0-100 % (a run at chance must not look like learning). */
static void
test_plot_y_range (void)
{
  CsPlot *plot = g_object_ref_sink (cs_plot_new ());
  double x[2] = { 1, 2 }, y[2] = { 10.28, 10.31 }, lo, hi;
  GdkRGBA blue = { 0, 0, 1, 1 };

  cs_plot_get_shown_y_range (plot, &lo, &hi);
  g_assert_cmpfloat (lo, ==, 0);
  g_assert_cmpfloat (hi, ==, 1);
  cs_plot_set_y_range (plot, 0, 100, FALSE);
  cs_plot_get_shown_y_range (plot, &lo, &hi);
  g_assert_cmpfloat (lo, ==, 0);
  g_assert_cmpfloat (hi, ==, 100);

  cs_plot_add_series (plot, "chance", &blue);
  cs_plot_set_points (plot, 0, x, y, 2);
  cs_plot_get_shown_y_range (plot, &lo, &hi);
  g_assert_cmpfloat (lo, >, 10);
  g_assert_cmpfloat (hi, <, 11);
  cs_plot_set_y_range (plot, 0, 100, TRUE);
  cs_plot_get_shown_y_range (plot, &lo, &hi);
  g_assert_cmpfloat (lo, ==, 0);
  g_assert_cmpfloat (hi, ==, 100);
  g_object_unref (plot);
}

/* Horizontal grid lines of an exported plot: rows where three columns of
 * the plot area are the same light grey. */
static int
count_grid_rows (const char *png)
{
  cairo_surface_t *s = cairo_image_surface_create_from_png (png);
  const guint8 *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s), h = cairo_image_surface_get_height (s), rows = 0;
  gboolean prev = FALSE;

  for (int yy = 40; yy < h - 50; yy++)
    {
      guint32 a = *(const guint32 *) (data + yy * stride + 4 * 120) & 0xffffff;
      guint32 b = *(const guint32 *) (data + yy * stride + 4 * 220) & 0xffffff;
      guint32 c = *(const guint32 *) (data + yy * stride + 4 * 320) & 0xffffff;
      gboolean grid = a == b && b == c && (a & 0xff) < 245 && (a & 0xff) > 180;
      rows += grid && !prev;
      prev = grid;
    }
  cairo_surface_destroy (s);
  return rows;
}

/* A loss from 2.3 down to 1.1 on a log axis has labelled lines (1..9 ticks
 * within a decade), not a bare axis; over decades, one line per decade. */
static void
test_plot_log_ticks (void)
{
  CsPlot *plot = g_object_ref_sink (cs_plot_new ());
  g_autofree char *png = g_build_filename (runs_dir, "log.png", NULL);
  g_autoptr(GError) error = NULL;
  double x[20], y[20];
  GdkRGBA blue = { 0, 0, 1, 1 };

  for (int i = 0; i < 20; i++)
    {
      x[i] = i;
      y[i] = 2.3 - 1.2 * i / 19.0;
    }
  cs_plot_set_log_y (plot, TRUE);
  cs_plot_add_series (plot, "loss", &blue);
  cs_plot_set_points (plot, 0, x, y, 20);
  g_assert_true (cs_plot_export (plot, png, 400, 300, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_grid_rows (png), >=, 1);   /* 1.1 to 2.3: the line at 2 (none before) */

  for (int i = 0; i < 20; i++)
    y[i] = pow (10, 1 - 4.0 * i / 19.0);   /* 10 down to 0.001 */
  cs_plot_set_points (plot, 0, x, y, 20);
  g_assert_true (cs_plot_export (plot, png, 400, 300, &error));
  g_assert_cmpint (count_grid_rows (png), >=, 4);
  g_assert_cmpint (count_grid_rows (png), <=, 6);
  g_object_unref (plot);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  cs_test_ui_init (&argc, &argv);
  g_test_add_func ("/ui/plot/export-shows-curve", test_plot_export);
  g_test_add_func ("/ui/plot/legend-keeps-last-point-clear", test_plot_legend_clear);
  g_test_add_func ("/ui/plot/accuracy-axis", test_plot_y_range);
  g_test_add_func ("/ui/plot/log-axis-ticks", test_plot_log_ticks);

  ret = g_test_run ();
  return cs_test_ui_finish (ret);
}
