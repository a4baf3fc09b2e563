/* The buffers of models, optimizers and kernels: 64-byte aligned, zeroed, counted. */

#define G_LOG_DOMAIN "cs-alloc"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/cs-alloc.h"

/* Live bytes from cs_alloc(): what the model summary reports as memory actually allocated. */
static gint64 live_bytes;

#define HEADER 64

void *
cs_alloc (gsize bytes)
{
  void *p = NULL;
  gsize total;

  /* Round up to whole cache lines so vector loops may run past the end safely. */
  if (!g_size_checked_add (&total, MAX (bytes, 1), HEADER + 63))
    g_error ("cs_alloc: %" G_GSIZE_FORMAT " bytes overflow", bytes);
  total &= ~(gsize) 63;
  if (posix_memalign (&p, 64, total) != 0)
    g_error ("cs_alloc: out of memory for %" G_GSIZE_FORMAT " bytes", total);
  memset (p, 0, total);
  *(gsize *) p = total;
  g_atomic_pointer_add (&live_bytes, (gssize) total);
  return (guint8 *) p + HEADER;
}

void
cs_free (void *p)
{
  guint8 *base;

  if (p == NULL)
    return;
  base = (guint8 *) p - HEADER;
  g_atomic_pointer_add (&live_bytes, -(gssize) *(gsize *) base);
  free (base);
}

gsize
cs_allocated_bytes (void)
{
  return (gsize) g_atomic_pointer_get (&live_bytes);
}

float *
cs_alloc_floats (gsize n)
{
  gsize bytes;

  if (!g_size_checked_mul (&bytes, n, sizeof (float)))
    g_error ("cs_alloc_floats: %" G_GSIZE_FORMAT " floats overflow", n);
  return cs_alloc (bytes);
}

void
cs_free_floats (float *p)
{
  cs_free (p);
}
