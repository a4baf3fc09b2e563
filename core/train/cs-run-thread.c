/* A run's training thread: it drives a CsTrainer epoch by epoch, writes the
 * run's record and checkpoints, and posts events to the run's main context
 * (coalesced progress, newest-only snapshots, states and epochs in order). */

#define G_LOG_DOMAIN "cs-run"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cs-alloc.h"
#include "base/cs-sync.h"
#include "formats/cs-checkpoint.h"
#include "train/cs-run-private.h"

#define PROGRESS_INTERVAL   (G_USEC_PER_SEC / 30)


static gint n_active_threads;

/* What the run and its training thread share; the thread owns the rest. */
struct _CsRunThread
{
  gatomicrefcount  ref_count;
  GWeakRef         run;
  GMainContext    *context;

  /* Owned by the thread once started. */
  CsRunRecord       *record;
  char            *dir;
  CsSpec          *spec;
  CsDataset       *data;
  int              snapshot_every;

  GMutex           lock;
  GCond            cond;
  gboolean         pause_requested;
  gboolean         paused;
  gboolean         stop_requested;
  gboolean         eval_requested;
  char            *pending_name;     /* a rename from the main thread, for the next write */

  /* Progress, coalesced: at most one idle pending. */
  int              epoch;
  int              batch;
  int              n_batches;
  double           samples_per_sec;
  double           running_loss;
  GArray          *pending_losses;   /* of CsLossPoint, raw per batch */
  gboolean         progress_posted;
  gint64           last_progress;
  gint64           epoch_start;
  CsSnapshot      *pending_snapshot;
  gboolean         snapshot_posted;

  /* Thread-local training state */
  CsTrainer       *trainer;
  CsModel         *probe_model;
  int              lock_fd;
};

static CsRunThread *
run_thread_ref (CsRunThread *w)
{
  g_atomic_ref_count_inc (&w->ref_count);
  return w;
}

static void
run_thread_unref (CsRunThread *w)
{
  if (!cs_ref_count_dec (&w->ref_count))
    return;
  g_weak_ref_clear (&w->run);
  g_main_context_unref (w->context);
  cs_run_record_free (w->record);
  g_free (w->dir);
  cs_spec_free (w->spec);
  cs_dataset_unref (w->data);
  cs_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_clear_pointer (&w->pending_losses, g_array_unref);
  g_clear_pointer (&w->pending_snapshot, cs_snapshot_unref);
  g_free (w->pending_name);
  g_free (w);
}

guint
cs_run_n_active_threads (void)
{
  return (guint) g_atomic_int_get (&n_active_threads);
}

void
cs_run_thread_abandon (CsRunThread *w)
{
  cs_mutex_lock (&w->lock);
  w->stop_requested = TRUE;
  w->pause_requested = FALSE;
  g_cond_broadcast (&w->cond);
  cs_mutex_unlock (&w->lock);
  run_thread_unref (w);
}
/* ---- events: training thread -> main context ----------------------------- */

typedef enum
{
  EVENT_STATE,
  EVENT_EPOCH,
  EVENT_EVALUATED,
} EventKind;

typedef struct
{
  CsRunThread   *thread;
  EventKind      kind;
  CsRunState     state;
  char          *message;
  CsEpochResult  result;
  double         train_seconds;
  int            at_epoch;
  int            at_batch;
} Event;

static void
event_free (gpointer data)
{
  Event *ev = data;

  cs_tsan_acquire (ev);
  run_thread_unref (ev->thread);
  g_free (ev->message);
  g_free (ev);
}

