/* The classifier's end: log-softmax, cross-entropy and NLL loss with their gradients (mean over the batch). */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-thread-pool.h"
#include "nn/cs-kernels-private.h"

/* sum_j exp (row[j] - m) with m the row's maximum (stable), each term into
 * @terms if not NULL. */
static double
exp_sum (const float *row,
         int          N,
         float       *max,
         float       *terms)
{
  float m = row[0];
  double sum = 0;

  for (int j = 1; j < N; j++)
    m = MAX (m, row[j]);
  for (int j = 0; j < N; j++)
    {
      float e = expf (row[j] - m);
      if (terms != NULL)
        terms[j] = e;
      sum += e;
    }
  *max = m;
  return sum;
}

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
      float m;
      double sum = exp_sum (row, N, &m, NULL);
      float lse = m + (float) log (sum);

      for (int j = 0; j < N; j++)
        o[j] = row[j] - lse;
    }
}

void
cs_softmax_forward (float       *out,
                    const float *x,
                    int          B,
                    int          N)
{
  for (int s = 0; s < B; s++)
    {
      float *o = out + (gsize) s * N;
      float m;
      double sum = exp_sum (x + (gsize) s * N, N, &m, o);

      for (int j = 0; j < N; j++)
        o[j] = (float) (o[j] / sum);
    }
}

void
cs_softmax_backward (float       *dx,
                     const float *dout,
                     const float *out,
                     int          B,
                     int          N)
{
  for (int s = 0; s < B; s++)
    {
      const float *g = dout + (gsize) s * N;
      const float *y = out + (gsize) s * N;
      float *d = dx + (gsize) s * N;
      double dot = 0;

      for (int j = 0; j < N; j++)
        dot += (double) g[j] * y[j];
      for (int j = 0; j < N; j++)
        d[j] = y[j] * (g[j] - (float) dot);
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

