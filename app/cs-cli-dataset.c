/* `convscope dataset info`: what a data set holds, and a check that its bytes read right. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <stdio.h>

#include "cs-cli.h"
#include "data/cs-dataset.h"

static void
print_split (const CsDataset   *ds,
             const char        *title,
             const CsDataSplit *split)
{
  guint counts[CS_N_CLASSES];

  cs_data_split_label_counts (split, counts);
  printf ("%s: %u images of %ux%u\n", title, split->n, split->rows, split->cols);
  printf ("  images  %s\n  labels  %s\n", split->images_path, split->labels_path);
  printf ("  label histogram:\n");
  for (guint c = 0; c < CS_N_CLASSES; c++)
    {
      const char *name = cs_dataset_class_name (ds, c);
      g_autofree char *digit = g_strdup_printf ("%u", c);

      printf ("    %u %-12s %6u  (%.2f%%)\n", c, g_str_equal (name, digit) ? "" : name, counts[c],
              100.0 * counts[c] / MAX (split->n, 1));
    }
}

int
cs_cli_dataset (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *dataset = NULL;
  int status = CS_EXIT_OK;
  double mean, std;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Directory with the IDX files", "DIR" },
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "mnist (default) or fashion-mnist", "NAME" },
    { NULL }
  };

  context = g_option_context_new ("info - describe a data set");
  g_option_context_set_summary (context,
                                "Prints counts, image shape, the label histogram and the training set's\n"
                                "pixel mean and standard deviation (MNIST: 0.1307 and 0.3081).\n"
                                "The data directory is --data DIR, else $CONVSCOPE_DATA, else the project's data/.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "dataset", &argc, &argv, &status))
    return status;

  if (argc != 2 || !g_str_equal (argv[1], "info"))
    return cs_cli_usage_error ("dataset", "expected \"dataset info\"");

  if (dataset != NULL && !g_str_equal (dataset, "mnist") && !g_str_equal (dataset, "fashion-mnist"))
    return cs_cli_usage_error ("dataset", "unknown data set \"%s\" (mnist or fashion-mnist)", dataset);

  ds = cs_dataset_open (data_dir, dataset ? dataset : "mnist", &error);
  if (ds == NULL)
    return cs_cli_fail (error);

  printf ("Data set: %s (%s)\n", ds->name, ds->dir);
  printf ("Classes: %u\n", CS_N_CLASSES);
  print_split (ds, "Train", &ds->train);
  print_split (ds, "Test", &ds->test);
  cs_data_split_pixel_stats (&ds->train, &mean, &std);
  printf ("Train pixels (ToTensor, [0, 1]): mean %.4f, std %.4f\n", mean, std);
  cs_data_split_pixel_stats (&ds->test, &mean, &std);
  printf ("Test pixels (ToTensor, [0, 1]): mean %.4f, std %.4f\n", mean, std);
  return CS_EXIT_OK;
}