/* Moves the coalesced progress into the run; returns whether there was any. */
static gboolean
drain_progress (CsRun       *self,
                CsRunThread *w)
{
  g_autoptr(GArray) losses = NULL;

  cs_mutex_lock (&w->lock);
  self->epoch = w->epoch;
  self->batch = w->batch;
  self->n_batches = w->n_batches;
  self->samples_per_sec = w->samples_per_sec;
  self->running_loss = w->running_loss;
  if (w->pending_losses->len > 0)
    {
      losses = w->pending_losses;
      w->pending_losses = g_array_new (FALSE, FALSE, sizeof (CsLossPoint));
    }
  w->progress_posted = FALSE;
  cs_mutex_unlock (&w->lock);

  if (losses != NULL)
    for (guint i = 0; i < losses->len; i++)
      {
        CsLossPoint *p = &g_array_index (losses, CsLossPoint, i);
        cs_run_record_add_loss (self->record, p->step, p->loss);
      }
  return losses != NULL;
}

static gboolean
progress_dispatch (gpointer data)
{
  CsRunThread *w = data;
  g_autoptr(CsRun) self = g_weak_ref_get (&w->run);

  if (self == NULL)
    {
      cs_mutex_lock (&w->lock);
      w->progress_posted = FALSE;
      g_array_set_size (w->pending_losses, 0);
      cs_mutex_unlock (&w->lock);
      return G_SOURCE_REMOVE;
    }
  drain_progress (self, w);
  cs_run_emit_progress (self);
  return G_SOURCE_REMOVE;
}

static gboolean
snapshot_dispatch (gpointer data)
{
  CsRunThread *w = data;
  g_autoptr(CsRun) self = g_weak_ref_get (&w->run);
  CsSnapshot *snap;

  cs_mutex_lock (&w->lock);
  snap = g_steal_pointer (&w->pending_snapshot);
  w->snapshot_posted = FALSE;
  cs_mutex_unlock (&w->lock);

  if (self == NULL || snap == NULL)
    {
      g_clear_pointer (&snap, cs_snapshot_unref);
      return G_SOURCE_REMOVE;
    }
  cs_run_take_snapshot (self, snap);
  return G_SOURCE_REMOVE;
}

static gboolean
event_dispatch (gpointer data)
{
  Event *ev = data;
  g_autoptr(CsRun) self = NULL;

  cs_tsan_acquire (ev);
  self = g_weak_ref_get (&ev->thread->run);

  if (self == NULL)
    return G_SOURCE_REMOVE;

  /* Progress that is still coalescing comes first, so events stay in order. */
  if (drain_progress (self, ev->thread))
    cs_run_emit_progress (self);

  switch (ev->kind)
    {
    case EVENT_STATE:
      self->record->train_seconds = ev->train_seconds;
      self->record->at_epoch = ev->at_epoch;
      self->record->at_batch = ev->at_batch;
      if (!cs_run_state_is_live (ev->state))
        self->record->ended = g_get_real_time () / G_USEC_PER_SEC;
      if (ev->state == CS_RUN_RUNNING && self->record->started == 0)
        self->record->started = g_get_real_time () / G_USEC_PER_SEC;
      cs_run_update_state (self, ev->state, ev->message);
      break;
    case EVENT_EPOCH:
      cs_run_add_epoch (self, &ev->result, ev->train_seconds);
      break;
    case EVENT_EVALUATED:
      cs_run_emit_evaluated (self, &ev->result);
      break;
    default:
      g_assert_not_reached ();
    }
  return G_SOURCE_REMOVE;
}

/*
 * Runs func (data) in the thread that iterates the run's main context, never
 * in the training thread. (g_main_context_invoke_full() is not that: when the
 * context is the global default and nobody holds it at that instant — the
 * CLI or a test between two iterations — it calls func right here, on the
 * training thread; ThreadSanitizer caught progress being merged from both.)
 */
static void
post_to_context (GMainContext  *context,
                 int            priority,
                 GSourceFunc    func,
                 gpointer       data,
                 GDestroyNotify notify)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, priority);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "[convscope] trainer event");
  g_source_attach (source, context);
  g_source_unref (source);
}

static void
post_event (CsRunThread *w,
            Event       *ev)
{
  ev->thread = run_thread_ref (w);
  cs_tsan_release (ev);
  post_to_context (w->context, G_PRIORITY_DEFAULT, event_dispatch, ev, event_free);
}

