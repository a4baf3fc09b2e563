/* Kernel tests: every fast path against its reference, and central-difference gradient checks for every layer. */

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "nn/cs-gemm.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-kernels.h"
#include "base/cs-rng.h"
#include "cs-test-kernels.h"

/* ---- GEMM --------------------------------------------------------------- */

static void
test_gemm_reference (void)
{
  static const int shapes[][3] = { { 1, 1, 1 }, { 7, 5, 3 }, { 100, 10, 784 }, { 6, 250, 25 }, { 33, 17, 65 } };

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        {
          int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
          float *a = random_floats ((gsize) m * k, -1, 1);
          float *b = random_floats ((gsize) k * n, -1, 1);
          float *c1 = random_floats ((gsize) m * n, -1, 1);
          float *c2 = cs_alloc_floats ((gsize) m * n);

          memcpy (c2, c1, sizeof (float) * m * n);
          cs_gemm (ta, tb, m, n, k, 0.5f, a, ta ? m : k, b, tb ? k : n, 0.25f, c1, n);
          cs_gemm_ref (ta, tb, m, n, k, 0.5f, a, ta ? m : k, b, tb ? k : n, 0.25f, c2, n);
          assert_close (c1, c2, (gsize) m * n, 1e-5f, "gemm");
          cs_free_floats (a);
          cs_free_floats (b);
          cs_free_floats (c1);
          cs_free_floats (c2);
        }
}

/* Split GEMMs (along N, M and K) equal the reference, and any number of
 * threads gives the same bits. */
static void
test_gemm_split (void)
{
  static const int shapes[][3] = { { 100, 784, 784 }, { 512, 100, 64 }, { 10, 25, 78400 }, { 100, 128, 7290 } };
  CsThreadPool *saved = cs_thread_pool_get_current ();

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int tb = 0; tb < 2; tb++)
      {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = random_floats ((gsize) m * k, -1, 1);
        float *b = random_floats ((gsize) k * n, -1, 1);
        float *c0 = random_floats ((gsize) m * n, -1, 1);
        float *c1 = cs_alloc_floats ((gsize) m * n);
        float *c3 = cs_alloc_floats ((gsize) m * n);
        float *cr = cs_alloc_floats ((gsize) m * n);
        g_autoptr(CsThreadPool) p1 = cs_thread_pool_new (1);
        g_autoptr(CsThreadPool) p3 = cs_thread_pool_new (3);

        memcpy (c1, c0, sizeof (float) * m * n);
        memcpy (c3, c0, sizeof (float) * m * n);
        memcpy (cr, c0, sizeof (float) * m * n);
        cs_thread_pool_set_current (p1);
        cs_gemm (FALSE, tb, m, n, k, 1.0f, a, k, b, tb ? k : n, 0.5f, c1, n);
        cs_thread_pool_set_current (p3);
        cs_gemm (FALSE, tb, m, n, k, 1.0f, a, k, b, tb ? k : n, 0.5f, c3, n);
        g_assert_cmpmem (c1, sizeof (float) * m * n, c3, sizeof (float) * m * n);
        cs_gemm_ref (FALSE, tb, m, n, k, 1.0f, a, k, b, tb ? k : n, 0.5f, cr, n);
        assert_close (c1, cr, (gsize) m * n, 2e-4f, "split gemm");
        cs_free_floats (a); cs_free_floats (b); cs_free_floats (c0);
        cs_free_floats (c1); cs_free_floats (c3); cs_free_floats (cr);
      }
  cs_thread_pool_set_current (saved);
}

/* OpenBLAS is opened at run time, after OPENBLAS_CORETYPE was set from the
 * CPU (or by the user): the kernels it chose are the ones that variable names.
 * Linked instead, OpenBLAS 0.3.21 would have chosen before main () ran, from
 * the CPU's model number (generic "Prescott" kernels on an Emerald Rapids). */
