/* A sequential model: parameters and gradients in two contiguous buffers, workspaces sized once per batch capacity. */

#define G_LOG_DOMAIN "cs-model"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "nn/cs-kernels.h"
#include "nn/cs-model.h"

#include "nn/cs-model-private.h"

static CsActivation
activation_of (const CsLayerSpec *s)
{
  switch (s->kind)
    {
    case CS_LAYER_LEAKY_RELU: return CS_ACT_LEAKY_RELU;
    case CS_LAYER_ELU: return CS_ACT_ELU;
    case CS_LAYER_GELU: return s->tanh_approx ? CS_ACT_GELU_TANH : CS_ACT_GELU;
    case CS_LAYER_SILU:
    default: return CS_ACT_SILU;
    }
}

static void
add_tensor_full (CsModel      *self,
                 guint         layer,
                 const char   *layer_name,
                 const char   *suffix,
                 int           ndim,
                 const int    *shape,
                 CsParamFlags  flags)
{
  CsParam p = { 0 };

  p.flags = flags;

  p.name = g_strdup_printf ("%s.%s", layer_name, suffix);
  p.layer = layer;
  p.ndim = ndim;
  p.numel = 1;
  for (int d = 0; d < ndim; d++)
    {
      p.shape[d] = shape[d];
      p.numel *= shape[d];
    }
  p.offset = self->n_values;
  self->n_values += p.numel;
  if (!(flags & CS_PARAM_STATE))
    self->n_params += p.numel;
  g_array_append_val (self->tensors, p);
}

static void
add_tensor (CsModel    *self,
            guint       layer,
            const char *layer_name,
            const char *suffix,
            int         ndim,
            const int  *shape)
{
  add_tensor_full (self, layer, layer_name, suffix, ndim, shape, 0);
}

static void
clear_tensor (gpointer data)
{
  CsParam *p = data;
  g_free (p->name);
}

