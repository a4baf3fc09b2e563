/* Internals of the run record, for the tests and the fuzz targets. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses @text as run.json would be, and checks its spec; nothing is kept. */
gboolean cs_run_record_check (const char  *text,
                              gsize        len,
                              const char  *path,
                              GError     **error);

G_END_DECLS
