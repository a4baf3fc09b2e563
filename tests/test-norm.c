/* Kernel tests for the layers PyTorch classes bring beyond the notebook's:
 * BatchNorm, LeakyReLU, ELU, GELU, SiLU, AdaptiveAvgPool2d, Softmax, Dropout2d. Each fast version
 * against its reference, and central-difference gradient checks. */

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "base/cs-rng.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-kernels.h"
#include "cs-test-kernels.h"

/* LeakyReLU, ELU, GELU (both forms), SiLU: known values, the threaded
 * version against the reference, and a central-difference gradient check. */
typedef struct
{
  CsActivation act;
  float        alpha;
  gsize        n;
  float       *x, *out, *R;
} ActCase;

static double
act_loss (gpointer data)
{
  ActCase *c = data;
  cs_activation_forward_ref (c->act, c->alpha, c->out, c->x, c->n);
  return dot_double (c->out, c->R, c->n);
}

static void
test_activations (void)
{
  static const struct { CsActivation act; float alpha; const char *name; float at1, atm1; } cases[] = {
    /* f(1) and f(-1), from PyTorch 1.13 */
    { CS_ACT_LEAKY_RELU, 0.01f, "leaky_relu", 1.0f, -0.01f },
    { CS_ACT_LEAKY_RELU, 0.2f, "leaky_relu(0.2)", 1.0f, -0.2f },
    { CS_ACT_ELU, 1.0f, "elu", 1.0f, -0.63212056f },
    { CS_ACT_GELU, 0, "gelu", 0.84134475f, -0.15865525f },
    { CS_ACT_GELU_TANH, 0, "gelu(tanh)", 0.84119199f, -0.15880801f },
    { CS_ACT_SILU, 0, "silu", 0.73105858f, -0.26894142f },
  };

  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      const gsize big = 300007;   /* several chunks of the thread pool, and a ragged end */
      ActCase c = { cases[k].act, cases[k].alpha, 64 };
      float one[2] = { 1.0f, -1.0f }, f[2];
      float *x = random_floats (big, -4, 4), *dout = random_floats (big, -1, 1);
      float *o1 = cs_alloc_floats (big), *o2 = cs_alloc_floats (big);
      float *dx;

      cs_activation_forward (c.act, c.alpha, f, one, 2);
      assert_close (f, (float[]) { cases[k].at1, cases[k].atm1 }, 2, 1e-6f, cases[k].name);

      cs_activation_forward (c.act, c.alpha, o1, x, big);
      cs_activation_forward_ref (c.act, c.alpha, o2, x, big);
      g_assert_cmpmem (o1, big * sizeof (float), o2, big * sizeof (float));
      cs_activation_backward (c.act, c.alpha, o1, dout, x, big);
      cs_activation_backward_ref (c.act, c.alpha, o2, dout, x, big);
      g_assert_cmpmem (o1, big * sizeof (float), o2, big * sizeof (float));

      c.x = random_floats (c.n, -3, 3);
      /* Away from LeakyReLU's and ELU's kink at 0. */
      for (gsize i = 0; i < c.n; i++)
        if (fabsf (c.x[i]) < 0.05f)
          c.x[i] = 0.5f;
      c.out = cs_alloc_floats (c.n);
      c.R = random_floats (c.n, -1, 1);
      dx = cs_alloc_floats (c.n);
      cs_activation_backward (c.act, c.alpha, dx, c.R, c.x, c.n);
      check_grad (cases[k].name, c.x, c.n, dx, act_loss, &c, 1e-2, 3e-3);

      cs_free_floats (c.x); cs_free_floats (c.out); cs_free_floats (c.R); cs_free_floats (dx);
      cs_free_floats (x); cs_free_floats (dout); cs_free_floats (o1); cs_free_floats (o2);
    }
}

/* ---- BatchNorm ---- */

typedef struct
{
  CsBatchNormArgs a;
  gsize  n;
  float *x, *gamma, *beta, *rm, *rv, *out, *xhat, *is, *R;
} BnCase;