CsModel *
cs_model_new (const CsSpec *spec)
{
  CsModel *self;
  g_autofree guint *consumers = NULL;

  g_return_val_if_fail (spec != NULL, NULL);

  self = g_new0 (CsModel, 1);
  /* Our own copy: the spec was validated once, re-parsing it cannot fail. */
  self->spec = cs_spec_parse (spec->text, NULL);
  g_assert (self->spec != NULL);
  self->n_layers = cs_spec_n_layers (self->spec);
  self->layers = g_new0 (Layer, self->n_layers);
  self->tensors = g_array_new (FALSE, TRUE, sizeof (CsParam));
  g_array_set_clear_func (self->tensors, clear_tensor);

  for (guint i = 0; i < self->n_layers; i++)
    {
      Layer *L = &self->layers[i];
      const CsLayerSpec *s = cs_spec_layer (self->spec, i);

      L->spec = s;
      L->in_numel = cs_shape_numel (s->in);
      L->out_numel = cs_shape_numel (s->out);
      L->w_off = L->b_off = -1;
      L->rm_off = L->rv_off = L->nbt_off = -1;
      L->in0 = s->inputs[0];
      L->relu_fused = L->relu_of = L->grad_of_sum = -1;
      L->need_dx = FALSE;
      for (guint k = 0; k < s->n_inputs; k++)
        L->need_dx |= cs_model_wants_grad (self, s->inputs[k]);
      L->owner = (s->kind == CS_LAYER_FLATTEN || s->kind == CS_LAYER_IDENTITY)
        ? (L->in0 >= 0 ? self->layers[L->in0].owner : -1) : (int) i;

      L->g = (CsConvGeometry) {
        .C = s->in.c, .H = s->in.h, .W = s->in.w,
        .K = s->kind == CS_LAYER_CONV2D ? s->out_channels : s->in.c,
        .kh = s->kh, .kw = s->kw, .sh = s->sh, .sw = s->sw,
        .ph = s->ph, .pw = s->pw, .dh = s->dh, .dw = s->dw,
        .Ho = s->out.h, .Wo = s->out.w,
        .count_include_pad = s->count_include_pad,
      };

      if (s->shares >= 0)
        {
          /* A module called again: its weights are the first call's. */
          L->w_off = self->layers[s->shares].w_off;
          L->b_off = self->layers[s->shares].b_off;
        }
      else if (s->kind == CS_LAYER_LINEAR)
        {
          int ws[2] = { s->out_features, s->in_features };
          L->w_off = self->n_params;
          add_tensor (self, i, s->name, "weight", 2, ws);
          if (s->bias)
            {
              L->b_off = self->n_params;
              add_tensor (self, i, s->name, "bias", 1, &s->out_features);
            }
        }
      else if (s->kind == CS_LAYER_CONV2D)
        {
          int ws[4] = { s->out_channels, s->in_channels, s->kh, s->kw };
          L->w_off = self->n_params;
          add_tensor (self, i, s->name, "weight", 4, ws);
          if (s->bias)
            {
              L->b_off = self->n_params;
              add_tensor (self, i, s->name, "bias", 1, &s->out_channels);
            }
        }
      else if ((s->kind == CS_LAYER_BATCHNORM1D || s->kind == CS_LAYER_BATCHNORM2D) && s->bias)
        {
          L->w_off = self->n_params;
          add_tensor (self, i, s->name, "weight", 1, &s->in_features);
          L->b_off = self->n_params;
          add_tensor (self, i, s->name, "bias", 1, &s->in_features);
        }
    }

  /* The state after every trainable value, so that gradients and the
   * optimizer cover a prefix of the buffer. */
  for (guint i = 0; i < self->n_layers; i++)
    {
      Layer *L = &self->layers[i];
      const CsLayerSpec *s = L->spec;

      if ((s->kind != CS_LAYER_BATCHNORM1D && s->kind != CS_LAYER_BATCHNORM2D) || !s->track_running_stats)
        continue;
      if (s->shares >= 0)
        {
          L->rm_off = self->layers[s->shares].rm_off;
          L->rv_off = self->layers[s->shares].rv_off;
          L->nbt_off = self->layers[s->shares].nbt_off;
          continue;
        }
      L->rm_off = self->n_values;
      add_tensor_full (self, i, s->name, "running_mean", 1, &s->in_features, CS_PARAM_STATE);
      L->rv_off = self->n_values;
      add_tensor_full (self, i, s->name, "running_var", 1, &s->in_features, CS_PARAM_STATE);
      L->nbt_off = self->n_values;
      add_tensor_full (self, i, s->name, "num_batches_tracked", 0, NULL, CS_PARAM_STATE | CS_PARAM_INT64);
    }

  /* Tensors read by several layers (views pass theirs on to their owner). */
  consumers = g_new0 (guint, self->n_layers);
  for (guint i = 0; i < self->n_layers; i++)
    {
      const CsLayerSpec *s = self->layers[i].spec;
      if (self->layers[i].owner != (int) i)
        continue;
      for (guint k = 0; k < s->n_inputs; k++)
        if (s->inputs[k] >= 0 && self->layers[s->inputs[k]].owner >= 0 &&
            ++consumers[self->layers[s->inputs[k]].owner] > 1)
          self->fan_out = TRUE;
    }
  self->written = g_new0 (gboolean, self->n_layers);

  /* A ReLU that alone reads a BatchNorm, or a sum of two, is computed in
   * their pass while training (cs_model_relu_fused ()): one pass over the
   * tensor less each way. Not when the model's output is theirs. */
  for (guint i = 0; i < self->n_layers; i++)
    {
      Layer *L = &self->layers[i];
      Layer *P = L->in0 >= 0 ? &self->layers[L->in0] : NULL;
      int p = L->in0;

      if (L->spec->kind != CS_LAYER_RELU || P == NULL || P->owner != p || consumers[p] != 1 ||
          self->layers[self->n_layers - 1].owner == p)
        continue;
      if (P->spec->kind == CS_LAYER_BATCHNORM1D || P->spec->kind == CS_LAYER_BATCHNORM2D ||
          (P->spec->kind == CS_LAYER_ADD && P->spec->n_inputs == 2))
        {
          P->relu_fused = (int) i;
          L->relu_of = p;
        }
    }
  /* A BatchNorm read by a sum of two alone takes the sum's gradient where it
   * is: no copy of it (masked by a fused ReLU) per branch. */
  for (guint i = 0; i < self->n_layers; i++)
    {
      const CsLayerSpec *s = self->layers[i].spec;

      if (s->kind != CS_LAYER_ADD || s->n_inputs != 2 || s->inputs[0] == s->inputs[1])
        continue;
      for (guint k = 0; k < 2; k++)
        {
          int j = s->inputs[k];
          Layer *J = j >= 0 ? &self->layers[j] : NULL;

          if (J != NULL && J->owner == j && consumers[j] == 1 && J->relu_fused < 0 &&
              self->layers[self->n_layers - 1].owner != j &&
              (J->spec->kind == CS_LAYER_BATCHNORM1D || J->spec->kind == CS_LAYER_BATCHNORM2D))
            J->grad_of_sum = (int) i;
        }
    }

  self->loss = cs_spec_layer (self->spec, self->n_layers - 1)->kind == CS_LAYER_LOGSOFTMAX
    ? CS_LOSS_NLL : CS_LOSS_CROSS_ENTROPY;
  self->params = cs_alloc_floats (self->n_values);
  self->grads = cs_alloc_floats (MAX (self->n_params, 1));
  return self;
}

