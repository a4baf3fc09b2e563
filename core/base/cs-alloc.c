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

/* ---- per-thread scratch ---- */

#define SCRATCH_KEYS 4
#define SCRATCH_MAX_BYTES (4 * 1024 * 1024)

typedef struct
{
  float   *p;
  gsize    n;
  int      key[CS_SCRATCH_MAX_KEY];
  guint    n_key;
  gboolean held;
  guint64  last_use;
} ScratchEntry;

typedef struct
{
  ScratchEntry slots[CS_N_SCRATCH][SCRATCH_KEYS];
  guint64      tick;
} Scratch;

static void
scratch_free (gpointer data)
{
  Scratch *s = data;

  for (int i = 0; i < CS_N_SCRATCH; i++)
    for (int k = 0; k < SCRATCH_KEYS; k++)
      cs_free_floats (s->slots[i][k].p);
  g_free (s);
}

static GPrivate scratch_key = G_PRIVATE_INIT (scratch_free);

static Scratch *
scratch_get (void)
{
  Scratch *s = g_private_get (&scratch_key);

  if (s == NULL)
    {
      s = g_new0 (Scratch, 1);
      g_private_set (&scratch_key, s);
    }
  return s;
}

float *
cs_scratch_acquire (CsScratchSlot  slot,
                    const int     *key,
                    guint          n_key,
                    gsize          n)
{
  Scratch *s;
  ScratchEntry *e, *victim = NULL;
  gsize bytes;

  g_return_val_if_fail (slot < CS_N_SCRATCH, NULL);
  g_return_val_if_fail (n_key <= CS_SCRATCH_MAX_KEY, NULL);

  if (!g_size_checked_mul (&bytes, MAX (n, 1), sizeof (float)) || bytes > SCRATCH_MAX_BYTES)
    return cs_alloc_floats (n);
  s = scratch_get ();
  s->tick++;
  for (int k = 0; k < SCRATCH_KEYS; k++)
    {
      e = &s->slots[slot][k];
      if (e->p != NULL && !e->held && e->n >= n && e->n_key == n_key &&
          memcmp (e->key, key, n_key * sizeof (int)) == 0)
        {
          e->held = TRUE;
          e->last_use = s->tick;
          return e->p;
        }
      if (!e->held && (victim == NULL || e->last_use < victim->last_use))
        victim = e;
    }
  if (victim == NULL)
    return cs_alloc_floats (n);   /* every buffer of the slot is held */
  cs_free_floats (victim->p);
  victim->p = cs_alloc_floats (n);
  victim->n = n;
  victim->n_key = n_key;
  memcpy (victim->key, key, n_key * sizeof (int));
  victim->held = TRUE;
  victim->last_use = s->tick;
  return victim->p;
}

void
cs_scratch_release (CsScratchSlot  slot,
                    float         *p)
{
  Scratch *s = g_private_get (&scratch_key);

  g_return_if_fail (slot < CS_N_SCRATCH);

  if (p == NULL)
    return;
  for (int k = 0; s != NULL && k < SCRATCH_KEYS; k++)
    if (s->slots[slot][k].p == p)
      {
        s->slots[slot][k].held = FALSE;
        return;
      }
  cs_free_floats (p);
}