static double
bn_loss (gpointer data)
{
  BnCase *c = data;
  /* The running statistics normalize in evaluation; in training they are not touched here. */
  cs_batchnorm_forward_ref (c->out, c->xhat, c->is, c->x, c->gamma, c->beta,
                            c->a.use_batch_stats ? NULL : c->rm, c->a.use_batch_stats ? NULL : c->rv, &c->a);
  return dot_double (c->out, c->R, c->n);
}

static void
test_batchnorm (void)
{
  static const int shapes[][3] = { { 7, 5, 1 }, { 4, 3, 9 }, { 33, 6, 49 } };   /* B, C, P */

  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++)
    for (int train = 0; train < 2; train++)
      {
        BnCase c = { { shapes[k][0], shapes[k][1], shapes[k][2], 1e-5f, 0.1f, train } };
        const int C = c.a.C, P = c.a.P, B = c.a.B;
        gsize n = (gsize) B * C * P;
        float *out2 = cs_alloc_floats (n), *xhat2 = cs_alloc_floats (n), mean2[8], is2[8], rm2[8], rv2[8];
        float *dx = cs_alloc_floats (n), *dx2 = cs_alloc_floats (n);
        float dg[8] = { 0 }, db[8] = { 0 }, dg2[8] = { 0 }, db2[8] = { 0 };
        char what[64];

        c.n = n;
        c.x = random_floats (n, -2, 3);
        c.gamma = random_floats (C, 0.5f, 2);
        c.beta = random_floats (C, -1, 1);
        c.rm = random_floats (C, -0.5f, 0.5f);
        c.rv = random_floats (C, 0.5f, 2);
        c.out = cs_alloc_floats (n);
        c.xhat = cs_alloc_floats (n);
        c.is = cs_alloc_floats (C);
        c.R = random_floats (n, -1, 1);
        memcpy (rm2, c.rm, C * sizeof (float));
        memcpy (rv2, c.rv, C * sizeof (float));

        /* The fast version against the reference, running statistics included. */
        {
          g_autofree float *rm_ref = g_memdup2 (c.rm, C * sizeof (float));
          g_autofree float *rv_ref = g_memdup2 (c.rv, C * sizeof (float));
          cs_batchnorm_forward_ref (c.out, c.xhat, c.is, c.x, c.gamma, c.beta, rm_ref, rv_ref, &c.a);
          cs_batchnorm_forward (out2, mean2, is2, c.x, c.gamma, c.beta, rm2, rv2, &c.a);
          assert_close (out2, c.out, n, 1e-5f, "batchnorm out");
          /* The fast version keeps the mean and 1/std: they give the reference's xhat. */
          for (gsize i = 0; i < n; i++)
            xhat2[i] = (c.x[i] - mean2[i / P % C]) * is2[i / P % C];
          assert_close (xhat2, c.xhat, n, 1e-5f, "batchnorm xhat");
          assert_close (is2, c.is, C, 1e-5f, "batchnorm inv_std");
          assert_close (rm2, rm_ref, C, 1e-6f, "running_mean");
          assert_close (rv2, rv_ref, C, 1e-6f, "running_var");
        }

        for (int ch = 0; ch < C; ch++)
          {
            double mean = 0, var = 0, omean = 0;
            gsize M = (gsize) B * P;
            for (int b = 0; b < B; b++)
              for (int p = 0; p < P; p++)
                mean += c.x[((gsize) b * C + ch) * P + p];
            mean /= M;
            for (int b = 0; b < B; b++)
              for (int p = 0; p < P; p++)
                {
                  double d = c.x[((gsize) b * C + ch) * P + p] - mean;
                  var += d * d;
                  omean += out2[((gsize) b * C + ch) * P + p];
                }
            omean /= M;
            if (train)
              {
                /* PyTorch's update: the unbiased variance goes into running_var. */
                g_assert_cmpfloat_with_epsilon (rm2[ch], 0.9 * c.rm[ch] + 0.1 * mean, 1e-5);
                g_assert_cmpfloat_with_epsilon (rv2[ch], 0.9 * c.rv[ch] + 0.1 * var / (M - 1), 1e-4);
                /* Normalized with the biased variance: each channel comes out with mean beta. */
                g_assert_cmpfloat_with_epsilon (omean, c.beta[ch], 1e-4);
              }
            else
              {
                g_assert_cmpfloat (rm2[ch], ==, c.rm[ch]);
                g_assert_cmpfloat_with_epsilon (out2[ch * P],
                                                (c.x[ch * P] - c.rm[ch]) / sqrt (c.rv[ch] + 1e-5) * c.gamma[ch] + c.beta[ch],
                                                1e-5);
              }
          }

        cs_batchnorm_backward (dx, dg, db, c.R, NULL, c.x, mean2, is2, c.gamma, c.beta, &c.a);
        cs_batchnorm_backward_ref (dx2, dg2, db2, c.R, c.xhat, c.is, c.gamma, &c.a);
        assert_close (dx, dx2, n, 1e-4f, "batchnorm dx");
        assert_close (dg, dg2, C, 1e-4f, "batchnorm dgamma");
        assert_close (db, db2, C, 1e-4f, "batchnorm dbeta");

        /* A ReLU fused in: the same bits as BatchNorm, then ReLU, and back. */
        {
          CsBatchNormArgs fa = c.a;
          float *y = cs_alloc_floats (n), *yf = cs_alloc_floats (n), *dmid = cs_alloc_floats (n);
          float *dxu = cs_alloc_floats (n), *dxf = cs_alloc_floats (n), m3[8], is3[8];
          float dgu[8] = { 0 }, dbu[8] = { 0 }, dgf[8] = { 0 }, dbf[8] = { 0 }, rm3[8], rv3[8];
          gboolean zeros = FALSE;

          fa.relu = TRUE;
          memcpy (rm3, c.rm, C * sizeof (float));
          memcpy (rv3, c.rv, C * sizeof (float));
          cs_batchnorm_forward (y, m3, is3, c.x, c.gamma, c.beta, rm3, rv3, &c.a);
          cs_relu_forward (y, y, n);
          memcpy (rm3, c.rm, C * sizeof (float));
          memcpy (rv3, c.rv, C * sizeof (float));
          cs_batchnorm_forward (yf, m3, is3, c.x, c.gamma, c.beta, rm3, rv3, &fa);
          g_assert_cmpmem (yf, n * sizeof (float), y, n * sizeof (float));
          for (gsize i = 0; i < n; i++)
            zeros |= yf[i] == 0.0f;
          g_assert_true (zeros);
          cs_relu_backward (dmid, c.R, y, n);
          cs_batchnorm_backward (dxu, dgu, dbu, dmid, NULL, c.x, m3, is3, c.gamma, c.beta, &c.a);
          cs_batchnorm_backward (dxf, dgf, dbf, c.R, NULL, c.x, m3, is3, c.gamma, c.beta, &fa);
          g_assert_cmpmem (dxf, n * sizeof (float), dxu, n * sizeof (float));
          g_assert_cmpmem (dgf, C * sizeof (float), dgu, C * sizeof (float));
          g_assert_cmpmem (dbf, C * sizeof (float), dbu, C * sizeof (float));
          /* The same mask given as a ReLU's output. */
          memset (dgf, 0, sizeof dgf);
          memset (dbf, 0, sizeof dbf);
          cs_batchnorm_backward (dxf, dgf, dbf, c.R, y, c.x, m3, is3, c.gamma, c.beta, &c.a);
          g_assert_cmpmem (dxf, n * sizeof (float), dxu, n * sizeof (float));
          g_assert_cmpmem (dgf, C * sizeof (float), dgu, C * sizeof (float));
          g_assert_cmpmem (dbf, C * sizeof (float), dbu, C * sizeof (float));
          cs_free_floats (y); cs_free_floats (yf); cs_free_floats (dmid); cs_free_floats (dxu); cs_free_floats (dxf);
        }

        g_snprintf (what, sizeof what, "batchnorm %dx%dx%d %s dx", B, C, P, train ? "train" : "eval");
        check_grad (what, c.x, n, dx, bn_loss, &c, 1e-2, 3e-3);
        g_snprintf (what, sizeof what, "batchnorm %dx%dx%d %s dgamma", B, C, P, train ? "train" : "eval");
        check_grad (what, c.gamma, C, dg, bn_loss, &c, 1e-2, 3e-3);
        g_snprintf (what, sizeof what, "batchnorm %dx%dx%d %s dbeta", B, C, P, train ? "train" : "eval");
        check_grad (what, c.beta, C, db, bn_loss, &c, 1e-2, 3e-3);

        cs_free_floats (c.x); cs_free_floats (c.gamma); cs_free_floats (c.beta); cs_free_floats (c.rm);
        cs_free_floats (c.rv); cs_free_floats (c.out); cs_free_floats (c.xhat); cs_free_floats (c.is);
        cs_free_floats (c.R); cs_free_floats (out2); cs_free_floats (xhat2); cs_free_floats (dx);
        cs_free_floats (dx2);
      }
}

