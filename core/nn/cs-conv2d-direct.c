/* Direct convolution for small Conv2d layers (the notebook's): each (sample, kernel) plane from zero-padded input planes, in vector registers. Checked against cs_conv2d_forward_ref() and cs_conv2d_backward_ref() (cs-conv2d.c). */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-kernels-private.h"

/*
 * Small convolutions (the notebook's: few channels, rows of at most 32 outputs)
 * make im2col's matrices big and its GEMMs skinny (LeNet's conv1 is
 * 6 x 78400 x 25), and im2col/col2im move megabytes a batch. Here each
 * (sample, kernel) plane is computed directly from zero-padded copies of its
 * input planes, a row of outputs at a time in one or two 16-float vectors.
 * The input gradient is the same computation on the padded output gradient
 * with the kernels flipped and transposed (a "full" convolution); the weight
 * gradient correlates the output gradient with the padded input planes the
 * forward pass left in col. */

/* Rows of at most 32 outputs, kept in one or two 16-float vectors (GCC vector
 * extensions: AVX-512, two AVX2 halves, or SSE quarters, per clone). */
#define DIRECT_MAX_OUT 32
#define DIRECT_MAX_TAPS 576   /* C*kh*kw: beyond, a convolution is big enough for im2col and GEMM */
#define PAD_MAX_STRIDE 64
#define PAD_ROWS 64

typedef float v16f __attribute__ ((vector_size (64)));

gboolean
cs_conv2d_is_full_window (const CsConvGeometry *g)
{
  return g->kh == g->H && g->kw == g->W && g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 &&
         g->Ho == 1 && g->Wo == 1;
}

/* Floats from one padded row to the next: room for the wp floats of a row and
 * for the 16 or 32 floats read at each of kw offsets (all of them zeros past
 * wp), rounded up to whole 64-byte lines. With a column stride of 2 a row is
 * kept as its even columns, then its odd ones from half the stride on: tap j
 * of outputs 0, 1, 2, ... reads padded columns j, j + 2, j + 4, ..., which
 * are then consecutive floats (tap_col ()). */
static int
pad_stride (int wp,
            int kw,
            int wo,
            int sw)
{
  int lanes = wo > 16 ? 32 : 16;

  if (sw == 2)
    return 2 * ((MAX ((wp + 1) / 2, (kw - 1) / 2 + lanes) + 15) / 16 * 16);
  return (MAX (wp, kw - 1 + lanes) + 15) / 16 * 16;
}

/* Where, in a padded row of stride ps, tap jj of output 0 reads. */
static inline int
tap_col (int jj,
         int sw,
         int ps)
{
  return sw == 1 ? jj : (jj & 1) * (ps / 2) + (jj >> 1);
}

/* A padded plane of width wp and hp rows, read 16 or 32 floats at a time from
 * each of kw offsets, stays inside its rows of at most PAD_MAX_STRIDE floats. */
static gboolean
direct_fits (int wp,
             int hp,
             int kw,
             int wo,
             int sw)
{
  return wo <= DIRECT_MAX_OUT && hp <= PAD_ROWS && pad_stride (wp, kw, wo, sw) <= PAD_MAX_STRIDE;
}

gboolean
cs_conv2d_direct_applies (const CsConvGeometry *g)
{
  /* A column stride of 2 for kernels of 3 columns or more: a 1x1 kernel would
   * copy the whole input to read a quarter of it (im2col copies that quarter). */
  return !cs_conv2d_is_full_window (g) && g->sh >= 1 && (g->sw == 1 || (g->sw == 2 && g->kw >= 3)) &&
         g->dh == 1 && g->dw == 1 &&
         g->C * g->kh * g->kw <= DIRECT_MAX_TAPS &&
         direct_fits (g->W + 2 * g->pw, g->H + 2 * g->ph, g->kw, g->Wo, g->sw);
}

/* The input gradient directly too: the output gradient padded by k - 1 - p. */
static gboolean
direct_dx_applies (const CsConvGeometry *g)
{
  return cs_conv2d_direct_applies (g) && g->sh == 1 && g->sw == 1 && g->ph <= g->kh - 1 && g->pw <= g->kw - 1 &&
         direct_fits (g->Wo + 2 * (g->kw - 1 - g->pw), g->Ho + 2 * (g->kh - 1 - g->ph), g->kw, g->W, 1);
}

