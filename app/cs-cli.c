/* The command-line dispatcher: `convscope VERB [OPTIONS]` runs without a window. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cs-cli.h"
#include "base/cs-file.h"

typedef struct
{
  const char    *name;
  const char    *summary;
  CsCliVerbFunc  func;
} CsCliVerb;

static const CsCliVerb verbs[] = {
  { "train", "Train a model (mlp, cnn, lenet5, ... or a .spec file) and print each epoch", cs_cli_train },
  { "predict", "Test accuracy of a checkpoint, or its prediction for a picture of a digit", cs_cli_predict },
  { "render", "Draw a checkpoint's kernels or feature maps into PNG, SVG or PDF", cs_cli_render },
  { "inspect", "What a .safetensors or PyTorch .pth file holds", cs_cli_inspect },
  { "convert", "A PyTorch .pth (or safetensors) to a self-describing safetensors", cs_cli_convert },
  { "runs", "List, show, export (CSV) and delete the runs kept on disk", cs_cli_runs },
  { "summary", "The model summary torchinfo prints, plus the memory really allocated", cs_cli_summary },
  { "shapes", "Print each layer's output shape for a model", cs_cli_shapes },
  { "bench", "Training and inference speed of the notebook's models", cs_cli_bench },
  { "dataset", "Inspect a data set: counts, shape, labels, pixel statistics", cs_cli_dataset },
};

static void
print_help (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           "  convscope                 open the window\n"
           "  convscope VERB [OPTION…]  work from the command line\n"
           "\n"
           "Verbs:\n");
  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    fprintf (out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
  fprintf (out,
           "\n"
           "Options:\n"
           "  -h, --help     show this help\n"
           "  --version      show the version\n"
           "\n"
           "Run \"convscope VERB --help\" for a verb's options.\n");
}

static const CsCliVerb *
find_verb (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    if (g_str_equal (verbs[i].name, name))
      return &verbs[i];
  return NULL;
}

gboolean
cs_cli_is_file_argument (const char *arg)
{
  g_return_val_if_fail (arg != NULL, FALSE);

  return g_file_test (arg, G_FILE_TEST_EXISTS) || strchr (arg, '/') != NULL || g_str_has_prefix (arg, "file:") ||
         g_str_has_suffix (arg, ".pth") || g_str_has_suffix (arg, ".pt") || g_str_has_suffix (arg, ".safetensors");
}

gboolean
cs_cli_handles (int    argc,
                char **argv)
{
  if (argc < 2)
    return FALSE;
  if (find_verb (argv[1]) != NULL)
    return TRUE;
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help") || g_str_equal (argv[1], "--version"))
    return TRUE;
  /* Files (`convscope model.pth`, the .desktop file's %F) open in the window. */
  if (cs_cli_is_file_argument (argv[1]))
    return FALSE;
  /* An unknown word that is not an option is a mistyped verb. */
  return argv[1][0] != '-';
}

int
cs_cli_run (int    argc,
            char **argv)
{
  const CsCliVerb *verb;

  /* Numbers on the command line and in output use '.', whatever the locale. */
  setlocale (LC_NUMERIC, "C");

  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      print_help (stdout);
      return CS_EXIT_OK;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("convscope %s\n", PACKAGE_VERSION);
      return CS_EXIT_OK;
    }

  verb = find_verb (argv[1]);
  if (verb == NULL)
    {
      fprintf (stderr, "convscope: unknown verb \"%s\"\n\n", argv[1]);
      print_help (stderr);
      return CS_EXIT_USAGE;
    }
  return verb->func (argc - 1, argv + 1);
}

int
cs_cli_fail (const GError *error)
{
  /* Messages quote names from files: escape what a terminal would obey, keep the line breaks. */
  g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

  fprintf (stderr, "convscope: ");
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *line = cs_str_printable (lines[i]);
      fprintf (stderr, "%s%s", i ? "\n" : "", line);
    }
  fprintf (stderr, "\n");
  return CS_EXIT_FAILURE;
}

int
cs_cli_usage_error (const char *verb,
                    const char *format,
                    ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "convscope %s: %s\nRun \"convscope %s --help\" for its options.\n", verb, msg, verb);
  return CS_EXIT_USAGE;
}

/* Parses options; on failure or --help sets *status and returns FALSE. */
gboolean
cs_cli_parse (GOptionContext   *context,
              const char       *verb,
              int              *argc,
              char           ***argv,
              int              *status)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *status = cs_cli_usage_error (verb, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}
