/* The line parser of the spec language: numbers with arithmetic, names,
 * tuples, keyword arguments; depth-limited; values typed for binding. */

#define G_LOG_DOMAIN "cs-spec"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "spec/cs-spec-private.h"

void
cs_spec_val_free (CsSpecVal *v)
{
  if (v == NULL)
    return;
  g_free (v->s);
  g_clear_pointer (&v->items, g_ptr_array_unref);
  g_free (v);
}

CsSpecVal *
cs_spec_val_new (CsSpecValKind kind)
{
  CsSpecVal *v = g_new0 (CsSpecVal, 1);
  v->kind = kind;
  return v;
}

void
cs_spec_arg_free (CsSpecArg *a)
{
  g_free (a->key);
  cs_spec_val_free (a->val);
  g_free (a);
}

/* ---- the line parser ---------------------------------------------------- */

/* Nesting deeper than this in one argument ("((((1))))", "- - - 1") is refused,
 * so a hostile line cannot exhaust the stack (found by fuzzing). */
#define MAX_DEPTH 32

void
cs_spec_parser_fail (CsSpecParser     *ps,
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

void
cs_spec_parser_skip_ws (CsSpecParser *ps)
{
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')
    ps->p++;
}

gboolean
cs_spec_parser_accept (CsSpecParser *ps,
                       char          c)
{
  cs_spec_parser_skip_ws (ps);
  if (*ps->p == c)
    {
      ps->p++;
      return TRUE;
    }
  return FALSE;
}

gboolean
cs_spec_is_ident_start (char c)
{
  return g_ascii_isalpha (c) || c == '_';
}

/* A dotted identifier: self.conv1, nn.Conv2d, torch.nn.functional.relu,
 * features.0 (a layer of an nn.Sequential). */
char *
cs_spec_parse_dotted_ident (CsSpecParser *ps)
{
  const char *start;

  cs_spec_parser_skip_ws (ps);
  start = ps->p;
  if (!cs_spec_is_ident_start (*ps->p))
    return NULL;
  while (g_ascii_isalnum (*ps->p) || *ps->p == '_' ||
         (*ps->p == '.' && (cs_spec_is_ident_start (ps->p[1]) || g_ascii_isdigit (ps->p[1]))))
    ps->p++;
  return g_strndup (start, ps->p - start);
}

static CsSpecVal *parse_value (CsSpecParser *ps);

static CsSpecVal *
parse_number (CsSpecParser *ps)
{
  const char *start = ps->p;
  char *end = NULL;
  gboolean is_float = FALSE;
  CsSpecVal *v;

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
          cs_spec_parser_fail (ps, "\"%s\" is not a number", num);
          return NULL;
        }
      v = cs_spec_val_new (CS_SPEC_VAL_FLOAT);
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
          cs_spec_parser_fail (ps, "\"%s\" is not an integer in range", num);
          return NULL;
        }
      v = cs_spec_val_new (CS_SPEC_VAL_INT);
      v->i = (gint64) u;
      return v;
    }
}