static void
test_gemm_blas_kernels (void)
{
  const char *description = cs_gemm_blas_description ();
  const char *wanted = g_getenv ("OPENBLAS_CORETYPE");

  g_test_message ("BLAS: %s, OPENBLAS_CORETYPE=%s", description, wanted ? wanted : "(unset)");
  g_assert_true (g_str_has_prefix (description, "OpenBLAS "));
  if (wanted == NULL)
    {
      /* A CPU without AVX2: OpenBLAS's own choice stands. */
      g_assert_false (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"));
      return;
    }
  g_assert_cmpint (g_ascii_strcasecmp (description + strlen ("OpenBLAS "), wanted), ==, 0);
}

/* ---- Linear ---- */

typedef struct
{
  int B, I, N;
  float *x, *w, *b, *out, *R;
} LinearCase;

static double
linear_loss (gpointer data)
{
  LinearCase *c = data;
  cs_linear_forward (c->out, c->x, c->w, c->b, c->B, c->I, c->N);
  return dot_double (c->out, c->R, (gsize) c->B * c->N);
}

static void
test_linear (void)
{
  static const int shapes[][3] = { { 1, 1, 1 }, { 3, 7, 5 }, { 16, 33, 10 }, { 100, 784, 10 } };

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      LinearCase c = { shapes[s][0], shapes[s][1], shapes[s][2] };
      gsize nx = (gsize) c.B * c.I, nw = (gsize) c.N * c.I, no = (gsize) c.B * c.N;
      float *ref = cs_alloc_floats (no);
      float *dx = cs_alloc_floats (nx), *dw = cs_alloc_floats (nw), *db = cs_alloc_floats (c.N);
      float *dx2 = cs_alloc_floats (nx), *dw2 = cs_alloc_floats (nw), *db2 = cs_alloc_floats (c.N);

      c.x = random_floats (nx, -1, 1);
      c.w = random_floats (nw, -1, 1);
      c.b = random_floats (c.N, -1, 1);
      c.R = random_floats (no, -1, 1);
      c.out = cs_alloc_floats (no);

      /* BLAS path equals the reference. */
      cs_linear_forward (c.out, c.x, c.w, c.b, c.B, c.I, c.N);
      cs_linear_forward_ref (ref, c.x, c.w, c.b, c.B, c.I, c.N);
      assert_close (c.out, ref, no, 1e-5f, "linear forward");
      cs_linear_backward (dx, dw, db, c.R, c.x, c.w, c.B, c.I, c.N);
      cs_linear_backward_ref (dx2, dw2, db2, c.R, c.x, c.w, c.B, c.I, c.N);
      assert_close (dx, dx2, nx, 1e-5f, "linear dx");
      assert_close (dw, dw2, nw, 1e-5f, "linear dw");
      assert_close (db, db2, c.N, 1e-5f, "linear db");

      /* Gradients equal central differences. */
      check_grad ("linear dx", c.x, nx, dx, linear_loss, &c, 1e-2, 2e-3);
      check_grad ("linear dw", c.w, nw, dw, linear_loss, &c, 1e-2, 2e-3);
      check_grad ("linear db", c.b, c.N, db, linear_loss, &c, 1e-2, 2e-3);

      cs_free_floats (c.x); cs_free_floats (c.w); cs_free_floats (c.b); cs_free_floats (c.R);
      cs_free_floats (c.out); cs_free_floats (ref);
      cs_free_floats (dx); cs_free_floats (dw); cs_free_floats (db);
      cs_free_floats (dx2); cs_free_floats (dw2); cs_free_floats (db2);
    }
}

/* ---- Conv2d ---- */

typedef struct
{
  CsConvGeometry g;
  float *x, *w, *b, *out, *R, *col, *tmp;
} ConvCase;

static double
conv_loss (gpointer data)
{
  ConvCase *c = data;
  cs_conv2d_forward (c->out, c->col, c->tmp, c->x, c->w, c->b, &c->g);
  return dot_double (c->out, c->R, (gsize) c->g.B * c->g.K * c->g.Ho * c->g.Wo);
}

static CsConvGeometry
window (int B, int C, int H, int W, int K, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
        gboolean                                                                                       ceil_mode)
{
  CsConvGeometry g = { B, C, H, W, K, kh, kw, sh, sw, ph, pw, dh, dw, 0, 0, TRUE };
  int ekh = dh * (kh - 1) + 1, ekw = dw * (kw - 1) + 1;

  if (ceil_mode)
    {
      g.Ho = (H + 2 * ph - ekh + sh - 1) / sh + 1;
      g.Wo = (W + 2 * pw - ekw + sw - 1) / sw + 1;
      if ((g.Ho - 1) * sh >= H + ph)
        g.Ho--;
      if ((g.Wo - 1) * sw >= W + pw)
        g.Wo--;
    }
  else
    {
      g.Ho = (H + 2 * ph - ekh) / sh + 1;
      g.Wo = (W + 2 * pw - ekw) / sw + 1;
    }
  return g;
}

