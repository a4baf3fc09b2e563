/* base/: the thread pool (every task once, however pools come and go), the
 * RNG, the JSON writer's exact numbers, the atomic writer's all-or-nothing. */

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "base/cs-atomic-file-private.h"
#include "base/cs-json-writer.h"
#include "base/cs-rng.h"
#include "base/cs-thread-pool.h"
#include "cs-test-files.h"

static void
count_task (gpointer data,
            guint    task)
{
  gint *hits = data;
  g_atomic_int_inc (&hits[task]);
}

/* Every task runs exactly once, job after job, with helpers coming and going. */
static void
test_pool (void)
{
  g_autoptr(CsThreadPool) pool = cs_thread_pool_new (4);
  gint hits[257];

  for (guint round = 0; round < 2000; round++)
    {
      guint n = 1 + round % 257;
      memset (hits, 0, sizeof hits);
      if (round % 500 == 0)
        cs_thread_pool_set_active (pool, round % 1000 == 0);
      cs_thread_pool_run (pool, n, count_task, hits);
      for (guint t = 0; t < n; t++)
        g_assert_cmpint (hits[t], ==, 1);
    }
  cs_thread_pool_set_active (pool, FALSE);
}

/* Two pools driven from two threads while a third keeps switching them
 * active and idle (what concurrent runs and pausing do): every job still runs
 * each task exactly once and returns. Under ThreadSanitizer (tools/test) this
 * is also the race check of the pool's hand-offs. */
typedef struct
{
  CsThreadPool  *pool;
  guint    rounds;
  gint     failures;
} PoolDriver;

static gpointer
drive_pool (gpointer data)
{
  PoolDriver *d = data;
  gint hits[64];

  for (guint round = 0; round < d->rounds; round++)
    {
      guint n = 1 + round % 64;
      memset (hits, 0, sizeof hits);
      cs_thread_pool_run (d->pool, n, count_task, hits);
      for (guint t = 0; t < n; t++)
        if (g_atomic_int_get (&hits[t]) != 1)
          d->failures++;
    }
  return NULL;
}

static void
test_pool_concurrent (void)
{
  g_autoptr(CsThreadPool) a = cs_thread_pool_new (2);
  g_autoptr(CsThreadPool) b = cs_thread_pool_new (3);
  PoolDriver da = { a, 20000, 0 }, db = { b, 20000, 0 };
  GThread *ta = g_thread_new ("drive-a", drive_pool, &da);
  GThread *tb = g_thread_new ("drive-b", drive_pool, &db);

  for (guint i = 0; i < 200; i++)
    {
      cs_thread_pool_set_active (i % 2 ? a : b, i % 3 != 0);
      g_usleep (200);
    }
  g_thread_join (ta);
  g_thread_join (tb);
  g_assert_cmpint (da.failures, ==, 0);
  g_assert_cmpint (db.failures, ==, 0);
  cs_thread_pool_set_active (a, FALSE);
  cs_thread_pool_set_active (b, FALSE);
}

static void
test_rng (void)
{
  CsRng a, b;
  guint32 items[100];
  gboolean seen[100] = { 0 };

  cs_rng_seed (&a, 42, 7);
  cs_rng_seed (&b, 42, 7);
  for (int i = 0; i < 1000; i++)
    g_assert_cmpuint (cs_rng_next (&a), ==, cs_rng_next (&b));
  cs_rng_seed (&b, 43, 7);
  g_assert_cmpuint (cs_rng_next (&a), !=, cs_rng_next (&b));

  for (guint i = 0; i < 100; i++)
    items[i] = i;
  cs_rng_shuffle (&a, items, 100);
  for (guint i = 0; i < 100; i++)
    {
      g_assert_false (seen[items[i]]);
      seen[items[i]] = TRUE;
    }
  for (int i = 0; i < 10000; i++)
    {
      float u = cs_rng_uniform (&a);
      g_assert_cmpfloat (u, >=, 0.0f);
      g_assert_cmpfloat (u, <, 1.0f);
      g_assert_cmpuint (cs_rng_below (&a, 7), <, 7);
    }
}

/* What json-glib 1.6 gets wrong (1e-08 as "1e-08.0") comes out as JSON that
 * parses back to the same doubles; strings are escaped; nesting closes. */
static void
test_json_writer (void)
{
  static const double values[] = { 1e-08, 0.1, -2.5, 1e300, 123456789.0, 0.0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  CsJsonWriter w;
  JsonObject *root;
  JsonArray *nums;

  cs_json_writer_init (&w);
  cs_json_writer_open (&w, '{', TRUE);
  cs_json_writer_str (&w, "name", "a \"quoted\"\nline\t\x01");
  cs_json_writer_str (&w, "none", NULL);
  cs_json_writer_num (&w, "nan", NAN);
  cs_json_writer_int (&w, "big", G_GINT64_CONSTANT (9007199254740993));
  cs_json_writer_inline_begin (&w, "values");
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    cs_json_writer_inline_num (&w, values[i]);
  cs_json_writer_inline_end (&w);
  cs_json_writer_key (&w, "inner");
  cs_json_writer_open (&w, '[', TRUE);
  cs_json_writer_open (&w, '{', FALSE);
  cs_json_writer_int (&w, "x", 1);
  cs_json_writer_close (&w, '}');
  cs_json_writer_close (&w, ']');
  cs_json_writer_close (&w, '}');
  text = cs_json_writer_finish (&w);

  g_assert_null (strstr (text, "e-08.0"));
  g_assert_true (g_str_has_suffix (text, "}\n"));
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "name"), ==, "a \"quoted\"\nline\t\x01");
  g_assert_true (json_object_get_null_member (root, "none"));
  g_assert_true (json_object_get_null_member (root, "nan"));
  g_assert_cmpint (json_object_get_int_member (root, "big"), ==, G_GINT64_CONSTANT (9007199254740993));
  nums = json_object_get_array_member (root, "values");
  g_assert_cmpuint (json_array_get_length (nums), ==, G_N_ELEMENTS (values));
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    g_assert_cmpfloat (json_node_get_double (json_array_get_element (nums, i)), ==, values[i]);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (json_object_get_array_member (root, "inner"), 0),
                                               "x"), ==, 1);
}

