/* nn/: optimizers stepped by hand against PyTorch's update rules, a
 * whole-model gradient check, initialisation, and occlusion maps. */

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-model.h"
#include "nn/cs-occlusion.h"
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
  gboolean training;
  CsRng    rng;
} ModelCase;

static double
model_loss (ModelCase *c)
{
  /* Evaluation mode: dropout is the identity, so the loss is deterministic.
   * Training mode is checked on models without dropout (BatchNorm's batch statistics). */
  cs_model_forward (c->model, c->x, c->B, c->training, &c->rng);
  return cs_model_loss (c->model, c->y, c->B, FALSE);
}

/* Every parameter's gradient against central differences, for a batch of 3
 * uniform inputs of @spec. Returns the model for more checks. */
static CsModel *
gradcheck_spec_mode (const char *text,
                     int         input_numel,
                     gboolean    training)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_parse (text, &error);
  CsModel *model;
  ModelCase c = { 0 };
  CsRng rng;
  float *params, *analytic;
  gsize n;

  g_assert_no_error (error);
  model = cs_model_new (spec);
  cs_rng_seed (&rng, 5, 0);
  cs_model_init_params (model, &rng);
  c.model = model;
  c.B = 3;
  c.training = training;
  cs_rng_seed (&c.rng, 9, 0);
  c.x = cs_alloc_floats (3 * input_numel);
  c.y = g_new (gint32, 3);
  for (int i = 0; i < 3 * input_numel; i++)
    c.x[i] = cs_rng_uniform (&rng);
  c.y[0] = 1, c.y[1] = 7, c.y[2] = 4;

  n = cs_model_n_params (model);
  params = cs_model_params (model);
  cs_model_forward (model, c.x, c.B, training, &c.rng);
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
  g_free (analytic);
  cs_free_floats (c.x);
  g_free (c.y);
  return model;
}

static CsModel *
gradcheck_spec (const char *text,
                int         input_numel)
{
  return gradcheck_spec_mode (text, input_numel, FALSE);
}

static void
test_model_gradcheck (void)
{
  g_autoptr(CsModel) model = gradcheck_spec (all_layers_spec, 36);

  g_assert_cmpint (cs_model_get_loss (model), ==, CS_LOSS_NLL);
  g_assert_cmpuint (cs_model_n_params (model), ==, (2 * 9 + 2) + (3 * 2 * 4 + 3) + (3 * 12 + 12) + (12 * 10 + 10));

  /* Tensors carry PyTorch's state_dict names and shapes. */
  g_assert_cmpuint (cs_model_n_tensors (model), ==, 8);
  g_assert_cmpstr (cs_model_tensor (model, 0)->name, ==, "c1.weight");
  g_assert_cmpint (cs_model_tensor (model, 0)->shape[3], ==, 3);
  g_assert_cmpstr (cs_model_tensor (model, 7)->name, ==, "l2.bias");
  g_assert_nonnull (cs_model_find_tensor (model, "l1.weight"));
}

/* A graph: a residual sum (t1 read three times), a convolution called twice
 * with its weights, a 1x1 projection of the model's input, a concatenation,
 * and a view (Flatten) read twice. Backward must add up every path. */
static const char graph_spec[] =
  "input 2x6x6\n"
  "c1 = nn.Conv2d(2, 4, 3, padding=1)\n"
  "t1 = nn.Tanh()\n"
  "c2 = nn.Conv2d(4, 4, 3, padding=1)\n"
  "s = c2 + t1\n"
  "c2_2 = c2(s)\n"
  "proj = nn.Conv2d(2, 4, 1, stride=1)(input)\n"
  "j = torch.cat((c2_2, proj, t1), 1)\n"
  "p = nn.AvgPool2d(2)\n"
  "f = nn.Flatten()\n"
  "g = F.sigmoid(f)\n"
  "z = torch.add(g, f)\n"
  "l1 = nn.Linear(108, 10)\n";

