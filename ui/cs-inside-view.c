/* The Inside view: weights from the run's snapshots (live) or checkpoint, drawn as kernels and feature maps. */

#define G_LOG_DOMAIN "cs-inside-view"

#include "config.h"

#include "formats/cs-checkpoint.h"
#include "cs-inside-view.h"
#include "cs-loaded-model.h"
#include "train/cs-run.h"

struct _CsInsideView
{
  GtkWidget      parent_instance;

  GtkWidget     *box;
  GtkDropDown   *scale;
  GtkSpinButton *image_index;
  GtkButton     *random_button;
  GtkLabel      *readout;
  GtkButton     *export_button;
  GtkStack      *pages;
  CsKernelGrid  *kernels;
  CsFeatureMaps *maps;

  GObject       *item;
  gulong         snapshot_handler;
  CsDataset     *data;
  gboolean       custom_image;
  guint          n_updates;
};

G_DEFINE_FINAL_TYPE (CsInsideView, cs_inside_view, GTK_TYPE_WIDGET)

static void
show_weights (CsInsideView *self,
              const CsSpec *spec,
              const float  *params)
{
  cs_kernel_grid_set_weights (self->kernels, spec, params);
  cs_feature_maps_set_weights (self->maps, spec, params);
  self->n_updates++;
}

static void
snapshot_cb (CsRun        *run,
             CsInsideView *self)
{
  CsSnapshot *snap = cs_run_get_snapshot (run);

  if (snap != NULL)
    show_weights (self, cs_run_get_spec (run), snap->params);
}

static void
load_test_image (CsInsideView *self)
{
  int index = gtk_spin_button_get_value_as_int (self->image_index);
  float x[784];
  gint32 y;
  g_autofree char *label = NULL;

  if (self->data == NULL || self->data->test.rows * self->data->test.cols != 784 || (guint) index >= self->data->test.n)
    return;
  cs_data_split_first_to_float (&self->data->test, index, 1, x, &y);
  label = g_strdup_printf ("test image %d, a %s", index, cs_dataset_class_name (self->data, y));
  self->custom_image = FALSE;
  cs_feature_maps_set_image (self->maps, x, label);
}

void
cs_inside_view_set_image (CsInsideView *self,
                          const float  *image,
                          const char   *label)
{
  self->custom_image = TRUE;
  cs_feature_maps_set_image (self->maps, image, label);
}

void
cs_inside_view_show_feature_maps (CsInsideView *self)
{
  g_return_if_fail (CS_IS_INSIDE_VIEW (self));

  gtk_stack_set_visible_child_name (self->pages, "maps");
}

const char *
cs_inside_view_get_page (CsInsideView *self)
{
  g_return_val_if_fail (CS_IS_INSIDE_VIEW (self), NULL);

  return gtk_stack_get_visible_child_name (self->pages);
}

void
cs_inside_view_set_item (CsInsideView *self,
                         GObject      *item,
                         CsDataset    *data)
{
  if (self->item != NULL && self->snapshot_handler != 0)
    g_signal_handler_disconnect (self->item, self->snapshot_handler);
  self->snapshot_handler = 0;
  g_clear_object (&self->item);
  if (data != self->data)
    {
      g_clear_pointer (&self->data, cs_dataset_unref);
      self->data = data ? cs_dataset_ref (data) : NULL;
    }

  if (item == NULL)
    {
      show_weights (self, NULL, NULL);
      return;
    }
  self->item = g_object_ref (item);
  if (CS_IS_RUN (item))
    {
      CsRun *run = CS_RUN (item);
      CsSnapshot *snap = cs_run_get_snapshot (run);

      self->snapshot_handler = g_signal_connect (run, "snapshot", G_CALLBACK (snapshot_cb), self);
      if (snap != NULL)
        show_weights (self, cs_run_get_spec (run), snap->params);
      else
        {
          g_autofree char *path = cs_run_get_checkpoint_path (run);
          g_autoptr(CsCheckpoint) ckpt = cs_checkpoint_load (path, NULL);
          g_autoptr(CsModel) model = cs_model_new (cs_run_get_spec (run));

          /* Before the first snapshot or checkpoint there is nothing learned to show yet. */
          if (ckpt != NULL && cs_checkpoint_apply (ckpt, model, NULL))
            show_weights (self, cs_run_get_spec (run), cs_model_params (model));
          else
            show_weights (self, cs_run_get_spec (run), NULL);
        }
    }
  else if (CS_IS_LOADED_MODEL (item))
    {
      CsLoadedModel *m = CS_LOADED_MODEL (item);
      show_weights (self, cs_loaded_model_get_spec (m), cs_model_params (cs_loaded_model_get_model_instance (m)));
    }
  if (!self->custom_image)
    load_test_image (self);
}

