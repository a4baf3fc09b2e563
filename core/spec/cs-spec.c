/* Model specs: a spec's lines parsed one by one (cs-spec-parser.c), bound
 * to layers (cs-layers.c), and their shapes inferred (cs-shape.c). */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/cs-file.h"
#include "spec/cs-spec-private.h"

G_DEFINE_QUARK (cs-spec-error-quark, cs_spec_error)

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

/* input 1x28x28 | input (1, 28, 28) | input 784 */
static gboolean
parse_input_line (CsSpecParser *ps,
                  CsShape      *shape)
{
  int dims[3];
  guint n = 0;

  cs_spec_parser_skip_ws (ps);
  cs_spec_parser_accept (ps, '(');
  for (;;)
    {
      const char *start;
      gint64 v = 0;

      cs_spec_parser_skip_ws (ps);
      start = ps->p;
      while (g_ascii_isdigit (*ps->p))
        {
          v = v * 10 + (*ps->p - '0');
          if (v > G_MAXINT16)
            {
              cs_spec_parser_fail (ps, "input dimension too large (at most %d)", G_MAXINT16);
              return FALSE;
            }
          ps->p++;
        }
      if (ps->p == start || v == 0)
        {
          cs_spec_parser_fail (ps, "the input shape must be positive integers like 1x28x28");
          return FALSE;
        }
      if (n == 3)
        {
          cs_spec_parser_fail (ps, "the input shape has at most 3 dimensions (CxHxW)");
          return FALSE;
        }
      dims[n++] = (int) v;
      cs_spec_parser_skip_ws (ps);
      if (*ps->p == 'x' || *ps->p == 'X' || *ps->p == ',' || *ps->p == '*')
        {
          ps->p++;
          cs_spec_parser_skip_ws (ps);
          if (*ps->p == ')' || *ps->p == '\0')
            break;
          continue;
        }
      break;
    }
  cs_spec_parser_accept (ps, ')');
  cs_spec_parser_skip_ws (ps);
  if (*ps->p != '\0')
    {
      cs_spec_parser_fail (ps, "unexpected text after the input shape");
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

typedef struct
{
  char  *text;    /* as written */
  char  *parsed;  /* the batch written as -1: x.view(x.size(0), -1) -> x.view(-1, -1) */
  guint  line;
} Statement;

static void
statement_free (Statement *st)
{
  g_free (st->text);
  g_free (st->parsed);
  g_free (st);
}

static void
add_statement (GPtrArray  *out,
               const char *text,
               guint       line)
{
  static GRegex *batch;
  Statement *st = g_new0 (Statement, 1);

  if (g_once_init_enter (&batch))
    g_once_init_leave (&batch, g_regex_new ("\\b[A-Za-z_][A-Za-z0-9_]*\\s*\\.\\s*size\\s*\\(\\s*0\\s*\\)|"
                                            "\\b[A-Za-z_][A-Za-z0-9_]*\\.shape\\s*\\[\\s*0\\s*\\]|"
                                            "\\blen\\s*\\(\\s*[A-Za-z_][A-Za-z0-9_]*\\s*\\)",
                                            G_REGEX_OPTIMIZE, 0, NULL));
  st->text = g_strdup (text);
  st->parsed = g_regex_replace_literal (batch, text, -1, 0, "-1", 0, NULL);
  if (st->parsed == NULL)
    st->parsed = g_strdup (text);
  st->line = line;
  g_ptr_array_add (out, st);
}

static gboolean
is_sequential (const char *callee)
{
  return g_str_equal (callee, "nn.Sequential") || g_str_equal (callee, "torch.nn.Sequential") ||
         g_str_equal (callee, "Sequential");
}

/* "features = nn.Sequential(a, b)" -> "features.0 = a", "features.1 = b",
 * nested Sequentials numbered as PyTorch numbers them (features.1.0). */
static gboolean
expand_statement (GPtrArray  *out,
                  const char *text,
                  guint       line,
                  guint       depth,
                  GError    **error)
{
  g_autofree char *target = NULL, *rhs = NULL, *callee = NULL, *args = NULL;
  const char *eq = NULL;
  int brackets = 0;
  g_autoptr(GPtrArray) items = NULL;

  for (const char *p = text; *p && eq == NULL; p++)
    {
      if (*p == '(' || *p == '[')
        brackets++;
      else if (*p == ')' || *p == ']')
        brackets--;
      else if (*p == '=' && brackets == 0 && p[1] != '=')
        eq = p;
      else if (*p == '\'' || *p == '"')
        break;
    }
  target = eq ? g_strstrip (g_strndup (text, eq - text)) : NULL;
  rhs = g_strstrip (g_strdup (eq ? eq + 1 : text));
  if (!cs_py_split_call (rhs, &callee, &args) || !is_sequential (callee))
    {
      add_statement (out, text, line);
      return TRUE;
    }
  if (depth >= 8)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "line %u: nn.Sequential nested more than 8 deep", line);
      return FALSE;
    }
  if (target != NULL && g_str_has_prefix (target, "self."))
    memmove (target, target + 5, strlen (target + 5) + 1);
  items = cs_py_split_top (args, ',');
  if (items == NULL || items->len == 0)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "line %u: an empty nn.Sequential()", line);
      return FALSE;
    }
  for (guint i = 0; i < items->len; i++)
    {
      const char *item = g_ptr_array_index (items, i);
      g_autofree char *sub = NULL, *item_callee = NULL, *item_args = NULL;

      if (!cs_py_split_call (item, &item_callee, &item_args) || !cs_py_is_dotted_name (item_callee, FALSE) ||
          g_str_has_suffix (item_callee, "OrderedDict") || !g_ascii_isupper (strrchr (item_callee, '.')
                                                                             ? strrchr (item_callee, '.')[1]
                                                                             : item_callee[0]))
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                       "line %u: nn.Sequential takes layers, like nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU()); "
                       "\"%s\" is not one", line, item);
          return FALSE;
        }
      if (target != NULL)
        sub = g_strdup_printf ("%s.%u = %s", target, i, item);
      else
        sub = g_strdup (item);   /* numbered as the spec numbers its modules */
      if (!expand_statement (out, sub, line, depth + 1, error))
        return FALSE;
    }
  return TRUE;
}

