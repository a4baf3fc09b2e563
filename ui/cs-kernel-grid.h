/* Every Conv2d layer's kernels as a grid of small colour-mapped images, with hover and click. */
#pragma once

#include <gtk/gtk.h>

#include "nn/cs-model.h"
#include "render/cs-render.h"

G_BEGIN_DECLS

#define CS_TYPE_KERNEL_GRID (cs_kernel_grid_get_type ())

G_DECLARE_FINAL_TYPE (CsKernelGrid, cs_kernel_grid, CS, KERNEL_GRID, GtkWidget)

CsKernelGrid *cs_kernel_grid_new        (void) G_GNUC_WARN_UNUSED_RESULT;
/* Copies @params (the model's parameter buffer for @spec); NULL clears. */
void          cs_kernel_grid_set_weights (CsKernelGrid  *self,
                                          const CsSpec  *spec,
                                          const float   *params);
void          cs_kernel_grid_set_scale  (CsKernelGrid  *self,
                                         CsKernelScale  scale);
const char   *cs_kernel_grid_get_readout (CsKernelGrid *self);
/* Hover at widget coordinates (tests use it as the pointer would). */
void          cs_kernel_grid_hover      (CsKernelGrid  *self,
                                         double         x,
                                         double         y);
/* The enlarged kernel with its values, after a click on it (NULL if none). */
char         *cs_kernel_grid_describe_selected (CsKernelGrid *self) G_GNUC_WARN_UNUSED_RESULT;
void          cs_kernel_grid_select_at  (CsKernelGrid  *self,
                                         double         x,
                                         double         y);
gboolean      cs_kernel_grid_export     (CsKernelGrid  *self,
                                         const char    *path,
                                         GError       **error);
guint         cs_kernel_grid_get_n_kernels (CsKernelGrid *self);

G_END_DECLS
