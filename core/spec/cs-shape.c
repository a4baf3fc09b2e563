/* Shape inference: each layer's output from its input, with the line, layer
 * and numbers in every error; parameter counts checked for overflow. */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "spec/cs-spec-private.h"

/* x.view(-1, N) / x.reshape(B, -1): checks the shape against what comes in. */
gboolean
cs_spec_check_view (CsLayerSpec *layer,
                    GPtrArray   *args,
                    const char  *label,
                    GError     **error)
{
  gsize numel = cs_shape_numel (layer->in);
  gint64 want = -1;
  guint n_pos = 0;

  for (guint i = 0; i < args->len; i++)
    {
      CsSpecArg *a = g_ptr_array_index (args, i);
      CsSpecVal *v = a->val;

      if (v->kind == CS_SPEC_VAL_TUPLE && args->len == 1)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                       "%s: write the shape without a tuple, e.g. view(-1, %" G_GSIZE_FORMAT ")", label, numel);
          return FALSE;
        }
      n_pos++;
      if (i == 0)
        continue;  /* the batch: -1, x.size(0), or a number */
      if (v->kind != CS_SPEC_VAL_INT)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                       "%s: view sizes must be integers", label);
          return FALSE;
        }
      want = v->i;
    }
  if (n_pos != 2)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                   "%s: only a view to (batch, features) is supported, e.g. view(-1, %" G_GSIZE_FORMAT ")",
                   label, numel);
      return FALSE;
    }
  {
    CsSpecArg *first = g_ptr_array_index (args, 0);
    if (first->val->kind == CS_SPEC_VAL_INT && first->val->i != -1 && want == -1)
      {
        g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                     "%s: a fixed batch size in view() ties the model to one batch; write view(-1, %" G_GSIZE_FORMAT ")",
                     label, numel);
        return FALSE;
      }
  }
  if (want != -1 && (gsize) want != numel)
    {
      g_autofree char *in = cs_shape_to_string (layer->in);
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                   "%s: cannot view %s = %" G_GSIZE_FORMAT " values per sample as %" G_GINT64_FORMAT
                   "; the size should be %" G_GSIZE_FORMAT,
                   label, in, numel, want, numel);
      return FALSE;
    }
  return TRUE;
}