/* The spec's statements: comments removed, a call that goes on over several
 * lines joined to its first, nn.Sequential expanded. */
static GPtrArray *
collect_statements (const char *text,
                    GError    **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) statement_free);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GString) cur = g_string_new (NULL);
  guint first = 0;
  int depth = 0;

  for (guint ln = 0; lines[ln] != NULL; ln++)
    {
      char *hash = strchr (lines[ln], '#');

      if (hash != NULL)
        *hash = '\0';
      g_strstrip (lines[ln]);
      if (lines[ln][0] == '\0' && depth == 0)
        continue;
      if (depth == 0)
        first = ln + 1;
      else
        g_string_append_c (cur, ' ');
      g_string_append (cur, lines[ln]);
      for (const char *p = lines[ln]; *p; p++)
        if (*p == '(' || *p == '[')
          depth++;
        else if ((*p == ')' || *p == ']') && depth > 0)
          depth--;
      if (depth > 0 && lines[ln + 1] != NULL)
        continue;
      depth = 0;
      if (!expand_statement (out, cur->str, first, 0, error))
        return NULL;
      g_string_truncate (cur, 0);
    }
  return g_steal_pointer (&out);
}

static CsSpec *
parse_statements (const char *text,
                  GError    **error)
{
  g_autoptr(CsSpec) self = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);   /* -> CsLayerSpec */
  g_autoptr(GPtrArray) statements = NULL;
  gboolean have_input = FALSE;
  guint module_index = 0;
  CsShape shape = { 0 };
  CsShape last_map = { 0 };
  gboolean have_map = FALSE;
  const char *from = "the input";
  g_autofree char *from_owned = NULL;
  guint64 total_params = 0;

  self = g_new0 (CsSpec, 1);
  self->text = g_strdup (text);
  self->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) layer_spec_free);
  statements = collect_statements (text, error);
  if (statements == NULL)
    return NULL;

  for (guint si = 0; si < statements->len; si++)
    {
      const Statement *st = g_ptr_array_index (statements, si);
      guint ln = st->line - 1;
      g_autofree char *line = g_strdup (st->parsed);
      g_autofree char *target = NULL;
      g_autofree char *callee = NULL;
      g_autofree char *label = NULL;
      g_autoptr(GPtrArray) args = NULL;
      CsSpecParser ps = { 0 };
      const CsLayerDef *def;
      gboolean method;
      CsLayerSpec *layer;
      CsLayerBinding bound = { 0 };

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
      callee = cs_spec_parse_dotted_ident (&ps);
      if (callee == NULL)
        {
          cs_spec_parser_fail (&ps, "expected a layer, like \"conv1 = nn.Conv2d(1, 6, kernel_size=5)\"");
          return NULL;
        }
      cs_spec_parser_skip_ws (&ps);
      if (*ps.p == '=')
        {
          ps.p++;
          target = g_steal_pointer (&callee);
          callee = cs_spec_parse_dotted_ident (&ps);
          if (callee == NULL)
            {
              cs_spec_parser_fail (&ps, "expected a layer after '='");
              return NULL;
            }
        }
      if (!cs_spec_parser_accept (&ps, '('))
        {
          cs_spec_parser_fail (&ps, "expected '(' after \"%s\"", callee);
          return NULL;
        }
      args = cs_spec_parse_args (&ps);
      if (args == NULL)
        return NULL;
      cs_spec_parser_skip_ws (&ps);
      if (*ps.p != '\0')
        {
          cs_spec_parser_fail (&ps, "unexpected text after the layer");
          return NULL;
        }

      def = cs_layer_def_find (callee, &method);
      if (def == NULL)
        {
          g_autofree char *hint = cs_layer_unknown_hint (callee);
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_UNKNOWN_LAYER,
                       "line %u: unknown layer \"%s\"%s", ln + 1, callee, hint);
          return NULL;
        }

      layer = g_new0 (CsLayerSpec, 1);
      g_ptr_array_add (self->layers, layer);
      layer->kind = def->kind;
      layer->functional = def->functional;
      layer->line = ln + 1;
      layer->call = g_strdup (st->text + (target ? strcspn (st->text, "=") + 1 : 0));
      g_strstrip (layer->call);
      layer->in = shape;

      /* self.conv1 = ... names the layer conv1; x = F.relu(x) stays unnamed. */
      if (target != NULL && g_str_has_prefix (target, "self."))
        memmove (target, target + 5, strlen (target + 5) + 1);
      if (target != NULL && !cs_py_is_dotted_name (target, TRUE))
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

      {
        const CsLayerSpec *same = g_hash_table_lookup (names, layer->name);
        /* A module without weights may be called again (self.pool twice). */
        if (same != NULL && same->kind == layer->kind && g_str_equal (same->call, layer->call) &&
            !cs_layer_kind_has_params (layer->kind))
          ;
        else if (same != NULL && same->kind == layer->kind && g_str_equal (same->call, layer->call))
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                         "line %u: %s is called a second time; both calls would share its weights, "
                         "which Convscope does not support yet", ln + 1, layer->name);
            return NULL;
          }
        else if (same != NULL)
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                         "line %u: the name \"%s\" is already used by another layer", ln + 1, layer->name);
            return NULL;
          }
        else
          g_hash_table_insert (names, layer->name, layer);
      }

      label = g_strdup_printf ("line %u, %s", ln + 1, layer->name);
      bound.def = def;
      bound.line = ln + 1;
      bound.label = label;
      bound.error = error;

      /* The tensor argument of functional forms: F.relu(x). */
      if (def->functional && !method && args->len > 0)
        {
          CsSpecArg *a0 = g_ptr_array_index (args, 0);
          if (a0->key == NULL && a0->val->kind == CS_SPEC_VAL_IDENT)
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
              CsSpecArg *a = g_ptr_array_index (args, i);
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
              !cs_spec_check_view (layer, args, label, error))
            return NULL;
        }
      else if (!cs_layer_bind_args (&bound, args) || !cs_layer_fill (&bound, layer))
        return NULL;

      if (!cs_spec_infer_shape (layer, label, from, shape.flat && have_map ? &last_map : NULL, error) ||
          !cs_spec_check_sizes (layer, label, &total_params, error))
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

