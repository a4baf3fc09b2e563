/* What the window's files share: its fields and the calls between them. */
#pragma once

#include "cs-compare-view.h"
#include "cs-curves-view.h"
#include "cs-draw-view.h"
#include "cs-inside-view.h"
#include "cs-loaded-model.h"
#include "cs-status-bar.h"
#include "cs-summary-view.h"
#include "cs-window.h"
#include "data/cs-dataset.h"
#include "formats/cs-checkpoint.h"
#include "train/cs-run-store.h"

G_BEGIN_DECLS

struct _CsWindow
{
  GtkApplicationWindow  parent_instance;

  GtkHeaderBar         *header_bar;
  GtkRevealer          *banner;
  GtkWidget            *banner_box;
  GtkImage             *banner_icon;
  GtkLabel             *banner_label;
  GtkButton            *banner_close;
  GtkListView          *run_list;
  GtkStack             *main_stack;
  GtkStack             *views;
  CsStatusBar          *status_bar;
  GtkButton            *pause_button;
  GtkButton            *stop_button;
  CsCurvesView         *curves_view;
  CsCompareView        *compare_view;
  CsSummaryView        *summary_view;
  CsInsideView         *inside_view;
  CsDrawView           *draw_view;

  CsRunStore           *store;
  GListStore           *loaded;       /* CsLoadedModel */
  GtkMultiSelection    *selection;
  GPtrArray            *selected;     /* GObject: CsRun or CsLoadedModel */
  CsDataset            *mnist;
  CsDataset            *fashion;
  GPtrArray            *watched;      /* CsRun whose signals update the window */
  guint                 next_color;   /* the palette index the next item gets */
  guint                 status_source;  /* a status update waiting, at most 4 a second */
};

/* cs-window.c */
CsDataset *cs_window_get_dataset     (CsWindow    *self,
                                      const char  *name,
                                      const char  *dir,
                                      GError     **error);
/* The first live run of the selection, or NULL. */
CsRun     *cs_window_get_live_run    (CsWindow    *self);
void       cs_window_update_status   (CsWindow    *self);
void       cs_window_refresh_views   (CsWindow    *self);
/* Follows @run's progress and failures in the status bar and the banner. */
void       cs_window_watch_run       (CsWindow    *self,
                                      CsRun       *run);

/* cs-window-actions.c */
void       cs_window_add_actions     (CsWindow    *self);
/* The rename popover at @run's sidebar row. */
void       cs_window_rename_run      (CsWindow    *self,
                                      CsRun       *run);

/* cs-window-dnd.c */
void       cs_window_add_drop_target (CsWindow    *self);

G_END_DECLS