/* Shape inference for one layer; messages name the line, the layer and the numbers. */
gboolean
cs_spec_infer_shape (CsLayerSpec   *layer,
                     const char    *label,
                     const char    *from,
                     const CsShape *map_before_flat,
                     GError       **error)
{
  CsShape in = layer->in;
  g_autofree char *in_str = cs_shape_to_string (in);

  switch (layer->kind)
    {
    case CS_LAYER_LINEAR:
      {
        gsize features = cs_shape_numel (in);
        /* Name the map the features came from: "16x5x5 = 400 features". */
        g_autofree char *map_str = map_before_flat != NULL ? cs_shape_to_string (*map_before_flat) : NULL;
        g_autofree char *what = map_str != NULL && map_before_flat->h * map_before_flat->w > 1
          ? g_strdup_printf ("%s = %" G_GSIZE_FORMAT " features", map_str, features)
          : g_strdup_printf ("%" G_GSIZE_FORMAT " features", features);

        if (!in.flat)
          {
            if ((gsize) layer->in_features != features)
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                           "%s: %s gets %s = %" G_GSIZE_FORMAT " features from %s; in_features should be %"
                           G_GSIZE_FORMAT ", and the map needs flattening first (add \"flat = nn.Flatten()\" before it)",
                           label, layer->call, in_str, features, from, features);
            else
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                           "%s: %s gets a %s map from %s; flatten it first (add \"flat = nn.Flatten()\" before it)",
                           label, layer->call, in_str, from);
            return FALSE;
          }
        if ((gsize) layer->in_features != features)
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                         "%s: %s gets %s from %s; in_features should be %" G_GSIZE_FORMAT,
                         label, layer->call, what, from, features);
            return FALSE;
          }
        layer->out = (CsShape) { layer->out_features, 1, 1, TRUE };
        return TRUE;
      }

    case CS_LAYER_CONV2D:
    case CS_LAYER_MAXPOOL2D:
    case CS_LAYER_AVGPOOL2D:
      {
        int ekh = layer->dh * (layer->kh - 1) + 1;
        int ekw = layer->dw * (layer->kw - 1) + 1;
        int hp = in.h + 2 * layer->ph;
        int wp = in.w + 2 * layer->pw;
        int oh, ow;

        if (in.flat)
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                         "%s: %s needs a CxHxW map but gets %d flat features from %s",
                         label, layer->call, in.c, from);
            return FALSE;
          }
        if (layer->kind == CS_LAYER_CONV2D && layer->in_channels != in.c)
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                         "%s: %s gets %s from %s, %d channel%s; in_channels should be %d",
                         label, layer->call, in_str, from, in.c, in.c == 1 ? "" : "s", in.c);
            return FALSE;
          }
        if (ekh > hp || ekw > wp)
          {
            if (layer->ph == 0 && layer->pw == 0)
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                           "%s: its input is %dx%d, smaller than the %dx%d kernel",
                           label, in.h, in.w, ekh, ekw);
            else
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                           "%s: its input is %dx%d (%dx%d padded), smaller than the %dx%d kernel",
                           label, in.h, in.w, hp, wp, ekh, ekw);
            return FALSE;
          }
        if (layer->kind != CS_LAYER_CONV2D && layer->ceil_mode)
          {
            oh = (hp - ekh + layer->sh - 1) / layer->sh + 1;
            ow = (wp - ekw + layer->sw - 1) / layer->sw + 1;
            /* The last window must start inside the input or its left padding. */
            if ((oh - 1) * layer->sh >= in.h + layer->ph)
              oh--;
            if ((ow - 1) * layer->sw >= in.w + layer->pw)
              ow--;
          }
        else
          {
            oh = (hp - ekh) / layer->sh + 1;
            ow = (wp - ekw) / layer->sw + 1;
          }
        layer->out = (CsShape) { layer->kind == CS_LAYER_CONV2D ? layer->out_channels : in.c, oh, ow, FALSE };
        return TRUE;
      }

    case CS_LAYER_FLATTEN:
      layer->out = (CsShape) { (int) cs_shape_numel (in), 1, 1, TRUE };
      return TRUE;

    case CS_LAYER_LOGSOFTMAX:
    case CS_LAYER_SOFTMAX:
      if (!in.flat)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                       "%s: %s over classes needs flat features, but gets a %s map from %s",
                       label, layer->kind == CS_LAYER_SOFTMAX ? "softmax" : "log_softmax", in_str, from);
          return FALSE;
        }
      layer->out = in;
      return TRUE;

    case CS_LAYER_ADAPTIVE_AVGPOOL2D:
    case CS_LAYER_DROPOUT2D:
      if (in.flat)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                       "%s: %s works on the channels of a map, but gets flat features %s from %s%s", label, layer->call,
                       in_str, from, layer->kind == CS_LAYER_DROPOUT2D ? " (use nn.Dropout on features)" : "");
          return FALSE;
        }
      layer->out = layer->kind == CS_LAYER_DROPOUT2D ? in : (CsShape) { in.c, layer->kh, layer->kw, FALSE };
      return TRUE;

    case CS_LAYER_BATCHNORM1D:
    case CS_LAYER_BATCHNORM2D:
      {
        gboolean two_d = layer->kind == CS_LAYER_BATCHNORM2D;
        if (two_d == in.flat)
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                         "%s: %s normalizes %s, but gets %s %s from %s%s", label, layer->call,
                         two_d ? "the channels of a map" : "flat features",
                         in.flat ? "flat features" : "a", in_str, from,
                         two_d ? " (use nn.BatchNorm1d after Flatten)" : " (use nn.BatchNorm2d on maps)");
            return FALSE;
          }
        if (layer->in_features != in.c)
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                         "%s: %s gets %s from %s; num_features should be %d",
                         label, layer->call, in_str, from, in.c);
            return FALSE;
          }
        layer->out = in;
        return TRUE;
      }

    case CS_LAYER_ADD:
    case CS_LAYER_CAT:
      g_assert_not_reached ();   /* cs_spec_infer_join_shape () */

    case CS_LAYER_RELU:
    case CS_LAYER_TANH:
    case CS_LAYER_SIGMOID:
    case CS_LAYER_DROPOUT:
    case CS_LAYER_LEAKY_RELU:
    case CS_LAYER_ELU:
    case CS_LAYER_GELU:
    case CS_LAYER_SILU:
    case CS_LAYER_IDENTITY:
      layer->out = in;
      return TRUE;

    case CS_N_LAYER_KINDS:
    default:
      g_assert_not_reached ();
    }
}

gboolean
cs_spec_infer_join_shape (CsLayerSpec        *layer,
                          const CsShape      *in,
                          const char * const *from,
                          const char         *label,
                          GError            **error)
{
  CsShape out = in[0];

  for (guint i = 1; i < layer->n_inputs; i++)
    {
      g_autofree char *a = cs_shape_to_string (in[0]);
      g_autofree char *b = cs_shape_to_string (in[i]);

      if (layer->kind == CS_LAYER_ADD)
        {
          if (in[i].c != in[0].c || in[i].h != in[0].h || in[i].w != in[0].w || in[i].flat != in[0].flat)
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                           "%s: adds %s (from %s) and %s (from %s); a sum needs the same shapes (a shortcut "
                           "that changes the shape needs a projection, e.g. a 1x1 nn.Conv2d with the same stride)",
                           label, a, from[0], b, from[i]);
              return FALSE;
            }
          continue;
        }
      if (in[i].flat != in[0].flat || (!in[0].flat && (in[i].h != in[0].h || in[i].w != in[0].w)))
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                       "%s: cannot put %s (from %s) beside %s (from %s) along dim 1; maps need the same height "
                       "and width", label, a, from[0], b, from[i]);
          return FALSE;
        }
      if ((gint64) out.c + in[i].c > CS_SPEC_MAX_ACTIVATIONS)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE, "%s: too many channels", label);
          return FALSE;
        }
      out.c += in[i].c;
    }
  layer->out = out;
  return TRUE;
}