static void
test_conv2d (void)
{
  CsConvGeometry cases[] = {
    /*      B  C  H  W  K  kh kw sh sw ph pw dh dw */
    window (2, 3, 7, 6, 4, 3, 2, 2, 1, 1, 0, 1, 2, FALSE),
    window (1, 1, 5, 5, 2, 5, 5, 1, 1, 2, 2, 1, 1, FALSE),   /* LeNet's conv1 shape, small */
    window (3, 2, 9, 8, 3, 3, 3, 3, 2, 2, 1, 2, 1, FALSE),   /* stride 3, dilation 2, padding */
    window (2, 6, 10, 10, 5, 5, 5, 1, 1, 0, 0, 1, 1, FALSE), /* LeNet's conv2 shape */
    window (2, 4, 5, 5, 6, 5, 5, 1, 1, 0, 0, 1, 1, FALSE),   /* 1x1 output, like conv3 */
    window (1, 1, 3, 4, 1, 1, 1, 1, 1, 0, 0, 1, 1, FALSE),   /* 1x1 kernel */
    window (2, 1, 28, 28, 7, 5, 5, 1, 1, 2, 2, 1, 1, FALSE), /* the notebook CNN's conv: 4+2+1 kernels at a time */
    window (2, 1, 12, 30, 6, 3, 3, 1, 1, 1, 0, 1, 1, FALSE), /* 28 outputs a row, no side padding */
    window (2, 2, 5, 5, 3, 1, 1, 1, 1, 1, 1, 1, 1, FALSE),   /* padding wider than the kernel: dx by GEMM */
    window (2, 3, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, FALSE),   /* 3x3 taps, rows of 8 */
    window (2, 2, 12, 12, 3, 7, 7, 1, 1, 3, 3, 1, 1, FALSE), /* 7x7: the direct kernels' general path */
    window (2, 3, 9, 20, 4, 3, 4, 1, 1, 1, 2, 1, 1, FALSE),  /* 3x4 kernel, rows of 21 (two vectors) */
    window (2, 32, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, FALSE),  /* 288 taps: still direct */
    window (2, 72, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, FALSE),  /* 648 taps: im2col and GEMM throughout */
    window (9, 3, 28, 28, 4, 3, 3, 1, 1, 1, 1, 1, 1, FALSE), /* 3x3 on rows of 28: weight sums by chunks of samples */
    window (11, 5, 14, 14, 3, 3, 3, 1, 1, 1, 1, 1, 1, FALSE),/* 3x3 on rows of 14, a last chunk shorter */
    window (9, 2, 9, 30, 3, 3, 3, 1, 1, 2, 0, 1, 1, FALSE),  /* 3x3, more rows of padding than of kernel overhang */
    window (6, 4, 28, 28, 6, 3, 3, 2, 2, 1, 1, 1, 1, FALSE), /* stride 2: even and odd columns apart, kernels in pairs */
    window (3, 3, 13, 40, 4, 3, 3, 2, 2, 1, 1, 1, 1, FALSE), /* stride 2, rows of 20 outputs (two vectors) */
    window (3, 2, 15, 15, 5, 5, 5, 2, 2, 2, 2, 1, 1, FALSE), /* stride 2, 5x5, an odd number of kernels */
    window (2, 3, 11, 9, 4, 3, 4, 3, 1, 1, 2, 1, 1, FALSE),  /* row stride 3, 3x4 kernel */
    window (3, 3, 13, 13, 4, 3, 3, 2, 2, 1, 1, 1, 1, FALSE), /* stride 2, odd width: dx scattered, odd columns first */
    window (2, 2, 9, 35, 3, 5, 5, 2, 2, 0, 0, 1, 1, FALSE),  /* stride 2, 35 columns: dx gathered 32 at a time */
    window (3, 5, 6, 6, 4, 1, 1, 1, 1, 0, 0, 1, 1, FALSE),   /* 1x1, kernels in pairs */
    window (2, 4, 14, 14, 6, 1, 1, 2, 2, 0, 0, 1, 1, FALSE), /* 1x1 stride 2: im2col */
    window (3, 4, 20, 20, 6, 1, 1, 2, 2, 0, 0, 1, 1, FALSE), /* 1x1 stride 2, 100 outputs: im2col and GEMM a sample at a time */
    window (2, 3, 20, 20, 4, 3, 3, 1, 1, 2, 2, 2, 2, FALSE), /* dilation 2, 400 outputs: the same */
    window (3, 5, 14, 14, 27, 3, 3, 1, 1, 1, 1, 1, 1, FALSE),/* rows of 14: kernels 16, 8, 2 and 1 at a time */
    window (2, 17, 12, 12, 18, 3, 3, 1, 1, 1, 1, 1, 1, FALSE),/* the input gradient's 17 channels: 16 + 1 */
    window (3, 4, 15, 15, 16, 3, 3, 2, 2, 0, 0, 1, 1, FALSE),/* stride 2 without padding, odd width, 16 kernels */
    window (2, 3, 16, 29, 20, 3, 3, 2, 2, 2, 2, 1, 1, FALSE),/* stride 2, padding 2, rows of 16: 16 + 4 kernels */
    window (2, 3, 10, 10, 17, 5, 5, 1, 1, 2, 2, 1, 1, FALSE),/* 5x5 (taps not unrolled), 16 + 1 kernels */
    window (3, 4, 20, 26, 3, 3, 3, 1, 1, 1, 1, 1, 1, FALSE), /* rows of 26, 4 channels: gradient rows copied to 32 */
    window (2, 2, 6, 32, 3, 3, 3, 1, 1, 1, 1, 1, 1, FALSE),  /* rows of 32 read in place, two halves per kernel pair */
    window (5, 16, 28, 28, 32, 1, 1, 2, 2, 0, 0, 1, 1, FALSE),/* pointwise: a ResNet's shortcut, chunks of 4 and 1 */
    window (3, 5, 14, 15, 35, 1, 1, 2, 2, 0, 0, 1, 1, FALSE), /* pointwise, odd width: 16 + 16 + 3 kernels, 4 + 1 channels */
    window (2, 6, 9, 12, 17, 1, 1, 3, 2, 0, 0, 1, 1, FALSE),  /* pointwise, row stride 3 */
    window (2, 8, 10, 11, 9, 1, 1, 1, 3, 0, 0, 1, 1, FALSE),  /* pointwise, column stride 3 */
  };

  for (guint s = 0; s < G_N_ELEMENTS (cases); s++)
    {
      ConvCase c = { cases[s] };
      const CsConvGeometry *g = &c.g;
      gsize nx = (gsize) g->B * g->C * g->H * g->W;
      gsize nw = (gsize) g->K * g->C * g->kh * g->kw;
      gsize no = (gsize) g->B * g->K * g->Ho * g->Wo;
      float *ref = cs_alloc_floats (no);
      float *dx = cs_alloc_floats (nx), *dw = cs_alloc_floats (nw), *db = cs_alloc_floats (g->K);
      float *dx2 = cs_alloc_floats (nx), *dw2 = cs_alloc_floats (nw), *db2 = cs_alloc_floats (g->K);
      float *dcol = cs_alloc_floats (cs_conv2d_col_size (g));

      c.x = random_floats (nx, -1, 1);
      c.w = random_floats (nw, -1, 1);
      c.b = random_floats (g->K, -1, 1);
      c.R = random_floats (no, -1, 1);
      c.out = cs_alloc_floats (no);
      c.col = cs_alloc_floats (MAX (cs_conv2d_saved_size (g), 1));
      c.tmp = cs_alloc_floats (cs_conv2d_tmp_size (g));

      g_test_message ("case %u: B %d C %d %dx%d K %d %dx%d stride %d,%d padding %d,%d", s, g->B, g->C, g->H, g->W,
                      g->K, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw);
      cs_conv2d_forward (c.out, c.col, c.tmp, c.x, c.w, c.b, g);
      cs_conv2d_forward_ref (ref, c.x, c.w, c.b, g);
      /* Each output sums C*kh*kw products (153 for 17 channels of 3x3), each
       * input gradient K*kh*kw: the rounding bound grows like the square root. */
      assert_close (c.out, ref, no, 1e-5f * MAX (1.0f, sqrtf ((float) (g->C * g->kh * g->kw) / 64.0f)), "conv2d forward");
      cs_conv2d_backward (dx, FALSE, dw, db, dcol, c.tmp, c.col, c.R, c.x, c.w, g);
      cs_conv2d_backward_ref (dx2, dw2, db2, c.R, c.x, c.w, g);
      assert_close (dx, dx2, nx, 1e-5f * MAX (1.0f, sqrtf ((float) (g->K * g->kh * g->kw) / 64.0f)), "conv2d dx");
      /* Added to what dx held (an input read by other layers too). */
      if (cs_conv2d_can_add_dx (g))
        {
          float *held = random_floats (nx, -1, 1), *dx3 = cs_alloc_floats (nx), *dw3 = cs_alloc_floats (nw);

          memcpy (dx3, held, nx * sizeof (float));
          cs_conv2d_backward (dx3, TRUE, dw3, NULL, dcol, c.tmp, c.col, c.R, c.x, c.w, g);
          for (gsize i = 0; i < nx; i++)
            held[i] += dx2[i];
          assert_close (dx3, held, nx, 2e-5f, "conv2d dx added");
          cs_free_floats (held);
          cs_free_floats (dx3);
          cs_free_floats (dw3);
        }
      /* dw and db sum B*Ho*Wo products (1,568 for the CNN's shape): float
       * rounding grows like the square root of that, so the bound does too. */
      assert_close (dw, dw2, nw, 1e-5f * MAX (1.0f, sqrtf ((float) (g->B * g->Ho * g->Wo) / 64.0f)), "conv2d dw");
      assert_close (db, db2, g->K, 1e-5f * MAX (1.0f, sqrtf ((float) (g->B * g->Ho * g->Wo) / 64.0f)), "conv2d db");

      check_grad ("conv2d dx", c.x, nx, dx, conv_loss, &c, 1e-2, 2e-3);
      check_grad ("conv2d dw", c.w, nw, dw, conv_loss, &c, 1e-2, 2e-3);
      check_grad ("conv2d db", c.b, g->K, db, conv_loss, &c, 1e-2, 2e-3);

      cs_free_floats (c.x); cs_free_floats (c.w); cs_free_floats (c.b); cs_free_floats (c.R);
      cs_free_floats (c.out); cs_free_floats (c.col); cs_free_floats (c.tmp); cs_free_floats (ref);
      cs_free_floats (dx); cs_free_floats (dw); cs_free_floats (db);
      cs_free_floats (dx2); cs_free_floats (dw2); cs_free_floats (db2); cs_free_floats (dcol);
    }
}

