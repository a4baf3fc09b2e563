/* Cairo drawings of what a network holds: conv kernels and feature maps. Used by the views and by `convscope render`. */
#pragma once

#include <cairo.h>
#include <glib.h>

#include "nn/cs-model.h"

G_BEGIN_DECLS

typedef enum
{
  CS_SCALE_PER_LAYER,
  CS_SCALE_PER_KERNEL,
} CsKernelScale;

/* Where a kernel was drawn, for hover and click. */
typedef struct
{
  guint  layer;       /* index in the spec */
  int    out_ch;
  int    in_ch;
  double x, y;        /* top-left */
  double pixel;       /* size of one weight */
  int    kh, kw;
} CsKernelCell;

/* The diverging colour map (blue, white, red) at t in [-1, 1]. */
void    cs_colormap_diverging   (double     t,
                                 double    *r,
                                 double    *g,
                                 double    *b);

/* Draws every Conv2d layer's kernels; returns the height used. @cells (may be
 * NULL) receives a CsKernelCell per kernel. With @cr NULL it only measures. */
double  cs_render_kernels       (cairo_t       *cr,
                                 const CsSpec  *spec,
                                 const float   *params,
                                 const CsModel *layout_model,
                                 CsKernelScale  scale,
                                 double         width,
                                 gboolean       dark,
                                 GArray        *cells);

/* Draws the input and every layer's output for one image; returns the height
 * used. @activations[i] is layer i's output (numel of its shape); @proba the
 * class probabilities (may be NULL). With @cr NULL it only measures. */
double  cs_render_feature_maps  (cairo_t            *cr,
                                 const CsSpec       *spec,
                                 const float        *input,
                                 const char         *input_label,
                                 const float *const *activations,
                                 const float        *proba,
                                 int                 n_classes,
                                 double              width,
                                 gboolean            dark);

/* Either drawing into a PNG, SVG or PDF file (by extension), sized to fit. */
typedef double (*CsRenderFunc) (cairo_t *cr,
                                double   width,
                                gpointer data);
gboolean cs_render_to_file      (const char    *path,
                                 double         width,
                                 CsRenderFunc   func,
                                 gpointer       data,
                                 GError       **error);

G_END_DECLS