gsize
cs_conv2d_dcol_size (const CsConvGeometry *g)
{
  if (cs_conv2d_is_full_window (g) || direct_dx_applies (g))
    return 0;
  return cs_conv2d_col_size (g);
}

/* C planes (H, W) into C padded planes of hp rows, ps floats apart (even
 * columns, then odd ones, for a column stride of 2).
 * Only the data is written: the borders of pad are zero from its allocation
 * (cs_alloc_floats) and nothing else writes there, so they stay zero. */
CS_VECTOR_CLONES static void
pad_planes (float       *pad,
            const float *src,
            int          C,
            int          H,
            int          W,
            int          ph,
            int          pw,
            int          hp,
            int          ps,
            int          sw)
{
  for (int c = 0; c < C; c++)
    for (int y = 0; y < H; y++)
      {
        float *d = pad + ((gsize) c * hp + y + ph) * ps;
        const float *r = src + ((gsize) c * H + y) * W;

        if (sw == 1)
          memcpy (d + pw, r, sizeof (float) * W);
        else
          {
            /* Padded column q = x + pw: even ones to d[q / 2], odd ones to d[ps / 2 + q / 2]. */
            float *restrict even = d, *restrict odd = d + ps / 2;

            for (int q = (pw + 1) / 2 * 2; q < pw + W; q += 2)
              even[q / 2] = r[q - pw];
            for (int q = pw / 2 * 2 + 1; q < pw + W; q += 2)
              odd[q / 2] = r[q - pw];
          }
      }
}

/* The first n (<= 16) lanes of v to o: a masked store where the CPU has them
 * (the clones are built without turning such loops into memcpy calls). */
static inline __attribute__ ((always_inline)) void
store_lanes (float *restrict o,
             v16f            v,
             int             n)
{
  float t[16];

  memcpy (t, &v, sizeof t);
  for (int x = 0; x < n; x++)
    o[x] = t[x];
}

/* An unaligned load of 16 floats (a macro: a v16f return value would change the ABI between clones). */
#define load16(p) ({ v16f _v; memcpy (&_v, (p), sizeof _v); _v; })
/* The first n (<= 16) floats at p, zeros after, reading nothing beyond p[n - 1]
 * (a masked load where the CPU has them). */
#define load_lanes(p, n) ({ float _t[16]; const float *restrict _p = (p); int _n = (n);       \
                            for (int _x = 0; _x < 16; _x++) _t[_x] = _x < _n ? _p[_x] : 0.0f; \
                            load16 (_t); })

/* The sum of the 16 lanes of a, as a tree of vector adds (halves, quarters, ...):
 * a fixed order, and no chain of 16 dependent scalar adds. */
typedef int v16si __attribute__ ((vector_size (64)));

static inline __attribute__ ((always_inline)) float
lane_sum (v16f a)
{
  a += __builtin_shuffle (a, (v16si) { 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7 });
  a += __builtin_shuffle (a, (v16si) { 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3 });
  a += __builtin_shuffle (a, (v16si) { 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1 });
  a += __builtin_shuffle (a, (v16si) { 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0 });
  return a[0];
}

/* One direct convolution of a batch: src (B, C, H, W) padded by (ph, pw) into
 * hp rows, kernels w (K, C, kh, kw), out (B, K, Ho, Wo) written. */
typedef struct
{
  float          *out;
  const float    *src;
  const float    *w;
  const float    *b;
  int             C, H, W, K, kh, kw, ph, pw, hp, Ho, Wo;
  int             ps;     /* pad_stride () */
  int             sh, sw; /* strides */
} DirectJob;

/*
 * KB kernels k0 .. k0+KB-1 of one sample, a row at a time: each padded input
 * vector is loaded once for the KB kernels, and the KB*NV accumulators are
 * independent chains, so the FMAs do not wait on each other's latency.
 * Inlined with KB and NV constants; every output sums its taps in order
 * (c, i, j) from zero and adds the bias last, whatever KB and NV are.
 * KB = 8 (8 or 16 accumulators): per vector load, 8 multiply-adds whose
 * weights are broadcast from memory; 4 left the loads the bottleneck (16 %
 * slower on Zen 4). (Two rows at a time, to load each weight once for both,
 * measured no faster.)
 */