/* The backward of the first layer skips dx: weights still right. */
static void
test_conv2d_no_dx (void)
{
  CsConvGeometry g = window (2, 1, 6, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, FALSE);
  gsize nx = 72, nw = 27, no = (gsize) 2 * 3 * g.Ho * g.Wo;
  float *x = random_floats (nx, -1, 1), *w = random_floats (nw, -1, 1), *R = random_floats (no, -1, 1);
  float *out = cs_alloc_floats (no), *col = cs_alloc_floats (MAX (cs_conv2d_saved_size (&g), 1));
  float *tmp = cs_alloc_floats (cs_conv2d_tmp_size (&g));
  float *dw = cs_alloc_floats (nw), *dw2 = cs_alloc_floats (nw), *dx2 = cs_alloc_floats (nx);

  cs_conv2d_forward (out, col, tmp, x, w, NULL, &g);
  cs_conv2d_backward (NULL, FALSE, dw, NULL, NULL, tmp, col, R, x, w, &g);
  cs_conv2d_backward_ref (dx2, dw2, NULL, R, x, w, &g);
  assert_close (dw, dw2, nw, 1e-5f, "conv2d dw without dx");
  cs_free_floats (x); cs_free_floats (w); cs_free_floats (R); cs_free_floats (out);
  cs_free_floats (col); cs_free_floats (tmp); cs_free_floats (dw); cs_free_floats (dw2); cs_free_floats (dx2);
}

