/* formats/: safetensors read and written, checkpoints opened as models and saved; every bad file refused with its reason. */

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
test_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsModel) a = random_model ("lenet5", 1);
  g_autoptr(CsModel) b = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_autoptr(GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *path = tmp_path ("round.safetensors");
  g_autofree float *x = test_images (16);
  g_autofree float *out_a = NULL;
  const float *out_b;

  g_hash_table_insert (meta, (char *) "note", (char *) "quotes \" and\nnewlines survive");
  g_assert_true (cs_checkpoint_save (path, a, NULL, meta, &error));
  g_assert_no_error (error);

  ckpt = cs_checkpoint_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ckpt->format, ==, "safetensors");
  g_assert_cmpuint (ckpt->tensors->len, ==, 10);
  g_assert_cmpstr (g_hash_table_lookup (ckpt->metadata, "note"), ==, "quotes \" and\nnewlines survive");
  g_assert_cmpstr (((CsTensor *) g_ptr_array_index (ckpt->tensors, 0))->name, ==, "conv1.weight");

  b = cs_checkpoint_to_model (ckpt, NULL, &error);   /* matched to the lenet5 preset by its tensors */
  g_assert_no_error (error);
  g_assert_cmpmem (cs_model_params (a), cs_model_n_params (a) * 4, cs_model_params (b), cs_model_n_params (b) * 4);
  out_a = g_memdup2 (cs_model_forward (a, x, 16, FALSE, NULL), 160 * sizeof (float));
  out_b = cs_model_forward (b, x, 16, FALSE, NULL);
  g_assert_cmpmem (out_a, 160 * sizeof (float), out_b, 160 * sizeof (float));
}

