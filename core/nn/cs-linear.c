/* Linear: out (B, N) = x (B, I) . w (N, I)^T + b, and its gradients, through cs_gemm(); the reference first. */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-thread-pool.h"
#include "nn/cs-gemm.h"
#include "nn/cs-kernels-private.h"

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

