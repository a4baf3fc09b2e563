/* Summary tests: torchinfo's figures for the notebook's models, derived by hand here, and the measured memory. */

#include "config.h"

#include <string.h>

#include "nn/cs-presets.h"
#include "train/cs-summary.h"

static CsSummary *
summary_for (const char *model,
             int         batch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model (model, &error);
  const CsPreset *preset = cs_preset_lookup (model);
  CsHyperParams hp;

  g_assert_no_error (error);
  cs_hyper_params_for_preset (&hp, model);
  hp.batch_size = batch;
  return cs_summary_new (spec, preset->class_name, batch, &hp);
}

static void
assert_line (const char *text,
             const char *line)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i]; i++)
    if (g_str_equal (lines[i], line))
      return;
  g_error ("no line \"%s\" in:\n%s", line, text);
}

/* The notebook's own torchinfo output for its MLP, line for line. */
static void
test_notebook_mlp (void)
{
  g_autoptr(CsSummary) s = summary_for ("mlp", 1);
  g_autofree char *text = cs_summary_format (s, NULL, FALSE);

  assert_line (text, "Layer (type:depth-idx)                   Output Shape              Param #");
  assert_line (text, "MLP                                      [1, 10]                   --");
  assert_line (text, "├─Linear: 1-1                            [1, 784]                  615,440");
  assert_line (text, "├─ReLU: 1-2                              [1, 784]                  --");
  assert_line (text, "├─Linear: 1-3                            [1, 10]                   7,850");
  assert_line (text, "Total params: 623,290");
  assert_line (text, "Trainable params: 623,290");
  assert_line (text, "Non-trainable params: 0");
  assert_line (text, "Total mult-adds (M): 0.62");
  assert_line (text, "Input size (MB): 0.00");
  assert_line (text, "Forward/backward pass size (MB): 0.01");
  assert_line (text, "Params size (MB): 2.49");
  assert_line (text, "Estimated Total Size (MB): 2.50");
  /* x.view(-1, 784) is not a module: three rows. */
  g_assert_cmpuint (s->rows->len, ==, 3);

  /* With the input column the top row shows the model's input, as torchinfo
   * does ([1, 1, 28, 28]), and the first Linear its flattened one. */
  {
    static const char * const cols[] = { "input", "output", "params", NULL };
    g_autofree char *wide = cs_summary_format (s, cols, FALSE);

    assert_line (wide, "MLP                                      [1, 1, 28, 28]            [1, 10]                   --");
    assert_line (wide, "├─Linear: 1-1                            [1, 784]                  [1, 784]                  615,440");
  }
}

static void
test_lenet5 (void)
{
  g_autoptr(CsSummary) s = summary_for ("lenet5", 1);

  /* Params: conv1 6*1*5*5 + 6 = 156; conv2 16*6*5*5 + 16 = 2,416; conv3 120*16*5*5 + 120 = 48,120;
   * fc1 120*84 + 84 = 10,164; fc2 84*10 + 10 = 850; total 61,706. */
  g_assert_cmpuint (s->total_params, ==, 156 + 2416 + 48120 + 10164 + 850);
  g_assert_cmpuint (s->total_params, ==, 61706);
  /* Mult-adds (batch 1): convolutions' params times H_out*W_out, Linear's times the batch:
   * 156*28*28 = 122,304; 2,416*10*10 = 241,600; 48,120*1*1 = 48,120; 10,164; 850 -> 423,038. */
  g_assert_cmpuint (s->total_mult_adds, ==, 122304 + 241600 + 48120 + 10164 + 850);
  /* Forward/backward: 2 * 4 bytes * outputs of layers with params:
   * 6*28*28 + 16*10*10 + 120 + 84 + 10 = 6,518 values -> 52,144 bytes. */
  g_assert_cmpuint (s->forward_backward_bytes, ==, 8 * (4704 + 1600 + 120 + 84 + 10));
  g_assert_cmpuint (s->input_bytes, ==, 4 * 784);
  g_assert_cmpuint (s->params_bytes, ==, 4 * 61706);
  /* 3,136 + 52,144 + 246,824 = 302,104 bytes -> 0.30 MB */
  g_assert_cmpuint (s->estimated_total_bytes, ==, 302104);
  g_assert_cmpuint (s->rows->len, ==, 12);
  g_assert_cmpstr (g_array_index (s->rows, CsSummaryRow, 3).label, ==, "├─Conv2d: 1-4");
  g_assert_cmpstr (g_array_index (s->rows, CsSummaryRow, 3).kernel, ==, "[5, 5]");
  g_assert_cmpstr (g_array_index (s->rows, CsSummaryRow, 2).kernel, ==, "2");
}

