/* Digit preprocessing as MNIST was made (LeCun et al.): the same code serves the drawing pad and `predict --image`. */

#define G_LOG_DOMAIN "cs-digit"

#include "config.h"

#include <math.h>
#include <string.h>

#include "data/cs-digit.h"

G_DEFINE_QUARK (cs-digit-error-quark, cs_digit_error)

#define INK_THRESHOLD 0.08f

/* Area-averaging resample of the box [x0, x0 + sw) x [y0, y0 + sh) of @src into dw x dh. */
static void
resample_area (float       *dst,
               int          dw,
               int          dh,
               const float *src,
               int          stride,
               double       x0,
               double       y0,
               double       sw,
               double       sh,
               int          src_w,
               int          src_h)
{
  double fx = sw / dw, fy = sh / dh;

  for (int oy = 0; oy < dh; oy++)
    {
      double ya = y0 + oy * fy, yb = ya + fy;

      for (int ox = 0; ox < dw; ox++)
        {
          double xa = x0 + ox * fx, xb = xa + fx;
          double sum = 0, area = 0;

          for (int iy = (int) floor (ya); iy < (int) ceil (yb); iy++)
            {
              double wy = MIN (yb, iy + 1.0) - MAX (ya, (double) iy);
              if (wy <= 0 || iy < 0 || iy >= src_h)
                continue;
              for (int ix = (int) floor (xa); ix < (int) ceil (xb); ix++)
                {
                  double wx = MIN (xb, ix + 1.0) - MAX (xa, (double) ix);
                  if (wx <= 0 || ix < 0 || ix >= src_w)
                    continue;
                  sum += wx * wy * src[(gsize) iy * stride + ix];
                  area += wx * wy;
                }
            }
          dst[oy * dw + ox] = area > 0 ? (float) (sum / (fx * fy)) : 0.0f;
        }
    }
}

gboolean
cs_digit_preprocess (float        *out,
                     const float  *img,
                     int           width,
                     int           height,
                     gboolean      auto_invert,
                     GError      **error)
{
  g_autofree float *ink = NULL;
  float box[20 * 20];
  int x0 = width, y0 = height, x1 = -1, y1 = -1;
  double border = 0, mass = 0, cx = 0, cy = 0, peak = 0;
  int n_border = 0, bw, bh, sw, sh, ox, oy;
  gsize n;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (img != NULL, FALSE);

  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    {
      g_set_error (error, CS_DIGIT_ERROR, CS_DIGIT_ERROR_SIZE, "a %dx%d image cannot hold a digit", width, height);
      return FALSE;
    }
  n = (gsize) width * height;
  ink = g_new (float, n);

  /* Dark ink on a light page becomes light ink on black, as in MNIST. */
  for (int x = 0; x < width; x++)
    {
      border += img[x] + img[(gsize) (height - 1) * width + x];
      n_border += 2;
    }
  for (int y = 0; y < height; y++)
    {
      border += img[(gsize) y * width] + img[(gsize) y * width + width - 1];
      n_border += 2;
    }
  for (gsize i = 0; i < n; i++)
    {
      float v = CLAMP (img[i], 0.0f, 1.0f);
      ink[i] = auto_invert && border / n_border > 0.5 ? 1.0f - v : v;
      peak = MAX (peak, ink[i]);
    }

  /* The ink's bounding box. */
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      if (ink[(gsize) y * width + x] > INK_THRESHOLD * peak && peak > 0.05)
        {
          x0 = MIN (x0, x);
          x1 = MAX (x1, x);
          y0 = MIN (y0, y);
          y1 = MAX (y1, y);
        }
  if (x1 < 0)
    {
      g_set_error (error, CS_DIGIT_ERROR, CS_DIGIT_ERROR_BLANK, "the image is blank: there is no ink to read");
      return FALSE;
    }
  bw = x1 - x0 + 1;
  bh = y1 - y0 + 1;

  /* Fit 20x20 keeping the aspect ratio; the long side becomes 20. */
  if (bw >= bh)
    {
      sw = 20;
      sh = MAX (1, (int) lround (20.0 * bh / bw));
    }
  else
    {
      sh = 20;
      sw = MAX (1, (int) lround (20.0 * bw / bh));
    }
  resample_area (box, sw, sh, ink, width, x0, y0, bw, bh, width, height);
  for (int i = 0; i < sw * sh; i++)
    box[i] = MIN (box[i], 1.0f);

  /* Centre of mass of the 20x20 box, to be placed at the centre (14, 14). */
  for (int y = 0; y < sh; y++)
    for (int x = 0; x < sw; x++)
      {
        double v = box[y * sw + x];
        mass += v;
        cx += v * (x + 0.5);
        cy += v * (y + 0.5);
      }
  cx = mass > 0 ? cx / mass : sw / 2.0;
  cy = mass > 0 ? cy / mass : sh / 2.0;
  ox = (int) lround (14.0 - cx);
  oy = (int) lround (14.0 - cy);
  /* Keep the whole box inside the field. */
  ox = CLAMP (ox, 0, 28 - sw);
  oy = CLAMP (oy, 0, 28 - sh);

  memset (out, 0, 28 * 28 * sizeof (float));
  for (int y = 0; y < sh; y++)
    for (int x = 0; x < sw; x++)
      out[(oy + y) * 28 + ox + x] = box[y * sw + x];
  return TRUE;
}
