/* Draw a digit and watch a model answer as you draw: MNIST-style input, ten bars, and why. */
#pragma once

#include <gtk/gtk.h>

#include "nn/cs-model.h"

G_BEGIN_DECLS

#define CS_TYPE_DRAW_VIEW (cs_draw_view_get_type ())

G_DECLARE_FINAL_TYPE (CsDrawView, cs_draw_view, CS, DRAW_VIEW, GtkWidget)

/* The models to choose from besides the bundled LeNet-5: CsRun and CsLoadedModel items. */
void         cs_draw_view_set_candidates  (CsDrawView *self,
                                           GPtrArray  *items);
/* Strokes in pad coordinates from 0 to 1, as the gestures add them. */
void         cs_draw_view_begin_stroke    (CsDrawView *self,
                                           double      x,
                                           double      y);
void         cs_draw_view_extend_stroke   (CsDrawView *self,
                                           double      x,
                                           double      y);
void         cs_draw_view_clear           (CsDrawView *self);
void         cs_draw_view_undo            (CsDrawView *self);
guint        cs_draw_view_get_n_strokes   (CsDrawView *self);
/* The current answer (-1 with nothing drawn) and its probabilities. */
int          cs_draw_view_get_prediction  (CsDrawView *self);
const float *cs_draw_view_get_probabilities (CsDrawView *self);
/* The 28x28 input the model sees. */
const float *cs_draw_view_get_input       (CsDrawView *self);
double       cs_draw_view_get_latency_us  (CsDrawView *self);
const char  *cs_draw_view_get_model_name  (CsDrawView *self);
/* The run or checkpoint the view reads with, or NULL for the bundled LeNet-5. */
GObject     *cs_draw_view_get_model_item  (CsDrawView *self);

/* Strokes drawn into a grey image of @size x @size (ink 1), as the pad draws them. */
float       *cs_draw_rasterize            (GPtrArray  *strokes,
                                           int         size,
                                           double      line_width) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
