/* Tests for the IDX readers: good data plain and gzipped, and every kind of bad file. */

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "cs-test-mnist.h"
#include "cs-test-files.h"
#include "data/cs-dataset.h"

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("cs-test-idx-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  cs_test_rm_rf (f->dir);
  g_free (f->dir);
}

static void
put_be32 (GByteArray *a,
          guint32     v)
{
  guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };
  g_byte_array_append (a, b, 4);
}

/* An IDX image file: n images of rows x cols whose pixel i is (i * 7) % 256. */
static GByteArray *
make_images (guint32 magic,
             guint32 n,
             guint32 rows,
             guint32 cols,
             gsize   payload)
{
  GByteArray *a = g_byte_array_new ();

  put_be32 (a, magic);
  put_be32 (a, n);
  put_be32 (a, rows);
  put_be32 (a, cols);
  for (gsize i = 0; i < payload; i++)
    {
      guint8 v = (i * 7) % 256;
      g_byte_array_append (a, &v, 1);
    }
  return a;
}

static GByteArray *
make_labels (guint32 n,
             guint8  bad_at,
             guint8  bad_value)
{
  GByteArray *a = g_byte_array_new ();

  put_be32 (a, 0x801);
  put_be32 (a, n);
  for (guint32 i = 0; i < n; i++)
    {
      guint8 v = i == bad_at ? bad_value : i % 10;
      g_byte_array_append (a, &v, 1);
    }
  return a;
}

static char *
write_file (Fixture      *f,
            const char   *name,
            const guint8 *bytes,
            gsize         len)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (f->dir, name, NULL);

  g_file_set_contents (path, (const char *) bytes, len, &error);
  g_assert_no_error (error);
  return path;
}

static char *
write_array (Fixture    *f,
             const char *name,
             GByteArray *a)
{
  char *path = write_file (f, name, a->data, a->len);
  g_byte_array_unref (a);
  return path;
}

static char *
write_gzip (Fixture    *f,
            const char *name,
            GByteArray *a)
{
  g_autoptr(GZlibCompressor) comp = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) out = g_converter_output_stream_new (mem, G_CONVERTER (comp));
  g_autoptr(GError) error = NULL;
  gsize written;
  char *path;

  g_output_stream_write_all (out, a->data, a->len, &written, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (out, NULL, &error);
  g_assert_no_error (error);
  path = write_file (f, name,
                     g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (mem)),
                     g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (mem)));
  g_byte_array_unref (a);
  return path;
}

static void
write_good_set (Fixture  *f,
                gboolean  gz)
{
  char *(*w) (Fixture *, const char *, GByteArray *) = gz ? write_gzip : write_array;
  const char *sfx = gz ? ".gz" : "";
  g_autofree char *n1 = g_strconcat ("train-images-idx3-ubyte", sfx, NULL);
  g_autofree char *n2 = g_strconcat ("train-labels-idx1-ubyte", sfx, NULL);
  g_autofree char *n3 = g_strconcat ("t10k-images-idx3-ubyte", sfx, NULL);
  g_autofree char *n4 = g_strconcat ("t10k-labels-idx1-ubyte", sfx, NULL);

  g_free (w (f, n1, make_images (0x803, 20, 4, 3, 20 * 12)));
  g_free (w (f, n2, make_labels (20, 255, 0)));
  g_free (w (f, n3, make_images (0x803, 5, 4, 3, 5 * 12)));
  g_free (w (f, n4, make_labels (5, 255, 0)));
}

static void
check_good_set (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = cs_dataset_load (f->dir, &error);
  float x[2 * 12];
  gint32 y[2];
  guint32 idx[2] = { 3, 0 };
  guint counts[CS_N_CLASSES];

  g_assert_no_error (error);
  g_assert_nonnull (ds);
  g_assert_cmpuint (ds->train.n, ==, 20);
  g_assert_cmpuint (ds->test.n, ==, 5);
  g_assert_cmpuint (ds->train.rows, ==, 4);
  g_assert_cmpuint (ds->train.cols, ==, 3);
  g_assert_cmpuint (ds->train.pixels[13], ==, (13 * 7) % 256);
  g_assert_cmpuint (ds->train.labels[13], ==, 3);

  /* A batch becomes floats in [0, 1] as ToTensor() makes them. */
  cs_data_split_to_float (&ds->train, idx, 2, x, y);
  g_assert_cmpint (y[0], ==, 3);
  g_assert_cmpint (y[1], ==, 0);
  g_assert_cmpfloat_with_epsilon (x[0], ((3 * 12 * 7) % 256) / 255.0f, 1e-7);
  g_assert_cmpfloat_with_epsilon (x[12 + 5], (5 * 7) / 255.0f, 1e-7);

  cs_data_split_label_counts (&ds->train, counts);
  g_assert_cmpuint (counts[0], ==, 2);
  g_assert_cmpuint (counts[9], ==, 2);
}

