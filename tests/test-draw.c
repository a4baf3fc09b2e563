/* Drawing tests: synthesised strokes for every digit read by the bundled LeNet-5, MNIST digits round-tripped
 * through the preprocessing, the pad's stroke path, Clear and Undo, and `predict --image` agreeing with the pad. */

#include "config.h"

#include <cairo.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <math.h>
#include <string.h>

#include "cs-test-mnist.h"
#include "formats/cs-checkpoint.h"
#include "data/cs-dataset.h"
#include "data/cs-digit.h"
#include "cs-draw-view.h"

#define RASTER 280

static CsModel *bundled;

/* ---- strokes of each digit, in the unit square, y down ---- */

static void
add_arc (GPtrArray *strokes,
         GArray    *s,
         double     cx,
         double     cy,
         double     rx,
         double     ry,
         double     from_deg,
         double     to_deg)
{
  for (int i = 0; i <= 32; i++)
    {
      double t = (from_deg + (to_deg - from_deg) * i / 32.0) * G_PI / 180;
      double p[2] = { cx + rx * cos (t), cy + ry * sin (t) };
      g_array_append_vals (s, p, 2);
    }
}

static GArray *
new_stroke (GPtrArray *strokes)
{
  GArray *s = g_array_new (FALSE, FALSE, sizeof (double));
  g_ptr_array_add (strokes, s);
  return s;
}

static void
point (GArray *s,
       double  x,
       double  y)
{
  double p[2] = { x, y };
  g_array_append_vals (s, p, 2);
}

static GPtrArray *
digit_strokes (int digit,
               int variant)
{
  GPtrArray *strokes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  GArray *s = new_stroke (strokes);

  switch (digit)
    {
    case 0:
      add_arc (strokes, s, 0.5, 0.5, 0.26, 0.4, 0, 360);
      break;
    case 1:
      if (variant % 2)
        point (s, 0.36, 0.24);
      point (s, 0.52, 0.1);
      point (s, 0.5, 0.9);
      break;
    case 2:
      add_arc (strokes, s, 0.5, 0.34, 0.24, 0.23, 190, 375);
      point (s, 0.24, 0.9);
      point (s, 0.8, 0.9);
      break;
    case 3:
      add_arc (strokes, s, 0.5, 0.3, 0.21, 0.2, 200, 450);
      add_arc (strokes, s, 0.5, 0.7, 0.23, 0.2, 270, 495);
      break;
    case 4:
      point (s, 0.62, 0.9);
      point (s, 0.62, 0.1);
      point (s, 0.2, 0.64);
      point (s, 0.82, 0.64);
      break;
    case 5:
      point (s, 0.76, 0.12);
      point (s, 0.33, 0.12);
      point (s, 0.3, 0.47);
      add_arc (strokes, s, 0.5, 0.66, 0.24, 0.22, 235, 500);
      break;
    case 6:
      point (s, 0.68, 0.1);
      point (s, 0.45, 0.28);
      point (s, 0.31, 0.55);
      add_arc (strokes, s, 0.5, 0.68, 0.2, 0.2, 180, 540);
      break;
    case 7:
      point (s, 0.2, 0.12);
      point (s, 0.8, 0.12);
      point (s, 0.42, 0.9);
      break;
    case 8:
      add_arc (strokes, s, 0.5, 0.3, 0.18, 0.18, 90, 450);
      s = new_stroke (strokes);
      add_arc (strokes, s, 0.5, 0.7, 0.22, 0.2, -90, 270);
      break;
    case 9:
      add_arc (strokes, s, 0.5, 0.32, 0.2, 0.19, 0, 360);
      s = new_stroke (strokes);
      point (s, 0.7, 0.32);
      point (s, 0.66, 0.9);
      break;
    default:
      g_assert_not_reached ();
    }
  return strokes;
}

/* A style: size, place and slant of the digit on the pad. */
static void
restyle (GPtrArray *strokes,
         double     scale,
         double     dx,
         double     dy,
         double     slant)
{
  for (guint i = 0; i < strokes->len; i++)
    {
      GArray *s = g_ptr_array_index (strokes, i);
      double *p = (double *) s->data;
      for (guint k = 0; k < s->len; k += 2)
        {
          double x = p[k], y = p[k + 1];
          x += (0.5 - y) * slant;
          p[k] = 0.5 + (x - 0.5) * scale + dx;
          p[k + 1] = 0.5 + (y - 0.5) * scale + dy;
        }
    }
}

static int
classify (const float *x28)
{
  float proba[10];
  int best = 0;

  cs_model_predict (bundled, x28, 1, proba);
  for (int c = 1; c < 10; c++)
    if (proba[c] > proba[best])
      best = c;
  return best;
}

