/* Kernel grids and feature maps drawn with cairo; the same code draws into widgets and into files. */

#define G_LOG_DOMAIN "cs-render"

#include "config.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>

#include "formats/cs-checkpoint.h"
#include "render/cs-render.h"

#define MARGIN 12.0

void
cs_colormap_diverging (double  t,
                       double *r,
                       double *g,
                       double *b)
{
  /* ColorBrewer RdBu ends around a neutral centre: blue < 0 < red. */
  static const double neg[3] = { 33 / 255.0, 102 / 255.0, 172 / 255.0 };
  static const double mid[3] = { 247 / 255.0, 247 / 255.0, 247 / 255.0 };
  static const double pos[3] = { 178 / 255.0, 24 / 255.0, 43 / 255.0 };
  const double *end;
  double a;

  if (!isfinite (t))
    t = 0;
  t = CLAMP (t, -1.0, 1.0);
  end = t < 0 ? neg : pos;
  a = fabs (t);
  *r = mid[0] + (end[0] - mid[0]) * a;
  *g = mid[1] + (end[1] - mid[1]) * a;
  *b = mid[2] + (end[2] - mid[2]) * a;
}

static void
text_at (cairo_t    *cr,
         double      x,
         double      y,
         const char *text,
         double      size,
         gboolean    bold)
{
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
  cairo_move_to (cr, x, y);
  cairo_show_text (cr, text);
}

/* A horizontal colour bar from -m to m with its numbers. */
static void
colour_bar (cairo_t *cr,
            double   x,
            double   y,
            double   w,
            double   lo,
            double   hi,
            double   fg)
{
  char buf[64];

  for (int i = 0; i < (int) w; i++)
    {
      double r, g, b;
      cs_colormap_diverging (2.0 * i / (w - 1) - 1, &r, &g, &b);
      cairo_set_source_rgb (cr, r, g, b);
      cairo_rectangle (cr, x + i, y, 1.2, 10);
      cairo_fill (cr);
    }
  cairo_set_source_rgb (cr, fg, fg, fg);
  g_snprintf (buf, sizeof buf, "%.3g", lo);
  text_at (cr, x, y + 22, buf, 9, FALSE);
  text_at (cr, x + w / 2 - 3, y + 22, "0", 9, FALSE);
  g_snprintf (buf, sizeof buf, "%.3g", hi);
  {
    cairo_text_extents_t ext;
    cairo_text_extents (cr, buf, &ext);
    cairo_move_to (cr, x + w - ext.x_advance, y + 22);
    cairo_show_text (cr, buf);
  }
}