static void
test_good_plain (Fixture       *f,
                 gconstpointer  data)
{
  write_good_set (f, FALSE);
  check_good_set (f);
}

static void
test_good_gzip (Fixture       *f,
                gconstpointer  data)
{
  write_good_set (f, TRUE);
  check_good_set (f);
}

/* Reads @path as images (or labels) and checks the error's code and text. */
static void
expect_error (const char *path,
              gboolean    labels,
              int         code,
              const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = NULL;
  guint n = 0, r = 0, c = 0;
  gboolean ok;

  if (labels)
    ok = cs_idx_read_labels (path, &data, &n, &error);
  else
    ok = cs_idx_read_images (path, &data, &n, &r, &c, &error);
  g_assert_false (ok);
  g_assert_null (data);
  g_assert_error (error, CS_DATA_ERROR, code);
  if (g_test_verbose ())
    g_printerr ("  %s\n", error->message);
  g_assert_nonnull (strstr (error->message, path));
  if (strstr (error->message, fragment) == NULL)
    g_error ("expected \"%s\" in \"%s\"", fragment, error->message);
}

static void
test_truncated_header (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GByteArray) a = make_images (0x803, 2, 28, 28, 0);
  g_autofree char *p1 = write_file (f, "short-magic", a->data, 3);
  g_autofree char *p2 = write_file (f, "short-dims", a->data, 10);

  expect_error (p1, FALSE, CS_DATA_ERROR_TRUNCATED, "truncated header: 3 of 4 magic bytes");
  expect_error (p2, FALSE, CS_DATA_ERROR_TRUNCATED, "truncated header: 10 of 16 bytes");
}

static void
test_truncated_pixels (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *p = write_array (f, "train-images-idx3-ubyte", make_images (0x803, 60000, 28, 28, 1234));
  g_autofree char *pgz = write_gzip (f, "train-images-idx3-ubyte.gz", make_images (0x803, 60000, 28, 28, 1234));

  expect_error (p, FALSE, CS_DATA_ERROR_TRUNCATED,
                "header promises 60000 images of 28x28 (47040000 bytes) but the file holds 1234");
  expect_error (pgz, FALSE, CS_DATA_ERROR_TRUNCATED,
                "header promises 60000 images of 28x28 (47040000 bytes) but the file holds 1234");
}

static void
test_trailing_data (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *p = write_array (f, "a", make_images (0x803, 2, 2, 2, 9));
  g_autofree char *pgz = write_gzip (f, "a.gz", make_images (0x803, 2, 2, 2, 9));

  expect_error (p, FALSE, CS_DATA_ERROR_BAD_SIZE, "but the file holds 9 (trailing data)");
  expect_error (pgz, FALSE, CS_DATA_ERROR_BAD_SIZE, "but the file holds more (trailing data)");
}

static void
test_wrong_magic (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *p1 = write_array (f, "t10k-labels-idx1-ubyte", make_images (0x803, 1, 1, 1, 1));
  g_autofree char *p2 = write_array (f, "png", make_images (0x89504e47, 1, 1, 1, 1));

  expect_error (p1, TRUE, CS_DATA_ERROR_BAD_MAGIC, "expected magic 0x00000801, found 0x00000803");
  expect_error (p2, FALSE, CS_DATA_ERROR_BAD_MAGIC, "not an IDX file of unsigned bytes");
}

static void
test_wrong_dims (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *p = write_array (f, "imgs", make_images (0x802, 3, 4, 0, 12));

  expect_error (p, FALSE, CS_DATA_ERROR_BAD_MAGIC, "(2 dimensions where 3 are expected)");
}

