/* Training tests: optimizer steps by hand, a whole-model gradient check, and real MNIST training to the seed's accuracy. */

#include "config.h"

#include <math.h>
#include <string.h>

#include "cs-test-mnist.h"
#include "base/cs-alloc.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-model.h"
#include "nn/cs-optim.h"
#include "nn/cs-presets.h"
#include "train/cs-trainer.h"

static void
test_sgd_steps (void)
{
  CsOptimConfig config;
  g_autoptr(CsOptim) opt = NULL;
  float p[2] = { 1.0f, -2.0f };
  const float g[2] = { 0.5f, 0.25f };

  cs_optim_config_defaults (&config, CS_OPTIM_SGD);
  config.lr = 0.1;
  config.momentum = 0.9;
  config.weight_decay = 0.01;
  opt = cs_optim_new (&config, 2);

  /* Step 1: g' = g + 0.01 p = (0.51, 0.23); buf = g'; p -= 0.1 buf -> (0.949, -2.023) */
  cs_optim_step (opt, p, g);
  g_assert_cmpfloat_with_epsilon (p[0], 0.949f, 1e-6);
  g_assert_cmpfloat_with_epsilon (p[1], -2.023f, 1e-6);
  /* Step 2: g' = (0.50949, 0.22977); buf = 0.9 (0.51, 0.23) + g' = (0.96849, 0.43677);
   * p -= 0.1 buf -> (0.852151, -2.066677) */
  cs_optim_step (opt, p, g);
  g_assert_cmpfloat_with_epsilon (p[0], 0.852151f, 1e-6);
  g_assert_cmpfloat_with_epsilon (p[1], -2.066677f, 1e-6);
  g_assert_cmpint (cs_optim_get_step (opt), ==, 2);

  /* Plain SGD: p -= lr g. */
  {
    g_autoptr(CsOptim) plain = NULL;
    float q[1] = { 3.0f };
    const float gq[1] = { 2.0f };

    cs_optim_config_defaults (&config, CS_OPTIM_SGD);
    plain = cs_optim_new (&config, 1);
    cs_optim_step (plain, q, gq);
    g_assert_cmpfloat_with_epsilon (q[0], 3.0f - 0.01f * 2.0f, 1e-7);
  }
}

static void
test_adam_steps (void)
{
  CsOptimConfig config;
  g_autoptr(CsOptim) opt = NULL;
  float p[1] = { 1.0f };
  float g1[1] = { 0.5f }, g2[1] = { -0.25f };
  float *v = NULL, *m;

  cs_optim_config_defaults (&config, CS_OPTIM_ADAM);
  config.lr = 0.1;
  opt = cs_optim_new (&config, 1);

  /* Step 1: m = 0.05, v = 0.00025; the bias corrections make the step exactly lr:
   * p = 1 - (0.1 / 0.1) * 0.05 / (sqrt(0.00025) / sqrt(0.001) + 1e-8) = 0.900000002 */
  cs_optim_step (opt, p, g1);
  g_assert_cmpfloat_with_epsilon (p[0], 0.9f, 1e-6);
  /* Step 2 with g = -0.25: m = 0.02, v = 0.00031225, bc1 = 0.19, bc2 = 0.001999;
   * p = 0.9 - (0.1 / 0.19) * 0.02 / (sqrt(0.00031225) / sqrt(0.001999) + 1e-8) = 0.873366299 */
  cs_optim_step (opt, p, g2);
  g_assert_cmpfloat_with_epsilon (p[0], 0.8733663f, 2e-6);
  m = cs_optim_get_state (opt, &v);
  g_assert_cmpfloat_with_epsilon (m[0], 0.02f, 1e-7);
  g_assert_cmpfloat_with_epsilon (v[0], 0.00031225f, 1e-9);
}

/* The one-pass step used in training gives the same parameters and moments as
 * the plain step, leaves the old parameters in backup and the gradients zero;
 * for both optimizers, over several chunks of the pool. */
