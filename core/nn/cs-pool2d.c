/* MaxPool2d and AvgPool2d, forward and backward, as PyTorch's CPU kernels compute them; the 2x2 max pool has a vector fast path. */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-thread-pool.h"
#include "nn/cs-kernels-private.h"

/* As PyTorch's CPU kernel: padding counts as -inf, the first maximum wins, NaN propagates. */
typedef struct
{
  float          *out;
  gint32         *argmax;
  const float    *x;
  const CsConvGeometry *g;
} PoolJob;

/* One output row of a 2x2 max-pool; inlined with sw a constant, so the loop
 * over ox vectorises (if-converted to masked selects). The first maximum in scan
 * order wins; the first NaN wins and stays (PyTorch's rule); v != v is isnan (v). */
static inline __attribute__ ((always_inline)) void
maxpool2x2_row (float *restrict       o,
                gint32 *restrict      am,
                const float *restrict r0,
                const float *restrict r1,
                gint32                base,
                int                   W,
                int                   Wo,
                int                   sw)
{
  for (int ox = 0; ox < Wo; ox++)
    {
      int ix = ox * sw;
      float a = r0[ix], b = r0[ix + 1], c = r1[ix], d = r1[ix + 1], best = a;
      gint32 off = 0;

      if (!(best != best) && (b > best || b != b))
        best = b, off = 1;
      if (!(best != best) && (c > best || c != c))
        best = c, off = W;
      if (!(best != best) && (d > best || d != d))
        best = d, off = W + 1;
      o[ox] = best;
      am[ox] = base + ix + off;
    }
}

CS_VECTOR_CLONES static void
maxpool_forward_planes (gpointer data,
                        gsize    p0,
                        gsize    p1)
{
  PoolJob *job = data;
  const CsConvGeometry *g = job->g;
  float *out = job->out;
  gint32 *argmax = job->argmax;
  const float *x = job->x;

  /* The common 2x2 window without padding: four loads, no bounds checks. */
  if (g->kh == 2 && g->kw == 2 && g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 &&
      (g->Ho - 1) * g->sh + 2 <= g->H && (g->Wo - 1) * g->sw + 2 <= g->W)
    {
      const int W = g->W, Wo = g->Wo, Ho = g->Ho, sh = g->sh, sw = g->sw;

      for (gsize pl = p0; pl < p1; pl++)
        {
          const float *in = x + pl * g->H * W;

          for (int oy = 0; oy < Ho; oy++)
            {
              const float *restrict r0 = in + oy * sh * W, *restrict r1 = r0 + W;
              float *restrict o = out + (pl * Ho + oy) * Wo;
              gint32 *restrict am = argmax + (pl * Ho + oy) * Wo;
              gint32 base = oy * sh * W;

              if (sw == 1)
                maxpool2x2_row (o, am, r0, r1, base, W, Wo, 1);
              else if (sw == 2)
                maxpool2x2_row (o, am, r0, r1, base, W, Wo, 2);
              else
                maxpool2x2_row (o, am, r0, r1, base, W, Wo, sw);
            }
        }
      return;
    }

  for (gsize pl = p0; pl < p1; pl++)
    {
      const float *in = x + pl * g->H * g->W;
      float *o = out + pl * g->Ho * g->Wo;
      gint32 *am = argmax + pl * g->Ho * g->Wo;

      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            int y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
            float best = -INFINITY;
            gint32 best_i = -1;

            for (int i = 0; i < g->kh; i++)
              {
                int iy = y0 + i * g->dh;
                if (iy < 0 || iy >= g->H)
                  continue;
                for (int j = 0; j < g->kw; j++)
                  {
                    int ix = x0 + j * g->dw;
                    float v;
                    if (ix < 0 || ix >= g->W)
                      continue;
                    v = in[iy * g->W + ix];
                    if (v > best || isnan (v) || best_i < 0)
                      {
                        best = v;
                        best_i = iy * g->W + ix;
                        if (isnan (v))
                          goto done;
                      }
                  }
              }
          done:
            o[oy * g->Wo + ox] = best;
            am[oy * g->Wo + ox] = best_i;
          }
    }
}

void
cs_maxpool_forward (float                *out,
                    gint32               *argmax,
                    const float          *x,
                    const CsConvGeometry *g)
{
  PoolJob job = { out, argmax, x, g };
  cs_parallel_for ((gsize) g->B * g->C, 4, maxpool_forward_planes, &job);
}

CS_VECTOR_CLONES static void
maxpool_backward_planes (gpointer data,
                         gsize    p0,
                         gsize    p1)
{
  PoolJob *job = data;
  const CsConvGeometry *g = job->g;
  float *dx = job->out;
  const gint32 *argmax = job->argmax;
  const float *dout = job->x;

  memset (dx + p0 * g->H * g->W, 0, sizeof (float) * (p1 - p0) * g->H * g->W);
  for (gsize pl = p0; pl < p1; pl++)
    {
      float *d = dx + pl * g->H * g->W;
      const float *go = dout + pl * g->Ho * g->Wo;
      const gint32 *am = argmax + pl * g->Ho * g->Wo;

      for (int p = 0; p < g->Ho * g->Wo; p++)
        if (am[p] >= 0)
          d[am[p]] += go[p];
    }
}

