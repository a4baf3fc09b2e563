/* Inside a run: the record it keeps as run.json, the object's fields, and the
 * calls between the object (cs-run.c, main thread) and its training thread
 * (cs-run-thread.c). Not for the app; tests and fuzz targets use the record. */
#pragma once

#include <glib.h>

#include "train/cs-run.h"

G_BEGIN_DECLS

/* What run.json holds. */
typedef struct
{
  char          *id;
  char          *name;
  char          *model;
  char          *spec_text;
  char          *dataset;
  char          *data_dir;
  CsHyperParams  hp;
  CsRunState     state;
  char          *message;
  gint64         created;        /* unix seconds */
  gint64         started;
  gint64         ended;
  double         train_seconds;
  gsize          n_params;
  GArray        *epochs;         /* of CsEpochResult */
  GArray        *loss;           /* of CsLossPoint */
  guint          loss_stride;
  double         loss_acc;
  guint          loss_acc_n;
  int            at_epoch;       /* where a stopped run stopped */
  int            at_batch;
} CsRunRecord;

CsRunRecord *cs_run_record_new       (void);
CsRunRecord *cs_run_record_copy      (const CsRunRecord *src);
void         cs_run_record_free      (CsRunRecord       *r);
/* Appends one batch's loss; a long run's curve is kept at a lower resolution. */
void         cs_run_record_add_loss  (CsRunRecord       *r,
                                      double             step,
                                      double             loss);
char        *cs_run_record_to_json   (const CsRunRecord *r) G_GNUC_WARN_UNUSED_RESULT;
CsRunRecord *cs_run_record_from_json (const char        *text,
                                      gsize              len,
                                      const char        *path,
                                      GError           **error);
/* @dir/run.json, replaced atomically. */
gboolean     cs_run_record_write     (const CsRunRecord *r,
                                      const char        *dir,
                                      GError           **error);
/* Parses @text as run.json would be, and checks its spec; nothing is kept. */
gboolean     cs_run_record_check     (const char        *text,
                                      gsize              len,
                                      const char        *path,
                                      GError           **error);

/* cs-run-export.c: what a checkpoint of the run carries (string to string). */
GHashTable  *cs_run_record_checkpoint_metadata (const CsRunRecord *r,
                                                const CsSpec      *spec) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsRunRecord, cs_run_record_free)

/* The state one training thread shares with its run (cs-run-thread.c). */
typedef struct _CsRunThread CsRunThread;

struct _CsRun
{
  GObject      parent_instance;

  CsRunRecord *record;
  char        *dir;
  CsSpec      *spec;

  CsRunThread *thread_state;
  GThread     *thread;
  int          snapshot_every;

  /* Live progress, as last delivered on the main context. */
  int          epoch;
  int          batch;
  int          n_batches;
  double       samples_per_sec;
  double       running_loss;
  CsSnapshot  *snapshot;
};

/* cs-run.c: what the training thread's events do to the run, on its context. */
void         cs_run_update_state     (CsRun               *self,
                                      CsRunState           state,
                                      const char          *message);
void         cs_run_add_epoch        (CsRun               *self,
                                      const CsEpochResult *result,
                                      double               train_seconds);
void         cs_run_emit_progress    (CsRun               *self);
void         cs_run_take_snapshot    (CsRun               *self,
                                      CsSnapshot          *snapshot);
void         cs_run_emit_evaluated   (CsRun               *self,
                                      const CsEpochResult *result);

/* cs-run-thread.c: a run dropped while it trains tells its thread to stop. */
void         cs_run_thread_abandon   (CsRunThread         *thread);
/* The thread writes run.json while it lives: a rename goes through it. */
void         cs_run_thread_rename    (CsRunThread         *thread,
                                      const char          *name);

G_END_DECLS
