/* Shared by the kernel files of nn/; not for callers of the kernels. */
#pragma once

#include "nn/cs-kernels.h"

G_BEGIN_DECLS

/* Hot loops get AVX-512, AVX2 and baseline versions, picked at run time
 * (ifunc), so the binary runs on any x86-64 and uses the widest vectors it has. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(__SANITIZE_THREAD__)
#define CS_VECTOR_CLONES __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default"), \
                                          optimize ("tree-vectorize", "vect-cost-model=dynamic",         \
                                                    "no-tree-loop-distribute-patterns")))
#define CS_HAVE_VECTOR_CLONES 1
#else
#define CS_VECTOR_CLONES
#define CS_HAVE_VECTOR_CLONES 0
#endif

/* The direct convolution (cs-conv2d-direct.c), when cs_conv2d_direct_applies():
 * it keeps nothing between the passes; the backward pass pads x again. */
void     cs_conv2d_direct_forward  (float                *out,
                                    const float          *x,
                                    const float          *w,
                                    const float          *b,
                                    const CsConvGeometry *g);
/* dw and db (may be NULL) accumulate; dx (may be NULL) is set (or added to,
 * with @add_dx) when the direct kernels serve it. FALSE: dx is still to be
 * computed (im2col's way). */
gboolean cs_conv2d_direct_backward (float                *dx,
                                    gboolean              add_dx,
                                    float                *dw,
                                    float                *db,
                                    const float          *x,
                                    const float          *dout,
                                    const float          *w,
                                    const CsConvGeometry *g);

/* Pointwise convolutions (cs-conv2d-pointwise.c): 1x1 kernels without
 * padding at a stride over 1 (a ResNet's projection shortcut), when
 * cs_conv2d_pointwise_applies (). They keep nothing between the passes. */
gboolean cs_conv2d_pointwise_applies  (const CsConvGeometry *g);
void     cs_conv2d_pointwise_forward  (float                *out,
                                       const float          *x,
                                       const float          *w,
                                       const float          *b,
                                       const CsConvGeometry *g);
void     cs_conv2d_pointwise_backward (float                *dx,
                                       gboolean              add_dx,
                                       float                *dw,
                                       float                *db,
                                       const float          *x,
                                       const float          *dout,
                                       const float          *w,
                                       const CsConvGeometry *g);

G_END_DECLS
