/* The layer catalogue: what each nn. module and F. function takes, in
 * PyTorch's order, and binding a call's arguments to a CsLayerSpec. */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "spec/cs-spec-private.h"

static const CsLayerDef layer_defs[] = {
  { "Linear", CS_LAYER_LINEAR, FALSE, { "in_features", "out_features", "bias", "device", "dtype" }, 2 },
  { "Conv2d", CS_LAYER_CONV2D, FALSE, { "in_channels", "out_channels", "kernel_size", "stride", "padding",
                                        "dilation", "groups", "bias", "padding_mode" }, 3 },
  { "MaxPool2d", CS_LAYER_MAXPOOL2D, FALSE, { "kernel_size", "stride", "padding", "dilation",
                                              "return_indices", "ceil_mode" }, 1 },
  { "AvgPool2d", CS_LAYER_AVGPOOL2D, FALSE, { "kernel_size", "stride", "padding", "ceil_mode",
                                              "count_include_pad", "divisor_override" }, 1 },
  { "ReLU", CS_LAYER_RELU, FALSE, { "inplace" }, 0 },
  { "Tanh", CS_LAYER_TANH, FALSE, { NULL }, 0 },
  { "Sigmoid", CS_LAYER_SIGMOID, FALSE, { NULL }, 0 },
  { "Dropout", CS_LAYER_DROPOUT, FALSE, { "p", "inplace" }, 0 },
  { "Flatten", CS_LAYER_FLATTEN, FALSE, { "start_dim", "end_dim" }, 0 },
  { "LogSoftmax", CS_LAYER_LOGSOFTMAX, FALSE, { "dim" }, 0 },
  { "LeakyReLU", CS_LAYER_LEAKY_RELU, FALSE, { "negative_slope", "inplace" }, 0 },
  { "ELU", CS_LAYER_ELU, FALSE, { "alpha", "inplace" }, 0 },
  { "GELU", CS_LAYER_GELU, FALSE, { "approximate" }, 0 },
  { "SiLU", CS_LAYER_SILU, FALSE, { "inplace" }, 0 },
  { "Identity", CS_LAYER_IDENTITY, FALSE, { NULL }, 0 },
  { "AdaptiveAvgPool2d", CS_LAYER_ADAPTIVE_AVGPOOL2D, FALSE, { "output_size" }, 1 },
  { "Softmax", CS_LAYER_SOFTMAX, FALSE, { "dim" }, 0 },
  { "Dropout2d", CS_LAYER_DROPOUT2D, FALSE, { "p", "inplace" }, 0 },
  { "BatchNorm1d", CS_LAYER_BATCHNORM1D, FALSE, { "num_features", "eps", "momentum", "affine",
                                                  "track_running_stats", "device", "dtype" }, 1 },
  { "BatchNorm2d", CS_LAYER_BATCHNORM2D, FALSE, { "num_features", "eps", "momentum", "affine",
                                                  "track_running_stats", "device", "dtype" }, 1 },
  /* torch.nn.functional, with the tensor as first argument */
  { "relu", CS_LAYER_RELU, TRUE, { "input", "inplace" }, 0 },
  { "tanh", CS_LAYER_TANH, TRUE, { "input" }, 0 },
  { "sigmoid", CS_LAYER_SIGMOID, TRUE, { "input" }, 0 },
  { "max_pool2d", CS_LAYER_MAXPOOL2D, TRUE, { "input", "kernel_size", "stride", "padding", "dilation",
                                              "ceil_mode", "return_indices" }, 2 },
  { "avg_pool2d", CS_LAYER_AVGPOOL2D, TRUE, { "input", "kernel_size", "stride", "padding", "ceil_mode",
                                              "count_include_pad", "divisor_override" }, 2 },
  { "dropout", CS_LAYER_DROPOUT, TRUE, { "input", "p", "training", "inplace" }, 0 },
  { "flatten", CS_LAYER_FLATTEN, TRUE, { "input", "start_dim", "end_dim" }, 0 },
  { "log_softmax", CS_LAYER_LOGSOFTMAX, TRUE, { "input", "dim", "_stacklevel", "dtype" }, 0 },
  { "adaptive_avg_pool2d", CS_LAYER_ADAPTIVE_AVGPOOL2D, TRUE, { "input", "output_size" }, 2 },
  { "softmax", CS_LAYER_SOFTMAX, TRUE, { "input", "dim", "_stacklevel", "dtype" }, 0 },
  { "dropout2d", CS_LAYER_DROPOUT2D, TRUE, { "input", "p", "training", "inplace" }, 0 },
  { "add", CS_LAYER_ADD, TRUE, { "input", "other" }, 2 },
  { "cat", CS_LAYER_CAT, TRUE, { "tensors", "dim" }, 1 },
  { "concat", CS_LAYER_CAT, TRUE, { "tensors", "dim" }, 1 },
  { "leaky_relu", CS_LAYER_LEAKY_RELU, TRUE, { "input", "negative_slope", "inplace" }, 0 },
  { "elu", CS_LAYER_ELU, TRUE, { "input", "alpha", "inplace" }, 0 },
  { "gelu", CS_LAYER_GELU, TRUE, { "input", "approximate" }, 0 },
  { "silu", CS_LAYER_SILU, TRUE, { "input", "inplace" }, 0 },
  /* Tensor methods: x.view(-1, 784), x.flatten(1), x.reshape(x.size(0), -1) */
  { "view", CS_LAYER_FLATTEN, TRUE, { "*shape" }, 0 },
  { "reshape", CS_LAYER_FLATTEN, TRUE, { "*shape" }, 0 },
};

