/* The runs directory as a list model of CsRun. */
#pragma once

#include <gio/gio.h>

#include "train/cs-run.h"

G_BEGIN_DECLS

#define CS_TYPE_RUN_STORE (cs_run_store_get_type ())

G_DECLARE_FINAL_TYPE (CsRunStore, cs_run_store, CS, RUN_STORE, GObject)

/* g_get_user_data_dir()/convscope/runs, so XDG_DATA_HOME moves it. */
char        *cs_default_runs_dir       (void) G_GNUC_WARN_UNUSED_RESULT;

CsRunStore  *cs_run_store_new          (const char   *dir) G_GNUC_WARN_UNUSED_RESULT;
const char  *cs_run_store_get_dir      (CsRunStore   *self);
/* Loads every run in the directory. A corrupt or foreign entry is skipped and
 * described in @warnings (strings); only an unreadable directory is an error. */
gboolean     cs_run_store_load         (CsRunStore   *self,
                                        GPtrArray   **warnings,
                                        GError      **error);
CsRun       *cs_run_store_create       (CsRunStore          *self,
                                        const CsRunSettings *settings,
                                        GError             **error);
/* A name for a run of @settings that tells it from the runs here: the model's
 * title, what differs from the notebook's settings for it ("LeNet-5 · lr 0.01
 * · seed 2"), then the time and a number if that is not enough. */
char        *cs_run_store_default_name (CsRunStore          *self,
                                        const CsRunSettings *settings) G_GNUC_WARN_UNUSED_RESULT;
/* By id, or by a unique prefix of one. */
CsRun       *cs_run_store_find         (CsRunStore   *self,
                                        const char   *id,
                                        GError      **error);
gboolean     cs_run_store_delete       (CsRunStore   *self,
                                        CsRun        *run,
                                        GError      **error);

G_END_DECLS
