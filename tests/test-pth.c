/* formats/: PyTorch .pth files: PyTorch's own logits reproduced, strided views, and hostile zips, pickles and tensors refused. */

#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "cs-test-checkpoint.h"
#include "cs-test-files.h"
#include "cs-test-mnist.h"
#include "cs-test-zip.h"
#include "base/cs-atomic-file-private.h"
#include "formats/cs-checkpoint.h"
#include "formats/cs-pth.h"
#include "data/cs-dataset.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-presets.h"

static void
load_logits (const char *name,
             float      *logits)
{
  g_autofree char *path = data_path (name);
  g_autofree char *text = NULL;
  g_auto(GStrv) tokens = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_strdelimit (text, "\n", ' ');
  tokens = g_strsplit (text, " ", -1);
  for (guint i = 0; tokens[i]; i++)
    if (tokens[i][0] != '\0')
      logits[n++] = (float) g_ascii_strtod (tokens[i], NULL);
  g_assert_cmpuint (n, ==, 160);
}

static void
check_pytorch_file (const char *file,
                    const char *logits_file,
                    const char *expected_preset)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = data_path (file);
  g_autoptr(CsCheckpoint) ckpt = cs_checkpoint_load (path, &error);
  g_autoptr(CsSpec) spec = NULL;
  g_autoptr(CsModel) model = NULL;
  g_autofree char *preset = NULL;
  g_autofree float *x = test_images (16);
  float want[160];
  const float *got;

  g_assert_no_error (error);
  g_assert_cmpstr (ckpt->format, ==, "pytorch");
  spec = cs_checkpoint_infer_spec (ckpt, NULL, &preset, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (preset, ==, expected_preset);
  model = cs_model_new (spec);
  g_assert_true (cs_checkpoint_apply (ckpt, model, &error));
  g_assert_no_error (error);

  load_logits (logits_file, want);
  got = cs_model_forward (model, x, 16, FALSE, NULL);
  for (int i = 0; i < 160; i++)
    if (fabsf (got[i] - want[i]) > 1e-4f)
      g_error ("%s: logit %d: Convscope %.7g, PyTorch %.7g", file, i, got[i], want[i]);
}

/* torch.save(model.state_dict(), ...) of the notebook's own LeNet5: PyTorch's logits within 1e-4. */
static void
test_pytorch_lenet5 (void)
{
  check_pytorch_file ("lenet5-notebook.pth", "lenet5-notebook-logits.txt", "lenet5");
}

/* Tensors that are views: storage offsets and strides honoured. */
static void
test_pytorch_strided (void)
{
  check_pytorch_file ("mlp-strided.pth", "mlp-strided-logits.txt", "mlp");
}

/* Rewrites a zip with one entry dropped or damaged, through Python-free byte surgery on our own fixture. */
static char *
pth_variant (const char *name,
             gsize       cut_at)
{
  g_autofree char *src = data_path ("lenet5-notebook.pth");
  g_autofree char *bytes = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (src, &bytes, &len, NULL));
  return write_tmp (name, bytes, MIN (cut_at, len));
}