static const char * const kind_names[CS_N_LAYER_KINDS] = {
  "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "Tanh", "Sigmoid", "Dropout", "Flatten", "LogSoftmax",
  "LeakyReLU", "ELU", "GELU", "SiLU", "Identity", "BatchNorm1d", "BatchNorm2d",
  "AdaptiveAvgPool2d", "Softmax", "Dropout2d", "Add", "Cat",
};

const char *
cs_layer_kind_name (CsLayerKind kind)
{
  g_return_val_if_fail (kind < CS_N_LAYER_KINDS, "?");
  return kind_names[kind];
}

gboolean
cs_layer_kind_has_params (CsLayerKind kind)
{
  return kind == CS_LAYER_LINEAR || kind == CS_LAYER_CONV2D || kind == CS_LAYER_BATCHNORM1D ||
         kind == CS_LAYER_BATCHNORM2D;
}

static guint
edit_distance (const char *a,
               const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *row = g_new (guint, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++)
    {
      guint prev = row[0];
      row[0] = i;
      for (gsize j = 1; j <= lb; j++)
        {
          guint cur = row[j];
          guint cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;
          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), prev + cost);
          prev = cur;
        }
    }
  return row[lb];
}

const char *
cs_spec_closest (const char         *word,
                 const char * const *candidates,
                 gsize               n)
{
  const char *best = NULL;
  guint best_d = 3;

  for (gsize i = 0; i < n; i++)
    {
      guint d;
      if (candidates[i] == NULL)
        continue;
      d = edit_distance (word, candidates[i]);
      if (d < best_d)
        best_d = d, best = candidates[i];
    }
  return best;
}

/* ---- binding arguments -------------------------------------------------- */

static void bound_fail (CsLayerBinding *b, int code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
bound_fail (CsLayerBinding      *b,
            int         code,
            const char *format,
            ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (b->error, CS_SPEC_ERROR, code, "%s: %s", b->label, msg);
}

gboolean
cs_layer_bind_args (CsLayerBinding *b,
                    GPtrArray      *args)
{
  guint n_params = 0;
  guint pos = 0;

  while (n_params < G_N_ELEMENTS (b->def->params) && b->def->params[n_params] != NULL)
    n_params++;

  for (guint i = 0; i < args->len; i++)
    {
      CsSpecArg *a = g_ptr_array_index (args, i);
      guint slot = G_MAXUINT;

      if (a->key == NULL)
        {
          if (pos >= n_params)
            {
              bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s() takes at most %u positional arguments, %u given",
                          b->def->name, n_params, pos + 1);
              return FALSE;
            }
          slot = pos++;
        }
      else
        {
          for (guint k = 0; k < n_params; k++)
            if (g_str_equal (b->def->params[k], a->key))
              slot = k;
          if (slot == G_MAXUINT)
            {
              const char *hint = cs_spec_closest (a->key, b->def->params, n_params);
              bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s() got an unexpected keyword argument '%s'%s%s%s",
                          b->def->name, a->key, hint ? " (did you mean " : "", hint ? hint : "", hint ? "?)" : "");
              return FALSE;
            }
          if (b->vals[slot] != NULL)
            {
              bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s() got multiple values for argument '%s'",
                          b->def->name, a->key);
              return FALSE;
            }
        }
      b->vals[slot] = a->val;
    }

  for (guint k = 0; k < b->def->n_required; k++)
    if (b->vals[k] == NULL && !g_str_equal (b->def->params[k], "input"))
      {
        bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s() is missing its required argument '%s'",
                    b->def->name, b->def->params[k]);
        return FALSE;
      }
  return TRUE;
}

