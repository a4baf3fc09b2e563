/* `convscope train` and `convscope shapes`: the notebook's training cells and its shape exercise. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <unistd.h>

#include "cs-cli.h"
#include "data/cs-dataset.h"
#include "nn/cs-presets.h"
#include "train/cs-run-store.h"
#include "train/cs-trainer.h"

#define UNSET_DOUBLE (-G_MAXDOUBLE)
#define UNSET_INT    G_MININT

typedef struct
{
  CsRun      *run;
  GMainLoop  *loop;
  gboolean    tty;
  gint64      last_draw;
  int         epochs;
  gboolean    interrupted;
} TrainCli;

static void
progress_cb (CsRun    *run,
             TrainCli *t)
{
  int batch = cs_run_get_current_batch (run), n = cs_run_get_n_batches (run);
  gint64 now = g_get_monotonic_time ();
  int width = 30, filled;
  char bar[64];

  if (!t->tty || n == 0 || now - t->last_draw < 100000)
    return;
  t->last_draw = now;
  filled = (int) ((double) batch / n * width);
  for (int i = 0; i < width; i++)
    bar[i] = i < filled ? '#' : '-';
  bar[width] = '\0';
  {
    g_autofree char *progress = cs_run_format_progress (run, CS_RUN_PROGRESS_EPOCH);
    printf ("\r  %s [%s] %d/%d  loss %.4f  %.0f samples/s ", progress ? progress : "", bar, batch, n,
            cs_run_get_running_loss (run), cs_run_get_samples_per_sec (run));
  }
  fflush (stdout);
}

static void
epoch_done_cb (CsRun    *run,
               guint     index,
               TrainCli *t)
{
  const CsEpochResult *r = cs_run_get_epoch (run, index);

  if (t->tty)
    printf ("\r\033[K");
  printf ("Epoch %d: model accuracy %.2f%%  (train loss %.4f, train acc %.2f%%, test loss %.4f, %.1f s, %.0f samples/s)\n",
          r->epoch + 1, r->test_acc, r->train_loss, r->train_acc, r->test_loss, r->seconds, r->samples_per_sec);
  fflush (stdout);
}

static void
state_cb (CsRun      *run,
          GParamSpec *pspec,
          TrainCli   *t)
{
  if (!cs_run_state_is_live (cs_run_get_state (run)))
    g_main_loop_quit (t->loop);
}

static void
message_cb (CsRun      *run,
            GParamSpec *pspec,
            TrainCli   *t)
{
  /* A live run with a message: a save failed (the previous files are intact). */
  if (cs_run_state_is_live (cs_run_get_state (run)) && cs_run_get_message (run) != NULL)
    {
      if (t->tty)
        printf ("\n");
      fprintf (stderr, "convscope: warning: %s\n", cs_run_get_message (run));
    }
}

static gboolean
interrupt_cb (gpointer data)
{
  TrainCli *t = data;

  if (t->interrupted)
    {
      /* A second Ctrl-C: the person means it. */
      fprintf (stderr, "\nconvscope: interrupted again; quitting without waiting\n");
      exit (130);
    }
  t->interrupted = TRUE;
  if (t->tty)
    printf ("\n");
  fprintf (stderr, "convscope: stopping at the end of this batch (Ctrl-C again to quit now)...\n");
  cs_run_stop (t->run);
  return G_SOURCE_CONTINUE;
}

