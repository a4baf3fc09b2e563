/* The New Run window: a preset or a spec checked as you type, shapes beside each line, hyperparameters. */
#pragma once

#include <gtk/gtk.h>

#include "spec/cs-spec.h"
#include "train/cs-run.h"
#include "train/cs-trainer.h"

G_BEGIN_DECLS

#define CS_TYPE_NEW_RUN_DIALOG (cs_new_run_dialog_get_type ())

G_DECLARE_FINAL_TYPE (CsNewRunDialog, cs_new_run_dialog, CS, NEW_RUN_DIALOG, GtkWindow)

CsNewRunDialog *cs_new_run_dialog_new          (GtkWindow      *parent) G_GNUC_WARN_UNUSED_RESULT;
void            cs_new_run_dialog_set_preset   (CsNewRunDialog *self,
                                                const char     *preset);
void            cs_new_run_dialog_set_spec_text (CsNewRunDialog *self,
                                                 const char     *text);
/* The validated spec (NULL while it does not parse) and the settings. */
CsSpec         *cs_new_run_dialog_get_spec     (CsNewRunDialog *self) G_GNUC_WARN_UNUSED_RESULT;
const char     *cs_new_run_dialog_get_status   (CsNewRunDialog *self);
char           *cs_new_run_dialog_get_shapes   (CsNewRunDialog *self) G_GNUC_WARN_UNUSED_RESULT;
int             cs_new_run_dialog_get_error_line (CsNewRunDialog *self);
/* Remembers the dialog's settings for the next New Run (after a start). */
void            cs_new_run_dialog_remember     (CsNewRunDialog *self);
/* Fills @settings (cleared by the caller with cs_run_settings_clear()). */
void            cs_new_run_dialog_get_settings (CsNewRunDialog *self,
                                                CsRunSettings  *settings);

G_END_DECLS