static void
test_step_consume (void)
{
  const gsize n = 100003;

  for (int kind = 0; kind < 2; kind++)
    {
      CsOptimConfig config;
      g_autoptr(CsOptim) a = NULL;
      g_autoptr(CsOptim) b = NULL;
      float *pa = cs_alloc_floats (n), *pb = cs_alloc_floats (n), *ga = cs_alloc_floats (n);
      float *gb = cs_alloc_floats (n), *backup = cs_alloc_floats (n), *ma, *mb, *va = NULL, *vb = NULL;

      cs_optim_config_defaults (&config, kind == 0 ? CS_OPTIM_SGD : CS_OPTIM_ADAM);
      config.momentum = kind == 0 ? 0.9 : 0.0;
      config.weight_decay = 0.001;
      a = cs_optim_new (&config, n);
      b = cs_optim_new (&config, n);
      for (int step = 0; step < 3; step++)
        {
          for (gsize i = 0; i < n; i++)
            {
              if (step == 0)
                pa[i] = pb[i] = (float) sin ((double) i);
              ga[i] = gb[i] = (float) cos ((double) (i * (step + 1)));
            }
          cs_optim_step (a, pa, ga);
          {
            g_autofree float *before = g_memdup2 (pb, n * sizeof (float));
            cs_optim_step_consume (b, pb, gb, backup);
            g_assert_cmpmem (backup, n * sizeof (float), before, n * sizeof (float));
          }
          g_assert_cmpmem (pa, n * sizeof (float), pb, n * sizeof (float));
          for (gsize i = 0; i < n; i++)
            g_assert_cmpfloat (gb[i], ==, 0.0f);
        }
      ma = cs_optim_get_state (a, &va);
      mb = cs_optim_get_state (b, &vb);
      g_assert_cmpmem (ma, n * sizeof (float), mb, n * sizeof (float));
      if (va != NULL)
        g_assert_cmpmem (va, n * sizeof (float), vb, n * sizeof (float));
      cs_free_floats (pa); cs_free_floats (pb); cs_free_floats (ga);
      cs_free_floats (gb); cs_free_floats (backup);
    }
}

/* ---- a whole model, every layer kind, checked by central differences ---- */

static const char all_layers_spec[] =
  "input 1x6x6\n"
  "c1 = nn.Conv2d(1, 2, 3, padding=1)\n"
  "t = nn.Tanh()\n"
  "p = nn.MaxPool2d(2)\n"                       /* 2x3x3 */
  "c2 = nn.Conv2d(2, 3, 2)\n"                   /* 3x2x2 */
  "s = nn.Sigmoid()\n"
  "a = nn.AvgPool2d(2, stride=1)\n"             /* 3x1x1 */
  "f = nn.Flatten()\n"
  "l1 = nn.Linear(3, 12)\n"
  "r = nn.ReLU()\n"
  "d = nn.Dropout(0.5)\n"
  "l2 = nn.Linear(12, 10)\n"
  "ls = nn.LogSoftmax(dim=1)\n";

typedef struct
{
  CsModel *model;
  float   *x;
  gint32  *y;
  int      B;
} ModelCase;

static double
model_loss (ModelCase *c)
{
  /* Evaluation mode: dropout is the identity, so the loss is deterministic. */
  cs_model_forward (c->model, c->x, c->B, FALSE, NULL);
  return cs_model_loss (c->model, c->y, c->B, FALSE);
}

static void
test_model_gradcheck (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_parse (all_layers_spec, &error);
  g_autoptr(CsModel) model = NULL;
  ModelCase c = { 0 };
  CsRng rng;
  float *params, *analytic;
  gsize n;

  g_assert_no_error (error);
  model = cs_model_new (spec);
  g_assert_cmpint (cs_model_get_loss (model), ==, CS_LOSS_NLL);
  cs_rng_seed (&rng, 5, 0);
  cs_model_init_params (model, &rng);
  c.model = model;
  c.B = 3;
  c.x = cs_alloc_floats (3 * 36);
  c.y = g_new (gint32, 3);
  for (int i = 0; i < 3 * 36; i++)
    c.x[i] = cs_rng_uniform (&rng);
  c.y[0] = 1, c.y[1] = 7, c.y[2] = 4;

  n = cs_model_n_params (model);
  g_assert_cmpuint (n, ==, (2 * 9 + 2) + (3 * 2 * 4 + 3) + (3 * 12 + 12) + (12 * 10 + 10));
  params = cs_model_params (model);

  cs_model_forward (model, c.x, c.B, FALSE, NULL);
  cs_model_loss (model, c.y, c.B, TRUE);
  analytic = g_memdup2 (cs_model_grads (model), n * sizeof (float));

  for (gsize i = 0; i < n; i++)
    {
      float saved = params[i];
      double up, down, numeric;
      const double h = 5e-3;

      params[i] = saved + (float) h;
      up = model_loss (&c);
      params[i] = saved - (float) h;
      down = model_loss (&c);
      params[i] = saved;
      numeric = (up - down) / (2 * h);
      if (fabs (numeric - analytic[i]) > 2e-3 + 2e-2 * fabs (numeric))
        g_error ("model parameter %" G_GSIZE_FORMAT ": analytic %.6g, numeric %.6g", i, analytic[i], numeric);
    }

  /* Tensors carry PyTorch's state_dict names and shapes. */
  g_assert_cmpuint (cs_model_n_tensors (model), ==, 8);
  g_assert_cmpstr (cs_model_tensor (model, 0)->name, ==, "c1.weight");
  g_assert_cmpint (cs_model_tensor (model, 0)->shape[3], ==, 3);
  g_assert_cmpstr (cs_model_tensor (model, 7)->name, ==, "l2.bias");
  g_assert_nonnull (cs_model_find_tensor (model, "l1.weight"));

  g_free (analytic);
  cs_free_floats (c.x);
  g_free (c.y);
}

