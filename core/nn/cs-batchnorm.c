/* BatchNorm1d and BatchNorm2d, forward and backward, as PyTorch defines them:
 * batch statistics in training (the biased variance normalizes, the unbiased
 * one goes into running_var), the running statistics in evaluation. The data
 * is (B, C, P): P = H*W for a map, 1 for flat features. */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-thread-pool.h"
#include "nn/cs-kernels-private.h"

/* ---- the reference: textbook formulas, in double, channel after channel ---- */

void
cs_batchnorm_forward_ref (float               *out,
                          float               *xhat,
                          float               *inv_std,
                          const float         *x,
                          const float         *gamma,
                          const float         *beta,
                          float               *running_mean,
                          float               *running_var,
                          const CsBatchNormArgs *a)
{
  gsize M = (gsize) a->B * a->P;

  for (int c = 0; c < a->C; c++)
    {
      double mean = 0, var = 0, is;

      if (a->use_batch_stats)
        {
          for (int b = 0; b < a->B; b++)
            for (int p = 0; p < a->P; p++)
              mean += x[((gsize) b * a->C + c) * a->P + p];
          mean /= (double) M;
          for (int b = 0; b < a->B; b++)
            for (int p = 0; p < a->P; p++)
              {
                double d = x[((gsize) b * a->C + c) * a->P + p] - mean;
                var += d * d;
              }
          var /= (double) M;
          if (running_mean != NULL)
            {
              double unbiased = M > 1 ? var * (double) M / (double) (M - 1) : var;
              running_mean[c] = (float) ((1 - a->momentum) * running_mean[c] + a->momentum * mean);
              running_var[c] = (float) ((1 - a->momentum) * running_var[c] + a->momentum * unbiased);
            }
        }
      else
        {
          mean = running_mean[c];
          var = running_var[c];
        }
      is = 1.0 / sqrt (var + a->eps);
      inv_std[c] = (float) is;
      for (int b = 0; b < a->B; b++)
        for (int p = 0; p < a->P; p++)
          {
            gsize i = ((gsize) b * a->C + c) * a->P + p;
            double h = (x[i] - mean) * is;
            xhat[i] = (float) h;
            out[i] = (float) (h * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f));
          }
    }
}

/* dx with batch statistics: (gamma * is / M) * (M dy - sum dy - xhat sum (dy xhat));
 * with fixed statistics, the affine map's: gamma * is * dy. */
void
cs_batchnorm_backward_ref (float                 *dx,
                           float                 *dgamma,
                           float                 *dbeta,
                           const float           *dout,
                           const float           *xhat,
                           const float           *inv_std,
                           const float           *gamma,
                           const CsBatchNormArgs *a)
{
  double M = (double) a->B * a->P;

  for (int c = 0; c < a->C; c++)
    {
      double sdy = 0, sdyx = 0, g = gamma ? gamma[c] : 1.0;

      for (int b = 0; b < a->B; b++)
        for (int p = 0; p < a->P; p++)
          {
            gsize i = ((gsize) b * a->C + c) * a->P + p;
            sdy += dout[i];
            sdyx += (double) dout[i] * xhat[i];
          }
      if (dgamma != NULL)
        dgamma[c] += (float) sdyx;
      if (dbeta != NULL)
        dbeta[c] += (float) sdy;
      if (dx == NULL)
        continue;
      for (int b = 0; b < a->B; b++)
        for (int p = 0; p < a->P; p++)
          {
            gsize i = ((gsize) b * a->C + c) * a->P + p;
            dx[i] = a->use_batch_stats
              ? (float) (g * inv_std[c] / M * (M * dout[i] - sdy - xhat[i] * sdyx))
              : (float) (g * inv_std[c] * dout[i]);
          }
    }
}

/* ---- the fast version: channels over the thread pool; each row of P
 * values summed in 16 float lanes (vectorized), rows added in double ---- */

#define LANES 16

static inline double
row_sum (const float *restrict row,
         int                   P)
{
  float acc[LANES] = { 0 };
  double s = 0;
  int p = 0;

  for (; p + LANES <= P; p += LANES)
    for (int k = 0; k < LANES; k++)
      acc[k] += row[p + k];
  for (; p < P; p++)
    s += row[p];
  for (int k = 0; k < LANES; k++)
    s += acc[k];
  return s;
}