double
cs_render_kernels (cairo_t       *cr,
                   const CsSpec  *spec,
                   const float   *params,
                   const CsModel *layout_model,
                   CsKernelScale  scale,
                   double         width,
                   gboolean       dark,
                   GArray        *cells)
{
  double y = MARGIN, fg = dark ? 0.92 : 0.12;
  guint n_conv = 0;

  if (cells != NULL)
    g_array_set_size (cells, 0);
  for (guint l = 0; l < cs_spec_n_layers (spec); l++)
    {
      const CsLayerSpec *ls = cs_spec_layer (spec, l);
      g_autofree char *wname = NULL;
      const CsParam *p;
      const float *w;
      int K, C, kh, kw;
      double amax = 0, lo = 0, hi = 0, px_size, group_w;
      int groups_per_row;
      g_autofree char *title = NULL;

      /* A convolution called again has its first call's kernels: drawn once. */
      if (ls->kind != CS_LAYER_CONV2D || ls->shares >= 0)
        continue;
      n_conv++;
      wname = g_strdup_printf ("%s.weight", ls->name);
      p = cs_model_find_tensor (layout_model, wname);
      g_assert (p != NULL);
      w = params + p->offset;
      K = ls->out_channels, C = ls->in_channels, kh = ls->kh, kw = ls->kw;
      for (gsize i = 0; i < p->numel; i++)
        {
          amax = MAX (amax, fabs (w[i]));
          lo = MIN (lo, w[i]);
          hi = MAX (hi, w[i]);
        }

      /* Pixels per weight: big for few kernels, smaller for many. */
      px_size = (K * C <= 64) ? 7 : (K * C <= 512) ? 5 : 3.5;
      px_size = MAX (2, MIN (px_size, 48.0 / MAX (kh, kw)));
      /* ... and bigger on a wider view (up to 3 times at 2,300 pixels), so a
       * large screen shows larger kernels, not the same 35-pixel tiles. */
      px_size *= CLAMP ((width - 2 * MARGIN) / 760.0, 1.0, 3.0);
      /* Everything on a grid of whole weight-pixels, so the layer is one image. */
      group_w = (C * (kw + 1) + 2) * px_size;
      groups_per_row = MAX (1, (int) ((width - 2 * MARGIN) / group_w));

      title = g_strdup_printf ("%s · %d×%d×%d×%d · weights %.3g to %.3g · %s", ls->name, K, C, kh, kw, lo, hi,
                               scale == CS_SCALE_PER_LAYER ? "colours scaled per layer" : "colours scaled per kernel");
      if (cr != NULL)
        {
          cairo_set_source_rgb (cr, fg, fg, fg);
          text_at (cr, MARGIN, y + 12, title, 12, TRUE);
          colour_bar (cr, MARGIN, y + 20, 220, scale == CS_SCALE_PER_LAYER ? -amax : -1,
                      scale == CS_SCALE_PER_LAYER ? amax : 1, fg);
        }
      y += 52;

      /* One image per layer, a pixel per weight, painted scaled with the
       * nearest filter: a few paints per frame instead of one rectangle per weight. */
      {
        int rows = (K + groups_per_row - 1) / groups_per_row;
        double row_h = (kh + ceil (16 / px_size)) * px_size;
        cairo_surface_t *img = NULL;
        guint8 *data = NULL;
        int stride = 0, img_w = 0, img_h = 0;

        if (cr != NULL)
          {
            img_w = (int) ceil ((width - 2 * MARGIN) / px_size) + 1;
            img_h = (int) ceil (rows * row_h / px_size) + 1;
            img = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, img_w, img_h);
            cairo_surface_flush (img);
            data = cairo_image_surface_get_data (img);
            stride = cairo_image_surface_get_stride (img);
          }
        for (int k = 0; k < K; k++)
          {
            double gx = MARGIN + (k % groups_per_row) * group_w;
            double gy = y + (k / groups_per_row) * row_h;

            if (cr != NULL && C > 1)
              {
                char buf[16];
                g_snprintf (buf, sizeof buf, "%d", k);
                cairo_set_source_rgba (cr, fg, fg, fg, 0.6);
                text_at (cr, gx, gy + kh * px_size + 10, buf, 8, FALSE);
              }
            for (int c = 0; c < C; c++)
              {
                const float *kern = w + ((gsize) k * C + c) * kh * kw;
                double kx = gx + c * (kw + 1) * px_size, m = amax;
                int ux, uy;

                if (scale == CS_SCALE_PER_KERNEL)
                  {
                    m = 0;
                    for (int i = 0; i < kh * kw; i++)
                      m = MAX (m, fabs (kern[i]));
                  }
                if (cells != NULL)
                  {
                    CsKernelCell cell = { l, k, c, kx, gy, px_size, kh, kw };
                    g_array_append_val (cells, cell);
                  }
                if (cr == NULL)
                  continue;
                /* The kernel's top-left, in image pixels. */
                ux = (int) lround ((kx - MARGIN) / px_size);
                uy = (int) lround ((gy - y) / px_size);
                for (int i = 0; i < kh; i++)
                  for (int j = 0; j < kw; j++)
                    {
                      double r, g, b;
                      if (ux + j >= img_w || uy + i >= img_h)
                        continue;
                      cs_colormap_diverging (m > 0 ? kern[i * kw + j] / m : 0, &r, &g, &b);
                      *(guint32 *) (data + (uy + i) * stride + 4 * (ux + j)) =
                        0xff000000u | ((guint32) lround (r * 255) << 16) | ((guint32) lround (g * 255) << 8) |
                        (guint32) lround (b * 255);
                    }
              }
          }
        if (cr != NULL)
          {
            cairo_surface_mark_dirty (img);
            cairo_save (cr);
            cairo_translate (cr, MARGIN, y);
            cairo_scale (cr, px_size, px_size);
            cairo_set_source_surface (cr, img, 0, 0);
            cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
            cairo_paint (cr);
            cairo_restore (cr);
            cairo_surface_destroy (img);
          }
      }
      y += ((K + groups_per_row - 1) / groups_per_row) * (kh + ceil (16 / px_size)) * px_size + 14;
    }
  if (n_conv == 0 && cr != NULL)
    {
      cairo_set_source_rgba (cr, fg, fg, fg, 0.6);
      text_at (cr, MARGIN, y + 14, "This model has no convolution: no kernels to show.", 12, FALSE);
    }
  return n_conv ? y : y + 30;
}

