/* Layer kernels: forward and backward passes, batched NCHW float32, matrix work through cs_gemm(). */

#define G_LOG_DOMAIN "cs-kernels"

#include "config.h"

#include <math.h>
#include <string.h>

#include "cs-gemm.h"
#include "cs-kernels.h"

/* ---- Linear ------------------------------------------------------------ */

void
cs_linear_forward (float       *out,
                   const float *x,
                   const float *w,
                   const float *b,
                   int          B,
                   int          I,
                   int          N)
{
  /* out (B, N) = b, broadcast over rows; then += x (B, I) . w^T (I, N) */
  if (b != NULL)
    for (int i = 0; i < B; i++)
      memcpy (out + (gsize) i * N, b, sizeof (float) * N);
  cs_gemm (FALSE, TRUE, B, N, I, 1.0f, x, I, w, I, b != NULL ? 1.0f : 0.0f, out, N);
}

void
cs_linear_backward (float       *dx,
                    float       *dw,
                    float       *db,
                    const float *dout,
                    const float *x,
                    const float *w,
                    int          B,
                    int          I,
                    int          N)
{
  /* dw (N, I) += dout^T (N, B) . x (B, I) */
  cs_gemm (TRUE, FALSE, N, I, B, 1.0f, dout, N, x, I, 1.0f, dw, I);
  if (db != NULL)
    for (int i = 0; i < B; i++)
      {
        const float *row = dout + (gsize) i * N;
        for (int j = 0; j < N; j++)
          db[j] += row[j];
      }
  /* dx (B, I) = dout (B, N) . w (N, I) */
  if (dx != NULL)
    cs_gemm (FALSE, FALSE, B, I, N, 1.0f, dout, N, w, I, 0.0f, dx, I);
}

void
cs_linear_forward_ref (float       *out,
                       const float *x,
                       const float *w,
                       const float *b,
                       int          B,
                       int          I,
                       int          N)
{
  for (int s = 0; s < B; s++)
    for (int o = 0; o < N; o++)
      {
        double acc = b ? b[o] : 0.0;
        for (int i = 0; i < I; i++)
          acc += (double) x[(gsize) s * I + i] * w[(gsize) o * I + i];
        out[(gsize) s * N + o] = (float) acc;
      }
}

void
cs_linear_backward_ref (float       *dx,
                        float       *dw,
                        float       *db,
                        const float *dout,
                        const float *x,
                        const float *w,
                        int          B,
                        int          I,
                        int          N)
{
  for (int o = 0; o < N; o++)
    {
      for (int i = 0; i < I; i++)
        {
          double acc = 0;
          for (int s = 0; s < B; s++)
            acc += (double) dout[(gsize) s * N + o] * x[(gsize) s * I + i];
          dw[(gsize) o * I + i] += (float) acc;
        }
      if (db != NULL)
        {
          double acc = 0;
          for (int s = 0; s < B; s++)
            acc += dout[(gsize) s * N + o];
          db[o] += (float) acc;
        }
    }
  if (dx != NULL)
    for (int s = 0; s < B; s++)
      for (int i = 0; i < I; i++)
        {
          double acc = 0;
          for (int o = 0; o < N; o++)
            acc += (double) dout[(gsize) s * N + o] * w[(gsize) o * I + i];
          dx[(gsize) s * I + i] = (float) acc;
        }
}

/* ---- Conv2d ------------------------------------------------------------ */

gsize
cs_conv2d_col_size (const CsWindow *g)
{
  return (gsize) g->C * g->kh * g->kw * g->B * g->Ho * g->Wo;
}

gsize
cs_conv2d_tmp_size (const CsWindow *g)
{
  return (gsize) g->K * g->B * g->Ho * g->Wo;
}

/*
 * col (C*kh*kw, B*Ho*Wo): row r = (c, i, j) holds, for every sample and
 * output position, the input value under kernel tap (i, j) of channel c:
 *   col[r][b*P + oy*Wo + ox] = x[b][c][oy*sh - ph + i*dh][ox*sw - pw + j*dw]  (0 outside)
 */
