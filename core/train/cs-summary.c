/* The model summary: torchinfo 1.8's rows and totals computed as its source computes them, then Convscope's measured memory. */

#define G_LOG_DOMAIN "cs-summary"

#include "config.h"

#include <string.h>

#include "base/cs-alloc.h"
#include "formats/cs-checkpoint.h"
#include "nn/cs-model.h"
#include "nn/cs-optim.h"
#include "train/cs-summary.h"

static void
shape_with_batch (CsShape shape,
                  int     batch,
                  int    *out,
                  int    *ndim)
{
  out[0] = batch;
  if (shape.flat)
    {
      out[1] = shape.c;
      *ndim = 2;
    }
  else
    {
      out[1] = shape.c;
      out[2] = shape.h;
      out[3] = shape.w;
      *ndim = 4;
    }
}

static guint64
prod (const int *shape,
      int        ndim)
{
  guint64 p = 1;
  for (int d = 0; d < ndim; d++)
    p *= (guint64) shape[d];
  return p;
}

/* Bytes cs_alloc() hands out between two readings, by the parts the trainer allocates. */
static void
measure_memory (CsSummary           *self,
                const CsSpec        *spec,
                const CsHyperParams *hp)
{
  gsize base = cs_allocated_bytes (), mark;
  CsModel *model;
  CsOptim *optim;
  float *x, *backup;
  gint32 *y;

  model = cs_model_new (spec);
  mark = cs_allocated_bytes ();
  self->mem_params = (mark - base) / 2;   /* two equal buffers: parameters and gradients */
  self->mem_grads = (mark - base) - self->mem_params;
  cs_model_set_batch_capacity (model, self->batch);
  self->mem_activations = cs_allocated_bytes () - mark;
  mark = cs_allocated_bytes ();
  optim = cs_optim_new (&hp->optim, cs_model_n_params (model));
  self->mem_optimizer = cs_allocated_bytes () - mark;
  mark = cs_allocated_bytes ();
  x = cs_alloc_floats ((gsize) self->batch * cs_model_input_size (model));
  y = cs_alloc (self->batch * sizeof (gint32));
  backup = cs_alloc_floats (cs_model_n_params (model));
  self->mem_batch = cs_allocated_bytes () - mark;
  self->mem_total = cs_allocated_bytes () - base;

  cs_free_floats (backup);
  cs_free (y);
  cs_free_floats (x);
  cs_optim_free (optim);
  cs_model_free (model);
}

static void
row_clear (gpointer data)
{
  CsSummaryRow *r = data;
  g_free (r->label);
  g_free (r->type);
  g_free (r->name);
  g_free (r->kernel);
}

/* "├─Linear: 1-1", "│    └─Conv2d: 2-1", "│    │    └─ReLU: 3-3" */
static char *
tree_label (const char *type,
            int         depth,
            int         index)
{
  GString *s = g_string_new (NULL);

  if (depth == 1)
    g_string_append (s, "├─");
  else
    {
      for (int d = 1; d < depth; d++)
        g_string_append (s, "│    ");
      g_string_append (s, "└─");
    }
  g_string_append_printf (s, "%s: %d-%d", type, depth, index);
  return g_string_free (s, FALSE);
}

/* The nn.Sequential @name, entered at layer @first: its output is its last layer's. */
static void
append_container_row (CsSummary    *self,
                      const CsSpec *spec,
                      guint         first,
                      const char   *name,
                      int           depth,
                      int          *index,
                      int           batch)
{
  CsSummaryRow row = { 0 };
  g_autofree char *prefix = g_strconcat (name, ".", NULL);
  const CsLayerSpec *last = cs_spec_layer (spec, first);

  for (guint j = first; j < cs_spec_n_layers (spec); j++)
    if (g_str_has_prefix (cs_spec_layer (spec, j)->name, prefix))
      last = cs_spec_layer (spec, j);
  row.type = g_strdup ("Sequential");
  row.name = g_strdup (name);
  row.depth = depth;
  row.index = ++index[depth];
  row.label = tree_label (row.type, depth, row.index);
  row.container = TRUE;
  shape_with_batch (cs_spec_layer (spec, first)->in, batch, row.in_shape, &row.in_ndim);
  shape_with_batch (last->out, batch, row.out_shape, &row.out_ndim);
  row.trainable = TRUE;
  g_array_append_val (self->rows, row);
}

