/* Model specs: a small parser for PyTorch-like layer lines, and shape inference over the whole spec. */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/cs-file.h"
#include "spec/cs-spec.h"

G_DEFINE_QUARK (cs-spec-error-quark, cs_spec_error)

/* ---- values ------------------------------------------------------------ */

typedef enum
{
  VAL_INT,
  VAL_FLOAT,
  VAL_BOOL,
  VAL_NONE,
  VAL_STR,
  VAL_IDENT,
  VAL_TUPLE,
} ValKind;

typedef struct _Val Val;
struct _Val
{
  ValKind    kind;
  gint64     i;
  double     f;
  char      *s;
  GPtrArray *items;   /* of Val, for tuples */
};

static void
val_free (Val *v)
{
  if (v == NULL)
    return;
  g_free (v->s);
  g_clear_pointer (&v->items, g_ptr_array_unref);
  g_free (v);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Val, val_free)

static Val *
val_new (ValKind kind)
{
  Val *v = g_new0 (Val, 1);
  v->kind = kind;
  return v;
}

typedef struct
{
  char *key;   /* NULL for a positional argument */
  Val  *val;
} Arg;

static void
arg_free (Arg *a)
{
  g_free (a->key);
  val_free (a->val);
  g_free (a);
}

/* ---- the line parser ---------------------------------------------------- */

/* Nesting deeper than this in one argument ("((((1))))", "- - - 1") is refused,
 * so a hostile line cannot exhaust the stack (found by fuzzing). */
#define MAX_DEPTH 32

typedef struct
{
  const char *s;     /* the whole line, comment removed */
  const char *p;
  guint       line;
  GError    **error;
  gboolean    failed;
  guint       depth;
} Parser;

