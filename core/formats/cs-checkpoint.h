/* Checkpoints: a .safetensors or .pth opened as a model, a model saved with PyTorch's state_dict names. */
#pragma once

#include <gio/gio.h>

#include "base/cs-atomic-file.h"
#include "formats/cs-tensor.h"
#include "nn/cs-model.h"
#include "nn/cs-optim.h"
#include "spec/cs-spec.h"

G_BEGIN_DECLS

/* Opens a .safetensors or a PyTorch .pth (torch.save's zip format); the
 * format is told by the bytes, not the name. Everything is validated; the
 * pickle in a .pth is interpreted, never executed. */
CsCheckpoint *cs_checkpoint_load        (const char        *path,
                                         GError           **error) G_GNUC_WARN_UNUSED_RESULT;
CsCheckpoint *cs_checkpoint_load_bytes  (GBytes            *bytes,
                                         const char        *name,
                                         GError           **error) G_GNUC_WARN_UNUSED_RESULT;
/* The LeNet-5 compiled into the program's GResource (not available to core's own tests). */
#define CS_BUNDLED_MODEL_RESOURCE "/io/github/convscope/Convscope/models/lenet5.safetensors"
CsCheckpoint *cs_checkpoint_load_bundled (GError           **error) G_GNUC_WARN_UNUSED_RESULT;

/* The model the checkpoint holds: the spec in its metadata, else @model_hint
 * (a preset or a .spec file), else the preset whose tensors match. */
CsSpec       *cs_checkpoint_infer_spec  (const CsCheckpoint *self,
                                         const char        *model_hint,
                                         char             **model_name,
                                         GError           **error) G_GNUC_WARN_UNUSED_RESULT;
/* Copies the tensors into @model; a missing, extra or mis-shaped tensor is an error naming it. */
gboolean      cs_checkpoint_apply       (const CsCheckpoint *self,
                                         CsModel           *model,
                                         GError           **error);
/* Both steps: a ready model (eval mode is the caller's). */
CsModel      *cs_checkpoint_to_model    (const CsCheckpoint *self,
                                         const char        *model_hint,
                                         GError           **error) G_GNUC_WARN_UNUSED_RESULT;

/* The metadata every checkpoint Convscope writes starts with (string to
 * string): the format, Convscope's version, the spec and the model's name. */
GHashTable *cs_checkpoint_metadata_new (const CsSpec      *spec,
                                        const char        *model) G_GNUC_WARN_UNUSED_RESULT;

/* The model's parameters under their state_dict names; @metadata (string to
 * string) may be NULL. With @optim, its state goes to PATH's sibling
 * "<stem>.optimizer.safetensors". */
gboolean  cs_checkpoint_save          (const char        *path,
                                       CsModel           *model,
                                       CsOptim           *optim,
                                       GHashTable        *metadata,
                                       GError           **error);
/* The same, for a path the user chose (see CsWriteFlags). */
gboolean  cs_checkpoint_save_full     (const char        *path,
                                       CsModel           *model,
                                       CsOptim           *optim,
                                       GHashTable        *metadata,
                                       CsWriteFlags       flags,
                                       GError           **error);

G_END_DECLS
