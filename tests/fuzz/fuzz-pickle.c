/* Fuzz target: the pickle machine alone. The input is data.pkl itself, put in a
 * valid torch.save zip (with a CRC that matches) beside a storage "0" of 64
 * floats, so every mutation reaches the interpreter and the tensor views
 * instead of failing the zip's checks. Run with tests/fuzz/pickle.dict. */

#include "config.h"

#include <stdint.h>
#include <string.h>

#include "formats/cs-checkpoint.h"
#include "../cs-test-zip.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GByteArray) z = NULL;
  g_autoptr(GBytes) pkl = NULL;
  g_autoptr(GBytes) data0 = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  const char *names[] = { "archive/data.pkl", "archive/data/0" };
  GBytes *datas[2];
  float storage[64];

  if (size > 1 << 20)
    return 0;
  for (int k = 0; k < 64; k++)
    storage[k] = k * 0.5f;
  datas[0] = pkl = g_bytes_new_static (data, size);
  datas[1] = data0 = g_bytes_new_static (storage, sizeof storage);
  z = cs_test_zip (names, datas, 2);
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
