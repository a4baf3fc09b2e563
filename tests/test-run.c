/* Trainer tests: events on the main context, pause/resume/stop, concurrent runs, dropped runs, divergence, the runs directory. */

#include "config.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include <math.h>
#include <string.h>

#include "cs-test-mnist.h"
#include "cs-test-files.h"
#include "cs-test-wait.h"
#include "base/cs-atomic-file-private.h"
#include "formats/cs-checkpoint.h"
#include "nn/cs-presets.h"
#include "train/cs-run-store.h"

#include <errno.h>

static CsDataset *mnist;
static CsDataset *small;     /* 3000 training and 1000 test images: quick runs */

typedef struct
{
  GPtrArray *log;          /* event names, in order */
  guint      n_progress;
  guint      n_snapshots;
  gint64     last_progress_time;
  gint64     min_progress_gap;
  int        last_batch;
  int        last_epoch;
  gboolean   batches_in_order;
} Events;

static void
events_init (Events *ev)
{
  memset (ev, 0, sizeof *ev);
  ev->log = g_ptr_array_new_with_free_func (g_free);
  ev->min_progress_gap = G_MAXINT64;
  ev->batches_in_order = TRUE;
}

static void
events_clear (Events *ev)
{
  g_clear_pointer (&ev->log, g_ptr_array_unref);
}

static void
on_progress (CsRun  *run,
             Events *ev)
{
  gint64 now = g_get_monotonic_time ();
  int epoch = cs_run_get_current_epoch (run), batch = cs_run_get_current_batch (run);

  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  if (ev->n_progress > 0)
    ev->min_progress_gap = MIN (ev->min_progress_gap, now - ev->last_progress_time);
  if (epoch < ev->last_epoch || (epoch == ev->last_epoch && batch < ev->last_batch))
    ev->batches_in_order = FALSE;
  ev->last_epoch = epoch;
  ev->last_batch = batch;
  ev->last_progress_time = now;
  ev->n_progress++;
}

static void
on_epoch (CsRun  *run,
          guint   index,
          Events *ev)
{
  g_ptr_array_add (ev->log, g_strdup_printf ("epoch %u", index));
}

static void
on_state (CsRun      *run,
          GParamSpec *pspec,
          Events     *ev)
{
  g_ptr_array_add (ev->log, g_strdup (cs_run_state_to_string (cs_run_get_state (run))));
}

static void
on_snapshot (CsRun  *run,
             Events *ev)
{
  CsSnapshot *snap = cs_run_get_snapshot (run);

  g_assert_nonnull (snap);
  g_assert_cmpuint (snap->n_params, ==, cs_run_get_n_params (run));
  ev->n_snapshots++;
}

static void
connect_events (CsRun  *run,
                Events *ev)
{
  g_signal_connect (run, "progress", G_CALLBACK (on_progress), ev);
  g_signal_connect (run, "epoch-done", G_CALLBACK (on_epoch), ev);
  g_signal_connect (run, "notify::state", G_CALLBACK (on_state), ev);
  g_signal_connect (run, "snapshot", G_CALLBACK (on_snapshot), ev);
}

static char *
make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("cs-test-runs-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

/* @model's settings with the small data set, two threads and no name. */
static void
small_settings (CsRunSettings *settings,
                const char    *model)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (cs_run_settings_init_preset (settings, model, &error));
  g_assert_no_error (error);
  g_clear_pointer (&settings->name, g_free);   /* the store names it */
  settings->hp.threads = 2;
  g_free (settings->dataset);
  settings->dataset = g_strdup (small->name);
  settings->data_dir = g_strdup (small->dir);
}

/* A run of @model on the small data set, @epochs long, unnamed. */
static CsRun *
new_run (CsRunStore *store,
         const char *model,
         int         epochs,
         guint64     seed)
{
  g_autoptr(GError) error = NULL;
  g_auto(CsRunSettings) settings = { 0 };
  CsRun *run;

  small_settings (&settings, model);
  settings.hp.epochs = epochs;
  settings.hp.seed = seed;
  run = cs_run_store_create (store, &settings, &error);
  g_assert_no_error (error);
  return run;
}

/* Which threads the run's signals were emitted on. */
typedef struct
{
  GThread *main;
  guint    on_main;
  guint    elsewhere;
} ThreadCheck;

static void
note_thread (ThreadCheck *tc)
{
  if (g_thread_self () == tc->main)
    tc->on_main++;
  else
    tc->elsewhere++;
}

static void
thread_check_progress_cb (CsRun *run, ThreadCheck *tc)
{
  note_thread (tc);
}