/* Arithmetic on numbers: ints stay ints (Python semantics for + - * //). */
static CsSpecVal *
arith (CsSpecParser *ps,
       CsSpecVal    *a,
       CsSpecVal    *b,
       char          op)
{
  CsSpecVal *r;

  if ((a->kind != CS_SPEC_VAL_INT && a->kind != CS_SPEC_VAL_FLOAT) || (b->kind != CS_SPEC_VAL_INT && b->kind != CS_SPEC_VAL_FLOAT))
    {
      cs_spec_parser_fail (ps, "arithmetic needs numbers");
      cs_spec_val_free (a);
      cs_spec_val_free (b);
      return NULL;
    }
  if (a->kind == CS_SPEC_VAL_INT && b->kind == CS_SPEC_VAL_INT && op != '/')
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
              cs_spec_parser_fail (ps, "division by zero");
              cs_spec_val_free (a);
              cs_spec_val_free (b);
              return NULL;
            }
          z = x / y - ((x % y != 0) && ((x < 0) != (y < 0)));
          break;
        default: g_assert_not_reached ();
        }
      cs_spec_val_free (a);
      cs_spec_val_free (b);
      if (z > G_MAXINT32 || z < -G_MAXINT32)
        {
          cs_spec_parser_fail (ps, "integer out of range");
          return NULL;
        }
      r = cs_spec_val_new (CS_SPEC_VAL_INT);
      r->i = z;
      return r;
    }
  else
    {
      double x = a->kind == CS_SPEC_VAL_INT ? a->i : a->f;
      double y = b->kind == CS_SPEC_VAL_INT ? b->i : b->f;

      r = cs_spec_val_new (CS_SPEC_VAL_FLOAT);
      switch (op)
        {
        case '+': r->f = x + y; break;
        case '-': r->f = x - y; break;
        case '*': r->f = x * y; break;
        case '/': r->f = x / y; break;
        case 'd': r->f = floor (x / y); break;
        default: g_assert_not_reached ();
        }
      cs_spec_val_free (a);
      cs_spec_val_free (b);
      if (!isfinite (r->f))
        {
          cs_spec_parser_fail (ps, "the arithmetic gives an infinite number");
          cs_spec_val_free (r);
          return NULL;
        }
      return r;
    }
}

static CsSpecVal *parse_atom_inner (CsSpecParser *ps);

static CsSpecVal *
parse_atom (CsSpecParser *ps)
{
  CsSpecVal *v;

  if (++ps->depth > MAX_DEPTH)
    {
      cs_spec_parser_fail (ps, "the expression is nested too deeply");
      ps->depth--;
      return NULL;
    }
  v = parse_atom_inner (ps);
  ps->depth--;
  return v;
}

static CsSpecVal *
parse_atom_inner (CsSpecParser *ps)
{
  cs_spec_parser_skip_ws (ps);

  if (*ps->p == '-' || *ps->p == '+')
    {
      char sign = *ps->p++;
      CsSpecVal *v = parse_atom (ps);

      if (v == NULL)
        return NULL;
      if (sign == '-')
        {
          if (v->kind == CS_SPEC_VAL_INT)
            v->i = -v->i;
          else if (v->kind == CS_SPEC_VAL_FLOAT)
            v->f = -v->f;
          else
            {
              cs_spec_parser_fail (ps, "a sign needs a number");
              cs_spec_val_free (v);
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
      CsSpecVal *v;

      while (*ps->p && *ps->p != q)
        ps->p++;
      if (*ps->p != q)
        {
          cs_spec_parser_fail (ps, "unterminated string");
          return NULL;
        }
      v = cs_spec_val_new (CS_SPEC_VAL_STR);
      v->s = g_strndup (start, ps->p - start);
      ps->p++;
      return v;
    }

  /* (a, b) and [a, b]: a list is a tuple here (torch.cat([a, b], 1)) */
  if (*ps->p == '(' || *ps->p == '[')
    {
      g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) cs_spec_val_free);
      gboolean trailing_comma = FALSE, list = *ps->p == '[';
      char close = list ? ']' : ')';
      CsSpecVal *v;

      ps->p++;
      if (!cs_spec_parser_accept (ps, close))
        {
          for (;;)
            {
              CsSpecVal *item = parse_value (ps);

              if (item == NULL)
                return NULL;
              g_ptr_array_add (items, item);
              trailing_comma = FALSE;
              if (cs_spec_parser_accept (ps, ','))
                {
                  trailing_comma = TRUE;
                  if (cs_spec_parser_accept (ps, close))
                    break;
                  continue;
                }
              if (cs_spec_parser_accept (ps, close))
                break;
              cs_spec_parser_fail (ps, list ? "expected ',' or ']'" : "expected ',' or ')'");
              return NULL;
            }
        }
      if (items->len == 1 && !trailing_comma && !list)
        return g_ptr_array_steal_index (items, 0);
      v = cs_spec_val_new (CS_SPEC_VAL_TUPLE);
      v->items = g_steal_pointer (&items);
      return v;
    }

  if (cs_spec_is_ident_start (*ps->p))
    {
      g_autofree char *id = cs_spec_parse_dotted_ident (ps);
      CsSpecVal *v;

      if (g_str_equal (id, "True") || g_str_equal (id, "False"))
        {
          v = cs_spec_val_new (CS_SPEC_VAL_BOOL);
          v->i = g_str_equal (id, "True");
        }
      else if (g_str_equal (id, "None"))
        v = cs_spec_val_new (CS_SPEC_VAL_NONE);
      else
        {
          v = cs_spec_val_new (CS_SPEC_VAL_IDENT);
          v->s = g_steal_pointer (&id);
        }
      return v;
    }

  if (*ps->p)
    cs_spec_parser_fail (ps, "unexpected '%c'", *ps->p);
  else
    cs_spec_parser_fail (ps, "unexpected end of line");
  return NULL;
}

