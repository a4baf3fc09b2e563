/* A confusion matrix drawn with cairo: colour-scaled cells with their counts. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CS_TYPE_CONFUSION (cs_confusion_get_type ())

G_DECLARE_FINAL_TYPE (CsConfusion, cs_confusion, CS, CONFUSION, GtkWidget)

CsConfusion *cs_confusion_new        (void) G_GNUC_WARN_UNUSED_RESULT;
/* counts[true][predicted], 10 x 10 */
void         cs_confusion_set_counts (CsConfusion   *self,
                                      const char    *title,
                                      const guint   *counts,
                                      const GdkRGBA *accent);
/* Frames the cell (@true_class, @predicted) whose mistakes are shown (-1: none). */
void         cs_confusion_set_selected (CsConfusion *self,
                                        int          true_class,
                                        int          predicted);
void         cs_confusion_draw       (CsConfusion   *self,
                                      cairo_t       *cr,
                                      double         width,
                                      double         height,
                                      gboolean       dark);

G_END_DECLS
