/* The direct convolution's weight gradients (each (k, c) plane or kernel row
 * over chunks of samples padded again from x) and its input gradient for
 * strides the "full" convolution does not serve (scattered into padded
 * planes). Checked against cs_conv2d_backward_ref() (cs-conv2d.c). */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-conv2d-direct-private.h"

typedef struct
{
  float          *dw;
  float          *db;
  const float    *pads;        /* the chunk's samples padded: (b1 - b0, C, hp, ps) */
  const float    *dout;
  const float    *dout_end;    /* dout + B * K * Ho * Wo */
  const float    *gpads;       /* the chunk's output gradients, a row every gs floats */
  int             gs;          /* 16 or 32: a copy, zeros past Wo; else Wo: dout itself */
  const CsConvGeometry *g;
  const float    *x;           /* the layer's input (B, C, H, W) */
  int             b0, b1;      /* the samples of one chunk */
  int             chunk;       /* samples per chunk */
  float          *partial;     /* per chunk: (K, C, kh, kw) weight sums, then K bias sums */
  int             ps;          /* pad_stride () of pads */
  CsRangeFunc     dx_fn;       /* run on each chunk's samples after its sums, or NULL */
  gpointer        dx_data;
} DirectGradJob;

/* Row y of output gradient plane k of sample bi of the chunk. Rows of up to
 * 16 are copied into whole vectors padded with zeros, so a row is one aligned
 * load (it was a masked one per (k, c) pair); longer rows are read where they
 * are, the second vector masked (for few input channels the copy cost more
 * than the loads it saved). */
static inline const float *
grad_row (const DirectGradJob *j,
          int                  bi,
          int                  k,
          int                  y)
{
  return j->gpads + (((gsize) (bi - j->b0) * j->g->K + k) * j->g->Ho + y) * j->gs;
}

/* Columns 16 .. 31 of a gradient row of more than 16: a whole vector in a
 * copy padded to 32 (gs 32; or a row of 32 itself), else masked. (A macro:
 * a v16f return value would change the ABI between clones.) */
