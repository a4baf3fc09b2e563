/* `convscope bench`: training and inference speed of the notebook's models, one parseable line per figure. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <stdio.h>
#include <sys/resource.h>

#include "nn/cs-gemm.h"
#include "train/cs-bench.h"
#include "cs-cli.h"
#include "data/cs-dataset.h"

int
cs_cli_bench (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = NULL;
  g_autofree char *models = NULL;
  g_autofree char *data_dir = NULL;
  g_auto(GStrv) list = NULL;
  int threads = 2, batch = 100, batches = 100, status = CS_EXIT_OK;
  struct rusage ru;
  const GOptionEntry entries[] = {
    { "models", 0, 0, G_OPTION_ARG_STRING, &models, "Models to time (mlp,cnn,lenet5)", "LIST" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (2)", "N" },
    { "batch-size", 'b', 0, G_OPTION_ARG_INT, &batch, "Batch size (100)", "N" },
    { "batches", 0, 0, G_OPTION_ARG_INT, &batches, "Timed training batches after 10 of warm-up (100)", "N" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Directory with the IDX files", "DIR" },
    { NULL }
  };

  context = g_option_context_new ("- training and inference speed");
  g_option_context_set_summary (context,
                                "Prints one line per figure: \"bench key=value ...\". Compare with PyTorch in the\n"
                                "same run with tools/bench, which also runs tools/bench-pytorch.py.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "bench", &argc, &argv, &status))
    return status;
  if (threads < 1 || threads > 256 || batch < 1 || batches < 1)
    return cs_cli_usage_error ("bench", "threads, batch size and batches must be positive");

  ds = cs_dataset_open (data_dir, "mnist", &error);
  if (ds == NULL)
    return cs_cli_fail (error);
  list = g_strsplit (models ? models : "mlp,cnn,lenet5", ",", -1);

  for (guint i = 0; list[i]; i++)
    {
      CsBenchResult r;

      if (!cs_bench_model (g_strstrip (list[i]), ds, threads, batch, batches, &r, &error))
        return cs_cli_fail (error);
      printf ("bench framework=convscope model=%s threads=%d batch=%d train_samples_per_sec=%.0f\n",
              list[i], threads, batch, r.train_samples_per_sec);
      printf ("bench framework=convscope model=%s threads=%d batch=%d train_gflops=%.1f flops_per_sample=%.0f\n",
              list[i], threads, batch, r.train_gflops, r.flops_per_sample);
      printf ("bench framework=convscope model=%s threads=%d batch=100 infer_images_per_sec=%.0f\n",
              list[i], threads, r.infer_images_per_sec);
      printf ("bench framework=convscope model=%s threads=%d batch=1 latency_us=%.1f\n",
              list[i], threads, r.latency_us);
      /* Where a training batch's time goes, layer by layer. */
      for (guint l = 0; l < r.layers->len; l++)
        {
          const CsBenchLayer *bl = &g_array_index (r.layers, CsBenchLayer, l);
          printf ("bench framework=convscope model=%s threads=%d batch=%d layer=%u name=%s kind=%s "
                  "forward_ms=%.3f backward_ms=%.3f\n",
                  list[i], threads, batch, l, *bl->name ? bl->name : "-", bl->kind, bl->forward_ms, bl->backward_ms);
        }
      cs_bench_result_clear (&r);
      fflush (stdout);
    }
  printf ("bench blas=\"%s\"\n", cs_gemm_blas_description ());
  /* Last: OpenBLAS's own threads keep spinning for a while after a threaded call. */
  printf ("bench sgemm_peak threads=1 n=1024 gflops=%.1f\n", cs_bench_sgemm_peak (1, 1024));
  printf ("bench sgemm_peak threads=%d n=1024 gflops=%.1f\n", threads, cs_bench_sgemm_peak (threads, 1024));
  getrusage (RUSAGE_SELF, &ru);
  printf ("bench framework=convscope peak_rss_mb=%.1f\n", ru.ru_maxrss / 1024.0);
  return CS_EXIT_OK;
}
