/* SGD and Adam, one loop over the contiguous parameter buffer, exactly as torch.optim updates. */

#define G_LOG_DOMAIN "cs-optim"

#include "config.h"

#include <string.h>

#include <math.h>

#include "base/cs-alloc.h"
#include "nn/cs-optim.h"
#include "base/cs-thread-pool.h"

struct _CsOptim
{
  CsOptimConfig config;
  gsize         n;
  gint64        step;
  float        *m;   /* SGD momentum buffer, or Adam's exp_avg */
  float        *v;   /* Adam's exp_avg_sq */
};

void
cs_optim_config_defaults (CsOptimConfig *config,
                          CsOptimKind    kind)
{
  *config = (CsOptimConfig) {
    .kind = kind,
    .lr = kind == CS_OPTIM_ADAM ? 0.001 : 0.01,
    .momentum = 0.0,
    .weight_decay = 0.0,
    .beta1 = 0.9,
    .beta2 = 0.999,
    .eps = 1e-8,
  };
}

const char *
cs_optim_kind_name (CsOptimKind kind)
{
  return kind == CS_OPTIM_ADAM ? "adam" : "sgd";
}

CsOptim *
cs_optim_new (const CsOptimConfig *config,
              gsize                n_params)
{
  CsOptim *self;

  g_return_val_if_fail (config != NULL, NULL);

  self = g_new0 (CsOptim, 1);
  self->config = *config;
  self->n = n_params;
  /* Only the state the update rule uses: plain SGD keeps none. */
  if (config->kind == CS_OPTIM_ADAM || config->momentum != 0.0)
    self->m = cs_alloc_floats (n_params);
  if (config->kind == CS_OPTIM_ADAM)
    self->v = cs_alloc_floats (n_params);
  return self;
}

void
cs_optim_free (CsOptim *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->m, cs_free_floats);
  g_clear_pointer (&self->v, cs_free_floats);
  g_free (self);
}

#define OPTIM_GRAIN 32768

typedef struct
{
  CsOptim     *self;
  float       *params;
  const float *grads;
  float       *backup;       /* params before the step, or NULL */
  float       *clear;        /* grads, zeroed after the step, or NULL */
  float        lr, mom, wd, b1, b2, one_b1, one_b2, eps, step_size, bc2_sqrt;
} StepJob;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(__SANITIZE_THREAD__)
#define CS_VECTOR_CLONES __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default"), \
                                          optimize ("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define CS_VECTOR_CLONES
#endif

/* The backup copy before the update and the clearing of the gradients after it
 * happen on the chunk while it is in the cache (a pass over memory each
 * saved), outside the blocks whose restrict pointers they would alias. */
static inline void
before_update (StepJob *j,
               gsize    i0,
               gsize    i1)
{
  if (j->backup != NULL)
    memcpy (j->backup + i0, j->params + i0, (i1 - i0) * sizeof (float));
}

static inline void
after_update (StepJob *j,
              gsize    i0,
              gsize    i1)
{
  if (j->clear != NULL)
    memset (j->clear + i0, 0, (i1 - i0) * sizeof (float));
}

CS_VECTOR_CLONES static void
sgd_range (gpointer data,
           gsize    i0,
           gsize    i1)
{
  StepJob *j = data;

  before_update (j, i0, i1);
  {
    float *restrict p = j->params, *restrict m = j->self->m;
    const float *restrict g = j->grads;
    gboolean first = j->self->step == 1;

    /* g += wd * p; buf = momentum * buf + g (buf starts as g); p -= lr * buf */
    if (j->mom == 0.0f)
      for (gsize i = i0; i < i1; i++)
        p[i] -= j->lr * (g[i] + j->wd * p[i]);
    else
      for (gsize i = i0; i < i1; i++)
        {
          float gi = g[i] + j->wd * p[i];
          m[i] = first ? gi : j->mom * m[i] + gi;
          p[i] -= j->lr * m[i];
        }
  }
  after_update (j, i0, i1);
}

CS_VECTOR_CLONES static void
adam_range (gpointer data,
            gsize    i0,
            gsize    i1)
{
  StepJob *j = data;

  before_update (j, i0, i1);
  {
    float *restrict p = j->params, *restrict m = j->self->m, *restrict v = j->self->v;
    const float *restrict g = j->grads;

    for (gsize i = i0; i < i1; i++)
      {
        float gi = g[i] + j->wd * p[i];
        float mi = m[i] * j->b1 + j->one_b1 * gi;
        float vi = v[i] * j->b2 + j->one_b2 * gi * gi;
        float denom = sqrtf (vi) / j->bc2_sqrt + j->eps;

        m[i] = mi;
        v[i] = vi;
        p[i] -= j->step_size * (mi / denom);
      }
  }
  after_update (j, i0, i1);
}

/* One loop over the contiguous parameters, cut into fixed chunks for the pool. */
static void
optim_step (CsOptim     *self,
            float       *params,
            const float *grads,
            float       *backup,
            float       *clear)
{
  const CsOptimConfig *c = &self->config;
  StepJob j = { self, params, grads, backup, clear };

  self->step++;
  j.wd = (float) c->weight_decay;
  if (c->kind == CS_OPTIM_SGD)
    {
      j.lr = (float) c->lr;
      j.mom = (float) c->momentum;
      cs_parallel_for (self->n, OPTIM_GRAIN, sgd_range, &j);
    }
  else
    {
      /* PyTorch's Adam:
       *   g += wd * p
       *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
       *   denom = sqrt(v) / sqrt(1 - b2^t) + eps
       *   p -= lr / (1 - b1^t) * m / denom
       * The (1 - beta) factors are formed in double, as PyTorch forms them from Python floats. */
      double bc1 = 1.0 - pow (c->beta1, (double) self->step);
      double bc2 = 1.0 - pow (c->beta2, (double) self->step);

      j.b1 = (float) c->beta1;
      j.b2 = (float) c->beta2;
      j.eps = (float) c->eps;
      j.one_b1 = (float) (1.0 - c->beta1);
      j.one_b2 = (float) (1.0 - c->beta2);
      j.step_size = (float) (c->lr / bc1);
      j.bc2_sqrt = (float) sqrt (bc2);
      cs_parallel_for (self->n, OPTIM_GRAIN, adam_range, &j);
    }
}

void
cs_optim_step (CsOptim     *self,
               float       *params,
               const float *grads)
{
  optim_step (self, params, grads, NULL, NULL);
}

void
cs_optim_step_consume (CsOptim *self,
                       float   *params,
                       float   *grads,
                       float   *backup)
{
  optim_step (self, params, grads, backup, grads);
}

gint64
cs_optim_get_step (const CsOptim *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->step;
}

void
cs_optim_set_step (CsOptim *self,
                   gint64   step)
{
  g_return_if_fail (self != NULL);

  self->step = step;
}

float *
cs_optim_get_state (CsOptim  *self,
                    float   **second)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (second != NULL)
    *second = self->v;
  return self->m;
}
