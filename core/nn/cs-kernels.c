/* Layer kernels: forward and backward passes, batched NCHW float32, matrix work through cs_gemm(). */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "nn/cs-gemm.h"
#include "nn/cs-kernels.h"
#include "base/cs-thread-pool.h"

/* Hot loops get AVX-512, AVX2 and baseline versions, picked at run time
 * (ifunc), so the binary runs on any x86-64 and uses the widest vectors it has. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(__SANITIZE_THREAD__)
#define CS_VECTOR_CLONES __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default"), \
                                          optimize ("tree-vectorize", "vect-cost-model=dynamic",         \
                                                    "no-tree-loop-distribute-patterns")))
#else
#define CS_VECTOR_CLONES
#endif

/* ---- Linear ------------------------------------------------------------ */

void
cs_linear_forward (float       *out,
                   const float *x,
                   const float *w,
                   const float *b,
                   int          B,
                   int          I,
                   int          N)
{
  /* out (B, N) = b, broadcast over rows; then += x (B, I) . w^T (I, N) */
  if (b != NULL)
    for (int i = 0; i < B; i++)
      memcpy (out + (gsize) i * N, b, sizeof (float) * N);
  cs_gemm (FALSE, TRUE, B, N, I, 1.0f, x, I, w, I, b != NULL ? 1.0f : 0.0f, out, N);
}

void
cs_linear_backward (float       *dx,
                    float       *dw,
                    float       *db,
                    const float *dout,
                    const float *x,
                    const float *w,
                    int          B,
                    int          I,
                    int          N)
{
  /* dw (N, I) += dout^T (N, B) . x (B, I) */
  cs_gemm (TRUE, FALSE, N, I, B, 1.0f, dout, N, x, I, 1.0f, dw, I);
  if (db != NULL)
    for (int i = 0; i < B; i++)
      {
        const float *row = dout + (gsize) i * N;
        for (int j = 0; j < N; j++)
          db[j] += row[j];
      }
  /* dx (B, I) = dout (B, N) . w (N, I) */
  if (dx != NULL)
    cs_gemm (FALSE, FALSE, B, I, N, 1.0f, dout, N, w, I, 0.0f, dx, I);
}

void
cs_linear_forward_ref (float       *out,
                       const float *x,
                       const float *w,
                       const float *b,
                       int          B,
                       int          I,
                       int          N)
{
  for (int s = 0; s < B; s++)
    for (int o = 0; o < N; o++)
      {
        double acc = b ? b[o] : 0.0;
        for (int i = 0; i < I; i++)
          acc += (double) x[(gsize) s * I + i] * w[(gsize) o * I + i];
        out[(gsize) s * N + o] = (float) acc;
      }
}

void
cs_linear_backward_ref (float       *dx,
                        float       *dw,
                        float       *db,
                        const float *dout,
                        const float *x,
                        const float *w,
                        int          B,
                        int          I,
                        int          N)
{
  for (int o = 0; o < N; o++)
    {
      for (int i = 0; i < I; i++)
        {
          double acc = 0;
          for (int s = 0; s < B; s++)
            acc += (double) dout[(gsize) s * N + o] * x[(gsize) s * I + i];
          dw[(gsize) o * I + i] += (float) acc;
        }
      if (db != NULL)
        {
          double acc = 0;
          for (int s = 0; s < B; s++)
            acc += dout[(gsize) s * N + o];
          db[o] += (float) acc;
        }
    }
  if (dx != NULL)
    for (int s = 0; s < B; s++)
      for (int i = 0; i < I; i++)
        {
          double acc = 0;
          for (int o = 0; o < N; o++)
            acc += (double) dout[(gsize) s * N + o] * w[(gsize) o * I + i];
          dx[(gsize) s * I + i] = (float) acc;
        }
}

/* ---- Conv2d ------------------------------------------------------------ */

gsize
cs_conv2d_col_size (const CsConvGeometry *g)
{
  return (gsize) g->C * g->kh * g->kw * g->B * g->Ho * g->Wo;
}

/* What the forward pass leaves in col for the backward pass, in floats:
 * nothing for a full-window conv, the zero-padded input planes for the direct
 * kernel, the im2col matrix otherwise. */
gsize
cs_conv2d_saved_size (const CsConvGeometry *g)
{
  if (cs_conv2d_is_full_window (g))
    return 0;
  if (cs_conv2d_direct_applies (g))
    return cs_conv2d_padded_size (g);
  return cs_conv2d_col_size (g);
}