static CsSpecVal *
bound_get (CsLayerBinding *b,
           const char     *param)
{
  for (guint k = 0; k < G_N_ELEMENTS (b->def->params) && b->def->params[k]; k++)
    if (g_str_equal (b->def->params[k], param))
      return b->vals[k];
  return NULL;
}

static const char *
val_type_name (const CsSpecVal *v)
{
  switch (v->kind)
    {
    case CS_SPEC_VAL_INT: return "an integer";
    case CS_SPEC_VAL_FLOAT: return "a float";
    case CS_SPEC_VAL_BOOL: return "a bool";
    case CS_SPEC_VAL_NONE: return "None";
    case CS_SPEC_VAL_STR: return "a string";
    case CS_SPEC_VAL_IDENT: return "a name";
    case CS_SPEC_VAL_TUPLE: return "a tuple";
    default: return "a value";
    }
}

static gboolean
get_int (CsLayerBinding *b,
         const char     *param,
         int             def,
         int             min,
         int            *out)
{
  CsSpecVal *v = bound_get (b, param);

  if (v == NULL || v->kind == CS_SPEC_VAL_NONE)
    {
      *out = def;
      return TRUE;
    }
  if (v->kind != CS_SPEC_VAL_INT)
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be an integer, not %s", param, val_type_name (v));
      return FALSE;
    }
  if (v->i < min)
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be at least %d, not %" G_GINT64_FORMAT,
                  param, min, v->i);
      return FALSE;
    }
  *out = (int) v->i;
  return TRUE;
}

/* An int or a pair of ints: kernel_size=5 or kernel_size=(5, 3). */
static gboolean
get_pair (CsLayerBinding *b,
          const char     *param,
          int             def,
          int             min,
          int            *h,
          int            *w)
{
  CsSpecVal *v = bound_get (b, param);

  if (v == NULL || v->kind == CS_SPEC_VAL_NONE)
    {
      *h = *w = def;
      return TRUE;
    }
  if (v->kind == CS_SPEC_VAL_TUPLE)
    {
      CsSpecVal *a, *c;

      if (v->items->len != 2)
        {
          bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be an integer or a pair, not a %u-tuple",
                      param, v->items->len);
          return FALSE;
        }
      a = g_ptr_array_index (v->items, 0);
      c = g_ptr_array_index (v->items, 1);
      if (a->kind != CS_SPEC_VAL_INT || c->kind != CS_SPEC_VAL_INT)
        {
          bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must hold integers", param);
          return FALSE;
        }
      if (a->i < min || c->i < min || a->i > G_MAXINT16 || c->i > G_MAXINT16)
        {
          bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be between %d and %d, not (%" G_GINT64_FORMAT
                      ", %" G_GINT64_FORMAT ")", param, min, G_MAXINT16, a->i, c->i);
          return FALSE;
        }
      *h = (int) a->i;
      *w = (int) c->i;
      return TRUE;
    }
  if (v->kind != CS_SPEC_VAL_INT)
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be an integer or a pair, not %s", param, val_type_name (v));
      return FALSE;
    }
  if (v->i < min || v->i > G_MAXINT16)
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be between %d and %d, not %" G_GINT64_FORMAT,
                  param, min, G_MAXINT16, v->i);
      return FALSE;
    }
  *h = *w = (int) v->i;
  return TRUE;
}

static gboolean
get_bool (CsLayerBinding *b,
          const char     *param,
          gboolean        def,
          gboolean       *out)
{
  CsSpecVal *v = bound_get (b, param);

  if (v == NULL || v->kind == CS_SPEC_VAL_NONE)
    {
      *out = def;
      return TRUE;
    }
  if (v->kind == CS_SPEC_VAL_BOOL || (v->kind == CS_SPEC_VAL_INT && (v->i == 0 || v->i == 1)))
    {
      *out = v->i != 0;
      return TRUE;
    }
  bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be True or False, not %s", param, val_type_name (v));
  return FALSE;
}

