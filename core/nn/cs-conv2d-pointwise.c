/* Pointwise convolutions: 1x1 kernels without padding at a stride over 1 (a
 * ResNet's projection shortcut), as products over the channels of each pixel
 * of the subsampled input, a sample at a time in the cache. Checked against
 * cs_conv2d_forward_ref () and cs_conv2d_backward_ref () (cs-conv2d.c). */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <string.h>

#include "base/cs-alloc.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-conv2d-direct-private.h"

/*
 * With x (B, C, H, W) and out (B, K, Ho, Wo), P = Ho * Wo pixels:
 *   xs[c][p]   = x[c][oy * sh][ox * sw]              the subsampled input
 *   out[k][p]  = b[k] + sum_c w[k][c] xs[c][p]
 *   dw[k][c]  += sum_b sum_p dout[k][p] xs[c][p]
 *   dx[c][oy * sh][ox * sw] = sum_k w[k][c] dout[k][p], 0 elsewhere
 * Each sample's xs and dout are kept as rows of Pp = P rounded up to 16,
 * zeros after P, so every product loads whole vectors. Before im2col's
 * matrix and a GEMM per sample did this (32 GFLOP/s on the ResNet's shortcut).
 */

#define CHUNK 4   /* samples whose weight sums a task keeps apart (results never depend on the threads) */

gboolean
cs_conv2d_pointwise_applies (const CsConvGeometry *g)
{
  return g->kh == 1 && g->kw == 1 && g->ph == 0 && g->pw == 0 && (g->sh > 1 || g->sw > 1) &&
         !cs_conv2d_is_full_window (g);
}

static inline int
padded_pixels (const CsConvGeometry *g)
{
  return (g->Ho * g->Wo + 15) / 16 * 16;
}

