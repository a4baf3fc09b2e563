/* Command-line tests: the verbs end with a clear message and a status, never a signal; kill -9 loses nothing else. */

#include "config.h"

#include <cairo.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "cs-test-mnist.h"
#include "cs-test-files.h"

static const char *bin;
static char *runs_dir;

typedef struct
{
  int   status;     /* exit status, or -signal */
  char *out;
  char *err;
} Result;

static void
result_clear (Result *r)
{
  g_free (r->out);
  g_free (r->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Result, result_clear)

static void
run_cli (Result *r,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  va_list args;
  const char *a;

  g_ptr_array_add (argv, (gpointer) bin);
  va_start (args, r);
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &r->out, &r->err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_if_signaled (proc))
    r->status = -g_subprocess_get_term_sig (proc);
  else
    r->status = g_subprocess_get_exit_status (proc);
  if (g_test_verbose ())
    g_printerr ("  status %d\n  out: %s\n  err: %s\n", r->status, r->out, r->err);
}

static void
assert_contains (const char *haystack,
                 const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("expected \"%s\" in \"%s\"", needle, haystack);
}

static void
test_help_and_version (void)
{
  g_auto(Result) r = { 0 };
  g_auto(Result) v = { 0 };
  g_auto(Result) u = { 0 };

  run_cli (&r, "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "train");
  assert_contains (r.out, "runs");
  run_cli (&v, "--version", NULL);
  g_assert_cmpint (v.status, ==, 0);
  assert_contains (v.out, "convscope " PACKAGE_VERSION);
  run_cli (&u, "frobnicate", NULL);
  g_assert_cmpint (u.status, ==, 2);
  assert_contains (u.err, "unknown verb \"frobnicate\"");

  /* A file is not a verb: it goes to the window (here, with no display, GTK
   * says so), never "unknown verb". */
  {
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                          G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *file = g_test_build_filename (G_TEST_DIST, "data", "lenet5-trained.pth", NULL);

    g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
    g_subprocess_launcher_unsetenv (launcher, "WAYLAND_DISPLAY");
    proc = g_subprocess_launcher_spawn (launcher, &error, bin, file, NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
    g_assert_no_error (error);
    g_assert_null (strstr (err, "unknown verb"));
    assert_contains (err, "cannot open display");
  }
}

static void
test_shapes (void)
{
  g_auto(Result) r = { 0 };
  g_auto(Result) net = { 0 };

  run_cli (&r, "shapes", "--model", "shapes", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "torch.Size([1, 64, 7, 7])");
  assert_contains (r.out, "torch.Size([1, 3136])");
  assert_contains (r.out, "torch.Size([1, 10])");

  run_cli (&net, "train", "--model", "net", NULL);
  g_assert_cmpint (net.status, ==, 1);
  assert_contains (net.err, "line 12, conv4: its input is 1x1, smaller than the 3x3 kernel");
  {
    /* A spec that does not fit gives the spec error, not half a table. */
    g_auto(Result) sum = { 0 };
    g_auto(Result) ok = { 0 };
    run_cli (&sum, "summary", "--model", "net", NULL);
    g_assert_cmpint (sum.status, ==, 1);
    g_assert_cmpstr (sum.out, ==, "");
    assert_contains (sum.err, "line 12, conv4: its input is 1x1");
    run_cli (&ok, "summary", "--model", "mlp", "--json", NULL);
    g_assert_cmpint (ok.status, ==, 0);
    assert_contains (ok.out, "\"total_params\": 623290");
  }
}

static void
test_dataset_info (void)
{
  g_auto(Result) r = { 0 };
  g_auto(Result) bad = { 0 };
  g_auto(Result) trunc = { 0 };
  g_autofree char *dir = g_dir_make_tmp ("cs-test-cli-XXXXXX", NULL);
  static const char * const names[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
  const guint8 header[16] = { 0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28 };

  run_cli (&r, "dataset", "info", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "Train: 60000 images of 28x28");
  assert_contains (r.out, "mean 0.1307, std 0.3081");

  run_cli (&bad, "dataset", "info", "--data", "/nonexistent/data", NULL);
  g_assert_cmpint (bad.status, ==, 1);
  assert_contains (bad.err, "/nonexistent/data holds no IDX data set");

  /* A truncated training file: a clean error naming it. */
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = g_build_filename (dir, names[i], NULL);
      g_file_set_contents (p, (const char *) header, sizeof header, NULL);
    }
  run_cli (&trunc, "dataset", "info", "--data", dir, NULL);
  g_assert_cmpint (trunc.status, ==, 1);
  assert_contains (trunc.err, "train-images-idx3-ubyte: header promises 60000 images of 28x28 (47040000 bytes) but the file holds 0");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = g_build_filename (dir, names[i], NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}

static void
test_bad_values (void)
{
  static const char * const cases[][3] = {
    { "--lr", "nan", "the learning rate must be a positive number" },
    { "--lr", "-1", "the learning rate must be a positive number" },
    { "--batch-size", "0", "the batch size must be from 1" },
    { "--batch-size", "60001", "the batch size must be from 1 to the 60000 training images" },
    { "--epochs", "0", "epochs must be from 1" },
    { "--epochs", "-3", "epochs must be from 1" },
    { "--threads", "0", "threads must be from 1" },
    { "--optimizer", "rmsprop", "unknown optimizer \"rmsprop\"" },
    { "--epochs", "many", "Cannot parse integer value" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(Result) r = { 0 };
      run_cli (&r, "train", "--model", "lenet5", "--runs-dir", runs_dir, cases[i][0], cases[i][1], NULL);
      g_assert_cmpint (r.status, ==, 2);
      assert_contains (r.err, cases[i][2]);
    }
  {
    g_auto(Result) r = { 0 };
    run_cli (&r, "train", "--model", "resnet", NULL);
    g_assert_cmpint (r.status, ==, 1);
    assert_contains (r.err, "unknown model \"resnet\"");
  }
}

static char *
run_id_from (const char *out)
{
  const char *p = strstr (out, "Run ");
  g_assert_nonnull (p);
  return g_strndup (p + 4, strcspn (p + 4, " "));
}

/* kill -9 in the middle of training: every other run intact, the killed one listed, none corrupt. */
static void
test_kill_9 (void)
{
  g_auto(Result) first = { 0 };
  g_auto(Result) csv_before = { 0 };
  g_auto(Result) csv_after = { 0 };
  g_auto(Result) list = { 0 };
  g_autoptr(GSubprocess) victim = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;

  run_cli (&first, "train", "--model", "mlp", "--epochs", "1", "--runs-dir", runs_dir, NULL);
  g_assert_cmpint (first.status, ==, 0);
  /* Epochs are counted as people count: the first is epoch 1. */
  assert_contains (first.out, "Epoch 1: model accuracy");
  g_assert_null (strstr (first.out, "Epoch 0"));
  id = run_id_from (first.out);
  run_cli (&csv_before, "runs", "export", id, "--csv", "--runs-dir", runs_dir, NULL);
  g_assert_cmpint (csv_before.status, ==, 0);

  victim = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                             bin, "train", "--model", "mlp", "--epochs", "3", "--name", "victim",
                             "--runs-dir", runs_dir, NULL);
  g_assert_no_error (error);
  /* Let it finish an epoch and be in the middle of the next (however slow the machine). */
  {
    gint64 deadline = g_get_monotonic_time () + 300 * G_USEC_PER_SEC;
    gboolean one_epoch = FALSE;

    while (!one_epoch && g_get_monotonic_time () < deadline)
      {
        g_auto(Result) l = { 0 };
        g_usleep (G_USEC_PER_SEC / 4);
        run_cli (&l, "runs", "list", "--runs-dir", runs_dir, NULL);
        g_auto(GStrv) lines = g_strsplit (l.out, "\n", -1);
        for (guint i = 0; lines[i] != NULL; i++)
          if (strstr (lines[i], "victim") != NULL && strstr (lines[i], " 1/3 ") != NULL)
            one_epoch = TRUE;
      }
    g_assert_true (one_epoch);
    g_usleep (G_USEC_PER_SEC / 2);
  }
  g_subprocess_force_exit (victim);
  g_subprocess_wait (victim, NULL, NULL);
  g_assert_true (g_subprocess_get_if_signaled (victim));

  run_cli (&list, "runs", "list", "--runs-dir", runs_dir, NULL);
  g_assert_cmpint (list.status, ==, 0);
  g_assert_cmpstr (list.err, ==, "");   /* nothing skipped: no file was left half-written */
  assert_contains (list.out, id);
  assert_contains (list.out, "victim");
  assert_contains (list.out, "stopped");

  run_cli (&csv_after, "runs", "export", id, "--csv", "--runs-dir", runs_dir, NULL);
  g_assert_cmpstr (csv_after.out, ==, csv_before.out);

  /* The victim is reported as interrupted, with what it had finished. */
  {
    g_auto(Result) show = { 0 };
    g_autofree char *victim_id = NULL;
    const char *line = strstr (list.out, "victim");

    g_assert_nonnull (line);
    while (line > list.out && line[-1] != '\n')
      line--;
    victim_id = g_strndup (line, strcspn (line, " "));
    run_cli (&show, "runs", "show", victim_id, "--runs-dir", runs_dir, NULL);
    g_assert_cmpint (show.status, ==, 0);
    assert_contains (show.out, "stopped: interrupted: the program ended while it trained epoch");
  }
  {
    g_auto(Result) all = { 0 };
    run_cli (&all, "runs", "export", "--all", "--csv", "--runs-dir", runs_dir, NULL);
    g_assert_cmpint (all.status, ==, 0);
    assert_contains (all.out, ",victim,mlp,MNIST,");
  }
}

static void
test_runs_errors (void)
{
  g_auto(Result) r = { 0 };
  g_auto(Result) e = { 0 };

  run_cli (&r, "runs", "show", "no-such-run", "--runs-dir", runs_dir, NULL);
  g_assert_cmpint (r.status, ==, 1);
  assert_contains (r.err, "no run \"no-such-run\"");
  run_cli (&e, "runs", "export", "--all", "--runs-dir", runs_dir, NULL);
  g_assert_cmpint (e.status, ==, 2);
  assert_contains (e.err, "add --csv");
}

static char *
fixture (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", name, NULL);
}

/* A PyTorch-trained .pth: Convscope's test accuracy is exactly PyTorch's. */
static void
test_predict_pytorch (void)
{
  g_autofree char *pth = fixture ("lenet5-trained.pth");
  g_autofree char *acc_path = fixture ("lenet5-trained-accuracy.txt");
  g_autofree char *acc = NULL;
  g_autofree char *expect = NULL;
  g_auto(Result) r = { 0 };
  g_auto(Result) conv = { 0 };
  g_auto(Result) again = { 0 };
  g_auto(Result) inspect = { 0 };
  g_autofree char *out = g_build_filename (runs_dir, "converted.safetensors", NULL);

  g_assert_true (g_file_get_contents (acc_path, &acc, NULL, NULL));
  g_strstrip (acc);
  expect = g_strdup_printf ("(%s of 10000)", acc);
  run_cli (&r, "predict", "--checkpoint", pth, "--test", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "Model: lenet5");
  assert_contains (r.out, expect);

  /* .pth -> safetensors, which predicts the same. */
  run_cli (&conv, "convert", pth, out, NULL);
  g_assert_cmpint (conv.status, ==, 0);
  run_cli (&again, "predict", "-c", out, "--test", NULL);
  assert_contains (again.out, expect);
  run_cli (&inspect, "inspect", out, NULL);
  g_assert_cmpint (inspect.status, ==, 0);
  assert_contains (inspect.out, "Format:  safetensors");
  assert_contains (inspect.out, "conv2.weight");
  assert_contains (inspect.out, "[16, 6, 5, 5]");
  assert_contains (inspect.out, "converted_from: lenet5-trained.pth");
}

/* PyTorch classes trained by PyTorch (tests/make-class-fixtures.py): the
 * tutorial's Net (a pooling module called twice), a Sequential net with
 * BatchNorm, a small ResNet (identity and projection shortcuts) and a net
 * whose convolution is called twice with its weights, joined by torch.cat. With the class as --model, Convscope's count is PyTorch's; the
 * converted safetensors carries the spec and num_batches_tracked as I64. */
static void
test_predict_pytorch_classes (void)
{
  static const char * const names[] = { "tutorial_net", "seq_bn_net", "small_resnet", "tied_net" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *pth_name = g_strdup_printf ("%s-trained.pth", names[i]);
      g_autofree char *acc_name = g_strdup_printf ("%s-trained-accuracy.txt", names[i]);
      g_autofree char *py_name = g_strdup_printf ("%s.py", names[i]);
      g_autofree char *pth = fixture (pth_name);
      g_autofree char *acc_path = fixture (acc_name);
      g_autofree char *py = g_test_build_filename (G_TEST_DIST, "data", "classes", py_name, NULL);
      g_autofree char *out = g_build_filename (runs_dir, "class.safetensors", NULL);
      g_autofree char *acc = NULL, *expect = NULL;
      g_auto(Result) bare = { 0 };
      g_auto(Result) r = { 0 };
      g_auto(Result) conv = { 0 };
      g_auto(Result) again = { 0 };
      g_auto(Result) inspect = { 0 };

      g_assert_true (g_file_get_contents (acc_path, &acc, NULL, NULL));
      g_strstrip (acc);
      expect = g_strdup_printf ("(%s of 10000)", acc);

      /* Without the class the file cannot say what it is: the message says how. */
      run_cli (&bare, "predict", "--checkpoint", pth, "--test", NULL);
      g_assert_cmpint (bare.status, ==, 1);
      assert_contains (bare.err, "--model MODEL.py");

      run_cli (&r, "predict", "--checkpoint", pth, "--model", py, "--test", NULL);
      g_assert_cmpint (r.status, ==, 0);
      assert_contains (r.out, expect);

      run_cli (&conv, "convert", pth, out, "--model", py, NULL);
      g_assert_cmpint (conv.status, ==, 0);
      run_cli (&again, "predict", "-c", out, "--test", NULL);
      g_assert_cmpint (again.status, ==, 0);
      assert_contains (again.out, expect);
      run_cli (&inspect, "inspect", out, NULL);
      g_assert_cmpint (inspect.status, ==, 0);
      if (i == 1)
        {
          assert_contains (inspect.out, "features.4.1.running_var");
          assert_contains (inspect.out, "I64");
        }
      if (i == 2)
        assert_contains (inspect.out, "shortcut.1.num_batches_tracked");
      /* Kernels of every convolution, a convolution called again drawn once. */
      {
        g_auto(Result) render = { 0 };
        g_autofree char *png = g_build_filename (runs_dir, "kernels.png", NULL);
        run_cli (&render, "render", "kernels", "-c", pth, "--model", py, "-o", png, NULL);
        g_assert_cmpint (render.status, ==, 0);
        g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));
        g_unlink (png);
      }
      g_unlink (out);
    }
}

static void
test_predict_bundled (void)
{
  g_auto(Result) r = { 0 };
  const char *p;

  run_cli (&r, "predict", "--test", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "bundled LeNet-5");
  p = strstr (r.out, "Test accuracy on MNIST: ");
  g_assert_nonnull (p);
  g_assert_cmpfloat (g_ascii_strtod (p + strlen ("Test accuracy on MNIST: "), NULL), >=, 98.0);
}

/* An MNIST test digit drawn large, dark on light, as a PNG. */
static char *
write_digit_png (const char *name,
                 guint       index,
                 int         scale,
                 gboolean    blank)
{
  g_autofree char *path = g_build_filename (runs_dir, name, NULL);
  g_autofree char *images = g_build_filename (CS_SOURCE_DATA_DIR, "mnist", "t10k-images-idx3-ubyte", NULL);
  g_autofree char *bytes = NULL;
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 28 * scale + 40, 28 * scale + 60);
  cairo_t *cr = cairo_create (s);

  g_assert_true (g_file_get_contents (images, &bytes, NULL, NULL));
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  if (!blank)
    for (int y = 0; y < 28; y++)
      for (int x = 0; x < 28; x++)
        {
          double v = (guint8) bytes[16 + index * 784 + y * 28 + x] / 255.0;
          cairo_set_source_rgb (cr, 1 - v, 1 - v, 1 - v);
          cairo_rectangle (cr, 20 + x * scale, 30 + y * scale, scale, scale);
          cairo_fill (cr);
        }
  cairo_destroy (cr);
  g_assert_cmpint (cairo_surface_write_to_png (s, path), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy (s);
  return g_steal_pointer (&path);
}

static void
test_predict_image (void)
{
  g_autofree char *seven = write_digit_png ("seven.png", 0, 9, FALSE);   /* test image 0 is a 7 */
  g_autofree char *two = write_digit_png ("two.png", 1, 5, FALSE);       /* test image 1 is a 2 */
  g_autofree char *blank = write_digit_png ("blank.png", 0, 3, TRUE);
  g_autofree char *notpng = g_build_filename (runs_dir, "fake.png", NULL);
  g_auto(Result) a = { 0 };
  g_auto(Result) b = { 0 };
  g_auto(Result) c = { 0 };
  g_auto(Result) d = { 0 };

  run_cli (&a, "predict", "--image", seven, "--ascii", NULL);
  g_assert_cmpint (a.status, ==, 0);
  assert_contains (a.out, "Prediction: 7");
  run_cli (&b, "predict", "--image", two, NULL);
  assert_contains (b.out, "Prediction: 2");
  run_cli (&c, "predict", "--image", blank, NULL);
  g_assert_cmpint (c.status, ==, 1);
  assert_contains (c.err, "the image is blank");
  g_file_set_contents (notpng, "GIF89a not a png", -1, NULL);
  run_cli (&d, "predict", "--image", notpng, NULL);
  g_assert_cmpint (d.status, ==, 1);
  assert_contains (d.err, "not a readable PNG image");
}

static guint32
png_crc (const guint8 *data,
         gsize         len,
         guint32       crc)
{
  crc = ~crc;
  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
  return ~crc;
}

static void
png_chunk (GByteArray   *png,
           const char   *type,
           const guint8 *data,
           gsize         len)
{
  guint8 be[4] = { len >> 24, len >> 16, len >> 8, len };
  guint32 crc;

  g_byte_array_append (png, be, 4);
  g_byte_array_append (png, (const guint8 *) type, 4);
  if (len > 0)
    g_byte_array_append (png, data, len);
  crc = png_crc ((const guint8 *) type, 4, 0);
  crc = png_crc (data, len, crc);
  be[0] = crc >> 24; be[1] = crc >> 16; be[2] = crc >> 8; be[3] = crc;
  g_byte_array_append (png, be, 4);
}

/* A valid, white, 1-bit greyscale PNG of any size: a 20000x20000 one is
 * ~60 KB on disk but 1.6 GB once cairo decodes it to ARGB32. */
static char *
write_blank_png (const char *name,
                 guint32     width,
                 guint32     height)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  g_autofree char *path = g_build_filename (runs_dir, name, NULL);
  g_autoptr(GByteArray) png = g_byte_array_new ();
  g_autoptr(GZlibCompressor) zlib = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, 9);
  g_autoptr(GByteArray) idat = g_byte_array_new ();
  gsize row_bytes = 1 + (width + 7) / 8;
  g_autofree guint8 *row = g_malloc (row_bytes);
  guint8 ihdr[13] = { width >> 24, width >> 16, width >> 8, width,
                      height >> 24, height >> 16, height >> 8, height,
                      1 /* bit depth */, 0 /* grey */, 0, 0, 0 };
  guint8 out[65536];

  row[0] = 0;   /* filter: none */
  memset (row + 1, 0xff, row_bytes - 1);
  for (guint32 y = 0; y <= height; y++)
    {
      gboolean last = y == height;
      gsize in_left = last ? 0 : row_bytes;
      const guint8 *in = row;
      GConverterResult res;

      do
        {
          gsize read = 0, written = 0;

          res = g_converter_convert (G_CONVERTER (zlib), in, in_left, out, sizeof out,
                                     last ? G_CONVERTER_INPUT_AT_END : G_CONVERTER_NO_FLAGS,
                                     &read, &written, NULL);
          g_assert_cmpint (res, !=, G_CONVERTER_ERROR);
          g_byte_array_append (idat, out, written);
          in += read;
          in_left -= read;
        }
      while (in_left > 0 || (last && res != G_CONVERTER_FINISHED));
    }
  g_byte_array_append (png, signature, 8);
  png_chunk (png, "IHDR", ihdr, sizeof ihdr);
  png_chunk (png, "IDAT", idat->data, idat->len);
  png_chunk (png, "IEND", NULL, 0);
  g_assert_true (g_file_set_contents (path, (const char *) png->data, png->len, NULL));
  return g_steal_pointer (&path);
}