/* PyTorch's default initialisation: within +-1/sqrt(fan_in), spread over it. */
static void
test_init (void)
{
  g_autoptr(CsSpec) spec = cs_spec_for_model ("lenet5", NULL);
  g_autoptr(CsModel) model = cs_model_new (spec);
  const CsParam *w = cs_model_find_tensor (model, "conv2.weight");
  const CsParam *b = cs_model_find_tensor (model, "fc1.bias");
  float *p;
  float bound = 1.0f / sqrtf (6 * 25), lo = 1, hi = -1;
  CsRng rng;

  cs_rng_seed (&rng, 1, 1);
  cs_model_init_params (model, &rng);
  p = cs_model_params (model) + w->offset;
  for (gsize i = 0; i < w->numel; i++)
    {
      g_assert_cmpfloat (fabsf (p[i]), <=, bound);
      lo = MIN (lo, p[i]);
      hi = MAX (hi, p[i]);
    }
  g_assert_cmpfloat (lo, <, -0.9f * bound);
  g_assert_cmpfloat (hi, >, 0.9f * bound);
  p = cs_model_params (model) + b->offset;
  for (gsize i = 0; i < b->numel; i++)
    g_assert_cmpfloat (fabsf (p[i]), <=, 1.0f / sqrtf (120));
}

/* ---- real training on MNIST ---- */

static CsDataset *mnist;

static double
train_epochs (const char    *model,
              int            epochs,
              CsEpochResult *last)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model (model, &error);
  g_autoptr(CsTrainer) trainer = NULL;
  CsHyperParams hp;

  g_assert_no_error (error);
  cs_hyper_params_for_preset (&hp, model);
  hp.epochs = epochs;
  hp.threads = 2;
  trainer = cs_trainer_new (spec, &hp, mnist, &error);
  g_assert_no_error (error);
  for (int e = 0; e < epochs; e++)
    {
      cs_trainer_train_epoch (trainer, NULL, NULL, last, &error);
      g_assert_no_error (error);
      if (g_test_verbose ())
        g_printerr ("  %s epoch %d: test accuracy %.2f%%, %.0f samples/s\n",
                    model, e, last->test_acc, last->samples_per_sec);
    }
  return last->test_acc;
}

static void
test_lenet5_one_epoch (void)
{
  CsEpochResult r;
  guint total = 0;
  double acc = train_epochs ("lenet5", 1, &r);

  g_test_message ("LeNet-5, 1 epoch: %.2f%%", acc);
  g_assert_cmpfloat (acc, >=, 95.0);
  /* The confusion matrix accounts for every test image, and its diagonal is the accuracy. */
  for (int i = 0; i < CS_N_CLASSES; i++)
    for (int j = 0; j < CS_N_CLASSES; j++)
      total += r.confusion[i][j];
  g_assert_cmpuint (total, ==, 10000);
  g_assert_cmpfloat (r.train_loss, <, 1.0);
  g_assert_cmpfloat (r.test_loss, <, 0.25);
}

static void
test_mlp_one_epoch (void)
{
  CsEpochResult r;
  double acc = train_epochs ("mlp", 1, &r);

  g_test_message ("MLP, 1 epoch: %.2f%%", acc);
  g_assert_cmpfloat (acc, >=, 84.0);
}

typedef struct
{
  int stop_after;
} StopData;

static gboolean
stop_cb (int      epoch,
         int      batch,
         int      n_batches,
         double   loss,
         gpointer user_data)
{
  StopData *d = user_data;
  return batch + 1 < d->stop_after;
}

