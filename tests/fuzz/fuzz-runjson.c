/* Fuzz target: run.json, the record every run folder holds (strict JSON, then typed and ranged fields, then the spec). */

#include "config.h"

#include <stdint.h>

#include "train/cs-run-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  /* run.json is read as a NUL-terminated string, as the store reads it. */
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(GError) error = NULL;
  gboolean ok = cs_run_record_check (text, strlen (text), "fuzz/run.json", &error);

  g_assert (ok == (error == NULL));
  return 0;
}
