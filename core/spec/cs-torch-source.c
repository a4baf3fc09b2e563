/* A PyTorch nn.Module class, written as PyTorch users write it, read as a
 * spec: __init__'s layers (self.x = nn.Layer(...), nn.Sequential(...),
 * constants and constructor defaults) and forward's straight-line code (calls,
 * sums, concatenations, a layer called again) become the spec's lines, in the
 * order forward computes them, each naming the tensors it reads. Nothing of
 * the source is run: it is read, and whatever is not in this subset is
 * refused with its line, what it is, and what is supported. */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <string.h>

#include "spec/cs-spec-private.h"

#define FORWARD_SUPPORTED                                                                      \
  "forward may assign and return tensors made by self.layer(x), F.relu, F.max_pool2d, "       \
  "F.avg_pool2d, F.adaptive_avg_pool2d, F.dropout, F.log_softmax, F.softmax, torch.flatten(x, 1), " \
  "x.view(x.size(0), -1), x.reshape(...), a + b and torch.cat((a, b), 1)"

#define INIT_SUPPORTED                                                                         \
  "__init__ may call super().__init__(), set self.name = nn.Layer(...) or nn.Sequential(...), " \
  "and set constants (self.n = 10, hidden = 2 * n)"

typedef struct
{
  char  *name;   /* "conv1", without self. */
  char  *call;   /* "nn.Conv2d(1, 32, 3, 1)", constants put in */
  guint  line;
  guint  calls;  /* by forward, so far */
} Module;

typedef struct
{
  char  *name;
  guint  first;   /* index of its line in the logical lines */
  guint  end;     /* one past its last body line */
  int    indent;
} ClassDef;

typedef struct
{
  GPtrArray  *lines;      /* of CsPyLine */
  GError    **error;
  GHashTable *consts;     /* name or self.name -> value text */
  GPtrArray  *modules;    /* of Module */
  GHashTable *module_by_name;
  GString    *out;
  GArray     *src_lines;  /* guint: the source line of each line of out */
  GHashTable *vars;       /* forward's variables -> the layer (or "input") that holds them */
  char       *prev;       /* the last layer written */
  guint       n_layers;   /* layers written so far: the spec's index of the next */
  guint       line;       /* the source line being read */
} Reader;

static void
module_free (Module *m)
{
  g_free (m->name);
  g_free (m->call);
  g_free (m);
}

static void
class_def_free (ClassDef *c)
{
  g_free (c->name);
  g_free (c);
}