static void
test_synthetic_digits (void)
{
  static const double styles[][5] = {
    /* scale, dx, dy, slant, line width (fraction of the pad) */
    { 0.9, 0.0, 0.0, 0.0, 1.0 / 12 },
    { 0.6, -0.15, 0.1, 0.0, 1.0 / 12 },
    { 0.45, 0.2, -0.2, 0.1, 1.0 / 16 },
    { 0.8, 0.05, 0.05, 0.2, 1.0 / 10 },
    { 0.7, 0.0, 0.0, -0.1, 1.0 / 14 },
    { 0.35, -0.25, -0.25, 0.0, 1.0 / 20 },
  };
  int right = 0, total = 0;
  g_autoptr(GString) misses = g_string_new (NULL);

  for (int d = 0; d < 10; d++)
    for (guint st = 0; st < G_N_ELEMENTS (styles); st++)
      {
        g_autoptr(GPtrArray) strokes = digit_strokes (d, st);
        g_autofree float *raster = NULL;
        float x[784];
        int got;

        restyle (strokes, styles[st][0], styles[st][1], styles[st][2], styles[st][3]);
        raster = cs_draw_rasterize (strokes, RASTER, RASTER * styles[st][4]);
        g_assert_true (cs_digit_preprocess (x, raster, RASTER, RASTER, FALSE, NULL));
        got = classify (x);
        total++;
        if (got == d)
          right++;
        else
          g_string_append_printf (misses, " %d(style %u)->%d", d, st, got);
      }
  g_test_message ("synthesised digits read by the bundled LeNet-5: %d of %d (%.0f%%);%s%s", right, total,
                  100.0 * right / total, misses->len ? " misread:" : "", misses->str);
  g_assert_cmpfloat ((double) right / total, >=, 0.85);
}

/* An MNIST test digit drawn large at a random place comes back nearly the same 28x28. */
static void
test_mnist_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = cs_dataset_open (NULL, "mnist", &error);
  double total_diff = 0, total_corr = 0, worst_corr = 1;
  int same_answer = 0, n = 50;

  g_assert_no_error (error);
  for (int idx = 0; idx < n; idx++)
    {
      float orig[784], back[784], big[RASTER * RASTER];
      int ox = 20 + (idx * 37) % 80, oy = 10 + (idx * 53) % 90, scale = 6;
      double diff = 0, dot = 0, na = 0, nb = 0;

      cs_data_split_first_to_float (&ds->test, idx, 1, orig, NULL);
      memset (big, 0, sizeof big);
      for (int y = 0; y < 28 * scale; y++)
        for (int x = 0; x < 28 * scale; x++)
          big[(oy + y) * RASTER + ox + x] = orig[(y / scale) * 28 + x / scale];
      g_assert_true (cs_digit_preprocess (back, big, RASTER, RASTER, FALSE, NULL));
      /* Compared up to a shift of one pixel: the centre of mass is rounded to whole pixels. */
      {
        double best = -1, best_diff = 0;
        for (int sy = -1; sy <= 1; sy++)
          for (int sx = -1; sx <= 1; sx++)
            {
              dot = na = nb = diff = 0;
              for (int y = 0; y < 28; y++)
                for (int xx = 0; xx < 28; xx++)
                  {
                    int yy = y + sy, xs = xx + sx;
                    float a = orig[y * 28 + xx];
                    float b = yy >= 0 && yy < 28 && xs >= 0 && xs < 28 ? back[yy * 28 + xs] : 0;
                    diff += fabs (a - b);
                    dot += a * b;
                    na += a * a;
                    nb += b * b;
                  }
              if (dot / sqrt (na * nb) > best)
                {
                  best = dot / sqrt (na * nb);
                  best_diff = diff;
                }
            }
        total_diff += best_diff / 784;
        total_corr += best;
        worst_corr = MIN (worst_corr, best);
      }
      if (classify (orig) == classify (back))
        same_answer++;
    }
  g_test_message ("MNIST round trip: mean correlation %.3f (worst %.3f), mean |difference| per pixel %.3f; "
                  "same answer for %d of %d", total_corr / n, worst_corr, total_diff / n, same_answer, n);
  g_assert_cmpfloat (total_corr / n, >, 0.85);
  g_assert_cmpfloat (worst_corr, >, 0.6);
  g_assert_cmpfloat (total_diff / n, <, 0.08);
  g_assert_cmpint (same_answer, >=, n - 2);
}

static void
finalized_cb (gpointer  data,
              GObject  *where)
{
  *(gboolean *) data = TRUE;
}