/* ---- Pooling ---- */

typedef struct
{
  CsConvGeometry g;
  gboolean max;
  float *x, *out, *R;
  gint32 *argmax;
} PoolCase;

static double
pool_loss (gpointer data)
{
  PoolCase *c = data;
  if (c->max)
    cs_maxpool_forward (c->out, c->argmax, c->x, &c->g);
  else
    cs_avgpool_forward (c->out, c->x, &c->g);
  return dot_double (c->out, c->R, (gsize) c->g.B * c->g.C * c->g.Ho * c->g.Wo);
}

static void
run_pool_case (CsConvGeometry g,
               gboolean       max)
{
  PoolCase c = { g, max };
  gsize nx = (gsize) g.B * g.C * g.H * g.W, no = (gsize) g.B * g.C * g.Ho * g.Wo;
  float *dx = cs_alloc_floats (nx);

  g_assert_cmpint (g.Ho, >, 0);
  g_assert_cmpint (g.Wo, >, 0);
  /* Distinct values spaced wider than 2h, so no maximum switches under the probe. */
  c.x = cs_alloc_floats (nx);
  for (gsize i = 0; i < nx; i++)
    c.x[i] = (float) ((i * 7919) % nx) * 0.05f - 1.0f;
  c.out = cs_alloc_floats (no);
  c.R = random_floats (no, -1, 1);
  c.argmax = g_new0 (gint32, no);

  pool_loss (&c);
  if (max)
    cs_maxpool_backward (dx, c.R, c.argmax, &c.g);
  else
    cs_avgpool_backward (dx, c.R, &c.g);
  check_grad (max ? "maxpool dx" : "avgpool dx", c.x, nx, dx, pool_loss, &c, 1e-3, 5e-3);

  cs_free_floats (c.x); cs_free_floats (c.out); cs_free_floats (c.R); cs_free_floats (dx);
  g_free (c.argmax);
}

/* Scan-order maximum, first one wins, first NaN wins: PyTorch's rule, written plainly. */
static void
maxpool_plain (float *out, gint32 *am, const float *x, const CsConvGeometry *g)
{
  for (int pl = 0; pl < g->B * g->C; pl++)
    for (int oy = 0; oy < g->Ho; oy++)
      for (int ox = 0; ox < g->Wo; ox++)
        {
          const float *in = x + (gsize) pl * g->H * g->W;
          float best = 0;
          gint32 bi = -1;
          for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++)
              {
                int iy = oy * g->sh + i, ix = ox * g->sw + j;
                float v = in[iy * g->W + ix];
                if (bi < 0 || (!isnan (best) && (v > best || isnan (v))))
                  best = v, bi = iy * g->W + ix;
              }
          out[((gsize) pl * g->Ho + oy) * g->Wo + ox] = best;
          am[((gsize) pl * g->Ho + oy) * g->Wo + ox] = bi;
        }
}

