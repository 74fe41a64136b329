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

/* The smallest and largest finite values of x[0..n) into *lo, *hi; false (and 0, 0) when
 * none is finite. NaN and +-Inf never set a quantization range. */
bool quant_finite_range(const float *x, int64_t n, float *lo, float *hi);

/* Bulk forms. n elements. */
void quant_array_i8(const float *x, int64_t n, const QParams *p, int8_t *q);
void dequant_array_i8(const int8_t *q, int64_t n, const QParams *p, float *x);

/* How an int32 accumulator is rescaled onto the output grid; each deployment runtime has
 * its own rule (quant/target.h picks one per target; docs/quantization.md, "Targets"). */
typedef enum {
    QRQ_Q31_EVEN = 0, /* qscope: Q31 m0 (ties to even), one rounding of acc * m0, ties to even */
    QRQ_GEMMLOWP,     /* TFLite reference kernels and TFLite Micro: Q31 m0 (ties away from
                         zero), SaturatingRoundingDoublingHighMul then RoundingDivideByPOT */
    QRQ_FP32,         /* XNNPACK and ONNX Runtime: (float)acc * a float32 scale, rounded to
                         nearest, ties to even */
} QRequantRule;

/* Requantization: the real multiplier m = s_in * s_w / s_out (0 < m < 2^31) as a Q31
 * fixed-point m0 in [2^30, 2^31) and a right shift, m ~= m0 * 2^-(31 + shift); shift may
 * be negative (m >= 1). QRQ_FP32 uses `scale` instead. */
typedef struct Requant {
    int32_t m0;
    int32_t shift;
    float scale;       /* QRQ_FP32: the float32 multiplier; the others: (float)m */
    int rule;          /* QRequantRule */
} Requant;

/* QRQ_Q31_EVEN: m0 = round_half_even(f 2^31) of m = f 2^e. */
Requant quant_requant_make(double m);
/* QRQ_GEMMLOWP, TFLite's QuantizeMultiplier: m0 = round_half_away(f 2^31) (f rounding up to
 * 1 halves m0 and raises e), and a multiplier below 2^-31 (e < -31) or m <= 0 flushed to
 * m0 = 0, shift = 0. shift = -e, so TFLite's own shift (left positive) is -shift. */
Requant quant_requant_make_gemmlowp(double m);
/* QRQ_FP32 with the float32 multiplier `scale`, computed by the caller in float32 as the
 * runtime computes it. */
Requant quant_requant_make_fp32(float scale);

/* gemmlowp's SaturatingRoundingDoublingHighMul: (a b + nudge) / 2^31 truncated toward zero,
 * nudge = 2^30 for a b >= 0 and 1 - 2^30 below; INT32_MIN * INT32_MIN saturates to
 * INT32_MAX (the only overflow). */
int32_t quant_srdhm(int32_t a, int32_t b);
/* gemmlowp's RoundingDivideByPOT (e in 0..31): x / 2^e rounded to nearest, ties away from
 * zero. */
int32_t quant_rdivpot(int32_t x, int e);
/* TFLite's MultiplyByQuantizedMultiplier (double rounding) with its own shift convention
 * (tshift > 0: a left shift of x first, which wraps in int32 as the device's multiply does;
 * tshift < 0: RoundingDivideByPOT by -tshift, at most 31). */
int32_t quant_mul_gemmlowp(int32_t x, int32_t m0, int tshift);
/* Round a float to the nearest integer, ties to even (lrintf / cvtps2dq under the default
 * rounding mode), after clamping it to [lo, hi] (integers, so the clamp commutes). */
int32_t quant_round_fp32(float v, int32_t lo, int32_t hi);
/* The requantization of acc by r under r.rule, plus z_out, clamped to [lo, hi]:
 *   QRQ_Q31_EVEN  quant_requant
 *   QRQ_GEMMLOWP  quant_mul_gemmlowp(acc, m0, -shift) + z_out
 *   QRQ_FP32      round_half_even(clamp((float)acc * scale, lo - z_out, hi - z_out)) + z_out */
int32_t quant_requant_rule(int32_t acc, const Requant *r, int32_t z_out, int32_t lo, int32_t hi);

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
