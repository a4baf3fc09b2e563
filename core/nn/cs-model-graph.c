/* The graph's share of the model: the inputs a layer reads, sums and
 * concatenations forward and back, and the gradient of a tensor read by
 * several layers added up from each of them. */

#define G_LOG_DOMAIN "cs-model"

#include "config.h"

#include <string.h>

#include "nn/cs-model-private.h"

/* Layer @j's output needs a gradient: it has weights, or some layer it reads does. */
gboolean
cs_model_wants_grad (const CsModel *self,
                     int            j)
{
  return j >= 0 && (self->layers[j].w_off >= 0 || self->layers[j].need_dx);
}

/* The @k-th tensor a layer reads, and its values per sample. */
const float *
cs_model_input_of (const CsModel *self,
                   const Layer   *L,
                   guint          k,
                   gsize         *per_sample)
{
  int j = L->spec->inputs[k];

  *per_sample = j < 0 ? cs_shape_numel (self->spec->input) : self->layers[j].out_numel;
  return j < 0 ? self->x : self->layers[j].out;
}

/* Whether @L (a BatchNorm or a sum) computes the ReLU after it in this pass:
 * in training, where that ReLU is the only reader of its output. Evaluation
 * keeps every layer's own output (Inside's feature maps show them). */
gboolean
cs_model_relu_fused (const CsModel *self,
                     const Layer   *L)
{
  return L->relu_fused >= 0 && self->last_training;
}

/* The gradient of sum @L, where it is: the fused ReLU's, with its output as
 * the *mask, or the sum's own (*mask NULL). */
const float *
cs_model_sum_grad (const CsModel *self,
                   const Layer   *L,
                   const float  **mask)
{
  if (cs_model_relu_fused (self, L))
    {
      *mask = self->layers[L->relu_fused].out;
      return self->layers[L->relu_fused].delta;
    }
  *mask = NULL;
  return L->delta;
}

/* a + b + ...; or torch.cat along dim 1: each sample's inputs one after another. */
void
cs_model_forward_join (CsModel *self,
                       Layer   *L,
                       float   *out,
                       int      B)
{
  gsize per, off = 0;
  const float *a = cs_model_input_of (self, L, 0, &per);

  if (L->spec->kind == CS_LAYER_ADD)
    {
      if (L->spec->n_inputs < 2)
        {
          memcpy (out, a, per * B * sizeof (float));
          return;
        }
      if (cs_model_relu_fused (self, L))
        {
          /* Two inputs: the fusion's condition. */
          cs_add_relu (out, a, cs_model_input_of (self, L, 1, &per), per * B);
          return;
        }
      cs_add (out, a, cs_model_input_of (self, L, 1, &per), per * B);
      for (guint k = 2; k < L->spec->n_inputs; k++)
        cs_add_into (out, cs_model_input_of (self, L, k, &per), per * B);
      return;
    }
  for (guint k = 0; k < L->spec->n_inputs; k++)
    {
      const float *v = cs_model_input_of (self, L, k, &per);
      for (int b = 0; b < B; b++)
        memcpy (out + (gsize) b * L->out_numel + off, v + (gsize) b * per, per * sizeof (float));
      off += per;
    }
}

/* Where the gradient for layer @j's output goes: straight into its buffer
 * for the first layer that reads it, else into the scratch, to be added
 * (*accumulate) once written. */
float *
cs_model_grad_target (CsModel  *self,
                      int       j,
                      gboolean *accumulate)
{
  int o = self->layers[j].owner;

  *accumulate = FALSE;
  if (o < 0)
    return NULL;
  if (!self->written[o])
    {
      self->written[o] = TRUE;
      return self->layers[j].delta;
    }
  *accumulate = TRUE;
  return self->dscratch;
}

/* A sum passes its gradient to each input; a concatenation each its slice.
 * A sum that computed the ReLU after it passes the ReLU's gradient, where
 * the ReLU's output is positive. */
void
cs_model_backward_join (CsModel *self,
                        Layer   *L,
                        int      B)
{
  gsize per, off = 0;
  const float *relu_out;
  const float *dy = cs_model_sum_grad (self, L, &relu_out);
  gboolean fused = relu_out != NULL;

  for (guint k = 0; k < L->spec->n_inputs; k++, off += per)
    {
      int j = L->spec->inputs[k];
      gboolean acc;
      float *dst;

      cs_model_input_of (self, L, k, &per);
      if (j >= 0 && self->layers[j].grad_of_sum == L - self->layers)
        {
          /* A BatchNorm that reads this sum's gradient where it is. */
          self->written[j] = TRUE;
          continue;
        }
      if (!cs_model_wants_grad (self, j) || cs_model_grad_target (self, j, &acc) == NULL)
        continue;
      dst = self->layers[j].delta;
      if (L->spec->kind == CS_LAYER_ADD)
        {
          if (fused && acc)
            cs_relu_backward_add (dst, dy, relu_out, per * B);
          else if (fused)
            cs_relu_backward (dst, dy, relu_out, per * B);
          else if (acc)
            cs_add_into (dst, dy, per * B);
          else
            memcpy (dst, dy, per * B * sizeof (float));
          continue;
        }
      for (int b = 0; b < B; b++)
        {
          const float *src = L->delta + (gsize) b * L->out_numel + off;
          if (acc)
            cs_add_into (dst + (gsize) b * per, src, per);
          else
            memcpy (dst + (gsize) b * per, src, per * sizeof (float));
        }
    }
}
