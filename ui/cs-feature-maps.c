/* The feature-maps widget: a private model computes the activations; cs_render_feature_maps() draws them. */

#define G_LOG_DOMAIN "cs-feature-maps"

#include "config.h"

#include <string.h>

#include "cs-feature-maps.h"
#include "cs-style.h"
#include "render/cs-render.h"

struct _CsFeatureMaps
{
  GtkWidget  parent_instance;
  CsSpec    *spec;
  CsModel   *model;
  float     *image;
  char      *label;
  float    **activations;
  float     *proba;
  gboolean   ready;
};

G_DEFINE_FINAL_TYPE (CsFeatureMaps, cs_feature_maps, GTK_TYPE_WIDGET)

static void
free_activations (CsFeatureMaps *self)
{
  if (self->activations != NULL && self->spec != NULL)
    for (guint i = 0; i < cs_spec_n_layers (self->spec); i++)
      g_free (self->activations[i]);
  g_clear_pointer (&self->activations, g_free);
  g_clear_pointer (&self->proba, g_free);
  self->ready = FALSE;
}

static void
recompute (CsFeatureMaps *self)
{
  guint n;

  free_activations (self);
  if (self->model == NULL || self->image == NULL)
    return;
  n = cs_spec_n_layers (self->spec);
  self->proba = g_new (float, cs_model_n_outputs (self->model));
  cs_model_predict (self->model, self->image, 1, self->proba);
  self->activations = g_new0 (float *, n);
  for (guint i = 0; i < n; i++)
    self->activations[i] = g_memdup2 (cs_model_layer_output (self->model, i),
                                      cs_shape_numel (cs_spec_layer (self->spec, i)->out) * sizeof (float));
  self->ready = TRUE;
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static double
render (CsFeatureMaps *self,
        cairo_t       *cr,
        double         width,
        gboolean       dark)
{
  if (!self->ready)
    return 0;
  return cs_render_feature_maps (cr, self->spec, self->image, self->label, (const float *const *) self->activations,
                                 self->proba, cs_model_n_outputs (self->model), width, dark);
}

static void
cs_feature_maps_snapshot (GtkWidget   *widget,
                          GtkSnapshot *snapshot)
{
  CsFeatureMaps *self = CS_FEATURE_MAPS (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  cairo_t *cr;

  if (!self->ready)
    return;
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  render (self, cr, w, cs_widget_is_dark (widget));
  cairo_destroy (cr);
}

static void
cs_feature_maps_measure (GtkWidget      *widget,
                         GtkOrientation  orientation,
                         int             for_size,
                         int            *minimum,
                         int            *natural,
                         int            *minimum_baseline,
                         int            *natural_baseline)
{
  CsFeatureMaps *self = CS_FEATURE_MAPS (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 300;
      *natural = 800;
    }
  else
    *minimum = *natural = (int) render (self, NULL, for_size > 0 ? for_size : 800, FALSE);
}

static GtkSizeRequestMode
cs_feature_maps_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

void
cs_feature_maps_set_weights (CsFeatureMaps *self,
                             const CsSpec  *spec,
                             const float   *params)
{
  if (self->spec == NULL || spec == NULL || !g_str_equal (self->spec->text, spec->text))
    {
      free_activations (self);
      g_clear_pointer (&self->model, cs_model_free);
      g_clear_pointer (&self->spec, cs_spec_free);
      if (spec != NULL)
        {
          self->spec = cs_spec_parse (spec->text, NULL);
          self->model = cs_model_new (self->spec);
          cs_model_set_batch_capacity (self->model, 1);
        }
    }
  if (self->model != NULL && params != NULL)
    memcpy (cs_model_params (self->model), params, cs_model_n_values (self->model) * sizeof (float));
  if (self->image != NULL && self->model != NULL && cs_model_input_size (self->model) != 784)
    g_clear_pointer (&self->image, g_free);
  recompute (self);
}

void
cs_feature_maps_set_image (CsFeatureMaps *self,
                           const float   *image,
                           const char    *label)
{
  g_free (self->image);
  g_free (self->label);
  self->image = g_memdup2 (image, 784 * sizeof (float));
  self->label = g_strdup (label);
  recompute (self);
}

const float *
cs_feature_maps_get_activation (CsFeatureMaps *self,
                                guint          i)
{
  return self->ready && i < cs_spec_n_layers (self->spec) ? self->activations[i] : NULL;
}

const float *
cs_feature_maps_get_probabilities (CsFeatureMaps *self)
{
  return self->ready ? self->proba : NULL;
}

static double
render_cb (cairo_t *cr,
           double   width,
           gpointer data)
{
  return render (data, cr, width, FALSE);
}

gboolean
cs_feature_maps_export (CsFeatureMaps *self,
                        const char    *path,
                        GError       **error)
{
  if (!self->ready)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "choose a model and an image first");
      return FALSE;
    }
  return cs_render_to_file (path, 1000, render_cb, self, error);
}

static void
cs_feature_maps_dispose (GObject *object)
{
  CsFeatureMaps *self = CS_FEATURE_MAPS (object);

  free_activations (self);
  g_clear_pointer (&self->model, cs_model_free);
  g_clear_pointer (&self->spec, cs_spec_free);
  g_clear_pointer (&self->image, g_free);
  g_clear_pointer (&self->label, g_free);
  G_OBJECT_CLASS (cs_feature_maps_parent_class)->dispose (object);
}

static void
cs_feature_maps_class_init (CsFeatureMapsClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_feature_maps_dispose;
  widget_class->snapshot = cs_feature_maps_snapshot;
  widget_class->measure = cs_feature_maps_measure;
  widget_class->get_request_mode = cs_feature_maps_get_request_mode;
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
cs_feature_maps_init (CsFeatureMaps *self)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, "Feature maps",
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  "The input image and every layer's output for it, then the class probabilities", -1);
}

CsFeatureMaps *
cs_feature_maps_new (void)
{
  return g_object_new (CS_TYPE_FEATURE_MAPS, NULL);
}