static inline __attribute__ ((always_inline)) void
direct_rows (float           *out,
             const float     *pad,
             const DirectJob *j,
             int              k0,
             int              KB,
             int              NV,
             int              SW)
{
  const int taps = j->C * j->kh * j->kw, kw = j->kw, kh = j->kh, C = j->C, Wo = j->Wo;
  gsize P = (gsize) j->Ho * Wo, plane = (gsize) j->hp * j->ps;

  for (int y = 0; y < j->Ho; y++)
    {
      v16f a0[8] = { { 0 } }, a1[8] = { { 0 } };
      /* Kernel rows that fall on padding rows read only zeros: skipped (the
       * input gradient's padded planes are mostly such rows). */
      const int i0 = MAX (0, j->ph - y * j->sh), i1 = MIN (kh, j->ph + j->H - y * j->sh);

      for (int c = 0; c < C; c++)
        for (int i = i0; i < i1; i++)
          {
            const float *prow = pad + c * plane + (gsize) (y * j->sh + i) * j->ps;
            const float *wt = j->w + (gsize) k0 * taps + (c * kh + i) * kw;

            for (int jj = 0; jj < kw; jj++)
              {
                const int col = tap_col (jj, SW, j->ps);
                v16f v0 = load16 (prow + col), v1 = NV > 1 ? load16 (prow + col + 16) : v0;
#pragma GCC unroll 8
                for (int kb = 0; kb < KB; kb++)
                  {
                    float wv = wt[(gsize) kb * taps + jj];
                    a0[kb] += wv * v0;
                    if (NV > 1)
                      a1[kb] += wv * v1;
                  }
              }
          }
#pragma GCC unroll 8
      for (int kb = 0; kb < KB; kb++)
        {
          float bv = j->b ? j->b[k0 + kb] : 0.0f;
          float *o = out + (gsize) (k0 + kb) * P + (gsize) y * Wo;
          v16f r0 = a0[kb] + bv, r1 = a1[kb] + bv;

          if (Wo > 16)
            {
              memcpy (o, &r0, sizeof r0);
              store_lanes (o + 16, r1, Wo - 16);
            }
          else
            store_lanes (o, r0, Wo);
        }
    }
}

static inline __attribute__ ((always_inline)) void
direct_sample (float           *out,
               const float     *pad,
               const DirectJob *j,
               int              NV,
               int              SW)
{
  int k = 0;

  for (; k + 8 <= j->K; k += 8)
    direct_rows (out, pad, j, k, 8, NV, SW);
  for (; k + 4 <= j->K; k += 4)
    direct_rows (out, pad, j, k, 4, NV, SW);
  if (k + 2 <= j->K)
    {
      direct_rows (out, pad, j, k, 2, NV, SW);
      k += 2;
    }
  if (k < j->K)
    direct_rows (out, pad, j, k, 1, NV, SW);
}

CS_VECTOR_CLONES static void
direct_samples (gpointer data,
                gsize    b0,
                gsize    b1)
{
  DirectJob *j = data;
  gsize in_plane = (gsize) j->H * j->W, pad_sample = (gsize) j->C * j->hp * j->ps;
  float *pad = cs_alloc_floats (pad_sample);

  for (gsize bi = b0; bi < b1; bi++)
    {
      float *out = j->out + bi * j->K * (gsize) j->Ho * j->Wo;

      pad_planes (pad, j->src + bi * j->C * in_plane, j->C, j->H, j->W, j->ph, j->pw, j->hp, j->ps, j->sw);
      if (j->sw == 2 && j->Wo <= 16)
        direct_sample (out, pad, j, 1, 2);
      else if (j->sw == 2)
        direct_sample (out, pad, j, 2, 2);
      else if (j->Wo <= 16)
        direct_sample (out, pad, j, 1, 1);
      else
        direct_sample (out, pad, j, 2, 1);
    }
  cs_free_floats (pad);
}

