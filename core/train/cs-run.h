/* A training run: its settings, state and history, kept on disk, trained on its own thread. */
#pragma once

#include <gio/gio.h>

#include "base/cs-atomic-file.h"
#include "data/cs-dataset.h"
#include "spec/cs-spec.h"
#include "train/cs-trainer.h"

G_BEGIN_DECLS

/* A run.json larger than this is not one Convscope wrote (10,000 epochs take about 2 MB). */
#define CS_RUN_RECORD_MAX_BYTES ((guint64) 64 * 1024 * 1024)

typedef enum
{
  CS_RUN_QUEUED,
  CS_RUN_RUNNING,
  CS_RUN_PAUSED,
  CS_RUN_FINISHED,
  CS_RUN_STOPPED,
  CS_RUN_FAILED,
} CsRunState;

/* The mean train loss of `stride` consecutive batches, ending at global batch `step` (1-based). */
typedef struct
{
  double step;
  float  loss;
} CsLossPoint;

/* Weights and the probe image's activations at one moment of training. Immutable, shared. */
typedef struct
{
  gatomicrefcount  ref_count;
  int              epoch;
  int              batch;
  gint64           step;          /* global batch count */
  gsize            n_params;      /* cs_model_n_values (): the weights, then the state */
  float           *params;        /* the model's parameter buffer (see cs_model_tensor) */
  guint            n_layers;
  float          **activations;   /* per layer, numel(layer out shape), batch of one */
  float           *probe;         /* the probe image, numel(input) */
  int              probe_label;
} CsSnapshot;

CsSnapshot  *cs_snapshot_ref   (CsSnapshot *self);
void         cs_snapshot_unref (CsSnapshot *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsSnapshot, cs_snapshot_unref)

/* What a run is made from: the model, the data and how it trains. Owns its
 * fields; cs_run_settings_clear() frees them. */
typedef struct
{
  char          *name;       /* shown in lists; NULL: the model's */
  char          *model;      /* a preset's name, a spec file, or "custom" */
  CsSpec        *spec;
  CsHyperParams  hp;
  char          *dataset;    /* "mnist", "fashion-mnist" */
  char          *data_dir;   /* NULL: where the dataset is found */
} CsRunSettings;

/* A preset as the notebook trains it, on MNIST, named by its title. */
gboolean         cs_run_settings_init_preset (CsRunSettings *self,
                                              const char    *model,
                                              GError       **error);
void             cs_run_settings_clear       (CsRunSettings *self);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CsRunSettings, cs_run_settings_clear)

#define CS_TYPE_RUN (cs_run_get_type ())

G_DECLARE_FINAL_TYPE (CsRun, cs_run, CS, RUN, GObject)

const char      *cs_run_state_to_string     (CsRunState state);
gboolean         cs_run_state_is_live       (CsRunState state);

/* A new run in @runs_dir/<id>/ (created, run.json written). */
CsRun           *cs_run_new                 (const char          *runs_dir,
                                             const CsRunSettings *settings,
                                             GError             **error) G_GNUC_WARN_UNUSED_RESULT;
/* A run from its directory's run.json; a run that was live in a process that
 * is gone is reported as stopped (interrupted). */
CsRun           *cs_run_load                (const char          *run_dir,
                                             GError             **error) G_GNUC_WARN_UNUSED_RESULT;

const char      *cs_run_get_id              (CsRun *self);
const char      *cs_run_get_name            (CsRun *self);
const char      *cs_run_get_dir             (CsRun *self);
const char      *cs_run_get_model           (CsRun *self);
const char      *cs_run_get_dataset         (CsRun *self);
const char      *cs_run_get_data_dir        (CsRun *self);
const CsSpec    *cs_run_get_spec            (CsRun *self);
const CsHyperParams *cs_run_get_hyper_params (CsRun *self);
CsRunState       cs_run_get_state           (CsRun *self);
const char      *cs_run_get_message         (CsRun *self);
gint64           cs_run_get_created         (CsRun *self);
double           cs_run_get_train_seconds   (CsRun *self);
gsize            cs_run_get_n_params        (CsRun *self);
char            *cs_run_get_checkpoint_path (CsRun *self) G_GNUC_WARN_UNUSED_RESULT;

