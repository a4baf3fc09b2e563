/* Conv2d: im2col + GEMM in general, a Linear layer for a full window, the direct kernels (cs-conv2d-direct.c) for small ones; the reference first. */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-thread-pool.h"
#include "nn/cs-gemm.h"
#include "nn/cs-kernels-private.h"

void
cs_conv2d_forward_ref (float                *out,
                       const float          *x,
                       const float          *w,
                       const float          *b,
                       const CsConvGeometry *g)
{
  for (int bi = 0; bi < g->B; bi++)
    for (int k = 0; k < g->K; k++)
      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            double acc = b ? b[k] : 0.0;
            for (int c = 0; c < g->C; c++)
              for (int i = 0; i < g->kh; i++)
                for (int j = 0; j < g->kw; j++)
                  {
                    int iy = oy * g->sh - g->ph + i * g->dh;
                    int ix = ox * g->sw - g->pw + j * g->dw;
                    if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W)
                      continue;
                    acc += (double) x[(((gsize) bi * g->C + c) * g->H + iy) * g->W + ix] *
                           w[(((gsize) k * g->C + c) * g->kh + i) * g->kw + j];
                  }
            out[(((gsize) bi * g->K + k) * g->Ho + oy) * g->Wo + ox] = (float) acc;
          }
}

void
cs_conv2d_backward_ref (float                *dx,
                        float                *dw,
                        float                *db,
                        const float          *dout,
                        const float          *x,
                        const float          *w,
                        const CsConvGeometry *g)
{
  if (dx != NULL)
    memset (dx, 0, sizeof (float) * g->B * g->C * g->H * g->W);
  for (int bi = 0; bi < g->B; bi++)
    for (int k = 0; k < g->K; k++)
      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            float d = dout[(((gsize) bi * g->K + k) * g->Ho + oy) * g->Wo + ox];
            if (db != NULL)
              db[k] += d;
            for (int c = 0; c < g->C; c++)
              for (int i = 0; i < g->kh; i++)
                for (int j = 0; j < g->kw; j++)
                  {
                    int iy = oy * g->sh - g->ph + i * g->dh;
                    int ix = ox * g->sw - g->pw + j * g->dw;
                    gsize xi, wi;
                    if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W)
                      continue;
                    xi = (((gsize) bi * g->C + c) * g->H + iy) * g->W + ix;
                    wi = (((gsize) k * g->C + c) * g->kh + i) * g->kw + j;
                    dw[wi] += d * x[xi];
                    if (dx != NULL)
                      dx[xi] += d * w[wi];
                  }
          }
}

gboolean
cs_conv2d_can_add_dx (const CsConvGeometry *g)
{
  return !cs_conv2d_is_full_window (g);
}

gsize
cs_conv2d_col_size (const CsConvGeometry *g)
{
  return (gsize) g->C * g->kh * g->kw * g->B * g->Ho * g->Wo;
}

/* What the forward pass leaves in col for the backward pass, in floats:
 * nothing for a full-window conv or the direct kernels (they read the input
 * again), the im2col matrix otherwise. */
gsize
cs_conv2d_saved_size (const CsConvGeometry *g)
{
  if (cs_conv2d_is_full_window (g) || cs_conv2d_direct_applies (g) || cs_conv2d_pointwise_applies (g))
    return 0;
  return cs_conv2d_col_size (g);
}

gsize
cs_conv2d_tmp_size (const CsConvGeometry *g)
{
  if (cs_conv2d_pointwise_applies (g))
    return 0;
  return (gsize) g->K * g->B * g->Ho * g->Wo;
}

/* The outputs ox in [lo, hi) whose input column ox * sw + off lies in [0, W)
 * (hi <= lo when there are none). */
static inline void
valid_outputs (int  off,
               int  sw,
               int  W,
               int  Wo,
               int *lo,
               int *hi)
{
  *lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  *hi = W - off <= 0 ? 0 : MIN (Wo, (W - 1 - off) / sw + 1);
  *lo = MIN (*lo, Wo);
}

/*
 * col (C*kh*kw, B*Ho*Wo): row r = (c, i, j) holds, for every sample and
 * output position, the input value under kernel tap (i, j) of channel c:
 *   col[r][b*P + oy*Wo + ox] = x[b][c][oy*sh - ph + i*dh][ox*sw - pw + j*dw]  (0 outside)
 */
typedef struct
{
  float          *dst;
  const float    *src;
  const CsConvGeometry *g;
} ConvJob;

