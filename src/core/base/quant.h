/* Affine quantization arithmetic (docs/quantization.md states every rule exactly):
 *   q  = clamp(round_half_even(x / s) + z, qmin, qmax)
 *   x' = s * (q - z)
 * and the fixed-point requantization an integer kernel applies to its int32 accumulator. */
#ifndef QS_QUANT_H
#define QS_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/fconv.h"

typedef struct QParams {
    float scale;          /* > 0 */
    int32_t zero_point;   /* in [qmin, qmax]; 0 when symmetric */
    int32_t qmin, qmax;   /* e.g. -128..127 (asymmetric int8), -127..127 (symmetric int8);
                             FakeQuant allows up to +-(2^31 - 1) (op_fakequant.c) */
} QParams;

/* Integer range for `bits` (2..8): symmetric [-(2^(b-1)-1), 2^(b-1)-1] (the restricted
 * range, so -x quantizes to -q); asymmetric [-2^(b-1), 2^(b-1)-1]. */
void quant_range(int bits, bool symmetric, int32_t *qmin, int32_t *qmax);

/* Scale and zero point for the real range [lo, hi], which is first widened to contain 0
 * (so 0 is exactly representable). Symmetric: s = max(|lo|, |hi|) / qmax, z = 0.
 * Asymmetric: s = (hi - lo) / (qmax - qmin), z = clamp(qmin - round_half_even(lo / s)).
 * A degenerate range (hi == lo == 0) gives s = 1 (any scale represents all-zero data). */
QParams quant_params(float lo, float hi, int bits, bool symmetric);

/* One value: the rounding and the clamp are fconv_round's, on x / s in float32 (so ties do
 * not depend on z) against [qmin - z, qmax - z] in int64 (no bound can overflow), and then z
 * is added. +-Inf saturate to qmax / qmin. NaN has no integer code: it quantizes to the zero
 * point (the code of 0.0). */
static inline int32_t quant_q(float x, const QParams *p)
{
    int64_t z = p->zero_point;
    return (int32_t)(fconv_round((double)(x / p->scale), p->qmin - z, p->qmax - z, NULL) + z);
}

/* s * (q - z); q - z in int64, so no pair of int32 codes overflows. */
static inline float quant_dq(int32_t q, const QParams *p)
{
    return p->scale * (float)((int64_t)q - p->zero_point);
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

/* The int32 code of a linear unit's bias b on its grid bs = s_x * s_w[c] (double, > 0):
 * round_half_even(b / bs) in double, saturated to +-(2^31 - 1) (symmetric, so -b gives -q).
 * *how (may be NULL) reports a saturation and NaN (b NaN, or an unusable bs: code 0); an
 * infinite b saturates. The integer executor refuses a unit whose bias is not finite before
 * it asks; QAT's bias residual uses the same rule. */
int32_t quant_bias_code(float b, double bs, FconvHow *how);

/* Integer requantization of an int32 accumulator:
 *   q = clamp(z_out + round_half_even(acc * m0 / 2^(31 + shift)), lo, hi)
 * computed exactly in int64 (|acc * m0| < 2^62). lo/hi carry a fused ReLU/ReLU6 clamp. */
int32_t quant_requant(int32_t acc, Requant r, int32_t z_out, int32_t lo, int32_t hi);

/* Rounding right shift of a 64-bit value by n (0..62) bits, ties to even. */
int64_t quant_rshift_even(int64_t x, int n);

#endif
