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

static gboolean
is_identifier (const char *s)
{
  if (!cs_spec_is_ident_start (*s))
    return FALSE;
  for (s++; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '_')
      return FALSE;
  return TRUE;
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

CsSpec *
cs_spec_parse (const char *text,
               GError    **error)
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
      CsSpecParser ps = { 0 };
      const CsLayerDef *def;
      gboolean method;
      CsLayerSpec *layer;
      CsLayerBinding bound = { 0 };

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

CsSpec *
cs_spec_load_file (const char *path,
                   GError    **error)
{
  g_return_val_if_fail (path != NULL, NULL);

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

