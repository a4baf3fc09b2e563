/* A line plot drawn with cairo: axes, ticks, legend, hover read-out, honest smoothing, log scale; exportable. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CS_TYPE_PLOT (cs_plot_get_type ())

G_DECLARE_FINAL_TYPE (CsPlot, cs_plot, CS, PLOT, GtkWidget)

CsPlot     *cs_plot_new                (void) G_GNUC_WARN_UNUSED_RESULT;
void        cs_plot_set_title          (CsPlot        *self,
                                        const char    *title);
void        cs_plot_set_axis_labels    (CsPlot        *self,
                                        const char    *x_label,
                                        const char    *y_label);
void        cs_plot_set_y_unit         (CsPlot        *self,
                                        const char    *unit);
void        cs_plot_clear              (CsPlot        *self);
guint       cs_plot_add_series         (CsPlot        *self,
                                        const char    *name,
                                        const GdkRGBA *color);
void        cs_plot_set_points         (CsPlot        *self,
                                        guint          series,
                                        const double  *x,
                                        const double  *y,
                                        guint          n);
guint       cs_plot_get_n_series       (CsPlot        *self);
/* Draws @series as dots joined by a line, unsmoothed (a few per-epoch values among per-batch ones). */
void        cs_plot_set_series_points  (CsPlot        *self,
                                        guint          series,
                                        gboolean       points);
/* A series' legend name and colour. */
const char *cs_plot_get_series_name    (CsPlot        *self,
                                        guint          series);
void        cs_plot_get_series_color   (CsPlot        *self,
                                        guint          series,
                                        GdkRGBA       *color);
guint       cs_plot_get_n_points       (CsPlot        *self,
                                        guint          series);
void        cs_plot_set_log_y          (CsPlot        *self,
                                        gboolean       log_y);
/* Faint dashed vertical lines at @xs (the curves' epoch ends). */
void        cs_plot_set_marks          (CsPlot        *self,
                                        const double  *xs,
                                        guint          n);
guint       cs_plot_get_n_marks        (CsPlot        *self);
/* The y axis from @min to @max: always when @fixed, else only while the plot
 * has no points (then it zooms to them). The default is 0 to 1, not fixed. */
void        cs_plot_set_y_range        (CsPlot        *self,
                                        double         min,
                                        double         max,
                                        gboolean       fixed);
/* The y axis as drawn (its data units), padding included. */
void        cs_plot_get_shown_y_range  (CsPlot        *self,
                                        double        *min,
                                        double        *max);
/* TensorBoard's debiased EMA weight in [0, 1); the raw curve stays, faint. */
void        cs_plot_set_smoothing      (CsPlot        *self,
                                        double         weight);
void        cs_plot_set_markers        (CsPlot        *self,
                                        gboolean       markers);
/* A text for the hovered point, or NULL. */
const char *cs_plot_get_readout        (CsPlot        *self);
void        cs_plot_hover              (CsPlot        *self,
                                        double         x,
                                        double         y);

/* The same drawing on any cairo context (the widget's, or a file's). */
void        cs_plot_draw               (CsPlot        *self,
                                        cairo_t       *cr,
                                        double         width,
                                        double         height,
                                        gboolean       dark);
/* PNG, SVG or PDF by the file's extension. */
gboolean    cs_plot_export             (CsPlot        *self,
                                        const char    *path,
                                        int            width,
                                        int            height,
                                        GError       **error);

/* The colours runs get, in order. */
void        cs_plot_palette_color      (guint          index,
                                        GdkRGBA       *color);

G_END_DECLS