int
cs_cli_train (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(CsRunSettings) settings = { 0 };
  g_autoptr(CsDataset) ds = NULL;
  g_autoptr(CsRunStore) store = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *model = NULL;
  g_autofree char *optimizer = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *dataset = NULL;
  g_autofree char *runs_dir = NULL;
  g_autofree char *name = NULL;
  g_autofree char *ckpt = NULL;
  double lr = UNSET_DOUBLE, momentum = UNSET_DOUBLE, weight_decay = UNSET_DOUBLE;
  int epochs = UNSET_INT, batch_size = UNSET_INT, threads = UNSET_INT;
  gint64 seed = G_MININT64;
  int status = CS_EXIT_OK;
  guint sigint, sigterm;
  CsHyperParams hp;
  CsRun *run;
  TrainCli t = { 0 };
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, "mlp, cnn, lenet5, net, net-mnist, shapes, a .spec file, or a PyTorch model.py[:Class]", "MODEL" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, "Epochs to train (5)", "N" },
    { "batch-size", 'b', 0, G_OPTION_ARG_INT, &batch_size, "Batch size (100)", "N" },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &optimizer, "sgd or adam (the preset's)", "NAME" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Learning rate (the preset's)", "LR" },
    { "momentum", 0, 0, G_OPTION_ARG_DOUBLE, &momentum, "SGD momentum (0)", "M" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, "Weight decay (0)", "WD" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (1)", "SEED" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (the number of cores)", "N" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Directory with the IDX files", "DIR" },
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "mnist (default) or fashion-mnist", "NAME" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, "A name for the run (the model's)", "NAME" },
    { "runs-dir", 0, 0, G_OPTION_ARG_FILENAME, &runs_dir, "Where runs are kept (~/.local/share/convscope/runs)", "DIR" },
    { NULL }
  };

  context = g_option_context_new ("- train a model as the notebook does");
  g_option_context_set_summary (context,
                                "Trains on the training set and prints the test accuracy after every epoch.\n"
                                "Defaults are the notebook's: mlp SGD lr 0.01, cnn Adam lr 0.01, lenet5 Adam lr 0.001,\n"
                                "batch 100, 5 epochs. The run, its history and its checkpoint are kept in the\n"
                                "runs directory; Ctrl-C stops cleanly and keeps what was learned.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "train", &argc, &argv, &status))
    return status;
  if (argc > 1)
    return cs_cli_usage_error ("train", "unexpected argument \"%s\"", argv[1]);
  if (model == NULL)
    return cs_cli_usage_error ("train", "which model? --model mlp, cnn, lenet5, net, shapes or a .spec file");

  cs_hyper_params_for_preset (&hp, model);
  if (optimizer != NULL)
    {
      CsOptimKind kind;
      double preset_lr = hp.optim.lr;
      CsOptimKind preset_kind = hp.optim.kind;

      if (g_ascii_strcasecmp (optimizer, "sgd") == 0)
        kind = CS_OPTIM_SGD;
      else if (g_ascii_strcasecmp (optimizer, "adam") == 0)
        kind = CS_OPTIM_ADAM;
      else
        return cs_cli_usage_error ("train", "unknown optimizer \"%s\" (sgd or adam)", optimizer);
      cs_optim_config_defaults (&hp.optim, kind);
      if (kind == preset_kind)
        hp.optim.lr = preset_lr;
    }
  if (lr != UNSET_DOUBLE)
    hp.optim.lr = lr;
  if (momentum != UNSET_DOUBLE)
    hp.optim.momentum = momentum;
  if (weight_decay != UNSET_DOUBLE)
    hp.optim.weight_decay = weight_decay;
  if (epochs != UNSET_INT)
    hp.epochs = epochs;
  if (batch_size != UNSET_INT)
    hp.batch_size = batch_size;
  if (threads != UNSET_INT)
    hp.threads = threads;
  if (seed != G_MININT64)
    {
      if (seed < 0)
        return cs_cli_usage_error ("train", "the seed must be zero or positive");
      hp.seed = (guint64) seed;
    }
  if (momentum != UNSET_DOUBLE && hp.optim.kind != CS_OPTIM_SGD)
    return cs_cli_usage_error ("train", "--momentum is for SGD; add --optimizer sgd");

  if (!cs_hyper_params_validate (&hp, 0, &error))
    return cs_cli_usage_error ("train", "%s", error->message);

  settings.spec = cs_spec_for_model (model, &error);
  if (settings.spec == NULL)
    return cs_cli_fail (error);

  ds = cs_dataset_open (data_dir, dataset ? dataset : "mnist", &error);
  if (ds == NULL)
    return cs_cli_fail (error);
  if (!cs_hyper_params_validate (&hp, ds->train.n, &error))
    return cs_cli_usage_error ("train", "%s", error->message);

  store = cs_run_store_new (runs_dir);
  settings.name = g_strdup (name);
  settings.model = g_strdup (model);
  settings.hp = hp;
  settings.dataset = g_strdup (ds->name);
  settings.data_dir = g_strdup (ds->dir);
  run = cs_run_store_create (store, &settings, &error);
  if (run == NULL)
    return cs_cli_fail (error);

  printf ("Training %s on %s: %s lr %g%s, batch %d, %d epoch%s, seed %" G_GUINT64_FORMAT ", %d thread%s, %"
          G_GSIZE_FORMAT " parameters\n",
          model, ds->name, cs_optim_kind_name (hp.optim.kind), hp.optim.lr,
          hp.optim.momentum > 0 ? " with momentum" : "", hp.batch_size, hp.epochs, hp.epochs == 1 ? "" : "s",
          hp.seed, hp.threads, hp.threads == 1 ? "" : "s", cs_run_get_n_params (run));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  t.run = run;
  t.loop = loop;
  t.tty = isatty (STDOUT_FILENO);
  t.epochs = hp.epochs;
  g_signal_connect (run, "progress", G_CALLBACK (progress_cb), &t);
  g_signal_connect (run, "epoch-done", G_CALLBACK (epoch_done_cb), &t);
  g_signal_connect (run, "notify::state", G_CALLBACK (state_cb), &t);
  g_signal_connect (run, "notify::message", G_CALLBACK (message_cb), &t);
  sigint = g_unix_signal_add (SIGINT, interrupt_cb, &t);
  sigterm = g_unix_signal_add (SIGTERM, interrupt_cb, &t);

  if (!cs_run_start (run, ds, &error))
    return cs_cli_fail (error);
  g_main_loop_run (loop);
  cs_run_join (run);
  g_source_remove (sigint);
  g_source_remove (sigterm);

  ckpt = cs_run_get_checkpoint_path (run);
  switch (cs_run_get_state (run))
    {
    case CS_RUN_FINISHED:
      printf ("Run %s saved in %s\n", cs_run_get_id (run), cs_run_get_dir (run));
      return CS_EXIT_OK;
    case CS_RUN_STOPPED:
      printf ("Run %s %s; what it learned is saved in %s\n", cs_run_get_id (run),
              cs_run_get_message (run), g_file_test (ckpt, G_FILE_TEST_EXISTS) ? ckpt : cs_run_get_dir (run));
      return 130;
    case CS_RUN_FAILED:
      fprintf (stderr, "convscope: %s\n", cs_run_get_message (run));
      if (g_file_test (ckpt, G_FILE_TEST_EXISTS))
        fprintf (stderr, "convscope: the weights it ended with are in %s\n", ckpt);
      return CS_EXIT_FAILURE;
    case CS_RUN_QUEUED:
    case CS_RUN_RUNNING:
    case CS_RUN_PAUSED:
    default:
      return CS_EXIT_FAILURE;
    }
}

