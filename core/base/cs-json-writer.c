/* A small JSON writer: json-glib 1.6 (Debian 12) prints doubles such as 1e-08
 * as "1e-08.0", which is not JSON, so numbers are formatted here. */

#include "config.h"

#include <math.h>

#include "base/cs-json-writer.h"

void
cs_json_writer_init (CsJsonWriter *w)
{
  g_return_if_fail (w != NULL);
  *w = (CsJsonWriter) { g_string_new (NULL), 0, FALSE, FALSE };
}

char *
cs_json_writer_finish (CsJsonWriter *w)
{
  g_return_val_if_fail (w != NULL && w->s != NULL, NULL);
  g_string_append_c (w->s, '\n');
  return g_string_free (g_steal_pointer (&w->s), FALSE);
}

static void
json_writer_newline (CsJsonWriter *w)
{
  if (w->inline_array)
    {
      if (w->need_comma)
        g_string_append (w->s, ", ");
      return;
    }
  if (w->need_comma)
    g_string_append_c (w->s, ',');
  if (w->depth > 0 || w->s->len > 0)
    g_string_append_c (w->s, '\n');
  for (int i = 0; i < w->depth; i++)
    g_string_append (w->s, "  ");
}

static void
json_writer_string_raw (CsJsonWriter *w,
                        const char   *str)
{
  g_string_append_c (w->s, '"');
  for (const char *p = str; *p; p++)
    {
      guchar c = (guchar) *p;
      switch (c)
        {
        case '"': g_string_append (w->s, "\\\""); break;
        case '\\': g_string_append (w->s, "\\\\"); break;
        case '\n': g_string_append (w->s, "\\n"); break;
        case '\r': g_string_append (w->s, "\\r"); break;
        case '\t': g_string_append (w->s, "\\t"); break;
        default:
          if (c < 0x20)
            g_string_append_printf (w->s, "\\u%04x", c);
          else
            g_string_append_c (w->s, (char) c);
        }
    }
  g_string_append_c (w->s, '"');
}

void
cs_json_writer_key (CsJsonWriter *w,
                    const char   *key)
{
  json_writer_newline (w);
  json_writer_string_raw (w, key);
  g_string_append (w->s, ": ");
  w->need_comma = FALSE;
}

static void
json_writer_value_prefix (CsJsonWriter *w,
                          gboolean      after_key)
{
  if (!after_key)
    json_writer_newline (w);
}

void
cs_json_writer_open (CsJsonWriter *w,
                     char          c,
                     gboolean      after_key)
{
  json_writer_value_prefix (w, after_key);
  g_string_append_c (w->s, c);
  w->depth++;
  w->need_comma = FALSE;
}

void
cs_json_writer_close (CsJsonWriter *w,
                      char          c)
{
  w->depth--;
  if (!w->inline_array)
    {
      g_string_append_c (w->s, '\n');
      for (int i = 0; i < w->depth; i++)
        g_string_append (w->s, "  ");
    }
  g_string_append_c (w->s, c);
  w->need_comma = TRUE;
}

void
cs_json_writer_str (CsJsonWriter *w, const char *key, const char *v)
{
  cs_json_writer_key (w, key);
  if (v == NULL)
    g_string_append (w->s, "null");
  else
    json_writer_string_raw (w, v);
  w->need_comma = TRUE;
}

static void
json_writer_num_raw (CsJsonWriter *w, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v))
    g_string_append (w->s, "null");
  else
    g_string_append (w->s, g_ascii_formatd (buf, sizeof buf, "%.17g", v));
  w->need_comma = TRUE;
}

void
cs_json_writer_num (CsJsonWriter *w, const char *key, double v)
{
  cs_json_writer_key (w, key);
  json_writer_num_raw (w, v);
}

void
cs_json_writer_int (CsJsonWriter *w, const char *key, gint64 v)
{
  cs_json_writer_key (w, key);
  g_string_append_printf (w->s, "%" G_GINT64_FORMAT, v);
  w->need_comma = TRUE;
}

/* [a, b, c] on one line */
void
cs_json_writer_inline_begin (CsJsonWriter *w, const char *key)
{
  if (key)
    cs_json_writer_key (w, key);
  else
    json_writer_newline (w);
  g_string_append_c (w->s, '[');
  w->inline_array = TRUE;
  w->need_comma = FALSE;
}

void
cs_json_writer_inline_num (CsJsonWriter *w, double v)
{
  if (w->need_comma)
    g_string_append (w->s, ", ");
  json_writer_num_raw (w, v);
}

void
cs_json_writer_inline_end (CsJsonWriter *w)
{
  g_string_append_c (w->s, ']');
  w->inline_array = FALSE;
  w->need_comma = TRUE;
}

