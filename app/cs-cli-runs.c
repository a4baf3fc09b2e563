/* `convscope runs`: list, show, export (CSV) and delete the runs kept on disk. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "formats/cs-checkpoint.h"
#include "cs-cli.h"
#include "train/cs-run-store.h"

static void
print_warnings (GPtrArray *warnings)
{
  for (guint i = 0; warnings && i < warnings->len; i++)
    fprintf (stderr, "convscope: warning: %s\n", (char *) g_ptr_array_index (warnings, i));
}

static char *
format_time (gint64 unix_time)
{
  g_autoptr(GDateTime) dt = unix_time > 0 ? g_date_time_new_from_unix_local (unix_time) : NULL;
  return dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("-");
}

static double
best_acc (CsRun *run)
{
  double best = -1;
  for (guint i = 0; i < cs_run_get_n_epochs (run); i++)
    best = MAX (best, cs_run_get_epoch (run, i)->test_acc);
  return best;
}

static int
runs_list (CsRunStore *store)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (store));

  if (n == 0)
    {
      printf ("No runs in %s yet; start one with \"convscope train --model lenet5\".\n", cs_run_store_get_dir (store));
      return CS_EXIT_OK;
    }
  printf ("%-32s %-16s %-10s %-8s %-9s %-9s %s\n", "ID", "NAME", "STATE", "EPOCHS", "LAST ACC", "BEST ACC", "CREATED");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CsRun) run = g_list_model_get_item (G_LIST_MODEL (store), i);
      g_autofree char *created = format_time (cs_run_get_created (run));
      guint ne = cs_run_get_n_epochs (run);
      g_autofree char *epochs = g_strdup_printf ("%u/%d", ne, cs_run_get_hyper_params (run)->epochs);
      g_autofree char *last = ne ? g_strdup_printf ("%.2f%%", cs_run_get_epoch (run, ne - 1)->test_acc) : g_strdup ("-");
      g_autofree char *best = ne ? g_strdup_printf ("%.2f%%", best_acc (run)) : g_strdup ("-");

      printf ("%-32s %-16s %-10s %-8s %-9s %-9s %s\n", cs_run_get_id (run), cs_run_get_name (run),
              cs_run_state_to_string (cs_run_get_state (run)), epochs, last, best, created);
    }
  return CS_EXIT_OK;
}

static int
runs_show (CsRun *run)
{
  const CsHyperParams *hp = cs_run_get_hyper_params (run);
  g_autofree char *created = format_time (cs_run_get_created (run));
  g_autofree char *ckpt = cs_run_get_checkpoint_path (run);
  guint n_points;

  cs_run_get_loss_points (run, &n_points);
  printf ("Run        %s\n", cs_run_get_id (run));
  printf ("Name       %s\n", cs_run_get_name (run));
  printf ("Model      %s (%" G_GSIZE_FORMAT " parameters)\n", cs_run_get_model (run), cs_run_get_n_params (run));
  printf ("Data       %s (%s)\n", cs_run_get_dataset (run), cs_run_get_data_dir (run) ? cs_run_get_data_dir (run) : "-");
  printf ("Optimizer  %s lr %g, momentum %g, weight decay %g\n", cs_optim_kind_name (hp->optim.kind),
          hp->optim.lr, hp->optim.momentum, hp->optim.weight_decay);
  printf ("Training   batch %d, %d epochs, seed %" G_GUINT64_FORMAT ", %d threads\n", hp->batch_size, hp->epochs,
          hp->seed, hp->threads);
  printf ("State      %s%s%s\n", cs_run_state_to_string (cs_run_get_state (run)),
          cs_run_get_message (run) ? ": " : "", cs_run_get_message (run) ? cs_run_get_message (run) : "");
  printf ("Created    %s\n", created);
  printf ("Train time %.1f s\n", cs_run_get_train_seconds (run));
  printf ("Directory  %s\n", cs_run_get_dir (run));
  printf ("Checkpoint %s\n", g_file_test (ckpt, G_FILE_TEST_EXISTS) ? ckpt : "(none yet)");
  printf ("Loss curve %u points\n\n", n_points);
  printf ("%-6s %-11s %-10s %-10s %-10s %-8s %s\n", "EPOCH", "TRAIN LOSS", "TRAIN ACC", "TEST LOSS", "TEST ACC",
          "SECONDS", "SAMPLES/S");
  for (guint i = 0; i < cs_run_get_n_epochs (run); i++)
    {
      const CsEpochResult *e = cs_run_get_epoch (run, i);
      printf ("%-6d %-11.4f %-10.2f %-10.4f %-10.2f %-8.1f %.0f\n", e->epoch + 1, e->train_loss, e->train_acc,
              e->test_loss, e->test_acc, e->seconds, e->samples_per_sec);
    }
  return CS_EXIT_OK;
}

int
cs_cli_runs (int    argc,
             char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsRunStore) store = NULL;
  g_autoptr(GPtrArray) warnings = NULL;
  g_autofree char *runs_dir = NULL;
  g_autofree char *output = NULL;
  gboolean csv_flag = FALSE, all = FALSE;
  int status = CS_EXIT_OK;
  const char *cmd;
  const GOptionEntry entries[] = {
    { "runs-dir", 0, 0, G_OPTION_ARG_FILENAME, &runs_dir, "Where runs are kept (~/.local/share/convscope/runs)", "DIR" },
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv_flag, "export: as CSV, one row per run and epoch", NULL },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "export: every run", NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "export: write to FILE (default: standard output)", "FILE" },
    { NULL }
  };

  context = g_option_context_new ("list | show ID | export (ID | --all) --csv [-o FILE] | delete ID");
  g_option_context_set_summary (context, "The runs kept on disk, with their history. An ID may be abbreviated to a unique prefix.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "runs", &argc, &argv, &status))
    return status;
  if (argc < 2)
    return cs_cli_usage_error ("runs", "expected list, show, export or delete");
  cmd = argv[1];

  store = cs_run_store_new (runs_dir);
  if (!cs_run_store_load (store, &warnings, &error))
    return cs_cli_fail (error);
  print_warnings (warnings);

  if (g_str_equal (cmd, "list"))
    {
      if (argc != 2)
        return cs_cli_usage_error ("runs", "list takes no argument");
      return runs_list (store);
    }
  if (g_str_equal (cmd, "show") || g_str_equal (cmd, "delete"))
    {
      CsRun *run;

      if (argc != 3)
        return cs_cli_usage_error ("runs", "%s needs one run ID", cmd);
      run = cs_run_store_find (store, argv[2], &error);
      if (run == NULL)
        return cs_cli_fail (error);
      if (g_str_equal (cmd, "show"))
        return runs_show (run);
      {
        g_autofree char *id = g_strdup (cs_run_get_id (run));
        if (!cs_run_store_delete (store, run, &error))
          return cs_cli_fail (error);
        printf ("Deleted run %s\n", id);
        return CS_EXIT_OK;
      }
    }
  if (g_str_equal (cmd, "export"))
    {
      g_autoptr(GPtrArray) runs = g_ptr_array_new_with_free_func (g_object_unref);
      g_autofree char *csv = NULL;
      gsize len;

      if (!csv_flag)
        return cs_cli_usage_error ("runs", "export writes CSV: add --csv");
      if (all == (argc == 3) || argc > 3)
        return cs_cli_usage_error ("runs", "export needs one run ID or --all");
      if (all)
        {
          for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (store)); i++)
            g_ptr_array_add (runs, g_list_model_get_item (G_LIST_MODEL (store), i));
        }
      else
        {
          CsRun *run = cs_run_store_find (store, argv[2], &error);
          if (run == NULL)
            return cs_cli_fail (error);
          g_ptr_array_add (runs, g_object_ref (run));
        }
      csv = cs_runs_to_csv ((CsRun * const *) runs->pdata, runs->len, &len);
      if (output != NULL)
        {
          if (!cs_write_file_full (output, csv, len, CS_WRITE_USER_PATH, &error))
            return cs_cli_fail (error);
        }
      else if (fwrite (csv, 1, len, stdout) != len || fflush (stdout) != 0)
        {
          int err = errno;
          fprintf (stderr, "convscope: could not write the CSV to standard output: %s\n", g_strerror (err));
          return CS_EXIT_FAILURE;
        }
      return CS_EXIT_OK;
    }
  return cs_cli_usage_error ("runs", "unknown command \"%s\" (list, show, export, delete)", cmd);
}
