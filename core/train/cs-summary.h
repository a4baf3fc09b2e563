/* torchinfo's summary of a spec, figure for figure, and what torchinfo cannot tell: real memory and FLOPs. */
#pragma once

#include <glib.h>

#include "spec/cs-spec.h"
#include "train/cs-trainer.h"

G_BEGIN_DECLS

typedef struct
{
  char    *label;         /* "├─Linear: 1-1" */
  char    *type;          /* "Linear" */
  char    *name;          /* "layer1" */
  int      depth;
  int      index;
  int      in_shape[4];
  int      in_ndim;
  int      out_shape[4];
  int      out_ndim;
  char    *kernel;        /* "[5, 5]", "2" or NULL */
  gsize    params;
  guint64  mult_adds;
  gboolean trainable;
  gboolean container;     /* an nn.Sequential: its layers are the deeper rows after it */
  gboolean recursive;     /* a module called again: its weights are an earlier row's */
} CsSummaryRow;

/* Rows nest at most this deep (an nn.Sequential in an nn.Sequential ...). */
#define CS_SUMMARY_MAX_DEPTH 8

typedef struct
{
  char      *model_name;    /* the top row: "MLP", "LeNet5", ... */
  int        batch;
  int        in_shape[4];     /* the model's input with the batch: what torchinfo's top row shows */
  int        in_ndim;
  int        out_shape[4];
  int        out_ndim;
  GArray    *rows;          /* of CsSummaryRow */

  /* torchinfo's totals */
  gsize      total_params;
  gsize      trainable_params;
  guint64    total_mult_adds;
  guint64    input_bytes;
  guint64    forward_backward_bytes;
  guint64    params_bytes;
  guint64    estimated_total_bytes;

  /* Convscope's own figures: bytes allocated to train at this batch size, as counted by the allocator */
  guint64    mem_params;
  guint64    mem_grads;
  guint64    mem_optimizer;
  guint64    mem_activations;   /* layer outputs, their gradients, im2col and scratch */
  guint64    mem_batch;         /* the batch's input, labels and the undo copy of the weights */
  guint64    mem_total;
  double     flops_per_sample;  /* training: forward, weight gradients and input gradients */
  double     forward_flops_per_sample;
} CsSummary;

CsSummary *cs_summary_new    (const CsSpec        *spec,
                              const char          *model_name,
                              int                  batch,
                              const CsHyperParams *hp) G_GNUC_WARN_UNUSED_RESULT;
void       cs_summary_free   (CsSummary           *self);

/* torchinfo's text layout; @columns is a subset of "input", "output", "kernel",
 * "params", "mult-adds", "trainable" (NULL: output and params, as torchinfo). */
char      *cs_summary_format (const CsSummary     *self,
                              const char * const  *columns,
                              gboolean             beyond) G_GNUC_WARN_UNUSED_RESULT;
char      *cs_summary_to_json (const CsSummary    *self) G_GNUC_WARN_UNUSED_RESULT;
char      *cs_format_thousands (guint64            v) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsSummary, cs_summary_free)

G_END_DECLS