/* A file whose metadata carries a spec builds its own model. */
static void
test_spec_in_metadata (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_parse ("input 1x28x28\nflat = nn.Flatten()\nhead = nn.Linear(784, 12)\n", NULL);
  g_autoptr(CsModel) model = cs_model_new (spec);
  g_autoptr(GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_autoptr(CsModel) back = NULL;
  g_autofree char *path = tmp_path ("spec.safetensors");

  g_hash_table_insert (meta, (char *) "spec", spec->text);
  g_assert_true (cs_checkpoint_save (path, model, NULL, meta, &error));
  ckpt = cs_checkpoint_load (path, &error);
  g_assert_no_error (error);
  back = cs_checkpoint_to_model (ckpt, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cs_model_n_outputs (back), ==, 12);
}

static void
test_bad_safetensors (void)
{
  static const struct
  {
    const char *header;
    gsize       data_len;
    gint64      claimed;
    int         code;
    const char *fragment;
  } cases[] = {
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 4000, CS_CHECKPOINT_ERROR_FORMAT,
      "the header length 4000 runs past the end of the file" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, -1, CS_CHECKPOINT_ERROR_FORMAT,
      "the header is not valid JSON" },
    { "[1, 2]", 0, -1, CS_CHECKPOINT_ERROR_FORMAT, "neither a safetensors file nor a PyTorch .pth" },
    { "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1, CS_CHECKPOINT_ERROR_FORMAT,
      "has the unknown dtype \"Q7\"" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, -1,
      CS_CHECKPOINT_ERROR_FORMAT, "dimension 0 of its shape is not a valid size" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", 8, -1,
      CS_CHECKPOINT_ERROR_FORMAT, "overflows 64 bits" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
      12, -1, CS_CHECKPOINT_ERROR_FORMAT, "overlaps the tensor before it" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
      20, -1, CS_CHECKPOINT_ERROR_FORMAT, "4 bytes before tensor \"b\" belong to no tensor" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, -1, CS_CHECKPOINT_ERROR_FORMAT,
      "run past the data" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, -1, CS_CHECKPOINT_ERROR_FORMAT,
      "4 bytes after the last tensor belong to no tensor" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1, CS_CHECKPOINT_ERROR_FORMAT,
      "F32 [3] needs 12 bytes but its data_offsets span 8" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, -1, CS_CHECKPOINT_ERROR_FORMAT,
      "is before begin" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
      8, -1, CS_CHECKPOINT_ERROR_FORMAT, "appears twice in one object" },
    { "{\"__metadata__\":{\"epoch\":3},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
      CS_CHECKPOINT_ERROR_FORMAT, "__metadata__ value \"epoch\" is not a string" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, -1, CS_CHECKPOINT_ERROR_FORMAT, "has no valid data_offsets" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1, CS_CHECKPOINT_ERROR_FORMAT,
      "not a valid size" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("bad-%u.safetensors", i);
      g_autofree char *path = make_safetensors (name, cases[i].header, cases[i].data_len, cases[i].claimed);
      expect_load_error (path, cases[i].code, cases[i].fragment);
    }

  /* Truncated: a real file cut short. */
  {
    g_autoptr(CsModel) m = random_model ("lenet5", 2);
    g_autofree char *good = tmp_path ("good.safetensors");
    g_autofree char *bytes = NULL;
    g_autofree char *cut = NULL;
    gsize len;

    g_assert_true (cs_checkpoint_save (good, m, NULL, NULL, NULL));
    g_assert_true (g_file_get_contents (good, &bytes, &len, NULL));
    cut = write_tmp ("cut.safetensors", bytes, len - 100);
    expect_load_error (cut, CS_CHECKPOINT_ERROR_FORMAT, "run past the data");
    g_free (cut);
    cut = write_tmp ("cut2.safetensors", bytes, 5);
    expect_load_error (cut, CS_CHECKPOINT_ERROR_FORMAT, "neither a safetensors file nor a PyTorch .pth");
  }
}

static void
test_bad_files (void)
{
  g_autofree char *empty = write_tmp ("empty.pth", "", 0);
  g_autofree char *text = write_tmp ("text.pth", "hello, I am not a checkpoint at all", 35);
  g_autofree char *legacy = data_path ("lenet5-legacy.pth");

  expect_load_error (empty, CS_CHECKPOINT_ERROR_FORMAT, "the file is empty");
  expect_load_error (text, CS_CHECKPOINT_ERROR_FORMAT, "neither a safetensors file nor a PyTorch .pth");
  expect_load_error ("/dev/null", CS_CHECKPOINT_ERROR_IO, "not a regular file");
  expect_load_error (tmpdir, CS_CHECKPOINT_ERROR_IO, "is a directory");
  expect_load_error ("/nonexistent/model.pth", CS_CHECKPOINT_ERROR_IO, "/nonexistent/model.pth");
  expect_load_error (legacy, CS_CHECKPOINT_ERROR_UNSUPPORTED, "a legacy PyTorch file");

  /* A 1 GB file of zeros (sparse): refused from its first bytes, not read whole. */
  {
    g_autofree char *big = tmp_path ("huge.safetensors");
    int fd = g_open (big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (ftruncate (fd, (off_t) 1 << 30), ==, 0);
    close (fd);
    expect_load_error (big, CS_CHECKPOINT_ERROR_FORMAT, "neither a safetensors file nor a PyTorch .pth");
    g_unlink (big);
  }
}

static void
test_mismatch (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = data_path ("lenet5-notebook.pth");
  g_autoptr(CsCheckpoint) ckpt = cs_checkpoint_load (path, &error);
  g_autoptr(CsSpec) spec = cs_spec_parse (
    "input 1x28x28\n"
    "conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)\nact1 = nn.Tanh()\npool1 = nn.AvgPool2d(2)\n"
    "conv2 = nn.Conv2d(6, 16, kernel_size=3)\nact2 = nn.Tanh()\npool2 = nn.AvgPool2d(2)\n"
    "flat = nn.Flatten()\nfc1 = nn.Linear(576, 84)\nfc2 = nn.Linear(84, 10)\n", &error);
  g_autoptr(CsModel) model = NULL;
  g_autoptr(CsSpec) mlp = cs_spec_for_model ("mlp", NULL);
  g_autoptr(CsModel) mlp_model = cs_model_new (mlp);

  g_assert_no_error (error);
  model = cs_model_new (spec);
  g_assert_false (cs_checkpoint_apply (ckpt, model, &error));
  g_assert_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_MISMATCH);
  g_assert_nonnull (strstr (error->message, "conv2.weight: the file has [16, 6, 5, 5], the model expects [16, 6, 3, 3]"));
  g_clear_error (&error);

  g_assert_false (cs_checkpoint_apply (ckpt, mlp_model, &error));
  g_assert_nonnull (strstr (error->message, "the model needs layer1.weight [784, 784], which the file does not have"));
  g_clear_error (&error);

  /* No preset has these tensors: say which were found. */
  {
    g_autoptr(CsModel) odd = random_model ("net-mnist", 1);
    g_autofree char *p = tmp_path ("odd.safetensors");
    g_autoptr(CsCheckpoint) c2 = NULL;
    g_autoptr(CsSpec) none = NULL;

    /* net-mnist is a preset: drop fc2.bias by saving a model with bias=False to make it match nothing. */
    g_autoptr(CsSpec) s2 = cs_spec_parse ("input 1x28x28\nflat = nn.Flatten()\nfc = nn.Linear(784, 10, bias=False)\n", NULL);
    g_autoptr(CsModel) m2 = cs_model_new (s2);
    g_assert_true (cs_checkpoint_save (p, m2, NULL, NULL, &error));
    c2 = cs_checkpoint_load (p, &error);
    none = cs_checkpoint_infer_spec (c2, NULL, NULL, &error);
    g_assert_null (none);
    g_assert_nonnull (strstr (error->message, "no preset has these tensors (fc.weight [10, 784])"));
    (void) odd;
  }
}

/* An interrupted or failing save (disk full) leaves the previous file intact and says so. */
static void
test_failed_save_keeps_old_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsModel) a = random_model ("cnn", 1);
  g_autoptr(CsModel) b = random_model ("cnn", 2);
  g_autofree char *path = tmp_path ("keep.safetensors");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize len_before, len_after;
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_assert_true (cs_checkpoint_save (path, a, NULL, NULL, &error));
  g_assert_true (g_file_get_contents (path, &before, &len_before, NULL));

  cs_write_file_inject_failure (100000, ENOSPC);
  g_assert_false (cs_checkpoint_save (path, b, NULL, NULL, &error));
  cs_write_file_inject_failure (0, 0);
  g_assert_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "No space left on device"));
  g_assert_nonnull (strstr (error->message, "the previous file is intact"));
  g_assert_nonnull (strstr (error->message, path));

  g_assert_true (g_file_get_contents (path, &after, &len_after, NULL));
  g_assert_cmpmem (before, len_before, after, len_after);
  /* No temporary file left behind. */
  dir = g_dir_open (tmpdir, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_assert_false (g_str_has_prefix (name, ".keep.safetensors."));
  g_clear_error (&error);

  /* A directory that cannot take the file. */
  g_assert_false (cs_checkpoint_save ("/nonexistent-dir/x.safetensors", a, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "/nonexistent-dir/x.safetensors"));
}