/* The (Ho, Wo) block of im2col's row for tap (i, j) of one input plane. */
static inline __attribute__ ((always_inline)) void
im2col_plane_tap (float                *dst,
                  const float          *plane,
                  const CsConvGeometry *g,
                  int                   i,
                  int                   j)
{
  for (int oy = 0; oy < g->Ho; oy++)
    {
      int iy = oy * g->sh - g->ph + i * g->dh;
      float *d = dst + (gsize) oy * g->Wo;

      if (iy < 0 || iy >= g->H)
        {
          memset (d, 0, sizeof (float) * g->Wo);
          continue;
        }
      if (g->sw == 1)
        {
          /* Contiguous run: the valid ox are those with 0 <= ox - pw + j*dw < W. */
          int off = -g->pw + j * g->dw;
          int lo = MAX (0, -off), hi = MIN (g->Wo, g->W - off);
          const float *src = plane + (gsize) iy * g->W + off;

          if (hi <= lo)
            {
              memset (d, 0, sizeof (float) * g->Wo);
              continue;
            }
          for (int ox = 0; ox < lo; ox++)
            d[ox] = 0.0f;
          for (int ox = lo; ox < hi; ox++)
            d[ox] = src[ox];
          for (int ox = hi; ox < g->Wo; ox++)
            d[ox] = 0.0f;
        }
      else
        {
          int off = -g->pw + j * g->dw, lo, hi;
          const float *src = plane + (gsize) iy * g->W;

          valid_outputs (off, g->sw, g->W, g->Wo, &lo, &hi);
          for (int ox = 0; ox < lo; ox++)
            d[ox] = 0.0f;
          for (int ox = lo; ox < hi; ox++)
            d[ox] = src[ox * g->sw + off];
          for (int ox = MAX (lo, hi); ox < g->Wo; ox++)
            d[ox] = 0.0f;
        }
    }
}

CS_VECTOR_CLONES static void
im2col_rows (gpointer data,
             gsize    r0,
             gsize    r1)
{
  ConvJob *job = data;
  const CsConvGeometry *g = job->g;
  gsize P = (gsize) g->Ho * g->Wo;
  gsize BP = P * g->B;

  for (gsize r = r0; r < r1; r++)
    {
      int c = (int) (r / (g->kh * g->kw)), i = (int) (r / g->kw % g->kh), j = (int) (r % g->kw);

      for (int b = 0; b < g->B; b++)
        im2col_plane_tap (job->dst + r * BP + b * P, job->src + ((gsize) b * g->C + c) * g->H * g->W, g, i, j);
    }
}

/*
 * col (C*kh*kw, B*Ho*Wo): row r = (c, i, j) holds, for every sample and
 * output position, the input value under kernel tap (i, j) of channel c:
 *   col[r][b*P + oy*Wo + ox] = x[b][c][oy*sh - ph + i*dh][ox*sw - pw + j*dw]  (0 outside)
 * Rows are independent: they are spread over the pool.
 */
void
cs_im2col (float                *col,
           const float          *x,
           const CsConvGeometry *g)
{
  ConvJob job = { col, x, g };
  cs_parallel_for ((gsize) g->C * g->kh * g->kw, 1, im2col_rows, &job);
}

CS_VECTOR_CLONES static void
col2im_planes (gpointer data,
               gsize    p0,
               gsize    p1)
{
  ConvJob *job = data;
  const CsConvGeometry *g = job->g;
  gsize P = (gsize) g->Ho * g->Wo;
  gsize BP = P * g->B;

  for (gsize pl = p0; pl < p1; pl++)
    {
      int b = (int) (pl / g->C), c = (int) (pl % g->C);
      float *plane = job->dst + pl * g->H * g->W;

      for (int i = 0; i < g->kh; i++)
        for (int j = 0; j < g->kw; j++)
          {
            const float *src = job->src + ((gsize) (c * g->kh + i) * g->kw + j) * BP + b * P;

            for (int oy = 0; oy < g->Ho; oy++)
              {
                int iy = oy * g->sh - g->ph + i * g->dh;
                const float *sr = src + (gsize) oy * g->Wo;
                float *drow;

                if (iy < 0 || iy >= g->H)
                  continue;
                drow = plane + (gsize) iy * g->W;
                if (g->sw == 1)
                  {
                    int off = -g->pw + j * g->dw;
                    int lo = MAX (0, -off), hi = MIN (g->Wo, g->W - off);
                    for (int ox = lo; ox < hi; ox++)
                      drow[ox + off] += sr[ox];
                  }
                else
                  {
                    /* ix = ox * sw + off, inside [0, W) for ox in [lo, hi). */
                    int off = -g->pw + j * g->dw, lo, hi;

                    valid_outputs (off, g->sw, g->W, g->Wo, &lo, &hi);
                    for (int ox = lo; ox < hi; ox++)
                      drow[ox * g->sw + off] += sr[ox];
                  }
              }
          }
    }
}