void
cs_im2col (float          *col,
           const float    *x,
           const CsWindow *g)
{
  gsize P = (gsize) g->Ho * g->Wo;
  gsize BP = P * g->B;

  for (int c = 0; c < g->C; c++)
    for (int i = 0; i < g->kh; i++)
      for (int j = 0; j < g->kw; j++)
        {
          float *row = col + ((gsize) (c * g->kh + i) * g->kw + j) * BP;

          for (int b = 0; b < g->B; b++)
            {
              const float *plane = x + ((gsize) b * g->C + c) * g->H * g->W;
              float *dst = row + b * P;

              for (int oy = 0; oy < g->Ho; oy++)
                {
                  int iy = oy * g->sh - g->ph + i * g->dh;
                  float *d = dst + (gsize) oy * g->Wo;

                  if (iy < 0 || iy >= g->H)
                    {
                      memset (d, 0, sizeof (float) * g->Wo);
                      continue;
                    }
                  if (g->sw == 1)
                    {
                      /* Contiguous run: the valid ox are those with 0 <= ox - pw + j*dw < W. */
                      int off = -g->pw + j * g->dw;
                      int lo = MAX (0, -off), hi = MIN (g->Wo, g->W - off);
                      const float *src = plane + (gsize) iy * g->W + off;

                      if (hi <= lo)
                        {
                          memset (d, 0, sizeof (float) * g->Wo);
                          continue;
                        }
                      for (int ox = 0; ox < lo; ox++)
                        d[ox] = 0.0f;
                      memcpy (d + lo, src + lo, sizeof (float) * (hi - lo));
                      for (int ox = hi; ox < g->Wo; ox++)
                        d[ox] = 0.0f;
                    }
                  else
                    for (int ox = 0; ox < g->Wo; ox++)
                      {
                        int ix = ox * g->sw - g->pw + j * g->dw;
                        d[ox] = (ix >= 0 && ix < g->W) ? plane[(gsize) iy * g->W + ix] : 0.0f;
                      }
                }
            }
        }
}

/* The adjoint of cs_im2col: dx (B, C, H, W) += scatter of col. */
void
cs_col2im (float          *dx,
           const float    *col,
           const CsWindow *g)
{
  gsize P = (gsize) g->Ho * g->Wo;
  gsize BP = P * g->B;

  for (int c = 0; c < g->C; c++)
    for (int i = 0; i < g->kh; i++)
      for (int j = 0; j < g->kw; j++)
        {
          const float *row = col + ((gsize) (c * g->kh + i) * g->kw + j) * BP;

          for (int b = 0; b < g->B; b++)
            {
              float *plane = dx + ((gsize) b * g->C + c) * g->H * g->W;
              const float *src = row + b * P;

              for (int oy = 0; oy < g->Ho; oy++)
                {
                  int iy = oy * g->sh - g->ph + i * g->dh;
                  const float *s = src + (gsize) oy * g->Wo;

                  if (iy < 0 || iy >= g->H)
                    continue;
                  for (int ox = 0; ox < g->Wo; ox++)
                    {
                      int ix = ox * g->sw - g->pw + j * g->dw;
                      if (ix >= 0 && ix < g->W)
                        plane[(gsize) iy * g->W + ix] += s[ox];
                    }
                }
            }
        }
}

void
cs_conv2d_forward (float          *out,
                   float          *col,
                   float          *tmp,
                   const float    *x,
                   const float    *w,
                   const float    *b,
                   const CsWindow *g)
{
  int Kd = g->C * g->kh * g->kw;
  gsize P = (gsize) g->Ho * g->Wo;
  int BP = (int) (P * g->B);

  cs_im2col (col, x, g);
  /* tmp (K, B*P) = w (K, C*kh*kw) . col (C*kh*kw, B*P) */
  cs_gemm (FALSE, FALSE, g->K, BP, Kd, 1.0f, w, Kd, col, BP, 0.0f, tmp, BP);
  /* out[b][k][p] = tmp[k][b*P + p] + bias[k] */
  for (int bi = 0; bi < g->B; bi++)
    for (int k = 0; k < g->K; k++)
      {
        const float *src = tmp + (gsize) k * BP + bi * P;
        float *dst = out + ((gsize) bi * g->K + k) * P;
        float bias = b ? b[k] : 0.0f;

        for (gsize p = 0; p < P; p++)
          dst[p] = src[p] + bias;
      }
}

void
cs_conv2d_backward (float          *dx,
                    float          *dw,
                    float          *db,
                    float          *dcol,
                    float          *tmp,
                    const float    *dout,
                    const float    *col,
                    const float    *w,
                    const CsWindow *g)
{
  int Kd = g->C * g->kh * g->kw;
  gsize P = (gsize) g->Ho * g->Wo;
  int BP = (int) (P * g->B);

  /* tmp (K, B*P) = dout (B, K, P) with the batch moved inward; db sums it. */
  for (int k = 0; k < g->K; k++)
    {
      double acc = 0;
      for (int bi = 0; bi < g->B; bi++)
        {
          const float *src = dout + ((gsize) bi * g->K + k) * P;
          float *dst = tmp + (gsize) k * BP + bi * P;

          for (gsize p = 0; p < P; p++)
            {
              dst[p] = src[p];
              acc += src[p];
            }
        }
      if (db != NULL)
        db[k] += (float) acc;
    }
  /* dw (K, Kd) += tmp (K, B*P) . col^T (B*P, Kd) */
  cs_gemm (FALSE, TRUE, g->K, Kd, BP, 1.0f, tmp, BP, col, BP, 1.0f, dw, Kd);
  if (dx != NULL)
    {
      /* dcol (Kd, B*P) = w^T (Kd, K) . tmp (K, B*P), then scattered back. */
      cs_gemm (TRUE, FALSE, Kd, BP, g->K, 1.0f, w, Kd, tmp, BP, 0.0f, dcol, BP);
      memset (dx, 0, sizeof (float) * g->B * g->C * g->H * g->W);
      cs_col2im (dx, dcol, g);
    }
}

