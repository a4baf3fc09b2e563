/* `convscope predict`, `convert` and `inspect`: checkpoints from Convscope or PyTorch, used from the command line. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "formats/cs-checkpoint.h"
#include "cs-cli.h"
#include "base/cs-file.h"
#include "data/cs-dataset.h"
#include "data/cs-digit.h"
#include "render/cs-image-io.h"
#include "base/cs-thread-pool.h"
#include "train/cs-trainer.h"

static CsCheckpoint *
open_checkpoint (const char *path,
                 GError    **error)
{
  return path ? cs_checkpoint_load (path, error) : cs_checkpoint_load_bundled (error);
}

static void
print_ascii_digit (const float *x)
{
  static const char ramp[] = " .:-=+*#%@";

  for (int y = 0; y < 28; y++)
    {
      printf ("  |");
      for (int xx = 0; xx < 28; xx++)
        {
          int k = (int) (x[y * 28 + xx] * 9.99f);
          putchar (ramp[CLAMP (k, 0, 9)]);
          putchar (ramp[CLAMP (k, 0, 9)]);
        }
      printf ("|\n");
    }
}

int
cs_cli_predict (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_autoptr(CsSpec) spec = NULL;
  g_autoptr(CsModel) model = NULL;
  g_autoptr(CsThreadPool) pool = cs_thread_pool_new ((int) g_get_num_processors ());
  g_autofree char *checkpoint = NULL;
  g_autofree char *image = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *dataset = NULL;
  g_autofree char *hint = NULL;
  g_autofree char *model_name = NULL;
  gboolean test = FALSE, ascii = FALSE;
  int status = CS_EXIT_OK;
  const GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "A .safetensors or PyTorch .pth (default: the bundled LeNet-5)", "FILE" },
    { "test", 0, 0, G_OPTION_ARG_NONE, &test, "Accuracy on the test set, overall and per class", NULL },
    { "image", 'i', 0, G_OPTION_ARG_FILENAME, &image, "Class probabilities for a picture of a digit (PNG, any size)", "PNG" },
    { "ascii", 0, 0, G_OPTION_ARG_NONE, &ascii, "With --image: show the 28x28 input the model sees", NULL },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &hint, "The model, when the file does not say (a preset, a .spec, or a PyTorch model.py[:Class])", "MODEL" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Directory with the IDX files", "DIR" },
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "mnist (default) or fashion-mnist", "NAME" },
    { NULL }
  };

  context = g_option_context_new ("(--test | --image PNG) - what a checkpoint predicts");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "predict", &argc, &argv, &status))
    return status;
  if (argc > 1)
    return cs_cli_usage_error ("predict", "unexpected argument \"%s\"", argv[1]);
  if (test == (image != NULL))
    return cs_cli_usage_error ("predict", "give either --test or --image PNG");

  cs_thread_pool_set_current (pool);
  ckpt = open_checkpoint (checkpoint, &error);
  if (ckpt == NULL)
    return cs_cli_fail (error);
  spec = cs_checkpoint_infer_spec (ckpt, hint, &model_name, &error);
  if (spec == NULL)
    return cs_cli_fail (error);
  model = cs_model_new (spec);
  if (!cs_checkpoint_apply (ckpt, model, &error))
    return cs_cli_fail (error);
  printf ("Model: %s, from %s (%s)\n", model_name, ckpt->path, ckpt->format);

  if (test)
    {
      g_autoptr(CsDataset) ds = cs_dataset_open (data_dir, dataset ? dataset : "mnist", &error);
      CsEpochResult r;

      if (ds == NULL)
        return cs_cli_fail (error);
      if (!cs_spec_fits_dataset (spec, ds, &error))
        {
          g_prefix_error (&error, "%s: ", ckpt->path);
          return cs_cli_fail (error);
        }
      cs_evaluate (model, &ds->test, 100, &r);
      printf ("Test accuracy on %s: %.2f%% (%u of %u), loss %.4f\n", ds->name, r.test_acc,
              (guint) (r.test_acc * ds->test.n / 100 + 0.5), ds->test.n, r.test_loss);
      printf ("Per class:\n");
      for (int c = 0; c < CS_N_CLASSES; c++)
        printf ("  %d %-12s %6.2f%%\n", c, cs_dataset_class_name (ds, c), r.class_acc[c]);
      printf ("Confusion (rows: true class, columns: predicted):\n       ");
      for (int c = 0; c < CS_N_CLASSES; c++)
        printf ("%6d", c);
      printf ("\n");
      for (int t = 0; t < CS_N_CLASSES; t++)
        {
          printf ("  %4d ", t);
          for (int p = 0; p < CS_N_CLASSES; p++)
            printf ("%6u", r.confusion[t][p]);
          printf ("\n");
        }
      return CS_EXIT_OK;
    }
  else
    {
      g_autofree float *gray = NULL;
      float x[28 * 28];
      g_autofree float *proba = NULL;
      int w, h, n_out, best = 0;

      if (cs_model_input_size (model) != 28 * 28)
        {
          g_autofree char *s = cs_shape_to_string (spec->input);
          fprintf (stderr, "convscope: --image needs a model with 1x28x28 input; this one takes %s\n", s);
          return CS_EXIT_FAILURE;
        }
      gray = cs_image_load_gray (image, &w, &h, &error);
      if (gray == NULL)
        return cs_cli_fail (error);
      if (!cs_digit_preprocess (x, gray, w, h, TRUE, &error))
        {
          fprintf (stderr, "convscope: %s: %s\n", image, error->message);
          return CS_EXIT_FAILURE;
        }
      n_out = cs_model_n_outputs (model);
      proba = g_new (float, n_out);
      cs_model_predict (model, x, 1, proba);
      for (int c = 1; c < n_out; c++)
        if (proba[c] > proba[best])
          best = c;
      printf ("Image: %s (%dx%d)\n", image, w, h);
      if (ascii)
        {
          printf ("The 28x28 input the model sees:\n");
          print_ascii_digit (x);
        }
      printf ("Prediction: %d (%.1f%%)\n", best, 100 * proba[best]);
      for (int c = 0; c < n_out; c++)
        {
          int bar = (int) (proba[c] * 40 + 0.5);
          printf ("  %d %6.2f%% ", c, 100 * proba[c]);
          for (int i = 0; i < bar; i++)
            putchar ('#');
          putchar ('\n');
        }
      return CS_EXIT_OK;
    }
}

int
cs_cli_convert (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_autoptr(CsSpec) spec = NULL;
  g_autoptr(CsModel) model = NULL;
  g_autoptr(GHashTable) meta = NULL;
  g_autofree char *hint = NULL;
  g_autofree char *model_name = NULL;
  int status = CS_EXIT_OK;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &hint, "Load the tensors into this model (a preset, a .spec, or a PyTorch model.py[:Class]) when shapes fit", "MODEL" },
    { NULL }
  };

  context = g_option_context_new ("IN OUT.safetensors - a .pth or .safetensors to a self-describing safetensors");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "convert", &argc, &argv, &status))
    return status;
  if (argc != 3)
    return cs_cli_usage_error ("convert", "expected IN and OUT");
  if (!g_str_has_suffix (argv[2], ".safetensors"))
    return cs_cli_usage_error ("convert", "Convscope writes safetensors (PyTorch reads them with "
                                          "safetensors.torch.load_file); name the output OUT.safetensors");
  if (g_strcmp0 (argv[1], argv[2]) == 0)
    return cs_cli_usage_error ("convert", "IN and OUT are the same file");

  ckpt = cs_checkpoint_load (argv[1], &error);
  if (ckpt == NULL)
    return cs_cli_fail (error);
  spec = cs_checkpoint_infer_spec (ckpt, hint, &model_name, &error);
  if (spec == NULL)
    return cs_cli_fail (error);
  model = cs_model_new (spec);
  if (!cs_checkpoint_apply (ckpt, model, &error))
    return cs_cli_fail (error);

  meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  {
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init (&it, ckpt->metadata);
    while (g_hash_table_iter_next (&it, &k, &v))
      g_hash_table_insert (meta, g_strdup (k), g_strdup (v));
  }
  g_hash_table_insert (meta, g_strdup ("format"), g_strdup ("convscope"));
  g_hash_table_insert (meta, g_strdup ("convscope_version"), g_strdup (PACKAGE_VERSION));
  g_hash_table_insert (meta, g_strdup ("spec"), g_strdup (spec->text));
  g_hash_table_insert (meta, g_strdup ("model"), g_strdup (model_name));
  g_hash_table_insert (meta, g_strdup ("converted_from"), g_path_get_basename (argv[1]));

  if (!cs_checkpoint_save_full (argv[2], model, NULL, meta, CS_WRITE_USER_PATH, &error))
    return cs_cli_fail (error);
  printf ("Wrote %s: %s, %u tensors, %" G_GSIZE_FORMAT " parameters\n", argv[2], model_name,
          cs_model_n_tensors (model), cs_model_n_params (model));
  return CS_EXIT_OK;
}

int
cs_cli_inspect (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_autoptr(CsSpec) spec = NULL;
  g_autoptr(GError) spec_error = NULL;
  g_autofree char *model_name = NULL;
  g_autoptr(GList) keys = NULL;
  g_autoptr(GPtrArray) names = NULL;
  int status = CS_EXIT_OK;
  gsize total = 0;
  int name_w = 4;

  context = g_option_context_new ("FILE - what a .safetensors or .pth holds");
  if (!cs_cli_parse (context, "inspect", &argc, &argv, &status))
    return status;
  if (argc != 2)
    return cs_cli_usage_error ("inspect", "expected one FILE");

  ckpt = cs_checkpoint_load (argv[1], &error);
  if (ckpt == NULL)
    return cs_cli_fail (error);

  /* Names, dtypes and metadata come from the file: what a terminal would
   * take as escape sequences is printed as \xNN. */
  spec = cs_checkpoint_infer_spec (ckpt, NULL, &model_name, &spec_error);
  {
    g_autofree char *shown_path = cs_str_printable (ckpt->path);
    g_autofree char *shown_model = cs_str_printable (spec ? model_name : spec_error->message);
    printf ("File:    %s\nFormat:  %s\n", shown_path, g_str_equal (ckpt->format, "pytorch")
            ? "PyTorch (torch.save zip, state_dict)" : "safetensors");
    printf ("Model:   %s\n", shown_model);
  }
  names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < ckpt->tensors->len; i++)
    {
      char *shown = cs_str_printable (((CsTensor *) g_ptr_array_index (ckpt->tensors, i))->name);
      name_w = MAX (name_w, (int) MIN (strlen (shown), 80));
      g_ptr_array_add (names, shown);
    }
  printf ("\n%-*s  %-20s %-18s %s\n", name_w, "TENSOR", "DTYPE", "SHAPE", "VALUES");
  for (guint i = 0; i < ckpt->tensors->len; i++)
    {
      const CsTensor *t = g_ptr_array_index (ckpt->tensors, i);
      g_autofree char *shape = cs_tensor_shape_string (t->shape, t->ndim);
      g_autofree char *dtype = cs_str_printable (t->dtype);
      printf ("%-*s  %-20s %-18s %" G_GSIZE_FORMAT "\n", name_w, (char *) g_ptr_array_index (names, i), dtype, shape,
              t->numel);
      total += t->numel;
    }
  printf ("\n%u tensors, %" G_GSIZE_FORMAT " values\n", ckpt->tensors->len, total);
  keys = g_list_sort (g_hash_table_get_keys (ckpt->metadata), (GCompareFunc) strcmp);
  if (keys != NULL)
    printf ("\nMetadata:\n");
  for (GList *l = keys; l; l = l->next)
    {
      const char *v = g_hash_table_lookup (ckpt->metadata, l->data);
      g_autofree char *key = cs_str_printable (l->data);
      if (strchr (v, '\n') != NULL)
        {
          g_auto(GStrv) lines = g_strsplit (v, "\n", -1);
          printf ("  %s:\n", key);
          for (guint i = 0; lines[i]; i++)
            if (lines[i][0])
              {
                g_autofree char *line = cs_str_printable (lines[i]);
                printf ("    %s\n", line);
              }
        }
      else
        {
          g_autofree char *value = cs_str_printable (v);
          printf ("  %s: %s\n", key, value);
        }
    }
  return CS_EXIT_OK;
}
