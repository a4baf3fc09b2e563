/* One image through the network: the input, every layer's output as colour-mapped maps or bars, the probabilities. */
#pragma once

#include <gtk/gtk.h>

#include "nn/cs-model.h"

G_BEGIN_DECLS

#define CS_TYPE_FEATURE_MAPS (cs_feature_maps_get_type ())

G_DECLARE_FINAL_TYPE (CsFeatureMaps, cs_feature_maps, CS, FEATURE_MAPS, GtkWidget)

CsFeatureMaps *cs_feature_maps_new          (void) G_GNUC_WARN_UNUSED_RESULT;
/* The weights (copied); the activations are recomputed for the current image. */
void           cs_feature_maps_set_weights  (CsFeatureMaps *self,
                                             const CsSpec  *spec,
                                             const float   *params);
void           cs_feature_maps_set_image    (CsFeatureMaps *self,
                                             const float   *image,
                                             const char    *label);
/* Layer @i's output for the current image (numel of its shape), or NULL. */
const float   *cs_feature_maps_get_activation (CsFeatureMaps *self,
                                               guint          i);
const float   *cs_feature_maps_get_probabilities (CsFeatureMaps *self);
gboolean       cs_feature_maps_export       (CsFeatureMaps *self,
                                             const char    *path,
                                             GError       **error);

G_END_DECLS