static void
test_size_overflow (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *p1 = write_array (f, "huge", make_images (0x803, 0xffffffff, 0xffffffff, 0xffffffff, 16));
  g_autofree char *p2 = write_array (f, "4g", make_images (0x803, 0xffffffff, 28, 28, 16));
  g_autofree char *p3 = write_gzip (f, "4g.gz", make_images (0x803, 0xffffffff, 28, 28, 16));
  g_autofree char *p4 = write_array (f, "zero", make_images (0x803, 0, 28, 28, 0));

  expect_error (p1, FALSE, CS_DATA_ERROR_BAD_SIZE, "overflow 64 bits");
  expect_error (p2, FALSE, CS_DATA_ERROR_TRUNCATED,
                "header promises 4294967295 images of 28x28 (3367254359280 bytes) but the file holds 16");
  expect_error (p3, FALSE, CS_DATA_ERROR_TRUNCATED, "but the file holds 16");
  expect_error (p4, FALSE, CS_DATA_ERROR_BAD_SIZE, "dimension 0 of the header is 0");
}

static void
test_count_mismatch (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = NULL;

  write_good_set (f, FALSE);
  g_free (write_array (f, "t10k-labels-idx1-ubyte", make_labels (4, 255, 0)));
  ds = cs_dataset_load (f->dir, &error);
  g_assert_null (ds);
  g_assert_error (error, CS_DATA_ERROR, CS_DATA_ERROR_MISMATCH);
  g_assert_nonnull (strstr (error->message, "holds 4 labels but"));
  g_assert_nonnull (strstr (error->message, "holds 5 images"));
}

static void
test_label_out_of_range (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *p = write_array (f, "labels", make_labels (20, 7, 10));

  expect_error (p, TRUE, CS_DATA_ERROR_BAD_LABEL, "label 10 at index 7 is out of range");
}

static void
test_empty (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *p = write_file (f, "empty", (const guint8 *) "", 0);
  g_autofree char *pgz = write_gzip (f, "empty.gz", g_byte_array_new ());

  expect_error (p, FALSE, CS_DATA_ERROR_EMPTY, "the file is empty");
  expect_error (pgz, TRUE, CS_DATA_ERROR_EMPTY, "the file is empty");
}

static void
test_missing (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *p = g_build_filename (f->dir, "nothing-here", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = NULL;
  g_autofree char *dir = NULL;

  expect_error (p, FALSE, CS_DATA_ERROR_NOT_FOUND, "nothing-here");

  ds = cs_dataset_load (f->dir, &error);
  g_assert_null (ds);
  g_assert_error (error, CS_DATA_ERROR, CS_DATA_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "train-images-idx3-ubyte: no such file"));
  g_clear_error (&error);

  /* An explicit --data directory without data says what it needs. */
  dir = cs_data_find_dir (f->dir, "mnist", &error);
  g_assert_null (dir);
  g_assert_error (error, CS_DATA_ERROR, CS_DATA_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "holds no IDX data set"));
  g_assert_nonnull (strstr (error->message, f->dir));
}

static void
test_garbage_gzip (Fixture       *f,
                   gconstpointer  data)
{
  static const guint8 garbage[] = { 0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x03,
                                    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09 };
  static const guint8 text[] = "this is not gzip at all, just text";
  g_autofree char *p1 = write_file (f, "a.gz", garbage, sizeof garbage);
  g_autofree char *p2 = write_file (f, "b.gz", text, sizeof text);

  expect_error (p1, FALSE, CS_DATA_ERROR_IO, "not a valid gzip file");
  expect_error (p2, TRUE, CS_DATA_ERROR_IO, "not a valid gzip file");
}

static void
test_gzip_cut (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *full = write_gzip (f, "full.gz", make_images (0x803, 50, 28, 28, 50 * 784));
  g_autofree char *bytes = NULL;
  g_autofree char *cut = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (full, &bytes, &len, NULL));
  cut = write_file (f, "cut.gz", (const guint8 *) bytes, len / 2);
  /* A gzip stream cut in the middle ends early: either zlib notices or the payload is short. */
  {
    g_autoptr(GError) error = NULL;
    g_autofree guint8 *px = NULL;
    guint n, r, c;

    g_assert_false (cs_idx_read_images (cut, &px, &n, &r, &c, &error));
    g_assert_nonnull (error);
    g_assert_true (error->code == CS_DATA_ERROR_IO || error->code == CS_DATA_ERROR_TRUNCATED);
    g_assert_nonnull (strstr (error->message, cut));
  }
}

