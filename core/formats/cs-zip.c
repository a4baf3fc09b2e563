/* The zip container of torch.save: read from the central directory (ZIP64
 * included), stored entries only, every offset and size checked. */

#define G_LOG_DOMAIN "cs-pth"

#include "config.h"

#include <string.h>

#include "base/cs-bytes.h"
#include "formats/cs-zip.h"

void
cs_zip_entry_free (CsZipEntry *e)
{
  g_free (e->name);
  g_free (e);
}

guint32
cs_crc32 (const guint8 *p,
          gsize         n)
{
  static guint32 table[256];
  static gsize init = 0;
  guint32 c = 0xffffffffu;

  if (g_once_init_enter (&init))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 v = i;
          for (int k = 0; k < 8; k++)
            v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
          table[i] = v;
        }
      g_once_init_leave (&init, 1);
    }
  for (gsize i = 0; i < n; i++)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

#define ZFAIL(...) G_STMT_START { g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT, __VA_ARGS__); return NULL; } G_STMT_END

/* The entries, with sizes and offsets from the central directory (local headers may hold zeros). */
GPtrArray *
cs_zip_read (const guint8 *data,
             gsize         len,
             const char   *path,
             GError      **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) cs_zip_entry_free);
  gssize eocd = -1;
  guint64 n_entries, cd_size, cd_offset, pos;

  if (len < 22)
    ZFAIL ("%s: too short to be a zip file", path);
  for (gssize i = (gssize) len - 22; i >= 0 && i >= (gssize) len - 22 - 65535; i--)
    if (cs_read_le32 (data + i) == 0x06054b50)
      {
        eocd = i;
        break;
      }
  if (eocd < 0)
    ZFAIL ("%s: not a valid zip file (no end of central directory; is it truncated?)", path);

  n_entries = cs_read_le16 (data + eocd + 10);
  cd_size = cs_read_le32 (data + eocd + 12);
  cd_offset = cs_read_le32 (data + eocd + 16);

  /* ZIP64: the real figures are in the ZIP64 end record, found through its locator. */
  if (n_entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff)
    {
      guint64 rec;

      if (eocd < 20 || cs_read_le32 (data + eocd - 20) != 0x07064b50)
        ZFAIL ("%s: a ZIP64 file without its ZIP64 locator", path);
      rec = cs_read_le64 (data + eocd - 20 + 8);
      /* (len is checked first: len - 56 must not wrap round; found by fuzzing) */
      if (len < 56 || rec > len - 56 || cs_read_le32 (data + rec) != 0x06064b50)
        ZFAIL ("%s: the ZIP64 end record is missing or out of range", path);
      n_entries = cs_read_le64 (data + rec + 32);
      cd_size = cs_read_le64 (data + rec + 40);
      cd_offset = cs_read_le64 (data + rec + 48);
    }
  if (cd_offset > len || cd_size > len - cd_offset)
    ZFAIL ("%s: the zip central directory lies outside the file", path);
  if (n_entries > cd_size / 46)
    ZFAIL ("%s: the zip central directory claims %" G_GUINT64_FORMAT " entries, more than fit", path, n_entries);

  pos = cd_offset;
  for (guint64 i = 0; i < n_entries; i++)
    {
      const guint8 *h;
      guint16 method, name_len, extra_len, comment_len;
      guint64 csize, usize, local;
      guint64 data_start;
      CsZipEntry *e;

      if (pos + 46 > cd_offset + cd_size || cs_read_le32 (data + pos) != 0x02014b50)
        ZFAIL ("%s: zip central directory entry %" G_GUINT64_FORMAT " is damaged", path, i);
      h = data + pos;
      method = cs_read_le16 (h + 10);
      csize = cs_read_le32 (h + 20);
      usize = cs_read_le32 (h + 24);
      name_len = cs_read_le16 (h + 28);
      extra_len = cs_read_le16 (h + 30);
      comment_len = cs_read_le16 (h + 32);
      local = cs_read_le32 (h + 42);
      if (pos + 46 + name_len + extra_len + comment_len > cd_offset + cd_size)
        ZFAIL ("%s: zip central directory entry %" G_GUINT64_FORMAT " runs past the directory", path, i);

      /* ZIP64 extra field: 8-byte values for the fields saturated above, in order. */
      {
        const guint8 *x = h + 46 + name_len, *xend = x + extra_len;
        while (x + 4 <= xend)
          {
            guint16 id = cs_read_le16 (x), sz = cs_read_le16 (x + 2);
            const guint8 *v = x + 4;

            if (v + sz > xend)
              break;
            if (id == 0x0001)
              {
                const guint8 *vend = v + sz;
                if (usize == 0xffffffff && v + 8 <= vend)
                  usize = cs_read_le64 (v), v += 8;
                if (csize == 0xffffffff && v + 8 <= vend)
                  csize = cs_read_le64 (v), v += 8;
                if (local == 0xffffffff && v + 8 <= vend)
                  local = cs_read_le64 (v), v += 8;
              }
            x += 4 + sz;
          }
      }

      e = g_new0 (CsZipEntry, 1);
      g_ptr_array_add (entries, e);
      e->name = g_strndup ((const char *) h + 46, name_len);
      e->crc = cs_read_le32 (h + 16);
      if (method != 0)
        ZFAIL ("%s: zip entry %s is compressed (method %u); torch.save writes stored entries only",
               path, e->name, method);
      if (csize != usize)
        ZFAIL ("%s: zip entry %s: stored sizes disagree", path, e->name);
      if (len < 30 || local > len - 30 || cs_read_le32 (data + local) != 0x04034b50)
        ZFAIL ("%s: zip entry %s: its local header is missing or out of range", path, e->name);
      data_start = local + 30 + cs_read_le16 (data + local + 26) + cs_read_le16 (data + local + 28);
      if (data_start > len || usize > len - data_start)
        ZFAIL ("%s: zip entry %s runs past the end of the file (truncated?)", path, e->name);
      e->data = data + data_start;
      e->size = usize;
      pos += 46 + name_len + extra_len + comment_len;
    }
  return g_steal_pointer (&entries);
}

/* The entries by name (a hash, so 300k tensors do not take quadratic time);
 * a name given twice is refused, as two readers could pick different ones. */
GHashTable *
cs_zip_index (GPtrArray  *entries,
              const char *path,
              GError    **error)
{
  g_autoptr(GHashTable) index = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < entries->len; i++)
    {
      CsZipEntry *e = g_ptr_array_index (entries, i);
      if (!g_hash_table_insert (index, e->name, e))
        ZFAIL ("%s: the zip entry %s appears twice", path, e->name);
    }
  return g_steal_pointer (&index);
}
