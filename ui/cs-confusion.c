/* The confusion matrix widget: rows are the true class, columns the predicted; the diagonal is right.
 * Clicking a cell asks for its mistakes ("cell-activated"). */

#define G_LOG_DOMAIN "cs-confusion"

#include "config.h"

#include <math.h>
#include <string.h>

#include "cs-confusion.h"
#include "cs-style.h"

struct _CsConfusion
{
  GtkWidget parent_instance;
  char     *title;
  guint     counts[100];
  GdkRGBA   accent;
  gboolean  has_data;
  int       sel_true;     /* the cell whose mistakes are shown, or -1 */
  int       sel_pred;
};

enum { SIGNAL_CELL_ACTIVATED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* Where the matrix sits in a widget of @width x @height (as cs_confusion_draw() lays it out). */
static void
geometry (double  width,
          double  height,
          double *top,
          double *left,
          double *cell)
{
  *top = 50;
  *left = 40;
  *cell = MIN (width - *left - 8, height - *top - 34 - 6) / 10;
}

G_DEFINE_FINAL_TYPE (CsConfusion, cs_confusion, GTK_TYPE_WIDGET)

void
cs_confusion_draw (CsConfusion *self,
                   cairo_t     *cr,
                   double       width,
                   double       height,
                   gboolean     dark)
{
  double fg = dark ? 0.92 : 0.12;
  /* From the top: the title, "predicted →" over the column numbers, the
   * matrix with the row numbers and "true ↓" down its left, then the legend. */
  double top, left, cell, size;
  guint max_off = 1, max_diag = 1;
  char buf[32];

  geometry (width, height, &top, &left, &cell);
  size = 10 * cell;
  cairo_save (cr);
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size (cr, 12);
  cairo_set_source_rgb (cr, fg, fg, fg);
  cairo_move_to (cr, left, 14);
  cairo_show_text (cr, self->title ? self->title : "");
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 10);
  cairo_set_source_rgba (cr, fg, fg, fg, 0.75);
  cairo_move_to (cr, left, 31);
  cairo_show_text (cr, "predicted →");
  /* Down the left, reading downwards: the arrow points the way the true class grows. */
  cairo_save (cr);
  cairo_translate (cr, 12, top);
  cairo_rotate (cr, G_PI / 2);
  cairo_move_to (cr, 0, 0);
  cairo_show_text (cr, "true →");
  cairo_restore (cr);

  if (!self->has_data || cell < 4)
    {
      cairo_restore (cr);
      return;
    }
  for (int t = 0; t < 10; t++)
    for (int p = 0; p < 10; p++)
      {
        guint v = self->counts[t * 10 + p];
        if (t == p)
          max_diag = MAX (max_diag, v);
        else
          max_off = MAX (max_off, v);
      }
  cairo_set_font_size (cr, MIN (10, cell * 0.36));
  for (int t = 0; t < 10; t++)
    {
      g_snprintf (buf, sizeof buf, "%d", t);
      cairo_set_source_rgba (cr, fg, fg, fg, 0.8);
      cairo_move_to (cr, left - 12, top + (t + 0.65) * cell);
      cairo_show_text (cr, buf);
      cairo_move_to (cr, left + (t + 0.35) * cell, top - 5);
      cairo_show_text (cr, buf);
      for (int p = 0; p < 10; p++)
        {
          guint v = self->counts[t * 10 + p];
          /* Right answers in the accent colour, mistakes in red, both on a sqrt scale
           * so that a handful of errors is still visible next to a thousand right. */
          double a = t == p ? sqrt ((double) v / max_diag) : sqrt ((double) v / max_off);
          if (t == p)
            cairo_set_source_rgba (cr, self->accent.red, self->accent.green, self->accent.blue, 0.15 + 0.85 * a);
          else if (v > 0)
            cairo_set_source_rgba (cr, 0.88, 0.11, 0.14, 0.12 + 0.88 * a);
          else
            cairo_set_source_rgba (cr, fg, fg, fg, 0.04);
          cairo_rectangle (cr, left + p * cell + 0.5, top + t * cell + 0.5, cell - 1, cell - 1);
          cairo_fill (cr);
          if (v > 0 && cell >= 16)
            {
              cairo_text_extents_t ext;
              g_snprintf (buf, sizeof buf, "%u", v);
              cairo_text_extents (cr, buf, &ext);
              if (a > 0.55)
                cairo_set_source_rgb (cr, 1, 1, 1);
              else
                cairo_set_source_rgb (cr, fg, fg, fg);
              cairo_move_to (cr, left + (p + 0.5) * cell - ext.x_advance / 2, top + (t + 0.5) * cell + ext.height / 2);
              cairo_show_text (cr, buf);
            }
        }
    }