gsize
cs_conv2d_tmp_size (const CsConvGeometry *g)
{
  return (gsize) g->K * g->B * g->Ho * g->Wo;
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
      float *row = job->dst + r * BP;

      for (int b = 0; b < g->B; b++)
        {
          const float *plane = job->src + ((gsize) b * g->C + c) * g->H * g->W;
          float *dst = row + b * P;

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
                for (int ox = 0; ox < g->Wo; ox++)
                  {
                    int ix = ox * g->sw - g->pw + j * g->dw;
                    d[ox] = (ix >= 0 && ix < g->W) ? plane[(gsize) iy * g->W + ix] : 0.0f;
                  }
            }
        }
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
                  for (int ox = 0; ox < g->Wo; ox++)
                    {
                      int ix = ox * g->sw - g->pw + j * g->dw;
                      if (ix >= 0 && ix < g->W)
                        drow[ix] += sr[ox];
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

/* ---- Direct convolution ----
 * Small convolutions (the seed's: few channels, rows of at most 32 outputs)
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
#define DIRECT_MAX_TAPS 256   /* C*kh*kw: beyond, a convolution is big enough for im2col and GEMM */
#define PAD_STRIDE 64
#define PAD_ROWS 64

typedef float v16f __attribute__ ((vector_size (64)));

gboolean
cs_conv2d_is_full_window (const CsConvGeometry *g)
{
  return g->kh == g->H && g->kw == g->W && g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 &&
         g->Ho == 1 && g->Wo == 1;
}

/* A padded plane of width wp and hp rows, read 16 or 32 floats at a time from
 * each of kw offsets, stays inside its PAD_STRIDE rows. */
static gboolean
direct_fits (int wp,
             int hp,
             int kw,
             int wo)
{
  return wo <= DIRECT_MAX_OUT && wp <= PAD_STRIDE && hp <= PAD_ROWS && kw - 1 + DIRECT_MAX_OUT <= PAD_STRIDE;
}

gboolean
cs_conv2d_direct_applies (const CsConvGeometry *g)
{
  return !cs_conv2d_is_full_window (g) && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
         g->C * g->kh * g->kw <= DIRECT_MAX_TAPS && direct_fits (g->W + 2 * g->pw, g->H + 2 * g->ph, g->kw, g->Wo);
}

/* The input gradient directly too: the output gradient padded by k - 1 - p. */
static gboolean
direct_dx_applies (const CsConvGeometry *g)
{
  return cs_conv2d_direct_applies (g) && g->ph <= g->kh - 1 && g->pw <= g->kw - 1 &&
         direct_fits (g->Wo + 2 * (g->kw - 1 - g->pw), g->Ho + 2 * (g->kh - 1 - g->ph), g->kw, g->W);
}

gsize
cs_conv2d_padded_size (const CsConvGeometry *g)
{
  return (gsize) g->B * g->C * (g->H + 2 * g->ph) * PAD_STRIDE;
}

gsize
cs_conv2d_dcol_size (const CsConvGeometry *g)
{
  if (cs_conv2d_is_full_window (g) || direct_dx_applies (g))
    return 0;
  return cs_conv2d_col_size (g);
}

/* C planes (H, W) into C padded planes of hp rows, PAD_STRIDE floats apart.
 * Only the data is written: the borders of pad are zero from its allocation
 * (cs_alloc_floats) and nothing else writes there, so they stay zero. */
static void
pad_planes (float       *pad,
            const float *src,
            int          C,
            int          H,
            int          W,
            int          ph,
            int          pw,
            int          hp)
{
  for (int c = 0; c < C; c++)
    for (int y = 0; y < H; y++)
      {
        float *restrict d = pad + ((gsize) c * hp + y + ph) * PAD_STRIDE + pw;
        const float *restrict r = src + ((gsize) c * H + y) * W;
        for (int x = 0; x < W; x++)
          d[x] = r[x];
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

/* One direct convolution of a batch: src (B, C, H, W) padded by (ph, pw) into
 * hp rows, kernels w (K, C, kh, kw), out (B, K, Ho, Wo) written. */
typedef struct
{
  float          *out;
  float          *pads;   /* (B, C, hp, PAD_STRIDE) kept for the backward pass, or NULL */
  const float    *src;
  const float    *w;
  const float    *b;
  int             C, H, W, K, kh, kw, ph, pw, hp, Ho, Wo;
} DirectJob;

/*
 * KB kernels k0 .. k0+KB-1 of one sample, a row at a time: each padded input
 * vector is loaded once for the KB kernels, and the KB*NV accumulators are
 * independent chains, so the FMAs do not wait on each other's latency.
 * Inlined with KB and NV constants; every output sums its taps in order
 * (c, i, j) from zero and adds the bias last, whatever KB and NV are.
 * (Two rows at a time, to load each weight once for both, measured no faster.)
 */
static inline __attribute__ ((always_inline)) void
direct_rows (float           *out,
             const float     *pad,
             const DirectJob *j,
             int              k0,
             int              KB,
             int              NV)
{
  const int taps = j->C * j->kh * j->kw, kw = j->kw, kh = j->kh, C = j->C, Wo = j->Wo;
  gsize P = (gsize) j->Ho * Wo, plane = (gsize) j->hp * PAD_STRIDE;

  for (int y = 0; y < j->Ho; y++)
    {
      v16f a0[4] = { { 0 } }, a1[4] = { { 0 } };
      /* Kernel rows that fall on padding rows read only zeros: skipped (the
       * input gradient's padded planes are mostly such rows). */
      const int i0 = MAX (0, j->ph - y), i1 = MIN (kh, j->ph + j->H - y);

      for (int c = 0; c < C; c++)
        for (int i = i0; i < i1; i++)
          {
            const float *prow = pad + c * plane + (gsize) (y + i) * PAD_STRIDE;
            const float *wt = j->w + (gsize) k0 * taps + (c * kh + i) * kw;

            for (int jj = 0; jj < kw; jj++)
              {
                v16f v0 = load16 (prow + jj), v1 = NV > 1 ? load16 (prow + jj + 16) : v0;
#pragma GCC unroll 4
                for (int kb = 0; kb < KB; kb++)
                  {
                    float wv = wt[(gsize) kb * taps + jj];
                    a0[kb] += wv * v0;
                    if (NV > 1)
                      a1[kb] += wv * v1;
                  }
              }
          }
#pragma GCC unroll 4
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
               int              NV)
{
  int k = 0;

  for (; k + 4 <= j->K; k += 4)
    direct_rows (out, pad, j, k, 4, NV);
  if (k + 2 <= j->K)
    {
      direct_rows (out, pad, j, k, 2, NV);
      k += 2;
    }
  if (k < j->K)
    direct_rows (out, pad, j, k, 1, NV);
}

CS_VECTOR_CLONES static void
direct_samples (gpointer data,
                gsize    b0,
                gsize    b1)
{
  DirectJob *j = data;
  gsize in_plane = (gsize) j->H * j->W, pad_sample = (gsize) j->C * j->hp * PAD_STRIDE;
  float *scratch = j->pads == NULL ? cs_alloc_floats (pad_sample) : NULL;

  for (gsize bi = b0; bi < b1; bi++)
    {
      float *pad = j->pads != NULL ? j->pads + bi * pad_sample : scratch;
      float *out = j->out + bi * j->K * (gsize) j->Ho * j->Wo;

      pad_planes (pad, j->src + bi * j->C * in_plane, j->C, j->H, j->W, j->ph, j->pw, j->hp);
      if (j->Wo <= 16)
        direct_sample (out, pad, j, 1);
      else
        direct_sample (out, pad, j, 2);
    }
  cs_free_floats (scratch);
}

typedef struct
{
  float          *dw;
  float          *db;
  const float    *pads;
  const float    *dout;
  const CsConvGeometry *g;
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
  float lanes[32], sum;

  memset (acc, 0, sizeof acc);
  for (int bi = 0; bi < g->B; bi++)
    {
      const float *go = j->dout + ((gsize) bi * K + k) * Ho * g->Wo;
      const float *pad = j->pads + (((gsize) bi * C + c) * hp + i) * PAD_STRIDE;

      for (int y = 0; y < Ho; y++)
        {
          const float *prow = pad + (gsize) y * PAD_STRIDE;
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
              acc[jj][0] += g0 * load16 (prow + jj);
              if (NV > 1)
                acc[jj][1] += g1 * load16 (prow + jj + 16);
            }
        }
    }
  for (int jj = 0; jj < KW; jj++)
    {
      memcpy (lanes, &acc[jj][0], 64);
      memcpy (lanes + 16, &acc[jj][1], 64);
      sum = 0.0f;
      for (int x = 0; x < 16 * NV; x++)
        sum += lanes[x];
      j->dw[(((gsize) k * C + c) * g->kh + i) * g->kw + jj] += sum;
    }
  if (with_bias)
    {
      memcpy (lanes, &bias0, 64);
      memcpy (lanes + 16, &bias1, 64);
      sum = 0.0f;
      for (int x = 0; x < 16 * NV; x++)
        sum += lanes[x];
      j->db[k] += sum;
    }
}

/* dw[k][c] whole, for 5x5 kernels and rows of at most 16 outputs (LeNet's
 * conv2): the 25 accumulators fit in AVX-512's registers, and each padded row
 * is loaded from the cache once for the five kernel rows that use it instead
 * of once per kernel row (a task per (k, c, i) streams the planes five
 * times). Same sums, in the same order, as direct_tap_row_grads. */
static inline __attribute__ ((always_inline)) void
direct_plane_grads_5x5 (const DirectGradJob *j,
                        int                  k,
                        int                  c)
{
  const CsConvGeometry *g = j->g;
  const int hp = g->H + 2 * g->ph, Ho = g->Ho, Wo = g->Wo, K = g->K, C = g->C;
  gboolean with_bias = j->db != NULL && c == 0;
  v16f acc[5][5], bias = { 0 };
  float lanes[16], sum;

  memset (acc, 0, sizeof acc);
  for (int bi = 0; bi < g->B; bi++)
    {
      const float *go = j->dout + ((gsize) bi * K + k) * Ho * Wo;
      const float *pad = j->pads + ((gsize) bi * C + c) * hp * PAD_STRIDE;

      for (int y = 0; y < Ho; y++)
        {
          v16f g0 = load_lanes (go + y * Wo, Wo);

          if (with_bias)
            bias += g0;
#pragma GCC unroll 5
          for (int i = 0; i < 5; i++)
            {
              const float *prow = pad + (gsize) (y + i) * PAD_STRIDE;
#pragma GCC unroll 5
              for (int jj = 0; jj < 5; jj++)
                acc[i][jj] += g0 * load16 (prow + jj);
            }
        }
    }
  for (int i = 0; i < 5; i++)
    for (int jj = 0; jj < 5; jj++)
      {
        memcpy (lanes, &acc[i][jj], 64);
        sum = 0.0f;
        for (int x = 0; x < 16; x++)
          sum += lanes[x];
        j->dw[(((gsize) k * C + c) * 5 + i) * 5 + jj] += sum;
      }
  if (with_bias)
    {
      memcpy (lanes, &bias, 64);
      sum = 0.0f;
      for (int x = 0; x < 16; x++)
        sum += lanes[x];
      j->db[k] += sum;
    }
}

static gboolean
whole_plane_grads (const CsConvGeometry *g)
{
  return g->kh == 5 && g->kw == 5 && g->Wo <= 16;
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

      for (int bi = 0; bi < g->B; bi++)
        for (int y = 0; y < g->Ho; y++)
          {
            const float *go = j->dout + (((gsize) bi * g->K + k) * g->Ho + y) * g->Wo;
            const float *prow = j->pads + (((gsize) bi * g->C + c) * hp + i + y) * PAD_STRIDE + jj;
            v16f g0 = load_lanes (go, g->Wo), g1 = load_lanes (go + 16, g->Wo - 16);

            acc0 += g0 * load16 (prow);
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

/* One task per (k, c, i), K * C * kh of them, each writing its own kw weights;
 * or per (k, c) where whole_plane_grads() holds. */
CS_VECTOR_CLONES static void
direct_weight_grads (gpointer data,
                     gsize    t0,
                     gsize    t1)
{
  DirectGradJob *j = data;
  const CsConvGeometry *g = j->g;
  gboolean one = g->Wo <= 16;

  for (gsize t = t0; t < t1; t++)
    {
      int i = (int) (t % g->kh), c = (int) (t / g->kh % g->C), k = (int) (t / g->kh / g->C);

      if (whole_plane_grads (g))
        direct_plane_grads_5x5 (j, (int) (t / g->C), (int) (t % g->C));
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
  DirectJob j = { dx, NULL, dout, wt, NULL, g->K, g->Ho, g->Wo, g->C, g->kh, g->kw,
                  g->kh - 1 - g->ph, g->kw - 1 - g->pw, g->Ho + 2 * (g->kh - 1 - g->ph), g->H, g->W };

  for (int k = 0; k < g->K; k++)
    for (int c = 0; c < g->C; c++)
      for (gsize t = 0; t < taps; t++)
        wt[((gsize) c * g->K + k) * taps + t] = w[((gsize) k * g->C + c) * taps + (taps - 1 - t)];
  cs_parallel_for (g->B, 4, direct_samples, &j);
  cs_free_floats (wt);
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
  if (cs_conv2d_direct_applies (g))
    {
      /* The padded input planes stay in col for the weight gradients. */
      DirectJob j = { out, col, x, w, b, g->C, g->H, g->W, g->K, g->kh, g->kw,
                      g->ph, g->pw, g->H + 2 * g->ph, g->Ho, g->Wo };
      cs_parallel_for (g->B, 4, direct_samples, &j);
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

void
cs_conv2d_backward (float                *dx,
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

  if (cs_conv2d_is_full_window (g))
    {
      cs_linear_backward (dx, dw, db, dout, x, w, g->B, Kd, g->K);
      return;
    }
  if (cs_conv2d_direct_applies (g))
    {
      DirectGradJob j = { dw, db, col, dout, g };

      if (dw != NULL)
        cs_parallel_for ((gsize) g->K * g->C * (whole_plane_grads (g) ? 1 : g->kh), 1, direct_weight_grads, &j);
      if (dx == NULL)
        return;
      if (direct_dx_applies (g))
        {
          direct_input_grads (dx, dout, w, g);
          return;
        }
      /* The input gradient as below (dcol = w^T dout, then col2im); col is not needed. */
      db = NULL;
      dw = NULL;
    }

  /* tmp (K, B*P) = dout (B, K, P) with the batch moved inward; db sums it. */
  {
    GatherJob job = { tmp, dout, db, g };
    cs_parallel_for (g->K, 1, conv_gather_channels, &job);
  }
  /* dw (K, Kd) += tmp (K, B*P) . col^T (B*P, Kd) */
  if (dw != NULL)
    cs_gemm (FALSE, TRUE, g->K, Kd, BP, 1.0f, tmp, BP, col, BP, 1.0f, dw, Kd);
  if (dx != NULL)
    {
      /* dcol (Kd, B*P) = w^T (Kd, K) . tmp (K, B*P), then scattered back. */
      cs_gemm (TRUE, FALSE, Kd, BP, g->K, 1.0f, w, Kd, tmp, BP, 0.0f, dcol, BP);
      memset (dx, 0, sizeof (float) * g->B * g->C * g->H * g->W);
      cs_col2im (dx, dcol, g);
    }
}

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

/* ---- Pooling ----------------------------------------------------------- */

/* As PyTorch's CPU kernel: padding counts as -inf, the first maximum wins, NaN propagates. */
typedef struct
{
  float          *out;
  gint32         *argmax;
  const float    *x;
  const CsConvGeometry *g;
} PoolJob;

/* One output row of a 2x2 max-pool; inlined with sw a constant, so the loop
 * over ox vectorises (if-converted to masked selects). The first maximum in scan
 * order wins; the first NaN wins and stays (PyTorch's rule); v != v is isnan (v). */
static inline __attribute__ ((always_inline)) void
maxpool2x2_row (float *restrict       o,
                gint32 *restrict      am,
                const float *restrict r0,
                const float *restrict r1,
                gint32                base,
                int                   W,
                int                   Wo,
                int                   sw)
{
  for (int ox = 0; ox < Wo; ox++)
    {
      int ix = ox * sw;
      float a = r0[ix], b = r0[ix + 1], c = r1[ix], d = r1[ix + 1], best = a;
      gint32 off = 0;

      if (!(best != best) && (b > best || b != b))
        best = b, off = 1;
      if (!(best != best) && (c > best || c != c))
        best = c, off = W;
      if (!(best != best) && (d > best || d != d))
        best = d, off = W + 1;
      o[ox] = best;
      am[ox] = base + ix + off;
    }
}

CS_VECTOR_CLONES static void
maxpool_forward_planes (gpointer data,
                        gsize    p0,
                        gsize    p1)
{
  PoolJob *job = data;
  const CsConvGeometry *g = job->g;
  float *out = job->out;
  gint32 *argmax = job->argmax;
  const float *x = job->x;

  /* The common 2x2 window without padding: four loads, no bounds checks. */
  if (g->kh == 2 && g->kw == 2 && g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 &&
      (g->Ho - 1) * g->sh + 2 <= g->H && (g->Wo - 1) * g->sw + 2 <= g->W)
    {
      const int W = g->W, Wo = g->Wo, Ho = g->Ho, sh = g->sh, sw = g->sw;

      for (gsize pl = p0; pl < p1; pl++)
        {
          const float *in = x + pl * g->H * W;

          for (int oy = 0; oy < Ho; oy++)
            {
              const float *restrict r0 = in + oy * sh * W, *restrict r1 = r0 + W;
              float *restrict o = out + (pl * Ho + oy) * Wo;
              gint32 *restrict am = argmax + (pl * Ho + oy) * Wo;
              gint32 base = oy * sh * W;

              if (sw == 1)
                maxpool2x2_row (o, am, r0, r1, base, W, Wo, 1);
              else if (sw == 2)
                maxpool2x2_row (o, am, r0, r1, base, W, Wo, 2);
              else
                maxpool2x2_row (o, am, r0, r1, base, W, Wo, sw);
            }
        }
      return;
    }

  for (gsize pl = p0; pl < p1; pl++)
    {
      const float *in = x + pl * g->H * g->W;
      float *o = out + pl * g->Ho * g->Wo;
      gint32 *am = argmax + pl * g->Ho * g->Wo;

      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            int y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
            float best = -INFINITY;
            gint32 best_i = -1;

            for (int i = 0; i < g->kh; i++)
              {
                int iy = y0 + i * g->dh;
                if (iy < 0 || iy >= g->H)
                  continue;
                for (int j = 0; j < g->kw; j++)
                  {
                    int ix = x0 + j * g->dw;
                    float v;
                    if (ix < 0 || ix >= g->W)
                      continue;
                    v = in[iy * g->W + ix];
                    if (v > best || isnan (v) || best_i < 0)
                      {
                        best = v;
                        best_i = iy * g->W + ix;
                        if (isnan (v))
                          goto done;
                      }
                  }
              }
          done:
            o[oy * g->Wo + ox] = best;
            am[oy * g->Wo + ox] = best_i;
          }
    }
}

void
cs_maxpool_forward (float                *out,
                    gint32               *argmax,
                    const float          *x,
                    const CsConvGeometry *g)
{
  PoolJob job = { out, argmax, x, g };
  cs_parallel_for ((gsize) g->B * g->C, 4, maxpool_forward_planes, &job);
}

CS_VECTOR_CLONES static void
maxpool_backward_planes (gpointer data,
                         gsize    p0,
                         gsize    p1)
{
  PoolJob *job = data;
  const CsConvGeometry *g = job->g;
  float *dx = job->out;
  const gint32 *argmax = job->argmax;
  const float *dout = job->x;

  memset (dx + p0 * g->H * g->W, 0, sizeof (float) * (p1 - p0) * g->H * g->W);
  for (gsize pl = p0; pl < p1; pl++)
    {
      float *d = dx + pl * g->H * g->W;
      const float *go = dout + pl * g->Ho * g->Wo;
      const gint32 *am = argmax + pl * g->Ho * g->Wo;

      for (int p = 0; p < g->Ho * g->Wo; p++)
        if (am[p] >= 0)
          d[am[p]] += go[p];
    }
}

void
cs_maxpool_backward (float                *dx,
                     const float          *dout,
                     const gint32         *argmax,
                     const CsConvGeometry *g)
{
  PoolJob job = { dx, (gint32 *) argmax, dout, g };
  cs_parallel_for ((gsize) g->B * g->C, 4, maxpool_backward_planes, &job);
}

/* The window of output (oy, ox) and its divisor, as PyTorch's avg_pool2d computes them. */
static inline void
avg_window (const CsConvGeometry *g,
            int                   oy,
            int                   ox,
            int                  *ys,
            int                  *ye,
            int                  *xs,
            int                  *xe,
            float                *divisor)
{
  int hs = oy * g->sh - g->ph, ws = ox * g->sw - g->pw;
  int he = MIN (hs + g->kh, g->H + g->ph), we = MIN (ws + g->kw, g->W + g->pw);
  int pool_size = (he - hs) * (we - ws);

  hs = MAX (hs, 0);
  ws = MAX (ws, 0);
  he = MIN (he, g->H);
  we = MIN (we, g->W);
  *ys = hs, *ye = he, *xs = ws, *xe = we;
  *divisor = (float) (g->count_include_pad ? pool_size : (he - hs) * (we - ws));
}

CS_VECTOR_CLONES static void
avgpool_forward_planes (gpointer data,
                        gsize    p0,
                        gsize    p1)
{
  PoolJob *job = data;
  const CsConvGeometry *g = job->g;
  float *out = job->out;
  const float *x = job->x;

  /* 2x2, stride 2, no padding (LeNet's): the same sum and divisor as below, without the window arithmetic. */
  if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
      2 * g->Ho <= g->H && 2 * g->Wo <= g->W)
    {
      for (gsize pl = p0; pl < p1; pl++)
        {
          const float *in = x + pl * g->H * g->W;
          float *o = out + pl * g->Ho * g->Wo;
          for (int oy = 0; oy < g->Ho; oy++)
            {
              const float *r0 = in + 2 * oy * g->W, *r1 = r0 + g->W;
              for (int ox = 0; ox < g->Wo; ox++)
                o[oy * g->Wo + ox] = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) / 4.0f;
            }
        }
      return;
    }

  for (gsize pl = p0; pl < p1; pl++)
    {
      const float *in = x + pl * g->H * g->W;
      float *o = out + pl * g->Ho * g->Wo;

      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            int ys, ye, xs, xe;
            float div, sum = 0.0f;

            avg_window (g, oy, ox, &ys, &ye, &xs, &xe, &div);
            if (ys >= ye || xs >= xe)
              {
                o[oy * g->Wo + ox] = 0.0f;
                continue;
              }
            for (int iy = ys; iy < ye; iy++)
              for (int ix = xs; ix < xe; ix++)
                sum += in[iy * g->W + ix];
            o[oy * g->Wo + ox] = sum / div;
          }
    }
}

void
cs_avgpool_forward (float                *out,
                    const float          *x,
                    const CsConvGeometry *g)
{
  PoolJob job = { out, NULL, x, g };
  cs_parallel_for ((gsize) g->B * g->C, 4, avgpool_forward_planes, &job);
}

CS_VECTOR_CLONES static void
avgpool_backward_planes (gpointer data,
                         gsize    p0,
                         gsize    p1)
{
  PoolJob *job = data;
  const CsConvGeometry *g = job->g;
  float *dx = job->out;
  const float *dout = job->x;

  memset (dx + p0 * g->H * g->W, 0, sizeof (float) * (p1 - p0) * g->H * g->W);
  if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
      2 * g->Ho <= g->H && 2 * g->Wo <= g->W)
    {
      for (gsize pl = p0; pl < p1; pl++)
        {
          float *d = dx + pl * g->H * g->W;
          const float *go = dout + pl * g->Ho * g->Wo;
          for (int oy = 0; oy < g->Ho; oy++)
            {
              float *r0 = d + 2 * oy * g->W, *r1 = r0 + g->W;
              for (int ox = 0; ox < g->Wo; ox++)
                {
                  float v = go[oy * g->Wo + ox] / 4.0f;
                  r0[2 * ox] = v;
                  r0[2 * ox + 1] = v;
                  r1[2 * ox] = v;
                  r1[2 * ox + 1] = v;
                }
            }
        }
      return;
    }
  for (gsize pl = p0; pl < p1; pl++)
    {
      float *d = dx + pl * g->H * g->W;
      const float *go = dout + pl * g->Ho * g->Wo;

      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            int ys, ye, xs, xe;
            float div, v;

            avg_window (g, oy, ox, &ys, &ye, &xs, &xe, &div);
            if (ys >= ye || xs >= xe)
              continue;
            v = go[oy * g->Wo + ox] / div;
            for (int iy = ys; iy < ye; iy++)
              for (int ix = xs; ix < xe; ix++)
                d[iy * g->W + ix] += v;
          }
    }
}

void
cs_avgpool_backward (float                *dx,
                     const float          *dout,
                     const CsConvGeometry *g)
{
  PoolJob job = { dx, NULL, dout, g };
  cs_parallel_for ((gsize) g->B * g->C, 4, avgpool_backward_planes, &job);
}

/* ---- Element-wise ------------------------------------------------------ */

#define ELT_GRAIN 16384

typedef struct
{
  float       *dst;
  const float *a;
  const float *b;
} EltJob;

/* The job's pointers are copied to restrict locals: the project builds with
 * -fno-strict-aliasing, so otherwise every store could change j->dst and the
 * loop would reload it and stay scalar. */
CS_VECTOR_CLONES static void
relu_fwd_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict a = j->a;

  for (gsize i = i0; i < i1; i++)
    dst[i] = a[i] > 0.0f ? a[i] : (isnan (a[i]) ? a[i] : 0.0f);
}

void
cs_relu_forward (float       *out,
                 const float *x,
                 gsize        n)
{
  EltJob j = { out, x, NULL };
  cs_parallel_for (n, ELT_GRAIN, relu_fwd_range, &j);
}

CS_VECTOR_CLONES static void
relu_bwd_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict g = j->a, *restrict o = j->b;

  for (gsize i = i0; i < i1; i++)
    dst[i] = o[i] > 0.0f ? g[i] : 0.0f;
}

