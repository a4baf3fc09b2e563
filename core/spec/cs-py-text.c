/* Python source text, as far as specs and nn.Module classes need it: splitting
 * at top-level commas, finding the call a text ends in, logical lines, and
 * constants put in for names. Strings and brackets are respected throughout;
 * nothing here evaluates anything. */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <string.h>

#include "spec/cs-spec-private.h"

/* Steps over the string literal at *p (', ", ''' or """), returning the
 * character after it, or NULL if it does not end in @s. */
static const char *
skip_string (const char *p)
{
  char q = *p;
  gboolean triple = p[1] == q && p[2] == q;

  p += triple ? 3 : 1;
  for (; *p; p++)
    {
      if (*p == '\\' && p[1] != '\0')
        {
          p++;
          continue;
        }
      if (*p == q && (!triple || (p[1] == q && p[2] == q)))
        return p + (triple ? 3 : 1);
    }
  return NULL;
}

static gboolean
is_open (char c)
{
  return c == '(' || c == '[' || c == '{';
}

static gboolean
is_close (char c)
{
  return c == ')' || c == ']' || c == '}';
}

GPtrArray *
cs_py_split_top (const char *s,
                 char        sep)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  const char *start = s, *p = s;
  int depth = 0;

  for (; *p; p++)
    {
      if (*p == '\'' || *p == '"')
        {
          const char *end = skip_string (p);
          if (end == NULL)
            return NULL;
          p = end - 1;
        }
      else if (is_open (*p))
        depth++;
      else if (is_close (*p) && --depth < 0)
        return NULL;
      else if (*p == sep && depth == 0)
        {
          g_ptr_array_add (parts, g_strstrip (g_strndup (start, p - start)));
          start = p + 1;
        }
    }
  if (depth != 0)
    return NULL;
  {
    char *last = g_strstrip (g_strdup (start));
    /* f(a, b,) : a trailing comma adds nothing */
    if (last[0] != '\0' || parts->len == 0)
      g_ptr_array_add (parts, last);
    else
      g_free (last);
  }
  if (parts->len == 1 && ((char *) parts->pdata[0])[0] == '\0')
    g_ptr_array_set_size (parts, 0);
  return g_steal_pointer (&parts);
}

gboolean
cs_py_split_call (const char  *s,
                  char       **callee,
                  char       **args)
{
  gsize len = strlen (s);
  const char *open = NULL, *p;
  int depth = 0;

  *callee = *args = NULL;
  if (len < 3 || s[len - 1] != ')')
    return FALSE;
  /* The '(' that matches the final ')', at depth 0. */
  for (p = s; *p; p++)
    {
      if (*p == '\'' || *p == '"')
        {
          const char *end = skip_string (p);
          if (end == NULL)
            return FALSE;
          p = end - 1;
        }
      else if (is_open (*p))
        {
          if (depth == 0 && *p == '(')
            open = p;
          depth++;
        }
      else if (is_close (*p))
        {
          if (--depth < 0)
            return FALSE;
          if (depth == 0 && p[1] != '\0' && *p == ')')
            open = NULL;
        }
    }
  if (depth != 0 || open == NULL || open == s)
    return FALSE;
  *callee = g_strstrip (g_strndup (s, open - s));
  *args = g_strndup (open + 1, (s + len - 1) - (open + 1));
  if ((*callee)[0] == '\0' || !(g_ascii_isalnum ((*callee)[strlen (*callee) - 1]) ||
                                (*callee)[strlen (*callee) - 1] == '_' || (*callee)[strlen (*callee) - 1] == ')'))
    {
      g_clear_pointer (callee, g_free);
      g_clear_pointer (args, g_free);
      return FALSE;
    }
  return TRUE;
}