#define grad_hi(j, row) ((j)->gs == 32 ? load16 ((row) + 16) \
                                         : load_before ((row) + 16, (j)->g->Wo - 16, (j)->dout_end))

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
  const int hp = g->H + 2 * g->ph, Ho = g->Ho, C = g->C;
  gboolean with_bias = j->db != NULL && c == 0 && i == 0;
  v16f acc[8][2], bias0 = { 0 }, bias1 = { 0 };

  memset (acc, 0, sizeof acc);
  for (int bi = j->b0; bi < j->b1; bi++)
    {
      const float *go = grad_row (j, bi, k, 0);
      const float *pad = j->pads + (((gsize) (bi - j->b0) * C + c) * hp + i) * j->ps;

      for (int y = 0; y < Ho; y++)
        {
          const float *prow = pad + (gsize) y * g->sh * j->ps;
          v16f g0 = load16 (go + y * j->gs);
          v16f g1 = NV > 1 ? grad_hi (j, go + y * j->gs) : g0;

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

/* dw[k0 .. k0+KB)[c] whole (KB, KH x KW, NV constants when inlined,
 * KB * KH * KW * NV accumulators that fit in registers: 1x1 and 3x3 kernels,
 * two output channels at a time on rows of at most 16, and 5x5 ones on such
 * rows, LeNet's conv2): each gradient row is loaded once for every tap of the
 * plane, each padded input vector once for the KB channels. Every weight sums
 * its products lane-wise over the chunk's samples and rows, then across lanes
 * in a fixed order, so the result does not depend on the number of threads. */
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
  const int hp = g->H + 2 * g->ph, Ho = g->Ho, C = g->C;
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
      const float *go = grad_row (j, bi, k0, 0);
      const float *pad = j->pads + ((gsize) (bi - j->b0) * C + c) * hp * j->ps;

      for (int y = 0; y < Ho; y++)
        {
          v16f g0[2], g1[2];

#pragma GCC unroll 2
          for (int kb = 0; kb < KB; kb++)
            {
              const float *gr = go + ((gsize) kb * Ho + y) * j->gs;

              g0[kb] = load16 (gr);
              g1[kb] = NV > 1 ? grad_hi (j, gr) : g0[kb];
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
 * over output rows loads 9 * NV. One kernel at a time: without AVX-512's 32
 * registers, or for an odd number of kernels' last (two at a time below). */
static inline __attribute__ ((always_inline)) void
direct_plane_grads_3x3_one_body (const DirectGradJob *j,
                             int                  k,
                             int                  c,
                             int                  NV,
                             gboolean             with_bias)
{
  const CsConvGeometry *g = j->g;
  const int hp = g->H + 2 * g->ph, Ho = g->Ho, C = g->C;
  const int rows = MIN (hp, Ho + 2);
  v16f acc[3][3][2], bias0 = { 0 }, bias1 = { 0 };

  memset (acc, 0, sizeof acc);
  for (int bi = j->b0; bi < j->b1; bi++)
    {
      const float *go = grad_row (j, bi, k, 0);
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
              q0[0] = load16 (go + r * j->gs);
              q1[0] = NV > 1 ? grad_hi (j, go + r * j->gs) : q0[0];
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
direct_plane_grads_3x3_one (const DirectGradJob *j,
                        int                  k,
                        int                  c,
                        int                  NV)
{
  if (j->db != NULL && c == 0)
    direct_plane_grads_3x3_one_body (j, k, c, NV, TRUE);
  else
    direct_plane_grads_3x3_one_body (j, k, c, NV, FALSE);
}

/* One padded input row of the 3x3 kernel below: its three shifted vectors
 * times the gradient rows r - i (q[kb][i], i in [ILO, IHI)) of both kernels. */
#define PAIR_ROW(ILO, IHI)                                             \
  do                                                                    \
    {                                                                   \
      const float *pr_ = prow;                                          \
      v16f p0_ = load16 (pr_), p1_ = load16 (pr_ + 1), p2_ = load16 (pr_ + 2); \
      _Pragma ("GCC unroll 3")                                          \
      for (int i = (ILO); i < (IHI); i++)                               \
        {                                                               \
          a[0][i][0] += q[0][i] * p0_;                                  \
          a[0][i][1] += q[0][i] * p1_;                                  \
          a[0][i][2] += q[0][i] * p2_;                                  \
          a[1][i][0] += q[1][i] * p0_;                                  \
          a[1][i][1] += q[1][i] * p1_;                                  \
          a[1][i][2] += q[1][i] * p2_;                                  \
        }                                                               \
    }                                                                   \
  while (0)

/* dw[k0, k0 + 1][c] whole for 3x3 kernels at stride 1, 16 output columns
 * (from 16 * HALF) at a time: the loop runs over the padded input rows r,
 * loads each row's three shifted vectors once and multiplies them with the
 * gradient rows r, r - 1 and r - 2 of both kernels (kept in registers as r
 * advances), one per kernel row: 3 input loads for 18 multiply-adds, in 18
 * accumulators (AVX-512's 32 registers). The first two rows and the last
 * ones, which lack some of the three gradient rows, apart, so the rows
 * between run without a test. */
static inline __attribute__ ((always_inline)) void
direct_plane_grads_3x3_body (const DirectGradJob *j,
                             int                  k0,
                             int                  c,
                             int                  HALF,
                             gboolean             with_bias)
{
  const CsConvGeometry *g = j->g;
  const int hp = g->H + 2 * g->ph, Ho = g->Ho, C = g->C, col = 16 * HALF;
  const int rows = MIN (hp, Ho + 2), head = MIN (2, rows), mid = MAX (head, Ho);
  v16f a[2][3][3] = { { { { 0 } } } }, bias[2] = { { 0 } };

  for (int bi = j->b0; bi < j->b1; bi++)
    {
      const float *g0 = grad_row (j, bi, k0, 0) + col, *g1 = grad_row (j, bi, k0 + 1, 0) + col;
      const float *pad = j->pads + ((gsize) (bi - j->b0) * C + c) * hp * j->ps + col;
      v16f q[2][3] = { { { 0 } } };   /* per kernel: gradient rows r, r - 1, r - 2 */

      for (int r = 0; r < rows; r++)
        {
          const float *prow = pad + (gsize) r * j->ps;

          q[0][2] = q[0][1];
          q[0][1] = q[0][0];
          q[1][2] = q[1][1];
          q[1][1] = q[1][0];
          if (r < Ho && col == 0)
            {
              q[0][0] = load16 (g0 + (gsize) r * j->gs);
              q[1][0] = load16 (g1 + (gsize) r * j->gs);
            }
          else if (r < Ho)
            {
              /* The second 16 columns (g0 and g1 point 16 floats in). */
              q[0][0] = grad_hi (j, g0 - 16 + (gsize) r * j->gs);
              q[1][0] = grad_hi (j, g1 - 16 + (gsize) r * j->gs);
            }
          else
            q[0][0] = q[1][0] = (v16f) { 0 };
          if (with_bias)
            {
              bias[0] += q[0][0];
              bias[1] += q[1][0];
            }
          /* Output rows r - i that exist: i <= r, and i > r - Ho; each
           * range a constant, so the accumulators stay in registers. */
          if (r >= head && r < mid)
            PAIR_ROW (0, 3);
          else
            switch (MAX (0, r - Ho + 1) * 4 + MIN (3, r + 1))
              {
              case 1: PAIR_ROW (0, 1); break;
              case 2: PAIR_ROW (0, 2); break;
              case 3: PAIR_ROW (0, 3); break;
              case 6: PAIR_ROW (1, 2); break;
              case 7: PAIR_ROW (1, 3); break;
              case 11: PAIR_ROW (2, 3); break;
              default: break;   /* no output row reads this one */
              }
        }
    }
  for (int kb = 0; kb < 2; kb++)
    {
      for (int i = 0; i < 3; i++)
        for (int jj = 0; jj < 3; jj++)
          j->dw[(((gsize) (k0 + kb) * C + c) * 3 + i) * 3 + jj] += lane_sum (a[kb][i][jj]);
      if (with_bias)
        j->db[k0 + kb] += lane_sum (bias[kb]);
    }
}
#undef PAIR_ROW

/* Kernels k0 and k0 + 1 on rows of up to 32: 16 columns at a time (a
 * second pass over the planes for columns 16 to 31), so that the two
 * kernels' 18 accumulators fit in registers and share the input loads. */
static inline __attribute__ ((always_inline)) void
direct_plane_grads_3x3 (const DirectGradJob *j,
                        int                  k0,
                        int                  c)
{
  gboolean with_bias = j->db != NULL && c == 0;

  for (int half = 0; half * 16 < j->g->Wo; half++)
    if (half == 0 && with_bias)
      direct_plane_grads_3x3_body (j, k0, c, 0, TRUE);
    else if (half == 0)
      direct_plane_grads_3x3_body (j, k0, c, 0, FALSE);
    else if (with_bias)
      direct_plane_grads_3x3_body (j, k0, c, 1, TRUE);
    else
      direct_plane_grads_3x3_body (j, k0, c, 1, FALSE);
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

      for (int bi = j->b0; bi < j->b1; bi++)
        for (int y = 0; y < g->Ho; y++)
          {
            const float *go = grad_row (j, bi, k, y);
            const float *prow = j->pads + (((gsize) (bi - j->b0) * g->C + c) * hp + i + y * g->sh) * j->ps +
                                tap_col (jj, g->sw, j->ps);
            v16f g0 = load16 (go), g1 = g->Wo > 16 ? grad_hi (j, go) : (v16f) { 0 };

            acc0 += g0 * load16 (prow);
            if (g->Wo > 16)
              acc1 += g1 * load16 (prow + 16);
            bias0 += g0;
            bias1 += g1;
          }
      j->dw[(((gsize) k * g->C + c) * g->kh + i) * g->kw + jj] += lane_sum (acc0 + acc1);
      if (with_bias)
        j->db[k] += lane_sum (bias0 + bias1);
    }
}

/* The weight gradients of a chunk of samples into the chunk's own sums: for
 * each (k, c) (whole_plane_grads()) or (k, c, i), over the chunk's samples,
 * whose padded planes and gradients stay in the cache while every kernel
 * reads them (a task per (k, c) over the whole batch streamed the batch's
 * planes from memory K times); then the chunk's input gradients (dx_fn). */
static inline __attribute__ ((always_inline)) void
direct_weight_grad_chunks_body (const DirectGradJob *job,
                                gsize                c0,
                                gsize                c1,
                                gboolean             wide)
{
  const CsConvGeometry *g = job->g;
  gboolean one = g->Wo <= 16, whole = whole_plane_grads (g), unit = g->sh == 1 && g->sw == 1;
  gsize n_w = (gsize) g->K * g->C * g->kh * g->kw;
  gsize n_t = (gsize) g->K * g->C * (whole ? 1 : g->kh);
  const int hp = g->H + 2 * g->ph;
  gsize pad_sample = (gsize) g->C * hp * job->ps, in_sample = (gsize) g->C * g->H * g->W;
  gsize grad_sample = (gsize) g->K * g->Ho * job->gs, out_sample = (gsize) g->K * g->Ho * g->Wo;
  /* The layouts: padded planes whose borders, and rows whose tails, nothing writes. */
  const int pad_key[] = { CS_SCRATCH_KEY_PADDED_PLANES, g->C, g->H, g->W, g->ph, g->pw, hp, job->ps, g->sw };
  const int row_key[] = { CS_SCRATCH_KEY_GRAD_ROWS, g->K, g->Ho, g->Wo, job->gs };
  float *pads = cs_scratch_acquire (CS_SCRATCH_CONV_CHUNK_PAD, pad_key, G_N_ELEMENTS (pad_key), pad_sample * job->chunk);
  float *gpads = job->gs == 16 || job->gs == 32
    ? cs_scratch_acquire (CS_SCRATCH_CONV_CHUNK_ROWS, row_key, G_N_ELEMENTS (row_key), grad_sample * job->chunk) : NULL;
  /* Kernels two at a time (each padded row loaded once for both) where their
   * accumulators fit in registers: pk even does pk and pk + 1. */
  gboolean pairs = whole && one && g->kh < 5 && !(unit && g->kh == 3);
  gboolean pairs_3x3 = wide && whole && unit && g->kh == 3;

  for (gsize chunk = c0; chunk < c1; chunk++)
    {
      DirectGradJob sub = *job, *j = &sub;

      sub.b0 = (int) chunk * job->chunk;
      sub.b1 = MIN (g->B, sub.b0 + job->chunk);
      sub.pads = pads;
      sub.gpads = gpads != NULL ? gpads : job->dout + sub.b0 * out_sample;
      for (int bi = sub.b0; bi < sub.b1; bi++)
        {
          const float *src = job->dout + bi * out_sample;

          cs_conv2d_pad_planes (pads + (bi - sub.b0) * pad_sample, job->x + bi * in_sample, g->C, g->H, g->W, g->ph,
                                g->pw, hp, job->ps, g->sw);
          for (int r = 0; gpads != NULL && r < g->K * g->Ho; r++)
            {
              float *d = gpads + (bi - sub.b0) * grad_sample + (gsize) r * job->gs;
              v16f a = load_before (src + (gsize) r * g->Wo, MIN (16, g->Wo), job->dout_end);

              memcpy (d, &a, sizeof a);
              if (job->gs == 32)
                {
                  v16f b = load_before (src + (gsize) r * g->Wo + 16, g->Wo - 16, job->dout_end);
                  memcpy (d + 16, &b, sizeof b);
                }
            }
        }
      sub.dw = job->partial + chunk * (n_w + g->K);
      sub.db = job->db != NULL ? sub.dw + n_w : NULL;
      for (gsize t = 0; t < n_t; t++)
        {
          int i = (int) (t % g->kh), c = (int) (t / g->kh % g->C), k = (int) (t / g->kh / g->C);
          int pk = (int) (t / g->C), pc = (int) (t % g->C);

          if ((pairs || pairs_3x3) && pk % 2 == 1)
            continue;
          if (pairs && pk + 1 < g->K && g->kh == 1)
            direct_plane_grads (j, pk, pc, 2, 1, 1, 1);
          else if (pairs && pk + 1 < g->K)
            direct_plane_grads (j, pk, pc, 2, 3, 3, 1);
          else if (pairs_3x3 && pk + 1 < g->K)
            direct_plane_grads_3x3 (j, pk, pc);
          else if (whole && g->kh == 5)
            direct_plane_grads (j, pk, pc, 1, 5, 5, 1);
          else if (whole && g->kh == 1 && one)
            direct_plane_grads (j, pk, pc, 1, 1, 1, 1);
          else if (whole && g->kh == 1)
            direct_plane_grads (j, pk, pc, 1, 1, 1, 2);
          else if (whole && unit && one)
            direct_plane_grads_3x3_one (j, pk, pc, 1);
          else if (whole && unit)
            direct_plane_grads_3x3_one (j, pk, pc, 2);
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
      if (job->dx_fn != NULL)
        job->dx_fn (job->dx_data, sub.b0, sub.b1);
    }
  cs_scratch_release (CS_SCRATCH_CONV_CHUNK_PAD, pads);
  cs_scratch_release (CS_SCRATCH_CONV_CHUNK_ROWS, gpads);
}

CS_VECTOR_CLONES static void
direct_weight_grad_chunks_narrow (gpointer data,
                                  gsize    c0,
                                  gsize    c1)
{
  direct_weight_grad_chunks_body (data, c0, c1, FALSE);
}

/* Only where cs_conv2d_direct_wide (); its other clones are never run. */
CS_VECTOR_CLONES static void
direct_weight_grad_chunks_wide (gpointer data,
                                gsize    c0,
                                gsize    c1)
{
  direct_weight_grad_chunks_body (data, c0, c1, TRUE);
}

/* dw (n_w floats; NULL: not wanted) and db (K; NULL too) += each chunk's
 * sums, n_w weights then K biases a chunk, in chunk order: the same figures
 * whatever the number of threads. */
void
cs_conv2d_add_chunk_sums (float       *dw,
                          float       *db,
                          const float *partial,
                          int          n_chunks,
                          gsize        n_w,
                          int          K)
{
  for (int ch = 0; ch < n_chunks; ch++)
    {
      const float *p = partial + ch * (n_w + K);

      if (dw != NULL)
        for (gsize w = 0; w < n_w; w++)
          dw[w] += p[w];
      if (db != NULL)
        for (int k = 0; k < K; k++)
          db[k] += p[n_w + k];
    }
}

#define DW_CHUNK_BYTES (512 * 1024)

/* dw (and db) += the sums of every chunk, in chunk order: the same figures
 * whatever the number of threads. A chunk's samples are padded again from x
 * (the forward pass keeps nothing), into DW_CHUNK_BYTES or so, with at most
 * 32 chunks and, where the batch allows, at least 8. */
void
cs_conv2d_direct_weight_grads (float                *dw,
                               float                *db,
                               const float          *x,
                               const float          *dout,
                               const CsConvGeometry *g,
                               CsRangeFunc           dx_fn,
                               gpointer              dx_data)
{
  gsize n_w = (gsize) g->K * g->C * g->kh * g->kw, stride = n_w + g->K;
  int ps = input_pad_stride (g);
  /* Gradient rows copied into whole vectors padded with zeros, where the
   * copy pays for itself: rows of up to 16 (else every load is masked), and
   * longer ones read for 4 input channels or more. */
  int gs = g->Wo <= 16 ? 16 : g->C >= 4 ? 32 : g->Wo;
  gsize sample_bytes = sizeof (float) * ((gsize) g->C * (g->H + 2 * g->ph) * ps + (gsize) g->K * g->Ho * gs);
  int chunk = (int) CLAMP (DW_CHUNK_BYTES / sample_bytes, 1, (gsize) (g->B + 7) / 8);
  int n_chunks;

  chunk = MAX (chunk, (g->B + 31) / 32);
  n_chunks = (g->B + chunk - 1) / chunk;
  float *partial = cs_alloc_floats (stride * n_chunks);
  DirectGradJob j = { dw, db, NULL, dout, dout + (gsize) g->B * g->K * g->Ho * g->Wo, NULL, gs, g, x, 0, 0, chunk,
                      partial, ps, dx_fn, dx_data };

  cs_parallel_for (n_chunks, 1, cs_conv2d_direct_wide () ? direct_weight_grad_chunks_wide : direct_weight_grad_chunks_narrow,
                   &j);
  cs_conv2d_add_chunk_sums (dw, db, partial, n_chunks, n_w, g->K);
  cs_free_floats (partial);
}

typedef CsScatterJob ScatterJob;

/*
 * CB input channels c0 .. c0+CB-1, kernel row i, output row oy of one sample:
 * acc[cb][jj] = sum over k of w[k][c][i][jj] * dout[k][oy][0 .. Wo) (the
 * lanes past Wo are zeros), then added into the padded row oy*sh + i of each
 * channel where tap jj of output 0 reads (tap_col ()): the adjoint of the
 * forward pass's loads. KW and CB constants when inlined; every padded float
 * gathers its terms in the same order whatever the threads.
 */
static inline __attribute__ ((always_inline)) void
scatter_rows (float            *pad,
              const float      *dout,
              const ScatterJob *j,
              int               c0,
              int               CB,
              int               KW)
{
  const CsConvGeometry *g = j->g;
  const int hp = g->H + 2 * g->ph, taps = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
  const float *dout_end = j->dout + (gsize) g->B * g->K * P;

  for (int oy = 0; oy < g->Ho; oy++)
    for (int i = 0; i < g->kh; i++)
      {
        v16f acc[4][5];
        const float *wk = j->w + ((gsize) c0 * g->kh + i) * g->kw;

#pragma GCC unroll 4
        for (int cb = 0; cb < CB; cb++)
#pragma GCC unroll 5
          for (int jj = 0; jj < KW; jj++)
            acc[cb][jj] = (v16f) { 0 };
        for (int k = 0; k < g->K; k++)
          {
            v16f v = load_before (dout + (gsize) k * P + oy * g->Wo, g->Wo, dout_end);
            const float *wr = wk + (gsize) k * taps;

#pragma GCC unroll 4
            for (int cb = 0; cb < CB; cb++)
#pragma GCC unroll 5
              for (int jj = 0; jj < KW; jj++)
                acc[cb][jj] += wr[cb * g->kh * g->kw + jj] * v;
          }
#pragma GCC unroll 4
        for (int cb = 0; cb < CB; cb++)
          {
            float *prow = pad + ((gsize) (c0 + cb) * hp + oy * g->sh + i) * j->ps;

#pragma GCC unroll 5
            for (int jj = 0; jj < KW; jj++)
              {
                float *d = prow + tap_col (jj, g->sw, j->ps);
                v16f t = load16 (d) + acc[cb][jj];

                memcpy (d, &t, sizeof t);
              }
          }
      }
}

static inline __attribute__ ((always_inline)) void
scatter_sample (float            *pad,
                const float      *dout,
                const ScatterJob *j,
                int               KW,
                int               CB)
{
  int c = 0;

  for (; c + CB <= j->g->C; c += CB)
    scatter_rows (pad, dout, j, c, CB, KW);
  for (; c < j->g->C; c++)
    scatter_rows (pad, dout, j, c, 1, KW);
}

CS_VECTOR_CLONES void
cs_conv2d_direct_scatter_samples (gpointer data,
                                  gsize    b0,
                                  gsize    b1)
{
  ScatterJob *j = data;
  const CsConvGeometry *g = j->g;
  const int hp = g->H + 2 * g->ph;
  gsize pad_sample = (gsize) g->C * hp * j->ps, in_plane = (gsize) g->H * g->W;
  /* Every float of these planes is added to: cleared for each sample. */
  const int key[] = { CS_SCRATCH_KEY_CLEARED };
  float *pad = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, key, G_N_ELEMENTS (key), pad_sample);

  for (gsize bi = b0; bi < b1; bi++)
    {
      const float *dout = j->dout + bi * g->K * (gsize) g->Ho * g->Wo;
      float *dx = j->dx + bi * g->C * in_plane;

      memset (pad, 0, sizeof (float) * pad_sample);
      if (g->kw == 3)
        scatter_sample (pad, dout, j, 3, 4);
      else if (g->kw == 5)
        scatter_sample (pad, dout, j, 5, 3);
      else if (g->kw == 1)
        scatter_sample (pad, dout, j, 1, 4);
      else
        for (int c = 0; c < g->C; c++)
          for (int oy = 0; oy < g->Ho; oy++)
            for (int i = 0; i < g->kh; i++)
              for (int jj = 0; jj < g->kw; jj++)
                {
                  /* Any other width: one tap at a time. */
                  const int taps = g->C * g->kh * g->kw;
                  float *d = pad + ((gsize) c * hp + oy * g->sh + i) * j->ps + tap_col (jj, g->sw, j->ps);
                  v16f acc = { 0 }, t;

                  for (int k = 0; k < g->K; k++)
                    acc += j->w[(gsize) k * taps + (c * g->kh + i) * g->kw + jj] *
                           load_lanes (dout + ((gsize) k * g->Ho + oy) * g->Wo, g->Wo);
                  t = load16 (d) + acc;
                  memcpy (d, &t, sizeof t);
                }
      /* The real columns of the padded planes are dx. */
      for (int c = 0; c < g->C; c++)
        for (int y = 0; y < g->H; y++)
          {
            const float *prow = pad + ((gsize) c * hp + y + g->ph) * j->ps;
            float *drow = dx + ((gsize) c * g->H + y) * g->W;

            if (j->add && g->sw == 1)
              for (int x = 0; x < g->W; x++)
                drow[x] += prow[g->pw + x];
            else if (g->sw == 1)
              memcpy (drow, prow + g->pw, sizeof (float) * g->W);
            else
              {
                /* Columns x = 2m and 2m + 1 (padded q = x + pw) come from the
                 * halves a and b: interleaved sixteen pairs at a time. */
                const float *ha = prow + tap_col (g->pw, 2, j->ps), *hb = prow + tap_col (g->pw + 1, 2, j->ps);

                for (int x = 0; x < g->W; x += 32)
                  {
                    int n = MIN (32, g->W - x), na = (n + 1) / 2, nb = n / 2;
                    v16f va = load_lanes (ha + x / 2, na), vb = load_lanes (hb + x / 2, nb);
                    v16f lo = shuffle2 (va, vb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
                    v16f hi = shuffle2 (va, vb, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

                    if (j->add)
                      {
                        lo += load_lanes (drow + x, MIN (16, n));
                        if (n > 16)
                          hi += load_lanes (drow + x + 16, n - 16);
                      }
                    store_lanes (drow + x, lo, MIN (16, n));
                    if (n > 16)
                      store_lanes (drow + x + 16, hi, n - 16);
                  }
              }
          }
    }
  cs_scratch_release (CS_SCRATCH_CONV_PAD, pad);
}

void
cs_conv2d_direct_scatter_job_init (CsScatterJob         *job,
                                   float                *dx,
                                   const float          *dout,
                                   const float          *w,
                                   const CsConvGeometry *g)
{
  *job = (CsScatterJob) { dx, dout, w, g, input_pad_stride (g), FALSE };
}
