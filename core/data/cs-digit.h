/* MNIST's own preprocessing for a digit from anywhere: crop, fit 20x20, centre of mass at the centre of 28x28. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CS_DIGIT_ERROR (cs_digit_error_quark ())

typedef enum
{
  CS_DIGIT_ERROR_BLANK,
  CS_DIGIT_ERROR_SIZE,
} CsDigitError;

GQuark    cs_digit_error_quark   (void);

/*
 * @img is @width x @height intensities in [0, 1]. With @auto_invert, a
 * picture whose border is light (dark ink on paper) is inverted first, so
 * the ink is high as in MNIST. @out is 28x28 in [0, 1]: the ink's bounding
 * box scaled (area-averaged, keeping the aspect ratio) to fit 20x20, placed
 * so that its centre of mass is at the centre.
 */
gboolean  cs_digit_preprocess    (float        *out,
                                  const float  *img,
                                  int           width,
                                  int           height,
                                  gboolean      auto_invert,
                                  GError      **error);

G_END_DECLS
