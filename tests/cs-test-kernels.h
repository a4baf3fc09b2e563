/* What the kernel tests share: random data, closeness, and central-difference
 * gradient checks. Each test program seeds cs_test_rng in main(). */
#pragma once

#include <math.h>

#include "base/cs-alloc.h"
#include "base/cs-rng.h"

static CsRng rng;   /* seeded by each program's main () */

G_GNUC_UNUSED static float *
random_floats (gsize n,
               float lo,
               float hi)
{
  float *v = cs_alloc_floats (n);
  for (gsize i = 0; i < n; i++)
    v[i] = lo + (hi - lo) * cs_rng_uniform (&rng);
  return v;
}

G_GNUC_UNUSED static void
assert_close (const float *a,
              const float *b,
              gsize        n,
              float        tol,
              const char  *what)
{
  for (gsize i = 0; i < n; i++)
    {
      float scale = MAX (1.0f, MAX (fabsf (a[i]), fabsf (b[i])));
      if (!(fabsf (a[i] - b[i]) <= tol * scale))
        g_error ("%s: element %" G_GSIZE_FORMAT " differs: %.7g vs %.7g (tolerance %g)", what, i, a[i], b[i], tol);
    }
}

/* ---- gradient checking -------------------------------------------------- */

/*
 * Each check uses the scalar L = sum(out * R) for a fixed random R, so
 * dL/dout = R; the analytic gradients from the backward kernel are compared
 * with central differences (L(v + h) - L(v - h)) / 2h computed in double.
 */
typedef double (*LossFunc) (gpointer data);

G_GNUC_UNUSED static void
check_grad (const char  *what,
            float       *values,
            gsize        n,
            const float *analytic,
            LossFunc     loss,
            gpointer     data,
            double       h,
            double       tol)
{
  gsize step = MAX (1, n / 60);   /* at most ~60 probes per tensor */

  for (gsize i = 0; i < n; i += step)
    {
      float saved = values[i];
      double up, down, numeric;

      values[i] = saved + (float) h;
      up = loss (data);
      values[i] = saved - (float) h;
      down = loss (data);
      values[i] = saved;
      numeric = (up - down) / (2 * h);
      if (fabs (numeric - analytic[i]) > tol * MAX (1.0, fabs (numeric)))
        g_error ("%s: gradient %" G_GSIZE_FORMAT ": analytic %.6g, numeric %.6g", what, i, analytic[i], numeric);
    }
}

G_GNUC_UNUSED static double
dot_double (const float *a,
            const float *b,
            gsize        n)
{
  double s = 0;
  for (gsize i = 0; i < n; i++)
    s += (double) a[i] * b[i];
  return s;
}