static void
post_state (CsRunThread *w,
            CsRunState   state,
            const char  *message)
{
  Event *ev = g_new0 (Event, 1);

  ev->kind = EVENT_STATE;
  ev->state = state;
  ev->message = g_strdup (message);
  ev->train_seconds = w->record->train_seconds;
  ev->at_epoch = w->record->at_epoch;
  ev->at_batch = w->record->at_batch;
  post_event (w, ev);
}

/* ---- the training thread ------------------------------------------------ */


/* Writes run.json; a failure (disk full, read-only) is told to the person
 * through the run's message, and training goes on: the previous file is intact. */
static void
thread_write_record (CsRunThread *w)
{
  g_autoptr(GError) error = NULL;

  cs_mutex_lock (&w->lock);
  if (w->pending_name != NULL)
    {
      g_free (w->record->name);
      w->record->name = g_steal_pointer (&w->pending_name);
    }
  cs_mutex_unlock (&w->lock);
  if (!cs_run_record_write (w->record, w->dir, &error))
    post_state (w, w->record->state, error->message);
}

void
cs_run_thread_rename (CsRunThread *w,
                      const char  *name)
{
  cs_mutex_lock (&w->lock);
  g_free (w->pending_name);
  w->pending_name = g_strdup (name);
  cs_mutex_unlock (&w->lock);
}

/* Whether the checkpoint was saved; if not, the person is told and *message
 * (when given) says why. */