static gboolean
get_float (CsLayerBinding *b,
           const char     *param,
           double          def,
           double         *out)
{
  CsSpecVal *v = bound_get (b, param);

  if (v == NULL || v->kind == CS_SPEC_VAL_NONE)
    {
      *out = def;
      return TRUE;
    }
  if (v->kind == CS_SPEC_VAL_INT)
    *out = v->i;
  else if (v->kind == CS_SPEC_VAL_FLOAT)
    *out = v->f;
  else
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be a number, not %s", param, val_type_name (v));
      return FALSE;
    }
  return TRUE;
}

/* Arguments that PyTorch accepts and that change nothing here, or that we refuse. */
static gboolean
check_unsupported (CsLayerBinding *b)
{
  CsSpecVal *v;

  if ((v = bound_get (b, "groups")) != NULL && !(v->kind == CS_SPEC_VAL_INT && v->i == 1))
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "groups other than 1 are not supported");
      return FALSE;
    }
  if ((v = bound_get (b, "padding_mode")) != NULL && !(v->kind == CS_SPEC_VAL_STR && g_str_equal (v->s, "zeros")))
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "only padding_mode='zeros' is supported");
      return FALSE;
    }
  if ((v = bound_get (b, "return_indices")) != NULL && !(v->kind == CS_SPEC_VAL_BOOL && v->i == 0))
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "return_indices=True is not supported in a spec");
      return FALSE;
    }
  if ((v = bound_get (b, "divisor_override")) != NULL && v->kind != CS_SPEC_VAL_NONE)
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "divisor_override is not supported");
      return FALSE;
    }
  if ((v = bound_get (b, "dtype")) != NULL && v->kind != CS_SPEC_VAL_NONE)
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "only float32 is supported (leave dtype out)");
      return FALSE;
    }
  return TRUE;
}

