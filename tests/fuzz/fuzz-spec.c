/* Fuzz target: the spec parser and shape inference. */

#include "config.h"

#include <stdint.h>

#include "spec/cs-spec.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_parse (text, &error);

  /* Either a spec or an error, never both, never neither. */
  g_assert ((spec == NULL) != (error == NULL));
  return 0;
}