/* The optimizer's state is saved beside the model, in clearly named tensors. */
static void
test_optimizer_state (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsModel) m = random_model ("lenet5", 3);
  CsOptimConfig config;
  g_autoptr(CsOptim) opt = NULL;
  g_autofree char *path = tmp_path ("with-opt.safetensors");
  g_autofree char *opath = tmp_path ("with-opt.optimizer.safetensors");
  g_autoptr(CsCheckpoint) o = NULL;

  cs_optim_config_defaults (&config, CS_OPTIM_ADAM);
  opt = cs_optim_new (&config, cs_model_n_params (m));
  cs_optim_step (opt, cs_model_params (m), cs_model_params (m));
  g_assert_true (cs_checkpoint_save (path, m, opt, NULL, &error));
  o = cs_checkpoint_load (opath, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (o->metadata, "step"), ==, "1");
  g_assert_nonnull (cs_checkpoint_find (o, "exp_avg.conv1.weight"));
  g_assert_nonnull (cs_checkpoint_find (o, "exp_avg_sq.fc2.bias"));
}


/* ---- hostile headers, specs and weights ---------------------------------- */

static void
test_hostile_headers (void)
{
  /* 100,000 nested arrays: once overflowed the stack in the JSON parser. */
  {
    g_autoptr(GString) h = g_string_new ("{\"a\":");
    g_autofree char *path = NULL;
    for (int k = 0; k < 100000; k++)
      g_string_append_c (h, '[');
    for (int k = 0; k < 100000; k++)
      g_string_append_c (h, ']');
    g_string_append_c (h, '}');
    path = make_safetensors ("deep.safetensors", h->str, 0, -1);
    expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, "nested more than 8 deep");
  }
  {
    static const struct { const char *header; const char *fragment; } cases[] = {
      /* a duplicate behind an escape, and one inside a tensor's own object */
      { "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\"\\u0061\":{}}", "\"a\" appears twice" },
      { "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,4]}}", "\"dtype\" appears twice" },
      /* what a lenient parser takes: a trailing comma, a comment, a bare word, a single quote */
      { "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],}}", "a comma before the end" },
      { "{/*x*/\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", "without a quoted name" },
      { "{\"a\":{\"dtype\":F32,\"shape\":[],\"data_offsets\":[0,4]}}", "not a JSON value" },
      { "{'a':{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", "without a quoted name" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autofree char *name = g_strdup_printf ("lenient-%u.safetensors", i);
        g_autofree char *path = make_safetensors (name, cases[i].header, 4, -1);
        expect_load_error (path, CS_CHECKPOINT_ERROR_FORMAT, cases[i].fragment);
      }
  }
}

