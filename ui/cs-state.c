/* The app's remembered state: a small key file in the user's config folder,
 * read on first use and written whole (atomically) when it changes. */

#define G_LOG_DOMAIN "cs-state"

#include "config.h"

#include <errno.h>

#include "base/cs-atomic-file.h"
#include "base/cs-file.h"
#include "cs-state.h"

#define STATE_MAX_BYTES (256 * 1024)

static GKeyFile *state;

static char *
state_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "convscope", "state.ini", NULL);
}

GKeyFile *
cs_state_get (void)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;

  if (state != NULL)
    return state;
  state = g_key_file_new ();
  path = state_path ();
  /* A regular file of a sane size, not through a link: it is ours. */
  if (!cs_file_read_regular (path, CS_FILE_NO_FOLLOW, STATE_MAX_BYTES, &text, &len, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_debug ("not reading %s: %s", path, error->message);
      return state;
    }
  if (!g_key_file_load_from_data (state, text, len, G_KEY_FILE_NONE, &error))
    g_debug ("%s is not a key file (%s): starting afresh", path, error->message);
  return state;
}

void
cs_state_save (void)
{
  g_autofree char *path = state_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  if (state == NULL)
    return;
  text = g_key_file_to_data (state, &len, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0 || !cs_write_file_atomic (path, text, len, &error))
    g_debug ("could not remember the app's state in %s: %s", path, error ? error->message : g_strerror (errno));
}
