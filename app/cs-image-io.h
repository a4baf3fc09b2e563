/* Reading a picture (PNG) as grey levels for the digit preprocessing. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Larger pictures are refused from their header, before they are decoded. */
#define CS_IMAGE_MAX_SIDE 8192

/* Luminance in [0, 1] (transparent parts count as white paper); *width x *height floats. */
float *cs_image_load_gray (const char  *path,
                           int         *width,
                           int         *height,
                           GError     **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
