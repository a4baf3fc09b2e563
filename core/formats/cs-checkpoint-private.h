/* Internals shared by the checkpoint readers. */
#pragma once

#include "formats/cs-checkpoint.h"

G_BEGIN_DECLS

CsCheckpoint *cs_checkpoint_new_empty      (const char   *path,
                                            const char   *format);
/* Appends @t (taken) and indexes it by name; the caller has checked that the name is new. */
void          cs_checkpoint_add_tensor     (CsCheckpoint *self,
                                            CsTensor     *t);

/* The pickle machine's memory budget: this much, plus this much per byte of data.pkl. */
#define CS_PTH_VM_FIXED_BUDGET    ((gsize) 16 * 1024 * 1024)
#define CS_PTH_VM_BUDGET_PER_BYTE ((gsize) 24)
void          cs_tensor_free               (CsTensor     *t);
/* Converts @numel elements of @dtype ("F32", "F64", "F16", "BF16", ...) at @src
 * (little-endian) to float; returns NULL for non-floating types. */
float        *cs_tensor_convert            (const guint8 *src,
                                            const char   *dtype,
                                            gsize         numel);
gsize         cs_dtype_size                (const char   *dtype);

CsCheckpoint *cs_safetensors_parse         (const guint8 *data,
                                            gsize         len,
                                            const char   *path,
                                            GError      **error);
CsCheckpoint *cs_pth_parse                 (const guint8 *data,
                                            gsize         len,
                                            const char   *path,
                                            GError      **error);

G_END_DECLS
