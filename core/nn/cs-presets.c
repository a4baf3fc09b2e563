/* The notebook's models written in the spec language, and its Net(params) generator. */

#define G_LOG_DOMAIN "cs-presets"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cs-presets.h"

static const CsPreset presets[] = {
  { "mlp", "MLP", "MLP", "The notebook's baseline: Linear(784, 784), ReLU, Linear(784, 10)", CS_OPTIM_SGD, 0.01 },
  { "cnn", "CNN", "CNN", "The notebook's simple CNN: one 5x5 convolution, max-pool, dropout, two Linear layers", CS_OPTIM_ADAM, 0.01 },
  { "lenet5", "LeNet-5", "LeNet5", "LeNet-5 as the notebook writes it: tanh, average pooling, three convolutions", CS_OPTIM_ADAM, 0.001 },
  { "net", "Net(params)", "Net", "The notebook's Net(params): four 3x3 conv + max-pool blocks; does not fit 1x28x28", CS_OPTIM_ADAM, 0.001 },
  { "net-mnist", "Net for MNIST", "Net", "Net(params) with padding=1, so the four blocks fit a 28x28 digit", CS_OPTIM_ADAM, 0.001 },
  { "shapes", "Shape exercise", "Sequential", "The notebook's parameter check: Conv2d(1,32,5,p2), pool, Conv2d(32,64,3,p1), pool, Linear(3136, 10)", CS_OPTIM_ADAM, 0.001 },
};

static const char mlp_text[] =
  "# The notebook's MLP (class MLP): the image is viewed as 784 features.\n"
  "input 1x28x28\n"
  "x.view(-1, 28 * 28)\n"
  "layer1 = nn.Linear(784, 784)\n"
  "act1 = nn.ReLU()\n"
  "layer2 = nn.Linear(784, 10)\n";

static const char cnn_text[] =
  "# The notebook's simple CNN (class CNN).\n"
  "input 1x28x28\n"
  "conv = nn.Conv2d(1, 10, kernel_size=5, stride=1, padding=2)\n"
  "relu1 = nn.ReLU()\n"
  "pool = nn.MaxPool2d(kernel_size=2, stride=1)\n"
  "dropout = nn.Dropout(0.2)\n"
  "flat = nn.Flatten()\n"
  "fc = nn.Linear(27*27*10, 128)\n"
  "relu2 = nn.ReLU()\n"
  "output = nn.Linear(128, 10)\n";

static const char lenet5_text[] =
  "# LeNet-5 as the notebook writes it (class LeNet5).\n"
  "input 1x28x28\n"
  "conv1 = nn.Conv2d(1, 6, kernel_size=5, stride=1, padding=2)\n"
  "act1 = nn.Tanh()\n"
  "pool1 = nn.AvgPool2d(kernel_size=2, stride=2)\n"
  "conv2 = nn.Conv2d(6, 16, kernel_size=5, stride=1, padding=0)\n"
  "act2 = nn.Tanh()\n"
  "pool2 = nn.AvgPool2d(kernel_size=2, stride=2)\n"
  "conv3 = nn.Conv2d(16, 120, kernel_size=5, stride=1, padding=0)\n"
  "act3 = nn.Tanh()\n"
  "flat = nn.Flatten()\n"
  "fc1 = nn.Linear(1*1*120, 84)\n"
  "act4 = nn.Tanh()\n"
  "fc2 = nn.Linear(84, 10)\n";

static const char shapes_text[] =
  "# The notebook's parameter check: each layer's output shape on a 1x28x28 input.\n"
  "input 1x28x28\n"
  "conv1 = nn.Conv2d(1, 32, kernel_size=5, stride=1, padding=2)\n"
  "pool1 = nn.MaxPool2d(2)\n"
  "conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)\n"
  "pool2 = nn.MaxPool2d(2)\n"
  "flat = nn.Flatten()\n"
  "fc = nn.Linear(3136, 10)\n";

const CsPreset *
cs_presets (guint *n_presets)
{
  *n_presets = G_N_ELEMENTS (presets);
  return presets;
}

const CsPreset *
cs_preset_lookup (const char *name)
{
  g_autofree char *base = g_strndup (name, strcspn (name, "("));

  g_strstrip (base);
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    if (g_ascii_strcasecmp (presets[i].name, base) == 0)
      return &presets[i];
  return NULL;
}

typedef struct
{
  int    c, h, w;
  int    initial_filters;
  int    num_fc1;
  int    num_classes;
  double dropout_rate;
} NetParams;