/* xs (C, Pp) of one sample (only its first P floats a row are written). */
static inline __attribute__ ((always_inline)) void
subsample (float                *xs,
           const float          *x,
           const CsConvGeometry *g)
{
  const int Pp = padded_pixels (g);
  const float *end = x + (gsize) g->C * g->H * g->W;

  for (int c = 0; c < g->C; c++)
    for (int oy = 0; oy < g->Ho; oy++)
      {
        const float *row = x + ((gsize) c * g->H + (gsize) oy * g->sh) * g->W;
        float *dst = xs + (gsize) c * Pp + (gsize) oy * g->Wo;

        if (g->sw == 2)
          for (int ox = 0; ox < g->Wo; ox += 16)
            {
              /* Sixteen outputs from the next 32 floats: the even ones. */
              int m = MIN (32, g->W - 2 * ox);
              v16f lo = m >= 16 ? load16 (row + 2 * ox) : load_before (row + 2 * ox, m, end);
              v16f hi = m >= 32 ? load16 (row + 2 * ox + 16) : m > 16 ? load_before (row + 2 * ox + 16, m - 16, end) : lo;
              v16f ev = shuffle2 (lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

              store_lanes (dst + ox, ev, MIN (16, g->Wo - ox));
            }
        else
          for (int ox = 0; ox < g->Wo; ox++)
            dst[ox] = row[ox * g->sw];
      }
}

/*
 * out (N, P) = b + wp . in (M, Pp): N outputs over M inputs, KB outputs at a
 * time in registers for each vector of pixels; wp packed by pack () for the
 * same blocks. Used forward (N = K, M = C) and for the input gradient (N = C,
 * M = K, the weights transposed).
 */
static inline __attribute__ ((always_inline)) void
products (float       *out,
          int          out_stride,
          const float *in,
          const float *wp,
          const float *b,
          int          N,
          int          M,
          int          P,
          int          Pp,
          int          KB)
{
  int n0 = 0;

  for (; n0 + KB <= N; n0 += KB)
    for (int pv = 0; pv < Pp; pv += 16)
      {
        v16f acc[16];
        const float *w = wp + (gsize) n0 * M;

#pragma GCC unroll 16
        for (int kb = 0; kb < KB; kb++)
          acc[kb] = (v16f) { 0 } + (b != NULL ? b[n0 + kb] : 0.0f);
        for (int m = 0; m < M; m++)
          {
            v16f v = load16 (in + (gsize) m * Pp + pv);
#pragma GCC unroll 16
            for (int kb = 0; kb < KB; kb++)
              acc[kb] += w[m * KB + kb] * v;
          }
#pragma GCC unroll 16
        for (int kb = 0; kb < KB; kb++)
          {
            float *o = out + (gsize) (n0 + kb) * out_stride + pv;
            if (pv + 16 <= P)
              memcpy (o, &acc[kb], sizeof acc[kb]);
            else
              store_lanes (o, acc[kb], P - pv);
          }
      }
  /* The rest one output at a time (wp keeps them unpacked: w[n][m]). */
  for (; n0 < N; n0++)
    for (int pv = 0; pv < Pp; pv += 16)
      {
        v16f acc = (v16f) { 0 } + (b != NULL ? b[n0] : 0.0f);
        float *o = out + (gsize) n0 * out_stride + pv;

        for (int m = 0; m < M; m++)
          acc += wp[(gsize) n0 * M + m] * load16 (in + (gsize) m * Pp + pv);
        if (pv + 16 <= P)
          memcpy (o, &acc, sizeof acc);
        else
          store_lanes (o, acc, P - pv);
      }
}

/* w (N, M), or its transpose with @transpose (w is then (M, N)), packed for
 * products (): blocks of KB rows, each column's KB weights together. */
static float *
pack (const float *w,
      int          N,
      int          M,
      int          KB,
      gboolean     transpose)
{
  float *wp = cs_alloc_floats ((gsize) N * M);
  int full = N / KB * KB;

  for (int n = 0; n < N; n++)
    for (int m = 0; m < M; m++)
      {
        float v = transpose ? w[(gsize) m * N + n] : w[(gsize) n * M + m];
        if (n < full)
          wp[(gsize) (n / KB * KB) * M + (gsize) m * KB + n % KB] = v;
        else
          wp[(gsize) n * M + m] = v;
      }
  return wp;
}

static int
block_size (void)
{
  return cs_conv2d_direct_wide () ? 16 : 8;
}

typedef struct
{
  float                *out;     /* forward: (B, K, P); backward: dx (B, C, H, W) */
  const float          *x;
  const float          *dout;
  const float          *wp;      /* forward: w packed; backward: w^T packed */
  const float          *b;
  float                *partial; /* backward, per chunk: K * C weight sums, then K bias sums */
  gboolean              want_db;
  gboolean              add;     /* dx += instead of dx = */
  const CsConvGeometry *g;
} PointJob;

static inline __attribute__ ((always_inline)) void
forward_body (PointJob *j,
              gsize     b0,
              gsize     b1,
              int       KB)
{
  const CsConvGeometry *g = j->g;
  const int P = g->Ho * g->Wo, Pp = padded_pixels (g);
  const int key[] = { CS_SCRATCH_KEY_POINTWISE_X, g->C, g->H, g->W, g->Ho, g->Wo, g->sh, g->sw };
  float *xs = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, key, G_N_ELEMENTS (key), (gsize) g->C * Pp);

  for (gsize bi = b0; bi < b1; bi++)
    {
      subsample (xs, j->x + bi * g->C * g->H * g->W, g);
      products (j->out + bi * g->K * P, P, xs, j->wp, j->b, g->K, g->C, P, Pp, KB);
    }
  cs_scratch_release (CS_SCRATCH_CONV_PAD, xs);
}

CS_VECTOR_CLONES static void
forward_narrow (gpointer data, gsize b0, gsize b1)
{
  forward_body (data, b0, b1, 8);
}

/* Only where cs_conv2d_direct_wide (). */
CS_VECTOR_CLONES static void
forward_wide (gpointer data, gsize b0, gsize b1)
{
  forward_body (data, b0, b1, 16);
}

void
cs_conv2d_pointwise_forward (float                *out,
                             const float          *x,
                             const float          *w,
                             const float          *b,
                             const CsConvGeometry *g)
{
  float *wp = pack (w, g->K, g->C, block_size (), FALSE);
  PointJob j = { out, x, NULL, wp, b, NULL, FALSE, FALSE, g };

  cs_parallel_for (g->B, 4, cs_conv2d_direct_wide () ? forward_wide : forward_narrow, &j);
  cs_free_floats (wp);
}