static void parser_fail (Parser *ps, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
parser_fail (Parser     *ps,
             const char *format,
             ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  if (ps->failed)
    return;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (ps->error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
               "line %u: %s (at column %d of \"%s\")", ps->line, msg,
               (int) (ps->p - ps->s) + 1, ps->s);
  ps->failed = TRUE;
}

static void
skip_ws (Parser *ps)
{
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')
    ps->p++;
}

static gboolean
accept (Parser *ps,
        char    c)
{
  skip_ws (ps);
  if (*ps->p == c)
    {
      ps->p++;
      return TRUE;
    }
  return FALSE;
}

static gboolean
is_ident_start (char c)
{
  return g_ascii_isalpha (c) || c == '_';
}

/* A dotted identifier: self.conv1, nn.Conv2d, torch.nn.functional.relu. */
static char *
parse_dotted_ident (Parser *ps)
{
  const char *start;

  skip_ws (ps);
  start = ps->p;
  if (!is_ident_start (*ps->p))
    return NULL;
  while (g_ascii_isalnum (*ps->p) || *ps->p == '_' ||
         (*ps->p == '.' && is_ident_start (ps->p[1])))
    ps->p++;
  return g_strndup (start, ps->p - start);
}

static Val *parse_value (Parser *ps);

static Val *
parse_number (Parser *ps)
{
  const char *start = ps->p;
  char *end = NULL;
  gboolean is_float = FALSE;
  Val *v;

  while (g_ascii_isdigit (*ps->p) || *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' || *ps->p == '_' ||
         ((*ps->p == '-' || *ps->p == '+') && (ps->p[-1] == 'e' || ps->p[-1] == 'E')))
    {
      if (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')
        is_float = TRUE;
      ps->p++;
    }
  if (is_float)
    {
      g_autofree char *num = g_strndup (start, ps->p - start);
      double d = g_ascii_strtod (num, &end);

      if (end == NULL || *end != '\0' || !isfinite (d))
        {
          ps->p = start;
          parser_fail (ps, "\"%s\" is not a number", num);
          return NULL;
        }
      v = val_new (VAL_FLOAT);
      v->f = d;
      return v;
    }
  else
    {
      g_autofree char *num = g_strndup (start, ps->p - start);
      guint64 u;

      errno = 0;
      u = g_ascii_strtoull (num, &end, 10);
      if (end == NULL || *end != '\0' || errno != 0 || u > G_MAXINT32)
        {
          ps->p = start;
          parser_fail (ps, "\"%s\" is not an integer in range", num);
          return NULL;
        }
      v = val_new (VAL_INT);
      v->i = (gint64) u;
      return v;
    }
}

/* Arithmetic on numbers: ints stay ints (Python semantics for + - * //). */
static Val *
arith (Parser *ps,
       Val    *a,
       Val    *b,
       char    op)
{
  Val *r;

  if ((a->kind != VAL_INT && a->kind != VAL_FLOAT) || (b->kind != VAL_INT && b->kind != VAL_FLOAT))
    {
      parser_fail (ps, "arithmetic needs numbers");
      val_free (a);
      val_free (b);
      return NULL;
    }
  if (a->kind == VAL_INT && b->kind == VAL_INT && op != '/')
    {
      gint64 x = a->i, y = b->i, z = 0;

      switch (op)
        {
        case '+': z = x + y; break;
        case '-': z = x - y; break;
        case '*': z = x * y; break;
        case 'd':
          if (y == 0)
            {
              parser_fail (ps, "division by zero");
              val_free (a);
              val_free (b);
              return NULL;
            }
          z = x / y - ((x % y != 0) && ((x < 0) != (y < 0)));
          break;
        default: g_assert_not_reached ();
        }
      val_free (a);
      val_free (b);
      if (z > G_MAXINT32 || z < -G_MAXINT32)
        {
          parser_fail (ps, "integer out of range");
          return NULL;
        }
      r = val_new (VAL_INT);
      r->i = z;
      return r;
    }
  else
    {
      double x = a->kind == VAL_INT ? a->i : a->f;
      double y = b->kind == VAL_INT ? b->i : b->f;

      r = val_new (VAL_FLOAT);
      switch (op)
        {
        case '+': r->f = x + y; break;
        case '-': r->f = x - y; break;
        case '*': r->f = x * y; break;
        case '/': r->f = x / y; break;
        case 'd': r->f = floor (x / y); break;
        default: g_assert_not_reached ();
        }
      val_free (a);
      val_free (b);
      if (!isfinite (r->f))
        {
          parser_fail (ps, "the arithmetic gives an infinite number");
          val_free (r);
          return NULL;
        }
      return r;
    }
}

static Val *parse_atom_inner (Parser *ps);

static Val *
parse_atom (Parser *ps)
{
  Val *v;

  if (++ps->depth > MAX_DEPTH)
    {
      parser_fail (ps, "the expression is nested too deeply");
      ps->depth--;
      return NULL;
    }
  v = parse_atom_inner (ps);
  ps->depth--;
  return v;
}

static Val *
parse_atom_inner (Parser *ps)
{
  skip_ws (ps);

  if (*ps->p == '-' || *ps->p == '+')
    {
      char sign = *ps->p++;
      Val *v = parse_atom (ps);

      if (v == NULL)
        return NULL;
      if (sign == '-')
        {
          if (v->kind == VAL_INT)
            v->i = -v->i;
          else if (v->kind == VAL_FLOAT)
            v->f = -v->f;
          else
            {
              parser_fail (ps, "a sign needs a number");
              val_free (v);
              return NULL;
            }
        }
      return v;
    }

  if (g_ascii_isdigit (*ps->p) || (*ps->p == '.' && g_ascii_isdigit (ps->p[1])))
    return parse_number (ps);

  if (*ps->p == '\'' || *ps->p == '"')
    {
      char q = *ps->p++;
      const char *start = ps->p;
      Val *v;

      while (*ps->p && *ps->p != q)
        ps->p++;
      if (*ps->p != q)
        {
          parser_fail (ps, "unterminated string");
          return NULL;
        }
      v = val_new (VAL_STR);
      v->s = g_strndup (start, ps->p - start);
      ps->p++;
      return v;
    }

  if (*ps->p == '(')
    {
      g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) val_free);
      gboolean trailing_comma = FALSE;
      Val *v;

      ps->p++;
      if (!accept (ps, ')'))
        {
          for (;;)
            {
              Val *item = parse_value (ps);

              if (item == NULL)
                return NULL;
              g_ptr_array_add (items, item);
              trailing_comma = FALSE;
              if (accept (ps, ','))
                {
                  trailing_comma = TRUE;
                  if (accept (ps, ')'))
                    break;
                  continue;
                }
              if (accept (ps, ')'))
                break;
              parser_fail (ps, "expected ',' or ')'");
              return NULL;
            }
        }
      if (items->len == 1 && !trailing_comma)
        return g_ptr_array_steal_index (items, 0);
      v = val_new (VAL_TUPLE);
      v->items = g_steal_pointer (&items);
      return v;
    }

  if (is_ident_start (*ps->p))
    {
      g_autofree char *id = parse_dotted_ident (ps);
      Val *v;

      if (g_str_equal (id, "True") || g_str_equal (id, "False"))
        {
          v = val_new (VAL_BOOL);
          v->i = g_str_equal (id, "True");
        }
      else if (g_str_equal (id, "None"))
        v = val_new (VAL_NONE);
      else
        {
          v = val_new (VAL_IDENT);
          v->s = g_steal_pointer (&id);
        }
      return v;
    }

  if (*ps->p)
    parser_fail (ps, "unexpected '%c'", *ps->p);
  else
    parser_fail (ps, "unexpected end of line");
  return NULL;
}