/* A write that fails half-way (disk full) leaves the old file as it was and
 * no temporary file beside it; the error names the file and says why. */
static void
test_atomic_write (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cs-test-base-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "run.json", NULL);
  g_autofree char *big = g_strnfill (200000, 'x');
  g_autofree char *back = NULL;
  g_autoptr(GDir) d = NULL;
  const char *name;
  guint n = 0;

  g_assert_true (cs_write_file_atomic (path, "old", 3, &error));
  g_assert_no_error (error);
  cs_write_file_inject_failure (100000, ENOSPC);
  g_assert_false (cs_write_file_atomic (path, big, strlen (big), &error));
  cs_write_file_inject_failure (0, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_true (g_file_get_contents (path, &back, NULL, NULL));
  g_assert_cmpstr (back, ==, "old");
  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_assert_false (cs_write_file_is_temp_name (name));
      n++;
    }
  g_assert_cmpuint (n, ==, 1);
  g_assert_true (cs_write_file_is_temp_name (".run.json.AB12cd"));
  g_assert_false (cs_write_file_is_temp_name ("run.json"));
  cs_test_rm_rf (dir);
}

/* Scratch: zeros for a new layout; the same layout gets the buffer back as
 * it was left (its unwritten floats still zero); a nested request, or one
 * for another slot, a buffer of its own; a big one is freed on release. */
typedef struct
{
  float *first;
} ScratchSeen;

static gpointer
scratch_thread (gpointer data)
{
  ScratchSeen *seen = data;
  const int key[] = { 16, 28, 28, 1 };
  float *p = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, key, G_N_ELEMENTS (key), 100);

  /* Another thread's buffer: its own, and zeros. */
  g_assert_true (p != seen->first);
  for (int i = 0; i < 100; i++)
    g_assert_cmpfloat (p[i], ==, 0.0f);
  cs_scratch_release (CS_SCRATCH_CONV_PAD, p);
  return NULL;
}

static void
test_scratch (void)
{
  const int key[] = { 16, 28, 28, 1 }, other[] = { 16, 28, 28, 2 };
  float *p, *q, *r, *big;
  ScratchSeen seen = { 0 };
  GThread *t;
  gsize before;

  p = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, key, G_N_ELEMENTS (key), 100);
  for (int i = 0; i < 100; i++)
    g_assert_cmpfloat (p[i], ==, 0.0f);
  g_assert_cmpuint ((guintptr) p % 64, ==, 0);
  p[3] = 7.0f;
  /* Nested, same slot and key: another buffer, zeros. */
  q = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, key, G_N_ELEMENTS (key), 100);
  g_assert_true (q != p);
  g_assert_cmpfloat (q[3], ==, 0.0f);
  cs_scratch_release (CS_SCRATCH_CONV_PAD, q);
  cs_scratch_release (CS_SCRATCH_CONV_PAD, p);

  /* The same layout again: the same buffer, as it was left. */
  r = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, key, G_N_ELEMENTS (key), 80);
  g_assert_true (r == p);
  g_assert_cmpfloat (r[3], ==, 7.0f);
  g_assert_cmpfloat (r[4], ==, 0.0f);
  cs_scratch_release (CS_SCRATCH_CONV_PAD, r);
  /* Another layout, or another slot: zeros. */
  r = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, other, G_N_ELEMENTS (other), 100);
  g_assert_cmpfloat (r[3], ==, 0.0f);
  cs_scratch_release (CS_SCRATCH_CONV_PAD, r);
  r = cs_scratch_acquire (CS_SCRATCH_CONV_CHUNK_PAD, key, G_N_ELEMENTS (key), 100);
  g_assert_cmpfloat (r[3], ==, 0.0f);
  cs_scratch_release (CS_SCRATCH_CONV_CHUNK_PAD, r);

  seen.first = p;
  t = g_thread_new ("scratch", scratch_thread, &seen);
  g_thread_join (t);

  /* Over 4 MB: not kept. */
  before = cs_allocated_bytes ();
  big = cs_scratch_acquire (CS_SCRATCH_CONV_PAD, key, G_N_ELEMENTS (key), 2 * 1024 * 1024);
  g_assert_cmpuint (cs_allocated_bytes (), >, before);
  cs_scratch_release (CS_SCRATCH_CONV_PAD, big);
  g_assert_cmpuint (cs_allocated_bytes (), ==, before);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/base/thread-pool/every-task-once", test_pool);
  g_test_add_func ("/core/base/thread-pool/concurrent-pools", test_pool_concurrent);
  g_test_add_func ("/core/base/rng/deterministic", test_rng);
  g_test_add_func ("/core/base/scratch/kept-per-layout", test_scratch);
  g_test_add_func ("/core/base/json-writer/exact-and-valid", test_json_writer);
  g_test_add_func ("/core/base/atomic-file/all-or-nothing", test_atomic_write);

  return g_test_run ();
}