static void
free_workspaces (CsModel *self)
{
  for (guint i = 0; i < self->n_layers; i++)
    {
      Layer *L = &self->layers[i];
      g_clear_pointer (&L->out_own, cs_free_floats);
      g_clear_pointer (&L->delta_own, cs_free_floats);
      g_clear_pointer (&L->col, cs_free_floats);
      g_clear_pointer (&L->mask, cs_free_floats);
      g_clear_pointer (&L->bn_mean, cs_free_floats);
      g_clear_pointer (&L->inv_std, cs_free_floats);
      g_clear_pointer (&L->argmax, cs_free);
      L->out = NULL;
      L->delta = NULL;
    }
  g_clear_pointer (&self->tmp, cs_free_floats);
  g_clear_pointer (&self->dcol, cs_free_floats);
  g_clear_pointer (&self->dscratch, cs_free_floats);
  self->capacity = 0;
  self->workspace_bytes = 0;
}

void
cs_model_free (CsModel *self)
{
  if (self == NULL)
    return;
  free_workspaces (self);
  g_clear_pointer (&self->params, cs_free_floats);
  g_clear_pointer (&self->grads, cs_free_floats);
  g_clear_pointer (&self->tensors, g_array_unref);
  g_free (self->layers);
  g_free (self->written);
  cs_spec_free (self->spec);
  g_free (self);
}

const CsSpec *
cs_model_get_spec (const CsModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->spec;
}

CsLossKind
cs_model_get_loss (const CsModel *self)
{
  return self->loss;
}

gsize
cs_model_n_params (const CsModel *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_params;
}

gsize
cs_model_n_values (const CsModel *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_values;
}

float *
cs_model_params (CsModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->params;
}

float *
cs_model_grads (CsModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->grads;
}

void
cs_model_grads_zeroed (CsModel *self)
{
  self->grads_zero = TRUE;
}

guint
cs_model_n_tensors (const CsModel *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->tensors->len;
}

const CsParam *
cs_model_tensor (const CsModel *self,
                 guint          i)
{
  g_return_val_if_fail (i < self->tensors->len, NULL);
  return &g_array_index (self->tensors, CsParam, i);
}

