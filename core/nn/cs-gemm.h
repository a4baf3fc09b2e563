/* The one wrapper around cblas_sgemm that all matrix work goes through, and its reference. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Row-major C (M, N) = alpha * op(A) * op(B) + beta * C, op(A) is (M, K), op(B) is (K, N). */
void cs_gemm             (gboolean      trans_a,
                          gboolean      trans_b,
                          int           m,
                          int           n,
                          int           k,
                          float         alpha,
                          const float  *a,
                          int           lda,
                          const float  *b,
                          int           ldb,
                          float         beta,
                          float        *c,
                          int           ldc);
/* The same on the calling thread alone, for tasks that are already spread over the pool. */
void cs_gemm_serial      (gboolean      trans_a,
                          gboolean      trans_b,
                          int           m,
                          int           n,
                          int           k,
                          float         alpha,
                          const float  *a,
                          int           lda,
                          const float  *b,
                          int           ldb,
                          float         beta,
                          float        *c,
                          int           ldc);
/* Which BLAS the products run on, e.g. "OpenBLAS SkylakeX" (loaded by the first call). */
const char *cs_gemm_blas_description (void);
/* OpenBLAS's own threads for its calls (1, the default, but for a reference peak). */
void cs_gemm_blas_set_threads        (int           threads);
void cs_gemm_ref         (gboolean      trans_a,
                          gboolean      trans_b,
                          int           m,
                          int           n,
                          int           k,
                          float         alpha,
                          const float  *a,
                          int           lda,
                          const float  *b,
                          int           ldb,
                          float         beta,
                          float        *c,
                          int           ldc);

G_END_DECLS