/* dw[k][c] over the chunk's samples: four kernels by four channels in
 * sixteen accumulators, each dout and xs vector loaded once for four. */
static inline __attribute__ ((always_inline)) void
weight_sums (float       *dw,
             const float *gs,
             const float *xs,
             int          n,
             int          K,
             int          C,
             int          Pp)
{
  gsize gsample = (gsize) K * Pp, xsample = (gsize) C * Pp;
  int k0 = 0;

  for (; k0 < K; k0 += 4)
    for (int c0 = 0; c0 < C; c0 += 4)
      {
        const int kn = MIN (4, K - k0), cn = MIN (4, C - c0);
        v16f acc[4][4];

        memset (acc, 0, sizeof acc);
        if (kn == 4 && cn == 4)
          for (int s = 0; s < n; s++)
            for (int pv = 0; pv < Pp; pv += 16)
              {
                v16f gv[4], xv[4];
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++)
                  {
                    gv[a] = load16 (gs + s * gsample + (gsize) (k0 + a) * Pp + pv);
                    xv[a] = load16 (xs + s * xsample + (gsize) (c0 + a) * Pp + pv);
                  }
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++)
#pragma GCC unroll 4
                  for (int c = 0; c < 4; c++)
                    acc[a][c] += gv[a] * xv[c];
              }
        else
          for (int s = 0; s < n; s++)
            for (int pv = 0; pv < Pp; pv += 16)
              for (int a = 0; a < kn; a++)
                for (int c = 0; c < cn; c++)
                  acc[a][c] += load16 (gs + s * gsample + (gsize) (k0 + a) * Pp + pv) *
                               load16 (xs + s * xsample + (gsize) (c0 + c) * Pp + pv);
        for (int a = 0; a < kn; a++)
          for (int c = 0; c < cn; c++)
            dw[(gsize) (k0 + a) * C + c0 + c] += lane_sum (acc[a][c]);
      }
}

/* dx of one sample from dxs (C, Pp): the values at the strided positions,
 * zeros (or what dx held, with add) elsewhere. */