static gboolean
fail (Reader     *r,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (Reader     *r,
      const char *format,
      ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (r->error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "line %u: %s", r->line, msg);
  return FALSE;
}

static void
emit (Reader     *r,
      const char *text)
{
  g_string_append (r->out, text);
  g_string_append_c (r->out, '\n');
  g_array_append_val (r->src_lines, r->line);
}

static CsPyLine *
line_at (Reader *r,
         guint   i)
{
  return g_ptr_array_index (r->lines, i);
}

/* "class Net(nn.Module):" -> "Net", if a base names Module. */
static char *
class_name_of (const char *text)
{
  const char *p = text + 6, *start;
  const char *open, *colon;

  if (!g_str_has_prefix (text, "class ") || !g_str_has_suffix (text, ":"))
    return NULL;
  while (*p == ' ')
    p++;
  start = p;
  while (g_ascii_isalnum (*p) || *p == '_')
    p++;
  if (p == start)
    return NULL;
  open = strchr (p, '(');
  colon = strrchr (p, ':');
  if (open == NULL || open > colon)
    return NULL;
  {
    g_autofree char *bases = g_strndup (open, colon - open);
    if (strstr (bases, "Module") == NULL)
      return NULL;
  }
  return g_strndup (start, p - start);
}

gboolean
cs_torch_source_has_class (const char *text)
{
  const char *p = text;

  /* A line that starts "class " and names a Module base: cheap, before any parsing. */
  for (;;)
    {
      const char *nl = strchr (p, '\n');
      g_autofree char *line = g_strndup (p, nl ? (gsize) (nl - p) : strlen (p));
      char *hash = strchr (line, '#');

      if (hash)
        *hash = '\0';
      g_strchomp (line);
      if (g_str_has_prefix (line, "class ") && strstr (line, "Module") != NULL)
        return TRUE;
      if (nl == NULL)
        return FALSE;
      p = nl + 1;
    }
}

static Module *
find_module (Reader     *r,
             const char *name)
{
  return g_hash_table_lookup (r->module_by_name, name);
}

static gboolean
read_init (Reader   *r,
           ClassDef *cls,
           guint     def_index,
           guint     end)
{
  CsPyLine *def = line_at (r, def_index);
  g_autofree char *fname = NULL;
  g_autoptr(GPtrArray) params = cs_py_def_params (def->text, &fname);

  r->line = def->line;
  if (params == NULL)
    return fail (r, "cannot read this def line");
  for (guint i = 1; i < params->len; i++)
    {
      const char *p = g_ptr_array_index (params, i);
      g_autofree char *deflt = NULL;
      g_autofree char *name = cs_py_param_name (p, &deflt);

      if (name[0] == '*')
        continue;
      if (deflt == NULL)
        return fail (r, "%s.__init__ takes %s without a default; give it one (%s=...) so Convscope knows its value",
                     cls->name, name, name);
      {
        g_autofree char *v = cs_py_substitute (deflt, r->consts);
        if (!cs_py_is_const_expr (v))
          return fail (r, "the default of %s (%s) is not a constant", name, deflt);
        g_hash_table_insert (r->consts, g_strdup (name), cs_py_fold_constant (v));
      }
    }

  for (guint i = def_index + 1; i < end; i++)
    {
      CsPyLine *l = line_at (r, i);
      g_autofree char *target = NULL, *value = NULL;
      char aug;

      r->line = l->line;
      if (cs_py_is_docstring (l->text) || g_str_equal (l->text, "pass"))
        continue;
      if (g_str_has_prefix (l->text, "super(") || strstr (l->text, ".__init__(") != NULL)
        continue;
      if (cs_py_is_compound (l->text))
        {
          char w[16];
          return fail (r, "\"%s\" in __init__ is not supported; %s", cs_py_first_word (l->text, w, sizeof w), INIT_SUPPORTED);
        }
      if (!cs_py_split_assignment (l->text, &target, &value, &aug) || aug != 0)
        return fail (r, "cannot read \"%s\" in __init__; %s", l->text, INIT_SUPPORTED);
      if (!cs_py_is_dotted_name (target, FALSE) || (strchr (target, '.') && !g_str_has_prefix (target, "self.")) ||
          strchr (target + (g_str_has_prefix (target, "self.") ? 5 : 0), '.') != NULL)
        return fail (r, "cannot assign to \"%s\" in __init__; %s", target, INIT_SUPPORTED);

      {
        g_autofree char *v = cs_py_substitute (value, r->consts);
        g_autofree char *callee = NULL, *args = NULL;

        if (cs_py_is_const_expr (v))
          {
            g_hash_table_insert (r->consts, g_strdup (target), cs_py_fold_constant (v));
            continue;
          }
        if (cs_py_split_call (v, &callee, &args) && cs_py_is_dotted_name (callee, FALSE))
          {
            const char *base = strrchr (callee, '.') ? strrchr (callee, '.') + 1 : callee;
            Module *m;

            if (g_str_equal (base, "ModuleList") || g_str_equal (base, "ModuleDict"))
              return fail (r, "nn.%s needs a loop in forward, which Convscope does not read; "
                           "list the layers in nn.Sequential(...) instead", base);
            if (!g_ascii_isupper (base[0]))
              return fail (r, "%s(...) is not a layer; %s", callee, INIT_SUPPORTED);
            if (!g_str_has_prefix (target, "self."))
              return fail (r, "the layer %s must be set on self (self.%s = %s(...)) to be part of the model",
                           target, target, callee);
            if (find_module (r, target + 5) != NULL)
              return fail (r, "self.%s is set twice", target + 5);
            m = g_new0 (Module, 1);
            m->name = g_strdup (target + 5);
            m->call = g_steal_pointer (&v);
            m->line = l->line;
            g_ptr_array_add (r->modules, m);
            g_hash_table_insert (r->module_by_name, m->name, m);
            continue;
          }
        return fail (r, "%s = %s is neither a layer nor a constant; %s", target, value, INIT_SUPPORTED);
      }
    }
  return TRUE;
}

static gboolean
is_keyword_arg (const char *arg)
{
  const char *p = arg;

  while (g_ascii_isalnum (*p) || *p == '_')
    p++;
  while (*p == ' ')
    p++;
  return p != arg && p[0] == '=' && p[1] != '=';
}

static char *translate (Reader *r, const char *expr);

/* The layers an nn.Sequential call expands to, named as the spec names them
 * (features.3.0); one for any other module. */
static void
module_leaves (const char *name,
               const char *call,
               GPtrArray  *out,
               guint       depth)
{
  g_autofree char *callee = NULL, *args = NULL;
  g_autoptr(GPtrArray) items = NULL;

  if (depth < 8 && cs_py_split_call (call, &callee, &args) && g_str_has_suffix (callee, "Sequential") &&
      (items = cs_py_split_top (args, ',')) != NULL && items->len > 0)
    {
      for (guint i = 0; i < items->len; i++)
        {
          g_autofree char *sub = g_strdup_printf ("%s.%u", name, i);
          module_leaves (sub, g_ptr_array_index (items, i), out, depth + 1);
        }
      return;
    }
  g_ptr_array_add (out, g_strdup (name));
}

/* One line of the spec, making @n_layers layers, the last called @name. */
static char *
emit_node (Reader     *r,
           const char *text,
           const char *name,
           guint       n_layers)
{
  emit (r, text);
  r->n_layers += n_layers;
  g_free (r->prev);
  r->prev = g_strdup (name);
  return g_strdup (name);
}

/* How a line names its input: x for the layer just before, else its name. */
static const char *
source_ref (Reader     *r,
            const char *src)
{
  return g_strcmp0 (src, r->prev) == 0 || (r->prev == NULL && g_str_equal (src, "input")) ? "x" : src;
}

static char *
translate_tensor_name (Reader     *r,
                       const char *name)
{
  const char *node = g_hash_table_lookup (r->vars, name);

  if (node == NULL)
    {
      fail (r, "%s is not forward's input or a tensor it computed", name);
      return NULL;
    }
  return g_strdup (node);
}

/* a + b + c: a sum of tensors (a residual connection) */
static char *
translate_sum (Reader     *r,
               GPtrArray  *terms)
{
  g_autoptr(GString) line = g_string_new (NULL);
  g_autofree char *name = NULL;
  g_autoptr(GPtrArray) srcs = g_ptr_array_new_with_free_func (g_free);

  if (terms->len > CS_LAYER_MAX_INPUTS)
    {
      fail (r, "a sum of more than %d tensors", CS_LAYER_MAX_INPUTS);
      return NULL;
    }
  for (guint i = 0; i < terms->len; i++)
    {
      char *src = translate (r, g_ptr_array_index (terms, i));
      if (src == NULL)
        return NULL;
      g_ptr_array_add (srcs, src);
    }
  name = g_strdup_printf ("add_%u", r->n_layers);
  g_string_append_printf (line, "%s = ", name);
  for (guint i = 0; i < srcs->len; i++)
    g_string_append_printf (line, "%s%s", i ? " + " : "", (char *) srcs->pdata[i]);
  return emit_node (r, line->str, name, 1);
}

static char *
translate_call (Reader     *r,
                const char *expr,
                const char *callee,
                const char *args)
{
  g_autoptr(GPtrArray) parts = cs_py_split_top (args, ',');
  const char *base = strrchr (callee, '.') ? strrchr (callee, '.') + 1 : callee;
  g_autofree char *src = NULL;

  if (parts == NULL)
    {
      fail (r, "cannot read the arguments of %s", callee);
      return NULL;
    }

  /* self.conv1(x): a layer of __init__; called again, it keeps its weights */
  if (g_str_has_prefix (callee, "self.") && cs_py_is_dotted_name (callee, FALSE) && strchr (callee + 5, '.') == NULL)
    {
      Module *m = find_module (r, callee + 5);
      g_autofree char *line = NULL, *name = NULL;
      g_autoptr(GPtrArray) leaves = g_ptr_array_new_with_free_func (g_free);

      if (m == NULL)
        {
          fail (r, "forward calls %s, which __init__ does not set to a layer", callee);
          return NULL;
        }
      if (parts->len != 1 || is_keyword_arg (g_ptr_array_index (parts, 0)))
        {
          fail (r, "%s takes one tensor here, as layers do", callee);
          return NULL;
        }
      src = translate (r, g_ptr_array_index (parts, 0));
      if (src == NULL)
        return NULL;
      module_leaves (m->name, m->call, leaves, 0);
      if (m->calls++ == 0)
        {
          const char *ref = source_ref (r, src);
          line = g_str_equal (ref, "x") ? g_strdup_printf ("%s = %s", m->name, m->call)
                                        : g_strdup_printf ("%s = %s(%s)", m->name, m->call, ref);
          return emit_node (r, line, leaves->pdata[leaves->len - 1], leaves->len);
        }
      if (leaves->len != 1)
        {
          fail (r, "self.%s, an nn.Sequential, is called a second time; calling a Sequential again is not "
                "supported yet (call its layers instead)", m->name);
          return NULL;
        }
      name = g_strdup_printf ("%s_%u", m->name, m->calls);
      line = g_strdup_printf ("%s = %s(%s)", name, m->name, src);
      return emit_node (r, line, name, 1);
    }

  /* F.relu(x), torch.flatten(x, 1), torch.nn.functional.max_pool2d(x, 2), torch.cat((a, b), 1) */
  if (cs_py_is_dotted_name (callee, FALSE) &&
      (g_str_has_prefix (callee, "F.") || g_str_has_prefix (callee, "torch.") ||
       g_str_has_prefix (callee, "nn.functional.")))
    {
      g_autoptr(GString) line = g_string_new (NULL);
      g_autofree char *name = NULL;

      if (g_str_equal (base, "add") && parts->len == 2 && !is_keyword_arg (parts->pdata[0]) &&
          !is_keyword_arg (parts->pdata[1]))
        return translate_sum (r, parts);
      if (g_str_equal (base, "cat") || g_str_equal (base, "concat"))
        {
          const char *list = parts->len > 0 ? g_ptr_array_index (parts, 0) : "";
          g_autofree char *inner = NULL, *dim = NULL;
          g_autoptr(GPtrArray) items = NULL;

          if ((list[0] != '(' && list[0] != '[') || strlen (list) < 2)
            {
              fail (r, "%s takes a tuple or list of tensors, like torch.cat((a, b), 1)", callee);
              return NULL;
            }
          inner = g_strndup (list + 1, strlen (list) - 2);
          items = cs_py_split_top (inner, ',');
          dim = parts->len > 1 ? cs_py_substitute (parts->pdata[1], r->consts) : g_strdup ("0");
          if (g_str_has_prefix (dim, "dim") && strchr (dim, '=') != NULL)
            {
              const char *v = strchr (dim, '=') + 1;
              memmove (dim, v, strlen (v) + 1);
            }
          g_strstrip (dim);
          if (items == NULL || items->len < 2 || items->len > CS_LAYER_MAX_INPUTS)
            {
              fail (r, "%s joins 2 to %d tensors", callee, CS_LAYER_MAX_INPUTS);
              return NULL;
            }
          name = g_strdup_printf ("cat_%u", r->n_layers);
          {
            g_autoptr(GString) refs = g_string_new (NULL);
            for (guint i = 0; i < items->len; i++)
              {
                g_autofree char *t = translate (r, g_ptr_array_index (items, i));
                if (t == NULL)
                  return NULL;
                g_string_append_printf (refs, "%s%s", i ? ", " : "", t);
              }
            g_free (name);
            name = g_strdup_printf ("cat_%u", r->n_layers);
            g_string_append_printf (line, "%s = torch.cat((%s), %s)", name, refs->str, dim);
          }
          return emit_node (r, line->str, name, 1);
        }
      if (g_str_equal (base, "stack") || g_str_equal (base, "mul") || g_str_equal (base, "matmul") ||
          g_str_equal (base, "add") || g_str_equal (base, "sub"))
        {
          fail (r, "%s(...) is not supported; tensors join by a + b or torch.cat((a, b), 1)", callee);
          return NULL;
        }
      if (parts->len == 0 || is_keyword_arg (g_ptr_array_index (parts, 0)))
        {
          fail (r, "%s(...) takes the tensor first, e.g. %s(x)", callee, callee);
          return NULL;
        }
      src = translate (r, g_ptr_array_index (parts, 0));
      if (src == NULL)
        return NULL;
      name = g_strdup_printf ("%s_%u", base, r->n_layers);
      g_string_append_printf (line, "%s = %s(%s", name, callee, source_ref (r, src));
      for (guint i = 1; i < parts->len; i++)
        {
          const char *a = g_ptr_array_index (parts, i);
          g_autofree char *v = NULL;

          /* F.dropout(x, training=self.training): the model's mode decides. */
          if (g_str_has_prefix (a, "training") && is_keyword_arg (a))
            continue;
          v = cs_py_substitute (a, r->consts);
          g_string_append_printf (line, ", %s", v);
        }
      g_string_append_c (line, ')');
      return emit_node (r, line->str, name, 1);
    }

  /* x.view(x.size(0), -1), self.conv(x).flatten(1) */
  if (strchr (callee, '.') != NULL && (strncmp (callee, "self.", 5) != 0 || strchr (callee, '(') != NULL))
    {
      g_autofree char *target = g_strndup (callee, strrchr (callee, '.') - callee);
      g_autofree char *line = NULL, *name = NULL;
      g_autoptr(GString) rest = g_string_new (NULL);

      if (!cs_spec_is_ident_start (base[0]))
        {
          fail (r, "cannot read \"%s\"", expr);
          return NULL;
        }
      if (cs_py_is_dotted_name (target, FALSE))
        {
          g_autofree char *head = g_strndup (target, strcspn (target, "."));
          if (!g_hash_table_contains (r->vars, head))
            {
              fail (r, "forward calls %s(...), which Convscope does not know; %s", callee, FORWARD_SUPPORTED);
              return NULL;
            }
        }
      src = translate (r, target);
      if (src == NULL)
        return NULL;
      for (guint i = 0; i < parts->len; i++)
        {
          g_autofree char *v = cs_py_substitute (g_ptr_array_index (parts, i), r->consts);
          g_string_append_printf (rest, "%s%s", i ? ", " : "", v);
        }
      name = g_strdup_printf ("%s_%u", base, r->n_layers);
      line = g_strdup_printf ("%s = %s.%s(%s)", name, source_ref (r, src), base, rest->str);
      return emit_node (r, line, name, 1);
    }

  fail (r, "forward calls %s(...), which Convscope does not know; %s", callee, FORWARD_SUPPORTED);
  return NULL;
}

static char *
translate (Reader     *r,
           const char *expr)
{
  g_autofree char *s = g_strstrip (g_strdup (expr));
  g_autofree char *callee = NULL, *args = NULL;
  char op;

  /* (expr): the first '(' closes at the end */
  while (s[0] == '(')
    {
      gsize n = strlen (s);
      int depth = 0;
      gsize close = 0;

      for (gsize k = 0; k < n; k++)
        {
          if (s[k] == '(')
            depth++;
          else if (s[k] == ')' && --depth == 0)
            {
              close = k;
              break;
            }
        }
      if (close != n - 1)
        break;
      memmove (s, s + 1, n - 2);
      s[n - 2] = '\0';
      g_strstrip (s);
    }

  if (s[0] == '\0')
    {
      fail (r, "an empty expression");
      return NULL;
    }
  if (cs_py_is_dotted_name (s, FALSE) && strchr (s, '.') == NULL)
    return translate_tensor_name (r, s);
  op = cs_py_top_operator (s);
  if (op == '+')
    {
      g_autoptr(GPtrArray) terms = cs_py_split_top (s, '+');
      if (terms == NULL || terms->len < 2)
        {
          fail (r, "cannot read \"%s\"", s);
          return NULL;
        }
      return translate_sum (r, terms);
    }
  if (op != 0)
    {
      fail (r, "\"%s\": arithmetic on tensors (%c) is not supported; %s", s, op, FORWARD_SUPPORTED);
      return NULL;
    }
  if (strstr (s, " if ") != NULL)
    {
      fail (r, "a conditional expression is not supported; %s", FORWARD_SUPPORTED);
      return NULL;
    }
  if (cs_py_split_call (s, &callee, &args))
    return translate_call (r, s, callee, args);
  fail (r, "cannot read \"%s\" in forward; %s", s, FORWARD_SUPPORTED);
  return NULL;
}

static gboolean
read_forward (Reader   *r,
              ClassDef *cls,
              guint     def_index,
              guint     end)
{
  CsPyLine *def = line_at (r, def_index);
  g_autofree char *fname = NULL;
  g_autoptr(GPtrArray) params = cs_py_def_params (def->text, &fname);
  g_autofree char *result = NULL;

  r->line = def->line;
  if (params == NULL)
    return fail (r, "cannot read this def line");
  if (params->len != 2)
    return fail (r, "%s.forward must take one tensor (def forward(self, x)), not %u arguments",
                 cls->name, params->len > 0 ? params->len - 1 : 0);
  {
    g_autofree char *deflt = NULL;
    g_hash_table_insert (r->vars, cs_py_param_name (g_ptr_array_index (params, 1), &deflt), g_strdup ("input"));
  }

  for (guint i = def_index + 1; i < end && result == NULL; i++)
    {
      CsPyLine *l = line_at (r, i);
      g_autofree char *target = NULL, *value = NULL, *node = NULL;
      char aug;

      r->line = l->line;
      if (cs_py_is_docstring (l->text) || g_str_equal (l->text, "pass"))
        continue;
      if (cs_py_is_compound (l->text))
        {
          char w[16];
          return fail (r, "\"%s\" in forward is not supported: Convscope reads straight-line code; %s",
                       cs_py_first_word (l->text, w, sizeof w), FORWARD_SUPPORTED);
        }
      if (g_str_has_prefix (l->text, "return ") || g_str_equal (l->text, "return"))
        {
          result = translate (r, l->text + 6);
          if (result == NULL)
            return FALSE;
          if (g_strcmp0 (result, r->prev) != 0)
            return fail (r, "forward returns %s, but computes more after it; return the last result", l->text + 7);
          continue;
        }
      if (!cs_py_split_assignment (l->text, &target, &value, &aug))
        return fail (r, "cannot read \"%s\" in forward; %s", l->text, FORWARD_SUPPORTED);
      if (!cs_py_is_dotted_name (target, FALSE) || strchr (target, '.') != NULL)
        return fail (r, "cannot assign to \"%s\" in forward; %s", target, FORWARD_SUPPORTED);
      if (aug == '+')
        {
          /* out += identity */
          g_autofree char *sum = g_strdup_printf ("%s + (%s)", target, value);
          node = translate (r, sum);
        }
      else if (aug != 0)
        return fail (r, "\"%s\": arithmetic on tensors is not supported; %s", l->text, FORWARD_SUPPORTED);
      else
        node = translate (r, value);
      if (node == NULL)
        return FALSE;
      g_hash_table_insert (r->vars, g_strdup (target), g_steal_pointer (&node));
    }
  if (result == NULL)
    {
      r->line = def->line;
      return fail (r, "%s.forward never returns its result", cls->name);
    }
  return TRUE;
}

char *
cs_torch_source_translate (const char  *source,
                           const char  *class_name,
                           CsShape      input,
                           GArray     **src_lines,
                           GError     **error)
{
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(GPtrArray) classes = g_ptr_array_new_with_free_func ((GDestroyNotify) class_def_free);
  g_autoptr(GHashTable) consts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) modules = g_ptr_array_new_with_free_func ((GDestroyNotify) module_free);
  g_autoptr(GHashTable) vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) module_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) srcl = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GString) out = g_string_new (NULL);
  Reader r = { 0 };
  ClassDef *cls = NULL;
  guint init = 0, forward = 0, init_end = 0, forward_end = 0;

  g_return_val_if_fail (source != NULL, NULL);

  lines = cs_py_logical_lines (source, error);
  if (lines == NULL)
    return NULL;
  r.lines = lines;
  r.error = error;
  r.consts = consts;
  r.modules = modules;
  r.out = out;
  r.src_lines = srcl;
  r.vars = vars;
  r.module_by_name = module_by_name;

  /* Classes, and module-level constants (NUM_CLASSES = 10). */
  for (guint i = 0; i < lines->len; i++)
    {
      CsPyLine *l = line_at (&r, i);
      g_autofree char *name = NULL;

      if (l->indent != 0)
        continue;
      name = class_name_of (l->text);
      if (name != NULL)
        {
          ClassDef *c = g_new0 (ClassDef, 1);
          guint j;

          c->name = g_steal_pointer (&name);
          c->first = i;
          for (j = i + 1; j < lines->len && line_at (&r, j)->indent > 0; j++)
            ;
          c->end = j;
          g_ptr_array_add (classes, c);
          continue;
        }
      {
        g_autofree char *target = NULL, *value = NULL;
        char aug;
        if (cs_py_split_assignment (l->text, &target, &value, &aug) && aug == 0 && cs_py_is_dotted_name (target, FALSE) &&
            strchr (target, '.') == NULL)
          {
            g_autofree char *v = cs_py_substitute (value, consts);
            if (cs_py_is_const_expr (v))
              g_hash_table_insert (consts, g_steal_pointer (&target), cs_py_fold_constant (v));
          }
      }
    }

  if (classes->len == 0)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "no nn.Module class in the source");
      return NULL;
    }
  for (guint i = 0; i < classes->len && class_name != NULL; i++)
    if (g_str_equal (((ClassDef *) classes->pdata[i])->name, class_name))
      cls = classes->pdata[i];
  if (class_name != NULL && cls == NULL)
    {
      g_autoptr(GString) names = g_string_new (NULL);
      for (guint i = 0; i < classes->len; i++)
        g_string_append_printf (names, "%s%s", i ? ", " : "", ((ClassDef *) classes->pdata[i])->name);
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "no class %s in the source (it has %s)",
                   class_name, names->str);
      return NULL;
    }
  if (cls == NULL && classes->len > 1)
    {
      g_autoptr(GString) names = g_string_new (NULL);
      for (guint i = 0; i < classes->len; i++)
        g_string_append_printf (names, "%s%s", i ? ", " : "", ((ClassDef *) classes->pdata[i])->name);
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                   "the source has %u nn.Module classes (%s): name one, as FILE.py:%s, or keep only the model's; "
                   "a model made of other classes is not supported yet",
                   classes->len, names->str, ((ClassDef *) classes->pdata[classes->len - 1])->name);
      return NULL;
    }
  if (cls == NULL)
    cls = classes->pdata[0];

  /* The class body: its methods and class-level constants. */
  for (guint i = cls->first + 1; i < cls->end; i++)
    {
      CsPyLine *l = line_at (&r, i);
      g_autofree char *fname = NULL;
      g_autoptr(GPtrArray) params = NULL;
      guint j;

      if (cls->indent == 0 && i == cls->first + 1)
        cls->indent = l->indent;
      if (l->indent != cls->indent)
        continue;
      for (j = i + 1; j < cls->end && line_at (&r, j)->indent > cls->indent; j++)
        ;
      params = g_str_has_prefix (l->text, "def ") ? cs_py_def_params (l->text, &fname) : NULL;
      if (fname != NULL && g_str_equal (fname, "__init__"))
        init = i, init_end = j;
      else if (fname != NULL && g_str_equal (fname, "forward"))
        forward = i, forward_end = j;
      else if (fname == NULL)
        {
          g_autofree char *target = NULL, *value = NULL;
          char aug;
          if (cs_py_split_assignment (l->text, &target, &value, &aug) && aug == 0 && cs_py_is_dotted_name (target, FALSE) &&
              strchr (target, '.') == NULL)
            {
              g_autofree char *v = cs_py_substitute (value, consts);
              if (cs_py_is_const_expr (v))
                {
                  g_hash_table_insert (consts, g_strdup_printf ("self.%s", target), g_strdup (v));
                  g_hash_table_insert (consts, g_steal_pointer (&target), cs_py_fold_constant (v));
                }
            }
        }
    }

  r.line = line_at (&r, cls->first)->line;
  if (forward == 0)
    {
      fail (&r, "class %s has no forward method", cls->name);
      return NULL;
    }
  if (init != 0 && !read_init (&r, cls, init, init_end))
    return NULL;

  {
    g_autofree char *head = g_strdup_printf ("# class %s, as Convscope reads it; the input comes from the data set",
                                             cls->name);
    g_autofree char *in = g_strdup_printf ("input %dx%dx%d", input.c, input.h, input.w);
    r.line = line_at (&r, cls->first)->line;
    emit (&r, head);
    emit (&r, in);
  }
  if (!read_forward (&r, cls, forward, forward_end))
    {
      g_free (r.prev);
      return NULL;
    }
  g_free (r.prev);
  if (srcl->len == 2)
    {
      r.line = line_at (&r, forward)->line;
      fail (&r, "%s.forward calls no layer", cls->name);
      return NULL;
    }
  if (src_lines != NULL)
    *src_lines = g_steal_pointer (&srcl);
  return g_string_free (g_steal_pointer (&out), FALSE);
}
