/* cs_test_rm_rf(): removes a directory the tests made, with everything in it.
 * Shared by the test programs that make temporary directories. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>

static inline void
cs_test_rm_rf (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      /* A link is removed, never followed (the hostile-runs tests plant some). */
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        cs_test_rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}