static void
test_model_gradcheck_graph (void)
{
  for (int training = 0; training < 2; training++)
    {
      g_autoptr(CsModel) model = gradcheck_spec_mode (graph_spec, 72, training);

      /* c2's weights once, for both its calls */
      g_assert_cmpuint (cs_model_n_params (model), ==, (2 * 4 * 9 + 4) + (4 * 4 * 9 + 4) + (2 * 4 + 4) + (108 * 10 + 10));
      g_assert_cmpuint (cs_model_n_tensors (model), ==, 8);
      g_assert_null (cs_model_find_tensor (model, "c2_2.weight"));
    }
  /* The same model twice in a row gives the same gradients: nothing is left over between passes. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(CsSpec) spec = cs_spec_parse (graph_spec, &error);
    g_autoptr(CsModel) m = cs_model_new (spec);
    float x[2 * 72];
    gint32 y[2] = { 3, 8 };
    g_autofree float *first = NULL;
    CsRng rng;

    cs_rng_seed (&rng, 3, 0);
    cs_model_init_params (m, &rng);
    for (int i = 0; i < 2 * 72; i++)
      x[i] = cs_rng_uniform (&rng);
    cs_model_forward (m, x, 2, FALSE, NULL);
    cs_model_loss (m, y, 2, TRUE);
    first = g_memdup2 (cs_model_grads (m), cs_model_n_params (m) * sizeof (float));
    cs_model_forward (m, x, 2, FALSE, NULL);
    cs_model_loss (m, y, 2, TRUE);
    g_assert_cmpmem (first, cs_model_n_params (m) * sizeof (float), cs_model_grads (m), cs_model_n_params (m) * sizeof (float));
  }
}

/* AdaptiveAvgPool2d to 2x2 and to 1x1 (a ResNet's head), Dropout2d (the
 * identity in evaluation), Softmax before the loss. */
static void
test_model_gradcheck_pool_softmax (void)
{
  g_autoptr(CsModel) model = gradcheck_spec ("input 1x7x7\n"
                                             "c = nn.Conv2d(1, 4, 3, padding=1)\n"
                                             "t = nn.Tanh()\n"
                                             "d = nn.Dropout2d(0.3)\n"
                                             "a = nn.AdaptiveAvgPool2d((2, 2))\n"
                                             "c2 = nn.Conv2d(4, 6, 1)\n"
                                             "F.adaptive_avg_pool2d(x, 1)\n"
                                             "x = torch.flatten(x, 1)\n"
                                             "fc = nn.Linear(6, 10)\n"
                                             "s = nn.Softmax(dim=1)\n", 49);

  g_assert_cmpuint (cs_model_n_params (model), ==, (4 * 9 + 4) + (6 * 4 + 6) + (6 * 10 + 10));
}

/* BatchNorm2d after a convolution without bias, BatchNorm1d (affine and
 * not), in training (batch statistics) and in evaluation (running ones). */
static const char batchnorm_spec[] =
  "input 2x5x5\n"
  "features = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3), nn.Tanh(),\n"
  "                         nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4, momentum=None))\n"
  "f = nn.Flatten()\n"
  "l1 = nn.Linear(36, 8)\n"
  "bn = nn.BatchNorm1d(8, affine=False)\n"
  "t = nn.Tanh()\n"
  "l2 = nn.Linear(8, 10)\n";

static void
test_model_gradcheck_batchnorm (void)
{
  for (int training = 0; training < 2; training++)
    {
      g_autoptr(CsModel) model = gradcheck_spec_mode (batchnorm_spec, 50, training);
      const CsParam *nbt = cs_model_find_tensor (model, "features.4.num_batches_tracked");
      const CsParam *rv = cs_model_find_tensor (model, "features.1.running_var");
      const CsParam *w = cs_model_find_tensor (model, "features.1.weight");

      /* Trainable: the convolutions, two affine BatchNorms, the Linears; the
       * running statistics are state, after them and outside the gradients. */
      g_assert_cmpuint (cs_model_n_params (model), ==, (2 * 3 * 9) + (2 * 3) + (3 * 4 * 9 + 4) + (2 * 4) +
                                                        (36 * 8 + 8) + (8 * 10 + 10));
      g_assert_cmpuint (cs_model_n_values (model), ==, cs_model_n_params (model) + 2 * (3 + 4 + 8) + 3);
      g_assert_null (cs_model_find_tensor (model, "features.0.bias"));
      g_assert_nonnull (w);
      g_assert_null (cs_model_find_tensor (model, "bn.weight"));
      g_assert_nonnull (cs_model_find_tensor (model, "bn.running_mean"));
      g_assert_nonnull (nbt);
      g_assert_true (nbt->flags & CS_PARAM_INT64);
      g_assert_cmpint (nbt->ndim, ==, 0);
      g_assert_true (rv->flags & CS_PARAM_STATE);
      g_assert_false (w->flags & CS_PARAM_STATE);
      g_assert_cmpuint (rv->offset, >=, cs_model_n_params (model));
      /* PyTorch's initial values; training counted every forward pass (1 + 2 per parameter). */
      g_assert_cmpfloat (cs_model_params (model)[w->offset], ==, 1.0f);
      if (training)
        g_assert_cmpfloat (cs_model_params (model)[nbt->offset], ==, (float) (1 + 2 * cs_model_n_params (model)));
      else
        {
          g_assert_cmpfloat (cs_model_params (model)[nbt->offset], ==, 0.0f);
          g_assert_cmpfloat (cs_model_params (model)[rv->offset], ==, 1.0f);
        }
    }
}

/* A ReLU that alone reads a BatchNorm or a sum of two is computed in their
 * pass while training, and a BatchNorm that alone feeds a sum reads the
 * sum's gradient where it is. The same model with an Identity (a view)
 * before each ReLU and the sum fuses nothing, and its layers are each checked against central
 * differences elsewhere: both must give the same loss and gradients bit for
 * bit. (Central differences on the fused model itself cross ReLU's kink:
 * BatchNorm centres its outputs on it.) */
static const char fused_spec[] =
  "input 2x6x6\n"
  "c1 = nn.Conv2d(2, 4, 3, padding=1, bias=False)\n"
  "bn1 = nn.BatchNorm2d(4)\n"
  "%s"
  "r1 = nn.ReLU()\n"
  "c2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)\n"
  "bn2 = nn.BatchNorm2d(4)\n"
  "%s"
  "s = %s + r1\n"
  "%s"
  "r2 = F.relu(%s)\n"
  "f = nn.Flatten()\n"
  "l1 = nn.Linear(144, 10)\n";

static CsModel *
fused_model (gboolean fuse)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf (fused_spec, fuse ? "" : "i1 = nn.Identity()\n",
                                           fuse ? "" : "i3 = nn.Identity()(bn2)\n", fuse ? "bn2" : "i3",
                                           fuse ? "" : "i2 = nn.Identity()(s)\n", fuse ? "s" : "i2");
  g_autoptr(CsSpec) spec = cs_spec_parse (text, &error);
  CsModel *m;
  CsRng rng;

  g_assert_no_error (error);
  m = cs_model_new (spec);
  cs_rng_seed (&rng, 11, 0);
  cs_model_init_params (m, &rng);
  return m;
}

