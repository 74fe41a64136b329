/* The depthwise convolution's backward (ops/op_conv.c's CONV_DEPTHWISE route), with the
 * numbers of kern/dwconv.h's dwconv_backward bit for bit:
 *   - dw[o][t] = (float)(dw[o][t] + S), S the double sum of dy * x over samples, then the
 *     tap's valid rows and columns, in increasing order (each product of two floats is
 *     exact in double, so a double FMA adds the very term the definition adds);
 *   - dx of each element += w * dy (a float product, then a float add) over its taps in
 *     increasing (ki, kj).
 * With one channel multiplier at AVX2 or AVX-512 the lanes hold channels: each sample's
 * planes of a block of 8 or 16 channels are copied channel-minor (x and dy in double for
 * dW, dy and dx in float for dX), so every lane runs one channel's own chain in its own
 * order, over exactly the positions the definition visits. Otherwise, or when scratch
 * cannot be had, dwconv_backward runs. Threads: pool_for over channel blocks. */
#ifndef QS_BACKWARD_DW_H
#define QS_BACKWARD_DW_H

#include <stdint.h>

#include "kern/conv_cols.h"

/* As dwconv_backward (kern/dwconv.h): dx (as x) and dw (as w) accumulated, either NULL. */
void backward_depthwise(const ConvPlane *g, int64_t n, int64_t c, int64_t mult,
                        const float *x, const float *w, const float *dy, float *dx, float *dw);

#endif