static gboolean
parse_int_value (const char *key,
                 const char *value,
                 int         min,
                 int        *out,
                 GError    **error)
{
  char *end = NULL;
  gint64 v = g_ascii_strtoll (value, &end, 10);

  if (end == value || *end != '\0' || v < min || v > 1 << 20)
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                   "net: %s must be an integer of at least %d, not \"%s\"", key, min, value);
      return FALSE;
    }
  *out = (int) v;
  return TRUE;
}

/* net(input_shape=(1, 28, 28), initial_filters=8, num_fc1=100, dropout_rate=0.25, num_classes=10) */
static gboolean
parse_net_params (const char *model,
                  NetParams  *p,
                  GError    **error)
{
  const char *open = strchr (model, '(');
  g_autofree char *inner = NULL;
  GString *item = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_free);
  int depth = 0;

  *p = (NetParams) { 1, 28, 28, 8, 100, 10, 0.25 };
  if (open == NULL)
    return TRUE;
  if (!g_str_has_suffix (model, ")"))
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX, "net(...): missing ')'");
      return FALSE;
    }
  inner = g_strndup (open + 1, strlen (open + 1) - 1);

  item = g_string_new (NULL);
  for (const char *c = inner; ; c++)
    {
      if (*c == '\0' || (*c == ',' && depth == 0))
        {
          g_ptr_array_add (items, g_strstrip (g_string_free (item, FALSE)));
          if (*c == '\0')
            break;
          item = g_string_new (NULL);
          continue;
        }
      if (*c == '(')
        depth++;
      else if (*c == ')')
        depth--;
      g_string_append_c (item, *c);
    }

  for (guint i = 0; i < items->len; i++)
    {
      const char *it = g_ptr_array_index (items, i);
      const char *eq = strchr (it, '=');
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      if (it[0] == '\0')
        continue;
      if (eq == NULL)
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_SYNTAX,
                       "net(...): expected key=value, got \"%s\"", it);
          return FALSE;
        }
      key = g_strstrip (g_strndup (it, eq - it));
      value = g_strstrip (g_strdup (eq + 1));

      if (g_str_equal (key, "input_shape"))
        {
          g_auto(GStrv) dims = NULL;
          g_strdelimit (value, "()[]", ' ');
          g_strdelimit (value, "xX", ',');
          dims = g_strsplit (value, ",", -1);
          if (g_strv_length (dims) != 3)
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                           "net: input_shape must be (C, H, W), e.g. (1, 28, 28)");
              return FALSE;
            }
          for (guint d = 0; d < 3; d++)
            g_strstrip (dims[d]);
          if (!parse_int_value ("input_shape", dims[0], 1, &p->c, error) ||
              !parse_int_value ("input_shape", dims[1], 1, &p->h, error) ||
              !parse_int_value ("input_shape", dims[2], 1, &p->w, error))
            return FALSE;
        }
      else if (g_str_equal (key, "initial_filters"))
        {
          if (!parse_int_value (key, value, 1, &p->initial_filters, error))
            return FALSE;
        }
      else if (g_str_equal (key, "num_fc1"))
        {
          if (!parse_int_value (key, value, 1, &p->num_fc1, error))
            return FALSE;
        }
      else if (g_str_equal (key, "num_classes"))
        {
          if (!parse_int_value (key, value, 1, &p->num_classes, error))
            return FALSE;
        }
      else if (g_str_equal (key, "dropout_rate"))
        {
          char *end = NULL;
          p->dropout_rate = g_ascii_strtod (value, &end);
          if (end == value || *end != '\0' || !(p->dropout_rate >= 0 && p->dropout_rate <= 1))
            {
              g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                           "net: dropout_rate must be a number from 0 to 1, not \"%s\"", value);
              return FALSE;
            }
        }
      else
        {
          g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                       "net: unknown parameter \"%s\" (input_shape, initial_filters, num_fc1, "
                       "num_classes, dropout_rate)", key);
          return FALSE;
        }
    }
  return TRUE;
}

/* The notebook's findConv2dOutShape: the conv formula, then floor-divided by the pool. */
static void
find_conv2d_out_shape (int  h_in,
                       int  w_in,
                       int  kernel,
                       int  padding,
                       int *h_out,
                       int *w_out)
{
  double h = floor ((h_in + 2.0 * padding - (kernel - 1) - 1) / 1 + 1);
  double w = floor ((w_in + 2.0 * padding - (kernel - 1) - 1) / 1 + 1);

  *h_out = (int) (h / 2);
  *w_out = (int) (w / 2);
}