static gboolean
thread_save_checkpoint (CsRunThread         *w,
                        const CsEpochResult *last,
                        char               **message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) meta = cs_run_record_checkpoint_metadata (w->record, w->spec);
  g_autofree char *path = g_build_filename (w->dir, "checkpoint.safetensors", NULL);

  if (!cs_checkpoint_save (path, cs_trainer_get_model (w->trainer), cs_trainer_get_optim (w->trainer), meta, &error))
    {
      if (message != NULL)
        *message = g_strdup (error->message);
      /* Training goes on; the person is told (the last good checkpoint stays). */
      Event *ev = g_new0 (Event, 1);
      ev->kind = EVENT_STATE;
      ev->state = CS_RUN_RUNNING;
      ev->message = g_strdup (error->message);
      ev->train_seconds = w->record->train_seconds;
      post_event (w, ev);
      g_debug ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

static CsSnapshot *
make_snapshot (CsRunThread *w,
               int          epoch,
               int          batch)
{
  CsModel *model = cs_trainer_get_model (w->trainer);
  const CsSpec *spec = cs_model_get_spec (model);
  CsSnapshot *snap = g_new0 (CsSnapshot, 1);
  gsize n_in = cs_shape_numel (spec->input);
  gint32 label;

  g_atomic_ref_count_init (&snap->ref_count);
  snap->epoch = epoch;
  snap->batch = batch;
  snap->step = (gint64) epoch * w->n_batches + batch + 1;
  snap->n_params = cs_model_n_values (model);
  snap->params = cs_alloc_floats (snap->n_params);
  memcpy (snap->params, cs_model_params (model), snap->n_params * sizeof (float));

  /* The probe: test image 0, through a private copy of the model so the
   * training buffers are not touched. */
  snap->probe = cs_alloc_floats (n_in);
  cs_data_split_first_to_float (&w->data->test, 0, 1, snap->probe, &label);
  snap->probe_label = label;
  memcpy (cs_model_params (w->probe_model), snap->params, snap->n_params * sizeof (float));
  cs_model_forward (w->probe_model, snap->probe, 1, FALSE, NULL);
  snap->n_layers = cs_spec_n_layers (spec);
  snap->activations = g_new0 (float *, snap->n_layers);
  for (guint i = 0; i < snap->n_layers; i++)
    {
      gsize n = cs_shape_numel (cs_spec_layer (spec, i)->out);
      snap->activations[i] = cs_alloc_floats (n);
      memcpy (snap->activations[i], cs_model_layer_output (w->probe_model, i), n * sizeof (float));
    }
  return snap;
}

static void
post_snapshot (CsRunThread *w,
               int          epoch,
               int          batch)
{
  CsSnapshot *snap = make_snapshot (w, epoch, batch);
  gboolean post;

  cs_mutex_lock (&w->lock);
  /* Only the newest waits: a slow main loop never queues a pile of copies. */
  g_clear_pointer (&w->pending_snapshot, cs_snapshot_unref);
  w->pending_snapshot = snap;
  post = !w->snapshot_posted;
  w->snapshot_posted = TRUE;
  cs_mutex_unlock (&w->lock);
  if (post)
    post_to_context (w->context, G_PRIORITY_DEFAULT_IDLE, snapshot_dispatch,
                     run_thread_ref (w), (GDestroyNotify) run_thread_unref);
}

static gboolean
batch_cb (int      epoch,
          int      batch,
          int      n_batches,
          double   loss,
          gpointer user_data)
{
  CsRunThread *w = user_data;
  gint64 now = g_get_monotonic_time ();
  gboolean post = FALSE, keep_going, eval;
  CsLossPoint point = { (double) epoch * n_batches + batch + 1, (float) loss };

  cs_run_record_add_loss (w->record, point.step, loss);

  cs_mutex_lock (&w->lock);
  if (batch == 0)
    w->epoch_start = now;
  w->epoch = epoch;
  w->batch = batch + 1;
  w->n_batches = n_batches;
  w->samples_per_sec = now > w->epoch_start
    ? (batch + 1) * (double) w->record->hp.batch_size / ((now - w->epoch_start) / 1e6) : 0;
  w->running_loss = batch == 0 ? loss : 0.95 * w->running_loss + 0.05 * loss;
  g_array_append_val (w->pending_losses, point);
  if (!w->progress_posted && now - w->last_progress >= PROGRESS_INTERVAL)
    {
      w->progress_posted = TRUE;
      w->last_progress = now;
      post = TRUE;
    }

  /* Pause at this batch boundary until resumed or stopped. */
  if (w->pause_requested && !w->stop_requested)
    {
      w->paused = TRUE;
      w->record->state = CS_RUN_PAUSED;
      w->record->at_epoch = epoch;
      w->record->at_batch = batch + 1;
      cs_mutex_unlock (&w->lock);
      thread_write_record (w);
      post_state (w, CS_RUN_PAUSED, NULL);
      /* A paused run leaves its share of the cores to the others. */
      cs_thread_pool_set_active (cs_trainer_get_thread_pool (w->trainer), FALSE);
      cs_mutex_lock (&w->lock);
      while (w->pause_requested && !w->stop_requested)
        cs_cond_wait (&w->cond, &w->lock);
      cs_mutex_unlock (&w->lock);
      cs_thread_pool_set_active (cs_trainer_get_thread_pool (w->trainer), TRUE);
      cs_mutex_lock (&w->lock);
      w->paused = FALSE;
      w->record->state = CS_RUN_RUNNING;
      cs_mutex_unlock (&w->lock);
      thread_write_record (w);
      post_state (w, CS_RUN_RUNNING, NULL);
      cs_mutex_lock (&w->lock);
      w->epoch_start = g_get_monotonic_time () - (gint64) ((batch + 1) * (double) w->record->hp.batch_size /
                                                           MAX (w->samples_per_sec, 1) * 1e6);
    }
  keep_going = !w->stop_requested;
  eval = w->eval_requested;
  w->eval_requested = FALSE;
  cs_mutex_unlock (&w->lock);

  if (post)
    post_to_context (w->context, G_PRIORITY_DEFAULT_IDLE, progress_dispatch,
                     run_thread_ref (w), (GDestroyNotify) run_thread_unref);

  if (eval && keep_going)
    {
      Event *ev = g_new0 (Event, 1);
      ev->kind = EVENT_EVALUATED;
      cs_evaluate (cs_trainer_get_model (w->trainer), &w->data->test, w->record->hp.batch_size, &ev->result);
      ev->result.epoch = epoch;
      post_event (w, ev);
    }
  if (keep_going && w->snapshot_every > 0 && (batch + 1) % w->snapshot_every == 0)
    post_snapshot (w, epoch, batch);

  if (!keep_going)
    {
      w->record->at_epoch = epoch;
      w->record->at_batch = batch + 1;
    }
  return keep_going;
}

static gpointer
training_thread (gpointer data)
{
  CsRunThread *w = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *lock_path = g_build_filename (w->dir, ".lock", NULL);
  CsRunState final_state = CS_RUN_FINISHED;
  g_autofree char *final_message = NULL;
  const CsEpochResult *last = NULL;

  /* Held for the thread's life: another process listing runs knows this one is live. */
  w->lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (w->lock_fd >= 0)
    flock (w->lock_fd, LOCK_EX);

  /* Training yields to the window: a lower priority for this thread and the
   * pool threads it creates (they inherit it). It costs nothing while the
   * cores are otherwise idle; when the window draws (on a machine without a
   * GPU GTK's GL renderer rasterises on these same cores), nice 10 rather
   * than 5 took the median frame interval under Xvfb from 33 to 16.7 ms. */
  if (setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10) != 0)
    g_debug ("could not lower the trainer's priority: %s", g_strerror (errno));
  g_atomic_int_inc (&n_active_threads);
  w->trainer = cs_trainer_new (w->spec, &w->record->hp, w->data, &error);
  if (w->trainer == NULL)
    {
      final_state = CS_RUN_FAILED;
      final_message = g_strdup (error->message);
      goto out;
    }
  w->probe_model = cs_model_new (w->spec);
  cs_model_set_batch_capacity (w->probe_model, 1);

  w->record->state = CS_RUN_RUNNING;
  w->record->started = g_get_real_time () / G_USEC_PER_SEC;
  thread_write_record (w);
  post_state (w, CS_RUN_RUNNING, NULL);

  for (int e = 0; e < w->record->hp.epochs; e++)
    {
      CsEpochResult result;
      gboolean ok;
      Event *ev;

      ok = cs_trainer_train_epoch (w->trainer, batch_cb, w, &result, &error);

      if (!ok)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              final_state = CS_RUN_STOPPED;
              /* As people count: the first epoch is epoch 1. */
              final_message = g_strdup_printf ("stopped at epoch %d, batch %d", w->record->at_epoch + 1,
                                               w->record->at_batch);
            }
          else
            {
              final_state = CS_RUN_FAILED;
              final_message = g_strdup (error->message);
            }
          /* What was learned is kept: the weights as they are (a NaN step was undone). */
          {
            g_autofree char *why = NULL;
            if (!thread_save_checkpoint (w, last, &why))
              {
                char *both = g_strdup_printf ("%s; and the checkpoint could not be saved: %s", final_message, why);
                g_free (final_message);
                final_message = both;
                final_state = CS_RUN_FAILED;
              }
          }
          break;
        }

      w->record->train_seconds += result.seconds;
      g_array_append_val (w->record->epochs, result);
      last = &g_array_index (w->record->epochs, CsEpochResult, w->record->epochs->len - 1);
      /* Checkpoint first, then the record that counts the epoch. The
       * last one is the run's result: if it cannot be saved the run has
       * failed, whatever it learned (an earlier one is retried next epoch). */
      {
        g_autofree char *why = NULL;
        if (!thread_save_checkpoint (w, last, &why) && e == w->record->hp.epochs - 1)
          {
            final_state = CS_RUN_FAILED;
            final_message = g_strdup_printf ("the final checkpoint could not be saved: %s; "
                                             "checkpoint.safetensors, if there is one, holds an earlier epoch's "
                                             "weights", why);
          }
      }
      w->record->at_epoch = e + 1;
      w->record->at_batch = 0;
      thread_write_record (w);

      ev = g_new0 (Event, 1);
      ev->kind = EVENT_EPOCH;
      ev->result = result;
      ev->train_seconds = w->record->train_seconds;
      post_event (w, ev);
      post_snapshot (w, e, cs_trainer_n_batches (w->trainer) - 1);
    }

  /* A run that ends no better than guessing has not learned, whatever its
   * loss did: it failed, and says so (lr 10 on the MLP ends at 10 %). */
  if (final_state == CS_RUN_FINISHED && last != NULL && cs_run_result_is_chance (last))
    {
      final_state = CS_RUN_FAILED;
      final_message = g_strdup_printf ("did not learn: test accuracy %.2f%% is no better than chance for %d classes "
                                       "(try another learning rate than %g)", last->test_acc, CS_N_CLASSES,
                                       w->record->hp.optim.lr);
    }

