/* A small JSON writer with exact number formatting (run.json, --json output). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  GString *s;
  int      depth;
  gboolean need_comma;
  gboolean inline_array;
} CsJsonWriter;

void  cs_json_writer_init         (CsJsonWriter *w);
/* The text written, with a final newline; @w is empty afterwards. */
char *cs_json_writer_finish       (CsJsonWriter *w) G_GNUC_WARN_UNUSED_RESULT;

/* { or [ ; @after_key: right after cs_json_writer_key() (no new line first). */
void  cs_json_writer_open         (CsJsonWriter *w,
                                   char          c,
                                   gboolean      after_key);
void  cs_json_writer_close        (CsJsonWriter *w,
                                   char          c);
void  cs_json_writer_key          (CsJsonWriter *w,
                                   const char   *key);
/* "key": value members; a NULL string is null, a non-finite number is null. */
void  cs_json_writer_str          (CsJsonWriter *w,
                                   const char   *key,
                                   const char   *v);
void  cs_json_writer_num          (CsJsonWriter *w,
                                   const char   *key,
                                   double        v);
void  cs_json_writer_int          (CsJsonWriter *w,
                                   const char   *key,
                                   gint64        v);
/* [a, b, c] on one line; @key NULL inside an array. */
void  cs_json_writer_inline_begin (CsJsonWriter *w,
                                   const char   *key);
void  cs_json_writer_inline_num   (CsJsonWriter *w,
                                   double        v);
void  cs_json_writer_inline_end   (CsJsonWriter *w);

G_END_DECLS