/* A spec in the metadata is checked against the file before a model is made. */
static void
test_metadata_spec_bounded (void)
{
  static const char * const specs[] = {
    /* a billion parameters: refused by the spec's limits, naming the layer */
    "input 1x28x28\\nflat = nn.Flatten()\\nfc = nn.Linear(784, 1000000)",
    /* within the limits, but not what the file holds */
    "input 1x28x28\\nflat = nn.Flatten()\\nfc = nn.Linear(784, 10000)",
  };
  static const char * const fragments[] = {
    "fc: nn.Linear(784, 1000000) has 785000000 parameters",
    "the spec in its metadata has 7850000 parameters but the file holds 1 weights",
  };

  for (guint i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      g_autofree char *header = g_strdup_printf ("{\"__metadata__\":{\"spec\":\"%s\"},"
                                                 "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                                                 specs[i]);
      g_autofree char *name = g_strdup_printf ("meta-spec-%u.safetensors", i);
      g_autofree char *path = make_safetensors (name, header, 4, -1);
      g_autoptr(GError) error = NULL;
      g_autoptr(CsCheckpoint) ckpt = cs_checkpoint_load (path, &error);
      g_autoptr(CsSpec) spec = NULL;

      g_assert_no_error (error);
      spec = cs_checkpoint_infer_spec (ckpt, NULL, NULL, &error);
      g_assert_null (spec);
      if (strstr (error->message, fragments[i]) == NULL)
        g_error ("expected \"%s\" in \"%s\"", fragments[i], error->message);
    }
}

/* NaN weights are refused by name, not turned into "NaN" predictions. */
static void
test_nan_weights_refused (void)
{
  g_autoptr(CsModel) m = random_model ("lenet5", 3);
  g_autofree char *path = tmp_path ("nan.safetensors");
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_autoptr(CsModel) back = NULL;
  const CsParam *p = cs_model_find_tensor (m, "conv2.weight");

  cs_model_params (m)[p->offset + 7] = NAN;
  cs_model_params (m)[p->offset + 9] = INFINITY;
  g_assert_true (cs_checkpoint_save (path, m, NULL, NULL, &error));
  ckpt = cs_checkpoint_load (path, &error);
  g_assert_no_error (error);
  back = cs_checkpoint_to_model (ckpt, NULL, &error);
  g_assert_null (back);
  g_assert_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "conv2.weight holds 2 NaN or infinite values (the first at element 7)"));
}

