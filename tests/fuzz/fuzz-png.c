/* Fuzz target: the PNG a user gives `predict --image` (header bound, cairo's decoder, the gray conversion, preprocessing). */

#include "config.h"

#include <stdint.h>

#include "data/cs-digit.h"
#include "render/cs-image-io.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *gray = NULL;
  int w = 0, h = 0;

  gray = cs_image_load_gray_bytes (data, size, "fuzz.png", &w, &h, &error);
  g_assert ((gray == NULL) == (error != NULL));
  if (gray != NULL)
    {
      float x[28 * 28];
      g_autoptr(GError) e2 = NULL;
      g_assert (w >= 1 && h >= 1 && w <= CS_IMAGE_MAX_SIDE && h <= CS_IMAGE_MAX_SIDE);
      cs_digit_preprocess (x, gray, w, h, TRUE, &e2);
    }
  return 0;
}
