/* The benchmark engine behind `convscope bench`: the same trainer the app uses, timed. */

#define G_LOG_DOMAIN "cs-bench"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "train/cs-bench.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-gemm.h"
#include "nn/cs-presets.h"
#include "train/cs-summary.h"
#include "train/cs-trainer.h"

typedef struct
{
  int      warmup;
  int      stop_after;
  gint64   t0;
  gint64   t1;
  CsModel *model;    /* its layers timed over the timed batches */
} Timing;

static gboolean
timing_cb (int      epoch,
           int      batch,
           int      n_batches,
           double   loss,
           gpointer user_data)
{
  Timing *t = user_data;

  if (batch + 1 == t->warmup)
    {
      cs_model_set_timing (t->model, TRUE);
      t->t0 = g_get_monotonic_time ();
    }
  if (batch + 1 == t->stop_after)
    {
      t->t1 = g_get_monotonic_time ();
      return FALSE;
    }
  return TRUE;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

gboolean
cs_bench_model (const char    *model,
                CsDataset     *data,
                int            threads,
                int            batch,
                int            n_batches,
                CsBenchResult *result,
                GError       **error)
{
  g_autoptr(CsSpec) spec = cs_spec_for_model (model, error);
  g_autoptr(CsTrainer) trainer = NULL;
  g_autoptr(CsSummary) summary = NULL;
  g_autoptr(GError) local_error = NULL;
  CsHyperParams hp;
  CsEpochResult r;
  Timing timing = { 10, 10 + n_batches, 0, 0, NULL };
  CsModel *m;
  CsThreadPool *prev = cs_thread_pool_get_current ();
  float *x;
  double lat[200];

  memset (result, 0, sizeof *result);
  if (spec == NULL)
    return FALSE;
  cs_hyper_params_for_preset (&hp, model);
  hp.threads = threads;
  hp.batch_size = batch;
  if ((guint) ((10 + n_batches) * batch) > data->train.n)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%d batches of %d do not fit in one epoch",
                   10 + n_batches, batch);
      return FALSE;
    }
  trainer = cs_trainer_new (spec, &hp, data, error);
  if (trainer == NULL)
    return FALSE;

  /* Training: the trainer's own loop, timed after a warm-up, layer by layer too. */
  timing.model = cs_trainer_get_model (trainer);
  if (cs_trainer_train_epoch (trainer, timing_cb, &timing, &r, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the timed batches did not stop the epoch");
      return FALSE;
    }
  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  result->train_samples_per_sec = (double) n_batches * batch / ((timing.t1 - timing.t0) / 1e6);
  cs_model_set_timing (timing.model, FALSE);
  result->layers = g_array_new (FALSE, TRUE, sizeof (CsBenchLayer));
  for (guint i = 0; i < spec->layers->len; i++)
    {
      const CsLayerSpec *ls = g_ptr_array_index (spec->layers, i);
      CsBenchLayer l = { g_strdup (ls->name != NULL ? ls->name : ""), g_strdup (cs_layer_kind_name (ls->kind)), 0, 0 };

      cs_model_layer_time (timing.model, i, &l.forward_ms, &l.backward_ms);
      l.forward_ms /= n_batches;
      l.backward_ms /= n_batches;
      g_array_append_val (result->layers, l);
    }
  summary = cs_summary_new (spec, NULL, 1, NULL);
  result->flops_per_sample = summary->flops_per_sample;
  result->train_gflops = result->train_samples_per_sec * summary->flops_per_sample / 1e9;

  /* Inference at batch 100 and latency at batch 1, on the same threads. */
  m = cs_trainer_get_model (trainer);
  cs_thread_pool_set_current (cs_trainer_get_thread_pool (trainer));
  cs_thread_pool_set_active (cs_trainer_get_thread_pool (trainer), TRUE);
  x = cs_alloc_floats ((gsize) 100 * cs_model_input_size (m));
  cs_data_split_first_to_float (&data->test, 0, 100, x, NULL);
  {
    int reps = 30;
    gint64 t0;
    for (int i = 0; i < 3; i++)
      cs_model_forward (m, x, 100, FALSE, NULL);
    t0 = g_get_monotonic_time ();
    for (int i = 0; i < reps; i++)
      cs_model_forward (m, x, 100, FALSE, NULL);
    result->infer_images_per_sec = reps * 100.0 / ((g_get_monotonic_time () - t0) / 1e6);
  }
  for (int i = 0; i < 20; i++)
    cs_model_forward (m, x, 1, FALSE, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (lat); i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      cs_model_forward (m, x + (i % 100) * cs_model_input_size (m), 1, FALSE, NULL);
      lat[i] = (double) (g_get_monotonic_time () - t0);
    }
  qsort (lat, G_N_ELEMENTS (lat), sizeof (double), compare_double);
  result->latency_us = lat[G_N_ELEMENTS (lat) / 2];
  cs_free_floats (x);
  cs_thread_pool_set_active (cs_trainer_get_thread_pool (trainer), FALSE);
  cs_thread_pool_set_current (prev);
  return TRUE;
}

void
cs_bench_result_clear (CsBenchResult *result)
{
  if (result->layers != NULL)
    for (guint i = 0; i < result->layers->len; i++)
      {
        CsBenchLayer *l = &g_array_index (result->layers, CsBenchLayer, i);
        g_free (l->name);
        g_free (l->kind);
      }
  g_clear_pointer (&result->layers, g_array_unref);
}

double
cs_bench_sgemm_peak (int threads,
                     int n)
{
  float *a = cs_alloc_floats ((gsize) n * n), *b = cs_alloc_floats ((gsize) n * n), *c = cs_alloc_floats ((gsize) n * n);
  double best = 0;

  for (gsize i = 0; i < (gsize) n * n; i++)
    a[i] = b[i] = (float) (i % 7) * 0.1f;
  /* Raw OpenBLAS with its own threads, as a reference peak; the project's
   * kernels keep OpenBLAS single-threaded (cs-gemm.c). */
  cs_gemm_blas_set_threads (threads);
  for (int rep = 0; rep < 5; rep++)
    {
      gint64 t0 = g_get_monotonic_time ();
      cs_gemm_serial (FALSE, FALSE, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      best = MAX (best, 2.0 * n * n * (double) n / ((g_get_monotonic_time () - t0) / 1e6) / 1e9);
    }
  cs_gemm_blas_set_threads (1);
  cs_free_floats (a);
  cs_free_floats (b);
  cs_free_floats (c);
  return best;
}
