/* The main window. */
#pragma once

#include <gtk/gtk.h>

#include "cs-compare-view.h"
#include "cs-curves-view.h"
#include "cs-draw-view.h"
#include "cs-inside-view.h"
#include "train/cs-run-store.h"
#include "cs-summary-view.h"

G_BEGIN_DECLS

#define CS_TYPE_WINDOW (cs_window_get_type ())

G_DECLARE_FINAL_TYPE (CsWindow, cs_window, CS, WINDOW, GtkApplicationWindow)

CsWindow      *cs_window_new              (GtkApplication *application) G_GNUC_WARN_UNUSED_RESULT;
CsRunStore    *cs_window_get_run_store    (CsWindow       *self);
CsCurvesView  *cs_window_get_curves_view  (CsWindow       *self);
CsCompareView *cs_window_get_compare_view (CsWindow       *self);
CsSummaryView *cs_window_get_summary_view (CsWindow       *self);
CsInsideView  *cs_window_get_inside_view  (CsWindow       *self);
CsDrawView    *cs_window_get_draw_view    (CsWindow       *self);
GtkStack      *cs_window_get_views        (CsWindow       *self);
/* Item @i of the sidebar (a CsRun or a CsLoadedModel), or NULL. */
GObject       *cs_window_get_sidebar_item (CsWindow       *self,
                                           guint           i) G_GNUC_WARN_UNUSED_RESULT;
guint          cs_window_get_n_sidebar_items (CsWindow    *self);
const char    *cs_window_get_status_text  (CsWindow       *self);
CsDataset     *cs_window_get_mnist        (CsWindow       *self);

void           cs_window_show_message     (CsWindow       *self,
                                           const char     *message,
                                           gboolean        is_error);
const char    *cs_window_get_message      (CsWindow       *self);
void           cs_window_select           (CsWindow       *self,
                                           GObject       **items,
                                           guint           n);
CsRun         *cs_window_start_run        (CsWindow            *self,
                                           const CsRunSettings *settings,
                                           GError             **error);
gboolean       cs_window_open_checkpoint  (CsWindow       *self,
                                           const char     *path,
                                           GError        **error);
gboolean       cs_window_save_selected    (CsWindow       *self,
                                           const char     *path,
                                           GError        **error);
gboolean       cs_window_export_csv       (CsWindow       *self,
                                           const char     *path,
                                           GError        **error);

G_END_DECLS