const CsParam *
cs_model_find_tensor (const CsModel *self,
                      const char    *name)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < self->tensors->len; i++)
    if (g_str_equal (g_array_index (self->tensors, CsParam, i).name, name))
      return &g_array_index (self->tensors, CsParam, i);
  return NULL;
}

int
cs_model_n_outputs (const CsModel *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return (int) cs_shape_numel (cs_spec_output_shape (self->spec));
}

gsize
cs_model_input_size (const CsModel *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return cs_shape_numel (self->spec->input);
}

void
cs_model_init_params (CsModel *self,
                      CsRng   *rng)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (rng != NULL);

  /* In declaration order, weight then bias, as PyTorch constructs the modules. */
  for (guint t = 0; t < self->tensors->len; t++)
    {
      const CsParam *p = &g_array_index (self->tensors, CsParam, t);
      const CsLayerSpec *s = self->layers[p->layer].spec;
      float *v = self->params + p->offset;

      /* BatchNorm: weight 1, bias 0, running_mean 0, running_var 1, no batches yet. */
      if (s->kind == CS_LAYER_BATCHNORM1D || s->kind == CS_LAYER_BATCHNORM2D)
        {
          float value = g_str_has_suffix (p->name, ".weight") || g_str_has_suffix (p->name, ".running_var") ? 1 : 0;
          for (gsize i = 0; i < p->numel; i++)
            v[i] = value;
          continue;
        }
      {
        int fan_in = s->kind == CS_LAYER_LINEAR ? s->in_features : s->in_channels * s->kh * s->kw;
        float bound = 1.0f / sqrtf ((float) fan_in);

        for (gsize i = 0; i < p->numel; i++)
          v[i] = (2.0f * cs_rng_uniform (rng) - 1.0f) * bound;
      }
    }
}

void
cs_model_set_batch_capacity (CsModel *self,
                             int      batch)
{
  gsize tmp_size = 0, dcol_size = 0, scratch_size = 0, bytes = 0;

  g_return_if_fail (batch > 0);

  if (batch == self->capacity)
    return;
  free_workspaces (self);
  self->capacity = batch;

  for (guint i = 0; i < self->n_layers; i++)
    {
      Layer *L = &self->layers[i];
      gsize n = L->out_numel * batch;

      L->g.B = batch;
      if (L->spec->kind == CS_LAYER_FLATTEN || L->spec->kind == CS_LAYER_IDENTITY)
        {
          /* A view: shares its input's buffers. */
          L->delta = L->in0 >= 0 ? self->layers[L->in0].delta : NULL;
          continue;
        }
      if (self->fan_out)
        scratch_size = MAX (scratch_size, n);
      L->out_own = cs_alloc_floats (n);
      L->delta_own = cs_alloc_floats (n);
      L->delta = L->delta_own;
      bytes += 2 * n * sizeof (float);

      switch (L->spec->kind)
        {
        case CS_LAYER_CONV2D:
          /* im2col's matrix, the direct kernel's padded planes, or nothing. */
          if (cs_conv2d_saved_size (&L->g) > 0)
            {
              L->col = cs_alloc_floats (cs_conv2d_saved_size (&L->g));
              bytes += cs_conv2d_saved_size (&L->g) * sizeof (float);
            }
          tmp_size = MAX (tmp_size, cs_conv2d_tmp_size (&L->g));
          if (L->need_dx)
            dcol_size = MAX (dcol_size, cs_conv2d_dcol_size (&L->g));
          break;
        case CS_LAYER_MAXPOOL2D:
          L->argmax = cs_alloc (n * sizeof (gint32));
          bytes += n * sizeof (gint32);
          break;
        case CS_LAYER_DROPOUT:
          L->mask = cs_alloc_floats (n);
          bytes += n * sizeof (float);
          break;
        case CS_LAYER_DROPOUT2D:
          L->mask = cs_alloc_floats ((gsize) batch * L->spec->in.c);
          bytes += (gsize) batch * L->spec->in.c * sizeof (float);
          break;
        case CS_LAYER_BATCHNORM1D:
        case CS_LAYER_BATCHNORM2D:
          L->bn_mean = cs_alloc_floats ((gsize) L->spec->in.c);
          L->inv_std = cs_alloc_floats ((gsize) L->spec->in.c);
          bytes += 2 * (gsize) L->spec->in.c * sizeof (float);
          break;
        case CS_LAYER_LINEAR:
        case CS_LAYER_AVGPOOL2D:
        case CS_LAYER_RELU:
        case CS_LAYER_TANH:
        case CS_LAYER_SIGMOID:
        case CS_LAYER_FLATTEN:
        case CS_LAYER_LOGSOFTMAX:
        case CS_LAYER_LEAKY_RELU:
        case CS_LAYER_ELU:
        case CS_LAYER_GELU:
        case CS_LAYER_SILU:
        case CS_LAYER_IDENTITY:
        case CS_N_LAYER_KINDS:
        default:
          break;
        }
    }
  if (tmp_size > 0)
    self->tmp = cs_alloc_floats (tmp_size);
  if (dcol_size > 0)
    self->dcol = cs_alloc_floats (dcol_size);
  if (scratch_size > 0)
    self->dscratch = cs_alloc_floats (scratch_size);
  self->workspace_bytes = bytes + (tmp_size + dcol_size + scratch_size) * sizeof (float);
}