/* "line 7: ..." of the translated spec -> the line of the class it came from. */
static void
remap_error_line (GError       *error,
                  const GArray *src_lines)
{
  guint n = 0;
  const char *p;

  if (error == NULL || !g_str_has_prefix (error->message, "line "))
    return;
  p = error->message + 5;
  while (g_ascii_isdigit (*p))
    n = n * 10 + (guint) (*p++ - '0');
  if (n >= 1 && n <= src_lines->len)
    {
      char *msg = g_strdup_printf ("line %u%s", g_array_index (src_lines, guint, n - 1), p);
      g_free (error->message);
      error->message = msg;
    }
}

CsSpec *
cs_spec_parse_class (const char *text,
                     const char *class_name,
                     GError    **error)
{
  g_autoptr(GArray) src_lines = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *translated = NULL;
  CsSpec *spec;

  g_return_val_if_fail (text != NULL, NULL);

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "the spec is not valid UTF-8 text");
      return NULL;
    }
  if (class_name == NULL && !cs_torch_source_has_class (text))
    return parse_statements (text, error);

  /* A PyTorch class: read as the spec of the chain forward computes, on the
   * data set's input (both MNIST and Fashion-MNIST are 1x28x28). */
  translated = cs_torch_source_translate (text, class_name, CS_SPEC_DATASET_INPUT, &src_lines, error);
  if (translated == NULL)
    return NULL;
  spec = parse_statements (translated, &local_error);
  if (spec == NULL)
    {
      remap_error_line (local_error, src_lines);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  for (guint i = 0; i < spec->layers->len; i++)
    {
      CsLayerSpec *l = g_ptr_array_index (spec->layers, i);
      if (l->line >= 1 && l->line <= src_lines->len)
        l->line = g_array_index (src_lines, guint, l->line - 1);
    }
  return spec;
}