static void
thread_check_epoch_cb (CsRun *run, guint epoch, ThreadCheck *tc)
{
  note_thread (tc);
}

/* Every event reaches the run in the thread that iterates its main context,
 * even while that thread is not iterating it (the CLI between two
 * iterations, here a sleep): g_main_context_invoke_full() used to run them
 * right on the training thread then. */
static void
test_events_on_main_thread (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  CsRun *run = new_run (store, "mlp", 2, 3);
  ThreadCheck tc = { g_thread_self (), 0, 0 };

  g_signal_connect (run, "progress", G_CALLBACK (thread_check_progress_cb), &tc);
  g_signal_connect (run, "epoch-done", G_CALLBACK (thread_check_epoch_cb), &tc);
  g_assert_true (cs_run_start (run, small, &error));
  g_assert_no_error (error);
  /* Not iterating the context for half a second while the run trains. */
  g_usleep (500000);
  g_assert_cmpuint (tc.elsewhere, ==, 0);
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (run)));
  cs_run_join (run);
  g_assert_cmpuint (tc.on_main, >, 0);
  g_assert_cmpuint (tc.elsewhere, ==, 0);
}

static void
test_events_in_order (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsRunStore) reloaded = NULL;
  CsRun *run = new_run (store, "lenet5", 2, 1);
  Events ev;
  guint n_points;
  g_autofree char *ckpt = NULL;
  gint64 start;

  events_init (&ev);
  connect_events (run, &ev);
  cs_run_set_snapshot_interval (run, 10);
  start = g_get_monotonic_time ();
  g_assert_true (cs_run_start (run, small, &error));
  g_assert_no_error (error);
  /* The caller never blocks: the run has not finished when start returns. */
  g_assert_true (cs_run_state_is_live (cs_run_get_state (run)));

  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (run)));
  cs_run_join (run);

  /* running, epoch 0, epoch 1, finished: in that order. */
  g_assert_cmpuint (ev.log->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (ev.log, 0), ==, "running");
  g_assert_cmpstr (g_ptr_array_index (ev.log, 1), ==, "epoch 0");
  g_assert_cmpstr (g_ptr_array_index (ev.log, 2), ==, "epoch 1");
  g_assert_cmpstr (g_ptr_array_index (ev.log, 3), ==, "finished");
  g_assert_true (ev.batches_in_order);
  g_assert_cmpuint (ev.n_progress, >, 0);
  /* Coalesced to ~30 a second however fast the batches go (60 batches here). */
  {
    double secs = (g_get_monotonic_time () - start) / 1e6;
    g_assert_cmpfloat (ev.n_progress, <=, 30 * secs + 3);
  }
  g_assert_cmpuint (ev.n_snapshots, >, 0);
  g_assert_nonnull (cs_run_get_snapshot (run));

  /* The history: both epochs and every batch's loss. */
  g_assert_cmpuint (cs_run_get_n_epochs (run), ==, 2);
  cs_run_get_loss_points (run, &n_points);
  g_assert_cmpuint (n_points, ==, 2 * 30);
  g_assert_cmpfloat (cs_run_get_epoch (run, 1)->test_acc, >, 80.0);
  ckpt = cs_run_get_checkpoint_path (run);
  g_assert_true (g_file_test (ckpt, G_FILE_TEST_EXISTS));

  /* Kept on disk: a new store reads the same history. */
  reloaded = cs_run_store_new (dir);
  g_assert_true (cs_run_store_load (reloaded, NULL, &error));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (reloaded)), ==, 1);
  {
    g_autoptr(CsRun) again = g_list_model_get_item (G_LIST_MODEL (reloaded), 0);
    guint n2;

    g_assert_cmpstr (cs_run_get_id (again), ==, cs_run_get_id (run));
    g_assert_cmpint (cs_run_get_state (again), ==, CS_RUN_FINISHED);
    g_assert_cmpuint (cs_run_get_n_epochs (again), ==, 2);
    g_assert_cmpfloat (cs_run_get_epoch (again, 1)->test_acc, ==, cs_run_get_epoch (run, 1)->test_acc);
    g_assert_cmpuint (cs_run_get_epoch (again, 1)->confusion[3][3], ==, cs_run_get_epoch (run, 1)->confusion[3][3]);
    cs_run_get_loss_points (again, &n2);
    g_assert_cmpuint (n2, ==, n_points);
  }

  events_clear (&ev);
  cs_test_rm_rf (dir);
}

