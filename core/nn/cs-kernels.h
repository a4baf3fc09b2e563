/* Layer kernels, forward and backward, batched NCHW float32; each fast path has a reference twin. */
#pragma once

#include <glib.h>

#include "base/cs-rng.h"

G_BEGIN_DECLS

/* Geometry of a convolution or a pooling window over a batch. */
typedef struct
{
  int B;            /* batch */
  int C;            /* input channels */
  int H, W;         /* input size */
  int K;            /* output channels (conv) */
  int kh, kw;       /* kernel */
  int sh, sw;       /* stride */
  int ph, pw;       /* zero padding */
  int dh, dw;       /* dilation */
  int Ho, Wo;       /* output size */
  gboolean count_include_pad;  /* avg pool */
} CsConvGeometry;

/* ---- Linear: out (B, N) = x (B, I) * w (N, I)^T + b (N) ---- */
void   cs_linear_forward        (float       *out,
                                 const float *x,
                                 const float *w,
                                 const float *b,
                                 int          B,
                                 int          I,
                                 int          N);
/* dx (B, I) is set (may be NULL); dw (N, I) and db (N, may be NULL) accumulate. */
void   cs_linear_backward       (float       *dx,
                                 float       *dw,
                                 float       *db,
                                 const float *dout,
                                 const float *x,
                                 const float *w,
                                 int          B,
                                 int          I,
                                 int          N);
void   cs_linear_forward_ref    (float       *out,
                                 const float *x,
                                 const float *w,
                                 const float *b,
                                 int          B,
                                 int          I,
                                 int          N);
void   cs_linear_backward_ref   (float       *dx,
                                 float       *dw,
                                 float       *db,
                                 const float *dout,
                                 const float *x,
                                 const float *w,
                                 int          B,
                                 int          I,
                                 int          N);

/* ---- Conv2d: direct kernels for small ones, a Linear layer for a full
 * window, im2col + GEMM otherwise ----
 * x is (B, C, H, W), w is (K, C, kh, kw), b is (K), out is (B, K, Ho, Wo);
 * col (cs_conv2d_saved_size() floats, none for the direct kernels, which pad
 * x again in the backward pass) is what the forward pass keeps for the
 * backward pass: im2col's (C*kh*kw, B*Ho*Wo) matrix; tmp is (K, B*Ho*Wo)
 * scratch. */
gsize  cs_conv2d_col_size       (const CsConvGeometry *g);
gsize  cs_conv2d_saved_size     (const CsConvGeometry *g);
/* The size of dcol cs_conv2d_backward() needs to compute dx (0: none). */
gsize  cs_conv2d_dcol_size      (const CsConvGeometry *g);
gsize  cs_conv2d_tmp_size       (const CsConvGeometry *g);
void   cs_im2col                (float                *col,
                                 const float          *x,
                                 const CsConvGeometry *g);
void   cs_col2im                (float                *dx,
                                 const float          *col,
                                 const CsConvGeometry *g);
void   cs_conv2d_forward        (float                *out,
                                 float                *col,
                                 float                *tmp,
                                 const float          *x,
                                 const float          *w,
                                 const float          *b,
                                 const CsConvGeometry *g);
/* dx (may be NULL) is set, or with @add_dx added to (where the input also
 * feeds other layers; not for a full-window conv, see cs_conv2d_can_add_dx ());
 * dw and db (may be NULL) accumulate; dcol is (C*kh*kw, B*Ho*Wo) scratch,
 * needed only with dx; x is the forward's input and col what the forward left
 * in it. */
void   cs_conv2d_backward       (float                *dx,
                                 gboolean              add_dx,
                                 float                *dw,
                                 float                *db,
                                 float                *dcol,
                                 float                *tmp,
                                 float                *col,
                                 const float          *dout,
                                 const float          *x,
                                 const float          *w,
                                 const CsConvGeometry *g);
/* Whether cs_conv2d_backward () can add its dx to what dx holds. */
gboolean cs_conv2d_can_add_dx   (const CsConvGeometry *g);
/* Whether the direct kernels serve this geometry: dilation 1, column stride 1
 * or 2, rows of at most 32 outputs, at most 576 taps (C*kh*kw), and not a
 * full window. */
gboolean cs_conv2d_direct_applies (const CsConvGeometry *g);
/* Whether the kernel covers the whole unpadded input, so the convolution is a Linear layer. */
gboolean cs_conv2d_is_full_window (const CsConvGeometry *g);
void   cs_conv2d_forward_ref    (float                *out,
                                 const float          *x,
                                 const float          *w,
                                 const float          *b,
                                 const CsConvGeometry *g);
