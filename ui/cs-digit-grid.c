/* The mistakes grid: each image drawn pixel by pixel with cairo, "true → predicted" beneath. */

#define G_LOG_DOMAIN "cs-digit-grid"

#include "config.h"

#include "cs-digit-grid.h"

#define CELL 64
#define COLUMNS 6

struct _CsDigitGrid
{
  GtkWidget  parent_instance;
  char      *title;
  GBytes    *images;
  GBytes    *truth;
  GBytes    *pred;
  guint      n;
};

G_DEFINE_FINAL_TYPE (CsDigitGrid, cs_digit_grid, GTK_TYPE_WIDGET)

static void
cs_digit_grid_snapshot (GtkWidget   *widget,
                        GtkSnapshot *snapshot)
{
  CsDigitGrid *self = CS_DIGIT_GRID (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  const guint8 *img = self->images ? g_bytes_get_data (self->images, NULL) : NULL;
  const guint8 *truth = self->truth ? g_bytes_get_data (self->truth, NULL) : NULL;
  const guint8 *pred = self->pred ? g_bytes_get_data (self->pred, NULL) : NULL;
  GdkRGBA fg;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size (cr, 12);
  gdk_cairo_set_source_rgba (cr, &fg);
  cairo_move_to (cr, 0, 14);
  cairo_show_text (cr, self->title ? self->title : "");
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 10);
  for (guint i = 0; img && i < self->n; i++)
    {
      double x0 = (i % COLUMNS) * CELL, y0 = 22 + (i / COLUMNS) * (CELL + 14);
      double s = (CELL - 8) / 28.0;
      char buf[32];

      cairo_set_source_rgb (cr, 0, 0, 0);
      cairo_rectangle (cr, x0, y0, 28 * s, 28 * s);
      cairo_fill (cr);
      for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
          {
            guint8 v = img[i * 784 + y * 28 + x];
            if (v == 0)
              continue;
            cairo_set_source_rgb (cr, v / 255.0, v / 255.0, v / 255.0);
            cairo_rectangle (cr, x0 + x * s, y0 + y * s, s + 0.2, s + 0.2);
            cairo_fill (cr);
          }
      g_snprintf (buf, sizeof buf, "%u → %u", truth[i], pred[i]);
      cairo_set_source_rgb (cr, 0.88, 0.11, 0.14);
      cairo_move_to (cr, x0 + 2, y0 + 28 * s + 12);
      cairo_show_text (cr, buf);
    }
  cairo_destroy (cr);
}

static void
cs_digit_grid_measure (GtkWidget      *widget,
                       GtkOrientation  orientation,
                       int             for_size,
                       int            *minimum,
                       int            *natural,
                       int            *minimum_baseline,
                       int            *natural_baseline)
{
  CsDigitGrid *self = CS_DIGIT_GRID (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *minimum = *natural = COLUMNS * CELL;
  else
    *minimum = *natural = 22 + (int) ((self->n + COLUMNS - 1) / COLUMNS) * (CELL + 14);
}

static void
cs_digit_grid_finalize (GObject *object)
{
  CsDigitGrid *self = CS_DIGIT_GRID (object);

  g_free (self->title);
  g_clear_pointer (&self->images, g_bytes_unref);
  g_clear_pointer (&self->truth, g_bytes_unref);
  g_clear_pointer (&self->pred, g_bytes_unref);
  G_OBJECT_CLASS (cs_digit_grid_parent_class)->finalize (object);
}

static void
cs_digit_grid_class_init (CsDigitGridClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = cs_digit_grid_finalize;
  widget_class->snapshot = cs_digit_grid_snapshot;
  widget_class->measure = cs_digit_grid_measure;
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
cs_digit_grid_init (CsDigitGrid *self)
{
}

CsDigitGrid *
cs_digit_grid_new (void)
{
  return g_object_new (CS_TYPE_DIGIT_GRID, NULL);
}

void
cs_digit_grid_set_images (CsDigitGrid  *self,
                          const char   *title,
                          const guint8 *images,
                          const guint8 *truth,
                          const guint8 *pred,
                          guint         n)
{
  g_autofree char *desc = g_strdup_printf ("%u misclassified test images", n);

  g_free (self->title);
  self->title = g_strdup (title);
  g_clear_pointer (&self->images, g_bytes_unref);
  g_clear_pointer (&self->truth, g_bytes_unref);
  g_clear_pointer (&self->pred, g_bytes_unref);
  self->n = n;
  if (n > 0)
    {
      self->images = g_bytes_new (images, (gsize) n * 784);
      self->truth = g_bytes_new (truth, n);
      self->pred = g_bytes_new (pred, n);
    }
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, title,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, desc, -1);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

guint
cs_digit_grid_get_n (CsDigitGrid *self)
{
  return self->n;
}
