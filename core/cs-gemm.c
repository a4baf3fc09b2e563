/* The single GEMM entry point (OpenBLAS) and a plain triple loop to check it against. */

#define G_LOG_DOMAIN "cs-gemm"

#include "config.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "cs-gemm.h"

void
cs_gemm (gboolean     trans_a,
         gboolean     trans_b,
         int          m,
         int          n,
         int          k,
         float        alpha,
         const float *a,
         int          lda,
         const float *b,
         int          ldb,
         float        beta,
         float       *c,
         int          ldc)
{
  if (m == 0 || n == 0)
    return;
  cblas_sgemm (CblasRowMajor,
               trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans,
               m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void
cs_gemm_ref (gboolean     trans_a,
             gboolean     trans_b,
             int          m,
             int          n,
             int          k,
             float        alpha,
             const float *a,
             int          lda,
             const float *b,
             int          ldb,
             float        beta,
             float       *c,
             int          ldc)
{
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++)
      {
        double acc = 0;

        for (int p = 0; p < k; p++)
          {
            float av = trans_a ? a[(gsize) p * lda + i] : a[(gsize) i * lda + p];
            float bv = trans_b ? b[(gsize) j * ldb + p] : b[(gsize) p * ldb + j];
            acc += (double) av * bv;
          }
        c[(gsize) i * ldc + j] = (float) (alpha * acc + (beta == 0.0f ? 0.0 : (double) beta * c[(gsize) i * ldc + j]));
      }
}

void
cs_blas_set_threads (int n_threads)
{
  openblas_set_num_threads (MAX (n_threads, 1));
}

int
cs_blas_get_threads (void)
{
  return openblas_get_num_threads ();
}

float *
cs_alloc_floats (gsize n)
{
  void *p = NULL;
  gsize bytes;

  if (!g_size_checked_mul (&bytes, MAX (n, 1), sizeof (float)))
    g_error ("cs_alloc_floats: %" G_GSIZE_FORMAT " floats overflow", n);
  /* Round up to whole cache lines so vector loops may run past the end safely. */
  bytes = (bytes + 63) & ~(gsize) 63;
  if (posix_memalign (&p, 64, bytes) != 0)
    g_error ("cs_alloc_floats: out of memory for %" G_GSIZE_FORMAT " bytes", bytes);
  memset (p, 0, bytes);
  return p;
}

void
cs_free_floats (float *p)
{
  free (p);
}