void   cs_conv2d_backward_ref   (float                *dx,
                                 float                *dw,
                                 float                *db,
                                 const float          *dout,
                                 const float          *x,
                                 const float          *w,
                                 const CsConvGeometry *g);

/* ---- Pooling: x is (B, C, H, W), out is (B, C, Ho, Wo) ---- */
void   cs_maxpool_forward       (float                *out,
                                 gint32               *argmax,
                                 const float          *x,
                                 const CsConvGeometry *g);
/* dx is set. */
void   cs_maxpool_backward      (float                *dx,
                                 const float          *dout,
                                 const gint32         *argmax,
                                 const CsConvGeometry *g);
void   cs_avgpool_forward       (float                *out,
                                 const float          *x,
                                 const CsConvGeometry *g);
void   cs_avgpool_backward      (float                *dx,
                                 const float          *dout,
                                 const CsConvGeometry *g);

/* ---- AdaptiveAvgPool2d: @planes maps of H x W to oh x ow, PyTorch's windows
 * [floor(i H / oh), ceil((i + 1) H / oh)) ---- */
void   cs_adaptive_avgpool_forward_ref  (float       *out,
                                         const float *x,
                                         gsize        planes,
                                         int          H,
                                         int          W,
                                         int          oh,
                                         int          ow);
void   cs_adaptive_avgpool_backward_ref (float       *dx,
                                         const float *dout,
                                         gsize        planes,
                                         int          H,
                                         int          W,
                                         int          oh,
                                         int          ow);
void   cs_adaptive_avgpool_forward      (float       *out,
                                         const float *x,
                                         gsize        planes,
                                         int          H,
                                         int          W,
                                         int          oh,
                                         int          ow);
void   cs_adaptive_avgpool_backward     (float       *dx,
                                         const float *dout,
                                         gsize        planes,
                                         int          H,
                                         int          W,
                                         int          oh,
                                         int          ow);

/* ---- Dropout2d: whole planes of P values zeroed with probability p, the
 * others scaled by 1/(1-p); @mask gets one factor per plane ---- */
void   cs_dropout2d_forward     (float       *out,
                                 float       *mask,
                                 const float *x,
                                 gsize        planes,
                                 gsize        P,
                                 float        p,
                                 CsRng       *rng);
void   cs_dropout2d_backward    (float       *dx,
                                 const float *dout,
                                 const float *mask,
                                 gsize        planes,
                                 gsize        P);

/* ---- BatchNorm1d/2d on (B, C, P) data: P = H*W, or 1 for flat features ---- */
typedef struct
{
  int      B, C, P;
  float    eps;
  float    momentum;         /* this step's factor for the running statistics */
  gboolean use_batch_stats;  /* training (or track_running_stats=False) */
  gboolean relu;             /* the fast version's out = relu (BatchNorm (x)), NaN kept, and its backward */
} CsBatchNormArgs;

/* out = xhat * gamma + beta, xhat = (x - mean) * inv_std; gamma/beta NULL when
 * not affine. With batch statistics, running_mean/var (NULL: none kept) are
 * updated; without, they are what normalizes. The reference keeps xhat for
 * its backward pass; the fast version keeps mean and inv_std per channel, and
 * its backward pass reads x again. */
void   cs_batchnorm_forward_ref   (float                 *out,
                                   float                 *xhat,
                                   float                 *inv_std,
                                   const float           *x,
                                   const float           *gamma,
                                   const float           *beta,
                                   float                 *running_mean,
                                   float                 *running_var,
                                   const CsBatchNormArgs *a);
void   cs_batchnorm_forward       (float                 *out,
                                   float                 *mean,
                                   float                 *inv_std,
                                   const float           *x,
                                   const float           *gamma,
                                   const float           *beta,
                                   float                 *running_mean,
                                   float                 *running_var,
                                   const CsBatchNormArgs *a);
/* dgamma and dbeta are added to; dx (NULL: not wanted) is written. */
void   cs_batchnorm_backward_ref  (float                 *dx,
                                   float                 *dgamma,
                                   float                 *dbeta,
                                   const float           *dout,
                                   const float           *xhat,
                                   const float           *inv_std,
                                   const float           *gamma,
                                   const CsBatchNormArgs *a);
/* With a ReLU fused into the forward pass (a->relu), dout is the ReLU's
 * output gradient: it counts where BatchNorm's output, recomputed from x with
 * the same expression (hence beta), was positive, as cs_relu_backward ()
 * would have passed it on. With a mask (a ReLU's output further on, e.g.
 * after a sum; not with a->relu), dout counts where mask > 0. */
