/* A careful reader of the zip files torch.save writes (stored entries only). */
#pragma once

#include "formats/cs-tensor.h"

G_BEGIN_DECLS

typedef struct
{
  char         *name;
  const guint8 *data;      /* inside the buffer given to cs_zip_read() */
  guint64       size;
  guint32       crc;
} CsZipEntry;

void        cs_zip_entry_free (CsZipEntry   *e);
/* The entries, with sizes and offsets from the central directory; errors are CS_CHECKPOINT_ERROR_FORMAT. */
GPtrArray  *cs_zip_read       (const guint8 *data,
                               gsize         len,
                               const char   *path,
                               GError      **error);
/* Name -> CsZipEntry (borrowed); a name given twice is refused. */
GHashTable *cs_zip_index      (GPtrArray    *entries,
                               const char   *path,
                               GError      **error);
guint32     cs_crc32          (const guint8 *p,
                               gsize         n);

G_END_DECLS
