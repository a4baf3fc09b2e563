/* Reading files a user or an attacker may have put there: regular files only, never blocking, bounded. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  CS_FILE_FOLLOW_LINKS = 0,
  CS_FILE_NO_FOLLOW    = 1 << 0,   /* refuse a symlink (O_NOFOLLOW) */
} CsFileFlags;

/* Opens @path without blocking (a FIFO or a device answers at once) and
 * returns its descriptor only if it is a regular file of at most @max_bytes;
 * *size gets its length. -1 with @error set otherwise, naming the path. */
int       cs_file_open_regular   (const char   *path,
                                  CsFileFlags   flags,
                                  guint64       max_bytes,
                                  guint64      *size,
                                  GError      **error);
/* The whole of a regular file, NUL-terminated, read as above. */
gboolean  cs_file_read_regular   (const char   *path,
                                  CsFileFlags   flags,
                                  guint64       max_bytes,
                                  char        **contents,
                                  gsize        *len,
                                  GError      **error);
/* A read-only mapping of a regular file, opened as above. */
GMappedFile *cs_file_map_regular (const char   *path,
                                  guint64       max_bytes,
                                  GError      **error) G_GNUC_WARN_UNUSED_RESULT;

/* Checks that @text is strict JSON (RFC 8259: no comments, no trailing commas,
 * no bare words) nested at most @max_depth deep, and that no object names a
 * member twice (at any depth, compared after unescaping). Run it before a
 * JSON object model, which would merge duplicates and recurse without bound.
 * @error names @what and the byte offset. */
gboolean  cs_json_check_strict   (const char   *text,
                                  gsize         len,
                                  guint         max_depth,
                                  const char   *what,
                                  GError      **error);

/* @s with control characters (C0, DEL, C1) and invalid UTF-8 written as \xNN or \u{NN},
 * safe to print to a terminal. */
char     *cs_str_printable       (const char   *s) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