static Val *
parse_term (Parser *ps)
{
  Val *v = parse_atom (ps);

  while (v != NULL)
    {
      char op;

      skip_ws (ps);
      if (ps->p[0] == '*' && ps->p[1] != '*')
        op = '*', ps->p++;
      else if (ps->p[0] == '/' && ps->p[1] == '/')
        op = 'd', ps->p += 2;
      else if (ps->p[0] == '/')
        op = '/', ps->p++;
      else
        break;
      {
        Val *rhs = parse_atom (ps);
        if (rhs == NULL)
          {
            val_free (v);
            return NULL;
          }
        v = arith (ps, v, rhs, op);
      }
    }
  return v;
}

static Val *
parse_value (Parser *ps)
{
  Val *v = parse_term (ps);

  while (v != NULL)
    {
      char op;

      skip_ws (ps);
      if (*ps->p == '+' || *ps->p == '-')
        op = *ps->p++;
      else
        break;
      {
        Val *rhs = parse_term (ps);
        if (rhs == NULL)
          {
            val_free (v);
            return NULL;
          }
        v = arith (ps, v, rhs, op);
      }
    }
  return v;
}

/* Arguments after '(' up to and including ')'. */
static GPtrArray *
parse_args (Parser *ps)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func ((GDestroyNotify) arg_free);

  if (accept (ps, ')'))
    return g_steal_pointer (&args);

  for (;;)
    {
      Arg *a = g_new0 (Arg, 1);
      const char *save;

      skip_ws (ps);
      save = ps->p;
      if (is_ident_start (*ps->p))
        {
          const char *s = ps->p;
          while (g_ascii_isalnum (*ps->p) || *ps->p == '_')
            ps->p++;
          skip_ws (ps);
          if (ps->p[0] == '=' && ps->p[1] != '=')
            {
              a->key = g_strndup (s, strcspn (s, " \t="));
              ps->p++;
            }
          else
            ps->p = save;
        }
      if (a->key == NULL && args->len > 0 && ((Arg *) g_ptr_array_index (args, args->len - 1))->key != NULL)
        {
          parser_fail (ps, "a positional argument follows a keyword argument");
          arg_free (a);
          return NULL;
        }
      a->val = parse_value (ps);
      if (a->val == NULL)
        {
          arg_free (a);
          return NULL;
        }
      g_ptr_array_add (args, a);
      if (accept (ps, ','))
        {
          if (accept (ps, ')'))
            break;
          continue;
        }
      if (accept (ps, ')'))
        break;
      parser_fail (ps, "expected ',' or ')' in the argument list");
      return NULL;
    }
  return g_steal_pointer (&args);
}

/* ---- layer catalogue ---------------------------------------------------- */

typedef struct
{
  const char  *name;        /* as called: "Conv2d", "max_pool2d" */
  CsLayerKind  kind;
  gboolean     functional;
  const char  *params[10];  /* positional order, as PyTorch declares them */
  guint        n_required;
} LayerDef;

static const LayerDef layer_defs[] = {
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
  /* Tensor methods: x.view(-1, 784), x.flatten(1), x.reshape(x.size(0), -1) */
  { "view", CS_LAYER_FLATTEN, TRUE, { "*shape" }, 0 },
  { "reshape", CS_LAYER_FLATTEN, TRUE, { "*shape" }, 0 },
};

