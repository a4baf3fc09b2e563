/* What a plot looks like: its frame and ticks from the data, the curves
 * drawn per pixel column, the legend where it hides the fewest points.
 * cs_plot_draw() works on any cairo context (the widget's cached image, an
 * exported PNG, SVG or PDF). */

#define G_LOG_DOMAIN "cs-plot"

#include "config.h"

#include <math.h>
#include <string.h>

#include "cs-plot-private.h"

double
cs_plot_ty (CsPlot *self,
            double  v)
{
  return self->log_y ? log10 (MAX (v, 1e-12)) : v;
}

static double
nice_step (double range,
           int    target)
{
  double raw = range / MAX (target, 1), mag = pow (10, floor (log10 (raw))), f = raw / mag;

  if (f < 1.5)
    return mag;
  if (f < 3)
    return 2 * mag;
  if (f < 7)
    return 5 * mag;
  return 10 * mag;
}

/* Smoothed copy: TensorBoard's EMA, debiased (last / (1 - w^n)). */
static void
smooth (const double *y,
        guint         n,
        double        w,
        double       *out)
{
  double last = 0;
  guint k = 0;

  for (guint i = 0; i < n; i++)
    {
      if (!isfinite (y[i]))
        {
          out[i] = y[i];
          continue;
        }
      last = last * w + (1 - w) * y[i];
      k++;
      out[i] = w > 0 ? last / (1 - pow (w, k)) : y[i];
    }
}

Frame
cs_plot_compute_frame (CsPlot *self,
                       double  width,
                       double  height)
{
  Frame f = { 62, width - 16, self->title ? 30 : 12, height - 42, G_MAXDOUBLE, -G_MAXDOUBLE, G_MAXDOUBLE, -G_MAXDOUBLE, TRUE };

  for (guint s = 0; s < self->series->len; s++)
    {
      Series *se = g_ptr_array_index (self->series, s);
      for (guint i = 0; i < se->x->len; i++)
        {
          double x = g_array_index (se->x, double, i), y = g_array_index (se->y, double, i);
          if (!isfinite (x) || !isfinite (y) || (self->log_y && y <= 0))
            continue;
          f.x0 = MIN (f.x0, x);
          f.x1 = MAX (f.x1, x);
          f.y0 = MIN (f.y0, cs_plot_ty (self, y));
          f.y1 = MAX (f.y1, cs_plot_ty (self, y));
          f.empty = FALSE;
        }
    }
  if (self->range_fixed || f.empty)
    {
      double y0 = cs_plot_ty (self, self->range_y0), y1 = cs_plot_ty (self, self->range_y1);

      /* (A log axis cannot start at 0: there it spans one decade.) */
      f.y0 = isfinite (y0) ? y0 : y1 - 1;
      f.y1 = y1;
    }
  if (f.empty)
    {
      f.x0 = 0, f.x1 = 1;
      return f;
    }
  if (f.x1 - f.x0 < 1e-9)
    f.x0 -= 0.5, f.x1 += 0.5;
  if (self->range_fixed)
    return f;
  if (f.y1 - f.y0 < 1e-9)
    f.y0 -= 0.5, f.y1 += 0.5;
  {
    double pad = (f.y1 - f.y0) * 0.06;
    f.y0 -= pad;
    f.y1 += pad;
  }
  return f;
}

double
cs_plot_px (const Frame *f,
            double       x)
{
  return f->left + (x - f->x0) / (f->x1 - f->x0) * (f->right - f->left);
}

double
cs_plot_py (const Frame *f,
            double       y)
{
  return f->bottom - (y - f->y0) / (f->y1 - f->y0) * (f->bottom - f->top);
}

/* Where the legend box (w x h) goes: the corner of the frame, top right
 * first, whose box (with a few pixels to spare) covers the fewest points. */
