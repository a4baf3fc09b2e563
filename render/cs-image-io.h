/* Reading a picture (PNG) as grey levels for the digit preprocessing. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Larger pictures are refused from their header, before they are decoded. */
#define CS_IMAGE_MAX_SIDE 8192
/* A PNG of that size stored without compression, and some room for its chunks. */
#define CS_IMAGE_MAX_FILE_BYTES ((guint64) CS_IMAGE_MAX_SIDE * CS_IMAGE_MAX_SIDE * 4 + 16 * 1024 * 1024)

/* Luminance in [0, 1] (transparent parts count as white paper); *width x *height floats. */
float *cs_image_load_gray (const char  *path,
                           int         *width,
                           int         *height,
                           GError     **error) G_GNUC_WARN_UNUSED_RESULT;
/* The same from PNG bytes in memory; @path names them in errors. */
float *cs_image_load_gray_bytes (const guint8 *bytes,
                                 gsize         len,
                                 const char   *path,
                                 int          *width,
                                 int          *height,
                                 GError      **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