typedef struct
{
  float          *dw;
  float          *db;
  const float    *pads;        /* the chunk's samples padded: (b1 - b0, C, hp, ps) */
  const float    *dout;
  const CsConvGeometry *g;
  const float    *x;           /* the layer's input (B, C, H, W) */
  int             b0, b1;      /* the samples of one chunk */
  int             chunk;       /* samples per chunk */
  float          *partial;     /* per chunk: (K, C, kh, kw) weight sums, then K bias sums */
  int             ps;          /* pad_stride () of pads */
} DirectGradJob;

/*
 * dw[k][c][i][0 .. kw) (and db[k] with the (c, i) = (0, 0) task): for each
 * sample and output row, the gradient row times the padded input row (c,
 * y + i) shifted by jj, summed lane-wise in kw * NV registers (KW and NV
 * constants when inlined) and across lanes in a fixed order at the end, so
 * the result does not depend on the number of threads.
 */
static inline __attribute__ ((always_inline)) void
direct_tap_row_grads (const DirectGradJob *j,
                      int                  k,
                      int                  c,
                      int                  i,
                      int                  KW,
                      int                  NV)
{
  const CsConvGeometry *g = j->g;
  const int hp = g->H + 2 * g->ph, Ho = g->Ho, K = g->K, C = g->C;
  gboolean with_bias = j->db != NULL && c == 0 && i == 0;
  v16f acc[8][2], bias0 = { 0 }, bias1 = { 0 };

  memset (acc, 0, sizeof acc);
  for (int bi = j->b0; bi < j->b1; bi++)
    {
      const float *go = j->dout + ((gsize) bi * K + k) * Ho * g->Wo;
      const float *pad = j->pads + (((gsize) (bi - j->b0) * C + c) * hp + i) * j->ps;

      for (int y = 0; y < Ho; y++)
        {
          const float *prow = pad + (gsize) y * g->sh * j->ps;
          v16f g0 = NV > 1 ? load16 (go + y * g->Wo) : load_lanes (go + y * g->Wo, g->Wo);
          v16f g1 = NV > 1 ? load_lanes (go + y * g->Wo + 16, g->Wo - 16) : g0;

          if (with_bias)
            {
              bias0 += g0;
              if (NV > 1)
                bias1 += g1;
            }
#pragma GCC unroll 8
          for (int jj = 0; jj < KW; jj++)
            {
              acc[jj][0] += g0 * load16 (prow + tap_col (jj, g->sw, j->ps));
              if (NV > 1)
                acc[jj][1] += g1 * load16 (prow + tap_col (jj, g->sw, j->ps) + 16);
            }
        }
    }
  for (int jj = 0; jj < KW; jj++)
    j->dw[(((gsize) k * C + c) * g->kh + i) * g->kw + jj] += lane_sum (NV > 1 ? acc[jj][0] + acc[jj][1] : acc[jj][0]);
  if (with_bias)
    j->db[k] += lane_sum (NV > 1 ? bias0 + bias1 : bias0);
}

/* dw[k][c] whole (KH x KW constants when inlined, KH * KW * NV accumulators
 * that fit in registers: 3x3 kernels, and 5x5 ones on rows of at most 16
 * outputs such as LeNet's conv2): each gradient row is loaded once for every
 * tap of the plane, instead of once per kernel row. Every weight sums its
 * products lane-wise over samples and rows, then across lanes in a fixed
 * order, so the result does not depend on the number of threads. */
