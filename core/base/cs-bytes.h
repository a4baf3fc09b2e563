/* Little-endian integers read from unaligned bytes (zip headers, pickle opcodes). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

static inline guint16
cs_read_le16 (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

static inline guint32
cs_read_le32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static inline guint64
cs_read_le64 (const guint8 *p)
{
  return (guint64) cs_read_le32 (p) | ((guint64) cs_read_le32 (p + 4) << 32);
}

G_END_DECLS