static inline double
row_sq_dev (const float *restrict row,
            int                   P,
            float                 m)
{
  float acc[LANES] = { 0 };
  double s = 0;
  int p = 0;

  for (; p + LANES <= P; p += LANES)
    for (int k = 0; k < LANES; k++)
      acc[k] += (row[p + k] - m) * (row[p + k] - m);
  for (; p < P; p++)
    s += (double) (row[p] - m) * (row[p] - m);
  for (int k = 0; k < LANES; k++)
    s += acc[k];
  return s;
}

/* Sums of dy and of dy * xhat, xhat = (x - m) * is recomputed as the forward
 * pass computed it (the forward pass keeps only m and is). */
/* BatchNorm's output for one value, written once for the forward pass and
 * for the backward pass that recomputes it (a fused ReLU's mask): the same
 * expression rounds alike in both. */
#define BN_OUT(xv, m, is, g, be) ((((xv) - (m)) * (is)) * (g) + (be))

/* Sums of dy and of dy * xhat, xhat = (x - m) * is recomputed as the forward
 * pass computed it (the forward pass keeps only m and is). With a ReLU fused
 * into the forward pass (RELU), dy counts only where BatchNorm's output,
 * recomputed from x, was positive: where the ReLU passed its gradient on. */
static inline __attribute__ ((always_inline)) void
row_dot2 (const float *restrict dy,
          const float *restrict mask,
          const float *restrict x,
          float                 m,
          float                 is,
          float                 g,
          float                 be,
          gboolean              RELU,
          int                   P,
          double               *sdy,
          double               *sdyx)
{
  float a1[LANES] = { 0 }, a2[LANES] = { 0 };
  double s1 = 0, s2 = 0;
  int p = 0;

#define DY(i) (RELU ? (BN_OUT (x[i], m, is, g, be) > 0.0f ? dy[i] : 0.0f) \
                    : mask != NULL ? (mask[i] > 0.0f ? dy[i] : 0.0f) : dy[i])
  for (; p + LANES <= P; p += LANES)
    for (int k = 0; k < LANES; k++)
      {
        a1[k] += DY (p + k);
        a2[k] += DY (p + k) * ((x[p + k] - m) * is);
      }
  for (; p < P; p++)
    {
      s1 += DY (p);
      s2 += (double) DY (p) * ((x[p] - m) * is);
    }
  for (int k = 0; k < LANES; k++)
    {
      s1 += a1[k];
      s2 += a2[k];
    }
  *sdy += s1;
  *sdyx += s2;
}
#undef DY

typedef struct
{
  float                 *out, *mean, *inv_std, *running_mean, *running_var;
  float                 *dx, *dgamma, *dbeta;
  const float           *x, *gamma, *beta, *dout, *mask;
  const CsBatchNormArgs *a;
} BnJob;

CS_VECTOR_CLONES static void
bn_fwd_channels (gpointer data,
                 gsize    c0,
                 gsize    c1)
{
  BnJob *j = data;
  const CsBatchNormArgs *a = j->a;
  const int P = a->P, C = a->C;
  const gsize M = (gsize) a->B * P;

  for (gsize c = c0; c < c1; c++)
    {
      double mean, var;
      float is, g = j->gamma ? j->gamma[c] : 1.0f, be = j->beta ? j->beta[c] : 0.0f, m;

      if (a->use_batch_stats)
        {
          double s = 0, ss = 0;
          for (int b = 0; b < a->B; b++)
            s += row_sum (j->x + ((gsize) b * C + c) * P, P);
          mean = s / (double) M;
          for (int b = 0; b < a->B; b++)
            ss += row_sq_dev (j->x + ((gsize) b * C + c) * P, P, (float) mean);
          var = ss / (double) M;
          if (j->running_mean != NULL)
            {
              double unbiased = M > 1 ? var * (double) M / (double) (M - 1) : var;
              j->running_mean[c] = (float) ((1 - a->momentum) * j->running_mean[c] + a->momentum * mean);
              j->running_var[c] = (float) ((1 - a->momentum) * j->running_var[c] + a->momentum * unbiased);
            }
        }
      else
        {
          mean = j->running_mean[c];
          var = j->running_var[c];
        }
      is = (float) (1.0 / sqrt (var + a->eps));
      m = (float) mean;
      j->inv_std[c] = is;
      j->mean[c] = m;
      for (int b = 0; b < a->B; b++)
        {
          gsize o = ((gsize) b * C + c) * P;
          const float *restrict row = j->x + o;
          float *restrict y = j->out + o;
          if (a->relu)
            for (int p = 0; p < P; p++)
              {
                float v = BN_OUT (row[p], m, is, g, be);
                y[p] = v > 0.0f ? v : (isnan (v) ? v : 0.0f);
              }
          else
            for (int p = 0; p < P; p++)
              y[p] = BN_OUT (row[p], m, is, g, be);
        }
    }
}

