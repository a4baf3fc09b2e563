/* The line above the views: what the selection is doing, with a live run's progress. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CS_TYPE_STATUS_BAR (cs_status_bar_get_type ())

G_DECLARE_FINAL_TYPE (CsStatusBar, cs_status_bar, CS, STATUS_BAR, GtkWidget)

CsStatusBar *cs_status_bar_new      (void) G_GNUC_WARN_UNUSED_RESULT;
/* Shows @items (CsRun or CsLoadedModel; NULL or empty: none selected), with
 * the progress of @live (a live run among them, or NULL). */
void         cs_status_bar_update   (CsStatusBar *self,
                                     GPtrArray   *items,
                                     GObject     *live);
const char  *cs_status_bar_get_text (CsStatusBar *self);

G_END_DECLS