static void
test_bad_pth (void)
{
  g_autofree char *evil = data_path ("evil-os-system.pth");
  g_autofree char *truncated = pth_variant ("truncated.pth", 100000);
  g_autoptr(GError) error = NULL;
  g_autofree char *src = data_path ("lenet5-notebook.pth");
  g_autofree char *bytes = NULL;
  gsize len;

  /* The pickle names os.system: refused, and nothing was run. */
  g_unlink ("/tmp/convscope-pickle-was-executed!!");
  expect_load_error (evil, CS_CHECKPOINT_ERROR_FORBIDDEN, "the pickle asks for os.system");
  g_assert_false (g_file_test ("/tmp/convscope-pickle-was-executed!!", G_FILE_TEST_EXISTS));

  expect_load_error (truncated, CS_CHECKPOINT_ERROR_FORMAT, "no end of central directory");

  /* A zip whose data entry is missing: rename "data/3" in place so the name no
   * longer matches. (Inside the archive its folder keeps the name torch.save
   * gave it when the fixture was made, lenet5-seed.) */
  g_assert_true (g_file_get_contents (src, &bytes, &len, NULL));
  {
    gsize replaced = 0;
    for (gsize i = 0; i + 13 < len; i++)
      if (memcmp (bytes + i, "lenet5-seed/data/3", 18) == 0 && (i + 18 >= len || bytes[i + 18] != '/'))
        {
          bytes[i + 17] = 'X';
          replaced++;
        }
    g_assert_cmpuint (replaced, >=, 2);   /* local header and central directory */
  }
  {
    g_autofree char *missing = write_tmp ("missing-entry.pth", bytes, len);
    expect_load_error (missing, CS_CHECKPOINT_ERROR_FORMAT, "needs the zip entry lenet5-seed/data/3, which is missing");
  }

  /* Damaged pickle bytes fail the CRC check. */
  g_free (bytes);
  g_assert_true (g_file_get_contents (src, &bytes, &len, NULL));
  {
    char *pkl = memmem (bytes, len, "conv1.weight", 12);
    g_assert_nonnull (pkl);
    pkl[0] = 'K';
    {
      g_autofree char *damaged = write_tmp ("damaged.pth", bytes, len);
      expect_load_error (damaged, CS_CHECKPOINT_ERROR_FORMAT, "is damaged (its CRC does not match)");
    }
  }
}

/* A .pth-like zip file of stored entries (tests/cs-test-zip.h). */
static char *
make_zip_n (const char         *file,
            const char * const *names,
            GBytes * const     *datas,
            guint               n)
{
  g_autoptr(GByteArray) z = cs_test_zip (names, datas, n);
  return write_tmp (file, z->data, z->len);
}

static char *
make_zip (const char   *file,
          const char   *entry,
          const guint8 *data,
          gsize         len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  const char *names[] = { entry };
  GBytes *datas[] = { bytes };
  return make_zip_n (file, names, datas, 1);
}

static void
test_hostile_pickles (void)
{
  static const struct
  {
    const char *pickle;
    gsize       len;
    int         code;
    const char *fragment;
  } cases[] = {
    { "\x80\x02" "cbuiltins\neval\nq\x00.", 20, CS_CHECKPOINT_ERROR_FORBIDDEN, "asks for builtins.eval" },
    { "\x80\x02" "c__main__\nLeNet5\nq\x00.", 21, CS_CHECKPOINT_ERROR_FORBIDDEN, "a whole pickled model" },
    { "\x80\x02" "csubprocess\nPopen\n)R.", 23, CS_CHECKPOINT_ERROR_FORBIDDEN, "asks for subprocess.Popen" },
    { "\x80\x02" "}q\x00(X\x01\x00\x00\x00a", 12, CS_CHECKPOINT_ERROR_FORMAT, "the pickle ends early" },
    { "\x80\x02" "h\x07.", 5, CS_CHECKPOINT_ERROR_FORMAT, "reads memo 7 before writing it" },
    { "\x80\x02" "t.", 4, CS_CHECKPOINT_ERROR_FORMAT, "no MARK" },
    { "\x80\x02" "\xff.", 4, CS_CHECKPOINT_ERROR_UNSUPPORTED, "opcode 0xff" },
    { "\x80\x02" "}.", 4, CS_CHECKPOINT_ERROR_UNSUPPORTED, "holds no state_dict" },
    { "\x80\x02" "s.", 4, CS_CHECKPOINT_ERROR_FORMAT, "pops an empty stack" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("hostile-%u.pth", i);
      g_autofree char *path = make_zip (name, "archive/data.pkl", (const guint8 *) cases[i].pickle, cases[i].len);
      expect_load_error (path, cases[i].code, cases[i].fragment);
    }
  {
    g_autofree char *path = make_zip ("no-pkl.pth", "archive/other.txt", (const guint8 *) "hi", 2);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "not one torch.save wrote");
  }
  /* Found by fuzzing: a 52-byte "ZIP64" file whose size checks wrapped round. */
  {
    g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fuzz", "corpus", "pth", "regression-zip64-short.pth", NULL);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "the ZIP64 end record is missing or out of range");
  }
}

