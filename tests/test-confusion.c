/* UI tests: the confusion matrix draws its axis titles clear of its numbers,
 * colours right and wrong answers apart, and says what the colours count. */

#include "config.h"

#include <gtk/gtk.h>

#include "cs-confusion.h"

static void
pixel (cairo_surface_t *s,
       int              x,
       int              y,
       double          *r,
       double          *g,
       double          *b)
{
  const guint8 *p = cairo_image_surface_get_data (s) + y * cairo_image_surface_get_stride (s) + 4 * x;

  *b = p[0] / 255.0;
  *g = p[1] / 255.0;
  *r = p[2] / 255.0;
}

static void
test_layout_and_legend (void)
{
  CsConfusion *m = g_object_ref_sink (cs_confusion_new ());
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 300, 340);
  cairo_t *cr = cairo_create (s);
  GdkRGBA accent = { 0.21, 0.52, 0.89, 1 };
  guint counts[100] = { 0 };
  double r, g, b, top = 50, left = 40, size = MIN (300 - left - 8, 340 - top - 34 - 6), cell = size / 10;
  int ink_between = 0, red = 0, blue = 0;

  for (int c = 0; c < 10; c++)
    counts[c * 10 + c] = 900;
  counts[3 * 10 + 5] = 40;
  cs_confusion_set_counts (m, "LeNet-5", counts, &accent);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cs_confusion_draw (m, cr, 300, 340, FALSE);
  cairo_surface_flush (s);

  /* Between "predicted →" and the column numbers: nothing drawn. */
  for (int y = 34; y <= 36; y++)
    for (int x = (int) left; x < (int) (left + size); x++)
      {
        pixel (s, x, y, &r, &g, &b);
        ink_between += r + g + b < 2.7;
      }
  g_assert_cmpint (ink_between, ==, 0);

  /* True 3, predicted 5: a mistake, red; the diagonal in the accent colour. */
  pixel (s, (int) (left + 5.2 * cell), (int) (top + 3.2 * cell), &r, &g, &b);
  g_assert_cmpfloat (r, >, g + 0.3);
  pixel (s, (int) (left + 3.2 * cell), (int) (top + 3.2 * cell), &r, &g, &b);
  g_assert_cmpfloat (b, >, r + 0.3);

  /* The legend under the matrix: both colour ramps. */
  for (int x = (int) left; x < (int) (left + size); x++)
    {
      pixel (s, x, (int) (top + size + 14), &r, &g, &b);
      red += r > g + 0.3;
      blue += b > r + 0.3;
    }
  g_assert_cmpint (red, >, 20);
  g_assert_cmpint (blue, >, 20);

  cairo_destroy (cr);
  cairo_surface_destroy (s);
  g_object_unref (m);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/confusion/layout-and-legend", test_layout_and_legend);

  return g_test_run ();
}
