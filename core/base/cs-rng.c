/* PCG32 (O'Neill): small state, good statistics, reproducible across machines. */

#define G_LOG_DOMAIN "cs-rng"

#include "config.h"

#include "base/cs-rng.h"

void
cs_rng_seed (CsRng   *self,
             guint64  seed,
             guint64  stream)
{
  self->state = 0;
  self->inc = (stream << 1) | 1;
  cs_rng_next (self);
  self->state += seed;
  cs_rng_next (self);
}

guint32
cs_rng_next (CsRng *self)
{
  guint64 old = self->state;
  guint32 xorshifted, rot;

  self->state = old * G_GUINT64_CONSTANT (6364136223846793005) + self->inc;
  xorshifted = (guint32) (((old >> 18) ^ old) >> 27);
  rot = (guint32) (old >> 59);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

/* Uniform in [0, 1) with 24 bits, exactly representable as float. */
float
cs_rng_uniform (CsRng *self)
{
  return (cs_rng_next (self) >> 8) * (1.0f / 16777216.0f);
}

/* Uniform in [0, bound), without modulo bias (Lemire's method). */
guint32
cs_rng_below (CsRng   *self,
              guint32  bound)
{
  guint64 m;
  guint32 l;

  g_assert (bound > 0);
  m = (guint64) cs_rng_next (self) * bound;
  l = (guint32) m;
  if (l < bound)
    {
      guint32 t = (-bound) % bound;
      while (l < t)
        {
          m = (guint64) cs_rng_next (self) * bound;
          l = (guint32) m;
        }
    }
  return (guint32) (m >> 32);
}

void
cs_rng_shuffle (CsRng   *self,
                guint32 *items,
                guint    n)
{
  for (guint i = n; i > 1; i--)
    {
      guint32 j = cs_rng_below (self, i);
      guint32 t = items[i - 1];
      items[i - 1] = items[j];
      items[j] = t;
    }
}
