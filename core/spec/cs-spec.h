/* Model specs: PyTorch-like text, one layer per line (or a PyTorch class), a
 * graph of layers parsed and shape-checked before anything is allocated. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CS_SPEC_ERROR (cs_spec_error_quark ())

typedef enum
{
  CS_SPEC_ERROR_SYNTAX,
  CS_SPEC_ERROR_UNKNOWN_LAYER,
  CS_SPEC_ERROR_BAD_ARGUMENT,
  CS_SPEC_ERROR_SHAPE,
  CS_SPEC_ERROR_UNKNOWN_PRESET,
} CsSpecError;

typedef enum
{
  CS_LAYER_LINEAR,
  CS_LAYER_CONV2D,
  CS_LAYER_MAXPOOL2D,
  CS_LAYER_AVGPOOL2D,
  CS_LAYER_RELU,
  CS_LAYER_TANH,
  CS_LAYER_SIGMOID,
  CS_LAYER_DROPOUT,
  CS_LAYER_FLATTEN,
  CS_LAYER_LOGSOFTMAX,
  CS_LAYER_LEAKY_RELU,
  CS_LAYER_ELU,
  CS_LAYER_GELU,
  CS_LAYER_SILU,
  CS_LAYER_IDENTITY,
  CS_LAYER_BATCHNORM1D,
  CS_LAYER_BATCHNORM2D,
  CS_LAYER_ADAPTIVE_AVGPOOL2D,
  CS_LAYER_SOFTMAX,
  CS_LAYER_DROPOUT2D,
  CS_LAYER_ADD,        /* a + b, torch.add: same shapes, summed */
  CS_LAYER_CAT,        /* torch.cat((a, b), 1): channels (or features) one after another */
  CS_N_LAYER_KINDS
} CsLayerKind;

/* A per-sample shape: c x h x w, or `c` features when flat (h = w = 1). */
typedef struct
{
  int      c;
  int      h;
  int      w;
  gboolean flat;
} CsShape;

/* Tensors a sum or a concatenation may join. */
#define CS_LAYER_MAX_INPUTS 8

typedef struct
{
  char        *name;        /* "conv1", or "0", "1", ... as nn.Sequential names them */
  char        *call;        /* the call as written, e.g. "nn.Linear(120, 84)" */
  CsLayerKind  kind;
  gboolean     functional;  /* F.relu(...), x.view(...): an operation, not a module */
  guint        line;

  /* Linear */
  int          in_features;
  int          out_features;
  /* Conv2d; kernel, stride, padding and dilation also serve the pools;
   * kh x kw is AdaptiveAvgPool2d's output_size */
  int          in_channels;
  int          out_channels;
  int          kh, kw;
  int          sh, sw;
  int          ph, pw;
  int          dh, dw;
  gboolean     bias;
  /* Pools */
  gboolean     ceil_mode;
  gboolean     count_include_pad;
  /* Dropout */
  float        p;
  /* LeakyReLU's negative_slope, ELU's alpha; GELU's approximate="tanh" */
  float        alpha;
  gboolean     tanh_approx;
  /* BatchNorm1d/2d: num_features is in_features; affine is bias; momentum < 0
   * is momentum=None (a cumulative average) */
  float        eps;
  float        momentum;
  gboolean     track_running_stats;

  CsShape      in;          /* of inputs[0] */
  CsShape      out;

  /* The graph: the layers whose outputs this one takes, earlier in the spec
   * (-1: the model's input); a chain's layer takes { i - 1 }. */
  int          inputs[CS_LAYER_MAX_INPUTS];
  guint        n_inputs;
  /* A module called again: the index of the layer whose weights (and
   * running statistics) it uses, or -1 for its own. */
  int          shares;
} CsLayerSpec;

typedef struct
{
  char       *text;
  CsShape     input;
  GPtrArray  *layers;   /* of CsLayerSpec */
} CsSpec;

GQuark       cs_spec_error_quark    (void);

CsSpec      *cs_spec_parse          (const char    *text,
                                     GError       **error) G_GNUC_WARN_UNUSED_RESULT;
/* A spec, or a PyTorch nn.Module class's source: @class_name picks one of
 * several (NULL: the only one); the spec's text is then the spec it reads as. */
CsSpec      *cs_spec_parse_class    (const char    *text,
                                     const char    *class_name,
                                     GError       **error) G_GNUC_WARN_UNUSED_RESULT;
/* A .spec or .py file; "model.py:Net" names the class. */
CsSpec      *cs_spec_load_file      (const char    *path,
                                     GError       **error) G_GNUC_WARN_UNUSED_RESULT;
void         cs_spec_free           (CsSpec        *self);

/* The PyTorch class the spec was read from ("SeqBNNet"), or NULL. */
char        *cs_spec_class_name     (const CsSpec  *self) G_GNUC_WARN_UNUSED_RESULT;
guint        cs_spec_n_layers       (const CsSpec  *self);
const CsLayerSpec *cs_spec_layer    (const CsSpec  *self,
                                     guint          i);
CsShape      cs_spec_output_shape   (const CsSpec  *self);
gsize        cs_shape_numel         (CsShape        shape);
/* Weights and biases of all the layers. */
guint64      cs_spec_n_params       (const CsSpec  *self);
/* Float buffers that are kept but not trained: BatchNorm's running_mean and
 * running_var (num_batches_tracked, an integer, aside). */
guint64      cs_spec_n_state        (const CsSpec  *self);

/* What a spec may ask for: parameters in all (a quarter of this in MB per
 * copy: weights, gradients, optimizer state), and values per sample out of any layer. */
#define CS_SPEC_MAX_PARAMS      100000000
#define CS_SPEC_MAX_ACTIVATIONS 16777216
/* What a PyTorch class's forward is given: one digit of the data sets Convscope reads. */
#define CS_SPEC_DATASET_INPUT   ((CsShape) { 1, 28, 28, FALSE })
char        *cs_shape_to_string     (CsShape        shape) G_GNUC_WARN_UNUSED_RESULT;
const char  *cs_layer_kind_name     (CsLayerKind    kind);
gboolean     cs_layer_kind_has_params (CsLayerKind  kind);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsSpec, cs_spec_free)

G_END_DECLS
