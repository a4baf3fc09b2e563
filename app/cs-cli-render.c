/* `convscope render`: kernels and feature maps of a checkpoint into PNG, SVG or PDF, with the window's drawing code. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "formats/cs-checkpoint.h"
#include "cs-cli.h"
#include "data/cs-dataset.h"
#include "data/cs-digit.h"
#include "render/cs-image-io.h"
#include "render/cs-render.h"

typedef struct
{
  const CsSpec *spec;
  CsModel      *model;
  float        *image;
  const char   *label;
  float       **activations;
  float        *proba;
} RenderData;

static double
kernels_cb (cairo_t *cr,
            double   width,
            gpointer data)
{
  RenderData *d = data;
  return cs_render_kernels (cr, d->spec, cs_model_params (d->model), d->model, CS_SCALE_PER_LAYER, width, FALSE, NULL);
}

static double
maps_cb (cairo_t *cr,
         double   width,
         gpointer data)
{
  RenderData *d = data;
  return cs_render_feature_maps (cr, d->spec, d->image, d->label, (const float *const *) d->activations, d->proba,
                                 cs_model_n_outputs (d->model), width, FALSE);
}

int
cs_cli_render (int    argc,
               char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CsCheckpoint) ckpt = NULL;
  g_autoptr(CsModel) model = NULL;
  g_autofree char *checkpoint = NULL;
  g_autofree char *output = NULL;
  g_autofree char *image_path = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *hint = NULL;
  g_autofree char *label = NULL;
  int test_index = -1, status = CS_EXIT_OK, width = 1000;
  RenderData d = { 0 };
  g_autofree float *image = NULL;   /* d.image; owned here for the early returns */
  gboolean kernels;
  const GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "A .safetensors or PyTorch .pth (default: the bundled LeNet-5)", "FILE" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "OUT.png, OUT.svg or OUT.pdf", "FILE" },
    { "test-index", 0, 0, G_OPTION_ARG_INT, &test_index, "feature-maps: this test image", "N" },
    { "image", 'i', 0, G_OPTION_ARG_FILENAME, &image_path, "feature-maps: a picture of a digit (PNG)", "PNG" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Directory with the IDX files", "DIR" },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &hint, "The model, when the file does not say", "MODEL" },
    { "width", 'w', 0, G_OPTION_ARG_INT, &width, "Width in pixels or points (1000)", "N" },
    { NULL }
  };

  context = g_option_context_new ("kernels | feature-maps - draw what a checkpoint holds");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cs_cli_parse (context, "render", &argc, &argv, &status))
    return status;
  if (argc != 2 || (!g_str_equal (argv[1], "kernels") && !g_str_equal (argv[1], "feature-maps")))
    return cs_cli_usage_error ("render", "expected \"render kernels\" or \"render feature-maps\"");
  if (output == NULL)
    return cs_cli_usage_error ("render", "where to? -o OUT.png, OUT.svg or OUT.pdf");
  if (!g_str_has_suffix (output, ".png") && !g_str_has_suffix (output, ".svg") && !g_str_has_suffix (output, ".pdf"))
    return cs_cli_usage_error ("render", "the output must end in .png, .svg or .pdf");
  if (width < 200 || width > 20000)
    return cs_cli_usage_error ("render", "the width must be from 200 to 20000");
  kernels = g_str_equal (argv[1], "kernels");
  if (!kernels && (test_index >= 0) == (image_path != NULL))
    return cs_cli_usage_error ("render", "feature-maps needs either --test-index N or --image PNG");

  ckpt = checkpoint ? cs_checkpoint_load (checkpoint, &error) : cs_checkpoint_load_bundled (&error);
  if (ckpt == NULL)
    return cs_cli_fail (error);
  model = cs_checkpoint_to_model (ckpt, hint, &error);
  if (model == NULL)
    return cs_cli_fail (error);
  d.spec = cs_model_get_spec (model);
  d.model = model;

  if (!kernels)
    {
      guint n = cs_spec_n_layers (d.spec);

      if (cs_model_input_size (model) != 784)
        {
          fprintf (stderr, "convscope: feature-maps needs a model with 1x28x28 input\n");
          return CS_EXIT_FAILURE;
        }
      image = g_new (float, 784);
      d.image = image;
      if (image_path != NULL)
        {
          int w, h;
          g_autofree float *gray = cs_image_load_gray (image_path, &w, &h, &error);
          if (gray == NULL)
            return cs_cli_fail (error);
          if (!cs_digit_preprocess (d.image, gray, w, h, TRUE, &error))
            {
              fprintf (stderr, "convscope: %s: %s\n", image_path, error->message);
              return CS_EXIT_FAILURE;
            }
          label = g_path_get_basename (image_path);
        }
      else
        {
          g_autoptr(CsDataset) ds = cs_dataset_open (data_dir, "mnist", &error);
          gint32 y;
          if (ds == NULL)
            return cs_cli_fail (error);
          if ((guint) test_index >= ds->test.n)
            return cs_cli_usage_error ("render", "--test-index must be below %u", ds->test.n);
          cs_data_split_first_to_float (&ds->test, test_index, 1, d.image, &y);
          label = g_strdup_printf ("test image %d, a %d", test_index, y);
        }
      d.label = label;
      d.proba = g_new (float, cs_model_n_outputs (model));
      cs_model_predict (model, d.image, 1, d.proba);
      d.activations = g_new0 (float *, n);
      for (guint i = 0; i < n; i++)
        d.activations[i] = g_memdup2 (cs_model_layer_output (model, i),
                                      cs_shape_numel (cs_spec_layer (d.spec, i)->out) * sizeof (float));
    }

  if (!cs_render_to_file (output, width, kernels ? kernels_cb : maps_cb, &d, &error))
    status = cs_cli_fail (error);
  else
    printf ("Wrote %s\n", output);

  if (d.activations)
    for (guint i = 0; i < cs_spec_n_layers (d.spec); i++)
      g_free (d.activations[i]);
  g_free (d.activations);
  g_free (d.proba);
  return status;
}