static void
test_pause_resume_stop (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  CsRun *run = new_run (store, "mlp", 50, 1);
  Events ev;
  guint progress_when_paused;
  g_autofree char *ckpt = NULL;

  events_init (&ev);
  connect_events (run, &ev);
  g_assert_true (cs_run_start (run, small, &error));

  for (int round = 0; round < 3; round++)
    {
      gint64 until = g_get_monotonic_time () + g_rand_int_range (rand, 50, 400) * 1000;

      /* Train a random while, then pause. */
      WAIT_FOR (g_get_monotonic_time () > until && cs_run_get_state (run) == CS_RUN_RUNNING);
      cs_run_pause (run);
      WAIT_FOR (cs_run_get_state (run) == CS_RUN_PAUSED);
      /* Paused: no progress while we wait. */
      progress_when_paused = ev.n_progress;
      {
        gint64 t = g_get_monotonic_time () + 200 * 1000;
        WAIT_FOR (g_get_monotonic_time () > t);
      }
      g_assert_cmpuint (ev.n_progress, <=, progress_when_paused + 1);
      /* Where it stands, counted from one, as every view and the CLI word it. */
      {
        g_autofree char *line = cs_run_format_progress (run, CS_RUN_PROGRESS_BATCH | CS_RUN_PROGRESS_SPEED);
        g_autofree char *expect = g_strdup_printf ("epoch %d/50 · batch %d/%d", cs_run_get_current_epoch (run) + 1,
                                                   cs_run_get_current_batch (run), cs_run_get_n_batches (run));
        double done = cs_run_get_fraction_done (run);

        if (cs_run_get_n_batches (run) > 0)
          {
            /* Paused: no speed, it would be stale. */
            g_assert_cmpstr (line, ==, expect);
            g_assert_cmpint (cs_run_get_current_batch (run), >=, 1);
            g_assert_cmpfloat (done, >, 0);
            g_assert_cmpfloat (done, <, 1);
          }
      }
      cs_run_resume (run);
      WAIT_FOR (cs_run_get_state (run) == CS_RUN_RUNNING);
    }

  /* Stop while paused, too. */
  cs_run_pause (run);
  WAIT_FOR (cs_run_get_state (run) == CS_RUN_PAUSED);
  cs_run_stop (run);
  WAIT_FOR (cs_run_get_state (run) == CS_RUN_STOPPED);
  cs_run_join (run);
  g_assert_nonnull (strstr (cs_run_get_message (run), "stopped at epoch"));
  g_assert_null (cs_run_format_progress (run, CS_RUN_PROGRESS_BATCH));
  /* What was learned is kept. */
  ckpt = cs_run_get_checkpoint_path (run);
  g_assert_true (g_file_test (ckpt, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (cs_run_n_active_threads (), ==, 0);

  events_clear (&ev);
  cs_test_rm_rf (dir);
}

/* Two runs at once give the numbers each gives alone. */
static void
test_concurrent_equals_solo (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  CsRun *solo_a = new_run (store, "cnn", 1, 11);
  CsRun *solo_b = new_run (store, "lenet5", 1, 12);
  CsRun *a, *b;

  g_assert_true (cs_run_start (solo_a, small, &error));
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (solo_a)));
  g_assert_true (cs_run_start (solo_b, small, &error));
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (solo_b)));

  a = new_run (store, "cnn", 1, 11);
  b = new_run (store, "lenet5", 1, 12);
  g_assert_true (cs_run_start (a, small, &error));
  g_assert_true (cs_run_start (b, small, &error));
  WAIT_FOR (cs_run_n_active_threads () == 2 || !cs_run_state_is_live (cs_run_get_state (a)));
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (a)) && !cs_run_state_is_live (cs_run_get_state (b)));
  cs_run_join (a);
  cs_run_join (b);

  g_assert_cmpint (cs_run_get_state (a), ==, CS_RUN_FINISHED);
  g_assert_cmpint (cs_run_get_state (b), ==, CS_RUN_FINISHED);
  /* Bit for bit: the losses and accuracies equal the solo runs'. */
  g_assert_cmpfloat (cs_run_get_epoch (a, 0)->train_loss, ==, cs_run_get_epoch (solo_a, 0)->train_loss);
  g_assert_cmpfloat (cs_run_get_epoch (a, 0)->test_loss, ==, cs_run_get_epoch (solo_a, 0)->test_loss);
  g_assert_cmpfloat (cs_run_get_epoch (b, 0)->train_loss, ==, cs_run_get_epoch (solo_b, 0)->train_loss);
  g_assert_cmpfloat (cs_run_get_epoch (b, 0)->test_acc, ==, cs_run_get_epoch (solo_b, 0)->test_acc);
  g_assert_cmpuint (cs_run_n_active_threads (), ==, 0);
  cs_test_rm_rf (dir);
}

