/* torchinfo's table for the selected run's model, with totals and the memory really allocated. */
#pragma once

#include <gtk/gtk.h>

#include "spec/cs-spec.h"
#include "train/cs-trainer.h"

G_BEGIN_DECLS

#define CS_TYPE_SUMMARY_VIEW (cs_summary_view_get_type ())

G_DECLARE_FINAL_TYPE (CsSummaryView, cs_summary_view, CS, SUMMARY_VIEW, GtkWidget)

void        cs_summary_view_set_model   (CsSummaryView       *self,
                                         const CsSpec        *spec,
                                         const char          *model_name,
                                         const CsHyperParams *hp);
guint       cs_summary_view_get_n_rows  (CsSummaryView       *self);
const char *cs_summary_view_get_totals  (CsSummaryView       *self);
/* The measured-memory lines under the totals. */
const char *cs_summary_view_get_memory  (CsSummaryView       *self);

G_END_DECLS