void
cs_conv2d_forward_ref (float          *out,
                       const float    *x,
                       const float    *w,
                       const float    *b,
                       const CsWindow *g)
{
  for (int bi = 0; bi < g->B; bi++)
    for (int k = 0; k < g->K; k++)
      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            double acc = b ? b[k] : 0.0;
            for (int c = 0; c < g->C; c++)
              for (int i = 0; i < g->kh; i++)
                for (int j = 0; j < g->kw; j++)
                  {
                    int iy = oy * g->sh - g->ph + i * g->dh;
                    int ix = ox * g->sw - g->pw + j * g->dw;
                    if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W)
                      continue;
                    acc += (double) x[(((gsize) bi * g->C + c) * g->H + iy) * g->W + ix] *
                           w[(((gsize) k * g->C + c) * g->kh + i) * g->kw + j];
                  }
            out[(((gsize) bi * g->K + k) * g->Ho + oy) * g->Wo + ox] = (float) acc;
          }
}

void
cs_conv2d_backward_ref (float          *dx,
                        float          *dw,
                        float          *db,
                        const float    *dout,
                        const float    *x,
                        const float    *w,
                        const CsWindow *g)
{
  if (dx != NULL)
    memset (dx, 0, sizeof (float) * g->B * g->C * g->H * g->W);
  for (int bi = 0; bi < g->B; bi++)
    for (int k = 0; k < g->K; k++)
      for (int oy = 0; oy < g->Ho; oy++)
        for (int ox = 0; ox < g->Wo; ox++)
          {
            float d = dout[(((gsize) bi * g->K + k) * g->Ho + oy) * g->Wo + ox];
            if (db != NULL)
              db[k] += d;
            for (int c = 0; c < g->C; c++)
              for (int i = 0; i < g->kh; i++)
                for (int j = 0; j < g->kw; j++)
                  {
                    int iy = oy * g->sh - g->ph + i * g->dh;
                    int ix = ox * g->sw - g->pw + j * g->dw;
                    gsize xi, wi;
                    if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W)
                      continue;
                    xi = (((gsize) bi * g->C + c) * g->H + iy) * g->W + ix;
                    wi = (((gsize) k * g->C + c) * g->kh + i) * g->kw + j;
                    dw[wi] += d * x[xi];
                    if (dx != NULL)
                      dx[xi] += d * w[wi];
                  }
          }
}

/* ---- Pooling ----------------------------------------------------------- */