CsSummary *
cs_summary_new (const CsSpec        *spec,
                const char          *model_name,
                int                  batch,
                const CsHyperParams *hp)
{
  CsSummary *self = g_new0 (CsSummary, 1);
  int index[CS_SUMMARY_MAX_DEPTH + 1] = { 0 };
  g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func (g_free);   /* the containers entered */
  gboolean params_below = FALSE;
  double fwd = 0, dw = 0, dx = 0;

  g_return_val_if_fail (spec != NULL && batch > 0, NULL);

  {
    g_autofree char *cls = cs_spec_class_name (spec);
    self->model_name = g_strdup (cls ? cls : model_name ? model_name : "Model");
  }
  self->batch = batch;
  self->rows = g_array_new (FALSE, TRUE, sizeof (CsSummaryRow));
  g_array_set_clear_func (self->rows, row_clear);
  shape_with_batch (cs_spec_output_shape (spec), batch, self->out_shape, &self->out_ndim);

  shape_with_batch (spec->input, batch, self->in_shape, &self->in_ndim);
  self->input_bytes = 4 * prod (self->in_shape, self->in_ndim);

  for (guint i = 0; i < cs_spec_n_layers (spec); i++)
    {
      const CsLayerSpec *l = cs_spec_layer (spec, i);
      CsSummaryRow row = { 0 };
      gsize w_numel = 0, b_numel = 0;
      double macs = 0;

      if (l->kind == CS_LAYER_LINEAR)
        {
          w_numel = (gsize) l->in_features * l->out_features;
          b_numel = l->bias ? l->out_features : 0;
          macs = (double) l->in_features * l->out_features;
        }
      else if (l->kind == CS_LAYER_CONV2D)
        {
          w_numel = (gsize) l->out_channels * l->in_channels * l->kh * l->kw;
          b_numel = l->bias ? l->out_channels : 0;
          macs = (double) w_numel * l->out.h * l->out.w;
        }
      else if ((l->kind == CS_LAYER_BATCHNORM1D || l->kind == CS_LAYER_BATCHNORM2D) && l->bias)
        w_numel = b_numel = (gsize) l->in_features;
      /* Training FLOPs per sample: the forward product, the weight gradient,
       * and the input gradient where a layer below needs it. */
      fwd += macs;
      dw += macs;
      if (params_below)
        dx += macs;
      if (w_numel > 0)
        params_below = TRUE;

      /* torchinfo lists modules only: F.relu and x.view are not rows. */
      if (l->functional)
        continue;
      /* features.4.0: inside the nn.Sequential features, then features.4,
       * each a row where forward enters it, as torchinfo nests them. */
      {
        g_auto(GStrv) parts = g_strsplit (l->name, ".", -1);
        guint n_parents = MIN (g_strv_length (parts) - 1, CS_SUMMARY_MAX_DEPTH - 1);
        guint keep = 0;
        g_autoptr(GString) prefix = g_string_new (NULL);

        for (guint d = 0; d < n_parents; d++)
          {
            if (d > 0)
              g_string_append_c (prefix, '.');
            g_string_append (prefix, parts[d]);
            if (d < open->len && g_str_equal (g_ptr_array_index (open, d), prefix->str))
              keep = d + 1;
            else
              break;
          }
        g_ptr_array_set_size (open, keep);
        g_string_truncate (prefix, 0);
        for (guint d = 0; d < n_parents; d++)
          {
            if (d > 0)
              g_string_append_c (prefix, '.');
            g_string_append (prefix, parts[d]);
            if (d < keep)
              continue;
            append_container_row (self, spec, i, prefix->str, (int) d + 1, index, batch);
            g_ptr_array_add (open, g_strdup (prefix->str));
          }
        row.depth = (int) n_parents + 1;
      }
      row.index = ++index[row.depth];
      row.type = g_strdup (cs_layer_kind_name (l->kind));
      row.name = g_strdup (l->name);
      row.label = tree_label (row.type, row.depth, row.index);
      shape_with_batch (l->in, batch, row.in_shape, &row.in_ndim);
      shape_with_batch (l->out, batch, row.out_shape, &row.out_ndim);
      if (l->kind == CS_LAYER_CONV2D)
        row.kernel = g_strdup_printf ("[%d, %d]", l->kh, l->kw);
      else if (l->kind == CS_LAYER_MAXPOOL2D || l->kind == CS_LAYER_AVGPOOL2D)
        row.kernel = l->kh == l->kw ? g_strdup_printf ("%d", l->kh) : g_strdup_printf ("[%d, %d]", l->kh, l->kw);
      row.params = w_numel + b_numel;
      row.trainable = TRUE;
      /* torchinfo: each weight and bias, times N*H_out*W_out for a convolution, times N otherwise. */
      if (l->kind == CS_LAYER_CONV2D)
        row.mult_adds = (guint64) (w_numel + b_numel) * batch * l->out.h * l->out.w;
      else
        row.mult_adds = (guint64) (w_numel + b_numel) * batch;

      if (row.params > 0)
        self->forward_backward_bytes += 2 * 4 * prod (row.out_shape, row.out_ndim);
      /* A module called again: torchinfo's "(recursive)", its weights counted once. */
      if (l->shares >= 0)
        {
          row.recursive = row.params > 0;
          row.params = 0;
        }
      self->total_params += row.params;
      self->trainable_params += row.params;
      self->total_mult_adds += row.mult_adds;
      g_array_append_val (self->rows, row);
    }

  self->params_bytes = 4 * (guint64) self->total_params;
  self->estimated_total_bytes = self->input_bytes + self->forward_backward_bytes + self->params_bytes;
  self->forward_flops_per_sample = 2 * fwd;
  self->flops_per_sample = 2 * (fwd + dw + dx);

  if (hp != NULL)
    measure_memory (self, spec, hp);
  return self;
}

