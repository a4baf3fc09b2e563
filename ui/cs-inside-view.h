/* See inside the selected model: its conv kernels and the feature maps of an image, live while it trains. */
#pragma once

#include <gtk/gtk.h>

#include "data/cs-dataset.h"
#include "cs-feature-maps.h"
#include "cs-kernel-grid.h"

G_BEGIN_DECLS

#define CS_TYPE_INSIDE_VIEW (cs_inside_view_get_type ())

G_DECLARE_FINAL_TYPE (CsInsideView, cs_inside_view, CS, INSIDE_VIEW, GtkWidget)

/* A CsRun (its latest snapshot, else its checkpoint) or a CsLoadedModel; NULL clears. */
void           cs_inside_view_set_item        (CsInsideView *self,
                                               GObject      *item,
                                               CsDataset    *data);
void           cs_inside_view_set_image       (CsInsideView *self,
                                               const float  *image,
                                               const char   *label);
CsKernelGrid  *cs_inside_view_get_kernels     (CsInsideView *self);
CsFeatureMaps *cs_inside_view_get_maps        (CsInsideView *self);
guint          cs_inside_view_get_n_updates   (CsInsideView *self);

/* Brings the feature maps page forward (the kernels page is the other). */
void          cs_inside_view_show_feature_maps (CsInsideView *self);
/* "kernels" or "maps". */
const char   *cs_inside_view_get_page          (CsInsideView *self);

G_END_DECLS