int
cs_model_get_batch_capacity (const CsModel *self)
{
  return self->capacity;
}

gsize
cs_model_workspace_bytes (const CsModel *self)
{
  return self->workspace_bytes;
}

/* A BatchNorm layer's arguments for this pass. In training it counts the
 * batch (num_batches_tracked, kept as a float: exact to 2^24 batches) and
 * takes momentum=None as the cumulative average. */
static CsBatchNormArgs
batchnorm_args (CsModel *self,
                Layer   *L,
                int      B,
                gboolean training)
{
  const CsLayerSpec *s = L->spec;
  CsBatchNormArgs a = { .B = B, .C = s->in.c, .P = s->in.h * s->in.w, .eps = s->eps,
                        .momentum = s->momentum, .use_batch_stats = training || !s->track_running_stats };

  if (training && L->nbt_off >= 0)
    {
      float *nbt = self->params + L->nbt_off;
      *nbt += 1;
      if (s->momentum < 0)
        a.momentum = 1.0f / *nbt;
    }
  return a;
}

/* A layer's time, added to *sum when the scope it is declared in ends
 * (break and continue included); nothing when timing is off. */
typedef struct
{
  gint64 *sum;
  gint64  t0;
} LayerClock;

static void
layer_clock_stop (LayerClock *c)
{
  if (c->sum != NULL)
    *c->sum += g_get_monotonic_time () - c->t0;
}

#define LAYER_CLOCK(self, field) \
  __attribute__ ((cleanup (layer_clock_stop))) LayerClock clock_ = { (self)->timing ? &(field) : NULL, \
                                                                      (self)->timing ? g_get_monotonic_time () : 0 }

void
cs_model_set_timing (CsModel *self,
                     gboolean timing)
{
  g_return_if_fail (self != NULL);

  if (timing)
    for (guint i = 0; i < self->n_layers; i++)
      self->layers[i].forward_us = self->layers[i].backward_us = 0;
  self->timing = timing;
}

void
cs_model_layer_time (const CsModel *self,
                     guint          i,
                     double        *forward_ms,
                     double        *backward_ms)
{
  g_return_if_fail (self != NULL && i < self->n_layers);

  *forward_ms = self->layers[i].forward_us / 1e3;
  *backward_ms = self->layers[i].backward_us / 1e3;
}