/* Parameters of one layer, or FALSE when they do not fit in 64 bits. */
static gboolean
layer_params (const CsLayerSpec *layer,
              guint64           *out)
{
  guint64 n = 0;

  /* A module called again adds no weights. */
  if (layer->shares >= 0)
    {
      *out = 0;
      return TRUE;
    }
  if (layer->kind == CS_LAYER_LINEAR)
    return g_uint64_checked_mul (&n, (guint64) layer->out_features, (guint64) layer->in_features) &&
           g_uint64_checked_add (out, n, layer->bias ? (guint64) layer->out_features : 0);
  if (layer->kind == CS_LAYER_CONV2D)
    return g_uint64_checked_mul (&n, (guint64) layer->out_channels, (guint64) layer->in_channels) &&
           g_uint64_checked_mul (&n, n, (guint64) layer->kh) &&
           g_uint64_checked_mul (&n, n, (guint64) layer->kw) &&
           g_uint64_checked_add (out, n, layer->bias ? (guint64) layer->out_channels : 0);
  /* weight and bias when affine; the running statistics are buffers, not parameters */
  if (layer->kind == CS_LAYER_BATCHNORM1D || layer->kind == CS_LAYER_BATCHNORM2D)
    {
      *out = layer->bias ? 2 * (guint64) layer->in_features : 0;
      return TRUE;
    }
  *out = 0;
  return TRUE;
}

/* The sizes a model can be built with: each layer's output per sample, and the
 * parameters of all layers so far. Checked before anything is allocated. */
gboolean
cs_spec_check_sizes (const CsLayerSpec *layer,
                     const char        *label,
                     guint64           *total_params,
                     GError           **error)
{
  guint64 n = G_MAXUINT64, out = (guint64) layer->out.c * (guint64) layer->out.h * (guint64) layer->out.w;

  if (out > CS_SPEC_MAX_ACTIVATIONS)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                   "%s: %s gives %" G_GUINT64_FORMAT " values per sample; at most %d are supported",
                   label, layer->call, out, CS_SPEC_MAX_ACTIVATIONS);
      return FALSE;
    }
  if (!layer_params (layer, &n) || n > CS_SPEC_MAX_PARAMS ||
      !g_uint64_checked_add (total_params, *total_params, n) || *total_params > CS_SPEC_MAX_PARAMS)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                   "%s: %s has %" G_GUINT64_FORMAT " parameters, which makes the model larger than the "
                   "%d parameters Convscope trains (%d MB for each of weights, gradients and optimizer state)",
                   label, layer->call, n, CS_SPEC_MAX_PARAMS, CS_SPEC_MAX_PARAMS / 1000000 * 4);
      return FALSE;
    }
  return TRUE;
}

guint64
cs_spec_n_params (const CsSpec *self)
{
  guint64 total = 0;

  g_return_val_if_fail (self != NULL, 0);

  for (guint i = 0; i < self->layers->len; i++)
    {
      guint64 n = 0;
      /* Parsed specs passed cs_spec_check_sizes: no overflow here. */
      layer_params (g_ptr_array_index (self->layers, i), &n);
      total += n;
    }
  return total;
}

guint64
cs_spec_n_state (const CsSpec *self)
{
  guint64 total = 0;

  g_return_val_if_fail (self != NULL, 0);

  for (guint i = 0; i < self->layers->len; i++)
    {
      const CsLayerSpec *l = g_ptr_array_index (self->layers, i);
      if ((l->kind == CS_LAYER_BATCHNORM1D || l->kind == CS_LAYER_BATCHNORM2D) && l->track_running_stats &&
          l->shares < 0)
        total += 2 * (guint64) l->in_features;
    }
  return total;
}

gsize
cs_shape_numel (CsShape shape)
{
  return (gsize) shape.c * shape.h * shape.w;
}

char *
cs_shape_to_string (CsShape shape)
{
  if (shape.flat)
    return g_strdup_printf ("%d", shape.c);
  return g_strdup_printf ("%dx%dx%d", shape.c, shape.h, shape.w);
}