static inline __attribute__ ((always_inline)) void
direct_plane_grads_body (const DirectGradJob *j,
                         int                  k0,
                         int                  c,
                         int                  KB,
                         int                  KH,
                         int                  KW,
                         int                  NV,
                         gboolean             with_bias)
{
  const CsConvGeometry *g = j->g;
  const int hp = g->H + 2 * g->ph, Ho = g->Ho, Wo = g->Wo, K = g->K, C = g->C;
  v16f acc[2][5][5][2], bias0[2], bias1[2];

#pragma GCC unroll 2
  for (int kb = 0; kb < KB; kb++)
    {
      bias0[kb] = bias1[kb] = (v16f) { 0 };
      for (int i = 0; i < KH; i++)
        for (int jj = 0; jj < KW; jj++)
          acc[kb][i][jj][0] = acc[kb][i][jj][1] = (v16f) { 0 };
    }
  for (int bi = j->b0; bi < j->b1; bi++)
    {
      const float *go = j->dout + ((gsize) bi * K + k0) * Ho * Wo;
      const float *pad = j->pads + ((gsize) (bi - j->b0) * C + c) * hp * j->ps;

      for (int y = 0; y < Ho; y++)
        {
          v16f g0[2], g1[2];

#pragma GCC unroll 2
          for (int kb = 0; kb < KB; kb++)
            {
              const float *gr = go + (gsize) kb * Ho * Wo + y * Wo;

              g0[kb] = NV > 1 ? load16 (gr) : load_lanes (gr, Wo);
              g1[kb] = NV > 1 ? load_lanes (gr + 16, Wo - 16) : g0[kb];
              if (with_bias)
                {
                  bias0[kb] += g0[kb];
                  if (NV > 1)
                    bias1[kb] += g1[kb];
                }
            }
#pragma GCC unroll 5
          for (int i = 0; i < KH; i++)
            {
              const float *prow = pad + (gsize) (y * g->sh + i) * j->ps;
#pragma GCC unroll 5
              for (int jj = 0; jj < KW; jj++)
                {
                  v16f p0 = load16 (prow + tap_col (jj, g->sw, j->ps));
                  v16f p1 = NV > 1 ? load16 (prow + tap_col (jj, g->sw, j->ps) + 16) : p0;
#pragma GCC unroll 2
                  for (int kb = 0; kb < KB; kb++)
                    {
                      acc[kb][i][jj][0] += g0[kb] * p0;
                      if (NV > 1)
                        acc[kb][i][jj][1] += g1[kb] * p1;
                    }
                }
            }
        }
    }
#pragma GCC unroll 2
  for (int kb = 0; kb < KB; kb++)
    {
      for (int i = 0; i < KH; i++)
        for (int jj = 0; jj < KW; jj++)
          j->dw[(((gsize) (k0 + kb) * C + c) * KH + i) * KW + jj] +=
            lane_sum (NV > 1 ? acc[kb][i][jj][0] + acc[kb][i][jj][1] : acc[kb][i][jj][0]);
      if (with_bias)
        j->db[k0 + kb] += lane_sum (NV > 1 ? bias0[kb] + bias1[kb] : bias0[kb]);
    }
}

/* The bias sums (c == 0) as a separate copy of the loop, not a test in it. */
static inline __attribute__ ((always_inline)) void
direct_plane_grads (const DirectGradJob *j,
                    int                  k0,
                    int                  c,
                    int                  KB,
                    int                  KH,
                    int                  KW,
                    int                  NV)
{
  if (j->db != NULL && c == 0)
    direct_plane_grads_body (j, k0, c, KB, KH, KW, NV, TRUE);
  else
    direct_plane_grads_body (j, k0, c, KB, KH, KW, NV, FALSE);
}

/* dw[k][c] whole for 3x3 kernels: the loop runs over the padded input rows r,
 * loads each row's three shifted vectors once and multiplies them with the
 * gradient rows r, r - 1 and r - 2 (kept in registers as r advances), one
 * per kernel row: 3 * NV input loads for 9 * NV multiply-adds, where a loop
 * over output rows loads 9 * NV. */