static inline __attribute__ ((always_inline)) void
expand (float                *dx,
        const float          *dxs,
        const CsConvGeometry *g,
        gboolean              add)
{
  const int Pp = padded_pixels (g);
  const float *end = dx + (gsize) g->C * g->H * g->W, *dxs_end = dxs + (gsize) g->C * Pp;

  for (int c = 0; c < g->C; c++)
    for (int iy = 0; iy < g->H; iy++)
      {
        float *row = dx + ((gsize) c * g->H + iy) * g->W;
        const float *src = dxs + (gsize) c * Pp + (gsize) (iy / g->sh) * g->Wo;

        if (iy % g->sh != 0 || iy / g->sh >= g->Ho)
          {
            /* A row no output reads. */
            if (!add)
              memset (row, 0, sizeof (float) * g->W);
          }
        else if (g->sw == 2)
          for (int ox = 0; ox < g->Wo; ox += 16)
            {
              /* Sixteen values and sixteen zeros between them: columns 2 ox .. 2 ox + 31. */
              v16f v = load_before (src + ox, MIN (16, g->Wo - ox), dxs_end), z = { 0 };
              v16f lo = shuffle2 (v, z, 0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
              v16f hi = shuffle2 (v, z, 8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
              int m = g->W - 2 * ox;

              if (add)
                lo += load_before (row + 2 * ox, MIN (16, m), end);
              store_lanes (row + 2 * ox, lo, MIN (16, m));
              if (m > 16 && add)
                hi += load_before (row + 2 * ox + 16, MIN (16, m - 16), end);
              if (m > 16)
                store_lanes (row + 2 * ox + 16, hi, MIN (16, m - 16));
            }
        else
          {
            if (!add)
              memset (row, 0, sizeof (float) * g->W);
            for (int ox = 0; ox < g->Wo; ox++)
              row[(gsize) ox * g->sw] += src[ox];
          }
      }
}

static inline __attribute__ ((always_inline)) void
backward_body (PointJob *j,
               gsize     c0,
               gsize     c1,
               int       KB)
{
  const CsConvGeometry *g = j->g;
  const int P = g->Ho * g->Wo, Pp = padded_pixels (g), K = g->K, C = g->C;
  gsize xsample = (gsize) C * Pp, gsample = (gsize) K * Pp, n_w = (gsize) K * C;
  const int xkey[] = { CS_SCRATCH_KEY_POINTWISE_X, C, g->H, g->W, g->Ho, g->Wo, g->sh, g->sw };
  const int gkey[] = { CS_SCRATCH_KEY_POINTWISE_ROWS, K, g->Ho, g->Wo };
  float *xs = cs_scratch_acquire (CS_SCRATCH_CONV_CHUNK_PAD, xkey, G_N_ELEMENTS (xkey), xsample * CHUNK);
  float *gs = cs_scratch_acquire (CS_SCRATCH_CONV_CHUNK_ROWS, gkey, G_N_ELEMENTS (gkey), gsample * CHUNK);
  float *dxs = j->out != NULL ? cs_alloc_floats (xsample) : NULL;

  for (gsize chunk = c0; chunk < c1; chunk++)
    {
      int b0 = (int) chunk * CHUNK, n = MIN (g->B - b0, CHUNK);
      float *dw = j->partial + chunk * (n_w + K);

      for (int s = 0; s < n; s++)
        {
          const float *dout = j->dout + (gsize) (b0 + s) * K * P;

          subsample (xs + s * xsample, j->x + (gsize) (b0 + s) * C * g->H * g->W, g);
          for (int k = 0; k < K; k++)
            memcpy (gs + s * gsample + (gsize) k * Pp, dout + (gsize) k * P, sizeof (float) * P);
        }
      weight_sums (dw, gs, xs, n, K, C, Pp);
      if (j->want_db)
        for (int k = 0; k < K; k++)
          {
            v16f acc = { 0 };
            for (int s = 0; s < n; s++)
              for (int pv = 0; pv < Pp; pv += 16)
                acc += load16 (gs + s * gsample + (gsize) k * Pp + pv);
            dw[n_w + k] += lane_sum (acc);
          }
      for (int s = 0; dxs != NULL && s < n; s++)
        {
          /* dxs (C, P) = w^T . dout, then spread over the strided positions. */
          products (dxs, Pp, gs + s * gsample, j->wp, NULL, C, K, P, Pp, KB);
          expand (j->out + (gsize) (b0 + s) * C * g->H * g->W, dxs, g, j->add);
        }
    }
  cs_free_floats (dxs);
  cs_scratch_release (CS_SCRATCH_CONV_CHUNK_PAD, xs);
  cs_scratch_release (CS_SCRATCH_CONV_CHUNK_ROWS, gs);
}

CS_VECTOR_CLONES static void
backward_narrow (gpointer data, gsize c0, gsize c1)
{
  backward_body (data, c0, c1, 8);
}

/* Only where cs_conv2d_direct_wide (). */
CS_VECTOR_CLONES static void
backward_wide (gpointer data, gsize c0, gsize c1)
{
  backward_body (data, c0, c1, 16);
}

void
cs_conv2d_pointwise_backward (float                *dx,
                              gboolean              add_dx,
                              float                *dw,
                              float                *db,
                              const float          *x,
                              const float          *dout,
                              const float          *w,
                              const CsConvGeometry *g)
{
  int n_chunks = (g->B + CHUNK - 1) / CHUNK;
  gsize n_w = (gsize) g->K * g->C, stride = n_w + g->K;
  float *partial = cs_alloc_floats (stride * n_chunks);
  float *wp = dx != NULL ? pack (w, g->C, g->K, block_size (), TRUE) : NULL;
  PointJob j = { dx, x, dout, wp, NULL, partial, db != NULL, add_dx, g };

  cs_parallel_for (n_chunks, 1, cs_conv2d_direct_wide () ? backward_wide : backward_narrow, &j);
  cs_conv2d_add_chunk_sums (dw, db, partial, n_chunks, n_w, g->K);
  cs_free_floats (wp);
  cs_free_floats (partial);
}
