/* Depthwise convolution (group == input channels, one input channel per group): direct
 * kernels, since as a GEMM each group would have K = KH * KW and be all overhead.
 *
 * Each output is summed as bias, then the taps in increasing (ki, kj), one fmaf per tap;
 * a tap outside the input reads 0 (and still takes its fmaf, as im2col's zeros do). The
 * scalar reference and the AVX2 and AVX-512 kernels follow this order lane by lane, so
 * every level gives the same bits, and planes are independent, so neither threads nor the
 * batch change a sample's output (docs/reproducibility.md). The SIMD kernels vectorise
 * across output columns, several rows side by side; with one channel multiplier, maps
 * narrower than a vector (stride 1, the same size) or at most 4 wide (other strides) run
 * at AVX-512 across planes instead (kern/dwconv_flat.h), so a 4x4 or 2x2 map fills all
 * 16 lanes. */
#ifndef QS_DWCONV_H
#define QS_DWCONV_H

#include <stdbool.h>
#include <stdint.h>

#include "kern/conv_cols.h"

/* What each output starts from and the clamp after its sum (a fused Relu or Clip). */
typedef struct DwEpi {
    const float *bias; /* [c * mult] or NULL (0) */
    bool clamp;        /* then v < lo ? lo : v > hi ? hi : v (NaN stays NaN) */
    float lo, hi;
} DwEpi;

/* y (n, c * mult, oh, ow) from x (n, c, h, w) and w (c * mult, kh, kw); output channel o
 * reads input channel o / mult. g describes one channel (g->c is ignored). Threads:
 * pool_for over (sample, output channel), or over (block of channels, sample) on the flat
 * path; SIMD level: simd_level(). */
void dwconv_forward(const ConvPlane *g, int64_t n, int64_t c, int64_t mult, const float *x,
                    const float *w, const DwEpi *epi, float *y);

/* The gradients, accumulated: dx (as x) += the taps of dy scattered back, each element's
 * terms in increasing (output channel, ki, kj); dw (as w) += per tap the sum over samples
 * and positions in increasing order, in double. Either may be NULL. Plain multiply and
 * add (no SIMD variants), so the sums are the same on every machine. */
void dwconv_backward(const ConvPlane *g, int64_t n, int64_t c, int64_t mult, const float *x,
                     const float *w, const float *dy, float *dx, float *dw);

#endif
