/* A checkpoint opened in the window (.safetensors or PyTorch .pth), as an item of the sidebar. */
#pragma once

#include <gio/gio.h>

#include "formats/cs-checkpoint.h"
#include "train/cs-trainer.h"

G_BEGIN_DECLS

#define CS_TYPE_LOADED_MODEL (cs_loaded_model_get_type ())

G_DECLARE_FINAL_TYPE (CsLoadedModel, cs_loaded_model, CS, LOADED_MODEL, GObject)

CsLoadedModel      *cs_loaded_model_new          (const char     *path,
                                                  GError        **error) G_GNUC_WARN_UNUSED_RESULT;
CsLoadedModel      *cs_loaded_model_new_bundled  (GError        **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean            cs_loaded_model_is_bundled   (CsLoadedModel  *self);
const char         *cs_loaded_model_get_name     (CsLoadedModel  *self);
const char         *cs_loaded_model_get_path     (CsLoadedModel  *self);
const char         *cs_loaded_model_get_format   (CsLoadedModel  *self);
const char         *cs_loaded_model_get_model    (CsLoadedModel  *self);
const CsSpec       *cs_loaded_model_get_spec     (CsLoadedModel  *self);
CsModel            *cs_loaded_model_get_model_instance (CsLoadedModel *self);
const CsCheckpoint *cs_loaded_model_get_checkpoint (CsLoadedModel *self);
/* Test-set evaluation, run on a GTask thread; "evaluated" is notified. */
void                cs_loaded_model_evaluate     (CsLoadedModel  *self,
                                                  CsDataset      *data);
const CsEpochResult *cs_loaded_model_get_result  (CsLoadedModel  *self);
gboolean            cs_loaded_model_is_evaluating (CsLoadedModel *self);
/* Why the model cannot be evaluated on the data set (it has too few outputs, ...), or NULL. */
const char         *cs_loaded_model_get_eval_error (CsLoadedModel *self);

G_END_DECLS
