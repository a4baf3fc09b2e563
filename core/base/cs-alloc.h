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

G_END_DECLS