/* History */
guint            cs_run_get_n_epochs        (CsRun *self);
const CsEpochResult *cs_run_get_epoch       (CsRun *self,
                                             guint  i);
const CsLossPoint *cs_run_get_loss_points   (CsRun *self,
                                             guint *n_points);

/* Live progress */
int              cs_run_get_current_epoch   (CsRun *self);
int              cs_run_get_current_batch   (CsRun *self);
int              cs_run_get_n_batches       (CsRun *self);
double           cs_run_get_samples_per_sec (CsRun *self);
double           cs_run_get_running_loss    (CsRun *self);
CsSnapshot      *cs_run_get_snapshot        (CsRun *self);

/* Training: the caller never blocks; events arrive on the thread-default
 * main context of the caller of cs_run_start(). */
void             cs_run_set_snapshot_interval (CsRun *self,
                                               int    batches);
gboolean         cs_run_start               (CsRun     *self,
                                             CsDataset *data,
                                             GError   **error);
void             cs_run_pause               (CsRun *self);
void             cs_run_resume              (CsRun *self);
void             cs_run_stop                (CsRun *self);
void             cs_run_evaluate_now        (CsRun *self);
/* Blocks until the training thread has ended (tests, shutdown). */
void             cs_run_join                (CsRun *self);

/* How many training threads are alive in this process. */
guint            cs_run_n_active_threads    (void);

gboolean         cs_run_save                (CsRun   *self,
                                             GError **error);

/* The run's history as CSV rows (no header); cs_run_csv_header() gives the header. */
const char      *cs_run_csv_header          (void);
void             cs_run_append_csv          (CsRun   *self,
                                             GString *out);

/* Renames the run (1 to 200 characters, trimmed), in run.json at once or,
 * while it trains, at its thread's next write. */
gboolean         cs_run_set_name            (CsRun              *self,
                                             const char         *name,
                                             GError            **error);
/* Its settings in a few lines, for a tooltip: the model, data, optimizer,
 * learning rate, batch, epochs, seed, threads, when it started, its message. */
char            *cs_run_describe_settings   (CsRun              *self) G_GNUC_WARN_UNUSED_RESULT;

/* What a live run's progress line may hold besides its epoch. */
typedef enum
{
  CS_RUN_PROGRESS_EPOCH = 0,
  CS_RUN_PROGRESS_BATCH = 1 << 0,   /* batch b/n of the epoch */
  CS_RUN_PROGRESS_SPEED = 1 << 1,   /* samples per second */
  CS_RUN_PROGRESS_ETA   = 1 << 2,   /* the time left, m:ss */
} CsRunProgressFlags;

/* Where a live run is, counted as people count (epoch 1 is the first):
 * "epoch 2/5 · batch 340/600 · 2310 samples/s · ETA 1:05"; "starting…"
 * before its first batch. Every view and the CLI say it this way. A run that
 * is not live gives NULL. */
char            *cs_run_format_progress     (CsRun              *self,
                                             CsRunProgressFlags  flags) G_GNUC_WARN_UNUSED_RESULT;
/* How much of its training a run has done, from 0 to 1. */
double           cs_run_get_fraction_done   (CsRun              *self);

/* Every run's history as one CSV text, the header first (*len: its length). */
char            *cs_runs_to_csv             (CsRun * const *runs,
                                             guint          n_runs,
                                             gsize         *len) G_GNUC_WARN_UNUSED_RESULT;
/* What a checkpoint of the run carries in its metadata: the spec, the model,
 * the run's id, data set and training settings, its last test accuracy. */
GHashTable      *cs_run_checkpoint_metadata (CsRun         *self) G_GNUC_WARN_UNUSED_RESULT;
/* The run's newest weights (a live run's last snapshot, else its checkpoint)
 * saved to @path as safetensors with cs_run_checkpoint_metadata(). */
gboolean         cs_run_save_weights        (CsRun         *self,
                                             const char    *path,
                                             CsWriteFlags   flags,
                                             GError       **error);

G_END_DECLS
