/* Fuzz target: the IDX readers, plain and gzipped (the bytes go through a file, as the readers take paths). */

#include "config.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <unistd.h>

#include "data/cs-dataset.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static char *plain, *gz;
  g_autofree guint8 *out = NULL;
  g_autofree guint8 *labels = NULL;
  guint n, r, c;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;

  if (plain == NULL)
    {
      plain = g_strdup_printf ("%s/cs-fuzz-idx-%d", g_get_tmp_dir (), (int) getpid ());
      gz = g_strconcat (plain, ".gz", NULL);
    }
  g_file_set_contents (plain, (const char *) data, size, NULL);
  g_file_set_contents (gz, (const char *) data, size, NULL);
  if (cs_idx_read_images (plain, &out, &n, &r, &c, &e1))
    g_assert ((gsize) n * r * c + 16 == size);
  g_clear_pointer (&out, g_free);
  cs_idx_read_labels (plain, &labels, &n, &e2);
  cs_idx_read_images (gz, &out, &n, &r, &c, &e3);
  g_unlink (plain);
  g_unlink (gz);
  return 0;
}
