/* What the app remembers between sessions: the window's size, the New Run
 * settings, the checkpoints that were open. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* $XDG_CONFIG_HOME/convscope/state.ini, read once; groups [window], [new-run]
 * and [checkpoints]. A file that cannot be read is an empty state. */
GKeyFile *cs_state_get  (void);
/* Writes it back atomically; a failure is logged and forgotten (the state is
 * a convenience, never in the way). */
void      cs_state_save (void);

G_END_DECLS
