/* Spec language tests: the presets' shapes, and every error message for specs that do not fit. */

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/cs-presets.h"
#include "spec/cs-spec.h"

static CsSpec *
parse_ok (const char *text)
{
  g_autoptr(GError) error = NULL;
  CsSpec *spec = cs_spec_parse (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (spec);
  return spec;
}

static void
expect_error (const char *text,
              int         code,
              const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_parse (text, &error);

  g_assert_null (spec);
  g_assert_nonnull (error);
  if (g_test_verbose ())
    g_printerr ("  %s\n", error->message);
  if (strstr (error->message, message) == NULL)
    g_error ("expected \"%s\" in \"%s\"", message, error->message);
  g_assert_error (error, CS_SPEC_ERROR, code);
}

static void
assert_shape (const CsLayerSpec *layer,
              const char        *name,
              const char        *shape)
{
  g_autofree char *s = cs_shape_to_string (layer->out);

  g_assert_cmpstr (layer->name, ==, name);
  g_assert_cmpstr (s, ==, shape);
}

/* The notebook's exercise: 1x28x28 -> 32x28x28 -> 32x14x14 -> 64x14x14 -> 64x7x7 -> 3136 -> 10. */
static void
test_shapes_preset (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model ("shapes", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (cs_spec_n_layers (spec), ==, 6);
  assert_shape (cs_spec_layer (spec, 0), "conv1", "32x28x28");
  assert_shape (cs_spec_layer (spec, 1), "pool1", "32x14x14");
  assert_shape (cs_spec_layer (spec, 2), "conv2", "64x14x14");
  assert_shape (cs_spec_layer (spec, 3), "pool2", "64x7x7");
  assert_shape (cs_spec_layer (spec, 4), "flat", "3136");
  assert_shape (cs_spec_layer (spec, 5), "fc", "10");
  /* MaxPool2d(2): stride defaults to the kernel size. */
  g_assert_cmpint (cs_spec_layer (spec, 1)->sh, ==, 2);
}

static void
test_notebook_presets (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) lenet = cs_spec_for_model ("lenet5", &error);
  g_autoptr(CsSpec) cnn = NULL;
  g_autoptr(CsSpec) mlp = NULL;
  g_autoptr(CsSpec) net = NULL;

  g_assert_no_error (error);
  assert_shape (cs_spec_layer (lenet, 0), "conv1", "6x28x28");
  assert_shape (cs_spec_layer (lenet, 2), "pool1", "6x14x14");
  assert_shape (cs_spec_layer (lenet, 3), "conv2", "16x10x10");
  assert_shape (cs_spec_layer (lenet, 5), "pool2", "16x5x5");
  assert_shape (cs_spec_layer (lenet, 6), "conv3", "120x1x1");
  assert_shape (cs_spec_layer (lenet, 9), "fc1", "84");
  assert_shape (cs_spec_layer (lenet, 11), "fc2", "10");
  g_assert_cmpint (cs_spec_layer (lenet, 1)->kind, ==, CS_LAYER_TANH);
  g_assert_cmpint (cs_spec_layer (lenet, 2)->kind, ==, CS_LAYER_AVGPOOL2D);

  cnn = cs_spec_for_model ("cnn", &error);
  g_assert_no_error (error);
  assert_shape (cs_spec_layer (cnn, 2), "pool", "10x27x27");   /* MaxPool2d(2, stride=1) */
  assert_shape (cs_spec_layer (cnn, 4), "flat", "7290");
  g_assert_cmpfloat (cs_spec_layer (cnn, 3)->p, ==, 0.2f);
  g_assert_cmpint (cs_spec_layer (cnn, 5)->in_features, ==, 27 * 27 * 10);

  mlp = cs_spec_for_model ("mlp", &error);
  g_assert_no_error (error);
  g_assert_true (cs_spec_layer (mlp, 0)->functional);   /* x.view(-1, 784) is not a module */
  assert_shape (cs_spec_layer (mlp, 1), "layer1", "784");
  assert_shape (cs_spec_layer (mlp, 3), "layer2", "10");

  net = cs_spec_for_model ("net-mnist(initial_filters=4, num_fc1=32)", &error);
  g_assert_no_error (error);
  g_assert_cmpint (cs_spec_layer (net, cs_spec_n_layers (net) - 1)->kind, ==, CS_LAYER_LOGSOFTMAX);
  g_assert_cmpint (cs_spec_output_shape (net).c, ==, 10);
}

/* The notebook's Net on 1x28x28 fails at conv4, as PyTorch's forward would. */
static void
test_net_fails (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model ("net", &error);

  g_assert_null (spec);
  g_assert_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SHAPE);
  g_assert_cmpstr (error->message, ==, "line 12, conv4: its input is 1x1, smaller than the 3x3 kernel");
  g_clear_error (&error);

  /* On a larger input the same Net fits. */
  spec = cs_spec_for_model ("net(input_shape=(1, 64, 64))", &error);
  g_assert_no_error (error);
  g_assert_nonnull (spec);

  g_clear_pointer (&spec, cs_spec_free);
  spec = cs_spec_for_model ("net(initial_filters=zero)", &error);
  g_assert_null (spec);
  g_assert_nonnull (strstr (error->message, "initial_filters must be an integer"));
  g_clear_error (&error);
  spec = cs_spec_for_model ("net(filters=8)", &error);
  g_assert_nonnull (strstr (error->message, "unknown parameter \"filters\""));
  g_clear_error (&error);
  spec = cs_spec_for_model ("resnet50", &error);
  g_assert_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_UNKNOWN_PRESET);
  g_assert_nonnull (strstr (error->message, "unknown model \"resnet50\""));
}

