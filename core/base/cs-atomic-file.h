/* Files written whole or not at all: what every save in Convscope goes through. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Atomic: a temporary file in the same directory, fsync, rename. On any
 * failure the file that was at @path is untouched. */
gboolean  cs_write_file_atomic        (const char        *path,
                                       const void        *data,
                                       gsize              len,
                                       GError           **error);

typedef enum
{
  CS_WRITE_RUNS_DIR  = 0,        /* inside the runs directory: links and odd nodes are replaced, never followed */
  CS_WRITE_USER_PATH = 1 << 0,   /* a path the user named: a link is written through (the link stays),
                                  * a device or FIFO is written in place (-o /dev/null, /dev/full) */
} CsWriteFlags;

/* Whether @name (a file name, no folder) is one of cs_write_file_atomic()'s
 * temporary files, ".NAME.XXXXXX": what a save killed before its rename leaves. */
gboolean  cs_write_file_is_temp_name  (const char        *name);

/* cs_write_file_atomic() for regular files, with @flags for what else @path may be. */
gboolean  cs_write_file_full          (const char        *path,
                                       const void        *data,
                                       gsize              len,
                                       CsWriteFlags       flags,
                                       GError           **error);

G_END_DECLS