/* Fills @layer from the bound arguments. Shapes come later. */
gboolean
cs_layer_fill (CsLayerBinding *b,
               CsLayerSpec    *layer)
{
  CsSpecVal *v;

  if (!check_unsupported (b))
    return FALSE;

  switch (layer->kind)
    {
    case CS_LAYER_LINEAR:
      return get_int (b, "in_features", 0, 1, &layer->in_features) &&
             get_int (b, "out_features", 0, 1, &layer->out_features) &&
             get_bool (b, "bias", TRUE, &layer->bias);

    case CS_LAYER_CONV2D:
      if (!get_int (b, "in_channels", 0, 1, &layer->in_channels) ||
          !get_int (b, "out_channels", 0, 1, &layer->out_channels) ||
          !get_pair (b, "kernel_size", 1, 1, &layer->kh, &layer->kw) ||
          !get_pair (b, "stride", 1, 1, &layer->sh, &layer->sw) ||
          !get_pair (b, "dilation", 1, 1, &layer->dh, &layer->dw) ||
          !get_bool (b, "bias", TRUE, &layer->bias))
        return FALSE;
      v = bound_get (b, "padding");
      if (v != NULL && v->kind == CS_SPEC_VAL_STR)
        {
          if (g_str_equal (v->s, "valid"))
            layer->ph = layer->pw = 0;
          else if (g_str_equal (v->s, "same"))
            {
              int th = layer->dh * (layer->kh - 1), tw = layer->dw * (layer->kw - 1);

              if (layer->sh != 1 || layer->sw != 1)
                {
                  bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "padding='same' needs stride 1");
                  return FALSE;
                }
              if (th % 2 != 0 || tw % 2 != 0)
                {
                  bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT,
                              "padding='same' with an even kernel needs asymmetric padding, which is not supported; "
                              "use an odd kernel_size");
                  return FALSE;
                }
              layer->ph = th / 2;
              layer->pw = tw / 2;
            }
          else
            {
              bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "padding must be an integer, a pair, 'same' or 'valid', not '%s'",
                          v->s);
              return FALSE;
            }
          return TRUE;
        }
      return get_pair (b, "padding", 0, 0, &layer->ph, &layer->pw);

    case CS_LAYER_MAXPOOL2D:
    case CS_LAYER_AVGPOOL2D:
      if (!get_pair (b, "kernel_size", 1, 1, &layer->kh, &layer->kw) ||
          !get_pair (b, "padding", 0, 0, &layer->ph, &layer->pw) ||
          !get_bool (b, "ceil_mode", FALSE, &layer->ceil_mode))
        return FALSE;
      /* stride defaults to kernel_size, as in PyTorch */
      if (!get_pair (b, "stride", -1, 1, &layer->sh, &layer->sw))
        return FALSE;
      if (layer->sh == -1)
        layer->sh = layer->kh, layer->sw = layer->kw;
      layer->dh = layer->dw = 1;
      if (layer->kind == CS_LAYER_MAXPOOL2D)
        {
          if (!get_pair (b, "dilation", 1, 1, &layer->dh, &layer->dw))
            return FALSE;
        }
      else if (!get_bool (b, "count_include_pad", TRUE, &layer->count_include_pad))
        return FALSE;
      if (2 * layer->ph > layer->dh * (layer->kh - 1) + 1 || 2 * layer->pw > layer->dw * (layer->kw - 1) + 1)
        {
          bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT,
                      "padding (%d, %d) must be at most half of the kernel size (%d, %d)",
                      layer->ph, layer->pw, layer->kh, layer->kw);
          return FALSE;
        }
      return TRUE;

    case CS_LAYER_ADAPTIVE_AVGPOOL2D:
      if (bound_get (b, "output_size") != NULL && bound_get (b, "output_size")->kind == CS_SPEC_VAL_TUPLE)
        {
          CsSpecVal *t = bound_get (b, "output_size");
          for (guint k = 0; k < t->items->len; k++)
            if (((CsSpecVal *) g_ptr_array_index (t->items, k))->kind == CS_SPEC_VAL_NONE)
              {
                bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT,
                            "output_size with None (keep that size) is not supported; give both sizes");
                return FALSE;
              }
        }
      return get_pair (b, "output_size", 1, 1, &layer->kh, &layer->kw);

    case CS_LAYER_DROPOUT:
    case CS_LAYER_DROPOUT2D:
      {
        double p;
        gboolean training = TRUE;

        if (!get_float (b, "p", 0.5, &p))
          return FALSE;
        if (!(p >= 0.0 && p <= 1.0))
          {
            bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "dropout probability has to be between 0 and 1, but got %g", p);
            return FALSE;
          }
        /* F.dropout(x, p, training=self.training) is the module's behaviour;
         * training=False makes it a no-op. */
        v = bound_get (b, "training");
        if (v != NULL && v->kind == CS_SPEC_VAL_BOOL)
          training = v->i != 0;
        layer->p = training ? (float) p : 0.0f;
        return TRUE;
      }

    case CS_LAYER_FLATTEN:
      {
        int start = 1, end = -1;

        if (g_str_equal (b->def->name, "view") || g_str_equal (b->def->name, "reshape"))
          return TRUE;  /* checked with the shapes */
        v = bound_get (b, "start_dim");
        if (v != NULL && !(v->kind == CS_SPEC_VAL_INT))
          {
            bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "start_dim must be an integer");
            return FALSE;
          }
        if (v != NULL)
          start = (int) v->i;
        v = bound_get (b, "end_dim");
        if (v != NULL && v->kind == CS_SPEC_VAL_INT)
          end = (int) v->i;
        if (start != 1 || end != -1)
          {
            bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT,
                        "only Flatten(start_dim=1, end_dim=-1) is supported (the batch stays, the rest is flattened)");
            return FALSE;
          }
        return TRUE;
      }

    case CS_LAYER_LOGSOFTMAX:
    case CS_LAYER_SOFTMAX:
      v = bound_get (b, "dim");
      if (v != NULL && v->kind != CS_SPEC_VAL_NONE && !(v->kind == CS_SPEC_VAL_INT && (v->i == 1 || v->i == -1)))
        {
          bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "only dim=1 (the classes) is supported");
          return FALSE;
        }
      return TRUE;

    case CS_LAYER_RELU:
    case CS_LAYER_TANH:
    case CS_LAYER_SIGMOID:
    case CS_LAYER_SILU:
    case CS_LAYER_IDENTITY:
      return TRUE;

    case CS_LAYER_LEAKY_RELU:
    case CS_LAYER_ELU:
      {
        double a;

        if (!get_float (b, layer->kind == CS_LAYER_LEAKY_RELU ? "negative_slope" : "alpha",
                        layer->kind == CS_LAYER_LEAKY_RELU ? 0.01 : 1.0, &a))
          return FALSE;
        if (!isfinite (a) || fabs (a) > 1e6)
          {
            bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be a finite number",
                        layer->kind == CS_LAYER_LEAKY_RELU ? "negative_slope" : "alpha");
            return FALSE;
          }
        layer->alpha = (float) a;
        return TRUE;
      }

    case CS_LAYER_BATCHNORM1D:
    case CS_LAYER_BATCHNORM2D:
      {
        double eps, momentum = 0.1;

        if (!get_int (b, "num_features", 0, 1, &layer->in_features) ||
            !get_float (b, "eps", 1e-5, &eps) ||
            !get_bool (b, "affine", TRUE, &layer->bias) ||
            !get_bool (b, "track_running_stats", TRUE, &layer->track_running_stats))
          return FALSE;
        v = bound_get (b, "momentum");
        if (v != NULL && v->kind == CS_SPEC_VAL_NONE)
          momentum = -1;
        else if (!get_float (b, "momentum", 0.1, &momentum))
          return FALSE;
        else if (!(momentum >= 0 && momentum <= 1))
          {
            bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "momentum must be between 0 and 1 (or None), not %g", momentum);
            return FALSE;
          }
        if (!(eps > 0 && eps < 1))
          {
            bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "eps must be a small positive number, not %g", eps);
            return FALSE;
          }
        layer->eps = (float) eps;
        layer->momentum = (float) momentum;
        return TRUE;
      }

    case CS_LAYER_GELU:
      v = bound_get (b, "approximate");
      if (v != NULL && !(v->kind == CS_SPEC_VAL_STR && (g_str_equal (v->s, "none") || g_str_equal (v->s, "tanh"))))
        {
          bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "approximate must be 'none' or 'tanh'");
          return FALSE;
        }
      layer->tanh_approx = v != NULL && g_str_equal (v->s, "tanh");
      return TRUE;

    case CS_N_LAYER_KINDS:
    default:
      g_assert_not_reached ();
    }
}