void
cs_maxpool_backward (float                *dx,
                     const float          *dout,
                     const gint32         *argmax,
                     const CsConvGeometry *g)
{
  PoolJob job = { dx, (gint32 *) argmax, dout, g };
  cs_parallel_for ((gsize) g->B * g->C, 4, maxpool_backward_planes, &job);
}

/* The window of output (oy, ox) and its divisor, as PyTorch's avg_pool2d computes them. */
static inline void
avg_window (const CsConvGeometry *g,
            int                   oy,
            int                   ox,
            int                  *ys,
            int                  *ye,
            int                  *xs,
            int                  *xe,
            float                *divisor)
{
  int hs = oy * g->sh - g->ph, ws = ox * g->sw - g->pw;
  int he = MIN (hs + g->kh, g->H + g->ph), we = MIN (ws + g->kw, g->W + g->pw);
  int pool_size = (he - hs) * (we - ws);

  hs = MAX (hs, 0);
  ws = MAX (ws, 0);
  he = MIN (he, g->H);
  we = MIN (we, g->W);
  *ys = hs, *ye = he, *xs = ws, *xe = we;
  *divisor = (float) (g->count_include_pad ? pool_size : (he - hs) * (we - ws));
}

CS_VECTOR_CLONES static void
avgpool_forward_planes (gpointer data,
                        gsize    p0,
                        gsize    p1)
{
  PoolJob *job = data;
  const CsConvGeometry *g = job->g;
  float *out = job->out;
  const float *x = job->x;

  /* 2x2, stride 2, no padding (LeNet's): the same sum and divisor as below, without the window arithmetic. */
  if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
      2 * g->Ho <= g->H && 2 * g->Wo <= g->W)
    {
      for (gsize pl = p0; pl < p1; pl++)
        {
          const float *in = x + pl * g->H * g->W;
          float *o = out + pl * g->Ho * g->Wo;
          for (int oy = 0; oy < g->Ho; oy++)
            {
              const float *r0 = in + 2 * oy * g->W, *r1 = r0 + g->W;
              for (int ox = 0; ox < g->Wo; ox++)
                o[oy * g->Wo + ox] = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) / 4.0f;
            }
        }
      return;
    }

  for (gsize pl = p0; pl < p1; pl++)
    {
      const float *in = x + pl * g->H * g->W;
      float *o = out + pl * g->Ho * g->Wo;

      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            int ys, ye, xs, xe;
            float div, sum = 0.0f;

            avg_window (g, oy, ox, &ys, &ye, &xs, &xe, &div);
            if (ys >= ye || xs >= xe)
              {
                o[oy * g->Wo + ox] = 0.0f;
                continue;
              }
            for (int iy = ys; iy < ye; iy++)
              for (int ix = xs; ix < xe; ix++)
                sum += in[iy * g->W + ix];
            o[oy * g->Wo + ox] = sum / div;
          }
    }
}

void
cs_avgpool_forward (float                *out,
                    const float          *x,
                    const CsConvGeometry *g)
{
  PoolJob job = { out, NULL, x, g };
  cs_parallel_for ((gsize) g->B * g->C, 4, avgpool_forward_planes, &job);
}

CS_VECTOR_CLONES static void
avgpool_backward_planes (gpointer data,
                         gsize    p0,
                         gsize    p1)
{
  PoolJob *job = data;
  const CsConvGeometry *g = job->g;
  float *dx = job->out;
  const float *dout = job->x;

  memset (dx + p0 * g->H * g->W, 0, sizeof (float) * (p1 - p0) * g->H * g->W);
  if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
      2 * g->Ho <= g->H && 2 * g->Wo <= g->W)
    {
      for (gsize pl = p0; pl < p1; pl++)
        {
          float *d = dx + pl * g->H * g->W;
          const float *go = dout + pl * g->Ho * g->Wo;
          for (int oy = 0; oy < g->Ho; oy++)
            {
              float *r0 = d + 2 * oy * g->W, *r1 = r0 + g->W;
              for (int ox = 0; ox < g->Wo; ox++)
                {
                  float v = go[oy * g->Wo + ox] / 4.0f;
                  r0[2 * ox] = v;
                  r0[2 * ox + 1] = v;
                  r1[2 * ox] = v;
                  r1[2 * ox + 1] = v;
                }
            }
        }
      return;
    }
  for (gsize pl = p0; pl < p1; pl++)
    {
      float *d = dx + pl * g->H * g->W;
      const float *go = dout + pl * g->Ho * g->Wo;

      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            int ys, ye, xs, xe;
            float div, v;

            avg_window (g, oy, ox, &ys, &ye, &xs, &xe, &div);
            if (ys >= ye || xs >= xe)
              continue;
            v = go[oy * g->Wo + ox] / div;
            for (int iy = ys; iy < ye; iy++)
              for (int ix = xs; ix < xe; ix++)
                d[iy * g->W + ix] += v;
          }
    }
}

