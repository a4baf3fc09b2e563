/* A small seeded random generator (PCG32): same seed, same run. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 state;
  guint64 inc;
} CsRng;

void     cs_rng_seed        (CsRng   *self,
                             guint64  seed,
                             guint64  stream);
guint32  cs_rng_next        (CsRng   *self);
float    cs_rng_uniform     (CsRng   *self);
guint32  cs_rng_below       (CsRng   *self,
                             guint32  bound);
void     cs_rng_shuffle     (CsRng   *self,
                             guint32 *items,
                             guint    n);

G_END_DECLS