void   cs_batchnorm_backward      (float                 *dx,
                                   float                 *dgamma,
                                   float                 *dbeta,
                                   const float           *dout,
                                   const float           *mask,
                                   const float           *x,
                                   const float           *mean,
                                   const float           *inv_std,
                                   const float           *gamma,
                                   const float           *beta,
                                   const CsBatchNormArgs *a);

/* ---- Activations that need their input to go back: LeakyReLU (@alpha the
 * negative slope), ELU (@alpha), GELU (exact, with erf, or PyTorch's tanh
 * approximation), SiLU; out = f(x), dx = dout * f'(x) ---- */
typedef enum
{
  CS_ACT_LEAKY_RELU,
  CS_ACT_ELU,
  CS_ACT_GELU,
  CS_ACT_GELU_TANH,
  CS_ACT_SILU,
} CsActivation;

void   cs_activation_forward_ref  (CsActivation  act,
                                   float         alpha,
                                   float        *out,
                                   const float  *x,
                                   gsize         n);
void   cs_activation_backward_ref (CsActivation  act,
                                   float         alpha,
                                   float        *dx,
                                   const float  *dout,
                                   const float  *x,
                                   gsize         n);
void   cs_activation_forward      (CsActivation  act,
                                   float         alpha,
                                   float        *out,
                                   const float  *x,
                                   gsize         n);
void   cs_activation_backward     (CsActivation  act,
                                   float         alpha,
                                   float        *dx,
                                   const float  *dout,
                                   const float  *x,
                                   gsize         n);

/* ---- Element-wise: n values; backward uses the forward's output ---- */
/* out = a + b; dst += src (elementwise, n floats). */
void   cs_add                   (float       *out,
                                 const float *a,
                                 const float *b,
                                 gsize        n);
void   cs_add_into              (float       *dst,
                                 const float *src,
                                 gsize        n);
void   cs_relu_forward          (float       *out,
                                 const float *x,
                                 gsize        n);
/* dx = dout where out > 0, else 0; _add adds that to dx. */
void   cs_relu_backward         (float       *dx,
                                 const float *dout,
                                 const float *out,
                                 gsize        n);
void   cs_relu_backward_add     (float       *dx,
                                 const float *dout,
                                 const float *out,
                                 gsize        n);
/* out = relu (a + b): a sum and the ReLU after it in one pass. */
void   cs_add_relu              (float       *out,
                                 const float *a,
                                 const float *b,
                                 gsize        n);
void   cs_tanh_forward          (float       *out,
                                 const float *x,
                                 gsize        n);
void   cs_tanh_forward_ref      (float       *out,
                                 const float *x,
                                 gsize        n);
void   cs_tanh_backward         (float       *dx,
                                 const float *dout,
                                 const float *out,
                                 gsize        n);
void   cs_sigmoid_forward       (float       *out,
                                 const float *x,
                                 gsize        n);
void   cs_sigmoid_backward      (float       *dx,
                                 const float *dout,
                                 const float *out,
                                 gsize        n);
/* Inverted dropout as PyTorch: kept values scaled by 1 / (1 - p); mask holds the scale. */
void   cs_dropout_forward       (float       *out,
                                 float       *mask,
                                 const float *x,
                                 gsize        n,
                                 float        p,
                                 CsRng       *rng);
/* The same masks drawn one number at a time with cs_rng_uniform(). */
void   cs_dropout_forward_ref   (float       *out,
                                 float       *mask,
                                 const float *x,
                                 gsize        n,
                                 float        p,
                                 CsRng       *rng);
void   cs_dropout_backward      (float       *dx,
                                 const float *dout,
                                 const float *mask,
                                 gsize        n);

/* ---- Classes: x and out are (B, N) ---- */
void   cs_log_softmax_forward   (float       *out,
                                 const float *x,
                                 int          B,
                                 int          N);
/* softmax over each of B rows of N; backward: dx = y (dout - sum (dout y)) */
void   cs_softmax_forward       (float       *out,
                                 const float *x,
                                 int          B,
                                 int          N);
void   cs_softmax_backward      (float       *dx,
                                 const float *dout,
                                 const float *out,
                                 int          B,
                                 int          N);
void   cs_log_softmax_backward  (float       *dx,
                                 const float *dout,
                                 const float *out,
                                 int          B,
                                 int          N);
/* Mean over the batch; dlogits (B, N) may be NULL. */
double cs_cross_entropy_loss    (float        *dlogits,
                                 const float  *logits,
                                 const gint32 *labels,
                                 int           B,
                                 int           N);
double cs_nll_loss              (float        *dlogp,
                                 const float  *logp,
                                 const gint32 *labels,
                                 int           B,
                                 int           N);

G_END_DECLS