void
cs_relu_backward (float       *dx,
                  const float *dout,
                  const float *out,
                  gsize        n)
{
  EltJob j = { dx, dout, out };
  cs_parallel_for (n, ELT_GRAIN, relu_bwd_range, &j);
}

/*
 * tanh as a rational function on [-7.9, 7.9] (beyond, tanh is +-1 in float):
 * the minimax approximation Eigen uses, x*P(x^2)/Q(x^2), within a few ulp of
 * libm's tanhf (checked against it in the tests) and free of branches, so the
 * compiler vectorises the loop. cs_tanh_forward_ref() is libm.
 */
static inline float
fast_tanh (float x)
{
  const float clamp = 7.90531110763549805f;
  float x2, p, q;

  x = x < -clamp ? -clamp : (x > clamp ? clamp : x);
  x2 = x * x;
  p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * x;
  q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}

CS_VECTOR_CLONES static void
tanh_fwd_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict a = j->a;

  for (gsize i = i0; i < i1; i++)
    dst[i] = fast_tanh (a[i]);
}

void
cs_tanh_forward (float       *out,
                 const float *x,
                 gsize        n)
{
  EltJob j = { out, x, NULL };
  cs_parallel_for (n, ELT_GRAIN, tanh_fwd_range, &j);
}