static void
test_predict_image_size (void)
{
  g_autofree char *huge = write_blank_png ("huge.png", 20000, 20000);
  g_autofree char *tiny = write_blank_png ("tiny.png", 1, 1);
  g_autofree char *wide = write_blank_png ("wide.png", 8193, 4);
  g_autofree char *maps = g_build_filename (runs_dir, "maps.png", NULL);
  cairo_surface_t *check = cairo_image_surface_create_from_png (tiny);
  g_auto(Result) a = { 0 };
  g_auto(Result) b = { 0 };
  g_auto(Result) c = { 0 };
  g_auto(Result) d = { 0 };

  /* The writer above makes PNGs cairo reads. */
  g_assert_cmpint (cairo_surface_status (check), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (check), ==, 1);
  cairo_surface_destroy (check);

  run_cli (&a, "predict", "--image", huge, NULL);
  g_assert_cmpint (a.status, ==, 1);
  assert_contains (a.err, "huge.png: the image is 20000x20000 pixels; a digit image may be at most 8192x8192");
  run_cli (&b, "predict", "--image", wide, NULL);
  g_assert_cmpint (b.status, ==, 1);
  assert_contains (b.err, "wide.png: the image is 8193x4 pixels");
  run_cli (&c, "predict", "--image", tiny, NULL);
  g_assert_cmpint (c.status, ==, 1);
  assert_contains (c.err, "the image is blank");
  run_cli (&d, "render", "feature-maps", "--image", huge, "-o", maps, NULL);
  g_assert_cmpint (d.status, ==, 1);
  g_assert_false (g_file_test (maps, G_FILE_TEST_EXISTS));
  assert_contains (d.err, "huge.png: the image is 20000x20000 pixels");
}