/* As PyTorch's CPU kernel: padding counts as -inf, the first maximum wins, NaN propagates. */
void
cs_maxpool_forward (float          *out,
                    gint32         *argmax,
                    const float    *x,
                    const CsWindow *g)
{
  gsize planes = (gsize) g->B * g->C;

  for (gsize pl = 0; pl < planes; pl++)
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
cs_maxpool_backward (float          *dx,
                     const float    *dout,
                     const gint32   *argmax,
                     const CsWindow *g)
{
  gsize planes = (gsize) g->B * g->C;

  memset (dx, 0, sizeof (float) * planes * g->H * g->W);
  for (gsize pl = 0; pl < planes; pl++)
    {
      float *d = dx + pl * g->H * g->W;
      const float *go = dout + pl * g->Ho * g->Wo;
      const gint32 *am = argmax + pl * g->Ho * g->Wo;

      for (int p = 0; p < g->Ho * g->Wo; p++)
        if (am[p] >= 0)
          d[am[p]] += go[p];
    }
}

/* The window of output (oy, ox) and its divisor, as PyTorch's avg_pool2d computes them. */
static inline void
avg_window (const CsWindow *g,
            int             oy,
            int             ox,
            int            *ys,
            int            *ye,
            int            *xs,
            int            *xe,
            float          *divisor)
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

void
cs_avgpool_forward (float          *out,
                    const float    *x,
                    const CsWindow *g)
{
  gsize planes = (gsize) g->B * g->C;

  for (gsize pl = 0; pl < planes; pl++)
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
cs_avgpool_backward (float          *dx,
                     const float    *dout,
                     const CsWindow *g)
{
  gsize planes = (gsize) g->B * g->C;

  memset (dx, 0, sizeof (float) * planes * g->H * g->W);
  for (gsize pl = 0; pl < planes; pl++)
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

/* ---- Element-wise ------------------------------------------------------ */

void
cs_relu_forward (float       *out,
                 const float *x,
                 gsize        n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = x[i] > 0.0f ? x[i] : (isnan (x[i]) ? x[i] : 0.0f);
}

void
cs_relu_backward (float       *dx,
                  const float *dout,
                  const float *out,
                  gsize        n)
{
  for (gsize i = 0; i < n; i++)
    dx[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void
cs_tanh_forward (float       *out,
                 const float *x,
                 gsize        n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = tanhf (x[i]);
}

void
cs_tanh_backward (float       *dx,
                  const float *dout,
                  const float *out,
                  gsize        n)
{
  /* d tanh(x) / dx = 1 - tanh(x)^2 */
  for (gsize i = 0; i < n; i++)
    dx[i] = dout[i] * (1.0f - out[i] * out[i]);
}

void
cs_sigmoid_forward (float       *out,
                    const float *x,
                    gsize        n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = 1.0f / (1.0f + expf (-x[i]));
}

void
cs_sigmoid_backward (float       *dx,
                     const float *dout,
                     const float *out,
                     gsize        n)
{
  for (gsize i = 0; i < n; i++)
    dx[i] = dout[i] * out[i] * (1.0f - out[i]);
}

void
cs_dropout_forward (float       *out,
                    float       *mask,
                    const float *x,
                    gsize        n,
                    float        p,
                    CsRng       *rng)
{
  float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;

  for (gsize i = 0; i < n; i++)
    {
      mask[i] = cs_rng_uniform (rng) >= p ? scale : 0.0f;
      out[i] = x[i] * mask[i];
    }
}

void
cs_dropout_backward (float       *dx,
                     const float *dout,
                     const float *mask,
                     gsize        n)
{
  for (gsize i = 0; i < n; i++)
    dx[i] = dout[i] * mask[i];
}

/* ---- Classes ----------------------------------------------------------- */

void
cs_log_softmax_forward (float       *out,
                        const float *x,
                        int          B,
                        int          N)
{
  for (int s = 0; s < B; s++)
    {
      const float *row = x + (gsize) s * N;
      float *o = out + (gsize) s * N;
      float m = row[0];
      double sum = 0;
      float lse;

      for (int j = 1; j < N; j++)
        m = MAX (m, row[j]);
      for (int j = 0; j < N; j++)
        sum += expf (row[j] - m);
      lse = m + (float) log (sum);
      for (int j = 0; j < N; j++)
        o[j] = row[j] - lse;
    }
}

void
cs_log_softmax_backward (float       *dx,
                         const float *dout,
                         const float *out,
                         int          B,
                         int          N)
{
  /* dx = dout - softmax * sum(dout), softmax = exp(out) */
  for (int s = 0; s < B; s++)
    {
      const float *g = dout + (gsize) s * N;
      const float *o = out + (gsize) s * N;
      float *d = dx + (gsize) s * N;
      double sum = 0;

      for (int j = 0; j < N; j++)
        sum += g[j];
      for (int j = 0; j < N; j++)
        d[j] = g[j] - expf (o[j]) * (float) sum;
    }
}

double
cs_cross_entropy_loss (float        *dlogits,
                       const float  *logits,
                       const gint32 *labels,
                       int           B,
                       int           N)
{
  double total = 0;

  for (int s = 0; s < B; s++)
    {
      const float *z = logits + (gsize) s * N;
      float m = z[0];
      double sum = 0, lse;

      for (int j = 1; j < N; j++)
        m = MAX (m, z[j]);
      for (int j = 0; j < N; j++)
        sum += exp ((double) z[j] - m);
      lse = m + log (sum);
      total += lse - z[labels[s]];
      if (dlogits != NULL)
        {
          float *d = dlogits + (gsize) s * N;
          for (int j = 0; j < N; j++)
            d[j] = (float) (exp ((double) z[j] - lse) / B);
          d[labels[s]] -= 1.0f / B;
        }
    }
  return total / B;
}

double
cs_nll_loss (float        *dlogp,
             const float  *logp,
             const gint32 *labels,
             int           B,
             int           N)
{
  double total = 0;

  if (dlogp != NULL)
    memset (dlogp, 0, sizeof (float) * B * N);
  for (int s = 0; s < B; s++)
    {
      total -= logp[(gsize) s * N + labels[s]];
      if (dlogp != NULL)
        dlogp[(gsize) s * N + labels[s]] = -1.0f / B;
    }
  return total / B;
}