/* The adjoint of cs_im2col: dx (B, C, H, W) += scatter of col. Each (b, c)
 * plane gathers its taps in a fixed order, so planes run in parallel. */
void
cs_col2im (float                *dx,
           const float          *col,
           const CsConvGeometry *g)
{
  ConvJob job = { dx, col, g };
  cs_parallel_for ((gsize) g->B * g->C, 1, col2im_planes, &job);
}

typedef struct
{
  float          *out;
  const float    *tmp;
  const float    *bias;
  const CsConvGeometry *g;
} BiasJob;

CS_VECTOR_CLONES static void
conv_bias_rows (gpointer data,
                gsize    r0,
                gsize    r1)
{
  BiasJob *job = data;
  const CsConvGeometry *g = job->g;
  gsize P = (gsize) g->Ho * g->Wo, BP = P * g->B;

  for (gsize r = r0; r < r1; r++)
    {
      int bi = (int) (r / g->K), k = (int) (r % g->K);
      const float *src = job->tmp + (gsize) k * BP + bi * P;
      float *dst = job->out + r * P;
      float bias = job->bias ? job->bias[k] : 0.0f;

      for (gsize p = 0; p < P; p++)
        dst[p] = src[p] + bias;
    }
}

typedef struct
{
  float          *out;
  float          *col;
  const float    *x;
  const float    *w;
  const float    *bias;
  const CsConvGeometry *g;
} SampleJob;

/* im2col and GEMM a sample at a time, its columns still in the cache for the
 * GEMM, which writes the sample's (K, Ho*Wo) output in place: col keeps the
 * whole batch's (C*kh*kw, B*Ho*Wo) matrix for the weight gradients. */
CS_VECTOR_CLONES static void
conv_forward_samples (gpointer data,
                      gsize    b0,
                      gsize    b1)
{
  SampleJob *j = data;
  const CsConvGeometry *g = j->g;
  int Kd = g->C * g->kh * g->kw, P = g->Ho * g->Wo, BP = P * g->B;

  for (gsize b = b0; b < b1; b++)
    {
      float *col = j->col + b * P, *out = j->out + b * g->K * P;

      for (int r = 0; r < Kd; r++)
        {
          int c = r / (g->kh * g->kw), i = r / g->kw % g->kh, jj = r % g->kw;
          im2col_plane_tap (col + (gsize) r * BP, j->x + ((gsize) b * g->C + c) * g->H * g->W, g, i, jj);
        }
      cs_gemm_serial (FALSE, FALSE, g->K, P, Kd, 1.0f, j->w, Kd, col, BP, 0.0f, out, P);
      if (j->bias != NULL)
        for (int k = 0; k < g->K; k++)
          for (int p = 0; p < P; p++)
            out[(gsize) k * P + p] += j->bias[k];
    }
}

void
cs_conv2d_forward (float                *out,
                   float                *col,
                   float                *tmp,
                   const float          *x,
                   const float          *w,
                   const float          *b,
                   const CsConvGeometry *g)
{
  int Kd = g->C * g->kh * g->kw;
  gsize P = (gsize) g->Ho * g->Wo;
  int BP = (int) (P * g->B);

  if (cs_conv2d_is_full_window (g))
    {
      /* The kernel covers the whole input (LeNet's conv3): a Linear layer on the
       * flattened maps, out (B, K) = x (B, C*H*W) . w^T, already in NCHW order. */
      cs_linear_forward (out, x, w, b, g->B, Kd, g->K);
      return;
    }
  if (cs_conv2d_pointwise_applies (g))
    {
      cs_conv2d_pointwise_forward (out, x, w, b, g);
      return;
    }
  if (cs_conv2d_direct_applies (g))
    {
      cs_conv2d_direct_forward (out, x, w, b, g);
      return;
    }
  if (P >= 64)
    {
      SampleJob job = { out, col, x, w, b, g };
      cs_parallel_for (g->B, 1, conv_forward_samples, &job);
      return;
    }
  cs_im2col (col, x, g);
  /* tmp (K, B*P) = w (K, C*kh*kw) . col (C*kh*kw, B*P) */
  cs_gemm (FALSE, FALSE, g->K, BP, Kd, 1.0f, w, Kd, col, BP, 0.0f, tmp, BP);
  /* out[b][k][p] = tmp[k][b*P + p] + bias[k] */
  {
    BiasJob job = { out, tmp, b, g };
    cs_parallel_for ((gsize) g->B * g->K, 8, conv_bias_rows, &job);
  }
}

