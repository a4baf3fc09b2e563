/* Fuzz target: the checkpoint readers (safetensors, and the .pth zip + pickle when
 * the bytes say so). Built twice, as fuzz-safetensors and fuzz-pth, each with its
 * own corpus of valid files (safetensors files, torch.save outputs). */

#include "config.h"

#include <stdint.h>

#include "formats/cs-checkpoint.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new_static (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = cs_checkpoint_load_bytes (bytes, "fuzz", &error);

  g_assert ((ckpt == NULL) != (error == NULL));
  if (ckpt != NULL)
    {
      g_autoptr(GError) e2 = NULL;
      g_autoptr(CsSpec) spec = cs_checkpoint_infer_spec (ckpt, NULL, NULL, &e2);
      if (spec != NULL)
        {
          g_autoptr(CsModel) model = cs_model_new (spec);
          cs_checkpoint_apply (ckpt, model, NULL);
        }
    }
  return 0;
}