char
cs_py_top_operator (const char *s)
{
  int depth = 0;
  const char *p;
  gboolean operand = FALSE;   /* a value came before: +/- is binary */

  for (p = s; *p; p++)
    {
      if (*p == '\'' || *p == '"')
        {
          const char *end = skip_string (p);
          if (end == NULL)
            return 0;
          p = end - 1;
          operand = TRUE;
        }
      else if (is_open (*p))
        depth++;
      else if (is_close (*p))
        {
          depth--;
          operand = TRUE;
        }
      else if (depth == 0 && strchr ("+-*/@%", *p) != NULL)
        {
          /* 1e-3 is a number, not a subtraction */
          if ((*p == '-' || *p == '+') && p > s && (p[-1] == 'e' || p[-1] == 'E') &&
              p > s + 1 && g_ascii_isdigit (p[-2]))
            continue;
          if (operand)
            return *p;
        }
      else if (depth == 0 && (g_ascii_isalnum (*p) || *p == '_' || *p == '.'))
        operand = TRUE;
      else if (depth == 0 && *p != ' ' && *p != '\t')
        operand = FALSE;
    }
  return 0;
}

gboolean
cs_py_is_dotted_name (const char *s,
                      gboolean    digits_ok)
{
  gboolean seg_start = TRUE;

  if (!cs_spec_is_ident_start (*s))
    return FALSE;
  for (; *s; s++)
    {
      if (*s == '.')
        {
          if (seg_start)
            return FALSE;
          seg_start = TRUE;
          continue;
        }
      if (seg_start && !cs_spec_is_ident_start (*s) && !(digits_ok && g_ascii_isdigit (*s)))
        return FALSE;
      if (!g_ascii_isalnum (*s) && *s != '_')
        return FALSE;
      seg_start = FALSE;
    }
  return !seg_start;
}

char *
cs_py_substitute (const char *s,
                  GHashTable *values)
{
  GString *out = g_string_new (NULL);
  const char *p = s;

  while (*p)
    {
      if (*p == '\'' || *p == '"')
        {
          const char *end = skip_string (p);
          if (end == NULL)
            end = p + strlen (p);
          g_string_append_len (out, p, end - p);
          p = end;
          continue;
        }
      if (cs_spec_is_ident_start (*p) &&
          (p == s || !(g_ascii_isalnum (p[-1]) || p[-1] == '_' || p[-1] == '.')))
        {
          const char *start = p, *after;
          g_autofree char *name = NULL;
          const char *value;

          while (g_ascii_isalnum (*p) || *p == '_' || (*p == '.' && cs_spec_is_ident_start (p[1])))
            p++;
          name = g_strndup (start, p - start);
          after = p;
          while (*after == ' ' || *after == '\t')
            after++;
          value = g_hash_table_lookup (values, name);
          /* Not a keyword's name: f(num_classes=num_classes) keeps the first. */
          if (value != NULL && !(after[0] == '=' && after[1] != '='))
            {
              gboolean literal = value[0] == '\'' || value[0] == '"' || strpbrk (value, " +-*/%,") == NULL;
              g_string_append_printf (out, literal ? "%s" : "(%s)", value);
            }
          else
            g_string_append (out, name);
          continue;
        }
      g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

static void
logical_line_free (CsPyLine *l)
{
  g_free (l->text);
  g_free (l);
}

GPtrArray *
cs_py_logical_lines (const char *text,
                     GError    **error)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func ((GDestroyNotify) logical_line_free);
  g_autoptr(GString) cur = g_string_new (NULL);
  const char *p = text;
  guint line = 1, start_line = 1;
  int depth = 0, indent = 0;
  gboolean at_start = TRUE, continued = FALSE;

  while (TRUE)
    {
      char c = *p;

      if (at_start)
        {
          indent = 0;
          while (*p == ' ' || *p == '\t')
            indent = *p++ == '\t' ? (indent / 8 + 1) * 8 : indent + 1;
          start_line = line;
          at_start = FALSE;
          continue;
        }
      if (c == '\0' || (c == '\n' && depth == 0 && !continued))
        {
          g_strstrip (cur->str);
          g_string_set_size (cur, strlen (cur->str));
          if (cur->len > 0)
            {
              CsPyLine *l = g_new0 (CsPyLine, 1);
              l->text = g_strdup (cur->str);
              l->indent = indent;
              l->line = start_line;
              g_ptr_array_add (lines, l);
            }
          g_string_truncate (cur, 0);
          if (c == '\0')
            break;
          p++;
          line++;
          at_start = TRUE;
          continue;
        }
      continued = FALSE;
      if (c == '\r')
        {
          p++;
          continue;
        }
      if (c == '\n')
        {
          /* inside brackets: the next line's indentation is not text */
          if (cur->len > 0 && !strchr ("([{ ", cur->str[cur->len - 1]))
            g_string_append_c (cur, ' ');
          p++;
          line++;
          while (*p == ' ' || *p == '\t')
            p++;
          if (*p == ')' || *p == ']' || *p == '}')
            while (cur->len > 0 && cur->str[cur->len - 1] == ' ')
              g_string_truncate (cur, cur->len - 1);
          continue;
        }
      if (c == '\\' && p[1] == '\n')
        {
          continued = TRUE;
          g_string_append_c (cur, ' ');
          p++;
          continue;
        }
      if (c == '#')
        {
          while (*p && *p != '\n')
            p++;
          continue;
        }
      if (c == '\'' || c == '"')
        {
          const char *end = skip_string (p);
          if (end == NULL)
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                           "line %u: a string that never ends", line);
              return NULL;
            }
          for (const char *q = p; q < end; q++)
            {
              if (*q == '\n')
                line++;
              g_string_append_c (cur, *q == '\n' ? ' ' : *q);
            }
          p = end;
          continue;
        }
      if (is_open (c))
        depth++;
      else if (is_close (c) && depth > 0)
        depth--;
      if (depth > 64)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                       "line %u: brackets nested more than 64 deep", line);
          return NULL;
        }
      g_string_append_c (cur, c == '\t' ? ' ' : c);
      p++;
    }
  if (depth != 0)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                   "line %u: a bracket opened here is never closed", start_line);
      return NULL;
    }
  return g_steal_pointer (&lines);
}

