/* Checkpoints: safetensors files with PyTorch's state_dict names, written atomically. */
#pragma once

#include <gio/gio.h>

#include "nn/cs-model.h"
#include "nn/cs-optim.h"
#include "spec/cs-spec.h"

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

/* A tensor read from a file, converted to float32 and made contiguous. */
typedef struct
{
  char   *name;
  char   *dtype;       /* as the file stores it: "F32", "torch.FloatStorage", ... */
  int     ndim;
  int     shape[8];
  gsize   numel;
  float  *data;        /* NULL for a non-floating dtype (kept for inspection) */
} CsTensor;

typedef struct
{
  char        *path;
  char        *format;      /* "safetensors" or "pytorch" */
  GPtrArray   *tensors;     /* of CsTensor, in file order */
  GHashTable  *metadata;    /* string -> string */
  GHashTable  *by_name;     /* tensor name -> CsTensor (borrowed from tensors) */
} CsCheckpoint;

GQuark    cs_checkpoint_error_quark   (void);

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
void          cs_checkpoint_free        (CsCheckpoint      *self);
const CsTensor *cs_checkpoint_find      (const CsCheckpoint *self,
                                         const char        *name);
char         *cs_tensor_shape_string    (const int         *shape,
                                         int                ndim) G_GNUC_WARN_UNUSED_RESULT;

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

/* For tests: make the next writes fail with @errnum after @bytes bytes (0 disables). */
void          cs_checkpoint_inject_write_failure (gsize   bytes,
                                                  int     errnum);

/* Atomic: a temporary file in the same directory, fsync, rename. On any
 * failure the file that was at @path is untouched. */
gboolean  cs_write_file_atomic        (const char        *path,
                                       const void        *data,
                                       gsize              len,
                                       GError           **error);

typedef enum
{
  CS_WRITE_RUNS_DIR  = 0,        /* inside the runs directory: links and odd nodes are replaced, never followed */
  CS_WRITE_USER_PATH = 1 << 0,   /* a path the user named: a link is written through (the link stays),
                                  * a device or FIFO is written in place (-o /dev/null, /dev/full) */
} CsWriteFlags;

/* Whether @name (a file name, no folder) is one of cs_write_file_atomic()'s
 * temporary files, ".NAME.XXXXXX": what a save killed before its rename leaves. */
gboolean  cs_write_file_is_temp_name  (const char        *name);

/* cs_write_file_atomic() for regular files, with @flags for what else @path may be. */
gboolean  cs_write_file_full          (const char        *path,
                                       const void        *data,
                                       gsize              len,
                                       CsWriteFlags       flags,
                                       GError           **error);

gboolean  cs_safetensors_write        (const char        *path,
                                       const CsTensorRef *tensors,
                                       guint              n_tensors,
                                       GHashTable        *metadata,
                                       CsWriteFlags       flags,
                                       GError           **error);

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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsCheckpoint, cs_checkpoint_free)

G_END_DECLS
