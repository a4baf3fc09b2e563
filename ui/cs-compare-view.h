/* Runs and checkpoints side by side: a table of figures, per-class accuracy, confusion matrices, mistakes. */
#pragma once

#include <gtk/gtk.h>

#include "data/cs-dataset.h"

G_BEGIN_DECLS

#define CS_TYPE_COMPARE_VIEW (cs_compare_view_get_type ())

G_DECLARE_FINAL_TYPE (CsCompareView, cs_compare_view, CS, COMPARE_VIEW, GtkWidget)

void   cs_compare_view_set_items     (CsCompareView *self,
                                      GPtrArray     *items,
                                      CsDataset     *data);
guint  cs_compare_view_get_n_columns (CsCompareView *self);
/* How many items have their evaluation (confusion, mistakes) shown. */
guint  cs_compare_view_get_n_evaluated (CsCompareView *self);

G_END_DECLS