static inline __attribute__ ((always_inline)) void
direct_plane_grads_3x3_body (const DirectGradJob *j,
                             int                  k,
                             int                  c,
                             int                  NV,
                             gboolean             with_bias)
{
  const CsConvGeometry *g = j->g;
  const int hp = g->H + 2 * g->ph, Ho = g->Ho, Wo = g->Wo, K = g->K, C = g->C;
  const int rows = MIN (hp, Ho + 2);
  v16f acc[3][3][2], bias0 = { 0 }, bias1 = { 0 };

  memset (acc, 0, sizeof acc);
  for (int bi = j->b0; bi < j->b1; bi++)
    {
      const float *go = j->dout + ((gsize) bi * K + k) * Ho * Wo;
      const float *pad = j->pads + ((gsize) (bi - j->b0) * C + c) * hp * j->ps;
      v16f q0[3] = { { 0 } }, q1[3] = { { 0 } };   /* gradient rows r, r - 1, r - 2 */

      for (int r = 0; r < rows; r++)
        {
          const float *prow = pad + (gsize) r * j->ps;
          v16f p0[3], p1[3];

          q0[2] = q0[1];
          q0[1] = q0[0];
          q1[2] = q1[1];
          q1[1] = q1[0];
          if (r < Ho)
            {
              q0[0] = NV > 1 ? load16 (go + r * Wo) : load_lanes (go + r * Wo, Wo);
              q1[0] = NV > 1 ? load_lanes (go + r * Wo + 16, Wo - 16) : q0[0];
              if (with_bias)
                {
                  bias0 += q0[0];
                  if (NV > 1)
                    bias1 += q1[0];
                }
            }
#pragma GCC unroll 3
          for (int jj = 0; jj < 3; jj++)
            {
              p0[jj] = load16 (prow + jj);
              p1[jj] = NV > 1 ? load16 (prow + jj + 16) : p0[jj];
            }
#pragma GCC unroll 3
          for (int i = 0; i < 3; i++)
            {
              /* Output row r - i, when there is one. */
              if (r - i < 0 || r - i >= Ho)
                continue;
#pragma GCC unroll 3
              for (int jj = 0; jj < 3; jj++)
                {
                  acc[i][jj][0] += q0[i] * p0[jj];
                  if (NV > 1)
                    acc[i][jj][1] += q1[i] * p1[jj];
                }
            }
        }
    }
  for (int i = 0; i < 3; i++)
    for (int jj = 0; jj < 3; jj++)
      j->dw[(((gsize) k * C + c) * 3 + i) * 3 + jj] += lane_sum (NV > 1 ? acc[i][jj][0] + acc[i][jj][1] : acc[i][jj][0]);
  if (with_bias)
    j->db[k] += lane_sum (NV > 1 ? bias0 + bias1 : bias0);
}

static inline __attribute__ ((always_inline)) void
direct_plane_grads_3x3 (const DirectGradJob *j,
                        int                  k,
                        int                  c,
                        int                  NV)
{
  if (j->db != NULL && c == 0)
    direct_plane_grads_3x3_body (j, k, c, NV, TRUE);
  else
    direct_plane_grads_3x3_body (j, k, c, NV, FALSE);
}

static gboolean
whole_plane_grads (const CsConvGeometry *g)
{
  return (g->kh == 5 && g->kw == 5 && g->Wo <= 16) || (g->kh == 3 && g->kw == 3) || (g->kh == 1 && g->kw == 1);
}

/* The same for any other kw: one tap at a time, two accumulators. */
static void
direct_tap_row_grads_any (const DirectGradJob *j,
                          int                  k,
                          int                  c,
                          int                  i)
{
  const CsConvGeometry *g = j->g;

  for (int jj = 0; jj < g->kw; jj++)
    {
      const int hp = g->H + 2 * g->ph;
      gboolean with_bias = j->db != NULL && c == 0 && i == 0 && jj == 0;
      v16f acc0 = { 0 }, acc1 = { 0 }, bias0 = { 0 }, bias1 = { 0 };
      float lanes[32], sum = 0.0f;

      for (int bi = j->b0; bi < j->b1; bi++)
        for (int y = 0; y < g->Ho; y++)
          {
            const float *go = j->dout + (((gsize) bi * g->K + k) * g->Ho + y) * g->Wo;
            const float *prow = j->pads + (((gsize) (bi - j->b0) * g->C + c) * hp + i + y * g->sh) * j->ps +
                                tap_col (jj, g->sw, j->ps);
            v16f g0 = load_lanes (go, g->Wo), g1 = load_lanes (go + 16, g->Wo - 16);

            acc0 += g0 * load16 (prow);
            if (g->Wo > 16)
              acc1 += g1 * load16 (prow + 16);
            bias0 += g0;
            bias1 += g1;
          }
      memcpy (lanes, &acc0, 64);
      memcpy (lanes + 16, &acc1, 64);
      for (int x = 0; x < 32; x++)
        sum += lanes[x];
      j->dw[(((gsize) k * g->C + c) * g->kh + i) * g->kw + jj] += sum;
      if (with_bias)
        {
          memcpy (lanes, &bias0, 64);
          memcpy (lanes + 16, &bias1, 64);
          sum = 0.0f;
          for (int x = 0; x < 32; x++)
            sum += lanes[x];
          j->db[k] += sum;
        }
    }
}

