/* The summary view: a GtkColumnView over CsSummaryItem rows, from core's CsSummary. */

#define G_LOG_DOMAIN "cs-summary-view"

#include "config.h"

#include "formats/cs-checkpoint.h"
#include "nn/cs-presets.h"
#include "train/cs-summary.h"
#include "cs-summary-view.h"

/* ---- one row as a GObject, for the column view's bindings ---- */

#define CS_TYPE_SUMMARY_ITEM (cs_summary_item_get_type ())
G_DECLARE_FINAL_TYPE (CsSummaryItem, cs_summary_item, CS, SUMMARY_ITEM, GObject)

struct _CsSummaryItem
{
  GObject  parent_instance;
  char    *values[6];
};

G_DEFINE_FINAL_TYPE (CsSummaryItem, cs_summary_item, G_TYPE_OBJECT)

static const char * const item_props[] = { "label", "input", "output", "kernel", "params", "mult-adds" };

static void
cs_summary_item_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  g_value_set_string (value, CS_SUMMARY_ITEM (object)->values[prop_id - 1]);
}

static void
cs_summary_item_finalize (GObject *object)
{
  CsSummaryItem *self = CS_SUMMARY_ITEM (object);

  for (guint i = 0; i < G_N_ELEMENTS (self->values); i++)
    g_free (self->values[i]);
  G_OBJECT_CLASS (cs_summary_item_parent_class)->finalize (object);
}