/* A run dropped while it trains: no crash, its thread ends, nothing delivered to it. */
static void
test_drop_mid_training (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(GError) error = NULL;
  CsRunStore *store = cs_run_store_new (dir);
  CsRun *run = new_run (store, "cnn", 20, 3);
  GWeakRef weak;

  g_weak_ref_init (&weak, run);
  g_assert_true (cs_run_start (run, small, &error));
  WAIT_FOR (cs_run_get_current_batch (run) > 3);

  g_object_unref (store);   /* the only reference to the run */
  {
    g_autoptr(GObject) gone = g_weak_ref_get (&weak);
    g_assert_null (gone);
  }
  g_weak_ref_clear (&weak);
  /* The thread notices and ends; events posted meanwhile are discarded. */
  WAIT_FOR (cs_run_n_active_threads () == 0);
  {
    gint64 t = g_get_monotonic_time () + 100 * 1000;
    WAIT_FOR (g_get_monotonic_time () > t);
  }
  cs_test_rm_rf (dir);
}

static void
test_divergent_run_fails (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  g_auto(CsRunSettings) settings = { 0 };
  g_autoptr(CsRunStore) reloaded = cs_run_store_new (dir);
  CsRun *run;
  Events ev;

  small_settings (&settings, "mlp");
  settings.name = g_strdup ("diverges");
  settings.hp.optim.lr = 1e3;
  run = cs_run_store_create (store, &settings, &error);
  g_assert_no_error (error);
  events_init (&ev);
  connect_events (run, &ev);
  g_assert_true (cs_run_start (run, small, &error));
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (run)));
  cs_run_join (run);

  g_assert_cmpint (cs_run_get_state (run), ==, CS_RUN_FAILED);
  g_assert_cmpstr (g_ptr_array_index (ev.log, ev.log->len - 1), ==, "failed");
  g_assert_nonnull (strstr (cs_run_get_message (run), "(lr 1000 is likely too high)"));
  g_assert_true (g_str_has_prefix (cs_run_get_message (run), "loss "));

  /* The failure and its message survive a restart. */
  g_assert_true (cs_run_store_load (reloaded, NULL, &error));
  {
    g_autoptr(CsRun) again = g_list_model_get_item (G_LIST_MODEL (reloaded), 0);
    g_assert_cmpint (cs_run_get_state (again), ==, CS_RUN_FAILED);
    g_assert_cmpstr (cs_run_get_message (again), ==, cs_run_get_message (run));
  }
  events_clear (&ev);
  cs_test_rm_rf (dir);
}

static void
test_corrupt_runs_skipped (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GPtrArray) warnings = NULL;
  g_autoptr(GError) error = NULL;
  static const char * const bad[] = {
    "{not json",
    "[1, 2, 3]",
    "{\"format\": \"something-else\"}",
    "{\"format\": \"convscope-run\", \"id\": \"x\"}",
    "{\"format\": \"convscope-run\", \"id\": 3, \"name\": \"n\"}",
  };
  CsRun *good = new_run (store, "lenet5", 1, 1);

  g_assert_nonnull (good);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *sub = g_strdup_printf ("%s/bad-%u", dir, i);
      g_autofree char *path = g_build_filename (sub, "run.json", NULL);
      g_mkdir (sub, 0755);
      g_assert_true (g_file_set_contents (path, bad[i], -1, NULL));
    }
  /* A directory without run.json and a stray file are foreign too. */
  {
    g_autofree char *sub = g_strdup_printf ("%s/empty", dir);
    g_autofree char *file = g_strdup_printf ("%s/notes.txt", dir);
    g_mkdir (sub, 0755);
    g_file_set_contents (file, "hello", -1, NULL);
  }

  g_assert_true (cs_run_store_load (store, &warnings, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 1);
  g_assert_cmpuint (warnings->len, ==, G_N_ELEMENTS (bad) + 1);
  for (guint i = 0; i < warnings->len; i++)
    {
      const char *w = g_ptr_array_index (warnings, i);
      if (g_test_verbose ())
        g_printerr ("  %s\n", w);
      g_assert_true (g_str_has_prefix (w, "skipped "));
    }
  cs_test_rm_rf (dir);
}