static CsSpecVal *
parse_term (CsSpecParser *ps)
{
  CsSpecVal *v = parse_atom (ps);

  while (v != NULL)
    {
      char op;

      cs_spec_parser_skip_ws (ps);
      if (ps->p[0] == '*' && ps->p[1] != '*')
        op = '*', ps->p++;
      else if (ps->p[0] == '/' && ps->p[1] == '/')
        op = 'd', ps->p += 2;
      else if (ps->p[0] == '/')
        op = '/', ps->p++;
      else
        break;
      {
        CsSpecVal *rhs = parse_atom (ps);
        if (rhs == NULL)
          {
            cs_spec_val_free (v);
            return NULL;
          }
        v = arith (ps, v, rhs, op);
      }
    }
  return v;
}

static CsSpecVal *
parse_value (CsSpecParser *ps)
{
  CsSpecVal *v = parse_term (ps);

  while (v != NULL)
    {
      char op;

      cs_spec_parser_skip_ws (ps);
      if (*ps->p == '+' || *ps->p == '-')
        op = *ps->p++;
      else
        break;
      {
        CsSpecVal *rhs = parse_term (ps);
        if (rhs == NULL)
          {
            cs_spec_val_free (v);
            return NULL;
          }
        v = arith (ps, v, rhs, op);
      }
    }
  return v;
}

/* Arguments after '(' up to and including ')'. */
GPtrArray *
cs_spec_parse_args (CsSpecParser *ps)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func ((GDestroyNotify) cs_spec_arg_free);

  if (cs_spec_parser_accept (ps, ')'))
    return g_steal_pointer (&args);

  for (;;)
    {
      CsSpecArg *a = g_new0 (CsSpecArg, 1);
      const char *save;

      cs_spec_parser_skip_ws (ps);
      save = ps->p;
      if (cs_spec_is_ident_start (*ps->p))
        {
          const char *s = ps->p;
          while (g_ascii_isalnum (*ps->p) || *ps->p == '_')
            ps->p++;
          cs_spec_parser_skip_ws (ps);
          if (ps->p[0] == '=' && ps->p[1] != '=')
            {
              a->key = g_strndup (s, strcspn (s, " \t="));
              ps->p++;
            }
          else
            ps->p = save;
        }
      if (a->key == NULL && args->len > 0 && ((CsSpecArg *) g_ptr_array_index (args, args->len - 1))->key != NULL)
        {
          cs_spec_parser_fail (ps, "a positional argument follows a keyword argument");
          cs_spec_arg_free (a);
          return NULL;
        }
      a->val = parse_value (ps);
      if (a->val == NULL)
        {
          cs_spec_arg_free (a);
          return NULL;
        }
      g_ptr_array_add (args, a);
      if (cs_spec_parser_accept (ps, ','))
        {
          if (cs_spec_parser_accept (ps, ')'))
            break;
          continue;
        }
      if (cs_spec_parser_accept (ps, ')'))
        break;
      cs_spec_parser_fail (ps, "expected ',' or ')' in the argument list");
      return NULL;
    }
  return g_steal_pointer (&args);
}

