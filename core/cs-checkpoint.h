/* Checkpoints: safetensors files with PyTorch's state_dict names, written atomically. */
#pragma once

#include <gio/gio.h>

#include "cs-model.h"
#include "cs-optim.h"

G_BEGIN_DECLS

#define CS_CHECKPOINT_ERROR (cs_checkpoint_error_quark ())

typedef enum
{
  CS_CHECKPOINT_ERROR_IO,
  CS_CHECKPOINT_ERROR_FORMAT,      /* not a valid file of its format */
  CS_CHECKPOINT_ERROR_UNSUPPORTED, /* valid, but not something Convscope can use */
  CS_CHECKPOINT_ERROR_FORBIDDEN,   /* a pickle that asks for code to run */
  CS_CHECKPOINT_ERROR_MISMATCH,    /* tensors do not fit the model */
} CsCheckpointError;

typedef struct
{
  const char  *name;
  int          ndim;
  const int   *shape;
  const float *data;
} CsTensorRef;

GQuark    cs_checkpoint_error_quark   (void);

/* Atomic: a temporary file in the same directory, fsync, rename. On any
 * failure the file that was at @path is untouched. */
gboolean  cs_write_file_atomic        (const char        *path,
                                       const void        *data,
                                       gsize              len,
                                       GError           **error);

gboolean  cs_safetensors_write        (const char        *path,
                                       const CsTensorRef *tensors,
                                       guint              n_tensors,
                                       GHashTable        *metadata,
                                       GError           **error);

/* The model's parameters under their state_dict names; @metadata (string to
 * string) may be NULL. With @optim, its state goes to PATH's sibling
 * "<stem>.optimizer.safetensors". */
gboolean  cs_checkpoint_save          (const char        *path,
                                       CsModel           *model,
                                       CsOptim           *optim,
                                       GHashTable        *metadata,
                                       GError           **error);

G_END_DECLS