static void
test_syntax (void)
{
  g_autoptr(CsSpec) spec = NULL;

  /* Positional and keyword arguments, comments, tuples, arithmetic, nn./F. prefixes, self. names. */
  spec = parse_ok ("# a comment\n"
                   "input (1, 28, 28)   # trailing comment\n"
                   "\n"
                   "self.c = nn.Conv2d(1, 4, (3, 5), stride=(1, 2), padding=(1, 2), bias=False)\n"
                   "nn.ReLU()\n"
                   "x = F.max_pool2d(x, kernel_size=2)\n"
                   "torch.nn.Flatten()\n"
                   "head = Linear(4 * 14 * 7, 10)\n");
  g_assert_cmpuint (cs_spec_n_layers (spec), ==, 5);
  assert_shape (cs_spec_layer (spec, 0), "c", "4x28x14");
  g_assert_false (cs_spec_layer (spec, 0)->bias);
  g_assert_cmpint (cs_spec_layer (spec, 0)->kw, ==, 5);
  /* Unnamed modules are numbered as nn.Sequential numbers them; functions are not modules. */
  g_assert_cmpstr (cs_spec_layer (spec, 1)->name, ==, "1");
  g_assert_true (cs_spec_layer (spec, 2)->functional);
  g_assert_cmpstr (cs_spec_layer (spec, 3)->name, ==, "2");
  assert_shape (cs_spec_layer (spec, 4), "head", "10");
  g_clear_pointer (&spec, cs_spec_free);

  /* padding='same', dilation, ceil_mode. */
  spec = parse_ok ("input 1x9x9\n"
                   "conv = nn.Conv2d(1, 2, kernel_size=3, padding='same', dilation=2)\n"
                   "pool = nn.MaxPool2d(2, ceil_mode=True)\n"
                   "pool2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)\n"
                   "flat = nn.Flatten()\n"
                   "fc = nn.Linear(2*3*3, 10)\n"
                   "out = nn.LogSoftmax(dim=1)\n");
  assert_shape (cs_spec_layer (spec, 0), "conv", "2x9x9");
  assert_shape (cs_spec_layer (spec, 1), "pool", "2x5x5");
  assert_shape (cs_spec_layer (spec, 2), "pool2", "2x3x3");
  g_assert_false (cs_spec_layer (spec, 2)->count_include_pad);
}