static void
test_hostile_checkpoints (void)
{
  g_autofree char *evil = fixture ("evil-os-system.pth");
  g_auto(Result) a = { 0 };
  g_auto(Result) b = { 0 };
  g_auto(Result) c = { 0 };

  g_unlink ("/tmp/convscope-pickle-was-executed!!");
  run_cli (&a, "predict", "-c", evil, "--test", NULL);
  g_assert_cmpint (a.status, ==, 1);
  assert_contains (a.err, "os.system");
  g_assert_false (g_file_test ("/tmp/convscope-pickle-was-executed!!", G_FILE_TEST_EXISTS));
  run_cli (&b, "inspect", "/dev/null", NULL);
  g_assert_cmpint (b.status, ==, 1);
  assert_contains (b.err, "/dev/null is a character device, not a regular file");
  run_cli (&c, "convert", evil, "out.pth", NULL);
  g_assert_cmpint (c.status, ==, 2);
  assert_contains (c.err, "name the output OUT.safetensors");
}

/* Headless rendering: valid PNG, SVG and PDF files. */
static void
test_render (void)
{
  static const char * const outs[] = { "k.png", "k.svg", "k.pdf" };

  for (guint i = 0; i < G_N_ELEMENTS (outs); i++)
    {
      g_autofree char *path = g_build_filename (runs_dir, outs[i], NULL);
      g_autofree char *bytes = NULL;
      g_auto(Result) r = { 0 };
      gsize len;

      run_cli (&r, "render", i == 1 ? "feature-maps" : "kernels", "-o", path, i == 1 ? "--test-index" : NULL, "7", NULL);
      g_assert_cmpint (r.status, ==, 0);
      g_assert_true (g_file_get_contents (path, &bytes, &len, NULL));
      if (i == 0)
        g_assert_true (len > 8 && memcmp (bytes, "\x89PNG\r\n\x1a\n", 8) == 0);
      else if (i == 1)
        g_assert_nonnull (strstr (bytes, "<svg"));
      else
        g_assert_true (g_str_has_prefix (bytes, "%PDF-"));
    }
  {
    g_auto(Result) bad = { 0 };
    run_cli (&bad, "render", "kernels", "-o", "/tmp/x.bmp", NULL);
    g_assert_cmpint (bad.status, ==, 2);
    assert_contains (bad.err, "must end in .png, .svg or .pdf");
  }
}


