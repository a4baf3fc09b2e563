/* Runs a fuzz target over files without libFuzzer: the CI's pass over each seed corpus, and regressions. */

#include "config.h"

#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static guint n_inputs;

static void
run_path (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir && (name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          run_path (child);
        }
      return;
    }
  {
    g_autofree char *data = NULL;
    gsize len;
    if (!g_file_get_contents (path, &data, &len, NULL))
      g_error ("cannot read %s", path);
    LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
    n_inputs++;
  }
}

int
main (int   argc,
      char *argv[])
{
  for (int i = 1; i < argc; i++)
    run_path (argv[i]);
  /* One TAP case per corpus, so the totals count it. */
  printf ("1..1\nok 1 - %u inputs, no crash\n", n_inputs);
  return n_inputs > 0 ? 0 : 1;
}
