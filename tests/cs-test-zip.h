/* cs_test_zip(): a stored zip as torch.save writes one (entries, CRCs, central
 * directory), for the .pth tests and the pickle fuzz target. */
#pragma once

#include <glib.h>
#include <string.h>

static inline guint32
cs_test_crc32 (const guint8 *p,
               gsize         n)
{
  guint32 c = 0xffffffffu;
  for (gsize i = 0; i < n; i++)
    {
      c ^= p[i];
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
  return c ^ 0xffffffffu;
}

static inline void
cs_test_put16 (GByteArray *a,
               guint16     v)
{
  guint8 b[2] = { v & 0xff, v >> 8 };
  g_byte_array_append (a, b, 2);
}

static inline void
cs_test_put32 (GByteArray *a,
               guint32     v)
{
  guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
  g_byte_array_append (a, b, 4);
}

/* @n stored entries named @names holding @datas, with correct CRCs. */
static inline GByteArray *
cs_test_zip (const char * const *names,
             GBytes * const     *datas,
             guint               n)
{
  GByteArray *z = g_byte_array_new ();
  g_autoptr(GByteArray) cd = g_byte_array_new ();
  guint32 cd_start;

  for (guint i = 0; i < n; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (datas[i], &len);
      guint32 crc = cs_test_crc32 (data, len), at = z->len;
      guint16 nl = strlen (names[i]);

      cs_test_put32 (z, 0x04034b50); cs_test_put16 (z, 20); cs_test_put16 (z, 0); cs_test_put16 (z, 0);
      cs_test_put32 (z, 0); cs_test_put32 (z, crc); cs_test_put32 (z, len); cs_test_put32 (z, len);
      cs_test_put16 (z, nl); cs_test_put16 (z, 0);
      g_byte_array_append (z, (const guint8 *) names[i], nl);
      g_byte_array_append (z, data, len);

      cs_test_put32 (cd, 0x02014b50); cs_test_put16 (cd, 20); cs_test_put16 (cd, 20); cs_test_put16 (cd, 0);
      cs_test_put16 (cd, 0); cs_test_put32 (cd, 0); cs_test_put32 (cd, crc); cs_test_put32 (cd, len);
      cs_test_put32 (cd, len); cs_test_put16 (cd, nl); cs_test_put16 (cd, 0); cs_test_put16 (cd, 0);
      cs_test_put16 (cd, 0); cs_test_put16 (cd, 0); cs_test_put32 (cd, 0); cs_test_put32 (cd, at);
      g_byte_array_append (cd, (const guint8 *) names[i], nl);
    }
  cd_start = z->len;
  g_byte_array_append (z, cd->data, cd->len);
  cs_test_put32 (z, 0x06054b50); cs_test_put16 (z, 0); cs_test_put16 (z, 0); cs_test_put16 (z, n);
  cs_test_put16 (z, n); cs_test_put32 (z, cd->len); cs_test_put32 (z, cd_start); cs_test_put16 (z, 0);
  return z;
}