static const char * const kind_names[CS_N_LAYER_KINDS] = {
  "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "Tanh", "Sigmoid", "Dropout", "Flatten", "LogSoftmax",
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
  return kind == CS_LAYER_LINEAR || kind == CS_LAYER_CONV2D;
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

static const char *
closest (const char        *word,
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

typedef struct
{
  const LayerDef *def;
  Val            *vals[10];
  guint           line;
  const char     *label;   /* "line 3, conv1" */
  GError        **error;
} Bound;

static void bound_fail (Bound *b, int code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
bound_fail (Bound      *b,
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

static gboolean
bind_args (Bound     *b,
           GPtrArray *args)
{
  guint n_params = 0;
  guint pos = 0;

  while (n_params < G_N_ELEMENTS (b->def->params) && b->def->params[n_params] != NULL)
    n_params++;

  for (guint i = 0; i < args->len; i++)
    {
      Arg *a = g_ptr_array_index (args, i);
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
              const char *hint = closest (a->key, b->def->params, n_params);
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

static Val *
bound_get (Bound      *b,
           const char *param)
{
  for (guint k = 0; k < G_N_ELEMENTS (b->def->params) && b->def->params[k]; k++)
    if (g_str_equal (b->def->params[k], param))
      return b->vals[k];
  return NULL;
}

static const char *
val_type_name (const Val *v)
{
  switch (v->kind)
    {
    case VAL_INT: return "an integer";
    case VAL_FLOAT: return "a float";
    case VAL_BOOL: return "a bool";
    case VAL_NONE: return "None";
    case VAL_STR: return "a string";
    case VAL_IDENT: return "a name";
    case VAL_TUPLE: return "a tuple";
    default: return "a value";
    }
}

static gboolean
get_int (Bound      *b,
         const char *param,
         int         def,
         int         min,
         int        *out)
{
  Val *v = bound_get (b, param);

  if (v == NULL || v->kind == VAL_NONE)
    {
      *out = def;
      return TRUE;
    }
  if (v->kind != VAL_INT)
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
get_pair (Bound      *b,
          const char *param,
          int         def,
          int         min,
          int        *h,
          int        *w)
{
  Val *v = bound_get (b, param);

  if (v == NULL || v->kind == VAL_NONE)
    {
      *h = *w = def;
      return TRUE;
    }
  if (v->kind == VAL_TUPLE)
    {
      Val *a, *c;

      if (v->items->len != 2)
        {
          bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be an integer or a pair, not a %u-tuple",
                      param, v->items->len);
          return FALSE;
        }
      a = g_ptr_array_index (v->items, 0);
      c = g_ptr_array_index (v->items, 1);
      if (a->kind != VAL_INT || c->kind != VAL_INT)
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
  if (v->kind != VAL_INT)
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
get_bool (Bound      *b,
          const char *param,
          gboolean    def,
          gboolean   *out)
{
  Val *v = bound_get (b, param);

  if (v == NULL || v->kind == VAL_NONE)
    {
      *out = def;
      return TRUE;
    }
  if (v->kind == VAL_BOOL || (v->kind == VAL_INT && (v->i == 0 || v->i == 1)))
    {
      *out = v->i != 0;
      return TRUE;
    }
  bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "%s must be True or False, not %s", param, val_type_name (v));
  return FALSE;
}

static gboolean
get_float (Bound      *b,
           const char *param,
           double      def,
           double     *out)
{
  Val *v = bound_get (b, param);

  if (v == NULL || v->kind == VAL_NONE)
    {
      *out = def;
      return TRUE;
    }
  if (v->kind == VAL_INT)
    *out = v->i;
  else if (v->kind == VAL_FLOAT)
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
check_unsupported (Bound *b)
{
  Val *v;

  if ((v = bound_get (b, "groups")) != NULL && !(v->kind == VAL_INT && v->i == 1))
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "groups other than 1 are not supported");
      return FALSE;
    }
  if ((v = bound_get (b, "padding_mode")) != NULL && !(v->kind == VAL_STR && g_str_equal (v->s, "zeros")))
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "only padding_mode='zeros' is supported");
      return FALSE;
    }
  if ((v = bound_get (b, "return_indices")) != NULL && !(v->kind == VAL_BOOL && v->i == 0))
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "return_indices=True is not supported in a spec");
      return FALSE;
    }
  if ((v = bound_get (b, "divisor_override")) != NULL && v->kind != VAL_NONE)
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "divisor_override is not supported");
      return FALSE;
    }
  if ((v = bound_get (b, "dtype")) != NULL && v->kind != VAL_NONE)
    {
      bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "only float32 is supported (leave dtype out)");
      return FALSE;
    }
  return TRUE;
}