static void
test_cnn (void)
{
  g_autoptr(CsSummary) s = summary_for ("cnn", 1);
  g_autofree char *text = cs_summary_format (s, NULL, FALSE);

  /* conv 10*25 + 10 = 260; fc 7,290*128 + 128 = 933,248; output 128*10 + 10 = 1,290 -> 934,798 */
  g_assert_cmpuint (s->total_params, ==, 934798);
  /* 260*28*28 = 203,840; + 933,248 + 1,290 = 1,138,378 -> "1.14" */
  g_assert_cmpuint (s->total_mult_adds, ==, 203840 + 933248 + 1290);
  assert_line (text, "Total mult-adds (M): 1.14");
  /* (10*28*28 + 128 + 10) * 8 = 63,824 bytes */
  g_assert_cmpuint (s->forward_backward_bytes, ==, 63824);
  /* 3,136 + 63,824 + 3,739,192 = 3,806,152 -> 3.81 */
  assert_line (text, "Estimated Total Size (MB): 3.81");
}

static void
test_shapes (void)
{
  g_autoptr(CsSummary) s = summary_for ("shapes", 1);

  /* conv1 32*1*5*5 + 32 = 832; conv2 64*32*3*3 + 64 = 18,496; fc 3,136*10 + 10 = 31,370 -> 50,698 */
  g_assert_cmpuint (s->total_params, ==, 50698);
  /* 832*28*28 = 652,288; 18,496*14*14 = 3,625,216; 31,370 -> 4,308,874 */
  g_assert_cmpuint (s->total_mult_adds, ==, 4308874);
  /* (32*28*28 + 64*14*14 + 10) * 8 = 301,136 */
  g_assert_cmpuint (s->forward_backward_bytes, ==, 301136);
}

/* Convscope's own memory: counted by the allocator, and consistent with what it allocates. */
static void
test_measured_memory (void)
{
  g_autoptr(CsSummary) sgd = summary_for ("mlp", 100);
  g_autoptr(CsSummary) adam = summary_for ("lenet5", 100);

  /* Plain SGD keeps no state; Adam keeps two moments per parameter. */
  g_assert_cmpuint (sgd->mem_optimizer, ==, 0);
  g_assert_cmpuint (adam->mem_optimizer, >=, 2 * 4 * 61706);
  g_assert_cmpuint (adam->mem_optimizer, <, 2 * 4 * 61706 + 512);
  g_assert_cmpuint (adam->mem_params, >=, 4 * 61706);
  g_assert_cmpuint (adam->mem_grads, ==, adam->mem_params);
  /* LeNet-5 at batch 100 keeps, among others, conv1's output and its gradient (2 * 100*6*28*28 floats)
   * and conv2's im2col (150 x 100*10*10 floats). */
  g_assert_cmpuint (adam->mem_activations, >, 4 * (2 * 100 * 4704 + 150 * 10000));
  g_assert_cmpuint (adam->mem_total, ==, adam->mem_params + adam->mem_grads + adam->mem_optimizer +
                                         adam->mem_activations + adam->mem_batch);
  /* FLOPs: LeNet-5's forward is 2 * 416,920 MACs per sample (weights only). */
  g_assert_cmpfloat (adam->forward_flops_per_sample, ==, 2.0 * (150 * 784 + 2400 * 100 + 48000 + 10080 + 840));
}

static void
test_json (void)
{
  g_autoptr(CsSummary) s = summary_for ("mlp", 1);
  g_autofree char *json = cs_summary_to_json (s);

  g_assert_nonnull (strstr (json, "\"total_params\": 623290"));
  g_assert_nonnull (strstr (json, "\"label\": \"├─Linear: 1-1\""));
  g_assert_nonnull (strstr (json, "\"output_shape\": [1, 784]"));
}