void
cs_summary_free (CsSummary *self)
{
  if (self == NULL)
    return;
  g_free (self->model_name);
  g_clear_pointer (&self->rows, g_array_unref);
  g_free (self);
}

char *
cs_format_thousands (guint64 v)
{
  g_autofree char *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, v);
  GString *s = g_string_new (NULL);
  gsize n = strlen (digits);

  for (gsize i = 0; i < n; i++)
    {
      if (i > 0 && (n - i) % 3 == 0)
        g_string_append_c (s, ',');
      g_string_append_c (s, digits[i]);
    }
  return g_string_free (s, FALSE);
}

/* Pads to @width display characters (the tree glyphs are one character each). */
static void
append_padded (GString    *s,
               const char *text,
               int         width)
{
  glong n = g_utf8_strlen (text, -1);

  g_string_append (s, text);
  for (glong i = n; i < width; i++)
    g_string_append_c (s, ' ');
}

static gboolean
has_column (const char * const *columns,
            const char         *name)
{
  for (guint i = 0; columns[i]; i++)
    if (g_str_equal (columns[i], name))
      return TRUE;
  return FALSE;
}

static double
mb (guint64 bytes)
{
  return bytes / 1e6;
}

char *
cs_summary_format (const CsSummary    *self,
                   const char * const *columns,
                   gboolean            beyond)
{
  g_return_val_if_fail (self != NULL, NULL);

  static const char * const default_columns[] = { "output", "params", NULL };
  static const char * const order[] = { "input", "output", "kernel", "params", "mult-adds", "trainable", NULL };
  static const char * const titles[] = { "Input Shape", "Output Shape", "Kernel Shape", "Param #", "Mult-Adds",
                                         "Trainable", NULL };
  GString *s = g_string_new (NULL);
  g_autoptr(GPtrArray) cols = g_ptr_array_new ();
  g_autofree char *rule = NULL;
  g_autofree char *n = NULL;
  int width;

  if (columns == NULL)
    columns = default_columns;
  for (guint i = 0; order[i]; i++)
    if (has_column (columns, order[i]))
      g_ptr_array_add (cols, GUINT_TO_POINTER (i));
  width = 40 + 1 + 26 * (int) cols->len - 1;
  rule = g_strnfill (width, '=');

#define END_LINE() G_STMT_START { while (s->len && s->str[s->len - 1] == ' ') g_string_truncate (s, s->len - 1); \
                                  g_string_append_c (s, '\n'); } G_STMT_END

  g_string_append_printf (s, "%s\n", rule);
  append_padded (s, "Layer (type:depth-idx)", 41);
  for (guint c = 0; c < cols->len; c++)
    append_padded (s, titles[GPOINTER_TO_UINT (g_ptr_array_index (cols, c))], 26);
  END_LINE ();
  g_string_append_printf (s, "%s\n", rule);

  /* The top row: the model itself. */
  append_padded (s, self->model_name, 41);
  for (guint c = 0; c < cols->len; c++)
    {
      const char *col = order[GPOINTER_TO_UINT (g_ptr_array_index (cols, c))];
      g_autofree char *v = NULL;

      if (g_str_equal (col, "output"))
        v = cs_tensor_shape_string (self->out_shape, self->out_ndim);
      else if (g_str_equal (col, "input"))
        /* The model's input (an MLP's [100, 1, 28, 28]), not its first layer's ([100, 784]). */
        v = cs_tensor_shape_string (self->in_shape, self->in_ndim);
      else if (g_str_equal (col, "trainable"))
        v = g_strdup ("True");
      else
        v = g_strdup ("--");
      append_padded (s, v, 26);
    }
  END_LINE ();

  for (guint i = 0; i < self->rows->len; i++)
    {
      const CsSummaryRow *r = &g_array_index (self->rows, CsSummaryRow, i);

      append_padded (s, r->label, 41);
      for (guint c = 0; c < cols->len; c++)
        {
          const char *col = order[GPOINTER_TO_UINT (g_ptr_array_index (cols, c))];
          g_autofree char *v = NULL;

          if (g_str_equal (col, "input"))
            v = cs_tensor_shape_string (r->in_shape, r->in_ndim);
          else if (g_str_equal (col, "output"))
            v = cs_tensor_shape_string (r->out_shape, r->out_ndim);
          else if (g_str_equal (col, "kernel"))
            v = g_strdup (r->kernel ? r->kernel : "--");
          else if (g_str_equal (col, "params"))
            v = r->recursive ? g_strdup ("(recursive)") : r->params ? cs_format_thousands (r->params) : g_strdup ("--");
          else if (g_str_equal (col, "mult-adds"))
            v = r->mult_adds ? cs_format_thousands (r->mult_adds) : g_strdup ("--");
          else
            v = g_strdup (r->params ? "True" : "--");
          append_padded (s, v, 26);
        }
      END_LINE ();
    }
