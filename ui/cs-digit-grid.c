/* The mistakes grid: each image drawn pixel by pixel with cairo, "true → predicted" beneath.
 * Hovering an image tells the model's confidence; clicking one asks to see it
 * inside the model ("image-activated"); a filter keeps one kind of mistake. */

#define G_LOG_DOMAIN "cs-digit-grid"

#include "config.h"

#include <math.h>

#include "cs-digit-grid.h"

#define CELL 64
#define COLUMNS 6
#define SHOWN_MAX 24

struct _CsDigitGrid
{
  GtkWidget  parent_instance;

  char      *title;
  GBytes    *images;
  GBytes    *truth;
  GBytes    *pred;
  GBytes    *confidence;   /* float per image: the probability of the predicted class */
  guint      n;
  int        filter_true;  /* -1: any */
  int        filter_pred;
  guint      shown[SHOWN_MAX];
  guint      n_shown;
};

G_DEFINE_FINAL_TYPE (CsDigitGrid, cs_digit_grid, GTK_TYPE_WIDGET)

enum { SIGNAL_IMAGE_ACTIVATED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* The images that pass the filter, at most SHOWN_MAX of them. */
static void
update_shown (CsDigitGrid *self)
{
  const guint8 *truth = self->truth ? g_bytes_get_data (self->truth, NULL) : NULL;
  const guint8 *pred = self->pred ? g_bytes_get_data (self->pred, NULL) : NULL;

  self->n_shown = 0;
  for (guint i = 0; i < self->n && self->n_shown < SHOWN_MAX; i++)
    if ((self->filter_true < 0 || truth[i] == self->filter_true) &&
        (self->filter_pred < 0 || pred[i] == self->filter_pred))
      self->shown[self->n_shown++] = i;
}

/* The shown image under (x, y), or -1. */
static int
image_at (CsDigitGrid *self,
          double       x,
          double       y)
{
  int col = (int) (x / CELL), row;

  if (x < 0 || y < 22 || col >= COLUMNS)
    return -1;
  row = (int) ((y - 22) / (CELL + 14));
  if ((guint) (row * COLUMNS + col) >= self->n_shown)
    return -1;
  return (int) self->shown[row * COLUMNS + col];
}

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

  for (guint k = 0; img && k < self->n_shown; k++)
    {
      guint i = self->shown[k];
      double x0 = (k % COLUMNS) * CELL, y0 = 22 + (k / COLUMNS) * (CELL + 14);
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

static gboolean
query_tooltip_cb (GtkWidget  *widget,
                  int         x,
                  int         y,
                  gboolean    keyboard,
                  GtkTooltip *tooltip,
                  gpointer    data)
{
  CsDigitGrid *self = CS_DIGIT_GRID (widget);
  int i = image_at (self, x, y);
  const guint8 *truth, *pred;
  g_autofree char *text = NULL;

  if (i < 0)
    return FALSE;
  truth = g_bytes_get_data (self->truth, NULL);
  pred = g_bytes_get_data (self->pred, NULL);
  if (self->confidence != NULL)
    text = g_strdup_printf ("A %u read as %u, %.1f %% sure\nClick to see it inside the model", truth[i], pred[i],
                            100.0 * ((const float *) g_bytes_get_data (self->confidence, NULL))[i]);
  else
    text = g_strdup_printf ("A %u read as %u\nClick to see it inside the model", truth[i], pred[i]);
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

static void
pressed_cb (GtkGestureClick *gesture,
            int              n_press,
            double           x,
            double           y,
            CsDigitGrid     *self)
{
  int i = image_at (self, x, y);

  if (i >= 0)
    g_signal_emit (self, signals[SIGNAL_IMAGE_ACTIVATED], 0, (guint) i);
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
    *minimum = *natural = 22 + (int) ((self->n_shown + COLUMNS - 1) / COLUMNS) * (CELL + 14);
}

static void
cs_digit_grid_finalize (GObject *object)
{
  CsDigitGrid *self = CS_DIGIT_GRID (object);

  g_free (self->title);
  g_clear_pointer (&self->images, g_bytes_unref);
  g_clear_pointer (&self->truth, g_bytes_unref);
  g_clear_pointer (&self->pred, g_bytes_unref);
  g_clear_pointer (&self->confidence, g_bytes_unref);
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
  /* An image was clicked: its index, for cs_digit_grid_get_image(). */
  signals[SIGNAL_IMAGE_ACTIVATED] = g_signal_new ("image-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
cs_digit_grid_init (CsDigitGrid *self)
{
  GtkGesture *click = gtk_gesture_click_new ();

  self->filter_true = self->filter_pred = -1;
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  g_signal_connect (self, "query-tooltip", G_CALLBACK (query_tooltip_cb), NULL);
  g_signal_connect (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
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
                          const float  *confidence,
                          guint         n)
{
  g_autofree char *desc = g_strdup_printf ("%u misclassified test images", n);

  g_return_if_fail (CS_IS_DIGIT_GRID (self));
  g_return_if_fail (n == 0 || (images != NULL && truth != NULL && pred != NULL));

  g_free (self->title);
  self->title = g_strdup (title);
  g_clear_pointer (&self->images, g_bytes_unref);
  g_clear_pointer (&self->truth, g_bytes_unref);
  g_clear_pointer (&self->pred, g_bytes_unref);
  g_clear_pointer (&self->confidence, g_bytes_unref);
  self->n = n;
  if (n > 0)
    {
      self->images = g_bytes_new (images, (gsize) n * 784);
      self->truth = g_bytes_new (truth, n);
      self->pred = g_bytes_new (pred, n);
      if (confidence != NULL)
        self->confidence = g_bytes_new (confidence, n * sizeof (float));
    }
  update_shown (self);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, title,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, desc, -1);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

void
cs_digit_grid_set_filter (CsDigitGrid *self,
                          int          true_class,
                          int          predicted)
{
  g_return_if_fail (CS_IS_DIGIT_GRID (self));

  self->filter_true = true_class;
  self->filter_pred = predicted;
  update_shown (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
cs_digit_grid_get_n (CsDigitGrid *self)
{
  return self->n;
}

guint
cs_digit_grid_get_n_shown (CsDigitGrid *self)
{
  g_return_val_if_fail (CS_IS_DIGIT_GRID (self), 0);

  return self->n_shown;
}

guint
cs_digit_grid_get_shown (CsDigitGrid *self,
                         guint        k)
{
  g_return_val_if_fail (CS_IS_DIGIT_GRID (self) && k < self->n_shown, 0);

  return self->shown[k];
}

const guint8 *
cs_digit_grid_get_image (CsDigitGrid *self,
                         guint        i,
                         guint       *truth,
                         guint       *predicted,
                         float       *confidence)
{
  g_return_val_if_fail (CS_IS_DIGIT_GRID (self) && i < self->n, NULL);

  if (truth != NULL)
    *truth = ((const guint8 *) g_bytes_get_data (self->truth, NULL))[i];
  if (predicted != NULL)
    *predicted = ((const guint8 *) g_bytes_get_data (self->pred, NULL))[i];
  if (confidence != NULL)
    *confidence = self->confidence ? ((const float *) g_bytes_get_data (self->confidence, NULL))[i] : NAN;
  return (const guint8 *) g_bytes_get_data (self->images, NULL) + (gsize) i * 784;
}