const CsLayerDef *
cs_layer_def_find (const char *callee,
                   gboolean   *method)
{
  const char *base = strrchr (callee, '.');
  gboolean functional;

  *method = FALSE;
  base = base ? base + 1 : callee;
  /* F.relu, torch.nn.functional.relu, torch.relu, torch.flatten */
  functional = g_str_has_prefix (callee, "F.") || g_str_has_prefix (callee, "functional.") ||
               g_str_has_prefix (callee, "torch.nn.functional.") || g_str_has_prefix (callee, "nn.functional.") ||
               (g_str_has_prefix (callee, "torch.") && !g_str_has_prefix (callee, "torch.nn."));
  /* x.view(...), x.flatten(1), x.relu() */
  if (g_str_has_prefix (callee, "x.") || g_str_has_prefix (callee, "out."))
    {
      *method = TRUE;
      functional = TRUE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (layer_defs); i++)
    if (g_str_equal (layer_defs[i].name, base) && layer_defs[i].functional == functional)
      return &layer_defs[i];
  return NULL;
}

char *
cs_layer_unknown_hint (const char *callee)
{
  const char *base = strrchr (callee, '.');
  const char *names[G_N_ELEMENTS (layer_defs)];
  const char *hint;

  base = base ? base + 1 : callee;
  for (guint i = 0; i < G_N_ELEMENTS (layer_defs); i++)
    names[i] = layer_defs[i].name;
  hint = cs_spec_closest (base, names, G_N_ELEMENTS (names));
  if (hint != NULL && !g_str_equal (hint, base))
    return g_strdup_printf (" (did you mean %s?)", hint);
  if (hint != NULL)
    return g_strdup_printf (" (%s is %s; write %s%s)", base,
                            g_ascii_isupper (hint[0]) ? "a module" : "a function",
                            g_ascii_isupper (hint[0]) ? "nn." : "F.", base);
  return g_strdup (" (known: Linear, Conv2d, MaxPool2d, AvgPool2d, ReLU, LeakyReLU, ELU, GELU, SiLU, Tanh, Sigmoid, "
                   "Identity, BatchNorm1d, BatchNorm2d, AdaptiveAvgPool2d, Dropout, Dropout2d, Flatten, Softmax, "
                   "LogSoftmax, and F.relu, F.max_pool2d, ... for the functional forms)");
}