static void
cs_summary_item_class_init (CsSummaryItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = cs_summary_item_get_property;
  object_class->finalize = cs_summary_item_finalize;
  for (guint i = 0; i < G_N_ELEMENTS (item_props); i++)
    g_object_class_install_property (object_class, i + 1,
                                     g_param_spec_string (item_props[i], NULL, NULL, NULL,
                                                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
cs_summary_item_init (CsSummaryItem *self)
{
}

/* ---- the view ---- */

struct _CsSummaryView
{
  GtkWidget      parent_instance;

  GtkWidget     *box;
  GtkLabel      *heading;
  GtkColumnView *table;
  GtkLabel      *totals;
  GtkLabel      *memory;
  GListStore    *rows;
};

G_DEFINE_FINAL_TYPE (CsSummaryView, cs_summary_view, GTK_TYPE_WIDGET)

void
cs_summary_view_set_model (CsSummaryView       *self,
                           const CsSpec        *spec,
                           const char          *model_name,
                           const CsHyperParams *hp)
{
  g_autoptr(CsSummary) s = NULL;
  g_autofree char *text = NULL;
  g_autofree char *mem = NULL;
  g_autofree char *tp = NULL;
  const CsPreset *preset;
  CsHyperParams defaults;

  g_list_store_remove_all (self->rows);
  if (spec == NULL)
    {
      gtk_label_set_text (self->heading, "Select a run or a checkpoint to see its model");
      gtk_label_set_text (self->totals, "");
      gtk_label_set_text (self->memory, "");
      return;
    }
  preset = model_name ? cs_preset_lookup (model_name) : NULL;
  /* A checkpoint has no training settings: what Convscope would allocate to
   * train it is measured with its preset's (or Adam, batch 100). */
  if (hp == NULL)
    {
      cs_hyper_params_for_preset (&defaults, preset ? model_name : NULL);
      hp = &defaults;
    }
  s = cs_summary_new (spec, preset ? preset->class_name : model_name, hp->batch_size, hp);

  {
    CsSummaryItem *top = g_object_new (CS_TYPE_SUMMARY_ITEM, NULL);
    top->values[0] = g_strdup (s->model_name);
    top->values[1] = cs_tensor_shape_string (s->in_shape, s->in_ndim);
    top->values[2] = cs_tensor_shape_string (s->out_shape, s->out_ndim);
    top->values[3] = g_strdup ("--");
    top->values[4] = g_strdup ("--");
    top->values[5] = g_strdup ("--");
    g_list_store_append (self->rows, top);
    g_object_unref (top);
  }
  for (guint i = 0; i < s->rows->len; i++)
    {
      const CsSummaryRow *r = &g_array_index (s->rows, CsSummaryRow, i);
      CsSummaryItem *item = g_object_new (CS_TYPE_SUMMARY_ITEM, NULL);

      item->values[0] = g_strdup_printf ("%s  (%s)", r->label, r->name);
      item->values[1] = cs_tensor_shape_string (r->in_shape, r->in_ndim);
      item->values[2] = cs_tensor_shape_string (r->out_shape, r->out_ndim);
      item->values[3] = g_strdup (r->kernel ? r->kernel : "--");
      item->values[4] = r->recursive ? g_strdup ("(recursive)")
                        : r->params ? cs_format_thousands (r->params) : g_strdup ("--");
      item->values[5] = r->mult_adds ? cs_format_thousands (r->mult_adds) : g_strdup ("--");
      g_list_store_append (self->rows, item);
      g_object_unref (item);
    }

  tp = cs_format_thousands (s->total_params);
  text = g_strdup_printf ("Total params: %s\nTrainable params: %s\nNon-trainable params: 0\n"
                          "Total mult-adds (M): %.2f\nInput size (MB): %.2f\nForward/backward pass size (MB): %.2f\n"
                          "Params size (MB): %.2f\nEstimated Total Size (MB): %.2f",
                          tp, tp, s->total_mult_adds / 1e6, s->input_bytes / 1e6, s->forward_backward_bytes / 1e6,
                          s->params_bytes / 1e6, s->estimated_total_bytes / 1e6);
  mem = g_strdup_printf ("Convscope allocates to train at batch %d (measured):\n"
                         "  parameters %.2f MB, gradients %.2f MB\n  optimizer state %.2f MB\n"
                         "  activations and workspaces %.2f MB\n  batch buffers %.2f MB\n"
                         "  total %.2f MB (torchinfo estimates %.2f MB)\n"
                         "FLOPs per training sample: %.2f M",
                         s->batch, s->mem_params / 1e6, s->mem_grads / 1e6, s->mem_optimizer / 1e6,
                         s->mem_activations / 1e6, s->mem_batch / 1e6, s->mem_total / 1e6,
                         s->estimated_total_bytes / 1e6, s->flops_per_sample / 1e6);
  gtk_label_set_text (self->heading, model_name ? model_name : "Model");
  gtk_label_set_text (self->totals, text);
  gtk_label_set_text (self->memory, mem);
}

guint
cs_summary_view_get_n_rows (CsSummaryView *self)
{
  return g_list_model_get_n_items (G_LIST_MODEL (self->rows));
}

const char *
cs_summary_view_get_memory (CsSummaryView *self)
{
  g_return_val_if_fail (CS_IS_SUMMARY_VIEW (self), NULL);

  return gtk_label_get_text (self->memory);
}

const char *
cs_summary_view_get_totals (CsSummaryView *self)
{
  return gtk_label_get_text (self->totals);
}

static void
cs_summary_view_dispose (GObject *object)
{
  CsSummaryView *self = CS_SUMMARY_VIEW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), CS_TYPE_SUMMARY_VIEW);
  g_clear_object (&self->rows);
  G_OBJECT_CLASS (cs_summary_view_parent_class)->dispose (object);
}

static void
cs_summary_view_class_init (CsSummaryViewClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_summary_view_dispose;
  g_type_ensure (CS_TYPE_SUMMARY_ITEM);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-summary-view.ui");
  gtk_widget_class_bind_template_child (widget_class, CsSummaryView, box);
  gtk_widget_class_bind_template_child (widget_class, CsSummaryView, heading);
  gtk_widget_class_bind_template_child (widget_class, CsSummaryView, table);
  gtk_widget_class_bind_template_child (widget_class, CsSummaryView, totals);
  gtk_widget_class_bind_template_child (widget_class, CsSummaryView, memory);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
cs_summary_view_init (CsSummaryView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->rows = g_list_store_new (CS_TYPE_SUMMARY_ITEM);
  {
    g_autoptr(GtkNoSelection) selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->rows)));
    gtk_column_view_set_model (self->table, GTK_SELECTION_MODEL (selection));
  }
  cs_summary_view_set_model (self, NULL, NULL, NULL);
}
