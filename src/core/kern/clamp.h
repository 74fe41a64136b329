/* The clamp every Relu and Clip runs and every fused epilogue applies:
 * x < lo ? lo : x > hi ? hi : x (NaN stays NaN, -0 stays -0). clamp_value is the rule for
 * one value (scalar paths call it), clamp_f32 runs it over an array at every SIMD level,
 * split over the thread pool. */
#ifndef QS_CLAMP_H
#define QS_CLAMP_H

#include <stdbool.h>
#include <stdint.h>

static inline float clamp_value(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* A BatchNormalization's inference formula on one value, (v - sub) * mul + add, each step
 * rounded in float (no contraction: -ffp-contract=off): ops/op_norm.c runs it, and a conv
 * that a BatchNormalization fuses into runs the same in its GEMM epilogue, before the
 * clamp, so the fused values are the same bits. */
static inline float norm_affine(float v, float sub, float mul, float add)
{
    return (v - sub) * mul + add;
}

/* y may be x. */
void clamp_f32(const float *x, float *y, int64_t n, float lo, float hi);
/* norm_affine over a run of n values, then clamp_value when clamp: the same bits as the
 * scalar formula at every SIMD level (separate subtract, multiply and add; no FMA). One
 * thread: the callers (a GEMM tile's rows, a BatchNormalization channel) split the work.
 * y may be x. */
void norm_clamp_f32(const float *x, float *y, int64_t n, float sub, float mul, float add,
                    bool clamp, float lo, float hi);

#endif
