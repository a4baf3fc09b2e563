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

/* What a layer's input is called in messages: its name, or "the input". */
static const char *
tensor_label (const CsSpec *self,
              int           index)
{
  return index < 0 ? "the input" : ((CsLayerSpec *) g_ptr_array_index (self->layers, index))->name;
}

/* A tensor named in the spec: a layer's output, or "input". */
static gboolean
resolve_tensor (const CsSpec *self,
                GHashTable   *names,
                const char   *name,
                guint         line,
                int          *index,
                GError      **error)
{
  gpointer v;

  if (g_str_equal (name, "input"))
    {
      *index = -1;
      return TRUE;
    }
  v = g_hash_table_lookup (names, name);
  if (v == NULL)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                   "line %u: no layer before this one is called %s (a layer's name, or input, names a tensor)",
                   line, name);
      return FALSE;
    }
  *index = (int) GPOINTER_TO_UINT (v) - 1;
  (void) self;
  return TRUE;
}

/* A layer's name is the newest of that name; a module without weights may
 * be called again under its own name (self.pool twice, written twice). */
static gboolean
add_layer_name (GHashTable   *names,
                const CsSpec *self,
                CsLayerSpec  *layer,
                GError      **error)
{
  gpointer v = g_hash_table_lookup (names, layer->name);
  const CsLayerSpec *same = v ? g_ptr_array_index (self->layers, GPOINTER_TO_UINT (v) - 1) : NULL;

  if (same != NULL && same->kind == layer->kind && g_str_equal (same->call, layer->call) &&
      !cs_layer_kind_has_params (layer->kind) && !layer->functional)
    ;
  else if (same != NULL && same->kind == layer->kind && g_str_equal (same->call, layer->call) && !layer->functional)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                   "line %u: %s is written a second time; to call it again with the same weights write "
                   "\"%s_2 = %s(x)\", or give the new layer its own name", layer->line, layer->name, layer->name,
                   layer->name);
      return FALSE;
    }
  else if (same != NULL)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                   "line %u: the name \"%s\" is already used by another layer", layer->line, layer->name);
      return FALSE;
    }
  g_hash_table_insert (names, layer->name, GUINT_TO_POINTER (self->layers->len));
  return TRUE;
}

/* The inputs of a sum or a concatenation, by name, and its shape. */
static gboolean
bind_join (CsSpec             *self,
           GHashTable         *names,
           CsLayerSpec        *layer,
           const char * const *terms,
           guint               n_terms,
           const char         *label,
           GError            **error)
{
  if (n_terms < 2 || n_terms > CS_LAYER_MAX_INPUTS)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                   "%s: joins 2 to %d tensors, not %u", label, CS_LAYER_MAX_INPUTS, n_terms);
      return FALSE;
    }
  layer->n_inputs = n_terms;
  for (guint i = 0; i < n_terms; i++)
    if (!resolve_tensor (self, names, terms[i], layer->line, &layer->inputs[i], error))
      return FALSE;
  {
    CsShape shapes[CS_LAYER_MAX_INPUTS];
    const char *from[CS_LAYER_MAX_INPUTS];
    for (guint i = 0; i < n_terms; i++)
      {
        shapes[i] = layer->inputs[i] < 0 ? self->input
                                         : ((CsLayerSpec *) g_ptr_array_index (self->layers, layer->inputs[i]))->out;
        from[i] = tensor_label (self, layer->inputs[i]);
      }
    layer->in = shapes[0];
    return cs_spec_infer_join_shape (layer, shapes, from, label, error);
  }
}