/* Outputs the user names: a device is written in place, /dev/full says so, a link keeps being a link. */
static void
test_user_outputs (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *target = tmp_path ("target.csv");
  g_autofree char *link = tmp_path ("link.csv");
  g_autofree char *got = NULL;
  struct stat st;

  g_assert_true (cs_write_file_full ("/dev/null", "abc", 3, CS_WRITE_USER_PATH, &error));
  g_assert_no_error (error);
  g_assert_true (stat ("/dev/null", &st) == 0 && S_ISCHR (st.st_mode));
  g_assert_false (cs_write_file_full ("/dev/full", "abc", 3, CS_WRITE_USER_PATH, &error));
  g_assert_nonnull (strstr (error->message, "No space left on device"));
  g_clear_error (&error);
  g_assert_true (stat ("/dev/full", &st) == 0 && S_ISCHR (st.st_mode));

  g_assert_true (g_file_set_contents (target, "old", -1, NULL));
  g_assert_cmpint (symlink ("target.csv", link), ==, 0);
  g_assert_true (cs_write_file_full (link, "new", 3, CS_WRITE_USER_PATH, &error));
  g_assert_true (lstat (link, &st) == 0 && S_ISLNK (st.st_mode));
  g_assert_true (g_file_get_contents (target, &got, NULL, NULL));
  g_assert_cmpstr (got, ==, "new");

  /* In the runs directory a planted link is replaced, its target untouched. */
  g_assert_true (cs_write_file_full (link, "run", 3, CS_WRITE_RUNS_DIR, &error));
  g_assert_true (lstat (link, &st) == 0 && S_ISREG (st.st_mode));
  g_free (got);
  g_assert_true (g_file_get_contents (target, &got, NULL, NULL));
  g_assert_cmpstr (got, ==, "new");

  /* A FIFO as a checkpoint answers at once. */
  {
    g_autofree char *fifo = tmp_path ("fifo.pth");
    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    expect_load_error (fifo, CS_CHECKPOINT_ERROR_IO, "is a FIFO, not a regular file");
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

  g_test_add_func ("/core/checkpoint/safetensors-round-trip", test_round_trip);
  g_test_add_func ("/core/checkpoint/spec-in-metadata", test_spec_in_metadata);
  g_test_add_func ("/core/checkpoint/bad-safetensors", test_bad_safetensors);
  g_test_add_func ("/core/checkpoint/bad-files", test_bad_files);
  g_test_add_func ("/core/checkpoint/mismatch", test_mismatch);
  g_test_add_func ("/core/checkpoint/failed-save-keeps-old-file", test_failed_save_keeps_old_file);
  g_test_add_func ("/core/checkpoint/optimizer-state", test_optimizer_state);
  g_test_add_func ("/core/checkpoint/hostile-headers", test_hostile_headers);
  g_test_add_func ("/core/checkpoint/metadata-spec-bounded", test_metadata_spec_bounded);
  g_test_add_func ("/core/checkpoint/nan-weights-refused", test_nan_weights_refused);
  g_test_add_func ("/core/checkpoint/user-outputs", test_user_outputs);

  ret = g_test_run ();
  cs_test_rm_rf (tmpdir);
  g_free (tmpdir);
  return ret;
}