/* A protocol-2 pickle written as torch.save writes a state_dict. */
static void
pk_str (GByteArray *a,
        const char *s)
{
  guint8 op = 'X';
  g_byte_array_append (a, &op, 1);
  cs_test_put32 (a, strlen (s));
  g_byte_array_append (a, (const guint8 *) s, strlen (s));
}

static void
pk_op (GByteArray *a,
       const char *ops)
{
  g_byte_array_append (a, (const guint8 *) ops, strlen (ops));
}

static void
pk_int (GByteArray *a,
        gint64      v)
{
  if (v >= 0 && v < 256)
    {
      guint8 b[2] = { 'K', (guint8) v };
      g_byte_array_append (a, b, 2);
    }
  else
    {
      guint8 b[10] = { 0x8a, 8 };
      for (int k = 0; k < 8; k++)
        b[2 + k] = (guint8) ((guint64) v >> (8 * k));
      g_byte_array_append (a, b, 10);
    }
}

/* key -> _rebuild_tensor_v2 (storage @skey of @snumel floats, offset, size, stride). */
static void
pk_tensor (GByteArray   *a,
           const char   *key,
           const char   *skey,
           gint64        snumel,
           gint64        offset,
           int           ndim,
           const gint64 *size,
           const gint64 *stride)
{
  pk_str (a, key);
  pk_op (a, "ctorch._utils\n_rebuild_tensor_v2\n(");
  pk_op (a, "(");
  pk_str (a, "storage");
  pk_op (a, "ctorch\nFloatStorage\n");
  pk_str (a, skey);
  pk_str (a, "cpu");
  pk_int (a, snumel);
  pk_op (a, "tQ");
  pk_int (a, offset);
  pk_op (a, "(");
  for (int d = 0; d < ndim; d++)
    pk_int (a, size[d]);
  pk_op (a, "t(");
  for (int d = 0; d < ndim; d++)
    pk_int (a, stride[d]);
  pk_op (a, "t\x89" "ccollections\nOrderedDict\n)Rt" "R");
}

static GByteArray *
pk_begin (void)
{
  GByteArray *a = g_byte_array_new ();
  pk_op (a, "\x80\x02" "ccollections\nOrderedDict\n)R(");
  return a;
}

static void
pk_end (GByteArray *a)
{
  pk_op (a, "u.");
}

/* A .pth of one pickle and one float storage "0" of @n floats (k/8 each). */
static char *
make_pth (const char *file,
          GByteArray *pickle,
          gsize       n)
{
  g_autofree float *floats = g_new (float, MAX (n, 1));
  g_autoptr(GBytes) pkl = g_bytes_new (pickle->data, pickle->len);
  g_autoptr(GBytes) data = NULL;
  const char *names[] = { "archive/data.pkl", "archive/data/0" };
  GBytes *datas[2];

  for (gsize k = 0; k < n; k++)
    floats[k] = k / 8.0f;
  data = g_bytes_new (floats, n * sizeof (float));
  datas[0] = pkl;
  datas[1] = data;
  return make_zip_n (file, names, datas, 2);
}