/* The weight gradients of a chunk of samples into the chunk's own sums: for
 * each (k, c) (whole_plane_grads()) or (k, c, i), over the chunk's samples,
 * whose padded planes and gradients stay in the cache while every kernel
 * reads them (a task per (k, c) over the whole batch streamed the batch's
 * planes from memory K times). */
CS_VECTOR_CLONES static void
direct_weight_grad_chunks (gpointer data,
                           gsize    c0,
                           gsize    c1)
{
  const DirectGradJob *job = data;
  const CsConvGeometry *g = job->g;
  gboolean one = g->Wo <= 16, whole = whole_plane_grads (g), unit = g->sh == 1 && g->sw == 1;
  gsize n_w = (gsize) g->K * g->C * g->kh * g->kw;
  gsize n_t = (gsize) g->K * g->C * (whole ? 1 : g->kh);
  const int hp = g->H + 2 * g->ph;
  gsize pad_sample = (gsize) g->C * hp * job->ps, in_sample = (gsize) g->C * g->H * g->W;
  float *pads = cs_alloc_floats (pad_sample * job->chunk);

  for (gsize chunk = c0; chunk < c1; chunk++)
    {
      DirectGradJob sub = *job, *j = &sub;

      sub.b0 = (int) chunk * job->chunk;
      sub.b1 = MIN (g->B, sub.b0 + job->chunk);
      sub.pads = pads;
      for (int bi = sub.b0; bi < sub.b1; bi++)
        pad_planes (pads + (bi - sub.b0) * pad_sample, job->x + bi * in_sample, g->C, g->H, g->W, g->ph, g->pw, hp,
                    job->ps, g->sw);
      sub.dw = job->partial + chunk * (n_w + g->K);
      sub.db = job->db != NULL ? sub.dw + n_w : NULL;
      for (gsize t = 0; t < n_t; t++)
        {
          int i = (int) (t % g->kh), c = (int) (t / g->kh % g->C), k = (int) (t / g->kh / g->C);
          int pk = (int) (t / g->C), pc = (int) (t % g->C);
          /* Kernels two at a time (each padded row loaded once for both) where
           * their accumulators fit in registers: pk even does pk and pk + 1. */
          gboolean pairs = whole && one && g->kh < 5 && !(unit && g->kh == 3);

          if (pairs && pk % 2 == 1)
            continue;
          if (pairs && pk + 1 < g->K && g->kh == 1)
            direct_plane_grads (j, pk, pc, 2, 1, 1, 1);
          else if (pairs && pk + 1 < g->K)
            direct_plane_grads (j, pk, pc, 2, 3, 3, 1);
          else if (whole && g->kh == 5)
            direct_plane_grads (j, pk, pc, 1, 5, 5, 1);
          else if (whole && g->kh == 1 && one)
            direct_plane_grads (j, pk, pc, 1, 1, 1, 1);
          else if (whole && g->kh == 1)
            direct_plane_grads (j, pk, pc, 1, 1, 1, 2);
          else if (whole && unit && one)
            direct_plane_grads_3x3 (j, pk, pc, 1);
          else if (whole && unit)
            direct_plane_grads_3x3 (j, pk, pc, 2);
          else if (whole && one)
            direct_plane_grads (j, pk, pc, 1, 3, 3, 1);
          else if (whole)
            direct_plane_grads (j, pk, pc, 1, 3, 3, 2);
          else if (g->kw == 5 && one)
            direct_tap_row_grads (j, k, c, i, 5, 1);
          else if (g->kw == 5)
            direct_tap_row_grads (j, k, c, i, 5, 2);
          else if (g->kw == 3 && one)
            direct_tap_row_grads (j, k, c, i, 3, 1);
          else if (g->kw == 3)
            direct_tap_row_grads (j, k, c, i, 3, 2);
          else
            direct_tap_row_grads_any (j, k, c, i);
        }
    }
  cs_free_floats (pads);
}