/* The vectorised 2x2 paths (stride 1 and 2) on values full of ties and NaNs. */
static void
test_maxpool_ties_and_nan (void)
{
  CsConvGeometry cases[] = { window (2, 3, 28, 28, 3, 2, 2, 1, 1, 0, 0, 1, 1, FALSE),
                       window (2, 3, 28, 28, 3, 2, 2, 2, 2, 0, 0, 1, 1, FALSE),
                       window (1, 2, 9, 37, 2, 2, 2, 2, 1, 0, 0, 1, 1, FALSE) };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const CsConvGeometry *g = &cases[c];
      gsize nx = (gsize) g->B * g->C * g->H * g->W, no = (gsize) g->B * g->C * g->Ho * g->Wo;
      float *x = cs_alloc_floats (nx), *out = cs_alloc_floats (no), *ref = cs_alloc_floats (no);
      gint32 *am = g_new (gint32, no), *am_ref = g_new (gint32, no);

      for (gsize i = 0; i < nx; i++)
        {
          guint32 r = cs_rng_below (&rng, 9);
          x[i] = r == 0 ? NAN : r < 4 ? -1.0f : r < 7 ? 0.0f : 1.0f;
        }
      cs_maxpool_forward (out, am, x, g);
      maxpool_plain (ref, am_ref, x, g);
      for (gsize i = 0; i < no; i++)
        {
          g_assert_cmpint (am[i], ==, am_ref[i]);
          g_assert_true (isnan (out[i]) ? isnan (ref[i]) : out[i] == ref[i]);
        }
      cs_free_floats (x); cs_free_floats (out); cs_free_floats (ref);
      g_free (am); g_free (am_ref);
    }
}

static void
test_maxpool (void)
{
  float x[16] = { 1, 2, 3, 4,
                  5, 6, 7, 8,
                  9, 10, 11, 12,
                  13, 14, 15, 16 };
  float out[4];
  gint32 am[4];
  CsConvGeometry g = window (1, 1, 4, 4, 1, 2, 2, 2, 2, 0, 0, 1, 1, FALSE);

  /* Known values: each 2x2 block's maximum. */
  cs_maxpool_forward (out, am, x, &g);
  g_assert_cmpfloat (out[0], ==, 6);
  g_assert_cmpfloat (out[3], ==, 16);
  g_assert_cmpint (am[1], ==, 7);

  run_pool_case (window (2, 3, 6, 6, 3, 2, 2, 2, 2, 0, 0, 1, 1, FALSE), TRUE);   /* LeNet-like */
  run_pool_case (window (1, 2, 28, 28, 2, 2, 2, 1, 1, 0, 0, 1, 1, FALSE), TRUE); /* the notebook's CNN */
  run_pool_case (window (2, 2, 7, 5, 2, 3, 2, 2, 2, 1, 1, 1, 1, FALSE), TRUE);   /* padding, odd sizes */
  run_pool_case (window (1, 2, 7, 7, 2, 2, 2, 2, 2, 0, 0, 1, 1, TRUE), TRUE);    /* ceil mode */
  run_pool_case (window (1, 1, 9, 9, 1, 3, 3, 2, 2, 1, 1, 2, 2, FALSE), TRUE);   /* dilation */
}

static void
test_avgpool (void)
{
  float x[9] = { 1, 2, 3,
                 4, 5, 6,
                 7, 8, 9 };
  float out[4];
  CsConvGeometry g = window (1, 1, 3, 3, 1, 2, 2, 2, 2, 1, 1, 1, 1, FALSE);

  /* padding 1, count_include_pad: the corner window holds one pixel and three pads. */
  cs_avgpool_forward (out, x, &g);
  g_assert_cmpfloat_with_epsilon (out[0], 1.0f / 4, 1e-6);
  g_assert_cmpfloat_with_epsilon (out[3], (5 + 6 + 8 + 9) / 4.0f, 1e-6);
  g.count_include_pad = FALSE;
  cs_avgpool_forward (out, x, &g);
  g_assert_cmpfloat_with_epsilon (out[0], 1.0f, 1e-6);
  g_assert_cmpfloat_with_epsilon (out[1], (2 + 3) / 2.0f, 1e-6);

  run_pool_case (window (2, 3, 6, 6, 3, 2, 2, 2, 2, 0, 0, 1, 1, FALSE), FALSE);
  run_pool_case (window (2, 2, 7, 5, 2, 3, 2, 2, 2, 1, 1, 1, 1, FALSE), FALSE);
  run_pool_case (window (1, 2, 7, 7, 2, 2, 2, 2, 2, 0, 0, 1, 1, TRUE), FALSE);
  g = window (1, 2, 7, 6, 2, 3, 3, 2, 2, 1, 1, 1, 1, TRUE);
  g.count_include_pad = FALSE;
  run_pool_case (g, FALSE);
}

/* ---- Element-wise ---- */

typedef struct
{
  int    which;
  gsize  n;
  float *x, *out, *R, *mask;
  float  p;
} EltCase;

static double
elt_loss (gpointer data)
{
  EltCase *c = data;
  switch (c->which)
    {
    case 0: cs_relu_forward (c->out, c->x, c->n); break;
    case 1: cs_tanh_forward (c->out, c->x, c->n); break;
    case 2: cs_sigmoid_forward (c->out, c->x, c->n); break;
    case 3:
      for (gsize i = 0; i < c->n; i++)
        c->out[i] = c->x[i] * c->mask[i];
      break;
    case 4: cs_log_softmax_forward (c->out, c->x, (int) c->n / 10, 10); break;
    default: g_assert_not_reached ();
    }
  return dot_double (c->out, c->R, c->n);
}