/* A constant: numbers, strings, True/False/None, tuples and arithmetic, after
 * the known constants are put in. */
gboolean
cs_py_is_const_expr (const char *s)
{
  const char *p = s;

  if (*s == '\0')
    return FALSE;
  while (*p)
    {
      if (*p == '\'' || *p == '"')
        {
          char q = *p++;
          while (*p && *p != q)
            p += *p == '\\' && p[1] ? 2 : 1;
          if (*p == '\0')
            return FALSE;
          p++;
        }
      else if (g_ascii_isdigit (*p) || (*p == '.' && g_ascii_isdigit (p[1])))
        {
          while (g_ascii_isalnum (*p) || *p == '.' || *p == '_' ||
                 ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')))
            p++;
        }
      else if (cs_spec_is_ident_start (*p))
        {
          const char *start = p;
          while (g_ascii_isalnum (*p) || *p == '_')
            p++;
          if (!(p - start == 4 && (strncmp (start, "True", 4) == 0 || strncmp (start, "None", 4) == 0)) &&
              !(p - start == 5 && strncmp (start, "False", 5) == 0))
            return FALSE;
        }
      else if (strchr (" +-*/%(),", *p) != NULL)
        p++;
      else
        return FALSE;
    }
  return TRUE;
}

/* A constant's value as a literal (2 * 16 -> 32), or its text if it is more
 * than a number, a string or a bool (a tuple stays as written). */
char *
cs_py_fold_constant (const char *text)
{
  g_autofree char *args_text = g_strdup_printf ("%s)", text);
  g_autoptr(GPtrArray) args = NULL;
  CsSpecParser ps = { 0 };
  const CsSpecVal *v;

  ps.s = ps.p = args_text;
  args = cs_spec_parse_args (&ps);
  if (args == NULL || ps.failed || args->len != 1 || ((CsSpecArg *) args->pdata[0])->key != NULL)
    return g_strdup (text);
  v = ((CsSpecArg *) args->pdata[0])->val;
  switch (v->kind)
    {
    case CS_SPEC_VAL_INT:
      return g_strdup_printf ("%" G_GINT64_FORMAT, v->i);
    case CS_SPEC_VAL_FLOAT:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        g_ascii_dtostr (buf, sizeof buf, v->f);
        return strpbrk (buf, ".eEn") ? g_strdup (buf) : g_strconcat (buf, ".0", NULL);
      }
    case CS_SPEC_VAL_BOOL:
      return g_strdup (v->i ? "True" : "False");
    case CS_SPEC_VAL_NONE:
    case CS_SPEC_VAL_STR:
    case CS_SPEC_VAL_IDENT:
    case CS_SPEC_VAL_TUPLE:
    default:
      return g_strdup (text);
    }
}