static void
test_model_relu_fused (void)
{
  g_autoptr(CsModel) fused = fused_model (TRUE);
  g_autoptr(CsModel) plain = fused_model (FALSE);
  float x[4 * 72];
  gint32 y[4] = { 3, 8, 0, 5 };
  double loss_fused, loss_plain;
  gsize n = cs_model_n_params (fused);
  int bn1 = 1, sum = 5;
  gboolean negative = FALSE;
  CsRng rng, r1, r2;

  g_assert_cmpuint (n, ==, cs_model_n_params (plain));
  cs_rng_seed (&rng, 4, 0);
  for (int i = 0; i < 4 * 72; i++)
    x[i] = 2 * cs_rng_uniform (&rng) - 1;
  cs_rng_seed (&r1, 1, 0);
  cs_rng_seed (&r2, 1, 0);
  cs_model_forward (fused, x, 4, TRUE, &r1);
  cs_model_forward (plain, x, 4, TRUE, &r2);
  /* Fused: BatchNorm's and the sum's outputs are the ReLUs'. */
  g_assert_cmpstr (cs_spec_layer (cs_model_get_spec (fused), bn1)->name, ==, "bn1");
  g_assert_cmpstr (cs_spec_layer (cs_model_get_spec (fused), sum)->name, ==, "s");
  for (int i = 0; i < 4 * 144; i++)
    {
      g_assert_cmpfloat (cs_model_layer_output (fused, bn1)[i], >=, 0.0f);
      g_assert_cmpfloat (cs_model_layer_output (fused, sum)[i], >=, 0.0f);
      negative |= cs_model_layer_output (plain, bn1)[i] < 0.0f;
    }
  g_assert_true (negative);
  loss_fused = cs_model_loss (fused, y, 4, TRUE);
  loss_plain = cs_model_loss (plain, y, 4, TRUE);
  g_assert_cmpfloat (loss_fused, ==, loss_plain);
  g_assert_cmpmem (cs_model_grads (fused), n * sizeof (float), cs_model_grads (plain), n * sizeof (float));

  /* Evaluation keeps every layer's own output. */
  cs_model_forward (fused, x, 4, FALSE, NULL);
  negative = FALSE;
  for (int i = 0; i < 4 * 144; i++)
    negative |= cs_model_layer_output (fused, bn1)[i] < 0.0f;
  g_assert_true (negative);

}

