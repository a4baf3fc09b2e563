/* SGD and Adam, one loop over the contiguous parameter buffer, exactly as torch.optim updates. */

#define G_LOG_DOMAIN "cs-optim"

#include "config.h"

#include <math.h>

#include "cs-gemm.h"
#include "cs-optim.h"

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
  CsOptim *self = g_new0 (CsOptim, 1);

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

void
cs_optim_step (CsOptim     *self,
               float       *params,
               const float *grads)
{
  const CsOptimConfig *c = &self->config;
  float wd = (float) c->weight_decay;

  self->step++;

  if (c->kind == CS_OPTIM_SGD)
    {
      /* g += wd * p; buf = momentum * buf + g (buf starts as g); p -= lr * buf */
      float lr = (float) c->lr, mom = (float) c->momentum;

      for (gsize i = 0; i < self->n; i++)
        {
          float g = grads[i] + wd * params[i];

          if (mom != 0.0f)
            {
              self->m[i] = self->step == 1 ? g : mom * self->m[i] + g;
              g = self->m[i];
            }
          params[i] -= lr * g;
        }
    }
  else
    {
      /* PyTorch's Adam:
       *   g += wd * p
       *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
       *   denom = sqrt(v) / sqrt(1 - b2^t) + eps
       *   p -= lr / (1 - b1^t) * m / denom */
      /* The (1 - beta) factors are formed in double, as PyTorch forms them from Python floats. */
      float b1 = (float) c->beta1, b2 = (float) c->beta2, eps = (float) c->eps;
      float one_b1 = (float) (1.0 - c->beta1), one_b2 = (float) (1.0 - c->beta2);
      double bc1 = 1.0 - pow (c->beta1, (double) self->step);
      double bc2 = 1.0 - pow (c->beta2, (double) self->step);
      float step_size = (float) (c->lr / bc1);
      float bc2_sqrt = (float) sqrt (bc2);

      for (gsize i = 0; i < self->n; i++)
        {
          float g = grads[i] + wd * params[i];
          float m = self->m[i] * b1 + one_b1 * g;
          float v = self->v[i] * b2 + one_b2 * g * g;
          float denom = sqrtf (v) / bc2_sqrt + eps;

          self->m[i] = m;
          self->v[i] = v;
          params[i] -= step_size * (m / denom);
        }
    }
}

gint64
cs_optim_get_step (const CsOptim *self)
{
  return self->step;
}

void
cs_optim_set_step (CsOptim *self,
                   gint64   step)
{
  self->step = step;
}

float *
cs_optim_get_state (CsOptim  *self,
                    float   **second)
{
  if (second != NULL)
    *second = self->v;
  return self->m;
}