/* Fills @layer from the bound arguments. Shapes come later. */
static gboolean
fill_layer (Bound       *b,
            CsLayerSpec *layer)
{
  Val *v;

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
      if (v != NULL && v->kind == VAL_STR)
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

    case CS_LAYER_DROPOUT:
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
        if (v != NULL && v->kind == VAL_BOOL)
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
        if (v != NULL && !(v->kind == VAL_INT))
          {
            bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "start_dim must be an integer");
            return FALSE;
          }
        if (v != NULL)
          start = (int) v->i;
        v = bound_get (b, "end_dim");
        if (v != NULL && v->kind == VAL_INT)
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
      v = bound_get (b, "dim");
      if (v != NULL && v->kind != VAL_NONE && !(v->kind == VAL_INT && (v->i == 1 || v->i == -1)))
        {
          bound_fail (b, CS_SPEC_ERROR_BAD_ARGUMENT, "only dim=1 (the classes) is supported");
          return FALSE;
        }
      return TRUE;

    case CS_LAYER_RELU:
    case CS_LAYER_TANH:
    case CS_LAYER_SIGMOID:
      return TRUE;

    case CS_N_LAYER_KINDS:
    default:
      g_assert_not_reached ();
    }
}

/* ---- lines -------------------------------------------------------------- */

static void
layer_spec_free (CsLayerSpec *layer)
{
  g_free (layer->name);
  g_free (layer->call);
  g_free (layer);
}

void
cs_spec_free (CsSpec *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->layers, g_ptr_array_unref);
  g_free (self->text);
  g_free (self);
}

static gboolean
is_identifier (const char *s)
{
  if (!is_ident_start (*s))
    return FALSE;
  for (s++; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '_')
      return FALSE;
  return TRUE;
}

/* input 1x28x28 | input (1, 28, 28) | input 784 */
static gboolean
parse_input_line (Parser  *ps,
                  CsShape *shape)
{
  int dims[3];
  guint n = 0;

  skip_ws (ps);
  accept (ps, '(');
  for (;;)
    {
      const char *start;
      gint64 v = 0;

      skip_ws (ps);
      start = ps->p;
      while (g_ascii_isdigit (*ps->p))
        {
          v = v * 10 + (*ps->p - '0');
          if (v > G_MAXINT16)
            {
              parser_fail (ps, "input dimension too large (at most %d)", G_MAXINT16);
              return FALSE;
            }
          ps->p++;
        }
      if (ps->p == start || v == 0)
        {
          parser_fail (ps, "the input shape must be positive integers like 1x28x28");
          return FALSE;
        }
      if (n == 3)
        {
          parser_fail (ps, "the input shape has at most 3 dimensions (CxHxW)");
          return FALSE;
        }
      dims[n++] = (int) v;
      skip_ws (ps);
      if (*ps->p == 'x' || *ps->p == 'X' || *ps->p == ',' || *ps->p == '*')
        {
          ps->p++;
          skip_ws (ps);
          if (*ps->p == ')' || *ps->p == '\0')
            break;
          continue;
        }
      break;
    }
  accept (ps, ')');
  skip_ws (ps);
  if (*ps->p != '\0')
    {
      parser_fail (ps, "unexpected text after the input shape");
      return FALSE;
    }
  if (n == 1)
    *shape = (CsShape) { dims[0], 1, 1, TRUE };
  else if (n == 2)
    *shape = (CsShape) { 1, dims[0], dims[1], FALSE };
  else
    *shape = (CsShape) { dims[0], dims[1], dims[2], FALSE };
  return TRUE;
}