CsKernelGrid *
cs_inside_view_get_kernels (CsInsideView *self)
{
  return self->kernels;
}

CsFeatureMaps *
cs_inside_view_get_maps (CsInsideView *self)
{
  return self->maps;
}

guint
cs_inside_view_get_n_updates (CsInsideView *self)
{
  return self->n_updates;
}

static void
index_changed_cb (GtkSpinButton *spin,
                  CsInsideView  *self)
{
  load_test_image (self);
}

static void
random_cb (GtkButton    *button,
           CsInsideView *self)
{
  if (self->data != NULL)
    gtk_spin_button_set_value (self->image_index, g_random_int_range (0, (gint32) self->data->test.n));
}

static void
scale_changed_cb (GtkDropDown  *dropdown,
                  GParamSpec   *pspec,
                  CsInsideView *self)
{
  cs_kernel_grid_set_scale (self->kernels, gtk_drop_down_get_selected (dropdown) == 1 ? CS_SCALE_PER_KERNEL
                                                                                     : CS_SCALE_PER_LAYER);
}

static void
kernel_motion_cb (GtkEventControllerMotion *motion,
                  double                    x,
                  double                    y,
                  CsInsideView             *self)
{
  const char *text = cs_kernel_grid_get_readout (self->kernels);
  gtk_label_set_text (self->readout, text ? text : "Click a kernel to see its values");
}

static void
export_response_cb (GtkNativeDialog *dialog,
                    int              response,
                    CsInsideView    *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      g_autoptr(GError) error = NULL;
      gboolean ok = g_str_equal (gtk_stack_get_visible_child_name (self->pages), "kernels")
        ? cs_kernel_grid_export (self->kernels, path, &error)
        : cs_feature_maps_export (self->maps, path, &error);

      gtk_label_set_text (self->readout, ok ? "Exported." : error->message);
    }
  g_object_unref (dialog);
}

static void
export_cb (GtkButton    *button,
           CsInsideView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new ("Export (PNG, SVG or PDF)", GTK_WINDOW (root),
                                                               GTK_FILE_CHOOSER_ACTION_SAVE, "_Export", "_Cancel");

  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser),
                                     g_str_equal (gtk_stack_get_visible_child_name (self->pages), "kernels")
                                     ? "kernels.png" : "feature-maps.png");
  g_signal_connect (chooser, "response", G_CALLBACK (export_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
cs_inside_view_dispose (GObject *object)
{
  CsInsideView *self = CS_INSIDE_VIEW (object);

  if (self->item != NULL && self->snapshot_handler != 0)
    g_signal_handler_disconnect (self->item, self->snapshot_handler);
  self->snapshot_handler = 0;
  g_clear_object (&self->item);
  g_clear_pointer (&self->data, cs_dataset_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), CS_TYPE_INSIDE_VIEW);
  G_OBJECT_CLASS (cs_inside_view_parent_class)->dispose (object);
}

static void
cs_inside_view_class_init (CsInsideViewClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_inside_view_dispose;
  g_type_ensure (CS_TYPE_KERNEL_GRID);
  g_type_ensure (CS_TYPE_FEATURE_MAPS);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-inside-view.ui");
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, box);
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, scale);
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, image_index);
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, random_button);
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, readout);
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, export_button);
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, pages);
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, kernels);
  gtk_widget_class_bind_template_child (widget_class, CsInsideView, maps);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
cs_inside_view_init (CsInsideView *self)
{
  GtkEventController *motion = gtk_event_controller_motion_new ();

  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect (self->image_index, "value-changed", G_CALLBACK (index_changed_cb), self);
  g_signal_connect (self->random_button, "clicked", G_CALLBACK (random_cb), self);
  g_signal_connect (self->scale, "notify::selected", G_CALLBACK (scale_changed_cb), self);
  g_signal_connect (self->export_button, "clicked", G_CALLBACK (export_cb), self);
  g_signal_connect_after (motion, "motion", G_CALLBACK (kernel_motion_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->kernels), motion);
  gtk_label_set_text (self->readout, "Hover a kernel for its values; click it to enlarge");
}