#undef END_LINE

  g_string_append_printf (s, "%s\n", rule);
  n = cs_format_thousands (self->total_params);
  g_string_append_printf (s, "Total params: %s\n", n);
  g_free (n);
  n = cs_format_thousands (self->trainable_params);
  g_string_append_printf (s, "Trainable params: %s\n", n);
  g_free (n);
  n = cs_format_thousands (self->total_params - self->trainable_params);
  g_string_append_printf (s, "Non-trainable params: %s\n", n);
  if (self->total_mult_adds >= 1000000000)
    g_string_append_printf (s, "Total mult-adds (G): %.2f\n", self->total_mult_adds / 1e9);
  else
    g_string_append_printf (s, "Total mult-adds (M): %.2f\n", self->total_mult_adds / 1e6);
  g_string_append_printf (s, "%s\n", rule);
  g_string_append_printf (s, "Input size (MB): %.2f\n", mb (self->input_bytes));
  g_string_append_printf (s, "Forward/backward pass size (MB): %.2f\n", mb (self->forward_backward_bytes));
  g_string_append_printf (s, "Params size (MB): %.2f\n", mb (self->params_bytes));
  g_string_append_printf (s, "Estimated Total Size (MB): %.2f\n", mb (self->estimated_total_bytes));
  g_string_append_printf (s, "%s\n", rule);

  if (beyond)
    {
      g_string_append_printf (s, "Beyond torchinfo: what Convscope allocates to train this model at batch %d (measured)\n",
                              self->batch);
      g_string_append_printf (s, "  Parameters (MB): %.2f\n", mb (self->mem_params));
      g_string_append_printf (s, "  Gradients (MB): %.2f\n", mb (self->mem_grads));
      g_string_append_printf (s, "  Optimizer state (MB): %.2f\n", mb (self->mem_optimizer));
      g_string_append_printf (s, "  Activations, their gradients and workspaces (MB): %.2f\n", mb (self->mem_activations));
      g_string_append_printf (s, "  Batch buffers and the undo copy of the weights (MB): %.2f\n", mb (self->mem_batch));
      g_string_append_printf (s, "  Total allocated (MB): %.2f   (torchinfo's estimate: %.2f)\n", mb (self->mem_total),
                              mb (self->estimated_total_bytes));
      g_string_append_printf (s, "  FLOPs per training sample: %.2f M (forward %.2f M; a multiply-add is 2 FLOPs; "
                                 "weights only)\n",
                              self->flops_per_sample / 1e6, self->forward_flops_per_sample / 1e6);
      g_string_append_printf (s, "%s\n", rule);
    }
  return g_string_free (s, FALSE);
}

