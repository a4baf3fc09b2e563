/* Element-wise layers: ReLU, Tanh, Sigmoid, Dropout, in fixed chunks over the thread pool; the references first. */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-rng.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-kernels-private.h"

#define ELT_GRAIN 16384
#define DROPOUT_CHUNK 16384
#define DROPOUT_LANES 16

void
cs_tanh_forward_ref (float       *out,
                     const float *x,
                     gsize        n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = tanhf (x[i]);
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

CS_VECTOR_CLONES static void
add_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict a = j->a, *restrict b = j->b;

  if (b == NULL)
    for (gsize i = i0; i < i1; i++)
      dst[i] += a[i];
  else
    for (gsize i = i0; i < i1; i++)
      dst[i] = a[i] + b[i];
}

void
cs_add (float       *out,
        const float *a,
        const float *b,
        gsize        n)
{
  EltJob j = { out, a, b };
  cs_parallel_for (n, ELT_GRAIN, add_range, &j);
}

void
cs_add_into (float       *dst,
             const float *src,
             gsize        n)
{
  EltJob j = { dst, src, NULL };
  cs_parallel_for (n, ELT_GRAIN, add_range, &j);
}

/* ReLU fused into a sum (a training pass, where the sum feeds only the ReLU):
 * out = relu (a + b), NaN kept, as cs_relu_forward () would give. */
CS_VECTOR_CLONES static void
add_relu_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict a = j->a, *restrict b = j->b;

  for (gsize i = i0; i < i1; i++)
    {
      float v = a[i] + b[i];
      dst[i] = v > 0.0f ? v : (isnan (v) ? v : 0.0f);
    }
}

void
cs_add_relu (float       *out,
             const float *a,
             const float *b,
             gsize        n)
{
  EltJob j = { out, a, b };
  cs_parallel_for (n, ELT_GRAIN, add_relu_range, &j);
}

CS_VECTOR_CLONES static void
relu_bwd_add_range (gpointer data, gsize i0, gsize i1)
{
  EltJob *j = data;
  float *restrict dst = j->dst;
  const float *restrict g = j->a, *restrict o = j->b;

  for (gsize i = i0; i < i1; i++)
    dst[i] += o[i] > 0.0f ? g[i] : 0.0f;
}

void
cs_relu_backward_add (float       *dx,
                      const float *dout,
                      const float *out,
                      gsize        n)
{
  EltJob j = { dx, dout, out };
  cs_parallel_for (n, ELT_GRAIN, relu_bwd_add_range, &j);
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

/* ---- LeakyReLU, ELU, GELU, SiLU ------------------------------------------ */

/* f and f' in double, as PyTorch defines them: the reference, and (in float)
 * what the fast version computes element by element. */
static inline double
act_value (CsActivation act,
           double       alpha,
           double       x)
{
  switch (act)
    {
    case CS_ACT_LEAKY_RELU:
      return x > 0 ? x : alpha * x;
    case CS_ACT_ELU:
      return x > 0 ? x : alpha * expm1 (x);
    case CS_ACT_GELU:
      return 0.5 * x * (1 + erf (x * M_SQRT1_2));
    case CS_ACT_GELU_TANH:
      return 0.5 * x * (1 + tanh (0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case CS_ACT_SILU:
    default:
      return x / (1 + exp (-x));
    }
}

static inline double
act_slope (CsActivation act,
           double       alpha,
           double       x)
{
  switch (act)
    {
    case CS_ACT_LEAKY_RELU:
      return x > 0 ? 1 : alpha;
    case CS_ACT_ELU:
      return x > 0 ? 1 : alpha * exp (x);
    case CS_ACT_GELU:
      return 0.5 * (1 + erf (x * M_SQRT1_2)) + x * exp (-0.5 * x * x) * 0.3989422804014327;
    case CS_ACT_GELU_TANH:
      {
        double u = 0.7978845608028654 * (x + 0.044715 * x * x * x), t = tanh (u);
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.7978845608028654 * (1 + 3 * 0.044715 * x * x);
      }
    case CS_ACT_SILU:
    default:
      {
        double sg = 1 / (1 + exp (-x));
        return sg * (1 + x * (1 - sg));
      }
    }
}

void
cs_activation_forward_ref (CsActivation  act,
                           float         alpha,
                           float        *out,
                           const float  *x,
                           gsize         n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = (float) act_value (act, alpha, x[i]);
}

void
cs_activation_backward_ref (CsActivation  act,
                            float         alpha,
                            float        *dx,
                            const float  *dout,
                            const float  *x,
                            gsize         n)
{
  for (gsize i = 0; i < n; i++)
    dx[i] = (float) (dout[i] * act_slope (act, alpha, x[i]));
}

typedef struct
{
  CsActivation act;
  float        alpha;
  float       *out;
  const float *dout;
  const float *x;
} ActJob;

static void
act_fwd_range (gpointer data, gsize i0, gsize i1)
{
  ActJob *j = data;
  cs_activation_forward_ref (j->act, j->alpha, j->out + i0, j->x + i0, i1 - i0);
}

static void
act_bwd_range (gpointer data, gsize i0, gsize i1)
{
  ActJob *j = data;
  cs_activation_backward_ref (j->act, j->alpha, j->out + i0, j->dout + i0, j->x + i0, i1 - i0);
}

/* The same functions, in fixed chunks over the run's thread pool (the
 * results are the reference's, bit for bit, whatever the threads). */
void
cs_activation_forward (CsActivation  act,
                       float         alpha,
                       float        *out,
                       const float  *x,
                       gsize         n)
{
  ActJob j = { act, alpha, out, NULL, x };
  cs_parallel_for (n, ELT_GRAIN, act_fwd_range, &j);
}

void
cs_activation_backward (CsActivation  act,
                        float         alpha,
                        float        *dx,
                        const float  *dout,
                        const float  *x,
                        gsize         n)
{
  ActJob j = { act, alpha, dx, dout, x };
  cs_parallel_for (n, ELT_GRAIN, act_bwd_range, &j);
}

/* ---- Dropout2d ----------------------------------------------------------- */

typedef struct
{
  float       *dst;
  const float *src;
  const float *mask;
  gsize        P;
} PlaneJob;

static void
scale_planes (gpointer data,
              gsize    p0,
              gsize    p1)
{
  PlaneJob *j = data;

  for (gsize pl = p0; pl < p1; pl++)
    for (gsize i = 0; i < j->P; i++)
      j->dst[pl * j->P + i] = j->src[pl * j->P + i] * j->mask[pl];
}

void
cs_dropout2d_forward (float       *out,
                      float       *mask,
                      const float *x,
                      gsize        planes,
                      gsize        P,
                      float        p,
                      CsRng       *rng)
{
  float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  PlaneJob j = { out, x, mask, P };

  /* One draw per plane, in order: the same mask whatever the threads. */
  for (gsize pl = 0; pl < planes; pl++)
    mask[pl] = cs_rng_uniform (rng) < p ? 0.0f : keep;
  cs_parallel_for (planes, MAX (1, ELT_GRAIN / MAX (P, 1)), scale_planes, &j);
}

void
cs_dropout2d_backward (float       *dx,
                       const float *dout,
                       const float *mask,
                       gsize        planes,
                       gsize        P)
{
  PlaneJob j = { dx, dout, mask, P };
  cs_parallel_for (planes, MAX (1, ELT_GRAIN / MAX (P, 1)), scale_planes, &j);
}