void
cs_tanh_forward_ref (float       *out,
                     const float *x,
                     gsize        n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = tanhf (x[i]);
}

CS_VECTOR_CLONES static void
tanh_bwd_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict g = j->a, *restrict o = j->b;

  /* d tanh(x) / dx = 1 - tanh(x)^2 */
  for (gsize i = i0; i < i1; i++)
    dst[i] = g[i] * (1.0f - o[i] * o[i]);
}

void
cs_tanh_backward (float       *dx,
                  const float *dout,
                  const float *out,
                  gsize        n)
{
  EltJob j = { dx, dout, out };
  cs_parallel_for (n, ELT_GRAIN, tanh_bwd_range, &j);
}

static void
sigmoid_fwd_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict a = j->a;

  for (gsize i = i0; i < i1; i++)
    dst[i] = 1.0f / (1.0f + expf (-a[i]));
}

void
cs_sigmoid_forward (float       *out,
                    const float *x,
                    gsize        n)
{
  EltJob j = { out, x, NULL };
  cs_parallel_for (n, ELT_GRAIN, sigmoid_fwd_range, &j);
}

CS_VECTOR_CLONES static void
sigmoid_bwd_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict g = j->a, *restrict o = j->b;

  for (gsize i = i0; i < i1; i++)
    dst[i] = g[i] * o[i] * (1.0f - o[i]);
}