static void
json_shape (GString   *s,
            const int *shape,
            int        ndim)
{
  g_string_append_c (s, '[');
  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%d", d ? ", " : "", shape[d]);
  g_string_append_c (s, ']');
}

static void
json_string (GString    *s,
             const char *v)
{
  g_string_append_c (s, '"');
  for (const char *p = v; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (s, '\\');
      g_string_append_c (s, *p);
    }
  g_string_append_c (s, '"');
}

char *
cs_summary_to_json (const CsSummary *self)
{
  GString *s;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_return_val_if_fail (self != NULL, NULL);

  s = g_string_new ("{\n  \"model\": ");
  json_string (s, self->model_name);
  g_string_append_printf (s, ",\n  \"batch_size\": %d,\n  \"output_shape\": ", self->batch);
  json_shape (s, self->out_shape, self->out_ndim);
  g_string_append (s, ",\n  \"layers\": [");
  for (guint i = 0; i < self->rows->len; i++)
    {
      const CsSummaryRow *r = &g_array_index (self->rows, CsSummaryRow, i);

      g_string_append_printf (s, "%s\n    {\"label\": ", i ? "," : "");
      json_string (s, r->label);
      g_string_append (s, ", \"type\": ");
      json_string (s, r->type);
      g_string_append (s, ", \"name\": ");
      json_string (s, r->name);
      g_string_append_printf (s, ", \"depth\": %d, \"index\": %d, \"input_shape\": ", r->depth, r->index);
      json_shape (s, r->in_shape, r->in_ndim);
      g_string_append (s, ", \"output_shape\": ");
      json_shape (s, r->out_shape, r->out_ndim);
      g_string_append (s, ", \"kernel_shape\": ");
      if (r->kernel)
        json_string (s, r->kernel);
      else
        g_string_append (s, "null");
      g_string_append_printf (s, ", \"params\": %" G_GSIZE_FORMAT ", \"mult_adds\": %" G_GUINT64_FORMAT
                                 ", \"trainable\": %s, \"container\": %s, \"recursive\": %s}", r->params,
                              r->mult_adds, r->params ? "true" : "false", r->container ? "true" : "false",
                              r->recursive ? "true" : "false");
    }
  g_string_append_printf (s, "\n  ],\n  \"total_params\": %" G_GSIZE_FORMAT ",\n  \"trainable_params\": %" G_GSIZE_FORMAT
                             ",\n  \"non_trainable_params\": %" G_GSIZE_FORMAT ",\n  \"total_mult_adds\": %" G_GUINT64_FORMAT
                             ",\n  \"input_size_bytes\": %" G_GUINT64_FORMAT ",\n  \"forward_backward_pass_size_bytes\": %"
                             G_GUINT64_FORMAT ",\n  \"params_size_bytes\": %" G_GUINT64_FORMAT
                             ",\n  \"estimated_total_size_bytes\": %" G_GUINT64_FORMAT ",\n",
                          self->total_params, self->trainable_params, self->total_params - self->trainable_params,
                          self->total_mult_adds, self->input_bytes, self->forward_backward_bytes, self->params_bytes,
                          self->estimated_total_bytes);
  g_string_append_printf (s, "  \"allocated_bytes\": {\"parameters\": %" G_GUINT64_FORMAT ", \"gradients\": %" G_GUINT64_FORMAT
                             ", \"optimizer\": %" G_GUINT64_FORMAT ", \"activations_and_workspaces\": %" G_GUINT64_FORMAT
                             ", \"batch\": %" G_GUINT64_FORMAT ", \"total\": %" G_GUINT64_FORMAT "},\n",
                          self->mem_params, self->mem_grads, self->mem_optimizer, self->mem_activations,
                          self->mem_batch, self->mem_total);
  g_string_append_printf (s, "  \"training_flops_per_sample\": %s,\n",
                          g_ascii_formatd (buf, sizeof buf, "%.0f", self->flops_per_sample));
  g_string_append_printf (s, "  \"forward_flops_per_sample\": %s\n}\n",
                          g_ascii_formatd (buf, sizeof buf, "%.0f", self->forward_flops_per_sample));
  return g_string_free (s, FALSE);
}
