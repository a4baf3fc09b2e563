/* Checkpoint tests: safetensors round trip, PyTorch's own files, and every kind of malformed or hostile file. */

#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "cs-test-files.h"
#include "cs-checkpoint.h"
#include "cs-dataset.h"
#include "cs-parallel.h"
#include "cs-presets.h"

static char *tmpdir;

static char *
data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", name, NULL);
}

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static CsModel *
random_model (const char *preset,
              guint64     seed)
{
  g_autoptr(CsSpec) spec = cs_spec_for_model (preset, NULL);
  CsModel *model = cs_model_new (spec);
  CsRng rng;

  cs_rng_seed (&rng, seed, 0);
  cs_model_init_params (model, &rng);
  return model;
}

/* The first @n MNIST test images as floats. */
static float *
test_images (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = cs_dataset_open (NULL, "mnist", &error);
  float *x = g_new (float, n * 784);

  g_assert_no_error (error);
  cs_data_split_first_to_float (&ds->test, 0, n, x, NULL);
  return x;
}

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

/* torch.save(model.state_dict(), ...) of the seed's own LeNet5: PyTorch's logits within 1e-4. */
static void
test_pytorch_lenet5 (void)
{
  check_pytorch_file ("lenet5-seed.pth", "lenet5-seed-logits.txt", "lenet5");
}

/* Tensors that are views: storage offsets and strides honoured. */
static void
test_pytorch_strided (void)
{
  check_pytorch_file ("mlp-strided.pth", "mlp-strided-logits.txt", "mlp");
}

static void
expect_load_error (const char *path,
                   int         code,
                   const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = cs_checkpoint_load (path, &error);

  g_assert_null (ckpt);
  g_assert_nonnull (error);
  if (g_test_verbose ())
    g_printerr ("  %s\n", error->message);
  if (strstr (error->message, fragment) == NULL)
    g_error ("expected \"%s\" in \"%s\"", fragment, error->message);
  g_assert_error (error, CS_CHECKPOINT_ERROR, code);
}

static char *
write_tmp (const char *name,
           const void *data,
           gsize       len)
{
  char *path = tmp_path (name);
  g_assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
  return path;
}

/* A safetensors file from a header and a data size (filled with zeros). */
static char *
make_safetensors (const char *name,
                  const char *header,
                  gsize       data_len,
                  gint64      claimed_len)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  guint64 n = claimed_len >= 0 ? (guint64) claimed_len : strlen (header);
  guint64 le = GUINT64_TO_LE (n);
  g_autofree guint8 *zeros = g_malloc0 (data_len + 1);

  g_byte_array_append (a, (guint8 *) &le, 8);
  g_byte_array_append (a, (const guint8 *) header, strlen (header));
  g_byte_array_append (a, zeros, data_len);
  return write_tmp (name, a->data, a->len);
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

/* Rewrites a zip with one entry dropped or damaged, through Python-free byte surgery on our own fixture. */
static char *
pth_variant (const char *name,
             gsize       cut_at)
{
  g_autofree char *src = data_path ("lenet5-seed.pth");
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
  g_autofree char *src = data_path ("lenet5-seed.pth");
  g_autofree char *bytes = NULL;
  gsize len;

  /* The pickle names os.system: refused, and nothing was run. */
  g_unlink ("/tmp/convscope-pickle-was-executed!!");
  expect_load_error (evil, CS_CHECKPOINT_ERROR_FORBIDDEN, "the pickle asks for os.system");
  g_assert_false (g_file_test ("/tmp/convscope-pickle-was-executed!!", G_FILE_TEST_EXISTS));

  expect_load_error (truncated, CS_CHECKPOINT_ERROR_FORMAT, "no end of central directory");

  /* A zip whose data entry is missing: rename "data/3" in place so the name no longer matches. */
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

/* A hand-made zip: one stored entry per (name, data) pair, with a correct CRC. */
static guint32
crc32_simple (const guint8 *p,
              gsize         n)
{
  guint32 c = 0xffffffffu;
  for (gsize i = 0; i < n; i++)
    {
      c ^= p[i];
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
  return c ^ 0xffffffffu;
}

static void
put16 (GByteArray *a, guint16 v)
{
  guint8 b[2] = { v & 0xff, v >> 8 };
  g_byte_array_append (a, b, 2);
}

static void
put32 (GByteArray *a, guint32 v)
{
  guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
  g_byte_array_append (a, b, 4);
}

static char *
make_zip (const char   *file,
          const char   *entry,
          const guint8 *data,
          gsize         len)
{
  g_autoptr(GByteArray) z = g_byte_array_new ();
  guint32 crc = crc32_simple (data, len);
  guint32 cd_start;
  guint16 nl = strlen (entry);

  put32 (z, 0x04034b50); put16 (z, 20); put16 (z, 0); put16 (z, 0); put32 (z, 0);
  put32 (z, crc); put32 (z, len); put32 (z, len); put16 (z, nl); put16 (z, 0);
  g_byte_array_append (z, (const guint8 *) entry, nl);
  g_byte_array_append (z, data, len);
  cd_start = z->len;
  put32 (z, 0x02014b50); put16 (z, 20); put16 (z, 20); put16 (z, 0); put16 (z, 0); put32 (z, 0);
  put32 (z, crc); put32 (z, len); put32 (z, len); put16 (z, nl); put16 (z, 0); put16 (z, 0);
  put16 (z, 0); put16 (z, 0); put32 (z, 0); put32 (z, 0);
  g_byte_array_append (z, (const guint8 *) entry, nl);
  put32 (z, 0x06054b50); put16 (z, 0); put16 (z, 0); put16 (z, 1); put16 (z, 1);
  put32 (z, z->len - cd_start); put32 (z, cd_start); put16 (z, 0);
  return write_tmp (file, z->data, z->len);
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

static void
test_mismatch (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = data_path ("lenet5-seed.pth");
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

  cs_checkpoint_inject_write_failure (100000, ENOSPC);
  g_assert_false (cs_checkpoint_save (path, b, NULL, NULL, &error));
  cs_checkpoint_inject_write_failure (0, 0);
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

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CsPool) pool = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  pool = cs_pool_new (2);
  cs_pool_set_current (pool);
  tmpdir = g_dir_make_tmp ("cs-test-ckpt-XXXXXX", NULL);

  g_test_add_func ("/core/checkpoint/safetensors-round-trip", test_round_trip);
  g_test_add_func ("/core/checkpoint/spec-in-metadata", test_spec_in_metadata);
  g_test_add_func ("/core/checkpoint/pytorch-lenet5-logits", test_pytorch_lenet5);
  g_test_add_func ("/core/checkpoint/pytorch-strided-views", test_pytorch_strided);
  g_test_add_func ("/core/checkpoint/bad-safetensors", test_bad_safetensors);
  g_test_add_func ("/core/checkpoint/bad-files", test_bad_files);
  g_test_add_func ("/core/checkpoint/bad-pth", test_bad_pth);
  g_test_add_func ("/core/checkpoint/hostile-pickles", test_hostile_pickles);
  g_test_add_func ("/core/checkpoint/mismatch", test_mismatch);
  g_test_add_func ("/core/checkpoint/failed-save-keeps-old-file", test_failed_save_keeps_old_file);
  g_test_add_func ("/core/checkpoint/optimizer-state", test_optimizer_state);

  ret = g_test_run ();
  cs_test_rm_rf (tmpdir);
  g_free (tmpdir);
  return ret;
}
