/* Reading untrusted files: regular files only, opened without blocking, with bounded sizes; strict JSON. */

#define G_LOG_DOMAIN "cs-file"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cs-file.h"

static const char *
file_kind (mode_t mode)
{
  if (S_ISDIR (mode))
    return "a directory";
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  if (S_ISSOCK (mode))
    return "a socket";
  return "not a regular file";
}

int
cs_file_open_regular (const char   *path,
                      CsFileFlags   flags,
                      guint64       max_bytes,
                      guint64      *size,
                      GError      **error)
{
  struct stat st;
  int fd, err;

  g_return_val_if_fail (path != NULL, -1);

  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer forever. */
  fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | ((flags & CS_FILE_NO_FOLLOW) ? O_NOFOLLOW : 0));
  if (fd < 0)
    {
      err = errno;
      if (err == ELOOP && (flags & CS_FILE_NO_FOLLOW))
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s is a symbolic link, which is not followed here",
                     path);
      else
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "could not open %s: %s", path,
                     g_strerror (err));
      return -1;
    }
  if (fstat (fd, &st) != 0)
    {
      err = errno;
      close (fd);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "could not read %s: %s", path,
                   g_strerror (err));
      return -1;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s is %s, not a regular file", path,
                   file_kind (st.st_mode));
      return -1;
    }
  if ((guint64) st.st_size > max_bytes)
    {
      close (fd);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "%s is %" G_GUINT64_FORMAT " bytes, more than the %" G_GUINT64_FORMAT " this file can be",
                   path, (guint64) st.st_size, max_bytes);
      return -1;
    }
  /* Regular files never block; reads need no O_NONBLOCK handling. */
  *size = (guint64) st.st_size;
  return fd;
}

gboolean
cs_file_read_regular (const char   *path,
                      CsFileFlags   flags,
                      guint64       max_bytes,
                      char        **contents,
                      gsize        *len,
                      GError      **error)
{
  g_autofree char *buf = NULL;
  guint64 size;
  gsize got = 0;
  int fd;

  g_return_val_if_fail (contents != NULL, FALSE);

  fd = cs_file_open_regular (path, flags, max_bytes, &size, error);
  if (fd < 0)
    return FALSE;
  buf = g_malloc ((gsize) size + 1);
  while (got < size)
    {
      gssize n = read (fd, buf + got, (gsize) size - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int err = errno;
          close (fd);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "could not read %s: %s", path,
                       g_strerror (err));
          return FALSE;
        }
      if (n == 0)
        break;  /* it shrank while we read: take what is there */
      got += (gsize) n;
    }
  close (fd);
  buf[got] = '\0';
  *contents = g_steal_pointer (&buf);
  if (len)
    *len = got;
  return TRUE;
}

GMappedFile *
cs_file_map_regular (const char   *path,
                     guint64       max_bytes,
                     GError      **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  g_autoptr(GError) local_error = NULL;
  GMappedFile *mapped;
  guint64 size;
  int fd;

  fd = cs_file_open_regular (path, CS_FILE_FOLLOW_LINKS, max_bytes, &size, error);
  if (fd < 0)
    return NULL;
  mapped = g_mapped_file_new_from_fd (fd, FALSE, &local_error);
  close (fd);
  if (mapped == NULL)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "could not read %s: %s", path, local_error->message);
  return mapped;
}

/* ---- strict JSON --------------------------------------------------------- */

typedef struct
{
  const char *p;
  const char *start;
  const char *end;
  guint       max_depth;
  const char *what;
  GError    **error;
} Json;