  /* The cell whose mistakes the grid below shows. */
  if (self->sel_true >= 0 && self->sel_pred >= 0)
    {
      cairo_set_source_rgb (cr, fg, fg, fg);
      cairo_set_line_width (cr, 2);
      cairo_rectangle (cr, left + self->sel_pred * cell + 1, top + self->sel_true * cell + 1, cell - 2, cell - 2);
      cairo_stroke (cr);
    }

  /* The legend: what each colour counts, on the same square-root scale. */
  {
    double ly = top + size + 10, bar_w = MAX (40, size / 2 - 46);

    cairo_set_font_size (cr, 9);
    for (int k = 0; k < 2; k++)
      {
        double lx = left + k * (size / 2 + 4);
        guint max = k == 0 ? max_diag : max_off;

        for (int i = 0; i < (int) bar_w; i++)
          {
            double a = (double) i / (bar_w - 1);
            if (k == 0)
              cairo_set_source_rgba (cr, self->accent.red, self->accent.green, self->accent.blue, 0.15 + 0.85 * a);
            else
              cairo_set_source_rgba (cr, 0.88, 0.11, 0.14, 0.12 + 0.88 * a);
            cairo_rectangle (cr, lx + i, ly, 1.2, 8);
            cairo_fill (cr);
          }
        cairo_set_source_rgba (cr, fg, fg, fg, 0.8);
        cairo_move_to (cr, lx, ly + 19);
        g_snprintf (buf, sizeof buf, k == 0 ? "right: 1 … %u" : "wrong: 1 … %u", max);
        cairo_show_text (cr, buf);
      }
  }
  cairo_restore (cr);
}

static void
cs_confusion_snapshot (GtkWidget   *widget,
                       GtkSnapshot *snapshot)
{
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));

  cs_confusion_draw (CS_CONFUSION (widget), cr, w, h, cs_widget_is_dark (widget));
  cairo_destroy (cr);
}

static void
pressed_cb (GtkGestureClick *gesture,
            int              n_press,
            double           x,
            double           y,
            CsConfusion     *self)
{
  double top, left, cell;
  int t, p;

  geometry (gtk_widget_get_width (GTK_WIDGET (self)), gtk_widget_get_height (GTK_WIDGET (self)), &top, &left, &cell);
  if (!self->has_data || cell < 4 || x < left || y < top)
    return;
  p = (int) ((x - left) / cell);
  t = (int) ((y - top) / cell);
  if (t < 10 && p < 10)
    g_signal_emit (self, signals[SIGNAL_CELL_ACTIVATED], 0, t, p);
}

void
cs_confusion_set_selected (CsConfusion *self,
                           int          true_class,
                           int          predicted)
{
  g_return_if_fail (CS_IS_CONFUSION (self));

  self->sel_true = true_class;
  self->sel_pred = predicted;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
cs_confusion_measure (GtkWidget      *widget,
                      GtkOrientation  orientation,
                      int             for_size,
                      int            *minimum,
                      int            *natural,
                      int            *minimum_baseline,
                      int            *natural_baseline)
{
  *minimum = 200;
  *natural = 340;
}

static void
cs_confusion_finalize (GObject *object)
{
  g_free (CS_CONFUSION (object)->title);
  G_OBJECT_CLASS (cs_confusion_parent_class)->finalize (object);
}

static void
cs_confusion_class_init (CsConfusionClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = cs_confusion_finalize;
  widget_class->snapshot = cs_confusion_snapshot;
  widget_class->measure = cs_confusion_measure;
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
  /* A cell was clicked: its true and predicted class. */
  signals[SIGNAL_CELL_ACTIVATED] = g_signal_new ("cell-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
}

static void
cs_confusion_init (CsConfusion *self)
{
  GtkGesture *click = gtk_gesture_click_new ();

  gdk_rgba_parse (&self->accent, "#3584e4");
  self->sel_true = self->sel_pred = -1;
  g_signal_connect (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
}

CsConfusion *
cs_confusion_new (void)
{
  return g_object_new (CS_TYPE_CONFUSION, NULL);
}

void
cs_confusion_set_counts (CsConfusion   *self,
                         const char    *title,
                         const guint   *counts,
                         const GdkRGBA *accent)
{
  guint right = 0, total = 0;
  g_autofree char *desc = NULL;

  g_free (self->title);
  self->title = g_strdup (title);
  self->has_data = counts != NULL;
  if (counts != NULL)
    memcpy (self->counts, counts, sizeof self->counts);
  if (accent != NULL)
    self->accent = *accent;
  for (int i = 0; counts && i < 100; i++)
    {
      total += counts[i];
      if (i / 10 == i % 10)
        right += counts[i];
    }
  desc = g_strdup_printf ("%u of %u test images on the diagonal (right)", right, total);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, "Confusion matrix",
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, desc, -1);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}
