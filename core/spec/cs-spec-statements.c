/* A spec's text as statements: comments removed, a call over several lines
 * joined to its first, the batch written as -1 for parsing (x.size(0)), and
 * nn.Sequential(...) expanded into its layers, named as PyTorch names them. */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <string.h>

#include "spec/cs-spec-private.h"

void
cs_spec_statement_free (CsSpecStatement *st)
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
  CsSpecStatement *st = g_new0 (CsSpecStatement, 1);

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
                  const char *suffix,
                  guint       line,
                  guint       depth,
                  GError    **error)
{
  g_autofree char *target = NULL, *rhs = NULL, *callee = NULL, *args = NULL;
  g_autofree char *applied = NULL;
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
  /* nn.Sequential(...)(relu_2): applied to a named tensor, which its first layer takes */
  if (cs_py_split_call (rhs, &callee, &args) && g_str_has_suffix (callee, ")"))
    {
      g_autofree char *inner_callee = NULL, *inner_args = NULL;
      if (cs_py_split_call (callee, &inner_callee, &inner_args) && is_sequential (inner_callee))
        {
          applied = g_strdup_printf ("(%s)", args);
          g_free (callee);
          g_free (args);
          callee = g_steal_pointer (&inner_callee);
          args = g_steal_pointer (&inner_args);
        }
    }
  if (callee == NULL || !is_sequential (callee))
    {
      g_autofree char *whole = g_strconcat (text, suffix ? suffix : "", NULL);
      add_statement (out, whole, line);
      return TRUE;
    }
  if (applied == NULL && suffix != NULL)
    applied = g_strdup (suffix);
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
      if (!expand_statement (out, sub, i == 0 ? applied : NULL, line, depth + 1, error))
        return FALSE;
    }
  return TRUE;
}

/* The spec's statements: comments removed, a call that goes on over several
 * lines joined to its first, nn.Sequential expanded. */
GPtrArray *
cs_spec_collect_statements (const char *text,
                            GError    **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) cs_spec_statement_free);
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
      if (!expand_statement (out, cur->str, NULL, first, 0, error))
        return NULL;
      g_string_truncate (cur, 0);
    }
  return g_steal_pointer (&out);
}