out:
  w->record->state = final_state;
  g_free (w->record->message);
  w->record->message = g_strdup (final_message);
  w->record->ended = g_get_real_time () / G_USEC_PER_SEC;
  thread_write_record (w);
  post_state (w, final_state, final_message);

  g_clear_pointer (&w->trainer, cs_trainer_free);
  g_clear_pointer (&w->probe_model, cs_model_free);
  if (w->lock_fd >= 0)
    {
      flock (w->lock_fd, LOCK_UN);
      close (w->lock_fd);
      w->lock_fd = -1;
    }
  g_atomic_int_dec_and_test (&n_active_threads);
  run_thread_unref (w);
  return NULL;
}

gboolean
cs_run_start (CsRun     *self,
              CsDataset *data,
              GError   **error)
{
  CsRunThread *w;

  g_return_val_if_fail (CS_IS_RUN (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (self->thread_state != NULL || self->record->state != CS_RUN_QUEUED)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "run %s has already been started", self->record->id);
      return FALSE;
    }
  if (!cs_hyper_params_validate (&self->record->hp, data->train.n, error))
    return FALSE;

  w = g_new0 (CsRunThread, 1);
  g_atomic_ref_count_init (&w->ref_count);
  g_weak_ref_init (&w->run, self);
  w->context = g_main_context_ref_thread_default ();
  w->record = cs_run_record_copy (self->record);
  w->dir = g_strdup (self->dir);
  w->spec = cs_spec_parse (self->spec->text, NULL);
  w->data = cs_dataset_ref (data);
  w->snapshot_every = self->snapshot_every;
  w->pending_losses = g_array_new (FALSE, FALSE, sizeof (CsLossPoint));
  w->lock_fd = -1;
  cs_mutex_init (&w->lock);
  g_cond_init (&w->cond);

  self->thread_state = w;
  self->thread = g_thread_try_new ("cs-training", training_thread, run_thread_ref (w), error);
  if (self->thread == NULL)
    {
      run_thread_unref (w);
      g_clear_pointer (&self->thread_state, run_thread_unref);
      return FALSE;
    }
  return TRUE;
}