static void
draw_map (cairo_t     *cr,
          const float *v,
          int          h,
          int          w,
          double       x,
          double       y,
          double       px,
          double       m)
{
  for (int i = 0; i < h; i++)
    for (int j = 0; j < w; j++)
      {
        double r, g, b;
        cs_colormap_diverging (m > 0 ? v[i * w + j] / m : 0, &r, &g, &b);
        cairo_set_source_rgb (cr, r, g, b);
        cairo_rectangle (cr, x + j * px, y + i * px, px + 0.05, px + 0.05);
        cairo_fill (cr);
      }
}

double
cs_render_feature_maps (cairo_t            *cr,
                        const CsSpec       *spec,
                        const float        *input,
                        const char         *input_label,
                        const float *const *activations,
                        const float        *proba,
                        int                 n_classes,
                        double              width,
                        gboolean            dark)
{
  double y = MARGIN, fg = dark ? 0.92 : 0.12;
  CsShape in = spec->input;
  double px;

  /* The input, in grey as the model sees it. */
  if (!in.flat)
    {
      px = MIN (4.0, 112.0 / MAX (in.h, in.w));
      if (cr != NULL)
        {
          g_autofree char *t = g_strdup_printf ("input · %d×%d×%d%s%s", in.c, in.h, in.w, input_label ? " · " : "",
                                                input_label ? input_label : "");
          cairo_set_source_rgb (cr, fg, fg, fg);
          text_at (cr, MARGIN, y + 12, t, 12, TRUE);
          for (int i = 0; i < in.h; i++)
            for (int j = 0; j < in.w; j++)
              {
                double v = CLAMP (input[i * in.w + j], 0, 1);
                cairo_set_source_rgb (cr, v, v, v);
                cairo_rectangle (cr, MARGIN + j * px, y + 20 + i * px, px + 0.05, px + 0.05);
                cairo_fill (cr);
              }
        }
      y += 20 + in.h * px + 14;
    }

  for (guint l = 0; l < cs_spec_n_layers (spec); l++)
    {
      const CsLayerSpec *ls = cs_spec_layer (spec, l);
      const float *a = activations[l];
      CsShape s = ls->out;
      gsize n = cs_shape_numel (s);
      double m = 0;
      g_autofree char *title = NULL;

      for (gsize i = 0; i < n; i++)
        m = MAX (m, fabs (a[i]));
      if (s.flat)
        title = g_strdup_printf ("%s · %s · %d values · max |a| %.3g", ls->name, cs_layer_kind_name (ls->kind), s.c, m);
      else
        title = g_strdup_printf ("%s · %s · %d×%d×%d · max |a| %.3g", ls->name, cs_layer_kind_name (ls->kind),
                                 s.c, s.h, s.w, m);
      if (cr != NULL)
        {
          cairo_set_source_rgb (cr, fg, fg, fg);
          text_at (cr, MARGIN, y + 12, title, 11, TRUE);
        }
      y += 20;

      if (!s.flat)
        {
          double map_px = MAX (1.0, MIN (3.0, 60.0 / MAX (s.h, s.w)));
          double mw = s.w * map_px + 6, mh = s.h * map_px + 6;
          int per_row = MAX (1, (int) ((width - 2 * MARGIN) / mw));

          for (int c = 0; c < s.c && cr != NULL; c++)
            draw_map (cr, a + (gsize) c * s.h * s.w, s.h, s.w, MARGIN + (c % per_row) * mw, y + (c / per_row) * mh,
                      map_px, m);
          y += ((s.c + per_row - 1) / per_row) * mh + 10;
        }
      else
        {
          /* A strip of bars: one per unit, up for positive (red), down for negative (blue). */
          double bw = MAX (1.0, MIN (8.0, (width - 2 * MARGIN) / s.c));
          double hh = 24;
          int per_row = MAX (1, (int) ((width - 2 * MARGIN) / bw));
          int rows = (s.c + per_row - 1) / per_row;

          for (int u = 0; u < s.c && cr != NULL; u++)
            {
              double v = m > 0 ? a[u] / m : 0, r, g, b;
              double bx = MARGIN + (u % per_row) * bw, by = y + (u / per_row) * (2 * hh + 6) + hh;
              cs_colormap_diverging (v, &r, &g, &b);
              cairo_set_source_rgb (cr, r, g, b);
              cairo_rectangle (cr, bx, v >= 0 ? by - v * hh : by, MAX (bw - 1, 1), fabs (v) * hh + 0.5);
              cairo_fill (cr);
            }
          y += rows * (2 * hh + 6) + 8;
        }
    }

  /* The answer: ten probability bars, the top class highlighted. */
  if (proba != NULL)
    {
      int best = 0;
      for (int c = 1; c < n_classes; c++)
        if (proba[c] > proba[best])
          best = c;
      if (cr != NULL)
        {
          cairo_set_source_rgb (cr, fg, fg, fg);
          text_at (cr, MARGIN, y + 12, "probabilities", 12, TRUE);
        }
      y += 20;
      for (int c = 0; c < n_classes && cr != NULL; c++)
        {
          char buf[32];
          double bw = (width - 2 * MARGIN - 90) * proba[c];
          g_snprintf (buf, sizeof buf, "%d", c);
          cairo_set_source_rgb (cr, fg, fg, fg);
          text_at (cr, MARGIN, y + c * 16 + 11, buf, 11, c == best);
          if (c == best)
            cairo_set_source_rgb (cr, 0.21, 0.52, 0.89);
          else
            cairo_set_source_rgba (cr, fg, fg, fg, 0.35);
          cairo_rectangle (cr, MARGIN + 16, y + c * 16 + 2, MAX (bw, 1), 11);
          cairo_fill (cr);
          g_snprintf (buf, sizeof buf, "%.1f%%", 100 * proba[c]);
          cairo_set_source_rgb (cr, fg, fg, fg);
          text_at (cr, MARGIN + 22 + MAX (bw, 1), y + c * 16 + 11, buf, 10, c == best);
        }
      y += n_classes * 16 + 8;
    }
  return y + MARGIN;
}

