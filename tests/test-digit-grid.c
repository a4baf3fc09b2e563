/* UI tests: the mistakes grid keeps every mistake it is given, shows 24 of
 * the kind a filter asks for, and hands out each image with its confidence. */

#include "config.h"

#include <gtk/gtk.h>
#include <string.h>

#include "cs-digit-grid.h"

static void
test_filter_and_images (void)
{
  CsDigitGrid *grid = g_object_ref_sink (cs_digit_grid_new ());
  guint8 images[40 * 784], truth[40], pred[40];
  float confidence[40];
  guint t, p;
  float c;

  for (guint i = 0; i < 40; i++)
    {
      memset (images + i * 784, (int) i, 784);
      truth[i] = i % 2 ? 3 : 4;
      pred[i] = i % 2 ? 5 : 9;
      confidence[i] = 0.5f + i / 100.0f;
    }
  cs_digit_grid_set_images (grid, "model", images, truth, pred, confidence, 40);
  g_assert_cmpuint (cs_digit_grid_get_n (grid), ==, 40);
  g_assert_cmpuint (cs_digit_grid_get_n_shown (grid), ==, 24);   /* at most 24 on screen */

  cs_digit_grid_set_filter (grid, 3, 5);
  g_assert_cmpuint (cs_digit_grid_get_n_shown (grid), ==, 20);
  for (guint k = 0; k < cs_digit_grid_get_n_shown (grid); k++)
    {
      guint i = cs_digit_grid_get_shown (grid, k);
      const guint8 *img = cs_digit_grid_get_image (grid, i, &t, &p, &c);

      g_assert_cmpuint (t, ==, 3);
      g_assert_cmpuint (p, ==, 5);
      g_assert_cmpuint (img[100], ==, i);
      g_assert_cmpfloat_with_epsilon (c, 0.5f + i / 100.0f, 1e-6);
    }
  cs_digit_grid_set_filter (grid, 7, 1);
  g_assert_cmpuint (cs_digit_grid_get_n_shown (grid), ==, 0);
  cs_digit_grid_set_filter (grid, -1, -1);
  g_assert_cmpuint (cs_digit_grid_get_n_shown (grid), ==, 24);
  g_object_unref (grid);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/digit-grid/filter-and-images", test_filter_and_images);

  return g_test_run ();
}
