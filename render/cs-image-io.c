/* PNG input through cairo, which the app has anyway; core sees only floats. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <cairo.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>

#include "base/cs-file.h"
#include "render/cs-image-io.h"

static gboolean
check_png_header (const guint8  *head,
                  gsize          got,
                  const char    *path,
                  GError       **error)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  guint32 w, h;

  /* Anything that is not a PNG with an IHDR is left to cairo to reject. */
  if (got < 24 || memcmp (head, signature, 8) != 0 || memcmp (head + 12, "IHDR", 4) != 0)
    return TRUE;
  w = (guint32) head[16] << 24 | (guint32) head[17] << 16 | (guint32) head[18] << 8 | head[19];
  h = (guint32) head[20] << 24 | (guint32) head[21] << 16 | (guint32) head[22] << 8 | head[23];
  if (w < 1 || h < 1 || w > CS_IMAGE_MAX_SIDE || h > CS_IMAGE_MAX_SIDE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: the image is %ux%u pixels; a digit image may be at most %dx%d",
                   path, w, h, CS_IMAGE_MAX_SIDE, CS_IMAGE_MAX_SIDE);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  const guint8 *p;
  gsize         left;
} Reader;

static cairo_status_t
read_bytes (void          *closure,
            unsigned char *out,
            unsigned int   length)
{
  Reader *r = closure;

  if (length > r->left)
    return CAIRO_STATUS_READ_ERROR;
  memcpy (out, r->p, length);
  r->p += length;
  r->left -= length;
  return CAIRO_STATUS_SUCCESS;
}

float *
cs_image_load_gray (const char  *path,
                    int         *width,
                    int         *height,
                    GError     **error)
{
  g_autofree char *bytes = NULL;
  gsize len;

  /* A regular file only (a FIFO would block), and not more than a PNG of the largest digit image can be. */
  if (!cs_file_read_regular (path, CS_FILE_FOLLOW_LINKS, CS_IMAGE_MAX_FILE_BYTES, &bytes, &len, error))
    return NULL;
  return cs_image_load_gray_bytes ((const guint8 *) bytes, len, path, width, height, error);
}

float *
cs_image_load_gray_bytes (const guint8  *bytes,
                          gsize          len,
                          const char    *path,
                          int           *width,
                          int           *height,
                          GError       **error)
{
  cairo_surface_t *surface;
  cairo_status_t status;
  cairo_format_t format;
  const guint8 *data;
  float *gray;
  int w, h, stride;
  Reader reader = { bytes, len };

  /* Refuse an oversized image from its header, before cairo allocates
   * width x height x 4 bytes for it. */
  if (!check_png_header (bytes, len, path, error))
    return NULL;
  surface = cairo_image_surface_create_from_png_stream (read_bytes, &reader);
  status = cairo_surface_status (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (surface);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a readable PNG image (%s)", path,
                   status == CAIRO_STATUS_READ_ERROR ? "the data is not PNG" : cairo_status_to_string (status));
      return NULL;
    }
  cairo_surface_flush (surface);
  w = cairo_image_surface_get_width (surface);
  h = cairo_image_surface_get_height (surface);
  stride = cairo_image_surface_get_stride (surface);
  format = cairo_image_surface_get_format (surface);
  data = cairo_image_surface_get_data (surface);
  /* Again after decoding (the header check passes what is not a PNG IHDR to cairo). */
  if (w < 1 || h < 1 || w > CS_IMAGE_MAX_SIDE || h > CS_IMAGE_MAX_SIDE || data == NULL ||
      (format != CAIRO_FORMAT_A8 && format != CAIRO_FORMAT_RGB24 && format != CAIRO_FORMAT_ARGB32))
    {
      cairo_surface_destroy (surface);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: a %dx%d image of this kind is not a digit",
                   path, w, h);
      return NULL;
    }
  gray = g_new (float, (gsize) w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        float v;

        if (format == CAIRO_FORMAT_A8)
          v = 1.0f - data[y * stride + x] / 255.0f;   /* opaque = ink */
        else
          {
            guint32 px = *(const guint32 *) (data + y * stride + 4 * x);
            float a = format == CAIRO_FORMAT_ARGB32 ? ((px >> 24) & 0xff) / 255.0f : 1.0f;
            /* Premultiplied colour composited over white paper. */
            float r = ((px >> 16) & 0xff) / 255.0f, g = ((px >> 8) & 0xff) / 255.0f, b = (px & 0xff) / 255.0f;
            float lum = 0.299f * r + 0.587f * g + 0.114f * b;
            v = lum + (1.0f - a);
          }
        gray[(gsize) y * w + x] = CLAMP (v, 0.0f, 1.0f);
      }
  cairo_surface_destroy (surface);
  *width = w;
  *height = h;
  return gray;
}