static void
legend_corner (CsPlot      *self,
               const Frame *f,
               double       w,
               double       h,
               double      *x,
               double      *y)
{
  const double xs[4] = { f->right - w - 6, f->right - w - 6, f->left + 6, f->left + 6 };
  const double ys[4] = { f->top + 6, f->bottom - h - 6, f->top + 6, f->bottom - h - 6 };
  guint best = 0, best_hidden = G_MAXUINT;

  for (guint c = 0; c < 4; c++)
    {
      guint hidden = 0;

      for (guint s = 0; s < self->series->len; s++)
        {
          Series *se = g_ptr_array_index (self->series, s);
          /* A few hundred points per series tell where the curve runs. */
          guint stride = MAX (1, se->x->len / 400);

          for (guint i = 0; i < se->x->len; i += stride)
            {
              double xv = g_array_index (se->x, double, i), yv = g_array_index (se->y, double, i), X, Y;
              if (!isfinite (xv) || !isfinite (yv) || (self->log_y && yv <= 0))
                continue;
              X = cs_plot_px (f, xv);
              Y = cs_plot_py (f, cs_plot_ty (self, yv));
              hidden += X >= xs[c] - 6 && X <= xs[c] + w + 6 && Y >= ys[c] - 6 && Y <= ys[c] + h + 6;
            }
        }
      if (hidden < best_hidden)
        best = c, best_hidden = hidden;
    }
  *x = xs[best];
  *y = ys[best];
}

static void
format_tick (char  *buf,
             gsize  len,
             double v,
             double step)
{
  /* A tick at k * step may come out as -0 or -1e-17: it is 0. */
  if (fabs (v) < step * 1e-6)
    v = 0;
  if (fabs (v) >= 10000)
    g_snprintf (buf, len, "%.0fk", v / 1000);
  else if (step >= 1)
    g_snprintf (buf, len, "%.0f", v);
  else if (step >= 0.1)
    g_snprintf (buf, len, "%.1f", v);
  else if (step >= 0.01)
    g_snprintf (buf, len, "%.2f", v);
  else
    g_snprintf (buf, len, "%.3g", v);
}

static void
show_text (cairo_t    *cr,
           double      x,
           double      y,
           const char *text,
           double      align_x,
           double      align_y)
{
  cairo_text_extents_t ext;

  cairo_text_extents (cr, text, &ext);
  cairo_move_to (cr, x - ext.width * align_x - ext.x_bearing, y - ext.height * align_y - ext.y_bearing);
  cairo_show_text (cr, text);
}

/* The points, column by column of pixels: with @envelope, each column's
 * span from its lowest to its highest point as a 1-pixel bar (the faint raw
 * curve under a smoothed one); else a line through one point per column (its
 * last), stroked in pieces. Either way a 3,000-point curve costs what its
 * width does: one path of all the points, stroked whole with round joins,
 * took cairo 120 ms a frame for four curves. */