static void
test_errors (void)
{
  /* The fix is in the message: LeNet-5 with a wrong fc1. */
  expect_error ("input 1x28x28\n"
                "conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)\n"
                "act1 = nn.Tanh()\n"
                "pool1 = nn.AvgPool2d(2, 2)\n"
                "conv2 = nn.Conv2d(6, 16, kernel_size=5)\n"
                "act2 = nn.Tanh()\n"
                "pool2 = nn.AvgPool2d(2, 2)\n"
                "flat = nn.Flatten()\n"
                "fc1 = nn.Linear(120, 84)\n",
                CS_SPEC_ERROR_SHAPE,
                "line 9, fc1: nn.Linear(120, 84) gets 16x5x5 = 400 features from flat; in_features should be 400");
  expect_error ("input 1x28x28\nconv1 = nn.Conv2d(1, 6, 5)\npool2 = nn.AvgPool2d(2)\nfc1 = nn.Linear(120, 84)\n",
                CS_SPEC_ERROR_SHAPE,
                "line 4, fc1: nn.Linear(120, 84) gets 6x12x12 = 864 features from pool2; in_features should be 864");
  expect_error ("input 1x28x28\nconv1 = nn.Conv2d(3, 6, 5)\n", CS_SPEC_ERROR_SHAPE,
                "line 2, conv1: nn.Conv2d(3, 6, 5) gets 1x28x28 from the input, 1 channel; in_channels should be 1");
  expect_error ("input 1x4x4\nconv = nn.Conv2d(1, 6, 5)\n", CS_SPEC_ERROR_SHAPE,
                "line 2, conv: its input is 4x4, smaller than the 5x5 kernel");
  expect_error ("input 1x28x28\nflat = nn.Flatten()\nconv = nn.Conv2d(1, 6, 5)\n", CS_SPEC_ERROR_SHAPE,
                "needs a CxHxW map but gets 784 flat features from flat");
  expect_error ("input 1x28x28\nx.view(-1, 700)\n", CS_SPEC_ERROR_SHAPE,
                "cannot view 1x28x28 = 784 values per sample as 700; the size should be 784");
  expect_error ("input 1x28x28\nconv = nn.Conv2d(1, 6, 5)\n", CS_SPEC_ERROR_SHAPE,
                "the model ends in a 6x24x24 map");

  /* Unknown layers and bad arguments. */
  expect_error ("input 1x28x28\nconv = nn.Conv3d(1, 6, 5)\n", CS_SPEC_ERROR_UNKNOWN_LAYER,
                "line 2: unknown layer \"nn.Conv3d\" (did you mean Conv2d?)");
  expect_error ("input 1x28x28\nconv = nn.Conv2d(1, 6, kernal_size=5)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "line 2, conv: Conv2d() got an unexpected keyword argument 'kernal_size' (did you mean kernel_size?)");
  expect_error ("input 1x28x28\nconv = nn.Conv2d(1, 6)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "Conv2d() is missing its required argument 'kernel_size'");
  expect_error ("input 1x28x28\nconv = nn.Conv2d(1, 6, 5, stride=0)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "stride must be between 1 and");
  expect_error ("input 1x28x28\nconv = nn.Conv2d(1, 6, 5, 1, 2, stride=1)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "got multiple values for argument 'stride'");
  expect_error ("input 1x28x28\nconv = nn.Conv2d(1, 6, 5, padding='full')\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "padding must be an integer, a pair, 'same' or 'valid'");
  expect_error ("input 1x28x28\nconv = nn.Conv2d(1, 6, 5, groups=2)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "groups other than 1 are not supported");
  expect_error ("input 1x28x28\nd = nn.Dropout(1.5)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "dropout probability has to be between 0 and 1, but got 1.5");
  expect_error ("input 1x28x28\np = nn.MaxPool2d(2, padding=2)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "must be at most half of the kernel size");
  expect_error ("input 1x28x28\nfc = nn.Linear(784.5, 10)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "in_features must be an integer, not a float");
  expect_error ("input 1x28x28\nx = nn.ReLU(\n", CS_SPEC_ERROR_SYNTAX, "line 2:");
  expect_error ("input 1x28x28\nconv = nn.Conv2d 1, 6, 5\n", CS_SPEC_ERROR_SYNTAX,
                "line 2: expected '(' after \"nn.Conv2d\"");
  expect_error ("conv = nn.Conv2d(1, 6, 5)\n", CS_SPEC_ERROR_SYNTAX,
                "line 1: the spec must begin with its input shape");
  expect_error ("input 1x28x28\na = nn.ReLU()\na = nn.Tanh()\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: the name \"a\" is already used by another layer");
  expect_error ("input 1x28x28\na = nn.ReLU()\na = nn.ReLU(inplace=True)\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: the name \"a\" is already used by another layer");
  /* The same module without weights, called again (self.pool twice in forward). */
  {
    g_autoptr(CsSpec) twice = parse_ok ("input 1x28x28\np = nn.MaxPool2d(2)\np = nn.MaxPool2d(2)\nx.flatten(1)\n"
                                        "fc = nn.Linear(49, 10)\n");
    assert_shape (cs_spec_layer (twice, 1), "p", "1x7x7");
  }
  expect_error ("input 1x28x28\nc = nn.Conv2d(1, 1, 3, padding=1)\nc = nn.Conv2d(1, 1, 3, padding=1)\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: c is written a second time; to call it again with the same weights write \"c_2 = c(x)\"");
  expect_error ("input 1x0x28\n", CS_SPEC_ERROR_SYNTAX, "the input shape must be positive integers");
  expect_error ("input 1x28x28\n", CS_SPEC_ERROR_SYNTAX, "the spec has no layers");
  expect_error ("# nothing\n", CS_SPEC_ERROR_SYNTAX, "the spec has no \"input\" line");
  expect_error ("input 1x28x28\nfc = nn.Linear(99999999999, 10)\n", CS_SPEC_ERROR_SYNTAX, "not an integer in range");
  expect_error ("input 1x28x28\nnn.Flatten()\nfc = nn.Linear(784, 10) extra\n", CS_SPEC_ERROR_SYNTAX,
                "unexpected text after the layer");
  /* Found by fuzzing: deep nesting must not exhaust the stack. */
  {
    g_autoptr(GString) deep = g_string_new ("input 784\nfc = nn.Linear(");
    for (int i = 0; i < 100000; i++)
      g_string_append (deep, "-(");
    g_string_append (deep, "1, 10)\n");
    expect_error (deep->str, CS_SPEC_ERROR_SYNTAX, "the expression is nested too deeply");
  }
}

static void
test_load_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = NULL;
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("cs-test-XXXXXX.spec", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, "input 784\nfc = nn.Linear(784, 11)\n", -1, NULL));
  spec = cs_spec_for_model (path, &error);
  g_assert_no_error (error);
  assert_shape (cs_spec_layer (spec, 0), "fc", "11");
  g_clear_pointer (&spec, cs_spec_free);

  /* Errors from a file name the file. */
  g_assert_true (g_file_set_contents (path, "input 784\nfc = nn.Linear(700, 10)\n", -1, NULL));
  spec = cs_spec_for_model (path, &error);
  g_assert_null (spec);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, "line 2, fc:"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, "input 784\n\0binary", 17, NULL));
  spec = cs_spec_for_model (path, &error);
  g_assert_nonnull (strstr (error->message, "not a text file"));
  g_clear_error (&error);
  g_unlink (path);

  spec = cs_spec_for_model ("/nonexistent/model.spec", &error);
  g_assert_null (spec);
  g_assert_nonnull (strstr (error->message, "/nonexistent/model.spec"));
}


/* #15: sizes that would not fit in memory or in an int are refused, naming the layer. */
static void
test_size_limits (void)
{
  /* 4G parameters: once SIGTRAP in the allocator */
  expect_error ("input 1x256x256\nflat = nn.Flatten()\nfc = nn.Linear(65536, 65536)\n", CS_SPEC_ERROR_SHAPE,
                "line 3, fc: nn.Linear(65536, 65536) has 4295032832 parameters, which makes the model larger than "
                "the 100000000 parameters Convscope trains");
  /* fine one by one, too many together */
  expect_error ("input 784\nfc1 = nn.Linear(784, 60000)\nfc2 = nn.Linear(60000, 1000)\n", CS_SPEC_ERROR_SHAPE,
                "line 3, fc2: nn.Linear(60000, 1000) has 60001000 parameters");
  /* activations: a map of 32767 x 32767 x 64 */
  expect_error ("input 1x32767x32767\n", CS_SPEC_ERROR_SHAPE,
                "line 1: an input of 1x32767x32767 is more than the 16777216 values per sample supported");
  expect_error ("input 1x2048x2048\nconv = nn.Conv2d(1, 64, 3, padding=1)\n", CS_SPEC_ERROR_SHAPE,
                "line 2, conv: nn.Conv2d(1, 64, 3, padding=1) gives 268435456 values per sample; at most 16777216");
}

/* A FIFO or a device as a spec file answers at once. */
static void
test_load_special (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cs-test-spec-XXXXXX", NULL);
  g_autofree char *fifo = g_build_filename (dir, "model.spec", NULL);

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  spec = cs_spec_load_file (fifo, &error);
  g_assert_null (spec);
  g_assert_nonnull (strstr (error->message, "model.spec is a FIFO, not a regular file"));
  g_clear_error (&error);
  spec = cs_spec_load_file ("/dev/zero", &error);
  g_assert_null (spec);
  g_assert_nonnull (strstr (error->message, "/dev/zero is a character device, not a regular file"));
  g_unlink (fifo);
  g_rmdir (dir);
}

/* The activations beyond ReLU, Tanh and Sigmoid: their arguments, defaults and errors. */
static void
test_activation_layers (void)
{
  g_autoptr(CsSpec) spec = parse_ok ("input 4\n"
                                     "a = nn.LeakyReLU()\n"
                                     "b = nn.LeakyReLU(0.2, inplace=True)\n"
                                     "F.leaky_relu(x, negative_slope=0.3)\n"
                                     "c = nn.ELU()\n"
                                     "d = nn.ELU(alpha=0.5)\n"
                                     "e = nn.GELU()\n"
                                     "g = nn.GELU(approximate='tanh')\n"
                                     "F.gelu(x, approximate=\"none\")\n"
                                     "s = nn.SiLU()\n"
                                     "F.silu(x)\n"
                                     "i = nn.Identity()\n"
                                     "fc = nn.Linear(4, 10)\n");
  static const CsLayerKind kinds[] = {
    CS_LAYER_LEAKY_RELU, CS_LAYER_LEAKY_RELU, CS_LAYER_LEAKY_RELU, CS_LAYER_ELU, CS_LAYER_ELU,
    CS_LAYER_GELU, CS_LAYER_GELU, CS_LAYER_GELU, CS_LAYER_SILU, CS_LAYER_SILU, CS_LAYER_IDENTITY,
  };

  g_assert_cmpuint (cs_spec_n_layers (spec), ==, 12);
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_assert_cmpint (cs_spec_layer (spec, i)->kind, ==, kinds[i]);
      assert_shape (cs_spec_layer (spec, i), cs_spec_layer (spec, i)->name, "4");
    }
  g_assert_cmpfloat (cs_spec_layer (spec, 0)->alpha, ==, 0.01f);
  g_assert_cmpfloat (cs_spec_layer (spec, 1)->alpha, ==, 0.2f);
  g_assert_cmpfloat (cs_spec_layer (spec, 2)->alpha, ==, 0.3f);
  g_assert_cmpfloat (cs_spec_layer (spec, 3)->alpha, ==, 1.0f);
  g_assert_cmpfloat (cs_spec_layer (spec, 4)->alpha, ==, 0.5f);
  g_assert_false (cs_spec_layer (spec, 5)->tanh_approx);
  g_assert_true (cs_spec_layer (spec, 6)->tanh_approx);
  g_assert_false (cs_spec_layer (spec, 7)->tanh_approx);
  g_assert_cmpstr (cs_layer_kind_name (CS_LAYER_GELU), ==, "GELU");
  g_assert_false (cs_layer_kind_has_params (CS_LAYER_SILU));

  expect_error ("input 4\ng = nn.GELU(approximate='fast')\n", CS_SPEC_ERROR_BAD_ARGUMENT, "approximate must be 'none' or 'tanh'");
  expect_error ("input 4\ng = nn.GELU(approximate=1)\n", CS_SPEC_ERROR_BAD_ARGUMENT, "approximate");
  expect_error ("input 4\nl = nn.LeakyReLU('a')\n", CS_SPEC_ERROR_BAD_ARGUMENT, "negative_slope");
  expect_error ("input 4\ne = nn.ELU(alpha=1e300)\n", CS_SPEC_ERROR_BAD_ARGUMENT, "alpha must be a finite number");
  expect_error ("input 4\ns = nn.Silu()\n", CS_SPEC_ERROR_UNKNOWN_LAYER, "SiLU");
}

static void
test_batchnorm_layers (void)
{
  g_autoptr(CsSpec) spec = parse_ok ("input 3x8x8\n"
                                     "bn = nn.BatchNorm2d(3)\n"
                                     "bn2 = nn.BatchNorm2d(3, eps=1e-3, momentum=None, affine=False)\n"
                                     "bn3 = nn.BatchNorm2d(3, track_running_stats=False)\n"
                                     "x.flatten(1)\n"
                                     "fc = nn.Linear(192, 10)\n"
                                     "b1 = nn.BatchNorm1d(10, momentum=0.01)\n");
  const CsLayerSpec *bn = cs_spec_layer (spec, 0), *bn2 = cs_spec_layer (spec, 1), *b1 = cs_spec_layer (spec, 5);

  g_assert_cmpint (bn->kind, ==, CS_LAYER_BATCHNORM2D);
  g_assert_cmpfloat (bn->eps, ==, 1e-5f);
  g_assert_cmpfloat (bn->momentum, ==, 0.1f);
  g_assert_true (bn->bias && bn->track_running_stats);
  g_assert_cmpfloat (bn2->eps, ==, 1e-3f);
  g_assert_cmpfloat (bn2->momentum, <, 0.0f);
  g_assert_false (bn2->bias);
  g_assert_false (cs_spec_layer (spec, 2)->track_running_stats);
  g_assert_cmpint (b1->kind, ==, CS_LAYER_BATCHNORM1D);
  g_assert_cmpfloat (b1->momentum, ==, 0.01f);
  assert_shape (b1, "b1", "10");
  /* weight and bias of bn, bn3 and b1, the Linear; running statistics are state */
  g_assert_cmpuint (cs_spec_n_params (spec), ==, 6 + 6 + 192 * 10 + 10 + 20);
  g_assert_cmpuint (cs_spec_n_state (spec), ==, 6 + 6 + 20);

  expect_error ("input 3x8x8\nbn = nn.BatchNorm2d(4)\n", CS_SPEC_ERROR_SHAPE,
                "line 2, bn: nn.BatchNorm2d(4) gets 3x8x8 from the input; num_features should be 3");
  expect_error ("input 3x8x8\nbn = nn.BatchNorm1d(3)\n", CS_SPEC_ERROR_SHAPE,
                "normalizes flat features, but gets a 3x8x8 from the input (use nn.BatchNorm2d on maps)");
  expect_error ("input 10\nbn = nn.BatchNorm2d(10)\n", CS_SPEC_ERROR_SHAPE,
                "normalizes the channels of a map, but gets flat features 10 from the input (use nn.BatchNorm1d after Flatten)");
  expect_error ("input 10\nbn = nn.BatchNorm1d(10, momentum=2)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "momentum must be between 0 and 1 (or None), not 2");
  expect_error ("input 10\nbn = nn.BatchNorm1d(10, eps=0)\n", CS_SPEC_ERROR_BAD_ARGUMENT, "eps must be a small positive number");
  expect_error ("input 10\nbn = nn.BatchNorm1d()\n", CS_SPEC_ERROR_BAD_ARGUMENT, "num_features");
  expect_error ("input 10\nbn = nn.BatchNorm1d(10)\nbn = nn.BatchNorm1d(10)\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: bn is written a second time");
}

static void
test_pool_softmax_dropout2d_layers (void)
{
  g_autoptr(CsSpec) spec = parse_ok ("input 3x9x7\n"
                                     "d = nn.Dropout2d(p=0.1)\n"
                                     "F.dropout2d(x, 0.2, training=self.training)\n"
                                     "a = nn.AdaptiveAvgPool2d((3, 2))\n"
                                     "F.adaptive_avg_pool2d(x, output_size=1)\n"
                                     "x.flatten(1)\n"
                                     "fc = nn.Linear(3, 10)\n"
                                     "F.softmax(x, dim=1)\n");

  assert_shape (cs_spec_layer (spec, 0), "d", "3x9x7");
  g_assert_cmpfloat (cs_spec_layer (spec, 1)->p, ==, 0.2f);
  assert_shape (cs_spec_layer (spec, 2), "a", "3x3x2");
  assert_shape (cs_spec_layer (spec, 3), "adaptive_avg_pool2d_3", "3x1x1");
  g_assert_cmpint (cs_spec_layer (spec, 6)->kind, ==, CS_LAYER_SOFTMAX);
  expect_error ("input 10\nd = nn.Dropout2d(0.5)\n", CS_SPEC_ERROR_SHAPE,
                "line 2, d: nn.Dropout2d(0.5) works on the channels of a map, but gets flat features 10 from the input "
                "(use nn.Dropout on features)");
  expect_error ("input 1x8x8\na = nn.AdaptiveAvgPool2d((None, 2))\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "output_size with None (keep that size) is not supported");
  expect_error ("input 1x8x8\na = nn.AdaptiveAvgPool2d(0)\n", CS_SPEC_ERROR_BAD_ARGUMENT, "output_size must be between 1");
  expect_error ("input 1x8x8\ns = nn.Softmax(dim=1)\n", CS_SPEC_ERROR_SHAPE, "softmax over classes needs flat features");
  expect_error ("input 10\ns = nn.Softmax(dim=0)\n", CS_SPEC_ERROR_BAD_ARGUMENT, "only dim=1 (the classes) is supported");
}

/* ---- PyTorch classes, as PyTorch users write them ---- */

/* pytorch/examples' mnist/main.py, whole: imports, the training code around
 * the class, and F.log_softmax at the end. */
static const char examples_mnist[] =
  "from __future__ import print_function\n"
  "import argparse\n"
  "import torch\n"
  "import torch.nn as nn\n"
  "import torch.nn.functional as F\n"
  "\n"
  "\n"
  "class Net(nn.Module):\n"
  "    def __init__(self):\n"
  "        super(Net, self).__init__()\n"
  "        self.conv1 = nn.Conv2d(1, 32, 3, 1)\n"
  "        self.conv2 = nn.Conv2d(32, 64, 3, 1)\n"
  "        self.dropout1 = nn.Dropout(0.25)\n"
  "        self.dropout2 = nn.Dropout(0.5)\n"
  "        self.fc1 = nn.Linear(9216, 128)\n"
  "        self.fc2 = nn.Linear(128, 10)\n"
  "\n"
  "    def forward(self, x):\n"
  "        x = self.conv1(x)\n"
  "        x = F.relu(x)\n"
  "        x = self.conv2(x)\n"
  "        x = F.relu(x)\n"
  "        x = F.max_pool2d(x, 2)\n"
  "        x = self.dropout1(x)\n"
  "        x = torch.flatten(x, 1)\n"
  "        x = self.fc1(x)\n"
  "        x = F.relu(x)\n"
  "        x = self.dropout2(x)\n"
  "        x = self.fc2(x)\n"
  "        output = F.log_softmax(x, dim=1)\n"
  "        return output\n"
  "\n"
  "\n"
  "def train(args, model, device, train_loader, optimizer, epoch):\n"
  "    model.train()\n"
  "    for batch_idx, (data, target) in enumerate(train_loader):\n"
  "        output = model(data)\n";

static void
test_class_examples_mnist (void)
{
  g_autoptr(CsSpec) spec = parse_ok (examples_mnist);
  g_autoptr(CsSpec) again = NULL;

  g_assert_cmpuint (cs_spec_n_layers (spec), ==, 12);
  assert_shape (cs_spec_layer (spec, 0), "conv1", "32x26x26");
  assert_shape (cs_spec_layer (spec, 4), "max_pool2d_4", "64x12x12");
  assert_shape (cs_spec_layer (spec, 5), "dropout1", "64x12x12");
  assert_shape (cs_spec_layer (spec, 6), "flatten_6", "9216");
  assert_shape (cs_spec_layer (spec, 11), "log_softmax_11", "10");
  g_assert_cmpuint (cs_spec_n_params (spec), ==, 1199882);   /* torchinfo's total for this Net */
  /* Lines are the class's: forward's line 19 made conv1. */
  g_assert_cmpuint (cs_spec_layer (spec, 0)->line, ==, 19);
  g_assert_cmpuint (cs_spec_layer (spec, 11)->line, ==, 30);
  g_assert_cmpint (spec->input.c, ==, 1);
  g_assert_cmpint (spec->input.h, ==, 28);

  /* The text kept is a spec, and reads again as the same model. */
  g_assert_nonnull (strstr (spec->text, "input 1x28x28\n"));
  g_assert_nonnull (strstr (spec->text, "conv1 = nn.Conv2d(1, 32, 3, 1)\n"));
  again = parse_ok (spec->text);
  g_assert_cmpuint (cs_spec_n_layers (again), ==, 12);
  g_assert_cmpuint (cs_spec_n_params (again), ==, 1199882);
}

/* Constructor defaults, local and class constants, nested nn.Sequential named
 * as PyTorch names it, a pooling module called twice, x.view(x.size(0), -1). */
static void
test_class_sequential_and_reuse (void)
{
  g_autoptr(CsSpec) seq = parse_ok ("import torch\nfrom torch import nn\n\n"
                                    "class SeqNet(nn.Module):\n"
                                    "    \"\"\"A Sequential net.\n\n    Two blocks, then a classifier.\"\"\"\n"
                                    "    expansion = 2\n"
                                    "    def __init__(self, num_classes: int = 10, width=16):\n"
                                    "        super().__init__()\n"
                                    "        hidden = width * self.expansion  # 32\n"
                                    "        self.features = nn.Sequential(\n"
                                    "            nn.Conv2d(1, width, kernel_size=3, padding=1),\n"
                                    "            nn.ReLU(inplace=True),\n"
                                    "            nn.MaxPool2d(2),\n"
                                    "            nn.Sequential(nn.Conv2d(width, hidden, 3, padding=1), nn.ReLU()),\n"
                                    "            nn.MaxPool2d(2),\n"
                                    "        )\n"
                                    "        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(hidden * 7 * 7, num_classes))\n"
                                    "\n"
                                    "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
                                    "        x = self.features(x)\n"
                                    "        return self.classifier(x)\n");
  g_autoptr(CsSpec) tutorial = parse_ok ("import torch.nn as nn\nimport torch.nn.functional as F\n"
                                         "class Net(nn.Module):\n"
                                         "    def __init__(self):\n"
                                         "        super().__init__()\n"
                                         "        self.conv1 = nn.Conv2d(1, 6, 5)\n"
                                         "        self.pool = nn.MaxPool2d(2, 2)\n"
                                         "        self.conv2 = nn.Conv2d(6, 16, 5)\n"
                                         "        self.fc1 = nn.Linear(16 * 4 * 4, 120)\n"
                                         "        self.fc2 = nn.Linear(120, 84)\n"
                                         "        self.fc3 = nn.Linear(84, 10)\n"
                                         "    def forward(self, x):\n"
                                         "        x = self.pool(F.relu(self.conv1(x)))\n"
                                         "        x = self.pool(F.relu(self.conv2(x)))\n"
                                         "        x = x.view(x.size(0), -1)\n"
                                         "        x = F.relu(self.fc1(x))\n"
                                         "        x = F.relu(self.fc2(x))\n"
                                         "        return self.fc3(x)\n");
  g_autoptr(CsSpec) line_spec = parse_ok ("input 1x28x28\n"
                                          "features = nn.Sequential(nn.Conv2d(1, 4, 3),\n"
                                          "                         nn.ReLU(), nn.Sequential(nn.MaxPool2d(2)))\n"
                                          "x.flatten(1)\n"
                                          "fc = nn.Linear(4 * 13 * 13, 10)\n");

  g_assert_cmpuint (cs_spec_n_layers (seq), ==, 8);
  assert_shape (cs_spec_layer (seq, 0), "features.0", "16x28x28");
  assert_shape (cs_spec_layer (seq, 3), "features.3.0", "32x14x14");
  assert_shape (cs_spec_layer (seq, 4), "features.3.1", "32x14x14");
  assert_shape (cs_spec_layer (seq, 5), "features.4", "32x7x7");
  assert_shape (cs_spec_layer (seq, 7), "classifier.1", "10");
  /* Constants are put in as numbers: the call reads as PyTorch would build it. */
  g_assert_cmpstr (cs_spec_layer (seq, 0)->call, ==, "nn.Conv2d(1, 16, kernel_size=3, padding=1)");
  g_assert_cmpstr (cs_spec_layer (seq, 7)->call, ==, "nn.Linear(32 * 7 * 7, 10)");

  g_assert_cmpuint (cs_spec_n_layers (tutorial), ==, 12);
  assert_shape (cs_spec_layer (tutorial, 2), "pool", "6x12x12");
  assert_shape (cs_spec_layer (tutorial, 5), "pool_2", "16x4x4");   /* self.pool again */
  assert_shape (cs_spec_layer (tutorial, 6), "view_6", "256");
  g_assert_cmpstr (cs_spec_layer (tutorial, 6)->call, ==, "x.view(x.size(0), -1)");
  g_assert_cmpuint (cs_spec_layer (tutorial, 2)->line, ==, 13);
  g_assert_cmpuint (cs_spec_layer (tutorial, 5)->line, ==, 14);

  g_assert_cmpuint (cs_spec_n_layers (line_spec), ==, 5);
  assert_shape (cs_spec_layer (line_spec, 2), "features.2.0", "4x13x13");
  assert_shape (cs_spec_layer (line_spec, 4), "fc", "10");
}

static void
expect_class_error_code (const char *forward_body,
                         int         code,
                         const char *message)
{
  g_autofree char *src = g_strdup_printf ("import torch.nn as nn\n"
                                          "class M(nn.Module):\n"
                                          "    def __init__(self, c=8):\n"
                                          "        super().__init__()\n"
                                          "        self.conv = nn.Conv2d(1, c, 3, padding=1)\n"
                                          "        self.fc = nn.Linear(c * 28 * 28, 10)\n"
                                          "    def forward(self, x):\n"
                                          "%s", forward_body);
  expect_error (src, code, message);
}

static void
expect_class_error (const char *forward_body,
                    const char *message)
{
  expect_class_error_code (forward_body, CS_SPEC_ERROR_SYNTAX, message);
}

/* What forward cannot be read as is refused with its line and what it is. */
static void
test_class_errors (void)
{
  /* A shortcut that does not fit: the sum names both sides. */
  expect_class_error_code ("        identity = x\n        out = self.conv(x)\n        out = out + identity\n"
                           "        return self.fc(out.flatten(1))\n", CS_SPEC_ERROR_SHAPE,
                           "line 10, add_1: adds 8x28x28 (from conv) and 1x28x28 (from the input); a sum needs the same "
                           "shapes (a shortcut that changes the shape needs a projection");
  expect_class_error_code ("        identity = x\n        out = self.conv(x)\n        out += identity\n"
                           "        return self.fc(out.flatten(1))\n", CS_SPEC_ERROR_SHAPE, "line 10, add_1: adds 8x28x28");
  expect_class_error ("        y = self.fc(self.conv(x).flatten(1))\n        z = self.conv(x)\n        return y\n",
                      "line 10: forward returns y, but computes more after it");
  expect_class_error ("        x = self.conv(x) * 2\n        return x\n", "line 8: \"self.conv(x) * 2\": arithmetic on tensors (*)");
  expect_class_error ("        for i in range(3):\n            x = self.conv(x)\n        return x\n",
                      "line 8: \"for\" in forward is not supported");
  expect_class_error ("        if x.sum() > 0:\n            x = self.conv(x)\n        return x\n",
                      "line 8: \"if\" in forward is not supported");
  expect_class_error ("        print(x.shape)\n        return self.fc(self.conv(x).flatten(1))\n",
                      "line 8: cannot read \"print(x.shape)\"");
  /* Called again with its weights: a conv of 1 channel cannot take its own 8. */
  expect_class_error_code ("        x = self.conv(x)\n        x = self.conv(x)\n        return self.fc(x.flatten(1))\n",
                           CS_SPEC_ERROR_SHAPE, "line 9, conv_2: nn.Conv2d(1, 8, 3, padding=1) gets");
  expect_class_error ("        x = torch.stack([self.conv(x), x], 1)\n        return x\n",
                      "line 8: torch.stack(...) is not supported; tensors join by a + b or torch.cat((a, b), 1)");
  expect_class_error ("        x = self.conv2(x)\n        return x\n", "line 8: forward calls self.conv2, which __init__ does not set");
  expect_class_error ("        x = np.tanh(x)\n        return x\n", "line 8: forward calls np.tanh(...), which Convscope does not know");
  expect_class_error ("        x = self.conv(x)\n", "line 7: M.forward never returns its result");
  /* The spec's own messages, at the class's line. */
  expect_class_error_code ("        return self.fc(self.conv(x))\n", CS_SPEC_ERROR_SHAPE,
                           "line 8, fc: nn.Linear(8 * 28 * 28, 10) gets a 8x28x28 map from conv; flatten it first");
  expect_error ("import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n"
                "    def forward(self, x):\n        return x\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: M.__init__ takes c without a default");
  expect_error ("import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])\n"
                "    def forward(self, x):\n        return x\n", CS_SPEC_ERROR_SYNTAX,
                "line 5: nn.ModuleList needs a loop in forward");
  expect_error ("import torch.nn as nn\nclass A(nn.Module):\n    def forward(self, x):\n        return x\n"
                "class B(nn.Module):\n    def forward(self, x):\n        return x\n", CS_SPEC_ERROR_SYNTAX,
                "the source has 2 nn.Module classes (A, B): name one, as FILE.py:B");
  expect_error ("class M(nn.Module):\n    def forward(self, x):\n        return \"x\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: a string that never ends");
  expect_error ("class M(nn.Module):\n    def forward(self, x):\n        return self.fc((x\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: a bracket opened here is never closed");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(CsSpec) spec = cs_spec_parse_class ("class A(nn.Module):\n    pass\n", "Z", &error);
    g_assert_null (spec);
    g_assert_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX);
    g_assert_cmpstr (error->message, ==, "no class Z in the source (it has A)");
  }
  {
    /* The notebook's spec comments say "(class MLP)": still a spec. */
    g_autoptr(CsSpec) spec = parse_ok ("# The notebook's MLP (class MLP)\ninput 784\nfc = nn.Linear(784, 10)\n");
    g_assert_cmpuint (cs_spec_n_layers (spec), ==, 1);
  }
}

/* Residual blocks with an identity and a projection shortcut, a module
 * called twice with its weights, torch.cat: read as a graph. */
static void
test_class_graphs (void)
{
  g_autofree char *resnet = g_test_build_filename (G_TEST_DIST, "data", "classes", "small_resnet.py", NULL);
  g_autofree char *tied = g_test_build_filename (G_TEST_DIST, "data", "classes", "tied_net.py", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) r = cs_spec_load_file (resnet, &error);
  g_autoptr(CsSpec) t = NULL;
  g_autoptr(CsSpec) again = NULL;
  const CsLayerSpec *add8, *b2, *conv2;

  g_assert_no_error (error);
  g_assert_cmpuint (cs_spec_n_layers (r), ==, 22);
  add8 = cs_spec_layer (r, 8);
  assert_shape (add8, "add_8", "16x28x28");
  g_assert_cmpint (add8->kind, ==, CS_LAYER_ADD);
  g_assert_cmpuint (add8->n_inputs, ==, 2);
  g_assert_cmpint (add8->inputs[0], ==, 7);   /* b1_bn2 */
  g_assert_cmpint (add8->inputs[1], ==, 2);   /* relu_2: identity = out */
  /* the second block's first conv reads the block input, not the shortcut just before it */
  b2 = cs_spec_layer (r, 12);
  assert_shape (b2, "b2_conv1", "32x14x14");
  g_assert_cmpint (b2->inputs[0], ==, 9);
  assert_shape (cs_spec_layer (r, 10), "shortcut.0", "32x14x14");
  g_assert_cmpint (cs_spec_layer (r, 17)->inputs[1], ==, 11);   /* add_17 = b2_bn2 + shortcut.1 */
  assert_shape (cs_spec_layer (r, 21), "fc", "10");
  g_assert_cmpuint (cs_spec_n_params (r), ==, 144 + 32 + 2 * (2304 + 32) + 4608 + 64 + 9216 + 64 + 512 + 64 + 330);
  again = cs_spec_parse (r->text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cs_spec_n_params (again), ==, cs_spec_n_params (r));
  g_assert_cmpint (cs_spec_layer (again, 12)->inputs[0], ==, 9);

  t = cs_spec_load_file (tied, &error);
  g_assert_no_error (error);
  conv2 = cs_spec_layer (t, 5);
  assert_shape (conv2, "conv_2", "8x14x14");
  g_assert_cmpint (conv2->shares, ==, 3);
  assert_shape (cs_spec_layer (t, 7), "cat_7", "16x14x14");
  g_assert_cmpint (cs_spec_layer (t, 7)->inputs[0], ==, 2);     /* the pooled stem */
  assert_shape (cs_spec_layer (t, 8), "pool_2", "16x7x7");
  g_assert_cmpint (cs_spec_layer (t, 8)->shares, ==, 2);
  /* conv's weights once */
  g_assert_cmpuint (cs_spec_n_params (t), ==, 80 + 584 + 7850);
}

/* The graph in the line language: named inputs, sums, concatenations, a
 * module called again, and what is refused. */
static void
test_graph_line_spec (void)
{
  g_autoptr(CsSpec) g = parse_ok ("input 1x28x28\n"
                                  "conv1 = nn.Conv2d(1, 8, 3, padding=1)\n"
                                  "F.relu(x)\n"
                                  "conv2 = nn.Conv2d(8, 8, 3, padding=1)\n"
                                  "s = conv2 + relu_1\n"
                                  "conv1_2 = conv1(input)\n"
                                  "c = torch.cat([s, conv1_2], dim=1)\n"
                                  "p = F.adaptive_avg_pool2d(c, 1)\n"
                                  "flat = p.flatten(1)\n"
                                  "fc = nn.Linear(16, 10)(flat)\n");

  assert_shape (cs_spec_layer (g, 3), "s", "8x28x28");
  g_assert_cmpint (cs_spec_layer (g, 3)->inputs[1], ==, 1);
  g_assert_cmpint (cs_spec_layer (g, 4)->inputs[0], ==, -1);
  g_assert_cmpint (cs_spec_layer (g, 4)->shares, ==, 0);
  assert_shape (cs_spec_layer (g, 5), "c", "16x28x28");
  assert_shape (cs_spec_layer (g, 8), "fc", "10");
  g_assert_cmpuint (cs_spec_n_params (g), ==, 80 + 584 + 170);

  expect_error ("input 1x8x8\nc = nn.Conv2d(1, 2, 3)\ns = c + nope\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: no layer before this one is called nope");
  expect_error ("input 1x8x8\nc = nn.Conv2d(1, 2, 3)\ns = c + input\n", CS_SPEC_ERROR_SHAPE,
                "line 3, s: adds 2x6x6 (from c) and 1x8x8 (from the input); a sum needs the same shapes");
  expect_error ("input 1x8x8\nc = nn.Conv2d(1, 2, 3)\nj = torch.cat((c,), 1)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "joins 2 to 8 tensors, not 1");
  expect_error ("input 1x8x8\nc = nn.Conv2d(1, 2, 3)\nj = torch.cat((c, input), 1)\n", CS_SPEC_ERROR_SHAPE,
                "cannot put 2x6x6 (from c) beside 1x8x8 (from the input) along dim 1");
  expect_error ("input 1x8x8\nc = nn.Conv2d(1, 2, 3)\nj = torch.cat((c, c), 2)\n", CS_SPEC_ERROR_BAD_ARGUMENT,
                "only dim=1");
  expect_error ("input 1x8x8\nr = F.relu(x)\nr2 = r(input)\n", CS_SPEC_ERROR_SYNTAX,
                "r is an operation's result, not a module that can be called again");
  expect_error ("input 1x8x8\nc = nn.Conv2d(1, 1, 3, padding=1)\nc2 = c(input, input)\n", CS_SPEC_ERROR_SYNTAX,
                "call c on one tensor");
  /* A layer is named after its input is found: no layer reads itself. */
  expect_error ("input 1x8x8\nout = nn.Conv2d(1, 1, 3, padding=1)\nout = out + out\n", CS_SPEC_ERROR_SYNTAX,
                "line 3: the name \"out\" is already used by another layer");
}

/* model.py:Net names one class of a file. */
static void
test_class_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("cs-spec-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "two.py", NULL);
  g_autofree char *named = g_strdup_printf ("%s:Small", path);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = NULL;

  g_assert_true (g_file_set_contents (path,
                                      "import torch.nn as nn\n"
                                      "class Big(nn.Module):\n"
                                      "    def __init__(self):\n        super().__init__()\n"
                                      "        self.fc = nn.Linear(784, 10)\n"
                                      "    def forward(self, x):\n        return self.fc(x.view(-1, 784))\n"
                                      "class Small(nn.Module):\n"
                                      "    def __init__(self):\n        super().__init__()\n"
                                      "        self.fc = nn.Linear(784, 2)\n"
                                      "    def forward(self, x):\n        return self.fc(x.view(-1, 784))\n",
                                      -1, NULL));
  spec = cs_spec_load_file (named, &error);
  g_assert_no_error (error);
  assert_shape (cs_spec_layer (spec, 1), "fc", "2");
  g_clear_pointer (&spec, cs_spec_free);

  spec = cs_spec_load_file (path, &error);
  g_assert_null (spec);
  g_assert_nonnull (strstr (error->message, "two.py: the source has 2 nn.Module classes"));
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/spec/shapes-preset", test_shapes_preset);
  g_test_add_func ("/core/spec/notebook-presets", test_notebook_presets);
  g_test_add_func ("/core/spec/net-fails-at-conv4", test_net_fails);
  g_test_add_func ("/core/spec/syntax", test_syntax);
  g_test_add_func ("/core/spec/errors", test_errors);
  g_test_add_func ("/core/spec/activation-layers", test_activation_layers);
  g_test_add_func ("/core/spec/batchnorm-layers", test_batchnorm_layers);
  g_test_add_func ("/core/spec/pool-softmax-dropout2d", test_pool_softmax_dropout2d_layers);
  g_test_add_func ("/core/spec/class/examples-mnist", test_class_examples_mnist);
  g_test_add_func ("/core/spec/class/sequential-and-reuse", test_class_sequential_and_reuse);
  g_test_add_func ("/core/spec/class/errors", test_class_errors);
  g_test_add_func ("/core/spec/class/file", test_class_file);
  g_test_add_func ("/core/spec/class/graphs", test_class_graphs);
  g_test_add_func ("/core/spec/graph-line-spec", test_graph_line_spec);
  g_test_add_func ("/core/spec/size-limits", test_size_limits);
  g_test_add_func ("/core/spec/load-special-files", test_load_special);
  g_test_add_func ("/core/spec/load-file", test_load_file);

  return g_test_run ();
}
