/* Direct convolution for small Conv2d layers (the notebook's): each (sample, kernel) plane from zero-padded input planes, in vector registers. Checked against cs_conv2d_forward_ref() and cs_conv2d_backward_ref() (cs-conv2d.c). */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-conv2d-direct-private.h"

/*
 * Small convolutions (the notebook's: few channels, rows of at most 32 outputs)
 * make im2col's matrices big and its GEMMs skinny (LeNet's conv1 is
 * 6 x 78400 x 25), and im2col/col2im move megabytes a batch. Here each
 * (sample, kernel) plane is computed directly from zero-padded copies of its
 * input planes, a row of outputs at a time in one or two 16-float vectors.
 * The input gradient is the same computation on the padded output gradient
 * with the kernels flipped and transposed (a "full" convolution) at stride 1,
 * a scatter into padded planes otherwise; the weight gradient correlates the
 * output gradient with the input planes, padded again a chunk of samples at
 * a time (cs-conv2d-direct-grads.c). */

gboolean
cs_conv2d_is_full_window (const CsConvGeometry *g)
{
  return g->kh == g->H && g->kw == g->W && g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 &&
         g->Ho == 1 && g->Wo == 1;
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

/* Otherwise, rows of at most 16 outputs (any stride the direct kernels take):
 * the input gradient scattered into padded planes (cs_conv2d_direct_scatter_samples ()). */
static gboolean
direct_dx_scatter_applies (const CsConvGeometry *g)
{
  return cs_conv2d_direct_applies (g) && !direct_dx_applies (g) && g->Wo <= 16;
}

gsize
cs_conv2d_dcol_size (const CsConvGeometry *g)
{
  if (cs_conv2d_is_full_window (g) || cs_conv2d_pointwise_applies (g) || direct_dx_applies (g) ||
      direct_dx_scatter_applies (g))
    return 0;
  return cs_conv2d_col_size (g);
}

/* C planes (H, W) into C padded planes of hp rows, ps floats apart (even
 * columns, then odd ones, for a column stride of 2).
 * Only the data is written: the borders of pad are zero from its allocation
 * (cs_scratch_acquire () with a key for this layout) and nothing else writes
 * there, so they stay zero. */
CS_VECTOR_CLONES void
cs_conv2d_pad_planes (float       *pad,
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
  const float *end = src + (gsize) C * H * W;

  for (int c = 0; c < C; c++)
    for (int y = 0; y < H; y++)
      {
        float *d = pad + ((gsize) c * hp + y + ph) * ps;
        const float *r = src + ((gsize) c * H + y) * W;

        if (sw == 1)
          memcpy (d + pw, r, sizeof (float) * W);
        else
          {
            /* Padded column q = x + pw: even ones to d[q / 2], odd ones to
             * d[ps / 2 + q / 2]; sixteen pairs of columns at a time, split by
             * two shuffles. Columns x = 2m land at q / 2 = m + pw / 2 (even q,
             * pw even) or in the odd half at m + (pw - 1) / 2 (pw odd), and
             * x = 2m + 1 in the other half. */
            float *half_x_even = pw % 2 == 0 ? d + pw / 2 : d + ps / 2 + (pw - 1) / 2;
            float *half_x_odd = pw % 2 == 0 ? d + ps / 2 + pw / 2 : d + (pw + 1) / 2;

            for (int x = 0; x < W; x += 32)
              {
                int n = MIN (32, W - x);
                v16f lo = n >= 16 ? load16 (r + x) : load_before (r + x, n, end);
                v16f hi = n == 32 ? load16 (r + x + 16) : n > 16 ? load_before (r + x + 16, n - 16, end) : (v16f) { 0 };
                v16f ev = shuffle2 (lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                v16f od = shuffle2 (lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
                float *de = half_x_even + x / 2, *dd = half_x_odd + x / 2;

                /* The lanes past the row's end are zeros, and land on the
                 * right border, zero too: a whole store where the vector
                 * stays inside its half of the padded row. */
                if (de + 16 <= (de >= d + ps / 2 ? d + ps : d + ps / 2))
                  memcpy (de, &ev, sizeof ev);
                else
                  store_lanes (de, ev, (n + 1) / 2);
                if (dd + 16 <= (dd >= d + ps / 2 ? d + ps : d + ps / 2))
                  memcpy (dd, &od, sizeof od);
                else
                  store_lanes (dd, od, n / 2);
              }
          }
      }
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
  gboolean        add;    /* out += instead of out = */
} DirectJob;

/*
 * KB kernels k0 .. k0+KB-1 of one sample, a row at a time: each padded input
 * vector is loaded once for the KB kernels, and the KB*NV accumulators are
 * independent chains, so the FMAs do not wait on each other's latency.
 * Inlined with KB, NV, SW and KW constants (KW 0: the layer's kw, read at run
 * time); every output sums its taps in order (c, i, j) from zero and adds the
 * bias last, whatever KB and NV are. The multiply-adds need 8 or more chains
 * to keep both FMA units busy through their latency: KB = 8 with two vectors
 * a row (rows of 17 to 32), KB = 16 with one (rows of up to 16, where KB = 8
 * left half the FMA slots idle), that many weights broadcast from memory per
 * vector load (4 left the loads the bottleneck: 16 % slower on Zen 4). Two
 * rows at a time, to load each weight once for both, measured no faster.
 */
static inline __attribute__ ((always_inline)) void
direct_rows (float           *out,
             const float     *pad,
             const DirectJob *j,
             int              k0,
             int              KB,
             int              NV,
             int              SW,
             int              KW)
{
  const int kw = KW ? KW : j->kw, taps = j->C * j->kh * kw, kh = j->kh, C = j->C, Wo = j->Wo;
  gsize P = (gsize) j->Ho * Wo, plane = (gsize) j->hp * j->ps;

  for (int y = 0; y < j->Ho; y++)
    {
      v16f a0[16] = { { 0 } }, a1[16] = { { 0 } };
      /* Kernel rows that fall on padding rows read only zeros: skipped (the
       * input gradient's padded planes are mostly such rows). */
      const int i0 = MAX (0, j->ph - y * j->sh), i1 = MIN (kh, j->ph + j->H - y * j->sh);

      for (int c = 0; c < C; c++)
        for (int i = i0; i < i1; i++)
          {
            const float *prow = pad + c * plane + (gsize) (y * j->sh + i) * j->ps;
            /* The block's weights packed tap by tap (pack_weights ()): one
             * pointer and constant offsets for the KB broadcasts. */
            const float *wt = j->w + (gsize) k0 * taps + (gsize) ((c * kh + i) * kw) * KB;

#pragma GCC unroll 5
            for (int jj = 0; jj < kw; jj++)
              {
                const int col = tap_col (jj, SW, j->ps);
                v16f v0 = load16 (prow + col), v1 = NV > 1 ? load16 (prow + col + 16) : v0;
#pragma GCC unroll 16
                for (int kb = 0; kb < KB; kb++)
                  {
                    float wv = wt[jj * KB + kb];
                    a0[kb] += wv * v0;
                    if (NV > 1)
                      a1[kb] += wv * v1;
                  }
              }
          }
#pragma GCC unroll 16
      for (int kb = 0; kb < KB; kb++)
        {
          float bv = j->b ? j->b[k0 + kb] : 0.0f;
          float *o = out + (gsize) (k0 + kb) * P + (gsize) y * Wo;
          v16f r0 = a0[kb] + bv, r1 = a1[kb] + bv;

          if (j->add)
            {
              /* Each output's own sum, then added to what it held. */
              r0 += load_lanes (o, MIN (16, Wo));
              if (Wo > 16)
                r1 += load_lanes (o + 16, Wo - 16);
            }
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

/* Every kernel of one sample: KB = 16 on rows of up to 16 where the CPU has
 * 32 vector registers (@wide), 8 otherwise, then 4, 2, 1 for what is left
 * (pack_weights () lays the weights out for the same blocks). */
static inline __attribute__ ((always_inline)) void
direct_sample (float           *out,
               const float     *pad,
               const DirectJob *j,
               int              NV,
               int              SW,
               int              KW,
               gboolean         wide)
{
  int k = 0;

  if (wide && NV == 1)
    for (; k + 16 <= j->K; k += 16)
      direct_rows (out, pad, j, k, 16, NV, SW, KW);
  for (; k + 8 <= j->K; k += 8)
    direct_rows (out, pad, j, k, 8, NV, SW, KW);
  for (; k + 4 <= j->K; k += 4)
    direct_rows (out, pad, j, k, 4, NV, SW, KW);
  if (k + 2 <= j->K)
    {
      direct_rows (out, pad, j, k, 2, NV, SW, KW);
      k += 2;
    }
  if (k < j->K)
    direct_rows (out, pad, j, k, 1, NV, SW, KW);
}

static inline __attribute__ ((always_inline)) void
direct_samples_body (DirectJob *j,
                     gsize      b0,
                     gsize      b1,
                     gboolean   wide)
{
  gsize in_plane = (gsize) j->H * j->W, pad_sample = (gsize) j->C * j->hp * j->ps;
  /* The padded planes' layout: only their data is written, the borders stay zero. */
  const int key[] = { CS_SCRATCH_KEY_PADDED_PLANES, j->C, j->H, j->W, j->ph, j->pw, j->hp, j->ps, j->sw };
  float *pad = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, key, G_N_ELEMENTS (key), pad_sample);

  for (gsize bi = b0; bi < b1; bi++)
    {
      float *out = j->out + bi * j->K * (gsize) j->Ho * j->Wo;

      cs_conv2d_pad_planes (pad, j->src + bi * j->C * in_plane, j->C, j->H, j->W, j->ph, j->pw, j->hp, j->ps, j->sw);
      /* 3x3 kernels on rows of up to 16 with the taps unrolled (on two
       * vectors a row that measured slower: 8 kernels' weights for 48
       * multiply-adds crowd the registers). */
      if (j->kw == 3 && j->sw == 2 && j->Wo <= 16)
        direct_sample (out, pad, j, 1, 2, 3, wide);

      else if (j->kw == 3 && j->Wo <= 16)
        direct_sample (out, pad, j, 1, 1, 3, wide);

      else if (j->sw == 2 && j->Wo <= 16)
        direct_sample (out, pad, j, 1, 2, 0, wide);
      else if (j->sw == 2)
        direct_sample (out, pad, j, 2, 2, 0, wide);
      else if (j->Wo <= 16)
        direct_sample (out, pad, j, 1, 1, 0, wide);
      else
        direct_sample (out, pad, j, 2, 1, 0, wide);
    }
  cs_scratch_release (CS_SCRATCH_CONV_PAD, pad);
}

CS_VECTOR_CLONES static void
direct_samples_narrow (gpointer data,
                       gsize    b0,
                       gsize    b1)
{
  direct_samples_body (data, b0, b1, FALSE);
}

/* Only where cs_conv2d_direct_wide () (32 vector registers for KB = 16);
 * its other clones exist but are never run. */
CS_VECTOR_CLONES static void
direct_samples_wide (gpointer data,
                     gsize    b0,
                     gsize    b1)
{
  direct_samples_body (data, b0, b1, TRUE);
}

gboolean
cs_conv2d_direct_wide (void)
{
  static int wide = -1;

  if (G_UNLIKELY (g_atomic_int_get (&wide) < 0))
    {
#if defined(__x86_64__) && CS_HAVE_VECTOR_CLONES
      __builtin_cpu_init ();
      g_atomic_int_set (&wide, __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw") &&
                                __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl"));
#else
      g_atomic_int_set (&wide, 0);
#endif
    }
  return g_atomic_int_get (&wide);
}

static void
direct_samples (gpointer data,
                gsize    b0,
                gsize    b1)
{
  if (cs_conv2d_direct_wide ())
    direct_samples_wide (data, b0, b1);
  else
    direct_samples_narrow (data, b0, b1);
}

/* w (K, taps) into wp in the blocks of kernels direct_sample () takes
 * together, each block's weights tap by tap: wp[k0 * taps + t * KB + kb] =
 * w[k0 + kb][t] for the block of KB kernels from k0. */
static float *
pack_weights (const float *w,
              int          K,
              int          taps,
              int          Wo)
{
  float *wp = cs_alloc_floats ((gsize) K * taps);
  gboolean wide = cs_conv2d_direct_wide ();
  int k = 0;

#define PACK(KB)                                                                  \
  do                                                                              \
    {                                                                             \
      for (int t = 0; t < taps; t++)                                              \
        for (int kb = 0; kb < (KB); kb++)                                         \
          wp[(gsize) k * taps + (gsize) t * (KB) + kb] = w[(gsize) (k + kb) * taps + t]; \
      k += (KB);                                                                  \
    }                                                                             \
  while (0)
  if (wide && Wo <= 16)
    while (k + 16 <= K)
      PACK (16);
  while (k + 8 <= K)
    PACK (8);
  while (k + 4 <= K)
    PACK (4);
  if (k + 2 <= K)
    PACK (2);
  if (k < K)
    PACK (1);
#undef PACK
  return wp;
}

/* dx (B, C, H, W) = the "full" convolution of dout, padded by k - 1 - p, with
 * the kernels flipped and transposed: wt[c][k][i][j] = w[k][c][kh-1-i][kw-1-j]
 * (wt from cs_alloc_floats (C * K * kh * kw), to be freed by the caller);
 * direct_samples () over the samples then computes it. */
static void
full_conv_job_init (DirectJob            *j,
                    float                *wt,
                    float                *dx,
                    const float          *dout,
                    const float          *w,
                    const CsConvGeometry *g)
{
  gsize taps = (gsize) g->kh * g->kw;

  *j = (DirectJob) { dx, dout, wt, NULL, g->K, g->Ho, g->Wo, g->C, g->kh, g->kw,
                     g->kh - 1 - g->ph, g->kw - 1 - g->pw, g->Ho + 2 * (g->kh - 1 - g->ph), g->H, g->W,
                     pad_stride (g->Wo + 2 * (g->kw - 1 - g->pw), g->kw, g->W, 1), 1, 1, FALSE };
  for (int k = 0; k < g->K; k++)
    for (int c = 0; c < g->C; c++)
      for (gsize t = 0; t < taps; t++)
        wt[((gsize) c * g->K + k) * taps + t] = w[((gsize) k * g->C + c) * taps + (taps - 1 - t)];
}

void
cs_conv2d_direct_forward (float                *out,
                          const float          *x,
                          const float          *w,
                          const float          *b,
                          const CsConvGeometry *g)
{
  float *wp = pack_weights (w, g->K, g->C * g->kh * g->kw, g->Wo);
  DirectJob j = { out, x, wp, b, g->C, g->H, g->W, g->K, g->kh, g->kw,
                  g->ph, g->pw, g->H + 2 * g->ph, g->Ho, g->Wo, input_pad_stride (g),
                  g->sh, g->sw, FALSE };

  cs_parallel_for (g->B, 4, direct_samples, &j);
  cs_free_floats (wp);
}

/* The weight gradients and then, chunk by chunk while its output gradients
 * are in the cache, the input gradients of the same samples. */
gboolean
cs_conv2d_direct_backward (float                *dx,
                           gboolean              add_dx,
                           float                *dw,
                           float                *db,
                           const float          *x,
                           const float          *dout,
                           const float          *w,
                           const CsConvGeometry *g)
{
  CsRangeFunc dx_fn = NULL;
  gpointer dx_data = NULL;
  DirectJob full;
  CsScatterJob scatter;
  float *wt = NULL;

  if (dx != NULL && direct_dx_applies (g))
    {
      float *flipped = cs_alloc_floats ((gsize) g->C * g->K * g->kh * g->kw);

      full_conv_job_init (&full, flipped, dx, dout, w, g);
      /* Its kernels are the C input channels', over K * kh * kw taps. */
      wt = pack_weights (flipped, g->C, g->K * g->kh * g->kw, g->W);
      cs_free_floats (flipped);
      full.w = wt;
      full.add = add_dx;
      dx_fn = direct_samples;
      dx_data = &full;
    }
  else if (dx != NULL && direct_dx_scatter_applies (g))
    {
      cs_conv2d_direct_scatter_job_init (&scatter, dx, dout, w, g);
      scatter.add = add_dx;
      dx_fn = cs_conv2d_direct_scatter_samples;
      dx_data = &scatter;
    }
  if (dw != NULL)
    cs_conv2d_direct_weight_grads (dw, db, x, dout, g, dx_fn, dx_data);
  else if (dx_fn != NULL)
    cs_parallel_for (g->B, 4, dx_fn, dx_data);
  cs_free_floats (wt);
  return dx == NULL || dx_fn != NULL;
}