static void
draw_columns (CsPlot       *self,
              const Frame  *f,
              cairo_t      *cr,
              const double *xs,
              const double *yv,
              guint         n,
              gboolean      envelope)
{
  gboolean open = FALSE, started = FALSE, have_prev = FALSE;
  long column = G_MINLONG;
  double lo = 0, hi = 0, cx = 0, last = 0, prev_last = 0;
  guint vertices = 0;

  for (guint i = 0; i <= n; i++)
    {
      double X = 0, Y = 0;
      gboolean valid = i < n && isfinite (yv[i]) && !(self->log_y && yv[i] <= 0);
      long col = 0;

      if (valid)
        {
          X = cs_plot_px (f, xs[i]);
          Y = cs_plot_py (f, cs_plot_ty (self, yv[i]));
          col = (long) floor (X);
        }
      if (open && (!valid || col != column))
        {
          if (envelope)
            {
              /* Reaching back to the previous column's last point keeps the bars joined. */
              double a = have_prev ? MIN (lo, prev_last) : lo, b = have_prev ? MAX (hi, prev_last) : hi;

              cairo_rectangle (cr, floor (cx), a - 0.5, 1, MAX (1, b - a + 1));
              prev_last = last;
              have_prev = TRUE;
            }
          else
            {
              if (!started)
                cairo_move_to (cr, cx, last);
              else
                cairo_line_to (cr, cx, last);
              started = TRUE;
              /* Stroke in pieces of a hundred vertices: cheap, and the joins stay. */
              if (++vertices % 100 == 0)
                {
                  cairo_stroke (cr);
                  cairo_move_to (cr, cx, last);
                }
            }
          open = FALSE;
        }
      if (!valid)
        {
          if (i < n && started)
            {
              cairo_stroke (cr);   /* a gap: NaN, or a non-positive value on a log axis */
              started = FALSE;
            }
          if (i < n)
            have_prev = FALSE;
          continue;
        }
      if (!open)
        {
          column = col;
          cx = X;
          lo = hi = last = Y;
          open = TRUE;
          continue;
        }
      last = Y;
      lo = MIN (lo, Y);
      hi = MAX (hi, Y);
    }
  if (envelope)
    cairo_fill (cr);
  else
    cairo_stroke (cr);
}