static char *
net_text (const NetParams *p,
          gboolean         padded)
{
  GString *s = g_string_new (NULL);
  int f = p->initial_filters;
  int h = p->h, w = p->w, pad = padded ? 1 : 0;
  g_autofree char *pad_arg = padded ? g_strdup (", padding=1") : g_strdup ("");
  char rate[G_ASCII_DTOSTR_BUF_SIZE];

  for (int i = 0; i < 4; i++)
    find_conv2d_out_shape (h, w, 3, pad, &h, &w);

  g_string_append_printf (s, "# The notebook's Net(params)%s: input_shape=(%d, %d, %d), initial_filters=%d, "
                             "num_fc1=%d, num_classes=%d, dropout_rate=%g.\n",
                          padded ? " with padding=1 so that it fits MNIST" : "",
                          p->c, p->h, p->w, f, p->num_fc1, p->num_classes, p->dropout_rate);
  g_string_append_printf (s, "input %dx%dx%d\n", p->c, p->h, p->w);
  for (int i = 0; i < 4; i++)
    {
      int in = i == 0 ? p->c : f << (i - 1);
      g_string_append_printf (s, "conv%d = nn.Conv2d(%d, %d, kernel_size=3%s)\n", i + 1, in, f << i, pad_arg);
      g_string_append (s, "x = F.relu(x)\n");
      g_string_append (s, "x = F.max_pool2d(x, 2, 2)\n");
    }
  g_string_append_printf (s, "x = x.view(-1, %d)\n", MAX (h * w * 8 * f, 1));
  g_string_append_printf (s, "fc1 = nn.Linear(%d, %d)\n", MAX (h * w * 8 * f, 1), p->num_fc1);
  g_string_append (s, "x = F.relu(x)\n");
  g_ascii_dtostr (rate, sizeof rate, p->dropout_rate);
  g_string_append_printf (s, "x = F.dropout(x, %s, training=self.training)\n", rate);
  g_string_append_printf (s, "fc2 = nn.Linear(%d, %d)\n", p->num_fc1, p->num_classes);
  g_string_append (s, "x = F.log_softmax(x, dim=1)\n");
  return g_string_free (s, FALSE);
}

char *
cs_preset_text (const char  *model,
                GError     **error)
{
  const CsPreset *preset = cs_preset_lookup (model);

  if (preset == NULL)
    {
      GString *names = g_string_new (NULL);
      for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
        g_string_append_printf (names, "%s%s", i ? ", " : "", presets[i].name);
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_UNKNOWN_PRESET,
                   "unknown model \"%s\": use one of %s, a .spec file, or a PyTorch model.py[:Class]", model, names->str);
      g_string_free (names, TRUE);
      return NULL;
    }

  if (strchr (model, '(') != NULL && !g_str_has_prefix (preset->name, "net"))
    {
      g_set_error (error, CS_SPEC_ERROR, CS_SPEC_ERROR_BAD_ARGUMENT,
                   "the %s preset takes no parameters", preset->name);
      return NULL;
    }

  if (g_str_equal (preset->name, "mlp"))
    return g_strdup (mlp_text);
  if (g_str_equal (preset->name, "cnn"))
    return g_strdup (cnn_text);
  if (g_str_equal (preset->name, "lenet5"))
    return g_strdup (lenet5_text);
  if (g_str_equal (preset->name, "shapes"))
    return g_strdup (shapes_text);
  {
    NetParams p;
    if (!parse_net_params (model, &p, error))
      return NULL;
    return net_text (&p, g_str_equal (preset->name, "net-mnist"));
  }
}

/* A preset name, net(...) with parameters, or a path to a spec file or a
 * PyTorch source (model.py, model.py:Net). */
CsSpec *
cs_spec_for_model (const char  *model,
                   GError     **error)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (model != NULL, NULL);

  if (cs_preset_lookup (model) == NULL &&
      (strchr (model, '/') != NULL || g_str_has_suffix (model, ".spec") || g_str_has_suffix (model, ".py") ||
       strstr (model, ".py:") != NULL || g_file_test (model, G_FILE_TEST_EXISTS)))
    return cs_spec_load_file (model, error);

  text = cs_preset_text (model, error);
  if (text == NULL)
    return NULL;
  return cs_spec_parse (text, error);
}