static gboolean json_fail (Json *j, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
json_fail (Json       *j,
           const char *format,
           ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (j->error, G_MARKUP_ERROR, G_MARKUP_ERROR_PARSE, "%s: %s (at byte %" G_GSSIZE_FORMAT ")", j->what, msg,
               (gssize) (j->p - j->start));
  return FALSE;
}

static void
json_ws (Json *j)
{
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

static int
hex4 (const char *p)
{
  int v = 0;

  for (int k = 0; k < 4; k++)
    {
      int d = g_ascii_xdigit_value (p[k]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* A string; with @out, its unescaped text (for comparing member names). */
static gboolean
json_string (Json    *j,
             GString *out)
{
  j->p++;  /* the opening quote */
  while (j->p < j->end)
    {
      guchar c = (guchar) *j->p;

      if (c == '"')
        {
          j->p++;
          return TRUE;
        }
      if (c < 0x20)
        return json_fail (j, "a control character in a string");
      if (c != '\\')
        {
          if (out)
            g_string_append_c (out, (char) c);
          j->p++;
          continue;
        }
      if (j->end - j->p < 2)
        break;
      switch (j->p[1])
        {
        case '"': case '\\': case '/':
          if (out) g_string_append_c (out, j->p[1]);
          j->p += 2;
          break;
        case 'b': if (out) g_string_append_c (out, '\b'); j->p += 2; break;
        case 'f': if (out) g_string_append_c (out, '\f'); j->p += 2; break;
        case 'n': if (out) g_string_append_c (out, '\n'); j->p += 2; break;
        case 'r': if (out) g_string_append_c (out, '\r'); j->p += 2; break;
        case 't': if (out) g_string_append_c (out, '\t'); j->p += 2; break;
        case 'u':
          {
            int v = j->end - j->p >= 6 ? hex4 (j->p + 2) : -1, lo;
            if (v < 0)
              return json_fail (j, "a \\u escape without four hex digits");
            j->p += 6;
            /* A surrogate pair is one character, as a JSON reader decodes it,
             * so "\ud83d\ude00" and the character itself compare equal. */
            if (v >= 0xd800 && v < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u' &&
                (lo = hex4 (j->p + 2)) >= 0xdc00 && lo < 0xe000)
              {
                if (out)
                  g_string_append_unichar (out, 0x10000 + (((gunichar) v - 0xd800) << 10) + ((gunichar) lo - 0xdc00));
                j->p += 6;
              }
            else if (v >= 0xd800 && v < 0xe000)
              {
                /* A lone surrogate: bytes no UTF-8 text holds, so it equals only itself. */
                if (out)
                  g_string_append_printf (out, "\xff%04x", v);
              }
            else if (out)
              g_string_append_unichar (out, (gunichar) v);
          }
          break;
        default:
          return json_fail (j, "an unknown escape \\%c in a string", j->p[1]);
        }
    }
  return json_fail (j, "a string that does not end");
}

static gboolean
json_number (Json *j)
{
  const char *p = j->p;

  if (p < j->end && *p == '-')
    p++;
  if (p < j->end && *p == '0')
    p++;
  else if (p < j->end && *p >= '1' && *p <= '9')
    while (p < j->end && g_ascii_isdigit (*p))
      p++;
  else
    return json_fail (j, "not a JSON value");
  if (p < j->end && *p == '.')
    {
      p++;
      if (p >= j->end || !g_ascii_isdigit (*p))
        return json_fail (j, "a number with nothing after its point");
      while (p < j->end && g_ascii_isdigit (*p))
        p++;
    }
  if (p < j->end && (*p == 'e' || *p == 'E'))
    {
      p++;
      if (p < j->end && (*p == '+' || *p == '-'))
        p++;
      if (p >= j->end || !g_ascii_isdigit (*p))
        return json_fail (j, "a number with an empty exponent");
      while (p < j->end && g_ascii_isdigit (*p))
        p++;
    }
  j->p = p;
  return TRUE;
}

static gboolean
json_word (Json       *j,
           const char *word)
{
  gsize n = strlen (word);

  if ((gsize) (j->end - j->p) < n || memcmp (j->p, word, n) != 0)
    return json_fail (j, "not a JSON value");
  j->p += n;
  return TRUE;
}

/* Recursion is bounded by max_depth, which the callers keep small. */
static gboolean
json_value (Json  *j,
            guint  depth)
{
  json_ws (j);
  if (j->p >= j->end)
    return json_fail (j, "a value is missing");
  switch (*j->p)
    {
    case '{':
    case '[':
      {
        gboolean object = *j->p == '{';
        g_autoptr(GHashTable) names = NULL;
        gboolean first = TRUE;

        if (depth + 1 > j->max_depth)
          return json_fail (j, "nested more than %u deep", j->max_depth);
        if (object)
          names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
        j->p++;
        for (;;)
          {
            json_ws (j);
            if (j->p < j->end && *j->p == (object ? '}' : ']') && first)
              {
                j->p++;
                return TRUE;
              }
            if (object)
              {
                g_autoptr(GString) name = g_string_new (NULL);
                const char *at = j->p;

                if (j->p >= j->end || *j->p != '"')
                  return json_fail (j, "an object member without a quoted name");
                if (!json_string (j, name))
                  return FALSE;
                if (g_hash_table_contains (names, name->str))
                  {
                    g_autofree char *shown = cs_str_printable (name->str);
                    j->p = at;
                    return json_fail (j, "the member \"%s\" appears twice in one object", shown);
                  }
                g_hash_table_add (names, g_string_free (g_steal_pointer (&name), FALSE));
                json_ws (j);
                if (j->p >= j->end || *j->p != ':')
                  return json_fail (j, "a member name without ':'");
                j->p++;
              }
            if (!json_value (j, depth + 1))
              return FALSE;
            first = FALSE;
            json_ws (j);
            if (j->p < j->end && *j->p == ',')
              {
                j->p++;
                json_ws (j);
                if (j->p < j->end && (*j->p == '}' || *j->p == ']'))
                  return json_fail (j, "a comma before the end of an %s", object ? "object" : "array");
                continue;
              }
            if (j->p < j->end && *j->p == (object ? '}' : ']'))
              {
                j->p++;
                return TRUE;
              }
            return json_fail (j, "expected ',' or '%c'", object ? '}' : ']');
          }
      }
    case '"':
      return json_string (j, NULL);
    case 't':
      return json_word (j, "true");
    case 'f':
      return json_word (j, "false");
    case 'n':
      return json_word (j, "null");
    default:
      return json_number (j);
    }
}

gboolean
cs_json_check_strict (const char  *text,
                      gsize        len,
                      guint        max_depth,
                      const char  *what,
                      GError     **error)
{
  Json j = { text, text, text + len, max_depth, what, error };

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (max_depth <= 256, FALSE);

  if (!g_utf8_validate_len (text, len, NULL))
    return json_fail (&j, "not valid UTF-8");
  if (!json_value (&j, 0))
    return FALSE;
  json_ws (&j);
  if (j.p != j.end)
    return json_fail (&j, "something follows the JSON value");
  return TRUE;
}

char *
cs_str_printable (const char *s)
{
  GString *out = g_string_new (NULL);
  const char *p = s;

  g_return_val_if_fail (s != NULL, NULL);

  while (*p)
    {
      gunichar c = g_utf8_get_char_validated (p, -1);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029 ||
          (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
        g_string_append_printf (out, c < 0x100 ? "\\x%02x" : "\\u{%04x}", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}
