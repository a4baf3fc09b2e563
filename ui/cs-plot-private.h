/* Inside the plot widget: shared by cs-plot.c (the widget) and cs-plot-draw.c (its drawing). */
#pragma once

#include "cs-plot.h"

G_BEGIN_DECLS

typedef struct
{
  char    *name;
  GdkRGBA  color;
  GArray  *x;    /* double */
  GArray  *y;
  double  *smoothed;        /* y smoothed with smoothed_weight, or NULL: made when drawn */
  gboolean points;          /* drawn as dots on a line, never smoothed (a few per-epoch values) */
  double   smoothed_weight;
} Series;

struct _CsPlot
{
  GtkWidget  parent_instance;

  char      *title;
  char      *x_label;
  char      *y_label;
  char      *y_unit;
  GPtrArray *series;
  gboolean   log_y;
  gboolean   markers;
  double     smoothing;
  double     range_y0, range_y1;       /* the y axis while empty, or always when fixed */
  GArray    *marks;                    /* double: x positions drawn as faint vertical lines (epoch ends) */
  gboolean   range_fixed;

  /* The last frame as an image, drawn again only when something changed:
   * GTK 4.8's cairo renderer repaints the whole window on X11 whenever any
   * widget changes (a status line 30 times a second), and replaying a plot's
   * thousands of path vertices each time cost the UI thread ~40 % of a core. */
  guint64          version;
  guint64          cached_version;
  cairo_surface_t *cached;
  int              cached_w, cached_h, cached_scale;
  gboolean         cached_dark;

  /* hover */
  gboolean   hovering;
  double     hover_x;
  double     hover_y;
  char      *readout;
  int        hover_series;
  double     hover_px;
  double     hover_py;
};

typedef struct
{
  double left, right, top, bottom;     /* plot area in pixels */
  double x0, x1, y0, y1;               /* data range (y in log10 when log_y) */
  gboolean empty;
} Frame;

/* The y value as drawn (log10 on a log axis). */
double cs_plot_ty            (CsPlot       *self,
                              double        v);
/* The frame of a @width x @height plot and the data range it shows. */
Frame  cs_plot_compute_frame (CsPlot       *self,
                              double        width,
                              double        height);
double cs_plot_px            (const Frame  *f,
                              double        x);
double cs_plot_py            (const Frame  *f,
                              double        y);

G_END_DECLS