static float *
train_some_batches (const char *model,
                    guint64     seed,
                    int         threads,
                    int         batches,
                    gsize      *n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model (model, NULL);
  g_autoptr(CsTrainer) trainer = NULL;
  CsHyperParams hp;
  CsEpochResult r;
  StopData stop = { batches };

  cs_hyper_params_for_preset (&hp, model);
  hp.seed = seed;
  hp.threads = threads;
  trainer = cs_trainer_new (spec, &hp, mnist, &error);
  g_assert_no_error (error);
  g_assert_false (cs_trainer_train_epoch (trainer, stop_cb, &stop, &r, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  *n = cs_model_n_params (cs_trainer_get_model (trainer));
  return g_memdup2 (cs_model_params (cs_trainer_get_model (trainer)), *n * sizeof (float));
}

/* Same seed: the same weights, bit for bit, with 1, 2 or 3 threads; another seed differs. */
static void
test_deterministic (void)
{
  gsize n1, n2, n3, n4;
  g_autofree float *a = train_some_batches ("cnn", 7, 2, 20, &n1);
  g_autofree float *b = train_some_batches ("cnn", 7, 1, 20, &n2);
  g_autofree float *c = train_some_batches ("cnn", 8, 2, 20, &n3);
  g_autofree float *d = train_some_batches ("cnn", 7, 3, 20, &n4);

  g_assert_cmpuint (n1, ==, n2);
  g_assert_cmpmem (a, n1 * sizeof (float), b, n2 * sizeof (float));
  g_assert_cmpmem (a, n1 * sizeof (float), d, n4 * sizeof (float));
  g_assert_true (memcmp (a, c, n1 * sizeof (float)) != 0);
}

static void
test_divergence (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model ("mlp", NULL);
  g_autoptr(CsTrainer) trainer = NULL;
  CsHyperParams hp;
  CsEpochResult r;
  float *params;

  cs_hyper_params_for_preset (&hp, "mlp");
  hp.optim.lr = 1e3;
  hp.threads = 2;
  trainer = cs_trainer_new (spec, &hp, mnist, &error);
  g_assert_no_error (error);
  g_assert_false (cs_trainer_train_epoch (trainer, NULL, NULL, &r, &error));
  g_assert_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_DIVERGED);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "loss became ") || g_str_has_prefix (error->message, "loss exploded to "));
  g_assert_nonnull (strstr (error->message, "at epoch 0, batch "));
  g_assert_nonnull (strstr (error->message, "(lr 1000 is likely too high)"));
  /* The last good weights are kept: all finite. */
  params = cs_model_params (cs_trainer_get_model (trainer));
  for (gsize i = 0; i < cs_model_n_params (cs_trainer_get_model (trainer)); i++)
    g_assert_true (isfinite (params[i]));
}

static void
test_bad_setup (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_parse ("input 3x32x32\nflat = nn.Flatten()\nfc = nn.Linear(3072, 10)\n", NULL);
  g_autoptr(CsSpec) two = cs_spec_parse ("input 1x28x28\nflat = nn.Flatten()\nfc = nn.Linear(784, 2)\n", NULL);
  g_autoptr(CsSpec) lenet = cs_spec_for_model ("lenet5", NULL);
  CsTrainer *trainer;
  CsHyperParams hp;

  cs_hyper_params_for_preset (&hp, "lenet5");
  trainer = cs_trainer_new (spec, &hp, mnist, &error);
  g_assert_null (trainer);
  g_assert_cmpstr (error->message, ==, "the model expects 3x32x32 inputs but the MNIST images are 1x28x28");
  g_clear_error (&error);

  trainer = cs_trainer_new (two, &hp, mnist, &error);
  g_assert_null (trainer);
  g_assert_nonnull (strstr (error->message, "the model has 2 outputs but MNIST has 10 classes"));
  g_clear_error (&error);

  hp.batch_size = 0;
  trainer = cs_trainer_new (lenet, &hp, mnist, &error);
  g_assert_null (trainer);
  g_assert_nonnull (strstr (error->message, "the batch size must be from 1 to the 60000 training images, not 0"));
  g_clear_error (&error);

  cs_hyper_params_for_preset (&hp, "lenet5");
  hp.optim.lr = NAN;
  g_assert_false (cs_hyper_params_validate (&hp, 60000, &error));
  g_assert_nonnull (strstr (error->message, "the learning rate must be a positive number, not nan"));
  g_clear_error (&error);
  hp.optim.lr = 0.1;
  hp.epochs = 0;
  g_assert_false (cs_hyper_params_validate (&hp, 60000, &error));
  g_clear_error (&error);
  hp.epochs = 1;
  hp.threads = 0;
  g_assert_false (cs_hyper_params_validate (&hp, 60000, &error));
  g_assert_nonnull (strstr (error->message, "threads must be from 1"));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CsThreadPool) pool = NULL;
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  pool = cs_thread_pool_new (2);
  cs_thread_pool_set_current (pool);

  mnist = cs_test_open_mnist ();

  g_test_add_func ("/core/optim/sgd-steps", test_sgd_steps);
  g_test_add_func ("/core/optim/adam-steps", test_adam_steps);
  g_test_add_func ("/core/optim/step-consume", test_step_consume);
  g_test_add_func ("/core/model/gradcheck-all-layers", test_model_gradcheck);
  g_test_add_func ("/core/model/init", test_init);
  g_test_add_func ("/core/train/bad-setup", test_bad_setup);
  g_test_add_func ("/core/train/deterministic", test_deterministic);
  g_test_add_func ("/core/train/divergence", test_divergence);
  g_test_add_func ("/core/train/mlp-one-epoch", test_mlp_one_epoch);
  g_test_add_func ("/core/train/lenet5-one-epoch", test_lenet5_one_epoch);

  ret = g_test_run ();
  cs_dataset_free (mnist);
  return ret;
}
