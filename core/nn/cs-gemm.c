/* The single GEMM entry point (OpenBLAS, loaded at first use) and a plain triple loop to check it against. */

#define G_LOG_DOMAIN "cs-gemm"

#include "config.h"

#include <cblas.h>
#include <gmodule.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cs-gemm.h"
#include "base/cs-thread-pool.h"

/* Below this many flops a GEMM is one task: splitting costs more than it gives. */
#define SPLIT_MIN_FLOPS 2e6

/*
 * OpenBLAS chooses its kernels once, while it is loaded, from the CPU's model
 * number, and a release does not know the CPUs that came after it: Debian 12's
 * 0.3.21 gives an Emerald Rapids Xeon (family 6, model 0xCF) its generic
 * "Prescott" SSE3 kernels, 32 GFLOP/s on a core that its AVX-512 ("SkylakeX")
 * kernels run at 156. What it reads first is OPENBLAS_CORETYPE, but a library
 * the program links is loaded, and initialised, before the program's code
 * runs. So Convscope does not link OpenBLAS: it opens it at the first GEMM,
 * and before that, while the process has one thread (a constructor), it sets
 * OPENBLAS_CORETYPE from what the CPU can do, unless the user set it already.
 * Without OpenBLAS, products fall back to cs_gemm_ref () (slow, but right).
 */
static const char *
blas_core_for_cpu (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw") &&
      __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    return "Haswell";
#endif
  return NULL;
}

__attribute__ ((constructor)) static void
blas_choose_core (void)
{
  const char *core = blas_core_for_cpu ();

  if (core != NULL && g_getenv ("OPENBLAS_CORETYPE") == NULL)
    g_setenv ("OPENBLAS_CORETYPE", core, FALSE);
}

static struct
{
  GModule *module;
  __typeof__ (cblas_sgemm) *sgemm;
  __typeof__ (openblas_set_num_threads) *set_num_threads;
  __typeof__ (openblas_get_corename) *get_corename;
  char *description;
} blas;

static gsize once_init;

static void
blas_init (void)
{
  if (g_once_init_enter (&once_init))
    {
      static const char *const names[] = { "libopenblas.so.0", "libopenblas.so" };
      g_autofree char *why = NULL;

      for (guint i = 0; i < G_N_ELEMENTS (names) && blas.module == NULL; i++)
        {
          blas.module = g_module_open (names[i], G_MODULE_BIND_LOCAL);
          if (blas.module == NULL && why == NULL)
            why = g_strdup (g_module_error ());
        }
      if (blas.module != NULL &&
          (!g_module_symbol (blas.module, "cblas_sgemm", (gpointer *) &blas.sgemm) ||
           !g_module_symbol (blas.module, "openblas_set_num_threads", (gpointer *) &blas.set_num_threads)))
        {
          g_clear_pointer (&why, g_free);
          why = g_strdup_printf ("%s has no cblas_sgemm or openblas_set_num_threads", g_module_name (blas.module));
          blas.sgemm = NULL;
        }
      if (blas.sgemm != NULL)
        {
          if (!g_module_symbol (blas.module, "openblas_get_corename", (gpointer *) &blas.get_corename))
            blas.get_corename = NULL;
          /* OpenBLAS computes single-threaded; the cores are used by splitting
           * each GEMM into tiles that our pool spreads. */
          blas.set_num_threads (1);
          blas.description = g_strdup_printf ("OpenBLAS %s",
                                              blas.get_corename ? blas.get_corename () : "(kernels unknown)");
        }
      else
        {
          g_warning ("OpenBLAS could not be loaded (%s): matrix products use the slow reference loops",
                     why ? why : "not found");
          blas.description = g_strdup ("reference loops (OpenBLAS not found)");
        }
      g_once_init_leave (&once_init, 1);
    }
}

const char *
cs_gemm_blas_description (void)
{
  blas_init ();
  return blas.description;
}

void
cs_gemm_blas_set_threads (int threads)
{
  g_return_if_fail (threads >= 1);

  blas_init ();
  if (blas.set_num_threads != NULL)
    blas.set_num_threads (threads);
}

typedef struct
{
  gboolean     trans_a, trans_b;
  int          m, n, k;
  float        alpha;
  const float *a;
  int          lda;
  const float *b;
  int          ldb;
  float        beta;
  float       *c;
  int          ldc;
  int          split;      /* 0 none, 1 along N, 2 along M, 3 along K */
  int          tile;       /* tile size along the split dimension */
  float       *partials;   /* K split: (n_tiles, m, n) */
} GemmJob;

