/* Occlusion sensitivity: which parts of an input a model's answer rests on. */
#pragma once

#include "nn/cs-model.h"

G_BEGIN_DECLS

/* How much @model's probability of class @target falls when each square patch
 * of @input (one sample, the model's input shape) is set to @fill across all
 * channels: patches of @patch pixels every @stride, row by row. Returns the
 * (*n_rows, *n_cols) map, each cell max (0, p - p_occluded), or NULL when
 * the input is smaller than a patch or @target is not one of the outputs. */
float *cs_occlusion_map (CsModel     *model,
                         const float *input,
                         int          target,
                         int          patch,
                         int          stride,
                         float        fill,
                         int         *n_rows,
                         int         *n_cols) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
