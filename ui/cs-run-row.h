/* A row of the runs sidebar: a run (live or past) or a loaded checkpoint. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CS_TYPE_RUN_ROW (cs_run_row_get_type ())

G_DECLARE_FINAL_TYPE (CsRunRow, cs_run_row, CS, RUN_ROW, GtkWidget)

CsRunRow   *cs_run_row_new        (void) G_GNUC_WARN_UNUSED_RESULT;
void        cs_run_row_set_item   (CsRunRow *self,
                                   GObject  *item);
const char *cs_run_row_get_title  (CsRunRow *self);
/* The run or checkpoint the row shows, or NULL. */
GObject    *cs_run_row_get_item   (CsRunRow *self);
const char *cs_run_row_get_subtitle (CsRunRow *self);

G_END_DECLS