static void
gemm_call (gboolean     trans_a,
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
  if (G_UNLIKELY (blas.sgemm == NULL))
    {
      cs_gemm_ref (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  blas.sgemm (CblasRowMajor,
              trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans,
              m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void
gemm_task (gpointer data,
           guint    t)
{
  GemmJob *j = data;
  int lo = (int) t * j->tile;

  switch (j->split)
    {
    case 1:
      {
        /* Columns [lo, hi) of C: op(B)'s columns, which are B's columns or B's rows. */
        int w = MIN (j->tile, j->n - lo);
        const float *b = j->trans_b ? j->b + (gsize) lo * j->ldb : j->b + lo;
        gemm_call (j->trans_a, j->trans_b, j->m, w, j->k, j->alpha, j->a, j->lda, b, j->ldb,
                   j->beta, j->c + lo, j->ldc);
      }
      break;
    case 2:
      {
        /* Rows [lo, hi) of C: op(A)'s rows, which are A's rows or A's columns. */
        int h = MIN (j->tile, j->m - lo);
        const float *a = j->trans_a ? j->a + lo : j->a + (gsize) lo * j->lda;
        gemm_call (j->trans_a, j->trans_b, h, j->n, j->k, j->alpha, a, j->lda, j->b, j->ldb,
                   j->beta, j->c + (gsize) lo * j->ldc, j->ldc);
      }
      break;
    case 3:
      {
        /* A slice [lo, hi) of the inner dimension, into its own partial product. */
        int d = MIN (j->tile, j->k - lo);
        const float *a = j->trans_a ? j->a + (gsize) lo * j->lda : j->a + lo;
        const float *b = j->trans_b ? j->b + lo : j->b + (gsize) lo * j->ldb;
        gemm_call (j->trans_a, j->trans_b, j->m, j->n, d, j->alpha, a, j->lda, b, j->ldb,
                   0.0f, j->partials + (gsize) t * j->m * j->n, j->n);
      }
      break;
    default:
      gemm_call (j->trans_a, j->trans_b, j->m, j->n, j->k, j->alpha, j->a, j->lda, j->b, j->ldb,
                 j->beta, j->c, j->ldc);
    }
}

static int
round_up (int v,
          int to)
{
  return (v + to - 1) / to * to;
}

/*
 * Row-major C = alpha op(A) op(B) + beta C. The split into tiles depends on
 * the shape alone, never on the number of threads, so every thread count
 * gives the same result bit for bit.
 */
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
  GemmJob j = { trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, 0, NULL };
  double flops = 2.0 * m * n * k;
  guint n_tasks = 1;

  if (m == 0 || n == 0)
    return;
  blas_init ();

  if (flops >= SPLIT_MIN_FLOPS)
    {
      if (n >= 256)
        {
          int tiles = MIN (8, n / 192);
          j.split = 1;
          j.tile = round_up ((n + tiles - 1) / tiles, 16);
          n_tasks = (n + j.tile - 1) / j.tile;
        }
      else if (m >= 256)
        {
          int tiles = MIN (16, m / 128);
          j.split = 2;
          j.tile = round_up ((m + tiles - 1) / tiles, 16);
          n_tasks = (m + j.tile - 1) / j.tile;
        }
      else if (k >= 4096)
        {
          int tiles = MIN (8, k / 2048);
          j.split = 3;
          j.tile = round_up ((k + tiles - 1) / tiles, 16);
          n_tasks = (k + j.tile - 1) / j.tile;
        }
    }

  if (j.split == 3)
    {
      gsize mn = (gsize) m * n;
      float *partials = g_new (float, mn * n_tasks);

      j.partials = partials;
      cs_thread_pool_run (cs_thread_pool_get_current (), n_tasks, gemm_task, &j);
      /* Sum the partial products in a fixed order. */
      for (int i = 0; i < m; i++)
        {
          float *crow = c + (gsize) i * ldc;
          for (int jj = 0; jj < n; jj++)
            {
              float sum = 0.0f;
              for (guint t = 0; t < n_tasks; t++)
                sum += partials[t * mn + (gsize) i * n + jj];
              crow[jj] = beta == 0.0f ? sum : sum + beta * crow[jj];
            }
        }
      g_free (partials);
      return;
    }
  cs_thread_pool_run (cs_thread_pool_get_current (), n_tasks, gemm_task, &j);
}

void
cs_gemm_serial (gboolean     trans_a,
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
  blas_init ();
  gemm_call (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