static void
test_hostile_tensors (void)
{
  static const struct
  {
    int         ndim;
    gint64      size[3];
    gint64      stride[3];
    gint64      offset;
    const char *fragment;
  } cases[] = {
    /* numel overflows 64 bits: once wrote past a heap buffer */
    { 3, { G_MAXINT32, G_MAXINT32, G_MAXINT32 }, { 0, 0, 0 }, 0, "invalid size or stride in dimension 2" },
    /* strides that wrap round to a small index: once read outside the storage */
    { 3, { 2, 2, 2 }, { G_MAXINT64, G_MAXINT64, 2 }, 0, "strides reach past 2^64" },
    { 1, { 5 }, { G_MAXINT64 / 2 + 1 }, 0, "strides reach past 2^64" },
    /* stride 0: one float as a 1 GB tensor */
    { 1, { 250000000 }, { 0 }, 0, "has 250000000 elements but its storage only 4" },
    /* past the end, and a negative stride */
    { 1, { 4 }, { 1 }, 1, "reaches element 4 of a storage of 4" },
    { 1, { 2 }, { -1 }, 1, "invalid size or stride in dimension 0" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) pk = pk_begin ();
      g_autofree char *name = g_strdup_printf ("tensor-%u.pth", i);
      g_autofree char *path = NULL;

      pk_tensor (pk, "w", "0", 4, cases[i].offset, cases[i].ndim, cases[i].size, cases[i].stride);
      pk_end (pk);
      path = make_pth (name, pk, 4);
      expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, cases[i].fragment);
    }

  /* The well-formed view next to them loads, values gathered by stride. */
  {
    g_autoptr(GByteArray) pk = pk_begin ();
    g_autoptr(GError) error = NULL;
    g_autoptr(CsCheckpoint) ckpt = NULL;
    g_autofree char *path = NULL;
    const gint64 size[2] = { 2, 2 }, stride[2] = { 1, 2 };
    const CsTensor *t;

    pk_tensor (pk, "w", "0", 4, 0, 2, size, stride);
    pk_end (pk);
    path = make_pth ("tensor-ok.pth", pk, 4);
    ckpt = cs_checkpoint_load (path, &error);
    g_assert_no_error (error);
    t = cs_checkpoint_find (ckpt, "w");
    g_assert_nonnull (t);
    g_assert_cmpfloat (t->data[1], ==, 2 / 8.0f);   /* [0][1] = storage[2] */
    g_assert_cmpfloat (t->data[2], ==, 1 / 8.0f);
  }

  /* Many views of one storage may not add up to more than the file can hold. */
  {
    g_autoptr(GByteArray) pk = pk_begin ();
    g_autofree char *path = NULL;
    const gint64 size[1] = { 65536 }, stride[1] = { 1 };

    for (int k = 0; k < 200; k++)
      {
        g_autofree char *key = g_strdup_printf ("w%d", k);
        pk_tensor (pk, key, "0", 65536, 0, 1, size, stride);
      }
    pk_end (pk);
    path = make_pth ("many-views.pth", pk, 65536);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "more memory than a file of this size can hold");
  }
}

static void
test_pickle_limits (void)
{
  /* 200,000 nested TUPLE1s: once overflowed the C stack when freed. */
  {
    g_autoptr(GByteArray) pk = g_byte_array_new ();
    g_autofree char *path = NULL;

    pk_op (pk, "\x80\x02N");
    for (int k = 0; k < 200000; k++)
      pk_op (pk, "\x85");
    pk_op (pk, ".");
    path = make_pth ("nested.pth", pk, 0);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "objects nested more than 64 deep");
  }
  /* A 10 MB pickle of empty lists: once took 1 GB; now stops at its budget. */
  {
    gsize n = 10 * 1000 * 1000;
    g_autoptr(GByteArray) pk = g_byte_array_sized_new (n + 8);
    g_autofree char *path = NULL;

    /* one list, then APPENDS of 1,000 empty lists at a time, as a pickler writes them */
    pk_op (pk, "\x80\x02]");
    while (pk->len + 1003 < n)
      {
        gsize at = pk->len;
        g_byte_array_set_size (pk, at + 1002);
        pk->data[at] = '(';
        memset (pk->data + at + 1, ']', 1000);
        pk->data[at + 1001] = 'e';
      }
    pk_op (pk, ".");
    path = make_pth ("big.pth", pk, 0);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "unpickling it would take more than");
  }
  /* Two million Nones left on the stack (they cost nothing): the stack has its own bound. */
  {
    gsize n = 2 * 1000 * 1000;
    g_autoptr(GByteArray) pk = g_byte_array_sized_new (n + 8);
    g_autofree char *path = NULL;

    pk_op (pk, "\x80\x02");
    g_byte_array_set_size (pk, n);
    memset (pk->data + 2, 'N', n - 3);
    pk->data[n - 1] = '.';
    path = make_pth ("tall.pth", pk, 0);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "the pickle's stack grows past 1048576 items");
  }
  /* A list that holds itself: no recursion, no leak (LeakSanitizer checks in CI). */
  {
    g_autoptr(GByteArray) pk = g_byte_array_new ();
    g_autofree char *path = NULL;

    static const guint8 cycle[] = { 0x80, 0x02, ']', 'q', 0x00, 'h', 0x00, 'a', '.' };
    g_byte_array_append (pk, cycle, sizeof cycle);
    path = make_pth ("cycle.pth", pk, 0);
    expect_load_error (path, CS_CHECKPOINT_ERROR_UNSUPPORTED, "holds no state_dict");
  }
  /* Too many MARKs open at once, and a zip that names an entry twice. */
  {
    g_autoptr(GByteArray) pk = g_byte_array_new ();
    g_autofree char *path = NULL;

    pk_op (pk, "\x80\x02");
    for (int k = 0; k < 5000; k++)
      pk_op (pk, "(");
    pk_op (pk, ".");
    path = make_pth ("marks.pth", pk, 0);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "more than 4096 MARKs open at once");
  }
  {
    g_autoptr(GBytes) a = g_bytes_new_static ("\x80\x02}.", 4);
    const char *names[] = { "archive/data.pkl", "archive/data.pkl" };
    GBytes *datas[] = { a, a };
    g_autofree char *path = make_zip_n ("twice.pth", names, datas, 2);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "the zip entry archive/data.pkl appears twice");
  }
}