static void
test_elementwise (void)
{
  static const char * const names[] = { "relu", "tanh", "sigmoid", "dropout", "log_softmax" };

  for (int which = 0; which < 5; which++)
    {
      EltCase c = { which, 60 };
      float *dx = cs_alloc_floats (c.n);

      c.x = random_floats (c.n, -3, 3);
      /* Keep ReLU's inputs away from the kink at 0. */
      for (gsize i = 0; i < c.n; i++)
        if (fabsf (c.x[i]) < 0.05f)
          c.x[i] = 0.5f;
      c.out = cs_alloc_floats (c.n);
      c.R = random_floats (c.n, -1, 1);
      c.mask = cs_alloc_floats (c.n);
      if (which == 3)
        {
          float *tmp = cs_alloc_floats (c.n);
          cs_dropout_forward (tmp, c.mask, c.x, c.n, 0.3f, &rng);
          cs_free_floats (tmp);
        }
      elt_loss (&c);
      switch (which)
        {
        case 0: cs_relu_backward (dx, c.R, c.out, c.n); break;
        case 1: cs_tanh_backward (dx, c.R, c.out, c.n); break;
        case 2: cs_sigmoid_backward (dx, c.R, c.out, c.n); break;
        case 3: cs_dropout_backward (dx, c.R, c.mask, c.n); break;
        case 4: cs_log_softmax_backward (dx, c.R, c.out, (int) c.n / 10, 10); break;
        default: g_assert_not_reached ();
        }
      check_grad (names[which], c.x, c.n, dx, elt_loss, &c, 1e-2, 3e-3);
      cs_free_floats (c.x); cs_free_floats (c.out); cs_free_floats (c.R); cs_free_floats (c.mask);
      cs_free_floats (dx);
    }
}

/* ---- Losses ---- */

typedef struct
{
  gboolean nll;
  int B, N;
  float *z;
  gint32 *y;
} LossCase;

static double
loss_value (gpointer data)
{
  LossCase *c = data;
  return c->nll ? cs_nll_loss (NULL, c->z, c->y, c->B, c->N) : cs_cross_entropy_loss (NULL, c->z, c->y, c->B, c->N);
}

static void
test_losses (void)
{
  /* Known value: uniform logits give log(N). */
  {
    float z[20] = { 0 };
    gint32 y[2] = { 3, 7 };
    g_assert_cmpfloat_with_epsilon (cs_cross_entropy_loss (NULL, z, y, 2, 10), log (10.0), 1e-6);
  }

  for (int nll = 0; nll < 2; nll++)
    {
      LossCase c = { nll, 5, 10 };
      float *d = cs_alloc_floats (50);

      c.z = random_floats (50, -4, 4);
      c.y = g_new (gint32, 5);
      for (int i = 0; i < 5; i++)
        c.y[i] = (i * 3) % 10;
      if (nll)
        cs_nll_loss (d, c.z, c.y, c.B, c.N);
      else
        cs_cross_entropy_loss (d, c.z, c.y, c.B, c.N);
      check_grad (nll ? "nll" : "cross_entropy", c.z, 50, d, loss_value, &c, 1e-2, 2e-3);
      cs_free_floats (c.z);
      cs_free_floats (d);
      g_free (c.y);
    }
}

/* The vectorised tanh against libm's, and at the edges. */
static void
test_tanh_reference (void)
{
  gsize n = 200001;
  float *x = cs_alloc_floats (n + 4), *fast = cs_alloc_floats (n + 4), *ref = cs_alloc_floats (n + 4);
  float worst = 0;

  for (gsize i = 0; i < n; i++)
    x[i] = -20.0f + 40.0f * (float) i / (n - 1);
  x[n] = INFINITY;
  x[n + 1] = -INFINITY;
  x[n + 2] = 1e-30f;
  x[n + 3] = NAN;
  cs_tanh_forward (fast, x, n + 4);
  cs_tanh_forward_ref (ref, x, n + 4);
  for (gsize i = 0; i < n + 3; i++)
    worst = MAX (worst, fabsf (fast[i] - ref[i]));
  g_assert_cmpfloat (worst, <, 2e-6f);
  g_assert_cmpfloat (fast[n], ==, 1.0f);
  g_assert_cmpfloat (fast[n + 1], ==, -1.0f);
  g_assert_true (isnan (fast[n + 3]));
  cs_free_floats (x);
  cs_free_floats (fast);
  cs_free_floats (ref);
}

/* ---- Dropout statistics ---- */

