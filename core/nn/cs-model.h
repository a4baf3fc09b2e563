/* A model built from a spec: contiguous parameters and gradients, batch workspaces, forward and backward. */
#pragma once

#include <glib.h>

#include "base/cs-rng.h"
#include "spec/cs-spec.h"

G_BEGIN_DECLS

typedef enum
{
  CS_LOSS_CROSS_ENTROPY,   /* the model ends in logits */
  CS_LOSS_NLL,             /* the model ends in LogSoftmax */
} CsLossKind;

typedef enum
{
  CS_PARAM_STATE = 1 << 0,   /* a buffer (running_mean): kept and saved, never trained */
  CS_PARAM_INT64 = 1 << 1,   /* stored as int64 in files (num_batches_tracked) */
} CsParamFlags;

typedef struct
{
  char   *name;       /* "conv1.weight", as PyTorch's state_dict names it */
  guint   layer;
  int     ndim;
  int     shape[4];
  gsize   offset;     /* into the parameter (and, unless state, the gradient) buffer */
  gsize   numel;
  CsParamFlags flags;
} CsParam;

typedef struct _CsModel CsModel;

CsModel      *cs_model_new               (const CsSpec  *spec) G_GNUC_WARN_UNUSED_RESULT;
void          cs_model_free              (CsModel       *self);

const CsSpec *cs_model_get_spec          (const CsModel *self);
CsLossKind    cs_model_get_loss          (const CsModel *self);
/* Trainable values: what the gradients and the optimizer cover. */
gsize         cs_model_n_params          (const CsModel *self);
/* All of cs_model_params(): the trainable values, then the state (BatchNorm's
 * running statistics); copy this many to copy a model. */
gsize         cs_model_n_values          (const CsModel *self);
float        *cs_model_params            (CsModel       *self);
float        *cs_model_grads             (CsModel       *self);
/* The caller has set every gradient to zero (cs_optim_step_consume() does): the
 * next backward pass need not clear them first. */
void          cs_model_grads_zeroed      (CsModel       *self);
guint         cs_model_n_tensors         (const CsModel *self);
const CsParam *cs_model_tensor           (const CsModel *self,
                                          guint          i);
const CsParam *cs_model_find_tensor      (const CsModel *self,
                                          const char    *name);
int           cs_model_n_outputs         (const CsModel *self);
gsize         cs_model_input_size        (const CsModel *self);

/* PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases. */
void          cs_model_init_params       (CsModel       *self,
                                          CsRng         *rng);

/* Allocates the workspaces for batches of up to @batch samples. */
void          cs_model_set_batch_capacity (CsModel      *self,
                                           int           batch);
int           cs_model_get_batch_capacity (const CsModel *self);
gsize         cs_model_workspace_bytes   (const CsModel *self);

/* x is (B, input); returns the output (B, n_outputs), valid until the next call.
 * In training mode dropout draws from @rng. */
const float  *cs_model_forward           (CsModel       *self,
                                          const float   *x,
                                          int            B,
                                          gboolean       training,
                                          CsRng         *rng);
/* Class probabilities (B, n_outputs) of @x in evaluation mode: softmax of the
 * logits, or exp of a LogSoftmax output. */
void          cs_model_predict           (CsModel       *self,
                                          const float   *x,
                                          int            B,
                                          float         *proba);
/* Per layer time (bench): while on, every pass adds each layer's time to its
 * sums; switching it on sets them back to zero, switching it off keeps them. */
void          cs_model_set_timing        (CsModel       *self,
                                          gboolean       timing);
/* Milliseconds in layer @i's forward and backward passes since timing was switched on. */
void          cs_model_layer_time        (const CsModel *self,
                                          guint          i,
                                          double        *forward_ms,
                                          double        *backward_ms);
/* The output of layer @i from the last forward pass, (B, numel(out shape)). */
const float  *cs_model_layer_output      (const CsModel *self,
                                          guint          i);
/* Loss of the last forward pass; with @backward, zeroes and fills the gradients. */
double        cs_model_loss              (CsModel       *self,
                                          const gint32  *labels,
                                          int            B,
                                          gboolean       backward);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsModel, cs_model_free)

G_END_DECLS