void
cs_run_pause (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->thread_state == NULL)
    return;
  cs_mutex_lock (&self->thread_state->lock);
  self->thread_state->pause_requested = TRUE;
  cs_mutex_unlock (&self->thread_state->lock);
}

void
cs_run_resume (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->thread_state == NULL)
    return;
  cs_mutex_lock (&self->thread_state->lock);
  self->thread_state->pause_requested = FALSE;
  g_cond_broadcast (&self->thread_state->cond);
  cs_mutex_unlock (&self->thread_state->lock);
}

void
cs_run_stop (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->thread_state == NULL)
    return;
  cs_mutex_lock (&self->thread_state->lock);
  self->thread_state->stop_requested = TRUE;
  self->thread_state->pause_requested = FALSE;
  g_cond_broadcast (&self->thread_state->cond);
  cs_mutex_unlock (&self->thread_state->lock);
}

void
cs_run_evaluate_now (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->thread_state == NULL)
    return;
  cs_mutex_lock (&self->thread_state->lock);
  self->thread_state->eval_requested = TRUE;
  cs_mutex_unlock (&self->thread_state->lock);
}

void
cs_run_join (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->thread != NULL)
    {
      g_thread_join (g_steal_pointer (&self->thread));
      /* Deliver what the thread posted before it ended. */
      while (g_main_context_iteration (self->thread_state ? self->thread_state->context : NULL, FALSE))
        ;
    }
}
