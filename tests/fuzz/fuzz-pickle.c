/* Fuzz target: the pickle machine alone. The input is data.pkl itself, put in a
 * valid torch.save zip (with a CRC that matches) beside a storage "0" of 64
 * floats, so every mutation reaches the interpreter and the tensor views
 * instead of failing the zip's checks. Run with tests/fuzz/pickle.dict. */

#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cs-checkpoint.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static guint32
crc32_of (const guint8 *p,
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

static void
put16 (GByteArray *a, guint16 v)
{
  guint8 b[2] = { v & 0xff, v >> 8 };
  g_byte_array_append (a, b, 2);
}

static void
put32 (GByteArray *a, guint32 v)
{
  guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
  g_byte_array_append (a, b, 4);
}

static void
add_entry (GByteArray   *z,
           GByteArray   *cd,
           const char   *name,
           const guint8 *data,
           guint32       len)
{
  guint32 crc = crc32_of (data, len), at = z->len;
  guint16 nl = strlen (name);

  put32 (z, 0x04034b50); put16 (z, 20); put16 (z, 0); put16 (z, 0); put32 (z, 0);
  put32 (z, crc); put32 (z, len); put32 (z, len); put16 (z, nl); put16 (z, 0);
  g_byte_array_append (z, (const guint8 *) name, nl);
  g_byte_array_append (z, data, len);
  put32 (cd, 0x02014b50); put16 (cd, 20); put16 (cd, 20); put16 (cd, 0); put16 (cd, 0); put32 (cd, 0);
  put32 (cd, crc); put32 (cd, len); put32 (cd, len); put16 (cd, nl); put16 (cd, 0); put16 (cd, 0);
  put16 (cd, 0); put16 (cd, 0); put32 (cd, 0); put32 (cd, at);
  g_byte_array_append (cd, (const guint8 *) name, nl);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GByteArray) z = g_byte_array_new ();
  g_autoptr(GByteArray) cd = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  float storage[64];
  guint32 cd_start;

  if (size > 1 << 20)
    return 0;
  for (int k = 0; k < 64; k++)
    storage[k] = k * 0.5f;
  add_entry (z, cd, "archive/data.pkl", data, size);
  add_entry (z, cd, "archive/data/0", (const guint8 *) storage, sizeof storage);
  cd_start = z->len;
  g_byte_array_append (z, cd->data, cd->len);
  put32 (z, 0x06054b50); put16 (z, 0); put16 (z, 0); put16 (z, 2); put16 (z, 2);
  put32 (z, cd->len); put32 (z, cd_start); put16 (z, 0);

  bytes = g_bytes_new (z->data, z->len);
  ckpt = cs_checkpoint_load_bytes (bytes, "fuzz.pth", &error);
  g_assert ((ckpt == NULL) != (error == NULL));
  if (ckpt != NULL)
    for (guint i = 0; i < ckpt->tensors->len; i++)
      {
        const CsTensor *t = g_ptr_array_index (ckpt->tensors, i);
        g_assert (t->numel <= 64);
        for (gsize k = 0; t->data != NULL && k < t->numel; k++)
          g_assert (t->data[k] >= 0 && t->data[k] <= 31.5f);
      }
  return 0;
}
