/* Benchmarks of training and inference speed (a verb, never a pass/fail test). */
#pragma once

#include "data/cs-dataset.h"

G_BEGIN_DECLS

/* One layer of the model, its milliseconds per timed training batch. */
typedef struct
{
  char   *name;                    /* the spec's layer name ("conv1", "features.0") */
  char   *kind;                    /* "Conv2d", "BatchNorm2d", ... */
  double  forward_ms;
  double  backward_ms;
} CsBenchLayer;

typedef struct
{
  double train_samples_per_sec;
  double infer_images_per_sec;     /* batch 100, evaluation mode */
  double latency_us;               /* one image, evaluation mode, median */
  double train_gflops;             /* achieved, from the model's FLOPs per training sample */
  double flops_per_sample;
  GArray *layers;                  /* of CsBenchLayer, in the model's order */
} CsBenchResult;

/* Frees what cs_bench_model () put in @result. */
void     cs_bench_result_clear (CsBenchResult   *result);

/* Trains @n_batches timed batches (after a warm-up) of @model on @data. */
gboolean cs_bench_model       (const char      *model,
                               CsDataset       *data,
                               int              threads,
                               int              batch,
                               int              n_batches,
                               CsBenchResult   *result,
                               GError         **error);
/* GFLOP/s of cblas_sgemm on n x n x n with OpenBLAS's own @threads threads. */
double   cs_bench_sgemm_peak  (int              threads,
                               int              n);

G_END_DECLS