/* The pad's stroke path updates the prediction on every point; Clear and Undo work. */
static void
test_pad (void)
{
  CsDrawView *view = g_object_ref_sink (g_object_new (CS_TYPE_DRAW_VIEW, NULL));
  gboolean finalized = FALSE;

  g_assert_cmpint (cs_draw_view_get_prediction (view), ==, -1);
  g_assert_cmpstr (cs_draw_view_get_model_name (view), ==, "Bundled LeNet-5");
  /* A 7: the bar, then the stem, point by point as a drag delivers them. */
  cs_draw_view_begin_stroke (view, 0.2, 0.15);
  for (int i = 1; i <= 10; i++)
    cs_draw_view_extend_stroke (view, 0.2 + 0.06 * i, 0.15);
  g_assert_cmpint (cs_draw_view_get_prediction (view), >=, 0);   /* an answer already, mid-stroke */
  for (int i = 1; i <= 12; i++)
    cs_draw_view_extend_stroke (view, 0.8 - 0.035 * i, 0.15 + 0.063 * i);
  g_assert_cmpint (cs_draw_view_get_prediction (view), ==, 7);
  g_assert_nonnull (cs_draw_view_get_input (view));
  g_test_message ("stroke update to answer: %.0f µs", cs_draw_view_get_latency_us (view));

  /* A second stroke, undone, brings the 7 back. */
  cs_draw_view_begin_stroke (view, 0.3, 0.5);
  cs_draw_view_extend_stroke (view, 0.7, 0.5);
  g_assert_cmpuint (cs_draw_view_get_n_strokes (view), ==, 2);
  cs_draw_view_undo (view);
  g_assert_cmpuint (cs_draw_view_get_n_strokes (view), ==, 1);
  g_assert_cmpint (cs_draw_view_get_prediction (view), ==, 7);
  cs_draw_view_clear (view);
  g_assert_cmpuint (cs_draw_view_get_n_strokes (view), ==, 0);
  g_assert_cmpint (cs_draw_view_get_prediction (view), ==, -1);
  g_assert_null (cs_draw_view_get_input (view));

  g_object_weak_ref (G_OBJECT (view), finalized_cb, &finalized);
  g_object_unref (view);
  g_assert_true (finalized);
}

/* `convscope predict --image` reads a picture of the pad's strokes as the pad does. */
static void
test_predict_agrees_with_pad (void)
{
  const char *bin = g_getenv ("CONVSCOPE_BIN");
  g_autofree char *dir = g_dir_make_tmp ("cs-test-draw-XXXXXX", NULL);

  g_assert_nonnull (bin);
  for (int d = 0; d < 10; d++)
    {
      g_autoptr(GPtrArray) strokes = digit_strokes (d, 0);
      g_autofree float *raster = NULL;
      g_autofree char *png = g_strdup_printf ("%s/digit-%d.png", dir, d);
      g_autofree char *out = NULL;
      g_autofree char *expect = NULL;
      g_autoptr(GError) error = NULL;
      cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, RASTER, RASTER);
      guint8 *data;
      int stride, status;
      float x[784];
      char *argv[] = { (char *) bin, (char *) "predict", (char *) "--image", png, NULL };

      restyle (strokes, 0.8, 0, 0, 0);
      raster = cs_draw_rasterize (strokes, RASTER, RASTER / 12.0);
      /* Dark ink on white paper, as a photo or a scan would be. */
      data = cairo_image_surface_get_data (s);
      stride = cairo_image_surface_get_stride (s);
      for (int y = 0; y < RASTER; y++)
        for (int xx = 0; xx < RASTER; xx++)
          {
            guint8 v = (guint8) lround (255 * (1 - raster[y * RASTER + xx]));
            *(guint32 *) (data + y * stride + 4 * xx) = 0xff000000u | (v << 16) | (v << 8) | v;
          }
      cairo_surface_mark_dirty (s);
      g_assert_cmpint (cairo_surface_write_to_png (s, png), ==, CAIRO_STATUS_SUCCESS);
      cairo_surface_destroy (s);

      g_assert_true (cs_digit_preprocess (x, raster, RASTER, RASTER, FALSE, NULL));
      expect = g_strdup_printf ("Prediction: %d ", classify (x));
      g_assert_true (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status, &error));
      g_assert_no_error (error);
      if (strstr (out, expect) == NULL)
        g_error ("digit %d: the pad reads \"%s\" but predict --image says:\n%s", d, expect, out);
      g_unlink (png);
    }
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  int ret;

  gtk_test_init (&argc, &argv, NULL);
  cs_test_require_mnist ();
  ckpt = cs_checkpoint_load_bundled (&error);
  g_assert_no_error (error);
  bundled = cs_checkpoint_to_model (ckpt, NULL, &error);
  g_assert_no_error (error);

  g_test_add_func ("/ui/draw/synthetic-digits", test_synthetic_digits);
  g_test_add_func ("/ui/draw/mnist-round-trip", test_mnist_round_trip);
  g_test_add_func ("/ui/draw/pad-clear-undo", test_pad);
  g_test_add_func ("/ui/draw/predict-agrees-with-pad", test_predict_agrees_with_pad);

  ret = g_test_run ();
  cs_model_free (bundled);
  return ret;
}