/* The real MNIST, fetched by the README's commands: a check that its bytes read right. */
static void
test_mnist_stats (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = cs_dataset_open (NULL, "mnist", &error);
  guint counts[CS_N_CLASSES];
  double mean, std;

  g_assert_no_error (error);
  g_assert_cmpuint (ds->train.n, ==, 60000);
  g_assert_cmpuint (ds->test.n, ==, 10000);
  g_assert_cmpuint (ds->train.rows, ==, 28);
  g_assert_cmpuint (ds->train.cols, ==, 28);
  cs_data_split_pixel_stats (&ds->train, &mean, &std);
  g_assert_cmpfloat_with_epsilon (mean, 0.1307, 5e-5);
  g_assert_cmpfloat_with_epsilon (std, 0.3081, 5e-5);
  cs_data_split_label_counts (&ds->train, counts);
  g_assert_cmpuint (counts[0], ==, 5923);
  g_assert_cmpuint (counts[1], ==, 6742);
  cs_data_split_label_counts (&ds->test, counts);
  g_assert_cmpuint (counts[0], ==, 980);
  g_assert_cmpuint (counts[9], ==, 1009);
}

static void
test_fashion_mnist (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsDataset) ds = cs_dataset_open (NULL, "fashion-mnist", &error);
  guint counts[CS_N_CLASSES];

  g_assert_no_error (error);
  g_assert_cmpstr (ds->name, ==, "Fashion-MNIST");
  g_assert_cmpuint (ds->train.n, ==, 60000);
  g_assert_cmpuint (ds->test.n, ==, 10000);
  cs_data_split_label_counts (&ds->test, counts);
  for (guint c = 0; c < CS_N_CLASSES; c++)
    g_assert_cmpuint (counts[c], ==, 1000);
  g_assert_cmpstr (cs_dataset_class_name (ds, 9), ==, "Ankle boot");
}


/* #15: a gzip bomb is stopped at 100 times the file, not inflated whole. The
 * header promises 3 GB; the stream holds 256 MB of zeros (about 250 KB
 * compressed: the 3 GB of the report would take seconds just to make here). */
static void
test_gzip_bomb (Fixture       *f,
                gconstpointer  data)
{
  GByteArray *a = make_images (0x803, 3000000, 32, 32, 0);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = NULL;
  guint n, rows, cols;

  /* zeros after the header, compressed in chunks */
  {
    g_autoptr(GZlibCompressor) comp = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9);
    g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
    g_autoptr(GOutputStream) out = g_converter_output_stream_new (mem, G_CONVERTER (comp));
    g_autofree guint8 *zeros = g_malloc0 (1 << 24);
    gsize written;

    g_output_stream_write_all (out, a->data, a->len, &written, NULL, &error);
    for (int k = 0; k < 16 && error == NULL; k++)
      g_output_stream_write_all (out, zeros, 1 << 24, &written, NULL, &error);
    g_assert_no_error (error);
    g_output_stream_close (out, NULL, &error);
    g_assert_no_error (error);
    path = write_file (f, "bomb-idx3-ubyte.gz", g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (mem)),
                       g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (mem)));
    g_byte_array_unref (a);
  }
  g_assert_false (cs_idx_read_images (path, &pixels, &n, &rows, &cols, &error));
  g_assert_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_SIZE);
  g_assert_nonnull (strstr (error->message, "the gzip file inflates to more than 100 times its"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  cs_test_require_mnist ();

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/core/idx/good-plain", test_good_plain);
  ADD ("/core/idx/good-gzip", test_good_gzip);
  ADD ("/core/idx/truncated-header", test_truncated_header);
  ADD ("/core/idx/truncated-pixels", test_truncated_pixels);
  ADD ("/core/idx/trailing-data", test_trailing_data);
  ADD ("/core/idx/wrong-magic", test_wrong_magic);
  ADD ("/core/idx/wrong-dims", test_wrong_dims);
  ADD ("/core/idx/size-overflow", test_size_overflow);
  ADD ("/core/idx/count-mismatch", test_count_mismatch);
  ADD ("/core/idx/label-out-of-range", test_label_out_of_range);
  ADD ("/core/idx/empty", test_empty);
  ADD ("/core/idx/missing", test_missing);
  ADD ("/core/idx/garbage-gzip", test_garbage_gzip);
  ADD ("/core/idx/gzip-cut", test_gzip_cut);
  ADD ("/core/idx/gzip-bomb", test_gzip_bomb);
#undef ADD
  g_test_add_func ("/core/dataset/mnist-stats", test_mnist_stats);
  g_test_add_func ("/core/dataset/fashion-mnist", test_fashion_mnist);

  return g_test_run ();
}