void
cs_avgpool_backward (float                *dx,
                     const float          *dout,
                     const CsConvGeometry *g)
{
  PoolJob job = { dx, NULL, dout, g };
  cs_parallel_for ((gsize) g->B * g->C, 4, avgpool_backward_planes, &job);
}


/* ---- AdaptiveAvgPool2d ------------------------------------------------- */

/* Output @i of @o over @n inputs averages [floor (i n / o), ceil ((i + 1) n / o)). */
static inline void
adaptive_window (int  i,
                 int  n,
                 int  o,
                 int *start,
                 int *end)
{
  *start = (int) ((gint64) i * n / o);
  *end = (int) (((gint64) (i + 1) * n + o - 1) / o);
}

/* The reference: plane by plane, each output the mean of its window. */
void
cs_adaptive_avgpool_forward_ref (float       *out,
                                 const float *x,
                                 gsize        planes,
                                 int          H,
                                 int          W,
                                 int          oh,
                                 int          ow)
{
  for (gsize pl = 0; pl < planes; pl++)
    {
      const float *in = x + pl * H * W;
      float *o = out + pl * oh * ow;

      for (int i = 0; i < oh; i++)
        {
          int y0, y1;
          adaptive_window (i, H, oh, &y0, &y1);
          for (int j = 0; j < ow; j++)
            {
              int x0, x1;
              double sum = 0;
              adaptive_window (j, W, ow, &x0, &x1);
              for (int y = y0; y < y1; y++)
                for (int xx = x0; xx < x1; xx++)
                  sum += in[y * W + xx];
              o[i * ow + j] = (float) (sum / ((y1 - y0) * (x1 - x0)));
            }
        }
    }
}

void
cs_adaptive_avgpool_backward_ref (float       *dx,
                                  const float *dout,
                                  gsize        planes,
                                  int          H,
                                  int          W,
                                  int          oh,
                                  int          ow)
{
  memset (dx, 0, planes * H * W * sizeof (float));
  for (gsize pl = 0; pl < planes; pl++)
    {
      float *d = dx + pl * H * W;
      const float *g = dout + pl * oh * ow;

      for (int i = 0; i < oh; i++)
        {
          int y0, y1;
          adaptive_window (i, H, oh, &y0, &y1);
          for (int j = 0; j < ow; j++)
            {
              int x0, x1;
              float share;
              adaptive_window (j, W, ow, &x0, &x1);
              share = g[i * ow + j] / (float) ((y1 - y0) * (x1 - x0));
              for (int y = y0; y < y1; y++)
                for (int xx = x0; xx < x1; xx++)
                  d[y * W + xx] += share;
            }
        }
    }
}

typedef struct
{
  float       *dst;
  const float *src;
  int          H, W, oh, ow;
  gboolean     backward;
} AdaptiveJob;

CS_VECTOR_CLONES static void
adaptive_planes (gpointer data,
                 gsize    p0,
                 gsize    p1)
{
  AdaptiveJob *j = data;
  gsize in = (gsize) j->H * j->W, out = (gsize) j->oh * j->ow;

  if (j->oh == 1 && j->ow == 1)
    {
      /* Global average pooling (a ResNet's head): each plane's mean, summed
       * in 16 float lanes then in double; back, the mean's share everywhere. */
      float *restrict dst = j->dst;
      const float *restrict src = j->src;

      for (gsize pl = p0; pl < p1; pl++)
        if (j->backward)
          {
            float share = src[pl] / (float) in;
            for (gsize i = 0; i < in; i++)
              dst[pl * in + i] = share;
          }
        else
          {
            float lanes[16] = { 0 };
            double sum = 0;
            gsize i = 0;

            for (; i + 16 <= in; i += 16)
              for (int k = 0; k < 16; k++)
                lanes[k] += src[pl * in + i + k];
            for (; i < in; i++)
              sum += src[pl * in + i];
            for (int k = 0; k < 16; k++)
              sum += lanes[k];
            dst[pl] = (float) (sum / (double) in);
          }
      return;
    }
  /* Planes are independent: the reference on each range of them. */
  if (j->backward)
    cs_adaptive_avgpool_backward_ref (j->dst + p0 * in, j->src + p0 * out, p1 - p0, j->H, j->W, j->oh, j->ow);
  else
    cs_adaptive_avgpool_forward_ref (j->dst + p0 * out, j->src + p0 * in, p1 - p0, j->H, j->W, j->oh, j->ow);
}

void
cs_adaptive_avgpool_forward (float       *out,
                             const float *x,
                             gsize        planes,
                             int          H,
                             int          W,
                             int          oh,
                             int          ow)
{
  AdaptiveJob j = { out, x, H, W, oh, ow, FALSE };
  cs_parallel_for (planes, MAX (1, 4096 / ((gsize) H * W)), adaptive_planes, &j);
}

void
cs_adaptive_avgpool_backward (float       *dx,
                              const float *dout,
                              gsize        planes,
                              int          H,
                              int          W,
                              int          oh,
                              int          ow)
{
  AdaptiveJob j = { dx, dout, H, W, oh, ow, TRUE };
  cs_parallel_for (planes, MAX (1, 4096 / ((gsize) H * W)), adaptive_planes, &j);
}