#define DW_CHUNK_BYTES (512 * 1024)

/* dw (and db) += the sums of every chunk, in chunk order: the same figures
 * whatever the number of threads. A chunk's samples are padded again from x
 * (the forward pass keeps nothing), into DW_CHUNK_BYTES or so, with at most
 * 32 chunks and, where the batch allows, at least 8. */
static void
direct_weight_grads (float                *dw,
                     float                *db,
                     const float          *x,
                     const float          *dout,
                     const CsConvGeometry *g)
{
  gsize n_w = (gsize) g->K * g->C * g->kh * g->kw, stride = n_w + g->K;
  int ps = pad_stride (g->W + 2 * g->pw, g->kw, g->Wo, g->sw);
  gsize sample_bytes = sizeof (float) * ((gsize) g->C * (g->H + 2 * g->ph) * ps + (gsize) g->K * g->Ho * g->Wo);
  int chunk = (int) CLAMP (DW_CHUNK_BYTES / sample_bytes, 1, (gsize) (g->B + 7) / 8);
  int n_chunks;

  chunk = MAX (chunk, (g->B + 31) / 32);
  n_chunks = (g->B + chunk - 1) / chunk;
  float *partial = cs_alloc_floats (stride * n_chunks);
  DirectGradJob j = { dw, db, NULL, dout, g, x, 0, 0, chunk, partial, ps };

  cs_parallel_for (n_chunks, 1, direct_weight_grad_chunks, &j);
  for (int ch = 0; ch < n_chunks; ch++)
    {
      const float *p = partial + ch * stride;

      for (gsize w = 0; w < n_w; w++)
        dw[w] += p[w];
      if (db != NULL)
        for (int k = 0; k < g->K; k++)
          db[k] += p[n_w + k];
    }
  cs_free_floats (partial);
}

/* dx (B, C, H, W) = the "full" convolution of dout, padded by k - 1 - p, with
 * the kernels flipped and transposed: wt[c][k][i][j] = w[k][c][kh-1-i][kw-1-j]. */
static void
direct_input_grads (float                *dx,
                    const float          *dout,
                    const float          *w,
                    const CsConvGeometry *g)
{
  gsize taps = (gsize) g->kh * g->kw;
  float *wt = cs_alloc_floats ((gsize) g->C * g->K * taps);
  DirectJob j = { dx, dout, wt, NULL, g->K, g->Ho, g->Wo, g->C, g->kh, g->kw,
                  g->kh - 1 - g->ph, g->kw - 1 - g->pw, g->Ho + 2 * (g->kh - 1 - g->ph), g->H, g->W,
                  pad_stride (g->Wo + 2 * (g->kw - 1 - g->pw), g->kw, g->W, 1), 1, 1 };

  for (int k = 0; k < g->K; k++)
    for (int c = 0; c < g->C; c++)
      for (gsize t = 0; t < taps; t++)
        wt[((gsize) c * g->K + k) * taps + t] = w[((gsize) k * g->C + c) * taps + (taps - 1 - t)];
  cs_parallel_for (g->B, 4, direct_samples, &j);
  cs_free_floats (wt);
}

void
cs_conv2d_direct_forward (float                *out,
                          const float          *x,
                          const float          *w,
                          const float          *b,
                          const CsConvGeometry *g)
{
  DirectJob j = { out, x, w, b, g->C, g->H, g->W, g->K, g->kh, g->kw,
                  g->ph, g->pw, g->H + 2 * g->ph, g->Ho, g->Wo, pad_stride (g->W + 2 * g->pw, g->kw, g->Wo, g->sw),
                  g->sh, g->sw };

  cs_parallel_for (g->B, 4, direct_samples, &j);
}

gboolean
cs_conv2d_direct_backward (float                *dx,
                           float                *dw,
                           float                *db,
                           const float          *x,
                           const float          *dout,
                           const float          *w,
                           const CsConvGeometry *g)
{
  if (dw != NULL)
    direct_weight_grads (dw, db, x, dout, g);
  if (dx == NULL)
    return TRUE;
  if (direct_dx_applies (g))
    {
      direct_input_grads (dx, dout, w, g);
      return TRUE;
    }
  return FALSE;
}
