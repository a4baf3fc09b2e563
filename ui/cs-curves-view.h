/* Test accuracy per epoch and train loss per batch for the selected runs, overlaid and live. */
#pragma once

#include <gtk/gtk.h>

#include "cs-plot.h"

G_BEGIN_DECLS

#define CS_TYPE_CURVES_VIEW (cs_curves_view_get_type ())

G_DECLARE_FINAL_TYPE (CsCurvesView, cs_curves_view, CS, CURVES_VIEW, GtkWidget)

/* @runs: CsRun (and CsLoadedModel, which have no curves) in colour order. */
void     cs_curves_view_set_items        (CsCurvesView *self,
                                          GPtrArray    *items);
CsPlot  *cs_curves_view_get_accuracy_plot (CsCurvesView *self);
CsPlot  *cs_curves_view_get_loss_plot    (CsCurvesView *self);

G_END_DECLS