void
cs_plot_draw (CsPlot  *self,
              cairo_t *cr,
              double   width,
              double   height,
              gboolean dark)
{
  Frame f = cs_plot_compute_frame (self, width, height);
  double fg = dark ? 0.92 : 0.12;
  char buf[64];

  cairo_save (cr);
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 11);

  if (self->title)
    {
      cairo_set_source_rgb (cr, fg, fg, fg);
      cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
      cairo_set_font_size (cr, 13);
      show_text (cr, f.left, 8, self->title, 0, 0);
      cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
      cairo_set_font_size (cr, 11);
    }

  if (f.right - f.left < 20 || f.bottom - f.top < 20)
    {
      cairo_restore (cr);
      return;
    }

  /* Grid, ticks and tick labels. */
  cairo_set_line_width (cr, 1);
  {
    double step = self->log_y ? 1 : nice_step (f.y1 - f.y0, 5);
    /* A log axis ticks each decade; over less than two decades also 2 and 5
     * of them, over less than half of one every 1..9 (a loss from 2.3 to 1). */
    static const double decades[] = { 1 }, coarse[] = { 1, 2, 5 }, fine[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    const double *mant = f.y1 - f.y0 >= 2 ? decades : f.y1 - f.y0 >= 0.5 ? coarse : fine;
    guint n_mant = mant == decades ? 1 : mant == coarse ? 3 : 9;
    double first = self->log_y ? floor (f.y0) : ceil (f.y0 / step) * step;

    for (double v = first; v <= f.y1 + 1e-9; v += step)
      for (guint m = 0; m < (self->log_y ? n_mant : 1); m++)
        {
          double t = self->log_y ? v + log10 (mant[m]) : v;
          double yy;

          if (t < f.y0 - 1e-9 || t > f.y1 + 1e-9)
            continue;
          yy = round (cs_plot_py (&f, t)) + 0.5;
          cairo_set_source_rgba (cr, fg, fg, fg, 0.12);
          cairo_move_to (cr, f.left, yy);
          cairo_line_to (cr, f.right, yy);
          cairo_stroke (cr);
          cairo_set_source_rgba (cr, fg, fg, fg, 0.75);
          if (self->log_y)
            g_snprintf (buf, sizeof buf, "%g", mant[m] * pow (10, v));
          else
            format_tick (buf, sizeof buf, v, step);
          show_text (cr, f.left - 6, yy, buf, 1, 0.5);
        }
    step = nice_step (f.x1 - f.x0, (int) MAX (2, (f.right - f.left) / 90));
    if (step < 1 && f.x1 - f.x0 >= 1)
      step = 1;
    for (double v = ceil (f.x0 / step) * step; v <= f.x1 + 1e-9; v += step)
      {
        double xx = round (cs_plot_px (&f, v)) + 0.5;
        cairo_set_source_rgba (cr, fg, fg, fg, 0.12);
        cairo_move_to (cr, xx, f.top);
        cairo_line_to (cr, xx, f.bottom);
        cairo_stroke (cr);
        cairo_set_source_rgba (cr, fg, fg, fg, 0.75);
        format_tick (buf, sizeof buf, v, step);
        show_text (cr, xx, f.bottom + 6, buf, 0.5, 0);
      }
  }

  /* Marks across the plot (where each epoch ended), under the curves. */
  if (self->marks != NULL && self->marks->len > 0)
    {
      cairo_set_source_rgba (cr, fg, fg, fg, 0.28);
      cairo_set_line_width (cr, 1);
      cairo_save (cr);
      {
        static const double dash[] = { 3, 3 };
        cairo_set_dash (cr, dash, 2, 0);
      }
      for (guint i = 0; i < self->marks->len; i++)
        {
          double v = g_array_index (self->marks, double, i);
          if (v > f.x0 && v < f.x1)
            {
              double xx = round (cs_plot_px (&f, v)) + 0.5;
              cairo_move_to (cr, xx, f.top);
              cairo_line_to (cr, xx, f.bottom);
            }
        }
      cairo_stroke (cr);
      cairo_restore (cr);
    }

  /* Axes and their labels. */
  cairo_set_source_rgba (cr, fg, fg, fg, 0.6);
  cairo_move_to (cr, f.left + 0.5, f.top);
  cairo_line_to (cr, f.left + 0.5, f.bottom + 0.5);
  cairo_line_to (cr, f.right, f.bottom + 0.5);
  cairo_stroke (cr);
  cairo_set_source_rgba (cr, fg, fg, fg, 0.85);
  if (self->x_label)
    show_text (cr, (f.left + f.right) / 2, height - 4, self->x_label, 0.5, 1);
  if (self->y_label)
    {
      g_autofree char *label = self->log_y ? g_strdup_printf ("%s (log scale)", self->y_label) : g_strdup (self->y_label);
      cairo_save (cr);
      cairo_translate (cr, 12, (f.top + f.bottom) / 2);
      cairo_rotate (cr, -G_PI / 2);
      show_text (cr, 0, 0, label, 0.5, 0.5);
      cairo_restore (cr);
    }

  if (f.empty)
    {
      cairo_set_source_rgba (cr, fg, fg, fg, 0.5);
      show_text (cr, (f.left + f.right) / 2, (f.top + f.bottom) / 2, "No data yet", 0.5, 0.5);
    }

  /* The curves: raw (faint when smoothed), then smoothed. */
  cairo_save (cr);
  cairo_rectangle (cr, f.left, f.top - 4, f.right - f.left + 4, f.bottom - f.top + 8);
  cairo_clip (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_BEVEL);
  for (guint s = 0; s < self->series->len; s++)
    {
      Series *se = g_ptr_array_index (self->series, s);
      guint n = se->x->len;
      const double *xs = (const double *) se->x->data, *ys = (const double *) se->y->data;
      gboolean smoothed = self->smoothing > 0 && n > 2 && !se->points;
      gboolean dense = n > 2 * (f.right - f.left);

      if (n == 0)
        continue;
      for (int pass = smoothed ? 0 : 1; pass < 2; pass++)
        {
          const double *yv = ys;

          if (pass == 1 && smoothed)
            {
              /* Smoothed once per change of the points or the weight, not per frame. */
              if (se->smoothed == NULL || se->smoothed_weight != self->smoothing)
                {
                  g_free (se->smoothed);
                  se->smoothed = g_new (double, n);
                  se->smoothed_weight = self->smoothing;
                  smooth (ys, n, self->smoothing, se->smoothed);
                }
              yv = se->smoothed;
            }
          cairo_set_source_rgba (cr, se->color.red, se->color.green, se->color.blue, pass == 0 ? 0.25 : 1.0);
          cairo_set_line_width (cr, pass == 0 ? 1.0 : 2.0);
          /* More points than pixels: the raw curve is its column envelope
           * (faint under a smoothed one), with a line through it when alone;
           * fewer, it is simply the line through them. */
          if (dense && (pass == 0 || !smoothed))
            draw_columns (self, &f, cr, xs, yv, n, TRUE);
          if (pass == 1 || !dense)
            draw_columns (self, &f, cr, xs, yv, n, FALSE);
          if (pass == 1 && (self->markers || se->points))
            for (guint i = 0; i < n; i++)
              if (isfinite (yv[i]))
                {
                  cairo_arc (cr, cs_plot_px (&f, xs[i]), cs_plot_py (&f, cs_plot_ty (self, yv[i])), 3.5, 0, 2 * G_PI);
                  cairo_fill (cr);
                }
        }
    }
  cairo_restore (cr);

  /* Legend: a swatch and the run's name, in the corner that hides the fewest points. */
  if (self->series->len > 0)
    {
      double lw = 0, lh = 18 * self->series->len + 8, lx, ly;
      for (guint s = 0; s < self->series->len; s++)
        {
          cairo_text_extents_t ext;
          cairo_text_extents (cr, ((Series *) g_ptr_array_index (self->series, s))->name, &ext);
          lw = MAX (lw, ext.x_advance);
        }
      lw += 40;
      legend_corner (self, &f, lw, lh, &lx, &ly);
      cairo_set_source_rgba (cr, dark ? 0.15 : 1, dark ? 0.15 : 1, dark ? 0.15 : 1, 0.85);
      cairo_rectangle (cr, lx, ly, lw, lh);
      cairo_fill (cr);
      for (guint s = 0; s < self->series->len; s++)
        {
          Series *se = g_ptr_array_index (self->series, s);
          double yy = ly + 13 + 18 * s;
          cairo_set_source_rgb (cr, se->color.red, se->color.green, se->color.blue);
          cairo_set_line_width (cr, 3);
          cairo_move_to (cr, lx + 8, yy);
          cairo_line_to (cr, lx + 28, yy);
          cairo_stroke (cr);
          cairo_set_source_rgb (cr, fg, fg, fg);
          show_text (cr, lx + 34, yy, se->name, 0, 0.5);
        }
    }

  /* Hover read-out: the nearest point, marked, with its values. */
  if (self->readout != NULL && self->hover_series >= 0)
    {
      Series *se = g_ptr_array_index (self->series, self->hover_series);
      cairo_text_extents_t ext;
      double bx, by;

      cairo_set_source_rgb (cr, se->color.red, se->color.green, se->color.blue);
      cairo_arc (cr, self->hover_px, self->hover_py, 5, 0, 2 * G_PI);
      cairo_fill (cr);
      cairo_text_extents (cr, self->readout, &ext);
      bx = CLAMP (self->hover_px + 10, f.left, width - ext.x_advance - 14);
      by = CLAMP (self->hover_py - 28, 2, height - 24);
      cairo_set_source_rgba (cr, dark ? 0.1 : 0.98, dark ? 0.1 : 0.98, dark ? 0.1 : 0.98, 0.95);
      cairo_rectangle (cr, bx, by, ext.x_advance + 12, 20);
      cairo_fill (cr);
      cairo_set_source_rgb (cr, se->color.red, se->color.green, se->color.blue);
      cairo_set_line_width (cr, 1);
      cairo_rectangle (cr, bx + 0.5, by + 0.5, ext.x_advance + 11, 19);
      cairo_stroke (cr);
      cairo_set_source_rgb (cr, fg, fg, fg);
      show_text (cr, bx + 6, by + 10, self->readout, 0, 0.5);
    }
  cairo_restore (cr);
}