static void
test_csv_export (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  g_autofree char *csv = NULL;
  g_autofree char *saved = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_auto(GStrv) lines = NULL;
  CsRun *a = new_run (store, "mlp", 2, 1);
  CsRun *b = new_run (store, "mlp", 1, 2);
  CsRun *both[2];
  gsize len;

  g_assert_true (cs_run_start (a, small, &error));
  g_assert_true (cs_run_start (b, small, &error));
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (a)) && !cs_run_state_is_live (cs_run_get_state (b)));
  cs_run_join (a);
  cs_run_join (b);

  both[0] = a;
  both[1] = b;
  csv = cs_runs_to_csv (both, 2, &len);
  g_assert_cmpuint (len, ==, strlen (csv));
  g_assert_true (g_str_has_prefix (csv, cs_run_csv_header ()));
  lines = g_strsplit (csv, "\n", -1);
  /* A header, then one row per run and epoch (2 + 1), every row with every column. */
  g_assert_cmpuint (g_strv_length (lines), ==, 5);
  g_assert_cmpstr (lines[4], ==, "");
  for (guint i = 0; i < 4; i++)
    {
      g_auto(GStrv) cols = g_strsplit (lines[i], ",", -1);
      g_assert_cmpuint (g_strv_length (cols), ==, 28);
    }
  g_assert_true (g_str_has_prefix (lines[1], cs_run_get_id (a)));
  g_assert_true (g_str_has_prefix (lines[3], cs_run_get_id (b)));

  /* Its weights leave with the run's settings: what the app's Save writes. */
  saved = g_build_filename (dir, "saved.safetensors", NULL);
  g_assert_true (cs_run_save_weights (a, saved, CS_WRITE_USER_PATH, &error));
  g_assert_no_error (error);
  ckpt = cs_checkpoint_load (saved, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (ckpt->metadata, "run_id"), ==, cs_run_get_id (a));
  g_assert_cmpstr (g_hash_table_lookup (ckpt->metadata, "epoch"), ==, "2");
  g_assert_cmpstr (g_hash_table_lookup (ckpt->metadata, "spec"), ==, cs_run_get_spec (a)->text);
  {
    g_autofree char *acc = g_strdup_printf ("%.2f", cs_run_get_epoch (a, 1)->test_acc);
    g_assert_cmpstr (g_hash_table_lookup (ckpt->metadata, "test_accuracy"), ==, acc);
  }
  cs_test_rm_rf (dir);
}

/* A run that ends no better than guessing (the MLP at lr 10) did not learn:
 * it fails with the reason, its weights kept; a run that learns finishes. */
static void
test_chance_run_fails (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  g_auto(CsRunSettings) settings = { 0 };
  CsEpochResult guess = { 0 }, learnt = { 0 };
  CsRun *run;

  guess.test_acc = 10.28;
  learnt.test_acc = 91.0;
  g_assert_true (cs_run_result_is_chance (&guess));
  g_assert_false (cs_run_result_is_chance (&learnt));

  small_settings (&settings, "mlp");
  settings.hp.optim.lr = 10;
  settings.hp.epochs = 1;
  run = cs_run_store_create (store, &settings, &error);
  g_assert_no_error (error);
  g_assert_true (cs_run_start (run, small, &error));
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (run)));
  cs_run_join (run);
  g_assert_cmpuint (cs_run_get_n_epochs (run), ==, 1);
  g_assert_cmpint (cs_run_get_state (run), ==, CS_RUN_FAILED);
  g_assert_nonnull (strstr (cs_run_get_message (run), "did not learn: test accuracy"));
  g_assert_nonnull (strstr (cs_run_get_message (run), "no better than chance for 10 classes"));
  {
    g_autofree char *ckpt = cs_run_get_checkpoint_path (run);
    g_assert_true (g_file_test (ckpt, G_FILE_TEST_IS_REGULAR));
  }
  cs_test_rm_rf (dir);
}

/* Runs left unnamed are named by what tells them apart; a rename reaches
 * run.json, at once or (while training) at the thread's next write. */