static void
test_dropout_statistics (void)
{
  gsize n = 1000000;
  float *x = cs_alloc_floats (n), *out = cs_alloc_floats (n), *mask = cs_alloc_floats (n);
  gsize zeros = 0;
  double sum = 0;

  for (gsize i = 0; i < n; i++)
    x[i] = 1.0f;
  cs_dropout_forward (out, mask, x, n, 0.2f, &rng);
  for (gsize i = 0; i < n; i++)
    {
      if (out[i] == 0.0f)
        zeros++;
      else
        g_assert_cmpfloat_with_epsilon (out[i], 1.25f, 1e-6);   /* inverted scaling 1 / (1 - p) */
      sum += out[i];
    }
  /* 0.2 of the values dropped: the binomial's std is 0.0004, allow 5 of them. */
  g_assert_cmpfloat_with_epsilon ((double) zeros / n, 0.2, 0.002);
  g_assert_cmpfloat_with_epsilon (sum / n, 1.0, 0.005);

  /* p = 0 keeps everything; p = 1 drops everything, as PyTorch does. */
  cs_dropout_forward (out, mask, x, 1000, 0.0f, &rng);
  for (gsize i = 0; i < 1000; i++)
    g_assert_cmpfloat (out[i], ==, 1.0f);
  cs_dropout_forward (out, mask, x, 1000, 1.0f, &rng);
  for (gsize i = 0; i < 1000; i++)
    g_assert_cmpfloat (out[i], ==, 0.0f);

  cs_free_floats (x);
  cs_free_floats (out);
  cs_free_floats (mask);
}

/* The sixteen-lane kernel draws exactly the masks of the one-at-a-time
 * reference (sizes that end mid-lane and mid-chunk, several p), and
 * neighbouring elements, which come from different lanes, are independent. */
static void
test_dropout_matches_ref (void)
{
  static const gsize sizes[] = { 1, 15, 17, 16384, 16385, 100003 };
  static const float ps[] = { 0.0f, 0.25f, 0.5f, 0.9f, 1.0f };

  for (guint si = 0; si < G_N_ELEMENTS (sizes); si++)
    for (guint pi = 0; pi < G_N_ELEMENTS (ps); pi++)
      {
        gsize n = sizes[si];
        float *x = cs_alloc_floats (n), *out = cs_alloc_floats (n), *mask = cs_alloc_floats (n);
        float *out_ref = cs_alloc_floats (n), *mask_ref = cs_alloc_floats (n);
        CsRng a, b;

        for (gsize i = 0; i < n; i++)
          x[i] = (float) i - 7.5f;
        cs_rng_seed (&a, 42 + si, pi);
        b = a;
        cs_dropout_forward (out, mask, x, n, ps[pi], &a);
        cs_dropout_forward_ref (out_ref, mask_ref, x, n, ps[pi], &b);
        g_assert_cmpmem (mask, n * sizeof (float), mask_ref, n * sizeof (float));
        g_assert_cmpmem (out, n * sizeof (float), out_ref, n * sizeof (float));
        g_assert_cmpuint (a.state, ==, b.state);

        if (n == 100003 && ps[pi] == 0.5f)
          {
            gsize both = 0;
            for (gsize i = 0; i + 1 < n; i++)
              both += mask[i] == 0.0f && mask[i + 1] == 0.0f;
            /* P(both dropped) = 0.25; the std over 1e5 pairs is 0.0014. */
            g_assert_cmpfloat_with_epsilon ((double) both / (n - 1), 0.25, 0.007);
          }
        cs_free_floats (x);
        cs_free_floats (out);
        cs_free_floats (mask);
        cs_free_floats (out_ref);
        cs_free_floats (mask_ref);
      }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CsThreadPool) pool = NULL;
  g_test_init (&argc, &argv, NULL);
  cs_rng_seed (&rng, 2024, 0);
  pool = cs_thread_pool_new (2);
  cs_thread_pool_set_current (pool);

  g_test_add_func ("/core/gemm/vs-reference", test_gemm_reference);
  g_test_add_func ("/core/gemm/split-deterministic", test_gemm_split);
  g_test_add_func ("/core/gemm/blas-kernels", test_gemm_blas_kernels);
  g_test_add_func ("/core/linear/reference-and-gradcheck", test_linear);
  g_test_add_func ("/core/conv2d/reference-and-gradcheck", test_conv2d);
  g_test_add_func ("/core/conv2d/no-input-gradient", test_conv2d_no_dx);
  g_test_add_func ("/core/maxpool2d/gradcheck", test_maxpool);
  g_test_add_func ("/core/maxpool2d/ties-and-nan", test_maxpool_ties_and_nan);
  g_test_add_func ("/core/avgpool2d/gradcheck", test_avgpool);
  g_test_add_func ("/core/activations/gradcheck", test_elementwise);
  g_test_add_func ("/core/loss/gradcheck", test_losses);
  g_test_add_func ("/core/dropout/statistics", test_dropout_statistics);
  g_test_add_func ("/core/dropout/matches-ref", test_dropout_matches_ref);
  g_test_add_func ("/core/tanh/vs-reference", test_tanh_reference);

  return g_test_run ();
}
