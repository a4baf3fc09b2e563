/* Shared by the direct convolution's files (cs-conv2d-direct.c: the forward
 * pass and the "full" input gradient; cs-conv2d-direct-grads.c: the weight
 * gradients and the scattered input gradient); not for callers of the kernels. */
#pragma once

#include <string.h>

#include "base/cs-thread-pool.h"
#include "nn/cs-kernels-private.h"

G_BEGIN_DECLS

/* Rows of at most 32 outputs, kept in one or two 16-float vectors (GCC vector
 * extensions: AVX-512, two AVX2 halves, or SSE quarters, per clone). */
#define DIRECT_MAX_OUT 32
#define DIRECT_MAX_TAPS 576   /* C*kh*kw: beyond, a convolution is big enough for im2col and GEMM */
#define PAD_MAX_STRIDE 64
#define PAD_ROWS 64

typedef float v16f __attribute__ ((vector_size (64)));

/* Floats from one padded row to the next: room for the wp floats of a row and
 * for the 16 or 32 floats read at each of kw offsets (all of them zeros past
 * wp), rounded up to whole 64-byte lines. With a column stride of 2 a row is
 * kept as its even columns, then its odd ones from half the stride on: tap j
 * of outputs 0, 1, 2, ... reads padded columns j, j + 2, j + 4, ..., which
 * are then consecutive floats (tap_col ()). */
static inline int
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

/* The stride of the layer's input padded for the forward pass and the weight
 * gradients (and of the planes the input gradient is scattered into). */
static inline int
input_pad_stride (const CsConvGeometry *g)
{
  return pad_stride (g->W + 2 * g->pw, g->kw, g->Wo, g->sw);
}

/* Where, in a padded row of stride ps, tap jj of output 0 reads. */
static inline int
tap_col (int jj,
         int sw,
         int ps)
{
  return sw == 1 ? jj : (jj & 1) * (ps / 2) + (jj >> 1);
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
  /* Sixteen conditional stores, not n stores: if-converted into one masked
   * store (a loop of n stayed scalar: 12 stores a row). */
  for (int x = 0; x < 16; x++)
    if (x < n)
      o[x] = t[x];
}

/* An unaligned load of 16 floats (a macro: a v16f return value would change the ABI between clones). */
#define load16(p) ({ v16f _v; memcpy (&_v, (p), sizeof _v); _v; })
/* The first n (<= 16) floats at p, zeros after, reading nothing beyond p[n - 1]
 * (a masked load where the CPU has them). */
#define load_lanes(p, n) ({ float _t[16]; const float *restrict _p = (p); int _n = (n);       \
                            for (int _x = 0; _x < 16; _x++) _t[_x] = _x < _n ? _p[_x] : 0.0f; \
                            load16 (_t); })

/* The same where the buffer goes on to end: the 16 floats from p loaded
 * whole and the lanes from n on cleared in the register (what follows a
 * row is the next row), which a masked load costs more than; masked only
 * where p + 16 would pass end. */
#define load_before(p, n, end) ({ const float *_q = (p); int _m = (n);                                     \
                                  _q + 16 <= (end)                                                        \
                                    ? (v16f) ((v16si) load16 (_q) &                                       \
                                              ((v16si) { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 } < _m)) \
                                    : load_lanes (_q, _m); })

/* Lanes of a and b (indices 0-15 a's, 16-31 b's) in a constant order: GCC's
 * builtin, or clang's (tools/fuzz builds the core with clang). */
#if defined(__clang__)
#define shuffle2(a, b, ...) __builtin_shufflevector ((a), (b), __VA_ARGS__)
#else
#define shuffle2(a, b, ...) __builtin_shuffle ((a), (b), (v16si) { __VA_ARGS__ })
#endif

/* The sum of the 16 lanes of a, as a tree of vector adds (halves, quarters, ...):
 * a fixed order, and no chain of 16 dependent scalar adds. */
typedef int v16si __attribute__ ((vector_size (64)));

static inline __attribute__ ((always_inline)) float
lane_sum (v16f a)
{
  a += shuffle2 (a, a, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  a += shuffle2 (a, a, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3);
  a += shuffle2 (a, a, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1);
  a += shuffle2 (a, a, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0);
  return a[0];
}

/* The first int of every scratch key (cs_scratch_acquire ()): which kind of
 * buffer the rest describes, so that two layouts never share a key. */
enum
{
  CS_SCRATCH_KEY_PADDED_PLANES = 1,   /* C, H, W, ph, pw, hp, ps, sw */
  CS_SCRATCH_KEY_GRAD_ROWS,           /* K, Ho, Wo, gs */
  CS_SCRATCH_KEY_CLEARED,             /* none: the user clears what it uses */
  CS_SCRATCH_KEY_POINTWISE_X,         /* C, H, W, Ho, Wo, sh, sw */
  CS_SCRATCH_KEY_POINTWISE_ROWS,      /* K, Ho, Wo */
};

/* Whether the CPU has 32 vector registers of 16 floats (AVX-512: the
 * x86-64-v4 clones run), so kernels may keep twice the accumulators. */
gboolean cs_conv2d_direct_wide (void);

/* C planes (H, W) of src into C padded planes of hp rows, ps floats apart
 * (even columns, then odd ones, for a column stride sw of 2); only the data
 * is written, so the borders of pad stay what they were (zeros from
 * cs_alloc_floats ()). */
void cs_conv2d_pad_planes (float       *pad,
                           const float *src,
                           int          C,
                           int          H,
                           int          W,
                           int          ph,
                           int          pw,
                           int          hp,
                           int          ps,
                           int          sw);

/* dw (and db, may be NULL) += the weight gradients, x padded again a chunk of
 * samples at a time; then, while the chunk's output gradients are in the
 * cache, dx_fn (dx_data, b0, b1) for the chunk's samples (dx_fn may be NULL). */
void cs_conv2d_direct_weight_grads (float                *dw,
                                    float                *db,
                                    const float          *x,
                                    const float          *dout,
                                    const CsConvGeometry *g,
                                    CsRangeFunc           dx_fn,
                                    gpointer              dx_data);

/* dw and db (either may be NULL) += the per-chunk sums of a weight gradient
 * pass (n_w weights, then K biases, a chunk), in chunk order. */
void cs_conv2d_add_chunk_sums (float       *dw,
                               float       *db,
                               const float *partial,
                               int          n_chunks,
                               gsize        n_w,
                               int          K);

/* The input gradient for rows of at most 16 outputs at any stride the direct
 * kernels take, scattered into padded planes: cs_conv2d_direct_scatter_job_init ()
 * fills a job for cs_conv2d_direct_scatter_samples (), a CsRangeFunc over samples. */
typedef struct
{
  float          *dx;
  const float    *dout;
  const float    *w;
  const CsConvGeometry *g;
  int             ps;
  gboolean        add;       /* dx += instead of dx = */
} CsScatterJob;

void cs_conv2d_direct_scatter_job_init (CsScatterJob         *job,
                                        float                *dx,
                                        const float          *dout,
                                        const float          *w,
                                        const CsConvGeometry *g);
void cs_conv2d_direct_scatter_samples  (gpointer              data,
                                        gsize                 b0,
                                        gsize                 b1);

G_END_DECLS
