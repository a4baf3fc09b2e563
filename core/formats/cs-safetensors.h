/* The safetensors format: read strictly, written in the order given. */
#pragma once

#include "base/cs-atomic-file.h"
#include "formats/cs-tensor.h"

G_BEGIN_DECLS

CsCheckpoint *cs_safetensors_parse (const guint8      *data,
                                    gsize              len,
                                    const char        *path,
                                    GError           **error);
gboolean      cs_safetensors_write (const char        *path,
                                    const CsTensorRef *tensors,
                                    guint              n_tensors,
                                    GHashTable        *metadata,
                                    CsWriteFlags       flags,
                                    GError           **error);

G_END_DECLS