/* "target = value": the '=' that is not part of ==, <=, >=, != or a keyword
 * argument inside brackets. */
gboolean
cs_py_split_assignment (const char  *text,
                        char       **target,
                        char       **value,
                        char        *aug)
{
  int depth = 0;

  *aug = 0;
  for (const char *p = text; *p; p++)
    {
      if (*p == '\'' || *p == '"')
        return FALSE;
      if (*p == '(' || *p == '[' || *p == '{')
        depth++;
      else if (*p == ')' || *p == ']' || *p == '}')
        depth--;
      else if (depth == 0 && *p == '=' && p[1] != '=' && p > text && strchr ("=<>!", p[-1]) == NULL)
        {
          const char *end = p;
          if (strchr ("+-*/%@&|", p[-1]) != NULL)
            {
              *aug = p[-1];
              end--;
            }
          *target = g_strstrip (g_strndup (text, end - text));
          *value = g_strstrip (g_strdup (p + 1));
          /* x: Tensor = ... */
          {
            char *colon = strchr (*target, ':');
            if (colon)
              {
                *colon = '\0';
                g_strstrip (*target);
              }
          }
          return TRUE;
        }
    }
  return FALSE;
}

const char *
cs_py_first_word (const char *text,
                  char       *buf,
                  gsize       size)
{
  gsize n = 0;

  while ((g_ascii_isalnum (text[n]) || text[n] == '_') && n + 1 < size)
    {
      buf[n] = text[n];
      n++;
    }
  buf[n] = '\0';
  return buf;
}

gboolean
cs_py_is_compound (const char *text)
{
  static const char * const words[] = { "if", "elif", "else", "for", "while", "with", "try", "except", "finally",
                                         "def", "class", "async", "match", "lambda" };
  char w[16];

  cs_py_first_word (text, w, sizeof w);
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    if (g_str_equal (w, words[i]))
      return TRUE;
  return FALSE;
}

gboolean
cs_py_is_docstring (const char *text)
{
  gsize n = strlen (text);
  const char *t = text;

  /* r"""...""", u'...' */
  if ((*t == 'r' || *t == 'u' || *t == 'b' || *t == 'R') && (t[1] == '"' || t[1] == '\''))
    t++, n--;
  return n >= 2 && (*t == '"' || *t == '\'') && text[strlen (text) - 1] == *t;
}

/* "def forward(self, x: Tensor) -> Tensor:" -> its parameters, or NULL. */
GPtrArray *
cs_py_def_params (const char *text,
                  char      **name)
{
  const char *open = strchr (text, '(');
  g_autofree char *callee = NULL, *args = NULL;
  g_autofree char *head = NULL;
  const char *arrow;

  *name = NULL;
  if (open == NULL || !g_str_has_prefix (text, "def "))
    return NULL;
  head = g_strdup (text);
  /* up to the ')' before ':' or '->' */
  arrow = strstr (head, "->");
  if (arrow)
    head[arrow - head] = '\0';
  else if (g_str_has_suffix (head, ":"))
    head[strlen (head) - 1] = '\0';
  g_strstrip (head);
  if (!cs_py_split_call (head + 4, &callee, &args))
    return NULL;
  *name = g_strdup (callee);
  return cs_py_split_top (args, ',');
}

/* A parameter "name: type = default" -> name and default (or NULL). */
char *
cs_py_param_name (const char *param,
                  char      **deflt)
{
  g_autofree char *target = NULL, *value = NULL;
  char aug;

  *deflt = NULL;
  if (cs_py_split_assignment (param, &target, &value, &aug) && aug == 0)
    {
      *deflt = g_steal_pointer (&value);
      return g_steal_pointer (&target);
    }
  {
    char *name = g_strdup (param);
    char *colon = strchr (name, ':');
    if (colon)
      *colon = '\0';
    return g_strstrip (name);
  }
}
