/* Tensors as files hold them, converted to float32, and the named set one file
 * holds (CsCheckpoint). The readers (safetensors, pth) build these; they know
 * nothing of models. */
#pragma once

#include <glib.h>

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
  gboolean     int64;   /* written as I64 (the floats hold whole numbers) */
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
  gint64 *ints;        /* an integer or bool dtype's values, when at most CS_TENSOR_MAX_INTS */
} CsTensor;

/* Integer tensors are converted up to this many elements (num_batches_tracked
 * is one); larger ones are only listed. */
#define CS_TENSOR_MAX_INTS 65536

typedef struct
{
  char        *path;
  char        *format;      /* "safetensors" or "pytorch" */
  GPtrArray   *tensors;     /* of CsTensor, in file order */
  GHashTable  *metadata;    /* string -> string */
  GHashTable  *by_name;     /* tensor name -> CsTensor (borrowed from tensors) */
} CsCheckpoint;

GQuark    cs_checkpoint_error_quark   (void);

CsCheckpoint *cs_checkpoint_new_empty   (const char        *path,
                                         const char        *format) G_GNUC_WARN_UNUSED_RESULT;
/* Appends @t (taken) and indexes it by name; the caller has checked that the name is new. */
void          cs_checkpoint_add_tensor  (CsCheckpoint      *self,
                                         CsTensor          *t);
void          cs_checkpoint_free        (CsCheckpoint      *self);
const CsTensor *cs_checkpoint_find      (const CsCheckpoint *self,
                                         const char        *name);
char         *cs_tensor_shape_string    (const int         *shape,
                                         int                ndim) G_GNUC_WARN_UNUSED_RESULT;
void          cs_tensor_free            (CsTensor          *t);
/* Converts @numel elements of @dtype ("F32", "F64", "F16", "BF16", ...) at @src
 * (little-endian) to float; returns NULL for non-floating types. */
float        *cs_tensor_convert         (const guint8      *src,
                                         const char        *dtype,
                                         gsize              numel);
/* The values of an integer or bool dtype ("I64", "I32", "I16", "I8", "U8",
 * "BOOL"), or NULL for any other or more than CS_TENSOR_MAX_INTS. */
gint64       *cs_tensor_convert_ints    (const guint8      *src,
                                         const char        *dtype,
                                         gsize              numel);
/* Bytes per element of a safetensors dtype; 0 for one it does not define. */
gsize         cs_dtype_size             (const char        *dtype);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsCheckpoint, cs_checkpoint_free)

G_END_DECLS
