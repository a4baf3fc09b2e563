/* `convscope train` and `convscope shapes`: the seed's training cells and its shape exercise. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cs-cli.h"
#include "cs-dataset.h"
#include "cs-presets.h"
#include "cs-train.h"

#define UNSET_DOUBLE (-G_MAXDOUBLE)
#define UNSET_INT    G_MININT

typedef struct
{
  gboolean tty;
  gint64   last_draw;
  gint64   epoch_start;
  int      epochs;
  int      batch_size;
  double   loss_ema;
} Progress;

static gboolean
progress_cb (int      epoch,
             int      batch,
             int      n_batches,
             double   loss,
             gpointer user_data)
{
  Progress *p = user_data;
  gint64 now;

  p->loss_ema = batch == 0 ? loss : 0.98 * p->loss_ema + 0.02 * loss;
  if (!p->tty)
    return TRUE;
  now = g_get_monotonic_time ();
  if (batch == 0)
    p->epoch_start = now;
  if (now - p->last_draw < 100000 && batch + 1 < n_batches)
    return TRUE;
  p->last_draw = now;
  {
    int width = 30, filled = (int) ((double) (batch + 1) / n_batches * width);
    double secs = (now - p->epoch_start) / 1e6;
    double rate = secs > 0 ? (batch + 1) * (double) p->batch_size / secs : 0;
    char bar[64];

    for (int i = 0; i < width; i++)
      bar[i] = i < filled ? '#' : '-';
    bar[width] = '\0';
    printf ("\r  epoch %d/%d [%s] %d/%d  loss %.4f  %.0f samples/s ",
            epoch + 1, p->epochs, bar, batch + 1, n_batches, p->loss_ema, rate);
    fflush (stdout);
  }
  return TRUE;
}

int
cs_cli_train (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = NULL;
  g_autoptr(CsDataset) ds = NULL;
  g_autoptr(CsSession) session = NULL;
  g_autofree char *model = NULL;
  g_autofree char *optimizer = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *dataset = NULL;
  double lr = UNSET_DOUBLE, momentum = UNSET_DOUBLE, weight_decay = UNSET_DOUBLE;
  int epochs = UNSET_INT, batch_size = UNSET_INT, threads = UNSET_INT;
  gint64 seed = G_MININT64;
  int status = CS_EXIT_OK;
  CsHyperParams hp;
  Progress progress = { 0 };
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, "mlp, cnn, lenet5, net, net-mnist, shapes, or a .spec file", "MODEL" },
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
    { NULL }
  };

  context = g_option_context_new ("- train a model as the seed notebook does");
  g_option_context_set_summary (context,
                                "Trains on the training set and prints the test accuracy after every epoch.\n"
                                "Defaults are the seed's: mlp SGD lr 0.01, cnn Adam lr 0.01, lenet5 Adam lr 0.001,\n"
                                "batch 100, 5 epochs.");
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

  spec = cs_spec_for_model (model, &error);
  if (spec == NULL)
    return cs_cli_fail (error);

  ds = cs_dataset_open (data_dir, dataset ? dataset : "mnist", &error);
  if (ds == NULL)
    return cs_cli_fail (error);

  session = cs_session_new (spec, &hp, ds, &error);
  if (session == NULL)
    return cs_cli_fail (error);

  printf ("Training %s on %s: %s lr %g%s, batch %d, %d epoch%s, seed %" G_GUINT64_FORMAT ", %d thread%s, %"
          G_GSIZE_FORMAT " parameters\n",
          model, ds->name, cs_optim_kind_name (hp.optim.kind), hp.optim.lr,
          hp.optim.momentum > 0 ? " with momentum" : "", hp.batch_size, hp.epochs, hp.epochs == 1 ? "" : "s",
          hp.seed, hp.threads, hp.threads == 1 ? "" : "s",
          cs_model_n_params (cs_session_get_model (session)));
  fflush (stdout);

  progress.tty = isatty (STDOUT_FILENO);
  progress.epochs = hp.epochs;
  progress.batch_size = hp.batch_size;

  for (int e = 0; e < hp.epochs; e++)
    {
      CsEpochResult r;

      if (!cs_session_train_epoch (session, progress_cb, &progress, &r, &error))
        {
          if (progress.tty)
            printf ("\n");
          return cs_cli_fail (error);
        }
      if (progress.tty)
        printf ("\r\033[K");
      printf ("Epoch %d: model accuracy %.2f%%  (train loss %.4f, train acc %.2f%%, test loss %.4f, %.1f s, %.0f samples/s)\n",
              r.epoch, r.test_acc, r.train_loss, r.train_acc, r.test_loss, r.seconds, r.samples_per_sec);
      fflush (stdout);
    }
  return CS_EXIT_OK;
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
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, "A preset or a .spec file", "MODEL" },
    { "batch-size", 'b', 0, G_OPTION_ARG_INT, &batch, "Batch size of the shapes (1)", "N" },
    { NULL }
  };

  context = g_option_context_new ("- each layer's output shape, the seed's exercise");
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