/* A safetensors file from a header and @data_len zero bytes. */
static char *
write_safetensors (const char *name,
                   const char *header,
                   gsize       data_len)
{
  g_autofree char *path = g_build_filename (runs_dir, name, NULL);
  g_autoptr(GByteArray) a = g_byte_array_new ();
  guint64 n = GUINT64_TO_LE ((guint64) strlen (header));
  g_autofree guint8 *zeros = g_malloc0 (data_len + 1);

  g_byte_array_append (a, (guint8 *) &n, 8);
  g_byte_array_append (a, (const guint8 *) header, strlen (header));
  g_byte_array_append (a, zeros, data_len);
  g_assert_true (g_file_set_contents (path, (char *) a->data, a->len, NULL));
  return g_steal_pointer (&path);
}

/* #15 at the command line: each case a clear message, status 1 or 2, no signal, no hang. */
static void
test_hostile_inputs (void)
{
  /* Terminal escapes in names and metadata are shown escaped, never sent raw. */
  {
    g_autofree char *path = write_safetensors ("escapes.safetensors",
      "{\"__metadata__\":{\"note\\u001b]0;pwned\\u0007\":\"\\u001b[2J\\u009b31m\"},"
      "\"w\\u001b[31m\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    g_auto(Result) r = { 0 };

    run_cli (&r, "inspect", path, NULL);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_null (strchr (r.out, '\033'));
    g_assert_null (strchr (r.out, '\007'));
    g_assert_null (strstr (r.out, "\xc2\x9b"));
    assert_contains (r.out, "w\\x1b[31m");
    assert_contains (r.out, "note\\x1b]0;pwned\\x07: \\x1b[2J\\x9b31m");
  }
  /* A model with one output: predict --test once read past its logits. */
  {
    g_autofree char *path = write_safetensors ("one-output.safetensors",
      "{\"__metadata__\":{\"spec\":\"input 784\\nfc = nn.Linear(784, 1)\"},"
      "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[1,784],\"data_offsets\":[0,3136]},"
      "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[3136,3140]}}", 3140);
    g_auto(Result) r = { 0 };

    run_cli (&r, "predict", "-c", path, "--test", NULL);
    g_assert_cmpint (r.status, ==, 1);
    assert_contains (r.err, "one-output.safetensors: the model has 1 output but MNIST has 10 classes");
  }
  /* CSV to a full disk: the error, status 1, and /dev/full still a device. */
  {
    g_autofree char *empty = g_build_filename (runs_dir, "no-runs", NULL);
    g_auto(Result) r = { 0 };
    struct stat st;

    run_cli (&r, "runs", "export", "--all", "--csv", "-o", "/dev/full", "--runs-dir", empty, NULL);
    g_assert_cmpint (r.status, ==, 1);
    assert_contains (r.err, "could not write /dev/full: No space left on device");
    g_assert_true (stat ("/dev/full", &st) == 0 && S_ISCHR (st.st_mode));
  }
  /* A FIFO as the model spec: refused at once. */
  {
    g_autofree char *fifo = g_build_filename (runs_dir, "model.spec", NULL);
    g_auto(Result) r = { 0 };

    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    run_cli (&r, "summary", "--model", fifo, NULL);
    g_assert_cmpint (r.status, >=, 1);
    g_assert_cmpint (r.status, <=, 2);
    assert_contains (r.err, "model.spec is a FIFO, not a regular file");
    g_unlink (fifo);
  }
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  cs_test_require_mnist ();
  bin = g_getenv ("CONVSCOPE_BIN");
  g_assert_nonnull (bin);
  runs_dir = g_dir_make_tmp ("cs-test-cli-runs-XXXXXX", NULL);

  g_test_add_func ("/cli/help-and-version", test_help_and_version);
  g_test_add_func ("/cli/shapes", test_shapes);
  g_test_add_func ("/cli/dataset-info", test_dataset_info);
  g_test_add_func ("/cli/bad-values", test_bad_values);
  g_test_add_func ("/cli/kill-9", test_kill_9);
  g_test_add_func ("/cli/runs-errors", test_runs_errors);
  g_test_add_func ("/cli/predict-pytorch", test_predict_pytorch);
  g_test_add_func ("/cli/predict-pytorch-classes", test_predict_pytorch_classes);
  g_test_add_func ("/cli/predict-bundled", test_predict_bundled);
  g_test_add_func ("/cli/predict-image", test_predict_image);
  g_test_add_func ("/cli/predict-image-size", test_predict_image_size);
  g_test_add_func ("/cli/hostile-checkpoints", test_hostile_checkpoints);
  g_test_add_func ("/cli/render", test_render);
  g_test_add_func ("/cli/hostile-inputs", test_hostile_inputs);

  ret = g_test_run ();
  cs_test_rm_rf (runs_dir);
  g_free (runs_dir);
  return ret;
}
