/* What the checkpoint test programs share: a temporary folder, the test data,
 * a randomly initialised preset, MNIST images, and the load-error check. */
#pragma once

#include <math.h>
#include <string.h>

#include "cs-test-files.h"
#include "cs-test-mnist.h"
#include "formats/cs-checkpoint.h"
#include "nn/cs-presets.h"

static char *tmpdir;

static inline char *
data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", name, NULL);
}

static inline char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static inline CsModel *
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
static inline float *
test_images (guint n)
{
  g_autoptr(CsDataset) ds = cs_test_open_mnist ();
  float *x = g_new (float, n * 784);

  cs_data_split_first_to_float (&ds->test, 0, n, x, NULL);
  return x;
}

static inline void
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

static inline char *
write_tmp (const char *name,
           const void *data,
           gsize       len)
{
  char *path = tmp_path (name);
  g_assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
  return path;
}

/* A safetensors file from a header and a data size (filled with zeros). */
static inline char *
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