static cairo_status_t
append_bytes (void                *closure,
              const unsigned char *data,
              unsigned int         length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

gboolean
cs_render_to_file (const char    *path,
                   double         width,
                   CsRenderFunc   func,
                   gpointer       data,
                   GError       **error)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  double height = func (NULL, width, data);
  cairo_surface_t *surface;
  cairo_status_t status;
  cairo_t *cr;
  gboolean png = g_str_has_suffix (path, ".png");

  if (png)
    surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) width, (int) ceil (height));
  else if (g_str_has_suffix (path, ".svg"))
    surface = cairo_svg_surface_create_for_stream (append_bytes, bytes, width, height);
  else if (g_str_has_suffix (path, ".pdf"))
    surface = cairo_pdf_surface_create_for_stream (append_bytes, bytes, width, height);
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: give the file a .png, .svg or .pdf name", path);
      return FALSE;
    }
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  func (cr, width, data);
  cairo_destroy (cr);
  if (png)
    status = cairo_surface_write_to_png_stream (surface, append_bytes, bytes);
  else
    {
      cairo_surface_finish (surface);
      status = cairo_surface_status (surface);
    }
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "could not draw %s: %s", path,
                   cairo_status_to_string (status));
      return FALSE;
    }
  /* Drawn in memory, then written as every save is (atomically, or into the device the user named). */
  return cs_write_file_full (path, bytes->data, bytes->len, CS_WRITE_USER_PATH, error);
}
