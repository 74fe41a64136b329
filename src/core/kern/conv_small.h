/* Convolutions with few output channels (a network's first layer: LeNet's conv1 has 6
 * output channels and K = 25), computed directly instead of as im2col and a GEMM. As a
 * GEMM such a layer writes and reads K column values per output position for only M
 * multiply-adds each, through a microkernel whose rows are mostly empty.
 *
 * Each output is summed exactly as the GEMM sums it (kern/sgemm.h): the bias (or 0), then
 * one fmaf per row k of the im2col matrix in increasing k = (ci * kh + ki) * kw + kj,
 * a tap outside the input reading 0 (and still taking its fmaf, as im2col's zeros do),
 * then the clamp v < lo ? lo : v > hi ? hi : v. So the outputs are the GEMM route's bits.
 * The kernel runs 16 output columns of one row side by side for all M channels (AVX-512
 * only: other levels keep the GEMM route); rows are split over the thread pool, and each
 * output is independent of the split. */
#ifndef QS_CONV_SMALL_H
#define QS_CONV_SMALL_H

#include <stdbool.h>
#include <stdint.h>

#include "kern/conv_cols.h"
#include "kern/dwconv.h"

/* Output channels the direct kernel takes at most: one accumulator each. */
#define CONV_SMALL_MAX_M 8

/* Whether conv_small_forward runs this geometry at the current SIMD level: m output
 * channels (one group), stride and dilation 1 along the width. */
bool conv_small_fits(const ConvPlane *g, int64_t m);

/* y (n, m, oh, ow) from x (n, g->c, h, w) and w (m, g->c * kh * kw) with epi's bias and
 * clamp (epi->bias NULL: 0). Only where conv_small_fits. */
void conv_small_forward(const ConvPlane *g, int64_t n, int64_t m, const float *x,
                        const float *w, const DwEpi *epi, float *y);

#endif