CsSpec *
cs_spec_parse (const char *text,
               GError    **error)
{
  return cs_spec_parse_class (text, NULL, error);
}

CsSpec *
cs_spec_load_file (const char *path,
                   GError    **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  g_autofree char *text = NULL;
  g_autofree char *file = g_strdup (path);
  g_autoptr(GError) local_error = NULL;
  const char *class_name = NULL;
  char *colon = strrchr (file, ':');
  gsize len;
  CsSpec *spec;

  /* model.py:Net, when model.py:Net is not itself a file */
  if (colon != NULL && colon > file && cs_py_is_dotted_name (colon + 1, FALSE) && strchr (colon + 1, '.') == NULL &&
      !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      *colon = '\0';
      class_name = colon + 1;
    }
  /* Not a FIFO (it would block), not a device, not more than any spec can be. */
  if (!cs_file_read_regular (file, CS_FILE_FOLLOW_LINKS, 1024 * 1024, &text, &len, &local_error))
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "%s", local_error->message);
      return NULL;
    }
  if (memchr (text, '\0', len) != NULL)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "%s: not a text file", file);
      return NULL;
    }
  spec = cs_spec_parse_class (text, class_name, &local_error);
  if (spec == NULL)
    {
      g_set_error (error, CS_SPEC_ERROR, local_error->code, "%s: %s", file, local_error->message);
      return NULL;
    }
  return spec;
}

char *
cs_spec_class_name (const CsSpec *self)
{
  const char *p;
  gsize n;

  g_return_val_if_fail (self != NULL, NULL);

  /* The first line cs_torch_source_translate() writes */
  if (!g_str_has_prefix (self->text, "# class "))
    return NULL;
  p = self->text + 8;
  for (n = 0; g_ascii_isalnum (p[n]) || p[n] == '_'; n++)
    ;
  return n > 0 && p[n] == ',' ? g_strndup (p, n) : NULL;
}

guint
cs_spec_n_layers (const CsSpec *self)
{
  g_return_val_if_fail (self != NULL, 0);

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
  g_return_val_if_fail (self != NULL, (CsShape) { 0 });

  const CsLayerSpec *last = g_ptr_array_index (self->layers, self->layers->len - 1);
  return last->out;
}