static void
test_names_and_rename (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(CsRunStore) reloaded = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  CsRun *a = new_run (store, "mlp", 1, 1);
  CsRun *b = new_run (store, "mlp", 1, 1);
  CsRun *c = new_run (store, "mlp", 1, 2);
  CsRun *d = new_run (store, "mlp", 1, 1);
  g_auto(CsRunSettings) lr = { 0 };
  CsRun *e;

  g_assert_cmpstr (cs_run_get_name (a), ==, "MLP");
  g_assert_true (g_str_has_prefix (cs_run_get_name (b), "MLP · "));
  g_assert_cmpuint (strlen (cs_run_get_name (b)), ==, strlen ("MLP · 12:34"));
  g_assert_cmpstr (cs_run_get_name (c), ==, "MLP · seed 2");
  g_assert_true (g_str_has_suffix (cs_run_get_name (d), " (2)"));
  small_settings (&lr, "mlp");
  lr.hp.threads = 1;
  lr.hp.optim.lr = 0.1;
  e = cs_run_store_create (store, &lr, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cs_run_get_name (e), ==, "MLP · lr 0.1");
  {
    g_autofree char *about = cs_run_describe_settings (e);
    g_assert_nonnull (strstr (about, "SGD, lr 0.1"));
    g_assert_nonnull (strstr (about, "batch 100, 5 epochs, seed 1"));
  }

  /* A rename, before training and while it trains, is kept. */
  g_assert_false (cs_run_set_name (a, "   ", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (cs_run_set_name (a, "  baseline  ", &error));
  g_assert_cmpstr (cs_run_get_name (a), ==, "baseline");
  g_assert_true (cs_run_start (b, small, &error));
  WAIT_FOR (cs_run_get_state (b) == CS_RUN_RUNNING);
  g_assert_true (cs_run_set_name (b, "renamed while training", &error));
  g_assert_cmpstr (cs_run_get_name (b), ==, "renamed while training");
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (b)));
  cs_run_join (b);

  g_assert_true (cs_run_store_load (reloaded, NULL, &error));
  {
    CsRun *ra = cs_run_store_find (reloaded, cs_run_get_id (a), &error);   /* the store's */
    CsRun *rb = cs_run_store_find (reloaded, cs_run_get_id (b), &error);

    g_assert_no_error (error);
    g_assert_nonnull (ra);
    g_assert_nonnull (rb);
    g_assert_cmpstr (cs_run_get_name (ra), ==, "baseline");
    g_assert_cmpstr (cs_run_get_name (rb), ==, "renamed while training");
  }
  cs_test_rm_rf (dir);
}

/* A full disk while training: the person is told, training goes on, the previous files are intact. */
static void
test_save_failure_reported (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(CsRunStore) reloaded = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  CsRun *run = new_run (store, "mlp", 1, 1);
  g_autofree char *json_path = g_build_filename (cs_run_get_dir (run), "run.json", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gboolean told = FALSE;

  g_assert_true (g_file_get_contents (json_path, &before, NULL, NULL));
  cs_write_file_inject_failure (1, ENOSPC);
  g_assert_true (cs_run_start (run, small, &error));
  while (cs_run_state_is_live (cs_run_get_state (run)) || !told)
    {
      const char *m;
      g_main_context_iteration (NULL, TRUE);
      m = cs_run_get_message (run);
      if (m != NULL && strstr (m, "No space left on device") && strstr (m, "the previous file is intact"))
        told = TRUE;
      if (!cs_run_state_is_live (cs_run_get_state (run)) && !told)
        break;
    }
  cs_run_join (run);
  cs_write_file_inject_failure (0, 0);
  g_assert_true (told);
  /* Its only epoch's checkpoint was never saved: the run failed, and says why. */
  g_assert_cmpint (cs_run_get_state (run), ==, CS_RUN_FAILED);
  g_assert_nonnull (strstr (cs_run_get_message (run), "the final checkpoint could not be saved: "));
  /* Nothing was damaged: the run.json on disk is the last one written whole. */
  g_assert_true (g_file_get_contents (json_path, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, before);
  g_assert_true (cs_run_store_load (reloaded, NULL, &error));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (reloaded)), ==, 1);
  cs_test_rm_rf (dir);
}

/* The data directory disappearing mid-run does not stop it: the data set is in memory. */
static void
test_data_dir_vanishes (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *data_dir = make_tmpdir ();
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) copy = NULL;
  static const char * const files[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
  CsRun *run;

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *src = g_build_filename (mnist->dir, files[i], NULL);
      g_autofree char *dst = g_build_filename (data_dir, files[i], NULL);
      g_autoptr(GFile) a = g_file_new_for_path (src);
      g_autoptr(GFile) b = g_file_new_for_path (dst);
      g_assert_true (g_file_copy (a, b, G_FILE_COPY_NONE, NULL, NULL, NULL, &error));
    }
  copy = cs_dataset_load (data_dir, &error);
  g_assert_no_error (error);
  run = new_run (store, "mlp", 1, 1);
  g_assert_true (cs_run_start (run, copy, &error));
  cs_test_rm_rf (data_dir);
  WAIT_FOR (!cs_run_state_is_live (cs_run_get_state (run)));
  cs_run_join (run);
  g_assert_cmpint (cs_run_get_state (run), ==, CS_RUN_FINISHED);
  cs_test_rm_rf (dir);
}


/* #15: what someone else may have put in the runs directory. */
static char *
record_with (const char *good_json,
             const char *pattern,
             const char *replacement)
{
  g_autoptr(GRegex) re = g_regex_new (pattern, 0, 0, NULL);
  char *out = g_regex_replace (re, good_json, -1, 0, replacement, 0, NULL);
  g_assert_cmpstr (out, !=, good_json);
  return out;
}