const float *
cs_model_forward (CsModel     *self,
                  const float *x,
                  int          B,
                  gboolean     training,
                  CsRng       *rng)
{
  const float *in = x;

  g_return_val_if_fail (B > 0, NULL);
  g_return_val_if_fail (!training || rng != NULL, NULL);

  if (B > self->capacity)
    cs_model_set_batch_capacity (self, B);

  self->x = x;
  self->last_B = B;
  self->last_training = training;

  for (guint i = 0; i < self->n_layers; i++)
    {
      Layer *L = &self->layers[i];
      LAYER_CLOCK (self, L->forward_us);
      const CsLayerSpec *s = L->spec;
      float *out = L->out_own;
      gsize n = L->out_numel * B;
      const float *w = L->w_off >= 0 ? self->params + L->w_off : NULL;
      const float *b = L->b_off >= 0 ? self->params + L->b_off : NULL;

      in = L->in0 < 0 ? x : self->layers[L->in0].out;

      L->g.B = B;
      switch (s->kind)
        {
        case CS_LAYER_LINEAR:
          cs_linear_forward (out, in, w, b, B, s->in_features, s->out_features);
          break;
        case CS_LAYER_CONV2D:
          cs_conv2d_forward (out, L->col, self->tmp, in, w, b, &L->g);
          break;
        case CS_LAYER_MAXPOOL2D:
          cs_maxpool_forward (out, L->argmax, in, &L->g);
          break;
        case CS_LAYER_AVGPOOL2D:
          cs_avgpool_forward (out, in, &L->g);
          break;
        case CS_LAYER_RELU:
          if (L->relu_of >= 0 && training)
            {
              /* Computed by the layer it reads, in its output. */
              L->out = in;
              continue;
            }
          cs_relu_forward (out, in, n);
          break;
        case CS_LAYER_TANH:
          cs_tanh_forward (out, in, n);
          break;
        case CS_LAYER_SIGMOID:
          cs_sigmoid_forward (out, in, n);
          break;
        case CS_LAYER_LEAKY_RELU:
        case CS_LAYER_ELU:
        case CS_LAYER_GELU:
        case CS_LAYER_SILU:
          cs_activation_forward (activation_of (s), s->alpha, out, in, n);
          break;
        case CS_LAYER_DROPOUT:
          if (training && s->p > 0.0f)
            cs_dropout_forward (out, L->mask, in, n, s->p, rng);
          else
            memcpy (out, in, n * sizeof (float));
          break;
        case CS_LAYER_FLATTEN:
        case CS_LAYER_IDENTITY:
          L->out = in;
          continue;
        case CS_LAYER_ADD:
        case CS_LAYER_CAT:
          cs_model_forward_join (self, L, out, B);
          break;
        case CS_LAYER_LOGSOFTMAX:
          cs_log_softmax_forward (out, in, B, (int) L->out_numel);
          break;
        case CS_LAYER_SOFTMAX:
          cs_softmax_forward (out, in, B, (int) L->out_numel);
          break;
        case CS_LAYER_ADAPTIVE_AVGPOOL2D:
          cs_adaptive_avgpool_forward (out, in, (gsize) B * s->in.c, s->in.h, s->in.w, s->out.h, s->out.w);
          break;
        case CS_LAYER_DROPOUT2D:
          if (training && s->p > 0.0f)
            cs_dropout2d_forward (out, L->mask, in, (gsize) B * s->in.c, (gsize) s->in.h * s->in.w, s->p, rng);
          else
            memcpy (out, in, n * sizeof (float));
          break;
        case CS_LAYER_BATCHNORM1D:
        case CS_LAYER_BATCHNORM2D:
          {
            CsBatchNormArgs a = batchnorm_args (self, L, B, training);
            a.relu = cs_model_relu_fused (self, L);
            cs_batchnorm_forward (out, L->bn_mean, L->inv_std, in, w, b,
                                  L->rm_off >= 0 ? self->params + L->rm_off : NULL,
                                  L->rv_off >= 0 ? self->params + L->rv_off : NULL, &a);
          }
          break;
        case CS_N_LAYER_KINDS:
        default:
          g_assert_not_reached ();
        }
      L->out = out;
      in = out;
    }
  return self->layers[self->n_layers - 1].out;
}