typedef struct
{
  float          *tmp;
  const float    *dout;
  float          *db;
  const CsConvGeometry *g;
} GatherJob;

CS_VECTOR_CLONES static void
conv_gather_channels (gpointer data,
                      gsize    k0,
                      gsize    k1)
{
  GatherJob *job = data;
  const CsConvGeometry *g = job->g;
  gsize P = (gsize) g->Ho * g->Wo, BP = P * g->B;

  for (gsize k = k0; k < k1; k++)
    {
      double acc = 0;
      for (int bi = 0; bi < g->B; bi++)
        {
          const float *src = job->dout + ((gsize) bi * g->K + k) * P;
          float *dst = job->tmp + k * BP + bi * P;

          for (gsize p = 0; p < P; p++)
            {
              dst[p] = src[p];
              acc += src[p];
            }
        }
      if (job->db != NULL)
        job->db[k] += (float) acc;
    }
}

typedef struct
{
  float          *dx;
  float          *dcol;
  const float    *dout;
  const float    *w;
  const CsConvGeometry *g;
  gboolean        add;     /* dx += instead of dx = */
} DxJob;

/* The input gradient a sample at a time, its (C*kh*kw, Ho*Wo) columns in the
 * cache from the GEMM to the scatter: dcol_b = w^T . dout_b (dout_b is
 * already (K, Ho*Wo) in NCHW), then col2im into dx_b. */
static void
conv_dx_samples (gpointer data,
                 gsize    b0,
                 gsize    b1)
{
  DxJob *j = data;
  CsConvGeometry one = *j->g;
  int Kd = one.C * one.kh * one.kw, P = one.Ho * one.Wo;
  gsize plane = (gsize) one.C * one.H * one.W;

  one.B = 1;
  for (gsize b = b0; b < b1; b++)
    {
      float *dcol = j->dcol + b * Kd * P, *dx = j->dx + b * plane;
      ConvJob cj = { dx, dcol, &one };

      cs_gemm_serial (TRUE, FALSE, Kd, P, one.K, 1.0f, j->w, Kd, j->dout + b * one.K * P, P, 0.0f, dcol, P);
      if (!j->add)
        memset (dx, 0, sizeof (float) * plane);
      col2im_planes (&cj, 0, (gsize) one.C);
    }
}

void
cs_conv2d_backward (float                *dx,
                    gboolean              add_dx,
                    float                *dw,
                    float                *db,
                    float                *dcol,
                    float                *tmp,
                    float                *col,
                    const float          *dout,
                    const float          *x,
                    const float          *w,
                    const CsConvGeometry *g)
{
  int Kd = g->C * g->kh * g->kw;
  gsize P = (gsize) g->Ho * g->Wo;
  int BP = (int) (P * g->B);

  g_return_if_fail (!add_dx || cs_conv2d_can_add_dx (g));

  if (cs_conv2d_is_full_window (g))
    {
      cs_linear_backward (dx, dw, db, dout, x, w, g->B, Kd, g->K);
      return;
    }
  if (cs_conv2d_pointwise_applies (g))
    {
      cs_conv2d_pointwise_backward (dx, add_dx, dw, db, x, dout, w, g);
      return;
    }
  if (cs_conv2d_direct_applies (g))
    {
      if (cs_conv2d_direct_backward (dx, add_dx, dw, db, x, dout, w, g))
        return;
      /* The input gradient as below (dcol = w^T dout, then col2im); col is not needed. */
      db = NULL;
      dw = NULL;
    }

  if (dw != NULL || db != NULL)
    {
      /* tmp (K, B*P) = dout (B, K, P) with the batch moved inward; db sums it. */
      GatherJob job = { tmp, dout, db, g };
      cs_parallel_for (g->K, 1, conv_gather_channels, &job);
    }
  /* dw (K, Kd) += tmp (K, B*P) . col^T (B*P, Kd) */
  if (dw != NULL)
    cs_gemm (FALSE, TRUE, g->K, Kd, BP, 1.0f, tmp, BP, col, BP, 1.0f, dw, Kd);
  if (dx != NULL)
    {
      /* dcol (Kd, P) of each sample = w^T (Kd, K) . dout_b (K, P), then scattered back. */
      DxJob job = { dx, dcol, dout, w, g, add_dx };
      cs_parallel_for (g->B, 1, conv_dx_samples, &job);
    }
}

