/* Occlusion sensitivity (Zeiler and Fergus, 2014): the input with one patch
 * blanked at a time, all patches in one batch through the model. */

#include "config.h"

#include <string.h>

#include "nn/cs-occlusion.h"

float *
cs_occlusion_map (CsModel     *model,
                  const float *input,
                  int          target,
                  int          patch,
                  int          stride,
                  float        fill,
                  int         *n_rows,
                  int         *n_cols)
{
  const CsSpec *spec;
  CsShape in, out;
  gsize numel, classes, n, batch_floats, proba_floats;
  g_autofree float *batch = NULL;
  g_autofree float *proba = NULL;
  float reference[1024];
  float *map;
  int rows, cols;

  g_return_val_if_fail (model != NULL && input != NULL, NULL);
  g_return_val_if_fail (patch > 0 && stride > 0, NULL);
  g_return_val_if_fail (n_rows != NULL && n_cols != NULL, NULL);

  spec = cs_model_get_spec (model);
  in = spec->input;
  out = cs_spec_output_shape (spec);
  numel = cs_shape_numel (in);
  classes = cs_shape_numel (out);
  if (in.h < patch || in.w < patch || target < 0 || (gsize) target >= classes || classes > G_N_ELEMENTS (reference))
    return NULL;
  rows = (in.h - patch) / stride + 1;
  cols = (in.w - patch) / stride + 1;
  n = (gsize) rows * cols;
  if (!g_size_checked_mul (&batch_floats, n, numel) || !g_size_checked_mul (&proba_floats, n, classes) ||
      n > G_MAXINT)
    return NULL;

  cs_model_predict (model, input, 1, reference);
  batch = g_new (float, batch_floats);
  for (int oy = 0; oy < rows; oy++)
    for (int ox = 0; ox < cols; ox++)
      {
        float *img = batch + ((gsize) oy * cols + ox) * numel;

        memcpy (img, input, numel * sizeof (float));
        for (int c = 0; c < in.c; c++)
          for (int y = 0; y < patch; y++)
            for (int x = 0; x < patch; x++)
              img[((gsize) c * in.h + oy * stride + y) * in.w + ox * stride + x] = fill;
      }
  proba = g_new (float, proba_floats);
  cs_model_predict (model, batch, (int) n, proba);

  map = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    map[i] = MAX (0.0f, reference[target] - proba[i * classes + target]);
  *n_rows = rows;
  *n_cols = cols;
  return map;
}