static const LayerDef *
find_def (const char *callee,
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

static char *
unknown_layer_hint (const char *callee)
{
  const char *base = strrchr (callee, '.');
  const char *names[G_N_ELEMENTS (layer_defs)];
  const char *hint;

  base = base ? base + 1 : callee;
  for (guint i = 0; i < G_N_ELEMENTS (layer_defs); i++)
    names[i] = layer_defs[i].name;
  hint = closest (base, names, G_N_ELEMENTS (names));
  if (hint != NULL && !g_str_equal (hint, base))
    return g_strdup_printf (" (did you mean %s?)", hint);
  if (hint != NULL)
    return g_strdup_printf (" (%s is %s; write %s%s)", base,
                            g_ascii_isupper (hint[0]) ? "a module" : "a function",
                            g_ascii_isupper (hint[0]) ? "nn." : "F.", base);
  return g_strdup (" (known: Linear, Conv2d, MaxPool2d, AvgPool2d, ReLU, Tanh, Sigmoid, Dropout, Flatten, "
                   "LogSoftmax, and F.relu, F.max_pool2d, ... for the functional forms)");
}

/* x.view(-1, N) / x.reshape(B, -1): checks the shape against what comes in. */
static gboolean
check_view (CsLayerSpec *layer,
            GPtrArray   *args,
            const char  *label,
            GError     **error)
{
  gsize numel = cs_shape_numel (layer->in);
  gint64 want = -1;
  guint n_pos = 0;

  for (guint i = 0; i < args->len; i++)
    {
      Arg *a = g_ptr_array_index (args, i);
      Val *v = a->val;

      if (v->kind == VAL_TUPLE && args->len == 1)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                       "%s: write the shape without a tuple, e.g. view(-1, %" G_GSIZE_FORMAT ")", label, numel);
          return FALSE;
        }
      n_pos++;
      if (i == 0)
        continue;  /* the batch: -1, x.size(0), or a number */
      if (v->kind != VAL_INT)
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
    Arg *first = g_ptr_array_index (args, 0);
    if (first->val->kind == VAL_INT && first->val->i != -1 && want == -1)
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
static gboolean
infer_shape (CsLayerSpec   *layer,
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
      if (!in.flat)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                       "%s: log_softmax over classes needs flat features, but gets a %s map from %s",
                       label, in_str, from);
          return FALSE;
        }
      layer->out = in;
      return TRUE;

    case CS_LAYER_RELU:
    case CS_LAYER_TANH:
    case CS_LAYER_SIGMOID:
    case CS_LAYER_DROPOUT:
      layer->out = in;
      return TRUE;

    case CS_N_LAYER_KINDS:
    default:
      g_assert_not_reached ();
    }
}

/* Parameters of one layer, or FALSE when they do not fit in 64 bits. */
static gboolean
layer_params (const CsLayerSpec *layer,
              guint64           *out)
{
  guint64 n = 0;

  if (layer->kind == CS_LAYER_LINEAR)
    return g_uint64_checked_mul (&n, (guint64) layer->out_features, (guint64) layer->in_features) &&
           g_uint64_checked_add (out, n, layer->bias ? (guint64) layer->out_features : 0);
  if (layer->kind == CS_LAYER_CONV2D)
    return g_uint64_checked_mul (&n, (guint64) layer->out_channels, (guint64) layer->in_channels) &&
           g_uint64_checked_mul (&n, n, (guint64) layer->kh) &&
           g_uint64_checked_mul (&n, n, (guint64) layer->kw) &&
           g_uint64_checked_add (out, n, layer->bias ? (guint64) layer->out_channels : 0);
  *out = 0;
  return TRUE;
}

/* The sizes a model can be built with: each layer's output per sample, and the
 * parameters of all layers so far. Checked before anything is allocated. */
static gboolean
check_sizes (const CsLayerSpec  *layer,
             const char         *label,
             guint64            *total_params,
             GError            **error)
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
      /* Parsed specs passed check_sizes: no overflow here. */
      layer_params (g_ptr_array_index (self->layers, i), &n);
      total += n;
    }
  return total;
}