/* torch.add(a, b) or torch.cat((a, b), 1): the tensors are names. */
static gboolean
bind_join_args (CsSpec       *self,
                GHashTable   *names,
                CsLayerSpec  *layer,
                GPtrArray    *args,
                const char   *label,
                GError      **error)
{
  const char *terms[CS_LAYER_MAX_INPUTS];
  guint n = 0;

  if (layer->kind == CS_LAYER_ADD)
    {
      for (guint i = 0; i < args->len; i++)
        {
          CsSpecArg *a = g_ptr_array_index (args, i);
          if ((a->key == NULL || g_str_equal (a->key, "input") || g_str_equal (a->key, "other")) &&
              a->val->kind == CS_SPEC_VAL_IDENT && n < 2)
            terms[n++] = a->val->s;
          else
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                           "%s: torch.add takes two tensors by name, like torch.add(bn2, identity)", label);
              return FALSE;
            }
        }
      return bind_join (self, names, layer, terms, n, label, error);
    }

  /* cat: a tuple or list of names, then dim (1: the channels, or the features) */
  {
    CsSpecArg *t = args->len > 0 ? g_ptr_array_index (args, 0) : NULL;
    gint64 dim = 1;

    if (t == NULL || t->val->kind != CS_SPEC_VAL_TUPLE)
      {
        g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                     "%s: torch.cat takes a tuple of tensors by name, like torch.cat((a, b), 1)", label);
        return FALSE;
      }
    for (guint i = 1; i < args->len; i++)
      {
        CsSpecArg *a = g_ptr_array_index (args, i);
        if ((a->key == NULL || g_str_equal (a->key, "dim")) && a->val->kind == CS_SPEC_VAL_INT && i == 1)
          dim = a->val->i;
        else
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT, "%s: torch.cat takes the tensors and dim", label);
            return FALSE;
          }
      }
    if (dim != 1)
      {
        g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                     "%s: only dim=1 (the channels, or the features) is supported, not %" G_GINT64_FORMAT, label, dim);
        return FALSE;
      }
    for (guint i = 0; i < t->val->items->len; i++)
      {
        CsSpecVal *v = g_ptr_array_index (t->val->items, i);
        if (v->kind != CS_SPEC_VAL_IDENT || n >= CS_LAYER_MAX_INPUTS)
          {
            g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                         "%s: torch.cat joins 2 to %d tensors, each by name", label, CS_LAYER_MAX_INPUTS);
            return FALSE;
          }
        terms[n++] = v->s;
      }
    return bind_join (self, names, layer, terms, n, label, error);
  }
}

