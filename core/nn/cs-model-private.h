/* Inside the model: its layers and buffers, shared by cs-model.c and the
 * graph's part in cs-model-graph.c. */
#pragma once

#include "nn/cs-kernels.h"
#include "nn/cs-model.h"

G_BEGIN_DECLS

typedef struct
{
  const CsLayerSpec *spec;
  CsConvGeometry           g;          /* conv/pool geometry; g.B is set per call */
  gsize              in_numel;   /* per sample */
  gsize              out_numel;  /* per sample */
  gssize             w_off;      /* -1 without */
  gssize             b_off;
  gboolean           need_dx;    /* some layer below has parameters */
  int                in0;        /* spec->inputs[0]: the layer it reads, -1 for the model's input */
  int                owner;      /* whose buffers a view (Flatten, Identity) shares; itself otherwise */
  /* In training, a ReLU that is the only reader of a BatchNorm or of a sum
   * of two is computed by it, in its pass: relu_fused is that ReLU (in the
   * producer; -1 none), relu_of that producer (in the ReLU; -1 none). */
  int                relu_fused;
  int                relu_of;
  /* A BatchNorm whose only reader is a sum of two (a residual branch): it
   * reads the sum's gradient (through the mask of a ReLU fused into the sum)
   * where it is, and the sum gives it none of its own. -1 none. */
  int                grad_of_sum;

  float             *out_own;    /* NULL when the layer aliases its input (Flatten) */
  float             *delta_own;
  float             *col;        /* Conv2d: im2col of the last input */
  gint32            *argmax;     /* MaxPool2d */
  float             *mask;       /* Dropout */
  float             *bn_mean;    /* BatchNorm: the mean and 1/std per channel of the last forward pass */
  float             *inv_std;
  gssize             rm_off;     /* BatchNorm's running_mean, running_var, num_batches_tracked; -1 without */
  gssize             rv_off;
  gssize             nbt_off;

  const float       *out;        /* this pass's output */
  float             *delta;      /* gradient of the loss w.r.t. the output */

  gint64             forward_us; /* time spent in the layer since timing was switched on */
  gint64             backward_us;
} Layer;

struct _CsModel
{
  CsSpec     *spec;
  CsLossKind  loss;
  Layer      *layers;
  guint       n_layers;

  GArray     *tensors;     /* of CsParam */
  gsize       n_params;
  gsize       n_values;    /* n_params + the state after them */
  float      *params;
  float      *grads;
  gboolean    grads_zero;  /* known to be all zero: the next backward skips clearing them */

  int         capacity;
  float      *tmp;         /* shared conv scratch (K, B*P) */
  float      *dcol;        /* shared conv scratch (C*kh*kw, B*P) */
  gsize       workspace_bytes;

  float      *dscratch;    /* one layer's gradient, to add where a tensor feeds several layers */
  gboolean   *written;     /* per layer, in a backward pass: its gradient holds a first contribution */
  gboolean    fan_out;     /* some tensor feeds more than one layer */

  const float *x;          /* the last forward's input */
  int          last_B;
  gboolean     last_training;
  gboolean     timing;     /* add each layer's time to its forward_us/backward_us */
};

/* cs-model-graph.c */
gboolean     cs_model_wants_grad    (const CsModel *self,
                                     int            j);
const float *cs_model_input_of      (const CsModel *self,
                                     const Layer   *L,
                                     guint          k,
                                     gsize         *per_sample);
void         cs_model_forward_join  (CsModel       *self,
                                     Layer         *L,
                                     float         *out,
                                     int            B);
float       *cs_model_grad_target   (CsModel       *self,
                                     int            j,
                                     gboolean      *accumulate);
void         cs_model_backward_join (CsModel       *self,
                                     Layer         *L,
                                     int            B);
gboolean     cs_model_relu_fused    (const CsModel *self,
                                     const Layer   *L);
const float *cs_model_sum_grad      (const CsModel *self,
                                     const Layer   *L,
                                     const float  **mask);

G_END_DECLS