CsSpec *
cs_spec_parse (const char  *text,
               GError     **error)
{
  g_autoptr(CsSpec) self = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean have_input = FALSE;
  guint module_index = 0;
  CsShape shape = { 0 };
  CsShape last_map = { 0 };
  gboolean have_map = FALSE;
  const char *from = "the input";
  g_autofree char *from_owned = NULL;
  guint64 total_params = 0;

  g_return_val_if_fail (text != NULL, NULL);

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "the spec is not valid UTF-8 text");
      return NULL;
    }

  self = g_new0 (CsSpec, 1);
  self->text = g_strdup (text);
  self->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) layer_spec_free);
  lines = g_strsplit (text, "\n", -1);

  for (guint ln = 0; lines[ln] != NULL; ln++)
    {
      g_autofree char *line = g_strdup (lines[ln]);
      g_autofree char *target = NULL;
      g_autofree char *callee = NULL;
      g_autofree char *label = NULL;
      g_autoptr(GPtrArray) args = NULL;
      char *hash = strchr (line, '#');
      Parser ps = { 0 };
      const LayerDef *def;
      gboolean method;
      CsLayerSpec *layer;
      Bound bound = { 0 };

      if (hash != NULL)
        *hash = '\0';
      g_strstrip (line);
      if (line[0] == '\0')
        continue;

      ps.s = ps.p = line;
      ps.line = ln + 1;
      ps.error = error;

      if (g_str_has_prefix (line, "input") && (line[5] == ' ' || line[5] == '\t' || line[5] == '('))
        {
          if (have_input)
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "line %u: a second \"input\" line", ln + 1);
              return NULL;
            }
          if (self->layers->len > 0)
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                           "line %u: the \"input\" line must come before the layers", ln + 1);
              return NULL;
            }
          ps.p += 5;
          if (!parse_input_line (&ps, &self->input))
            return NULL;
          if ((guint64) self->input.c * self->input.h * self->input.w > CS_SPEC_MAX_ACTIVATIONS)
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                           "line %u: an input of %dx%dx%d is more than the %d values per sample supported",
                           ln + 1, self->input.c, self->input.h, self->input.w, CS_SPEC_MAX_ACTIVATIONS);
              return NULL;
            }
          have_input = TRUE;
          shape = self->input;
          last_map = shape;
          have_map = !shape.flat;
          continue;
        }

      if (!have_input)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                       "line %u: the spec must begin with its input shape, e.g. \"input 1x28x28\"", ln + 1);
          return NULL;
        }

      /* [target =] callee(args) */
      callee = parse_dotted_ident (&ps);
      if (callee == NULL)
        {
          parser_fail (&ps, "expected a layer, like \"conv1 = nn.Conv2d(1, 6, kernel_size=5)\"");
          return NULL;
        }
      skip_ws (&ps);
      if (*ps.p == '=')
        {
          ps.p++;
          target = g_steal_pointer (&callee);
          callee = parse_dotted_ident (&ps);
          if (callee == NULL)
            {
              parser_fail (&ps, "expected a layer after '='");
              return NULL;
            }
        }
      if (!accept (&ps, '('))
        {
          parser_fail (&ps, "expected '(' after \"%s\"", callee);
          return NULL;
        }
      args = parse_args (&ps);
      if (args == NULL)
        return NULL;
      skip_ws (&ps);
      if (*ps.p != '\0')
        {
          parser_fail (&ps, "unexpected text after the layer");
          return NULL;
        }

      def = find_def (callee, &method);
      if (def == NULL)
        {
          g_autofree char *hint = unknown_layer_hint (callee);
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_UNKNOWN_LAYER,
                       "line %u: unknown layer \"%s\"%s", ln + 1, callee, hint);
          return NULL;
        }

      layer = g_new0 (CsLayerSpec, 1);
      g_ptr_array_add (self->layers, layer);
      layer->kind = def->kind;
      layer->functional = def->functional;
      layer->line = ln + 1;
      layer->call = g_strdup (line + (target ? strcspn (line, "=") + 1 : 0));
      g_strstrip (layer->call);
      layer->in = shape;

      /* self.conv1 = ... names the layer conv1; x = F.relu(x) stays unnamed. */
      if (target != NULL && g_str_has_prefix (target, "self."))
        memmove (target, target + 5, strlen (target + 5) + 1);
      if (target != NULL && !is_identifier (target))
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                       "line %u: \"%s\" is not a valid layer name", ln + 1, target);
          return NULL;
        }
      if (target != NULL && !(layer->functional && (g_str_equal (target, "x") || g_str_equal (target, "out"))))
        layer->name = g_steal_pointer (&target);
      else if (layer->functional)
        layer->name = g_strdup_printf ("%s_%u", def->name, self->layers->len - 1);
      else
        layer->name = g_strdup_printf ("%u", module_index);
      if (!layer->functional)
        module_index++;

      if (g_hash_table_contains (names, layer->name))
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                       "line %u: the name \"%s\" is already used by another layer", ln + 1, layer->name);
          return NULL;
        }
      g_hash_table_add (names, layer->name);

      label = g_strdup_printf ("line %u, %s", ln + 1, layer->name);
      bound.def = def;
      bound.line = ln + 1;
      bound.label = label;
      bound.error = error;

      /* The tensor argument of functional forms: F.relu(x). */
      if (def->functional && !method && args->len > 0)
        {
          Arg *a0 = g_ptr_array_index (args, 0);
          if (a0->key == NULL && a0->val->kind == VAL_IDENT)
            g_ptr_array_remove_index (args, 0);
          else if (a0->key == NULL && g_str_equal (def->params[0], "input"))
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                           "%s: %s() takes the tensor first, e.g. %s(x, ...)", label, def->name, callee);
              return NULL;
            }
          /* The remaining positionals skip the "input" slot. */
          bound.def = def;
          for (guint i = 0; i < args->len; i++)
            {
              Arg *a = g_ptr_array_index (args, i);
              if (a->key == NULL)
                {
                  guint slot = i + 1;
                  if (slot >= G_N_ELEMENTS (def->params) || def->params[slot] == NULL)
                    {
                      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                                   "%s: %s() got too many positional arguments", label, def->name);
                      return NULL;
                    }
                  a->key = g_strdup (def->params[slot]);
                }
            }
        }

      if (def->kind == CS_LAYER_FLATTEN && method)
        {
          if ((g_str_equal (def->name, "view") || g_str_equal (def->name, "reshape")) &&
              !check_view (layer, args, label, error))
            return NULL;
        }
      else if (!bind_args (&bound, args) || !fill_layer (&bound, layer))
        return NULL;

      if (!infer_shape (layer, label, from, shape.flat && have_map ? &last_map : NULL, error) ||
          !check_sizes (layer, label, &total_params, error))
        return NULL;
      if (!layer->out.flat)
        {
          last_map = layer->out;
          have_map = TRUE;
        }
      else if (layer->kind == CS_LAYER_LINEAR)
        have_map = FALSE;

      shape = layer->out;
      g_free (from_owned);
      from_owned = g_strdup (layer->name);
      from = from_owned;
    }

  if (!have_input)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                   "the spec has no \"input\" line (e.g. \"input 1x28x28\")");
      return NULL;
    }
  if (self->layers->len == 0)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "the spec has no layers");
      return NULL;
    }
  if (!shape.flat)
    {
      g_autofree char *s = cs_shape_to_string (shape);
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE,
                   "the model ends in a %s map; a classifier must end in flat class scores "
                   "(add Flatten() and a Linear layer)", s);
      return NULL;
    }

  return g_steal_pointer (&self);
}

CsSpec *
cs_spec_load_file (const char  *path,
                   GError     **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len;
  CsSpec *spec;

  /* Not a FIFO (it would block), not a device, not more than any spec can be. */
  if (!cs_file_read_regular (path, CS_FILE_FOLLOW_LINKS, 1024 * 1024, &text, &len, &local_error))
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "%s", local_error->message);
      return NULL;
    }
  if (memchr (text, '\0', len) != NULL)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "%s: not a text file", path);
      return NULL;
    }
  spec = cs_spec_parse (text, &local_error);
  if (spec == NULL)
    {
      g_set_error (error, CS_SPEC_ERROR, local_error->code, "%s: %s", path, local_error->message);
      return NULL;
    }
  return spec;
}

guint
cs_spec_n_layers (const CsSpec *self)
{
  return self->layers->len;
}

const CsLayerSpec *
cs_spec_layer (const CsSpec *self,
               guint         i)
{
  g_return_val_if_fail (i < self->layers->len, NULL);
  return g_ptr_array_index (self->layers, i);
}

CsShape
cs_spec_output_shape (const CsSpec *self)
{
  const CsLayerSpec *last = g_ptr_array_index (self->layers, self->layers->len - 1);
  return last->out;
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
