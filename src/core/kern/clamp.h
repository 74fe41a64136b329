/* The clamp every Relu and Clip runs: y = x < lo ? lo : x > hi ? hi : x, elementwise (NaN
 * stays NaN, -0 stays -0), the rule of op_clamp_value (ops/op.h) and of the kernels' fused
 * epilogues, at every SIMD level, split over the thread pool. */
#ifndef QS_CLAMP_H
#define QS_CLAMP_H

#include <stdint.h>

/* y may be x. */
void clamp_f32(const float *x, float *y, int64_t n, float lo, float hi);

#endif