void
cs_sigmoid_backward (float       *dx,
                     const float *dout,
                     const float *out,
                     gsize        n)
{
  EltJob j = { dx, dout, out };
  cs_parallel_for (n, ELT_GRAIN, sigmoid_bwd_range, &j);
}

#define DROPOUT_CHUNK 16384
#define DROPOUT_LANES 16

typedef struct
{
  float       *out;
  float       *mask;
  const float *x;
  gsize        n;
  guint32      keep_from;
  float        scale;
  guint64      seed;
} DropoutJob;

/*
 * Each chunk draws from DROPOUT_LANES PCG32 streams of the run's seed, lane l
 * giving elements l, l + 16, l + 32, ...: the same numbers whatever thread
 * draws them, and sixteen independent multiply chains instead of one, so the
 * loop runs at the multiplier's throughput rather than its latency (and
 * vectorises where the CPU has 64-bit vector multiplies). An element is kept
 * when its 24-bit uniform u = r >> 8 satisfies u / 2^24 >= p, tested in
 * integers as u >= keep_from = ceil (p * 2^24): the same test as
 * cs_rng_uniform (rng) >= p, without the conversion.
 */
CS_VECTOR_CLONES static void
dropout_chunks (gpointer data,
                gsize    c0,
                gsize    c1)
{
  DropoutJob *j = data;
  float *restrict out = j->out, *restrict mask = j->mask;
  const float *restrict x = j->x;
  const guint32 keep_from = j->keep_from;
  const float scale = j->scale;

  for (gsize c = c0; c < c1; c++)
    {
      gsize start = c * DROPOUT_CHUNK, end = MIN (start + DROPOUT_CHUNK, j->n), i;
      guint64 state[DROPOUT_LANES], inc[DROPOUT_LANES];

      for (int l = 0; l < DROPOUT_LANES; l++)
        {
          CsRng rng;
          cs_rng_seed (&rng, j->seed, (guint64) c * DROPOUT_LANES + l);
          state[l] = rng.state;
          inc[l] = rng.inc;
        }
      for (i = start; i < end; i += DROPOUT_LANES)
        {
          guint32 r[DROPOUT_LANES];
          int lanes = (int) MIN ((gsize) DROPOUT_LANES, end - i);

          for (int l = 0; l < DROPOUT_LANES; l++)
            {
              guint64 old = state[l];
              guint32 xorshifted = (guint32) (((old >> 18) ^ old) >> 27);
              guint32 rot = (guint32) (old >> 59);

              state[l] = old * G_GUINT64_CONSTANT (6364136223846793005) + inc[l];
              r[l] = (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
            }
          if (lanes == DROPOUT_LANES)
            for (int l = 0; l < DROPOUT_LANES; l++)
              {
                float m = (r[l] >> 8) >= keep_from ? scale : 0.0f;
                mask[i + l] = m;
                out[i + l] = x[i + l] * m;
              }
          else
            for (int l = 0; l < lanes; l++)
              {
                float m = (r[l] >> 8) >= keep_from ? scale : 0.0f;
                mask[i + l] = m;
                out[i + l] = x[i + l] * m;
              }
        }
    }
}

void
cs_dropout_forward (float       *out,
                    float       *mask,
                    const float *x,
                    gsize        n,
                    float        p,
                    CsRng       *rng)
{
  DropoutJob j = { out, mask, x, n, 0, p < 1.0f ? 1.0f / (1.0f - p) : 0.0f, 0 };
  double from = ceil ((double) p * 16777216.0);

  /* p >= 1 keeps nothing: no 24-bit number reaches 2^24. */
  j.keep_from = (guint32) CLAMP (from, 0.0, 16777216.0);
  j.seed = ((guint64) cs_rng_next (rng) << 32) | cs_rng_next (rng);
  cs_parallel_for ((n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK, 1, dropout_chunks, &j);
}

void
cs_dropout_forward_ref (float       *out,
                        float       *mask,
                        const float *x,
                        gsize        n,
                        float        p,
                        CsRng       *rng)
{
  float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  guint64 seed = ((guint64) cs_rng_next (rng) << 32) | cs_rng_next (rng);

  for (gsize start = 0; start < n; start += DROPOUT_CHUNK)
    for (int l = 0; l < DROPOUT_LANES; l++)
      {
        CsRng lane;

        cs_rng_seed (&lane, seed, (guint64) (start / DROPOUT_CHUNK) * DROPOUT_LANES + l);
        for (gsize i = start + l; i < MIN (start + DROPOUT_CHUNK, n); i += DROPOUT_LANES)
          {
            mask[i] = cs_rng_uniform (&lane) >= p ? scale : 0.0f;
            out[i] = x[i] * mask[i];
          }
      }
}

/* The mask holds 0 or the scale: the gradient is dout times it. */
CS_VECTOR_CLONES static void
dropout_bwd_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict g = j->a, *restrict mask = j->b;

  for (gsize i = i0; i < i1; i++)
    dst[i] = g[i] * mask[i];
}

void
cs_dropout_backward (float       *dx,
                     const float *dout,
                     const float *mask,
                     gsize        n)
{
  EltJob j = { dx, dout, mask };
  cs_parallel_for (n, ELT_GRAIN, dropout_bwd_range, &j);
}

/* ---- Classes ----------------------------------------------------------- */

void
cs_log_softmax_forward (float       *out,
                        const float *x,
                        int          B,
                        int          N)
{
  for (int s = 0; s < B; s++)
    {
      const float *row = x + (gsize) s * N;
      float *o = out + (gsize) s * N;
      float m = row[0];
      double sum = 0;
      float lse;

      for (int j = 1; j < N; j++)
        m = MAX (m, row[j]);
      for (int j = 0; j < N; j++)
        sum += expf (row[j] - m);
      lse = m + (float) log (sum);
      for (int j = 0; j < N; j++)
        o[j] = row[j] - lse;
    }
}

void
cs_log_softmax_backward (float       *dx,
                         const float *dout,
                         const float *out,
                         int          B,
                         int          N)
{
  /* dx = dout - softmax * sum(dout), softmax = exp(out) */
  for (int s = 0; s < B; s++)
    {
      const float *g = dout + (gsize) s * N;
      const float *o = out + (gsize) s * N;
      float *d = dx + (gsize) s * N;
      double sum = 0;

      for (int j = 0; j < N; j++)
        sum += g[j];
      for (int j = 0; j < N; j++)
        d[j] = g[j] - expf (o[j]) * (float) sum;
    }
}

double
cs_cross_entropy_loss (float        *dlogits,
                       const float  *logits,
                       const gint32 *labels,
                       int           B,
                       int           N)
{
  double total = 0;

  for (int s = 0; s < B; s++)
    {
      const float *z = logits + (gsize) s * N;
      float m = z[0];
      double sum = 0, lse;

      for (int j = 1; j < N; j++)
        m = MAX (m, z[j]);
      for (int j = 0; j < N; j++)
        sum += exp ((double) z[j] - m);
      lse = m + log (sum);
      total += lse - z[labels[s]];
      if (dlogits != NULL)
        {
          float *d = dlogits + (gsize) s * N;
          for (int j = 0; j < N; j++)
            d[j] = (float) (exp ((double) z[j] - lse) / B);
          d[labels[s]] -= 1.0f / B;
        }
    }
  return total / B;
}

double
cs_nll_loss (float        *dlogp,
             const float  *logp,
             const gint32 *labels,
             int           B,
             int           N)
{
  double total = 0;

  if (dlogp != NULL)
    memset (dlogp, 0, sizeof (float) * B * N);
  for (int s = 0; s < B; s++)
    {
      total -= logp[(gsize) s * N + labels[s]];
      if (dlogp != NULL)
        dlogp[(gsize) s * N + labels[s]] = -1.0f / B;
    }
  return total / B;
}