void
cs_batchnorm_forward (float                 *out,
                      float                 *mean,
                      float                 *inv_std,
                      const float           *x,
                      const float           *gamma,
                      const float           *beta,
                      float                 *running_mean,
                      float                 *running_var,
                      const CsBatchNormArgs *a)
{
  BnJob j = { .out = out, .mean = mean, .inv_std = inv_std, .running_mean = running_mean,
              .running_var = running_var, .x = x, .gamma = gamma, .beta = beta, .a = a };

  cs_parallel_for ((gsize) a->C, 1, bn_fwd_channels, &j);
}

CS_VECTOR_CLONES static void
bn_bwd_channels (gpointer data,
                 gsize    c0,
                 gsize    c1)
{
  BnJob *j = data;
  const CsBatchNormArgs *a = j->a;
  const int P = a->P, C = a->C;
  const float M = (float) ((gsize) a->B * P);

  for (gsize c = c0; c < c1; c++)
    {
      double sdy = 0, sdyx = 0;
      float g = j->gamma ? j->gamma[c] : 1.0f, be = j->beta ? j->beta[c] : 0.0f, k, fsdy, fsdyx;
      float m = j->mean[c], is = j->inv_std[c];

      for (int b = 0; b < a->B; b++)
        {
          gsize o = ((gsize) b * C + c) * P;
          if (a->relu)
            row_dot2 (j->dout + o, NULL, j->x + o, m, is, g, be, TRUE, P, &sdy, &sdyx);
          else if (j->mask != NULL)
            row_dot2 (j->dout + o, j->mask + o, j->x + o, m, is, g, be, FALSE, P, &sdy, &sdyx);
          else
            row_dot2 (j->dout + o, NULL, j->x + o, m, is, g, be, FALSE, P, &sdy, &sdyx);
        }
      if (j->dgamma != NULL)
        j->dgamma[c] += (float) sdyx;
      if (j->dbeta != NULL)
        j->dbeta[c] += (float) sdy;
      if (j->dx == NULL)
        continue;
      k = g * j->inv_std[c];
      fsdy = (float) sdy / M;
      fsdyx = (float) sdyx / M;
      for (int b = 0; b < a->B; b++)
        {
          gsize o = ((gsize) b * C + c) * P;
          const float *restrict dy = j->dout + o, *restrict xr = j->x + o;
          const float *restrict mk = j->mask != NULL ? j->mask + o : NULL;
          float *restrict d = j->dx + o;
          if (a->use_batch_stats && mk != NULL)
            for (int p = 0; p < P; p++)
              d[p] = k * ((mk[p] > 0.0f ? dy[p] : 0.0f) - fsdy - ((xr[p] - m) * is) * fsdyx);
          else if (mk != NULL)
            for (int p = 0; p < P; p++)
              d[p] = k * (mk[p] > 0.0f ? dy[p] : 0.0f);
          else if (a->use_batch_stats && a->relu)
            for (int p = 0; p < P; p++)
              d[p] = k * ((BN_OUT (xr[p], m, is, g, be) > 0.0f ? dy[p] : 0.0f) - fsdy - ((xr[p] - m) * is) * fsdyx);
          else if (a->use_batch_stats)
            for (int p = 0; p < P; p++)
              d[p] = k * (dy[p] - fsdy - ((xr[p] - m) * is) * fsdyx);
          else if (a->relu)
            for (int p = 0; p < P; p++)
              d[p] = k * (BN_OUT (xr[p], m, is, g, be) > 0.0f ? dy[p] : 0.0f);
          else
            for (int p = 0; p < P; p++)
              d[p] = k * dy[p];
        }
    }
}

void
cs_batchnorm_backward (float                 *dx,
                       float                 *dgamma,
                       float                 *dbeta,
                       const float           *dout,
                       const float           *mask,
                       const float           *x,
                       const float           *mean,
                       const float           *inv_std,
                       const float           *gamma,
                       const float           *beta,
                       const CsBatchNormArgs *a)
{
  g_return_if_fail (mask == NULL || !a->relu);

  BnJob j = { .dx = dx, .dgamma = dgamma, .dbeta = dbeta, .dout = dout, .mask = mask, .x = x, .mean = (float *) mean,
              .inv_std = (float *) inv_std, .gamma = gamma, .beta = beta, .a = a };

  cs_parallel_for ((gsize) a->C, 1, bn_bwd_channels, &j);
}
