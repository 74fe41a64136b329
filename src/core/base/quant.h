/* Affine quantization arithmetic (docs/quantization.md states every rule exactly):
 *   q  = clamp(round_half_even(x / s) + z, qmin, qmax)
 *   x' = s * (q - z)
 * and the fixed-point requantization an integer kernel applies to its int32 accumulator. */
#ifndef QS_QUANT_H
#define QS_QUANT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct QParams {
    float scale;          /* > 0 */
    int32_t zero_point;   /* in [qmin, qmax]; 0 when symmetric */
    int32_t qmin, qmax;   /* e.g. -128..127 (asymmetric int8), -127..127 (symmetric int8) */
} QParams;

/* Integer range for `bits` (2..8): symmetric [-(2^(b-1)-1), 2^(b-1)-1] (the restricted
 * range, so -x quantizes to -q); asymmetric [-2^(b-1), 2^(b-1)-1]. */
void quant_range(int bits, bool symmetric, int32_t *qmin, int32_t *qmax);

/* Scale and zero point for the real range [lo, hi], which is first widened to contain 0
 * (so 0 is exactly representable). Symmetric: s = max(|lo|, |hi|) / qmax, z = 0.
 * Asymmetric: s = (hi - lo) / (qmax - qmin), z = clamp(qmin - round_half_even(lo / s)).
 * A degenerate range (hi == lo == 0) gives s = 1 (any scale represents all-zero data). */
QParams quant_params(float lo, float hi, int bits, bool symmetric);

/* One value. nearbyintf under the default rounding mode rounds half to even. NaN has no
 * integer code: it quantizes to the zero point (the code of 0.0). */
static inline int32_t quant_q(float x, const QParams *p)
{
    float r = __builtin_nearbyintf(x / p->scale);
    /* clamp in float first: a huge x / s must not overflow the int conversion */
    float lo = (float)(p->qmin - p->zero_point), hi = (float)(p->qmax - p->zero_point);
    r = r != r ? 0.0f : r < lo ? lo : r > hi ? hi : r;
    return (int32_t)r + p->zero_point;
}

static inline float quant_dq(int32_t q, const QParams *p)
{
    return p->scale * (float)(q - p->zero_point);
}

/* x' = dq(q(x)): the fake-quantization of one value (NaN stays NaN). */
static inline float quant_fake(float x, const QParams *p)
{
    return x != x ? x : quant_dq(quant_q(x, p), p);
}

/* Bulk forms. n elements. */
void quant_array_i8(const float *x, int64_t n, const QParams *p, int8_t *q);
void dequant_array_i8(const int8_t *q, int64_t n, const QParams *p, float *x);

/* Requantization: the real multiplier m = s_in * s_w / s_out (0 < m < 2^31) as a Q31
 * fixed-point m0 in [2^30, 2^31) and a right shift, m ~= m0 * 2^-(31 + shift); shift may
 * be negative (m >= 1). */
typedef struct Requant {
    int32_t m0;
    int32_t shift;
} Requant;

Requant quant_requant_make(double m);

/* Integer requantization of an int32 accumulator:
 *   q = clamp(z_out + round_half_even(acc * m0 / 2^(31 + shift)), lo, hi)
 * computed exactly in int64 (|acc * m0| < 2^62). lo/hi carry a fused ReLU/ReLU6 clamp. */
int32_t quant_requant(int32_t acc, Requant r, int32_t z_out, int32_t lo, int32_t hi);

/* Rounding right shift of a 64-bit value by n (0..62) bits, ties to even. */
int64_t quant_rshift_even(int64_t x, int n);

#endif
