/* A run as the app sees it: a GObject over its record, created, loaded and
 * saved here; its training thread is in cs-run-thread.c. */

#define G_LOG_DOMAIN "cs-run"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/cs-alloc.h"
#include "base/cs-file.h"
#include "base/cs-sync.h"
#include "nn/cs-presets.h"
#include "train/cs-run-private.h"

/* ---- snapshots ---------------------------------------------------------- */

CsSnapshot *
cs_snapshot_ref (CsSnapshot *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
cs_snapshot_unref (CsSnapshot *self)
{
  if (self == NULL || !cs_ref_count_dec (&self->ref_count))
    return;
  for (guint i = 0; i < self->n_layers; i++)
    cs_free_floats (self->activations[i]);
  g_free (self->activations);
  cs_free_floats (self->params);
  cs_free_floats (self->probe);
  g_free (self);
}

/* ---- the GObject -------------------------------------------------------- */

G_DEFINE_FINAL_TYPE (CsRun, cs_run, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_STATE,
  PROP_MESSAGE,
  PROP_N_EPOCHS,
  N_PROPS
};

enum {
  SIGNAL_PROGRESS,
  SIGNAL_EPOCH_DONE,
  SIGNAL_SNAPSHOT,
  SIGNAL_EVALUATED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
cs_run_dispose (GObject *object)
{
  CsRun *self = CS_RUN (object);

  /* A run dropped while it trains: the thread is told to stop and finishes
   * on its own; its events find no run and are discarded. */
  g_clear_pointer (&self->thread_state, cs_run_thread_abandon);
  g_clear_pointer (&self->thread, g_thread_unref);
  g_clear_pointer (&self->snapshot, cs_snapshot_unref);

  G_OBJECT_CLASS (cs_run_parent_class)->dispose (object);
}

static void
cs_run_finalize (GObject *object)
{
  CsRun *self = CS_RUN (object);

  cs_run_record_free (self->record);
  cs_spec_free (self->spec);
  g_free (self->dir);

  G_OBJECT_CLASS (cs_run_parent_class)->finalize (object);
}

static void
cs_run_get_property (GObject    *object,
                     guint       prop_id,
                     GValue     *value,
                     GParamSpec *pspec)
{
  CsRun *self = CS_RUN (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->record->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->record->name);
      break;
    case PROP_STATE:
      g_value_set_int (value, self->record->state);
      break;
    case PROP_MESSAGE:
      g_value_set_string (value, self->record->message);
      break;
    case PROP_N_EPOCHS:
      g_value_set_uint (value, self->record->epochs->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cs_run_class_init (CsRunClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cs_run_dispose;
  object_class->finalize = cs_run_finalize;
  object_class->get_property = cs_run_get_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, CS_RUN_QUEUED, CS_RUN_FAILED, CS_RUN_QUEUED,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MESSAGE] = g_param_spec_string ("message", NULL, NULL, NULL,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_N_EPOCHS] = g_param_spec_uint ("n-epochs", NULL, NULL, 0, G_MAXUINT, 0,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Batch progress, at most ~30 a second; read the getters. */
  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* An epoch ended: its index into the history. */
  signals[SIGNAL_EPOCH_DONE] = g_signal_new ("epoch-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                             0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /* A new weight snapshot: cs_run_get_snapshot(). */
  signals[SIGNAL_SNAPSHOT] = g_signal_new ("snapshot", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* cs_run_evaluate_now() answered: a CsEpochResult with the test metrics. */
  signals[SIGNAL_EVALUATED] = g_signal_new ("evaluated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
cs_run_init (CsRun *self)
{
  self->snapshot_every = 100;
}

/* ---- settings ----------------------------------------------------------- */

gboolean
cs_run_settings_init_preset (CsRunSettings *self,
                             const char    *model,
                             GError       **error)
{
  const CsPreset *preset;

  g_return_val_if_fail (self != NULL && model != NULL, FALSE);

  *self = (CsRunSettings) { 0 };
  preset = cs_preset_lookup (model);
  self->spec = cs_spec_for_model (model, error);
  if (self->spec == NULL)
    return FALSE;
  self->name = g_strdup (preset ? preset->title : model);
  self->model = g_strdup (model);
  cs_hyper_params_for_preset (&self->hp, model);
  self->dataset = g_strdup ("mnist");
  return TRUE;
}

void
cs_run_settings_clear (CsRunSettings *self)
{
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->model, g_free);
  g_clear_pointer (&self->spec, cs_spec_free);
  g_clear_pointer (&self->dataset, g_free);
  g_clear_pointer (&self->data_dir, g_free);
}

/* ---- construction, loading, saving -------------------------------------- */

static char *
sanitize (const char *s)
{
  GString *out = g_string_new (NULL);

  for (const char *p = s; *p && out->len < 32; p++)
    {
      if (g_ascii_isalnum (*p))
        g_string_append_c (out, g_ascii_tolower (*p));
      else if (out->len > 0 && out->str[out->len - 1] != '-')
        g_string_append_c (out, '-');
    }
  while (out->len > 0 && out->str[out->len - 1] == '-')
    g_string_truncate (out, out->len - 1);
  if (out->len == 0)
    g_string_append (out, "model");
  return g_string_free (out, FALSE);
}

CsRun *
cs_run_new (const char          *runs_dir,
            const CsRunSettings *settings,
            GError             **error)
{
  g_autoptr(CsRun) self = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *base = NULL;
  g_autofree char *label = NULL;
  g_autoptr(CsModel) probe = NULL;

  g_return_val_if_fail (runs_dir != NULL, NULL);
  g_return_val_if_fail (settings != NULL && settings->model != NULL && settings->spec != NULL, NULL);

  base = g_path_get_basename (settings->model);
  label = sanitize (base);

  if (g_mkdir_with_parents (runs_dir, 0755) != 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "could not create the runs directory %s: %s", runs_dir, g_strerror (err));
      return NULL;
    }

  self = g_object_new (CS_TYPE_RUN, NULL);
  self->record = cs_run_record_new ();
  /* A unique directory: the time and model, then -2, -3, ... if taken. */
  for (int n = 1; ; n++)
    {
      g_autofree char *id = n == 1 ? g_strdup_printf ("%s-%s", stamp, label)
                                   : g_strdup_printf ("%s-%s-%d", stamp, label, n);
      g_autofree char *dir = g_build_filename (runs_dir, id, NULL);

      if (g_mkdir (dir, 0755) == 0)
        {
          self->record->id = g_steal_pointer (&id);
          self->dir = g_steal_pointer (&dir);
          break;
        }
      if (errno != EEXIST || n > 1000)
        {
          int err = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                       "could not create the run directory %s: %s", dir, g_strerror (err));
          return NULL;
        }
    }

  self->spec = cs_spec_parse (settings->spec->text, NULL);
  probe = cs_model_new (settings->spec);
  self->record->name = g_strdup (settings->name ? settings->name : settings->model);
  self->record->model = g_strdup (settings->model);
  self->record->spec_text = g_strdup (settings->spec->text);
  self->record->dataset = g_strdup (settings->dataset);
  self->record->data_dir = g_strdup (settings->data_dir);
  self->record->hp = settings->hp;
  self->record->state = CS_RUN_QUEUED;
  self->record->created = g_date_time_to_unix (now);
  self->record->n_params = cs_model_n_params (probe);

  if (!cs_run_record_write (self->record, self->dir, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* Whether another process holds the run's lock (it is training it). */
static gboolean
run_locked_elsewhere (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, ".lock", NULL);
  guint64 size;
  int fd = cs_file_open_regular (path, CS_FILE_NO_FOLLOW, G_MAXUINT64, &size, NULL);
  gboolean locked = FALSE;

  if (fd < 0)
    return FALSE;
  if (flock (fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
    locked = TRUE;
  close (fd);
  return locked;
}

CsRun *
cs_run_load (const char  *run_dir,
             GError     **error)
{
  g_return_val_if_fail (run_dir != NULL, NULL);

  g_autofree char *path = g_build_filename (run_dir, "run.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CsRun) self = NULL;
  g_autoptr(CsSpec) spec = NULL;
  CsRunRecord *record;
  gsize len;

  /* Not through a link, not a FIFO or /dev/zero, not more than a record can be. */
  if (!cs_file_read_regular (path, CS_FILE_NO_FOLLOW, CS_RUN_RECORD_MAX_BYTES, &text, &len, &local_error))
    {
      g_set_error (error, G_IO_ERROR,
                   g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? G_IO_ERROR_NOT_FOUND
                                                                                   : G_IO_ERROR_INVALID_DATA,
                   "%s", local_error->message);
      return NULL;
    }
  record = cs_run_record_from_json (text, len, path, error);
  if (record == NULL)
    return NULL;

  spec = cs_spec_parse (record->spec_text, &local_error);
  if (spec == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: its model spec does not parse: %s",
                   path, local_error->message);
      cs_run_record_free (record);
      return NULL;
    }

  self = g_object_new (CS_TYPE_RUN, NULL);
  self->record = record;
  self->dir = g_strdup (run_dir);
  self->spec = g_steal_pointer (&spec);

  if (cs_run_state_is_live (record->state) && !run_locked_elsewhere (run_dir))
    {
      record->state = CS_RUN_STOPPED;
      g_free (record->message);
      record->message = g_strdup_printf ("interrupted: the program ended while it trained epoch %u",
                                         record->epochs->len + 1);
    }
  return g_steal_pointer (&self);
}

gboolean
cs_run_save (CsRun   *self,
             GError **error)
{
  g_return_val_if_fail (CS_IS_RUN (self), FALSE);

  /* While a thread trains it, the thread is the one writer of run.json. */
  if (self->thread_state != NULL && cs_run_state_is_live (self->record->state))
    return TRUE;
  return cs_run_record_write (self->record, self->dir, error);
}

/* ---- getters ------------------------------------------------------------ */

const char *cs_run_get_id (CsRun *self) { return self->record->id; }
const char *cs_run_get_name (CsRun *self) { return self->record->name; }
const char *cs_run_get_dir (CsRun *self) { return self->dir; }
const char *cs_run_get_model (CsRun *self) { return self->record->model; }
const char *cs_run_get_dataset (CsRun *self) { return self->record->dataset; }
const char *cs_run_get_data_dir (CsRun *self) { return self->record->data_dir; }
const CsSpec *cs_run_get_spec (CsRun *self) { return self->spec; }
const CsHyperParams *cs_run_get_hyper_params (CsRun *self) { return &self->record->hp; }
CsRunState cs_run_get_state (CsRun *self) { return self->record->state; }
const char *cs_run_get_message (CsRun *self) { return self->record->message; }
gint64 cs_run_get_created (CsRun *self) { return self->record->created; }
double cs_run_get_train_seconds (CsRun *self) { return self->record->train_seconds; }
gsize cs_run_get_n_params (CsRun *self) { return self->record->n_params; }
guint cs_run_get_n_epochs (CsRun *self) { return self->record->epochs->len; }
int cs_run_get_current_epoch (CsRun *self) { return self->epoch; }
int cs_run_get_current_batch (CsRun *self) { return self->batch; }
int cs_run_get_n_batches (CsRun *self) { return self->n_batches; }
double cs_run_get_samples_per_sec (CsRun *self) { return self->samples_per_sec; }
double cs_run_get_running_loss (CsRun *self) { return self->running_loss; }

char *
cs_run_get_checkpoint_path (CsRun *self)
{
  g_return_val_if_fail (CS_IS_RUN (self), NULL);

  return g_build_filename (self->dir, "checkpoint.safetensors", NULL);
}

const CsEpochResult *
cs_run_get_epoch (CsRun *self,
                  guint  i)
{
  g_return_val_if_fail (i < self->record->epochs->len, NULL);
  return &g_array_index (self->record->epochs, CsEpochResult, i);
}

const CsLossPoint *
cs_run_get_loss_points (CsRun *self,
                        guint *n_points)
{
  g_return_val_if_fail (CS_IS_RUN (self), NULL);
  g_return_val_if_fail (n_points != NULL, NULL);

  *n_points = self->record->loss->len;
  return (const CsLossPoint *) self->record->loss->data;
}

CsSnapshot *
cs_run_get_snapshot (CsRun *self)
{
  g_return_val_if_fail (CS_IS_RUN (self), NULL);

  return self->snapshot;
}

void
cs_run_set_snapshot_interval (CsRun *self,
                              int    batches)
{
  g_return_if_fail (CS_IS_RUN (self));
  self->snapshot_every = MAX (1, batches);
}

/* ---- renaming, describing ------------------------------------------------ */

#define CS_RUN_NAME_MAX 200

gboolean
cs_run_set_name (CsRun       *self,
                 const char  *name,
                 GError     **error)
{
  g_autofree char *clean = NULL;
  char *old;

  g_return_val_if_fail (CS_IS_RUN (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (!g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "a run's name must be UTF-8 text");
      return FALSE;
    }
  clean = g_strstrip (g_strdup (name));
  if (clean[0] == '\0' || g_utf8_strlen (clean, -1) > CS_RUN_NAME_MAX)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "a run's name must have from 1 to %d characters", CS_RUN_NAME_MAX);
      return FALSE;
    }
  if (g_str_equal (clean, self->record->name))
    return TRUE;

  old = self->record->name;
  self->record->name = g_strdup (clean);
  if (self->thread_state != NULL && cs_run_state_is_live (self->record->state))
    cs_run_thread_rename (self->thread_state, clean);
  else if (!cs_run_record_write (self->record, self->dir, error))
    {
      g_free (self->record->name);
      self->record->name = old;
      return FALSE;
    }
  g_free (old);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
  return TRUE;
}

char *
cs_run_describe_settings (CsRun *self)
{
  const CsHyperParams *hp;
  g_autoptr(GDateTime) created = NULL;
  g_autofree char *when = NULL;
  GString *out;

  g_return_val_if_fail (CS_IS_RUN (self), NULL);

  hp = &self->record->hp;
  out = g_string_new (NULL);
  g_string_append_printf (out, "%s on %s\n%s, lr %g", self->record->model,
                          g_strcmp0 (self->record->dataset, "fashion-mnist") == 0 ? "Fashion-MNIST" : "MNIST",
                          hp->optim.kind == CS_OPTIM_ADAM ? "Adam" : "SGD", hp->optim.lr);
  if (hp->optim.kind == CS_OPTIM_SGD && hp->optim.momentum > 0)
    g_string_append_printf (out, ", momentum %g", hp->optim.momentum);
  if (hp->optim.weight_decay > 0)
    g_string_append_printf (out, ", weight decay %g", hp->optim.weight_decay);
  g_string_append_printf (out, "\nbatch %d, %d epoch%s, seed %" G_GUINT64_FORMAT ", %d thread%s", hp->batch_size,
                          hp->epochs, hp->epochs == 1 ? "" : "s", hp->seed, hp->threads, hp->threads == 1 ? "" : "s");
  created = g_date_time_new_from_unix_local (self->record->created);
  when = created ? g_date_time_format (created, "%Y-%m-%d %H:%M") : NULL;
  if (when != NULL)
    g_string_append_printf (out, "\nstarted %s", when);
  if (self->record->message != NULL)
    g_string_append_printf (out, "\n%s", self->record->message);
  return g_string_free (out, FALSE);
}

/* ---- progress, as people read it ------------------------------------------ */

double
cs_run_get_fraction_done (CsRun *self)
{
  int epochs;

  g_return_val_if_fail (CS_IS_RUN (self), 0);

  epochs = self->record->hp.epochs;
  if (!cs_run_state_is_live (self->record->state))
    return epochs > 0 ? CLAMP ((double) self->record->epochs->len / epochs, 0, 1) : 1;
  if (epochs <= 0 || self->n_batches <= 0)
    return 0;
  return CLAMP ((self->epoch + (double) self->batch / self->n_batches) / epochs, 0, 1);
}

char *
cs_run_format_progress (CsRun              *self,
                        CsRunProgressFlags  flags)
{
  const CsHyperParams *hp;
  GString *out;
  gboolean paused;

  g_return_val_if_fail (CS_IS_RUN (self), NULL);

  if (!cs_run_state_is_live (self->record->state))
    return NULL;
  if (self->n_batches <= 0)
    return g_strdup ("starting…");

  hp = &self->record->hp;
  paused = self->record->state == CS_RUN_PAUSED;
  out = g_string_new (NULL);
  /* The run's epoch counts from 0, its batch from 1 (the batches done). */
  g_string_append_printf (out, "epoch %d/%d", self->epoch + 1, hp->epochs);
  if (flags & CS_RUN_PROGRESS_BATCH)
    g_string_append_printf (out, " · batch %d/%d", self->batch, self->n_batches);
  if ((flags & CS_RUN_PROGRESS_SPEED) && !paused)
    g_string_append_printf (out, " · %.0f samples/s", self->samples_per_sec);
  if ((flags & CS_RUN_PROGRESS_ETA) && !paused && self->samples_per_sec > 0)
    {
      double done = self->epoch + (double) self->batch / self->n_batches;
      double left = MAX (0, (hp->epochs - done) * self->n_batches * hp->batch_size / self->samples_per_sec);

      g_string_append_printf (out, " · ETA %d:%02d", (int) left / 60, (int) left % 60);
    }
  return g_string_free (out, FALSE);
}

/* ---- what the training thread's events do, on the run's context ---------- */

void
cs_run_update_state (CsRun      *self,
                     CsRunState  state,
                     const char *message)
{
  gboolean message_changed = g_strcmp0 (message, self->record->message) != 0;

  if (message_changed)
    {
      g_free (self->record->message);
      self->record->message = g_strdup (message);
    }
  if (self->record->state != state)
    {
      self->record->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
  if (message_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
}

void
cs_run_add_epoch (CsRun               *self,
                  const CsEpochResult *result,
                  double               train_seconds)
{
  g_array_append_val (self->record->epochs, *result);
  self->record->train_seconds = train_seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_EPOCHS]);
  g_signal_emit (self, signals[SIGNAL_EPOCH_DONE], 0, self->record->epochs->len - 1);
}

void
cs_run_emit_progress (CsRun *self)
{
  g_signal_emit (self, signals[SIGNAL_PROGRESS], 0);
}

void
cs_run_take_snapshot (CsRun      *self,
                      CsSnapshot *snapshot)
{
  g_clear_pointer (&self->snapshot, cs_snapshot_unref);
  self->snapshot = snapshot;
  g_signal_emit (self, signals[SIGNAL_SNAPSHOT], 0);
}

void
cs_run_emit_evaluated (CsRun               *self,
                       const CsEpochResult *result)
{
  g_signal_emit (self, signals[SIGNAL_EVALUATED], 0, result);
}