/* The activations that go back through their input, modules and functions,
 * and Identity (a view) between two of them. */
static void
test_model_gradcheck_activations (void)
{
  g_autoptr(CsModel) model = gradcheck_spec ("input 1x5x5\n"
                                             "c = nn.Conv2d(1, 3, 3, padding=1)\n"
                                             "lk = nn.LeakyReLU(0.2)\n"
                                             "e = nn.ELU(alpha=0.5)\n"
                                             "id = nn.Identity()\n"
                                             "f = nn.Flatten()\n"
                                             "l1 = nn.Linear(75, 8)\n"
                                             "g = nn.GELU()\n"
                                             "F.silu(x)\n"
                                             "l2 = nn.Linear(8, 12)\n"
                                             "F.gelu(x, approximate='tanh')\n"
                                             "l3 = nn.Linear(12, 10)\n", 25);

  g_assert_cmpint (cs_model_get_loss (model), ==, CS_LOSS_CROSS_ENTROPY);
  g_assert_cmpuint (cs_model_n_params (model), ==, (3 * 9 + 3) + (75 * 8 + 8) + (8 * 12 + 12) + (12 * 10 + 10));
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

/* Per-layer timing: on, a pass adds to every computing layer's sums; off
 * keeps them; on again starts from zero. */
static void
test_layer_timing (void)
{
  g_autoptr(CsSpec) spec = cs_spec_for_model ("lenet5", NULL);
  g_autoptr(CsModel) model = cs_model_new (spec);
  guint n = spec->layers->len, conv = G_MAXUINT;
  g_autofree float *x = g_new0 (float, 100 * 784);
  gint32 y[100] = { 0 };
  double f, b, total = 0;
  CsRng rng;

  for (guint i = 0; i < n && conv == G_MAXUINT; i++)
    if (((CsLayerSpec *) g_ptr_array_index (spec->layers, i))->kind == CS_LAYER_CONV2D)
      conv = i;
  g_assert_cmpuint (conv, <, n);
  cs_rng_seed (&rng, 1, 1);
  cs_model_init_params (model, &rng);
  for (guint i = 0; i < 784 * 100; i++)
    x[i] = (float) (i % 7) / 7.0f;

  /* Off (the default): nothing is counted. */
  cs_model_forward (model, x, 100, TRUE, &rng);
  cs_model_loss (model, y, 100, TRUE);
  cs_model_layer_time (model, conv, &f, &b);
  g_assert_cmpfloat (f, ==, 0);
  g_assert_cmpfloat (b, ==, 0);

  cs_model_set_timing (model, TRUE);
  for (int rep = 0; rep < 3; rep++)
    {
      cs_model_forward (model, x, 100, TRUE, &rng);
      cs_model_loss (model, y, 100, TRUE);
    }
  cs_model_set_timing (model, FALSE);
  for (guint i = 0; i < n; i++)
    {
      cs_model_layer_time (model, i, &f, &b);
      g_assert_cmpfloat (f, >=, 0);
      g_assert_cmpfloat (b, >=, 0);
      total += f + b;
    }
  /* Three passes of LeNet-5 on 100 images take far more than a microsecond. */
  cs_model_layer_time (model, conv, &f, &b);
  g_assert_cmpfloat (f, >, 0);
  g_assert_cmpfloat (b, >, 0);

  /* Off keeps the sums through more passes; on again starts from zero. */
  cs_model_forward (model, x, 100, TRUE, &rng);
  cs_model_loss (model, y, 100, TRUE);
  {
    double sum = 0;
    for (guint i = 0; i < n; i++)
      {
        cs_model_layer_time (model, i, &f, &b);
        sum += f + b;
      }
    g_assert_cmpfloat (sum, ==, total);
  }
  cs_model_set_timing (model, TRUE);
  for (guint i = 0; i < n; i++)
    {
      cs_model_layer_time (model, i, &f, &b);
      g_assert_cmpfloat (f + b, ==, 0);
    }
}

/* ---- real training on MNIST ---- */

/* A model that reads class 0 off the top-left 2x2 pixels of a 1x8x8 input:
 * only the patches that cover them move its answer, by how much they cover. */
static void
test_occlusion (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_parse ("input 1x8x8\nx.view(-1, 64)\nfc = nn.Linear(64, 2)\n", &error);
  g_autoptr(CsModel) model = NULL;
  g_autofree float *map = NULL;
  const CsParam *w, *b;
  float input[64], *params;
  int rows = 0, cols = 0;

  g_assert_no_error (error);
  model = cs_model_new (spec);
  params = cs_model_params (model);
  w = cs_model_tensor (model, 0);
  b = cs_model_tensor (model, 1);
  memset (params + w->offset, 0, 2 * 64 * sizeof (float));
  memset (params + b->offset, 0, 2 * sizeof (float));
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 2; x++)
      params[w->offset + y * 8 + x] = 1.0f;   /* class 0's weights */
  for (int i = 0; i < 64; i++)
    input[i] = 1.0f;

  map = cs_occlusion_map (model, input, 0, 2, 2, 0.0f, &rows, &cols);
  g_assert_nonnull (map);
  g_assert_cmpint (rows, ==, 4);
  g_assert_cmpint (cols, ==, 4);
  /* softmax (4, 0) falls to softmax (0, 0) when the patch covers all four */
  g_assert_cmpfloat_with_epsilon (map[0], 1 / (1 + expf (-4)) - 0.5f, 1e-5);
  for (int i = 1; i < rows * cols; i++)
    g_assert_cmpfloat (map[i], ==, 0.0f);
  g_clear_pointer (&map, g_free);

  /* A stride of 1: the patches half over the corner count for less. */
  map = cs_occlusion_map (model, input, 0, 2, 1, 0.0f, &rows, &cols);
  g_assert_cmpint (rows, ==, 7);
  g_assert_cmpfloat (map[1], >, 0.0f);
  g_assert_cmpfloat (map[1], <, map[0]);
  g_assert_cmpfloat (map[2], ==, 0.0f);
  g_clear_pointer (&map, g_free);

  /* What cannot be mapped is refused, not read out of bounds. */
  g_assert_null (cs_occlusion_map (model, input, 2, 2, 2, 0.0f, &rows, &cols));
  g_assert_null (cs_occlusion_map (model, input, 0, 9, 2, 0.0f, &rows, &cols));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CsThreadPool) pool = NULL;

  g_test_init (&argc, &argv, NULL);
  pool = cs_thread_pool_new (2);
  cs_thread_pool_set_current (pool);

  g_test_add_func ("/core/optim/sgd-steps", test_sgd_steps);
  g_test_add_func ("/core/optim/adam-steps", test_adam_steps);
  g_test_add_func ("/core/optim/step-consume", test_step_consume);
  g_test_add_func ("/core/model/gradcheck-all-layers", test_model_gradcheck);
  g_test_add_func ("/core/model/gradcheck-activations", test_model_gradcheck_activations);
  g_test_add_func ("/core/model/gradcheck-batchnorm", test_model_gradcheck_batchnorm);
  g_test_add_func ("/core/model/gradcheck-pool-softmax", test_model_gradcheck_pool_softmax);
  g_test_add_func ("/core/model/gradcheck-graph", test_model_gradcheck_graph);
  g_test_add_func ("/core/model/relu-fused", test_model_relu_fused);
  g_test_add_func ("/core/model/init", test_init);
  g_test_add_func ("/core/model/layer-timing", test_layer_timing);
  g_test_add_func ("/core/model/occlusion", test_occlusion);

  return g_test_run ();
}