/* ---- AdaptiveAvgPool2d, Softmax, Dropout2d ---- */

typedef struct
{
  int    which;   /* 0 adaptive pool, 1 softmax */
  gsize  planes;
  int    H, W, oh, ow;
  float *x, *out, *R;
  gsize  n_out;
} PoolCase;

static double
pool_loss (gpointer data)
{
  PoolCase *c = data;
  if (c->which == 0)
    cs_adaptive_avgpool_forward_ref (c->out, c->x, c->planes, c->H, c->W, c->oh, c->ow);
  else
    cs_softmax_forward (c->out, c->x, (int) c->planes, c->W);
  return dot_double (c->out, c->R, c->n_out);
}

static void
test_adaptive_pool_and_softmax (void)
{
  /* 7 -> 3: PyTorch's windows [0,3) [2,5) [4,7); 6 -> 4: [0,2) [1,3) [3,5) [4,6) */
  static const int cases[][4] = { { 7, 7, 3, 3 }, { 6, 5, 4, 2 }, { 5, 5, 1, 1 }, { 4, 4, 4, 4 }, { 3, 3, 5, 4 },
                                  { 14, 14, 1, 1 } };

  {
    float row[7] = { 1, 2, 3, 4, 5, 6, 7 }, o[3];
    cs_adaptive_avgpool_forward (o, row, 1, 1, 7, 1, 3);
    assert_close (o, (float[]) { 2, 4, 6 }, 3, 1e-6f, "7 -> 3 windows");
  }
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      PoolCase c = { 0, 6, cases[k][0], cases[k][1], cases[k][2], cases[k][3] };
      gsize n_in = c.planes * c.H * c.W;
      float *fast, *dx, *dx_ref;

      c.n_out = c.planes * c.oh * c.ow;
      c.x = random_floats (n_in, -1, 1);
      c.out = cs_alloc_floats (c.n_out);
      c.R = random_floats (c.n_out, -1, 1);
      fast = cs_alloc_floats (c.n_out);
      dx = cs_alloc_floats (n_in);
      dx_ref = cs_alloc_floats (n_in);
      pool_loss (&c);
      cs_adaptive_avgpool_forward (fast, c.x, c.planes, c.H, c.W, c.oh, c.ow);
      /* To 1x1 the fast version sums in 16 lanes first: not the reference's order. */
      if (c.oh == 1 && c.ow == 1)
        assert_close (fast, c.out, c.n_out, 1e-6f, "global average pooling");
      else
        g_assert_cmpmem (fast, c.n_out * sizeof (float), c.out, c.n_out * sizeof (float));
      if (c.oh == 1)
        {
          /* to 1x1: the mean of the plane */
          double mean = 0;
          for (int i = 0; i < c.H * c.W; i++)
            mean += c.x[i];
          g_assert_cmpfloat_with_epsilon (fast[0], mean / (c.H * c.W), 1e-6);
        }
      if (c.oh == c.H && c.ow == c.W)
        g_assert_cmpmem (fast, c.n_out * sizeof (float), c.x, n_in * sizeof (float));
      cs_adaptive_avgpool_backward (dx, c.R, c.planes, c.H, c.W, c.oh, c.ow);
      cs_adaptive_avgpool_backward_ref (dx_ref, c.R, c.planes, c.H, c.W, c.oh, c.ow);
      g_assert_cmpmem (dx, n_in * sizeof (float), dx_ref, n_in * sizeof (float));
      check_grad ("adaptive_avg_pool2d", c.x, n_in, dx, pool_loss, &c, 1e-2, 3e-3);
      cs_free_floats (c.x); cs_free_floats (c.out); cs_free_floats (c.R);
      cs_free_floats (fast); cs_free_floats (dx); cs_free_floats (dx_ref);
    }

  {
    PoolCase c = { 1, 4, 1, 10 };
    float *dx;

    c.n_out = 40;
    c.x = random_floats (40, -3, 3);
    c.out = cs_alloc_floats (40);
    c.R = random_floats (40, -1, 1);
    dx = cs_alloc_floats (40);
    pool_loss (&c);
    for (int r = 0; r < 4; r++)
      {
        double sum = 0;
        for (int j = 0; j < 10; j++)
          sum += c.out[r * 10 + j];
        g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);
      }
    cs_softmax_backward (dx, c.R, c.out, 4, 10);
    check_grad ("softmax", c.x, 40, dx, pool_loss, &c, 1e-2, 3e-3);
    cs_free_floats (c.x); cs_free_floats (c.out); cs_free_floats (c.R); cs_free_floats (dx);
  }
}