/* A PyTorch class with nested nn.Sequential and BatchNorm: torchinfo's tree,
 * its depth-idx counters, BatchNorm's weight and bias counted, buffers not. */
static void
test_nested_sequential (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "classes", "seq_bn_net.py", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model (path, &error);
  g_autoptr(CsSummary) s = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  s = cs_summary_new (spec, "seq_bn_net", 1, NULL);
  text = cs_summary_format (s, NULL, FALSE);
  assert_line (text, "SeqBNNet                                 [1, 10]                   --");
  assert_line (text, "├─Sequential: 1-1                        [1, 32, 7, 7]             --");
  assert_line (text, "│    └─Conv2d: 2-1                       [1, 16, 28, 28]           144");
  assert_line (text, "│    └─BatchNorm2d: 2-2                  [1, 16, 28, 28]           32");
  assert_line (text, "│    └─Sequential: 2-5                   [1, 32, 7, 7]             --");
  assert_line (text, "│    │    └─Conv2d: 3-1                  [1, 32, 7, 7]             4,608");
  assert_line (text, "│    │    └─BatchNorm2d: 3-2             [1, 32, 7, 7]             64");
  assert_line (text, "│    │    └─ReLU: 3-3                    [1, 32, 7, 7]             --");
  assert_line (text, "├─Sequential: 1-2                        [1, 10]                   --");
  assert_line (text, "│    └─Flatten: 2-6                      [1, 1568]                 --");
  assert_line (text, "│    └─BatchNorm1d: 2-8                  [1, 64]                   128");
  assert_line (text, "│    └─Linear: 2-11                      [1, 10]                   650");
  assert_line (text, "Total params: 106,042");
  g_assert_cmpuint (s->rows->len, ==, 3 + 13);   /* the model itself is the top line, not a row */
  g_assert_true (g_array_index (s->rows, CsSummaryRow, 0).container);
  g_assert_cmpint (g_array_index (s->rows, CsSummaryRow, 6).depth, ==, 3);
  g_assert_cmpstr (g_array_index (s->rows, CsSummaryRow, 6).name, ==, "features.4.0");
  {
    g_autofree char *json = cs_summary_to_json (s);
    g_assert_nonnull (strstr (json, "\"name\": \"features\", \"depth\": 1"));
    g_assert_nonnull (strstr (json, "\"container\": true"));
  }
}

/* A module called again: torchinfo's "(recursive)", its weights counted once. */
static void
test_recursive_module (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "classes", "tied_net.py", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CsSpec) spec = cs_spec_for_model (path, &error);
  g_autoptr(CsSummary) s = NULL;
  g_autofree char *text = NULL;
  g_autofree char *json = NULL;

  g_assert_no_error (error);
  s = cs_summary_new (spec, NULL, 1, NULL);
  text = cs_summary_format (s, NULL, FALSE);
  assert_line (text, "TiedNet                                  [1, 10]                   --");
  assert_line (text, "├─Conv2d: 1-3                            [1, 8, 14, 14]            584");
  assert_line (text, "├─Conv2d: 1-4                            [1, 8, 14, 14]            (recursive)");
  assert_line (text, "├─MaxPool2d: 1-5                         [1, 16, 7, 7]             --");
  assert_line (text, "Total params: 8,514");
  json = cs_summary_to_json (s);
  g_assert_nonnull (strstr (json, "\"recursive\": true"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/summary/notebook-mlp", test_notebook_mlp);
  g_test_add_func ("/core/summary/lenet5", test_lenet5);
  g_test_add_func ("/core/summary/cnn", test_cnn);
  g_test_add_func ("/core/summary/shapes", test_shapes);
  g_test_add_func ("/core/summary/measured-memory", test_measured_memory);
  g_test_add_func ("/core/summary/json", test_json);
  g_test_add_func ("/core/summary/nested-sequential", test_nested_sequential);
  g_test_add_func ("/core/summary/recursive-module", test_recursive_module);

  return g_test_run ();
}