int
cs_cli_shapes (int    argc,
               char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = NULL;
  g_autofree char *model = NULL;
  int status = CS_EXIT_OK;
  int batch = 1;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, "A preset, a .spec file, or a PyTorch model.py[:Class]", "MODEL" },
    { "batch-size", 'b', 0, G_OPTION_ARG_INT, &batch, "Batch size of the shapes (1)", "N" },
    { NULL }
  };

  context = g_option_context_new ("- each layer's output shape, the notebook's exercise");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "shapes", &argc, &argv, &status))
    return status;
  if (model == NULL)
    return cs_cli_usage_error ("shapes", "which model? --model mlp, cnn, lenet5, net, shapes or a .spec file");
  if (batch < 1)
    return cs_cli_usage_error ("shapes", "the batch size must be at least 1");

  spec = cs_spec_for_model (model, &error);
  if (spec == NULL)
    return cs_cli_fail (error);

  {
    int name_w = 5, call_w = 0;
    CsShape in = spec->input;

    for (guint i = 0; i < cs_spec_n_layers (spec); i++)
      {
        const CsLayerSpec *l = cs_spec_layer (spec, i);
        name_w = MAX (name_w, (int) strlen (l->name));
        call_w = MAX (call_w, (int) g_utf8_strlen (l->call, -1));
      }
    if (in.flat)
      printf ("%-*s  %-*s  torch.Size([%d, %d])\n", name_w, "input", call_w, "", batch, in.c);
    else
      printf ("%-*s  %-*s  torch.Size([%d, %d, %d, %d])\n", name_w, "input", call_w, "", batch, in.c, in.h, in.w);
    for (guint i = 0; i < cs_spec_n_layers (spec); i++)
      {
        const CsLayerSpec *l = cs_spec_layer (spec, i);

        if (l->out.flat)
          printf ("%-*s  %-*s  torch.Size([%d, %d])\n", name_w, l->name, call_w, l->call, batch, l->out.c);
        else
          printf ("%-*s  %-*s  torch.Size([%d, %d, %d, %d])\n", name_w, l->name, call_w, l->call, batch,
                  l->out.c, l->out.h, l->out.w);
      }
  }
  return CS_EXIT_OK;
}