/* 100,000 tensors (views of one storage, as a real file's would be separate):
 * linear time, where the name lookups once made it quadratic (minutes). */
static void
test_many_tensors (void)
{
  guint n = 100000;
  g_autoptr(GByteArray) pk = pk_begin ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_autofree char *path = NULL;
  const gint64 size[1] = { 1 }, stride[1] = { 1 };
  gint64 t0;

  for (guint k = 0; k < n; k++)
    {
      g_autofree char *key = g_strdup_printf ("layer%u.weight", k);
      /* torch.save's pickler closes SETITEMS every 1,000 items */
      if (k > 0 && k % 1000 == 0)
        pk_op (pk, "u(");
      pk_tensor (pk, key, "0", n, k, 1, size, stride);
    }
  pk_end (pk);
  path = make_pth ("many.pth", pk, n);
  t0 = g_get_monotonic_time ();
  ckpt = cs_checkpoint_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ckpt->tensors->len, ==, n);
  g_assert_cmpfloat (cs_checkpoint_find (ckpt, "layer99999.weight")->data[0], ==, 99999 / 8.0f);
  if (g_test_verbose ())
    g_printerr ("  %u tensors, pickle %u bytes, loaded in %.2f s\n", n, pk->len,
                (g_get_monotonic_time () - t0) / 1e6);

  /* The same number in a safetensors header. */
  {
    g_autoptr(GString) h = g_string_new ("{");
    g_autoptr(CsCheckpoint) st = NULL;
    g_autofree char *spath = NULL;

    for (guint k = 0; k < 80000; k++)
      g_string_append_printf (h, "%s\"t%u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%u,%u]}",
                              k ? "," : "", k, 4 * k, 4 * k + 4);
    g_string_append_c (h, '}');
    spath = make_safetensors ("many.safetensors", h->str, 4 * 80000, -1);
    st = cs_checkpoint_load (spath, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (st->tensors->len, ==, 80000);
    g_assert_cmpstr (((CsTensor *) g_ptr_array_index (st->tensors, 79999))->name, ==, "t79999");
  }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CsThreadPool) pool = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  cs_test_require_mnist ();
  pool = cs_thread_pool_new (2);
  cs_thread_pool_set_current (pool);
  tmpdir = g_dir_make_tmp ("cs-test-ckpt-XXXXXX", NULL);

  g_test_add_func ("/core/pth/pytorch-lenet5-logits", test_pytorch_lenet5);
  g_test_add_func ("/core/pth/pytorch-strided-views", test_pytorch_strided);
  g_test_add_func ("/core/pth/bad-pth", test_bad_pth);
  g_test_add_func ("/core/pth/hostile-pickles", test_hostile_pickles);
  g_test_add_func ("/core/pth/hostile-tensors", test_hostile_tensors);
  g_test_add_func ("/core/pth/pickle-limits", test_pickle_limits);
  g_test_add_func ("/core/pth/many-tensors", test_many_tensors);

  ret = g_test_run ();
  cs_test_rm_rf (tmpdir);
  g_free (tmpdir);
  return ret;
}