static CsSpec *
parse_statements (const char *text,
                  GError    **error)
{
  g_autoptr(CsSpec) self = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);   /* -> 1 + the newest layer's index */
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
  statements = cs_spec_collect_statements (text, error);
  if (statements == NULL)
    return NULL;

  for (guint si = 0; si < statements->len; si++)
    {
      const CsSpecStatement *st = g_ptr_array_index (statements, si);
      guint ln = st->line - 1;
      g_autofree char *line = g_strdup (st->parsed);
      g_autofree char *target = NULL;
      g_autofree char *callee = NULL;
      g_autofree char *label = NULL;
      g_autofree char *source = NULL;
      g_autoptr(GPtrArray) args = NULL;
      gboolean chained = TRUE;
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

      /* [target =] callee(args)[(source)]  |  target = a + b  |  target = module(source) */
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
      if (target != NULL && g_str_has_prefix (target, "self."))
        memmove (target, target + 5, strlen (target + 5) + 1);
      if (target != NULL && !cs_py_is_dotted_name (target, TRUE))
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                       "line %u: \"%s\" is not a valid layer name", ln + 1, target);
          return NULL;
        }
      cs_spec_parser_skip_ws (&ps);

      /* out = bn2 + identity: a join of named tensors */
      if (*ps.p == '+')
        {
          g_autoptr(GPtrArray) terms = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (terms, g_steal_pointer (&callee));
          while (cs_spec_parser_accept (&ps, '+'))
            {
              char *t = cs_spec_parse_dotted_ident (&ps);
              if (t == NULL)
                {
                  cs_spec_parser_fail (&ps, "expected a layer's name after '+'");
                  return NULL;
                }
              g_ptr_array_add (terms, t);
              cs_spec_parser_skip_ws (&ps);
            }
          if (*ps.p != '\0')
            {
              cs_spec_parser_fail (&ps, "unexpected text after the sum");
              return NULL;
            }
          layer = g_new0 (CsLayerSpec, 1);
          g_ptr_array_add (self->layers, layer);
          layer->kind = CS_LAYER_ADD;
          layer->functional = TRUE;
          layer->shares = -1;
          layer->line = ln + 1;
          layer->call = g_strstrip (g_strdup (st->text + (target ? strcspn (st->text, "=") + 1 : 0)));
          layer->name = target && !g_str_equal (target, "x")
            ? g_steal_pointer (&target) : g_strdup_printf ("add_%u", self->layers->len - 1);
          label = g_strdup_printf ("line %u, %s", ln + 1, layer->name);
          /* Its inputs are named before its own name is taken: out = out + identity reads the old out. */
          if (!bind_join (self, names, layer, (const char * const *) terms->pdata, terms->len, label, error) ||
              !add_layer_name (names, self, layer, error) ||
              !cs_spec_check_sizes (layer, label, &total_params, error))
            return NULL;
          shape = layer->out;
          continue;
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
      /* nn.Conv2d(16, 16, 3)(relu_2): the module applied to a named tensor */
      if (cs_spec_parser_accept (&ps, '('))
        {
          source = cs_spec_parse_dotted_ident (&ps);
          if (source == NULL || !cs_spec_parser_accept (&ps, ')'))
            {
              cs_spec_parser_fail (&ps, "expected the name of the tensor the layer is applied to, like (conv1)");
              return NULL;
            }
          cs_spec_parser_skip_ws (&ps);
        }
      if (*ps.p != '\0')
        {
          cs_spec_parser_fail (&ps, "unexpected text after the layer");
          return NULL;
        }

      /* conv1(relu_3): a layer called again, with its weights */
      if (g_hash_table_contains (names, callee) && !g_str_has_prefix (callee, "nn.") && strchr (callee, '(') == NULL)
        {
          const CsLayerSpec *first = g_ptr_array_index (self->layers, GPOINTER_TO_UINT (g_hash_table_lookup (names, callee)) - 1);
          CsSpecArg *a0 = args->len == 1 ? g_ptr_array_index (args, 0) : NULL;
          int src;

          if (first->functional || first->kind == CS_LAYER_ADD || first->kind == CS_LAYER_CAT)
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                           "line %u: %s is an operation's result, not a module that can be called again", ln + 1, callee);
              return NULL;
            }
          if (a0 == NULL || a0->key != NULL || a0->val->kind != CS_SPEC_VAL_IDENT || source != NULL)
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                           "line %u: call %s on one tensor, like %s(relu_3)", ln + 1, callee, callee);
              return NULL;
            }
          if (!resolve_tensor (self, names, a0->val->s, ln + 1, &src, error))
            return NULL;
          layer = g_new0 (CsLayerSpec, 1);
          *layer = *first;
          layer->name = target != NULL ? g_steal_pointer (&target) : g_strdup_printf ("%s_%u", callee, self->layers->len);
          layer->call = g_strdup (first->call);
          layer->shares = first->shares >= 0 ? first->shares : (int) GPOINTER_TO_UINT (g_hash_table_lookup (names, callee)) - 1;
          layer->line = ln + 1;
          layer->inputs[0] = src;
          layer->n_inputs = 1;
          layer->in = src < 0 ? self->input : ((CsLayerSpec *) g_ptr_array_index (self->layers, src))->out;
          g_ptr_array_add (self->layers, layer);
          label = g_strdup_printf ("line %u, %s", ln + 1, layer->name);
          if (!add_layer_name (names, self, layer, error) ||
              !cs_spec_infer_shape (layer, label, tensor_label (self, src), NULL, error) ||
              !cs_spec_check_sizes (layer, label, &total_params, error))
            return NULL;
          shape = layer->out;
          continue;
        }

      /* relu_3.view(-1, 400): a method of a named tensor */
      {
        const char *dot = strrchr (callee, '.');
        if (dot != NULL && !g_str_has_prefix (callee, "nn.") && !g_str_has_prefix (callee, "F.") &&
            !g_str_has_prefix (callee, "torch.") && !g_str_has_prefix (callee, "functional.") &&
            !g_str_equal (callee, "x") && !g_str_has_prefix (callee, "x.") && !g_str_has_prefix (callee, "out."))
          {
            g_autofree char *head = g_strndup (callee, dot - callee);
            if (g_hash_table_contains (names, head) || g_str_equal (head, "input"))
              {
                char *m = g_strconcat ("x", dot, NULL);
                g_free (source);
                source = g_steal_pointer (&head);
                g_free (callee);
                callee = m;
              }
          }
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
      layer->shares = -1;
      layer->line = ln + 1;
      layer->call = g_strdup (st->text + (target ? strcspn (st->text, "=") + 1 : 0));
      g_strstrip (layer->call);

      /* self.conv1 = ... names the layer conv1; x = F.relu(x) stays unnamed. */
      if (target != NULL && !(layer->functional && (g_str_equal (target, "x") || g_str_equal (target, "out"))))
        layer->name = g_steal_pointer (&target);
      else if (layer->functional)
        layer->name = g_strdup_printf ("%s_%u", def->name, self->layers->len - 1);
      else
        layer->name = g_strdup_printf ("%u", module_index);
      if (!layer->functional)
        module_index++;

      label = g_strdup_printf ("line %u, %s", ln + 1, layer->name);

      /* torch.add(a, b), torch.cat((a, b), 1) */
      if (def->kind == CS_LAYER_ADD || def->kind == CS_LAYER_CAT)
        {
          if (!bind_join_args (self, names, layer, args, label, error) ||
              !add_layer_name (names, self, layer, error) ||
              !cs_spec_check_sizes (layer, label, &total_params, error))
            return NULL;
          shape = layer->out;
          continue;
        }

      bound.def = def;
      bound.line = ln + 1;
      bound.label = label;
      bound.error = error;

      /* The tensor argument of functional forms: F.relu(x), or F.relu(conv1) for a named one. */
      if (def->functional && !method && args->len > 0)
        {
          CsSpecArg *a0 = g_ptr_array_index (args, 0);
          if (a0->key == NULL && a0->val->kind == CS_SPEC_VAL_IDENT)
            {
              if (g_hash_table_contains (names, a0->val->s) || g_str_equal (a0->val->s, "input"))
                {
                  g_free (source);
                  source = g_strdup (a0->val->s);
                }
              g_ptr_array_remove_index (args, 0);
            }
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

      /* Where its input comes from: the layer before, or the one named. */
      {
        int src = (int) self->layers->len - 2;
        if (source != NULL && !resolve_tensor (self, names, source, ln + 1, &src, error))
          return NULL;
        layer->inputs[0] = src;
        layer->n_inputs = 1;
        layer->in = src < 0 ? self->input : ((CsLayerSpec *) g_ptr_array_index (self->layers, src))->out;
        chained = src == (int) self->layers->len - 2;
        if (!chained)
          {
            g_free (from_owned);
            from_owned = g_strdup (tensor_label (self, src));
            from = from_owned;
          }
      }
      /* Named after its input is found: x = F.relu(x) with a layer called x reads the old one. */
      if (!add_layer_name (names, self, layer, error))
        return NULL;

      if (def->kind == CS_LAYER_FLATTEN && method)
        {
          if ((g_str_equal (def->name, "view") || g_str_equal (def->name, "reshape")) &&
              !cs_spec_check_view (layer, args, label, error))
            return NULL;
        }
      else if (!cs_layer_bind_args (&bound, args) || !cs_layer_fill (&bound, layer))
        return NULL;

      if (!cs_spec_infer_shape (layer, label, from, chained && layer->in.flat && have_map ? &last_map : NULL, error) ||
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

