/* The one allocator for numeric buffers. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* 64-byte aligned buffers, zeroed, counted (see cs_allocated_bytes()). */
void  *cs_alloc          (gsize         bytes) G_GNUC_WARN_UNUSED_RESULT;
void   cs_free           (void         *p);
float *cs_alloc_floats   (gsize         n) G_GNUC_WARN_UNUSED_RESULT;
void   cs_free_floats    (float        *p);
/* Bytes currently allocated by cs_alloc() in this process. */
gsize  cs_allocated_bytes (void);

/* Scratch buffers that a thread keeps between calls, one set per slot. */
typedef enum
{
  CS_SCRATCH_CONV_PAD,          /* a sample's padded planes (the direct convolution) */
  CS_SCRATCH_CONV_CHUNK_PAD,    /* a chunk of samples' padded planes (its weight gradients) */
  CS_SCRATCH_CONV_CHUNK_ROWS,   /* their output gradient rows padded to whole vectors */
  CS_N_SCRATCH
} CsScratchSlot;

#define CS_SCRATCH_MAX_KEY 12

/* At least @n floats, 64-byte aligned, for this thread until
 * cs_scratch_release (). @key (@n_key ints, at most CS_SCRATCH_MAX_KEY) says
 * which floats the caller writes: a buffer handed out again for the same slot
 * and key holds zeros wherever no caller with that key wrote, so a kernel
 * that writes only the data of padded planes finds their borders zero
 * without clearing them each time. A new key, or a buffer still held (a
 * nested call), gets zeros throughout. Buffers of up to 4 MB are kept, four
 * keys a slot; larger ones are freed on release. */
float *cs_scratch_acquire (CsScratchSlot  slot,
                           const int     *key,
                           guint          n_key,
                           gsize          n) G_GNUC_WARN_UNUSED_RESULT;
void   cs_scratch_release (CsScratchSlot  slot,
                           float         *p);

G_END_DECLS
