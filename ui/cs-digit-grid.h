/* A grid of 28x28 test images with their true and predicted labels (the mistakes of a model). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CS_TYPE_DIGIT_GRID (cs_digit_grid_get_type ())

G_DECLARE_FINAL_TYPE (CsDigitGrid, cs_digit_grid, CS, DIGIT_GRID, GtkWidget)

CsDigitGrid *cs_digit_grid_new        (void) G_GNUC_WARN_UNUSED_RESULT;
/* @images: n x 784 bytes; @truth and @pred: n labels each. */
void         cs_digit_grid_set_images (CsDigitGrid  *self,
                                       const char   *title,
                                       const guint8 *images,
                                       const guint8 *truth,
                                       const guint8 *pred,
                                       guint         n);
guint        cs_digit_grid_get_n      (CsDigitGrid  *self);

G_END_DECLS