const float *
cs_model_layer_output (const CsModel *self,
                       guint          i)
{
  g_return_val_if_fail (i < self->n_layers, NULL);
  return self->layers[i].out;
}

double
cs_model_loss (CsModel      *self,
               const gint32 *labels,
               int           B,
               gboolean      backward)
{
  Layer *last = &self->layers[self->n_layers - 1];
  int N = (int) last->out_numel;
  float *dlast = backward ? last->delta : NULL;
  double loss;

  g_return_val_if_fail (B == self->last_B, NAN);

  if (self->loss == CS_LOSS_NLL)
    loss = cs_nll_loss (dlast, last->out, labels, B, N);
  else
    loss = cs_cross_entropy_loss (dlast, last->out, labels, B, N);

  if (!backward)
    return loss;

  if (!self->grads_zero)
    memset (self->grads, 0, self->n_params * sizeof (float));
  self->grads_zero = FALSE;

  memset (self->written, 0, self->n_layers * sizeof (gboolean));
  if (last->owner >= 0)
    self->written[last->owner] = TRUE;

  for (guint i = self->n_layers; i-- > 0;)
    {
      Layer *L = &self->layers[i];
      LAYER_CLOCK (self, L->backward_us);
      const CsLayerSpec *s = L->spec;
      const float *in = L->in0 < 0 ? self->x : self->layers[L->in0].out;
      gsize n = L->out_numel * B;
      const float *w = L->w_off >= 0 ? self->params + L->w_off : NULL;
      float *gw = L->w_off >= 0 ? self->grads + L->w_off : NULL;
      float *gb = L->b_off >= 0 ? self->grads + L->b_off : NULL;
      gboolean acc = FALSE;
      float *dx;

      /* Views pass gradients through their buffers; a layer no gradient reaches adds nothing. */
      if (L->owner != (int) i || !self->written[i])
        continue;
      if (L->relu_of >= 0 && self->last_training)
        {
          /* Its producer, the only layer it reads, takes this gradient and the mask. */
          self->written[L->relu_of] = TRUE;
          continue;
        }
      if (s->kind == CS_LAYER_ADD || s->kind == CS_LAYER_CAT)
        {
          cs_model_backward_join (self, L, B);
          continue;
        }
      dx = cs_model_wants_grad (self, L->in0) ? cs_model_grad_target (self, L->in0, &acc) : NULL;
      if (dx == NULL && w == NULL)
        continue;

      switch (s->kind)
        {
        case CS_LAYER_LINEAR:
          cs_linear_backward (dx, gw, gb, L->delta, in, w, B, s->in_features, s->out_features);
          break;
        case CS_LAYER_CONV2D:
          if (acc && cs_conv2d_can_add_dx (&L->g))
            {
              /* Added straight into the gradient of an input that feeds
               * other layers too, not through dscratch. */
              dx = self->layers[L->in0].delta;
              acc = FALSE;
              cs_conv2d_backward (dx, TRUE, gw, gb, self->dcol, self->tmp, L->col, L->delta, in, w, &L->g);
            }
          else
            cs_conv2d_backward (dx, FALSE, gw, gb, self->dcol, self->tmp, L->col, L->delta, in, w, &L->g);
          break;
        case CS_LAYER_MAXPOOL2D:
          cs_maxpool_backward (dx, L->delta, L->argmax, &L->g);
          break;
        case CS_LAYER_AVGPOOL2D:
          cs_avgpool_backward (dx, L->delta, &L->g);
          break;
        case CS_LAYER_RELU:
          cs_relu_backward (dx, L->delta, L->out, n);
          break;
        case CS_LAYER_TANH:
          cs_tanh_backward (dx, L->delta, L->out, n);
          break;
        case CS_LAYER_SIGMOID:
          cs_sigmoid_backward (dx, L->delta, L->out, n);
          break;
        case CS_LAYER_LEAKY_RELU:
        case CS_LAYER_ELU:
        case CS_LAYER_GELU:
        case CS_LAYER_SILU:
          cs_activation_backward (activation_of (s), s->alpha, dx, L->delta, in, n);
          break;
        case CS_LAYER_DROPOUT:
          if (self->last_training && s->p > 0.0f)
            cs_dropout_backward (dx, L->delta, L->mask, n);
          else
            memcpy (dx, L->delta, n * sizeof (float));
          break;
        case CS_LAYER_FLATTEN:
        case CS_LAYER_IDENTITY:
          /* Shares its buffers with its input: nothing to move. */
          break;
        case CS_LAYER_LOGSOFTMAX:
          cs_log_softmax_backward (dx, L->delta, L->out, B, (int) L->out_numel);
          break;
        case CS_LAYER_SOFTMAX:
          cs_softmax_backward (dx, L->delta, L->out, B, (int) L->out_numel);
          break;
        case CS_LAYER_ADAPTIVE_AVGPOOL2D:
          cs_adaptive_avgpool_backward (dx, L->delta, (gsize) B * s->in.c, s->in.h, s->in.w, s->out.h, s->out.w);
          break;
        case CS_LAYER_DROPOUT2D:
          if (self->last_training && s->p > 0.0f)
            cs_dropout2d_backward (dx, L->delta, L->mask, (gsize) B * s->in.c, (gsize) s->in.h * s->in.w);
          else
            memcpy (dx, L->delta, n * sizeof (float));
          break;
        case CS_LAYER_BATCHNORM1D:
        case CS_LAYER_BATCHNORM2D:
          {
            CsBatchNormArgs a = { .B = B, .C = s->in.c, .P = s->in.h * s->in.w,
                                  .use_batch_stats = self->last_training || !s->track_running_stats,
                                  .relu = cs_model_relu_fused (self, L) };
            const float *beta = L->b_off >= 0 ? self->params + L->b_off : NULL;
            const float *dout = L->delta, *mask = NULL;

            /* Fused: the ReLU's gradient, masked where BatchNorm's output was
             * not positive. Read by a sum alone: the sum's gradient. */
            if (a.relu)
              dout = self->layers[L->relu_fused].delta;
            else if (L->grad_of_sum >= 0)
              dout = cs_model_sum_grad (self, &self->layers[L->grad_of_sum], &mask);
            cs_batchnorm_backward (dx, gw, gb, dout, mask, in, L->bn_mean, L->inv_std, w, beta, &a);
          }
          break;
        case CS_LAYER_ADD:
        case CS_LAYER_CAT:
        case CS_N_LAYER_KINDS:
        default:
          g_assert_not_reached ();
        }
      if (acc)
        cs_add_into (self->layers[L->in0].delta, self->dscratch, L->in_numel * B);
    }
  return loss;
}

void
cs_model_predict (CsModel     *self,
                  const float *x,
                  int          B,
                  float       *proba)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (x != NULL);
  g_return_if_fail (proba != NULL);

  const float *out = cs_model_forward (self, x, B, FALSE, NULL);
  int N = cs_model_n_outputs (self);

  for (int s = 0; s < B; s++)
    {
      const float *z = out + (gsize) s * N;
      float *p = proba + (gsize) s * N;
      double sum = 0;
      float m = z[0];

      if (self->loss == CS_LOSS_NLL)
        {
          for (int j = 0; j < N; j++)
            p[j] = expf (z[j]);
          continue;
        }
      for (int j = 1; j < N; j++)
        m = MAX (m, z[j]);
      for (int j = 0; j < N; j++)
        sum += (p[j] = expf (z[j] - m));
      for (int j = 0; j < N; j++)
        p[j] = (float) (p[j] / sum);
    }
}