/* Whole planes go: each is all zero or all scaled by 1/(1-p), about p of them
 * zero; the same seed gives the same planes; backward multiplies by them. */
static void
test_dropout2d (void)
{
  const gsize planes = 4000, P = 9;
  float *x = random_floats (planes * P, 0.5f, 1.5f), *out = cs_alloc_floats (planes * P);
  float *mask = cs_alloc_floats (planes), *mask2 = cs_alloc_floats (planes), *dx = cs_alloc_floats (planes * P);
  CsRng a, b;
  gsize zero = 0;

  cs_rng_seed (&a, 7, 0);
  cs_rng_seed (&b, 7, 0);
  cs_dropout2d_forward (out, mask, x, planes, P, 0.25f, &a);
  cs_dropout2d_forward (dx, mask2, x, planes, P, 0.25f, &b);
  g_assert_cmpmem (mask, planes * sizeof (float), mask2, planes * sizeof (float));
  for (gsize pl = 0; pl < planes; pl++)
    {
      g_assert_true (mask[pl] == 0.0f || fabsf (mask[pl] - 1.0f / 0.75f) < 1e-6f);
      zero += mask[pl] == 0.0f;
      for (gsize i = 0; i < P; i++)
        g_assert_cmpfloat (out[pl * P + i], ==, x[pl * P + i] * mask[pl]);
    }
  g_assert_cmpfloat (fabs ((double) zero / planes - 0.25), <, 0.03);
  cs_dropout2d_backward (dx, x, mask, planes, P);
  g_assert_cmpmem (dx, planes * P * sizeof (float), out, planes * P * sizeof (float));
  cs_free_floats (x); cs_free_floats (out); cs_free_floats (mask); cs_free_floats (mask2); cs_free_floats (dx);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CsThreadPool) pool = NULL;

  g_test_init (&argc, &argv, NULL);
  cs_rng_seed (&rng, 2026, 0);
  pool = cs_thread_pool_new (2);
  cs_thread_pool_set_current (pool);

  g_test_add_func ("/core/activations/more-vs-reference-and-gradcheck", test_activations);
  g_test_add_func ("/core/batchnorm/reference-and-gradcheck", test_batchnorm);
  g_test_add_func ("/core/adaptive-avgpool-and-softmax/gradcheck", test_adaptive_pool_and_softmax);
  g_test_add_func ("/core/dropout2d/whole-planes", test_dropout2d);

  return g_test_run ();
}