static void
age (const char *path,
     int         seconds)
{
  struct utimbuf t = { time (NULL) - seconds, time (NULL) - seconds };
  g_assert_cmpint (utime (path, &t), ==, 0);
}

static gboolean
warned (GPtrArray  *warnings,
        const char *fragment)
{
  for (guint i = 0; i < warnings->len; i++)
    if (strstr (g_ptr_array_index (warnings, i), fragment) != NULL)
      return TRUE;
  return FALSE;
}

static void
test_hostile_runs_dir (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *victim = make_tmpdir ();
  g_autofree char *victim_file = g_build_filename (victim, "precious.txt", NULL);
  g_autoptr(CsRunStore) store = cs_run_store_new (dir);
  g_autoptr(GPtrArray) warnings = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *good_json = NULL;
  CsRun *good = new_run (store, "mlp", 1, 1);
  g_autofree char *good_path = g_build_filename (cs_run_get_dir (good), "run.json", NULL);
  gint64 t0;

  g_assert_true (g_file_get_contents (good_path, &good_json, NULL, NULL));
  g_assert_true (g_file_set_contents (victim_file, "keep me", -1, NULL));

  /* A run folder that is a link to a folder outside: skipped, and never emptied. */
  {
    g_autofree char *link = g_build_filename (dir, "20260101-000000-linked", NULL);
    g_autofree char *victim_json = g_build_filename (victim, "run.json", NULL);
    g_autoptr(CsRun) linked = NULL;

    g_assert_true (g_file_set_contents (victim_json, good_json, -1, NULL));
    g_assert_cmpint (symlink (victim, link), ==, 0);
    linked = cs_run_load (link, &error);
    g_assert_no_error (error);
    g_assert_false (cs_run_store_delete (store, linked, &error));
    g_assert_nonnull (strstr (error->message, "is a symbolic link, not a run folder"));
    g_clear_error (&error);
    g_assert_true (g_file_test (victim_file, G_FILE_TEST_IS_REGULAR));
    g_assert_true (g_file_test (victim_json, G_FILE_TEST_IS_REGULAR));
  }
  /* run.json as a FIFO, as a link to /dev/zero, nested deep, wrongly typed. */
  {
    static const struct { const char *name, *pattern, *replacement; } typed[] = {
      { "created-huge", "\"created\": [0-9]+", "\"created\": 1e300" },
      { "created-text", "\"created\": [0-9]+", "\"created\": \"yesterday\"" },
      { "epochs-text", "\"epochs\": \\[\\s*\\]", "\"epochs\": [{\"class_acc\": [\"x\"]}]" },
      { "epochs-row", "\"epochs\": \\[\\s*\\]", "\"epochs\": [{\"confusion\": [1, 2]}]" },
      { "epochs-count", "\"epochs\": \\[\\s*\\]", "\"epochs\": [{\"confusion\": [[-1]]}]" },
      { "batch-zero", "\"batch_size\": [0-9]+", "\"batch_size\": 0" },
    };
    g_autofree char *fifo_dir = g_build_filename (dir, "fifo", NULL);
    g_autofree char *fifo = g_build_filename (fifo_dir, "run.json", NULL);
    g_autofree char *zero_dir = g_build_filename (dir, "zero", NULL);
    g_autofree char *zero = g_build_filename (zero_dir, "run.json", NULL);
    g_autofree char *deep_dir = g_build_filename (dir, "deep", NULL);
    g_autofree char *deep = g_build_filename (deep_dir, "run.json", NULL);
    g_autoptr(GString) nest = g_string_new ("{\"a\":");

    g_mkdir (fifo_dir, 0755);
    g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
    g_mkdir (zero_dir, 0755);
    g_assert_cmpint (symlink ("/dev/zero", zero), ==, 0);
    g_mkdir (deep_dir, 0755);
    for (int k = 0; k < 100000; k++)
      g_string_append_c (nest, '[');
    g_assert_true (g_file_set_contents (deep, nest->str, -1, NULL));
    for (guint i = 0; i < G_N_ELEMENTS (typed); i++)
      {
        g_autofree char *sub = g_build_filename (dir, typed[i].name, NULL);
        g_autofree char *path = g_build_filename (sub, "run.json", NULL);
        g_autofree char *text = record_with (good_json, typed[i].pattern, typed[i].replacement);
        g_mkdir (sub, 0755);
        g_assert_true (g_file_set_contents (path, text, -1, NULL));
      }
    /* and a FIFO as another good run's .lock: listed, without a hang */
    {
      CsRun *good2 = new_run (store, "mlp", 1, 2);
      g_autofree char *lock = g_build_filename (cs_run_get_dir (good2), ".lock", NULL);
      g_assert_cmpint (mkfifo (lock, 0644), ==, 0);
    }
  }
  /* Left by a kill -9: a folder holding only a temporary run.json, and an old
   * temporary checkpoint beside a good run.json; a fresh one is a save in progress. */
  g_autofree char *orphan_dir = g_build_filename (dir, "20260101-000000-orphan", NULL);
  g_autofree char *orphan = g_build_filename (orphan_dir, ".run.json.Ab12Cd", NULL);
  g_autofree char *old_tmp = g_build_filename (cs_run_get_dir (good), ".checkpoint.safetensors.Zz99Yy", NULL);
  g_autofree char *new_tmp = g_build_filename (cs_run_get_dir (good), ".checkpoint.safetensors.Qq11Ww", NULL);
  g_mkdir (orphan_dir, 0755);
  g_assert_true (g_file_set_contents (orphan, "{", -1, NULL));
  age (orphan, 3600);
  age (orphan_dir, 3600);
  g_assert_true (g_file_set_contents (old_tmp, "half", -1, NULL));
  age (old_tmp, 3600);
  g_assert_true (g_file_set_contents (new_tmp, "half", -1, NULL));

  t0 = g_get_monotonic_time ();
  g_assert_true (cs_run_store_load (store, &warnings, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);   /* nothing hung */
  for (guint i = 0; g_test_verbose () && i < warnings->len; i++)
    g_printerr ("  %s\n", (char *) g_ptr_array_index (warnings, i));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 2);
  g_assert_true (warned (warnings, "20260101-000000-linked: a symbolic link, not a run folder"));
  g_assert_true (warned (warnings, "fifo/run.json is a FIFO, not a regular file"));
  g_assert_true (warned (warnings, "zero/run.json is a symbolic link, which is not followed here"));
  g_assert_true (warned (warnings, "deep/run.json: not valid JSON: nested more than 8 deep"));
  g_assert_true (warned (warnings, "created-huge/run.json: not a valid run record (\"created\" should be a whole number"));
  g_assert_true (warned (warnings, "created-text/run.json: not a valid run record (\"created\" should be a number)"));
  g_assert_true (warned (warnings, "epochs-text/run.json: not a valid run record (item 0 of \"class_acc\" should be a number)"));
  g_assert_true (warned (warnings, "epochs-row/run.json: row 0 of epoch 0's confusion matrix is not an array"));
  g_assert_true (warned (warnings, "epochs-count/run.json: epoch 0's confusion matrix holds -1, not a count"));
  g_assert_true (warned (warnings, "batch-zero/run.json: not a valid run record (\"batch_size\" should be a whole number from 1"));
  g_assert_false (warned (warnings, "orphan"));
  g_assert_cmpuint (warnings->len, ==, 10);
  g_assert_false (g_file_test (orphan_dir, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (old_tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (new_tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (victim_file, G_FILE_TEST_IS_REGULAR));

  cs_test_rm_rf (dir);
  cs_test_rm_rf (victim);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  mnist = cs_test_open_mnist ();
  small = cs_dataset_new_subset (mnist, 3000, 1000);

  g_test_add_func ("/core/run/events-in-order", test_events_in_order);
  g_test_add_func ("/core/run/events-on-main-thread", test_events_on_main_thread);
  g_test_add_func ("/core/run/pause-resume-stop", test_pause_resume_stop);
  g_test_add_func ("/core/run/concurrent-equals-solo", test_concurrent_equals_solo);
  g_test_add_func ("/core/run/drop-mid-training", test_drop_mid_training);
  g_test_add_func ("/core/run/divergent-run-fails", test_divergent_run_fails);
  g_test_add_func ("/core/run/chance-run-fails", test_chance_run_fails);
  g_test_add_func ("/core/run/names-and-rename", test_names_and_rename);
  g_test_add_func ("/core/run/corrupt-runs-skipped", test_corrupt_runs_skipped);
  g_test_add_func ("/core/run/csv-export", test_csv_export);
  g_test_add_func ("/core/run/save-failure-reported", test_save_failure_reported);
  g_test_add_func ("/core/run/data-dir-vanishes", test_data_dir_vanishes);
  g_test_add_func ("/core/run/hostile-runs-dir", test_hostile_runs_dir);

  ret = g_test_run ();
  cs_dataset_unref (small);
  cs_dataset_unref (mnist);
  return ret;
}
