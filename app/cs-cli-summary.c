/* `convscope summary`: torchinfo's table for any model, then the memory Convscope really allocates. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cs-cli.h"
#include "nn/cs-presets.h"
#include "train/cs-summary.h"

int
cs_cli_summary (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = NULL;
  g_autoptr(CsSummary) summary = NULL;
  g_autofree char *model = NULL;
  g_autofree char *columns = NULL;
  g_autofree char *optimizer = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) cols = NULL;
  gboolean json = FALSE;
  int batch = 1, status = CS_EXIT_OK;
  const CsPreset *preset;
  CsHyperParams hp;
  static const char * const known[] = { "input", "output", "kernel", "params", "mult-adds", "trainable" };
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, "A preset, a .spec file, or a PyTorch model.py[:Class]", "MODEL" },
    { "batch-size", 'b', 0, G_OPTION_ARG_INT, &batch, "Batch size (1, as torchinfo's input_size=(1, 1, 28, 28))", "N" },
    { "columns", 0, 0, G_OPTION_ARG_STRING, &columns, "Any of input,output,kernel,params,mult-adds,trainable", "LIST" },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &optimizer, "For the memory figures: sgd or adam (the preset's)", "NAME" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON (sizes in bytes) for scripts", NULL },
    { NULL }
  };

  context = g_option_context_new ("- the model's layers, shapes, parameters and sizes, as torchinfo prints them");
  g_option_context_set_summary (context,
                                "Below torchinfo's estimate, the memory Convscope actually allocates to train the\n"
                                "model at that batch size (parameters, gradients, optimizer state, activations and\n"
                                "workspaces), and the FLOPs of one training sample.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "summary", &argc, &argv, &status))
    return status;
  if (argc > 1)
    return cs_cli_usage_error ("summary", "unexpected argument \"%s\"", argv[1]);
  if (model == NULL)
    return cs_cli_usage_error ("summary", "which model? --model mlp, cnn, lenet5, net, shapes or a .spec file");
  if (batch < 1 || batch > 100000)
    return cs_cli_usage_error ("summary", "the batch size must be from 1 to 100000");

  if (columns != NULL)
    {
      cols = g_strsplit (columns, ",", -1);
      for (guint i = 0; cols[i]; i++)
        {
          gboolean ok = FALSE;
          g_strstrip (cols[i]);
          for (guint k = 0; k < G_N_ELEMENTS (known); k++)
            ok |= g_str_equal (cols[i], known[k]);
          if (!ok)
            return cs_cli_usage_error ("summary", "unknown column \"%s\" (input, output, kernel, params, mult-adds, trainable)",
                                       cols[i]);
        }
    }

  spec = cs_spec_for_model (model, &error);
  if (spec == NULL)
    return cs_cli_fail (error);

  cs_hyper_params_for_preset (&hp, model);
  if (optimizer != NULL)
    {
      if (g_ascii_strcasecmp (optimizer, "sgd") == 0)
        cs_optim_config_defaults (&hp.optim, CS_OPTIM_SGD);
      else if (g_ascii_strcasecmp (optimizer, "adam") == 0)
        cs_optim_config_defaults (&hp.optim, CS_OPTIM_ADAM);
      else
        return cs_cli_usage_error ("summary", "unknown optimizer \"%s\" (sgd or adam)", optimizer);
    }
  hp.batch_size = batch;
  preset = cs_preset_lookup (model);
  {
    g_autofree char *stem = g_path_get_basename (model);
    char *dot = strrchr (stem, '.');
    if (dot)
      *dot = '\0';
    summary = cs_summary_new (spec, preset ? preset->class_name : stem, batch, &hp);
  }

  text = json ? cs_summary_to_json (summary) : cs_summary_format (summary, (const char * const *) cols, TRUE);
  fputs (text, stdout);
  return CS_EXIT_OK;
}
