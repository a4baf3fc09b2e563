/* A grid of 28x28 test images with their true and predicted labels (the mistakes of a model). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CS_TYPE_DIGIT_GRID (cs_digit_grid_get_type ())

G_DECLARE_FINAL_TYPE (CsDigitGrid, cs_digit_grid, CS, DIGIT_GRID, GtkWidget)

CsDigitGrid  *cs_digit_grid_new          (void) G_GNUC_WARN_UNUSED_RESULT;
/* @images: n x 784 bytes; @truth and @pred: n labels each; @confidence
 * (may be NULL): n probabilities of the predicted class. */
void          cs_digit_grid_set_images   (CsDigitGrid  *self,
                                          const char   *title,
                                          const guint8 *images,
                                          const guint8 *truth,
                                          const guint8 *pred,
                                          const float  *confidence,
                                          guint         n);
/* Shows only the images of @true_class read as @predicted (-1: any). */
void          cs_digit_grid_set_filter   (CsDigitGrid  *self,
                                          int           true_class,
                                          int           predicted);
guint         cs_digit_grid_get_n        (CsDigitGrid  *self);
/* The images on screen (at most 24 that pass the filter) and which ones they are. */
guint         cs_digit_grid_get_n_shown  (CsDigitGrid  *self);
guint         cs_digit_grid_get_shown    (CsDigitGrid  *self,
                                          guint         k);
/* Image @i (784 bytes, borrowed) and its labels and confidence. */
const guint8 *cs_digit_grid_get_image    (CsDigitGrid  *self,
                                          guint         i,
                                          guint        *truth,
                                          guint        *predicted,
                                          float        *confidence);

G_END_DECLS
