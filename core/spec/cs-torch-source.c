/* A PyTorch nn.Module class, written as PyTorch users write it, read as a
 * spec: __init__'s layers (self.x = nn.Layer(...), nn.Sequential(...),
 * constants and constructor defaults) and forward's straight chain of calls
 * become the spec's lines, in the order forward calls them. Nothing of the
 * source is run: it is read, and whatever is not in this subset is refused
 * with its line, what it is, and what is supported. */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <string.h>

#include "spec/cs-spec-private.h"

#define FORWARD_SUPPORTED                                                                      \
  "forward may assign and return a chain of calls on its tensor: self.layer(x), F.relu, "     \
  "F.max_pool2d, F.avg_pool2d, F.dropout, F.log_softmax, F.softmax, torch.flatten(x, 1), "    \
  "x.view(x.size(0), -1), x.reshape(...)"

#define INIT_SUPPORTED                                                                         \
  "__init__ may call super().__init__(), set self.name = nn.Layer(...) or nn.Sequential(...), " \
  "and set constants (self.n = 10, hidden = 2 * n)"

typedef struct
{
  char  *name;   /* "conv1", without self. */
  char  *call;   /* "nn.Conv2d(1, 32, 3, 1)", constants put in */
  guint  line;
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
  GString    *out;
  GArray     *src_lines;  /* guint: the source line of each line of out */
  char       *current;    /* the tensor the chain has reached */
  GHashTable *aliases;    /* other names of that tensor (identity = x) */
  GHashTable *stale;      /* earlier tensors' names -> the line that set them */
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

static const Module *
find_module (Reader     *r,
             const char *name)
{
  for (guint i = 0; i < r->modules->len; i++)
    {
      const Module *m = g_ptr_array_index (r->modules, i);
      if (g_str_equal (m->name, name))
        return m;
    }
  return NULL;
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

static gboolean translate (Reader *r, const char *expr);

static gboolean
translate_tensor_name (Reader     *r,
                       const char *name)
{
  if (r->current != NULL && (g_str_equal (name, r->current) || g_hash_table_contains (r->aliases, name)))
    return TRUE;
  if (g_hash_table_contains (r->stale, name))
    return fail (r, "%s is used after line %u moved the chain on to %s: a model that goes back to an "
                 "earlier tensor (a residual connection, a branch) is not supported yet; "
                 "Convscope reads a straight chain of layers",
                 name, GPOINTER_TO_UINT (g_hash_table_lookup (r->stale, name)), r->current);
  return fail (r, "%s is not forward's input or a tensor it computed", name);
}

static gboolean
translate_call (Reader     *r,
                const char *expr,
                const char *callee,
                const char *args)
{
  g_autoptr(GPtrArray) parts = cs_py_split_top (args, ',');
  const char *base = strrchr (callee, '.') ? strrchr (callee, '.') + 1 : callee;

  if (parts == NULL)
    return fail (r, "cannot read the arguments of %s", callee);

  /* self.conv1(x): a layer of __init__ */
  if (g_str_has_prefix (callee, "self.") && cs_py_is_dotted_name (callee, FALSE) && strchr (callee + 5, '.') == NULL)
    {
      const Module *m = find_module (r, callee + 5);
      g_autofree char *line = NULL;

      if (m == NULL)
        return fail (r, "forward calls %s, which __init__ does not set to a layer", callee);
      if (parts->len != 1 || is_keyword_arg (g_ptr_array_index (parts, 0)))
        return fail (r, "%s takes one tensor here, as layers do", callee);
      if (!translate (r, g_ptr_array_index (parts, 0)))
        return FALSE;
      line = g_strdup_printf ("%s = %s", m->name, m->call);
      emit (r, line);
      return TRUE;
    }

  /* F.relu(x), torch.flatten(x, 1), torch.nn.functional.max_pool2d(x, 2) */
  if (cs_py_is_dotted_name (callee, FALSE) &&
      (g_str_has_prefix (callee, "F.") || g_str_has_prefix (callee, "torch.") ||
       g_str_has_prefix (callee, "nn.functional.")))
    {
      g_autoptr(GString) line = g_string_new (NULL);

      if (g_str_equal (base, "cat") || g_str_equal (base, "concat") || g_str_equal (base, "stack") ||
          g_str_equal (base, "add") || g_str_equal (base, "mul") || g_str_equal (base, "matmul"))
        return fail (r, "%s(...) joins tensors: branches and joins are not supported yet; %s",
                     callee, FORWARD_SUPPORTED);
      if (parts->len == 0 || is_keyword_arg (g_ptr_array_index (parts, 0)))
        return fail (r, "%s(...) takes the tensor first, e.g. %s(x)", callee, callee);
      if (!translate (r, g_ptr_array_index (parts, 0)))
        return FALSE;
      g_string_append_printf (line, "%s(x", callee);
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
      emit (r, line->str);
      return TRUE;
    }

  /* x.view(x.size(0), -1), self.conv(x).flatten(1) */
  if (strchr (callee, '.') != NULL && strncmp (callee, "self.", 5) != 0)
    {
      g_autofree char *target = g_strndup (callee, strrchr (callee, '.') - callee);
      g_autofree char *line = NULL;
      g_autoptr(GString) rest = g_string_new (NULL);

      if (!cs_spec_is_ident_start (base[0]))
        return fail (r, "cannot read \"%s\"", expr);
      if (cs_py_is_dotted_name (target, FALSE))
        {
          g_autofree char *head = g_strndup (target, strcspn (target, "."));
          if (!g_str_equal (head, r->current) && !g_hash_table_contains (r->aliases, head) &&
              !g_hash_table_contains (r->stale, head))
            return fail (r, "forward calls %s(...), which Convscope does not know; %s", callee, FORWARD_SUPPORTED);
        }
      if (!translate (r, target))
        return FALSE;
      for (guint i = 0; i < parts->len; i++)
        {
          g_autofree char *v = cs_py_substitute (g_ptr_array_index (parts, i), r->consts);
          g_string_append_printf (rest, "%s%s", i ? ", " : "", v);
        }
      line = g_strdup_printf ("x.%s(%s)", base, rest->str);
      emit (r, line);
      return TRUE;
    }

  return fail (r, "forward calls %s(...), which Convscope does not know; %s", callee, FORWARD_SUPPORTED);
}

static gboolean
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
    return fail (r, "an empty expression");
  if (cs_py_is_dotted_name (s, FALSE) && strchr (s, '.') == NULL)
    return translate_tensor_name (r, s);
  op = cs_py_top_operator (s);
  if (op == '+')
    return fail (r, "\"%s\" adds two tensors (a residual connection): branches and joins are not supported yet; "
                 "Convscope reads a straight chain of layers", s);
  if (op != 0)
    return fail (r, "\"%s\": arithmetic on tensors (%c) is not supported; %s", s, op, FORWARD_SUPPORTED);
  if (strstr (s, " if ") != NULL)
    return fail (r, "a conditional expression is not supported; %s", FORWARD_SUPPORTED);
  if (cs_py_split_call (s, &callee, &args))
    return translate_call (r, s, callee, args);
  return fail (r, "cannot read \"%s\" in forward; %s", s, FORWARD_SUPPORTED);
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
  gboolean returned = FALSE;

  r->line = def->line;
  if (params == NULL)
    return fail (r, "cannot read this def line");
  if (params->len != 2)
    return fail (r, "%s.forward must take one tensor (def forward(self, x)), not %u arguments",
                 cls->name, params->len > 0 ? params->len - 1 : 0);
  {
    g_autofree char *deflt = NULL;
    r->current = cs_py_param_name (g_ptr_array_index (params, 1), &deflt);
  }

  for (guint i = def_index + 1; i < end && !returned; i++)
    {
      CsPyLine *l = line_at (r, i);
      g_autofree char *target = NULL, *value = NULL;
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
          if (!translate (r, l->text + 6))
            return FALSE;
          returned = TRUE;
          continue;
        }
      if (!cs_py_split_assignment (l->text, &target, &value, &aug))
        return fail (r, "cannot read \"%s\" in forward; %s", l->text, FORWARD_SUPPORTED);
      if (aug == '+')
        return fail (r, "\"%s\" adds two tensors (a residual connection): branches and joins are not supported "
                     "yet; Convscope reads a straight chain of layers", l->text);
      if (aug != 0)
        return fail (r, "\"%s\": arithmetic on tensors is not supported; %s", l->text, FORWARD_SUPPORTED);
      if (!cs_py_is_dotted_name (target, FALSE) || strchr (target, '.') != NULL)
        return fail (r, "cannot assign to \"%s\" in forward; %s", target, FORWARD_SUPPORTED);
      {
        guint emitted = r->src_lines->len;
        GHashTableIter it;
        gpointer key;

        if (!translate (r, value))
          return FALSE;
        if (r->src_lines->len == emitted)
          {
            /* identity = x: another name for the same tensor */
            g_hash_table_add (r->aliases, g_strdup (target));
            g_hash_table_remove (r->stale, target);
            continue;
          }
        g_hash_table_iter_init (&it, r->aliases);
        while (g_hash_table_iter_next (&it, &key, NULL))
          if (!g_str_equal (key, target))
            g_hash_table_insert (r->stale, g_strdup (key), GUINT_TO_POINTER (l->line));
        g_hash_table_remove_all (r->aliases);
        if (!g_str_equal (target, r->current))
          g_hash_table_insert (r->stale, g_strdup (r->current), GUINT_TO_POINTER (l->line));
        g_hash_table_remove (r->stale, target);
        g_free (r->current);
        r->current = g_strdup (target);
      }
    }
  if (!returned)
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
  g_autoptr(GHashTable) stale = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) aliases = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
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
  r.stale = stale;
  r.aliases = aliases;

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
      g_free (r.current);
      return NULL;
    }
  g_free (r.current);
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
