/* Affine quantization arithmetic: parameters from a range, bulk int8 conversion and the
 * fixed-point requantization of int32 accumulators. docs/quantization.md states every rule;
 * tests/unit/test_quant.c checks them against exact references. */
#include "base/quant.h"

#include <float.h>
#include <math.h>

#include "base/error.h"

/* quant_rshift_even relies on >> of a negative value being an arithmetic (floor) shift:
 * implementation-defined in C11, and what GCC and Clang do on every target. */
_Static_assert((-5 >> 1) == -3, "right shift of negative values must be arithmetic");

void quant_range(int bits, bool symmetric, int32_t *qmin, int32_t *qmax)
{
    QS_ASSERT(bits >= 2 && bits <= 8);
    int32_t half = (int32_t)1 << (bits - 1);
    *qmax = half - 1;
    *qmin = symmetric ? -(half - 1) : -half;
}

/* A bound the caller could not make finite (an observer that saw NaN, or an empty
 * observer reporting +-inf) must still give a finite, positive scale: NaN counts as 0
 * (the range always contains 0 anyway) and +-inf as +-FLT_MAX. */
static float quant_finite(float v)
{
    return v != v ? 0.0f : v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v;
}

QParams quant_params(float lo, float hi, int bits, bool symmetric)
{
    QParams p;
    quant_range(bits, symmetric, &p.qmin, &p.qmax);
    /* Each bound is widened to 0 on its own side, so an inverted range (lo > hi, e.g. the
     * (+inf, -inf) of an observer that saw nothing) shrinks to what it says about 0. */
    lo = quant_finite(lo);
    hi = quant_finite(hi);
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;

    float s;
    if (symmetric) {
        float amax = -lo > hi ? -lo : hi;
        s = amax / (float)p.qmax;
    } else {
        /* Float arithmetic, as PyTorch's observers do, so scales agree bit for bit; only
         * when hi - lo overflows (a range wider than FLT_MAX) is double needed. */
        float d = hi - lo;
        if (d <= FLT_MAX)
            s = d / (float)(p.qmax - p.qmin);
        else
            s = (float)(((double)hi - (double)lo) / (double)(p.qmax - p.qmin));
    }
    /* A zero (degenerate range) or subnormal scale would make x / s overflow for ordinary
     * x and lose the scale's own precision; such a range holds nothing but (almost) zeros,
     * which any scale represents, so use 1 as ONNX Runtime does. */
    if (!(s >= FLT_MIN))
        s = 1.0f;
    p.scale = s;

    if (symmetric) {
        p.zero_point = 0;
    } else {
        /* lo / s is rounded on its own (in float, as PyTorch does) before qmin is added, so
         * its ties do not depend on qmin; the clamp guards the rounding at the ends. */
        float r = __builtin_nearbyintf(lo / s);
        p.zero_point = (int32_t)fconv_round((double)p.qmin - (double)r, p.qmin, p.qmax, NULL);
    }
    return p;
}

void quant_array_i8(const float *x, int64_t n, const QParams *p, int8_t *q)
{
    QS_ASSERT(p->qmin >= INT8_MIN && p->qmax <= INT8_MAX && p->qmin <= p->qmax &&
              p->zero_point >= p->qmin && p->zero_point <= p->qmax);
    const float s = p->scale;
    const float lo = (float)(p->qmin - p->zero_point), hi = (float)(p->qmax - p->zero_point);
    const int32_t z = p->zero_point;
    /* Same result as quant_q for every input (the test compares them), without a libm call
     * per element. It is fconv_round's rule written out so that it vectorizes: NaN becomes
     * 0 and v is clamped to [lo, hi] before the conversion, which is therefore always
     * defined. Clamping before rounding is equivalent because lo and hi are integers, and
     * once |v| <= 255, adding and subtracting 1.5 * 2^23 rounds v to an integer under the
     * default rounding mode, ties to even. */
    const float magic = 0x1.8p23f;
    int64_t i = 0;
    /* Blocks of 8 with the conversion and the byte stores in separate fixed-length loops:
     * the form GCC's -O2 cost model vectorizes (divps, maxps, minps, cvttps2dq). The
     * comparisons are written as max/min so that they map onto those instructions; NaN is
     * gone before them. */
    for (; i + 8 <= n; i += 8) {
        int32_t t[8];
        for (int j = 0; j < 8; j++) {
            float v = x[i + j] / s;
            v = v == v ? v : 0.0f;
            v = v > lo ? v : lo;
            v = v < hi ? v : hi;
            v = (v + magic) - magic;
            t[j] = (int32_t)v + z;
        }
        for (int j = 0; j < 8; j++)
            q[i + j] = (int8_t)t[j];
    }
    for (; i < n; i++) {
        float v = x[i] / s;
        v = v == v ? v : 0.0f;
        v = v > lo ? v : lo;
        v = v < hi ? v : hi;
        v = (v + magic) - magic;
        q[i] = (int8_t)((int32_t)v + z);
    }
}

void dequant_array_i8(const int8_t *q, int64_t n, const QParams *p, float *x)
{
    const float s = p->scale;
    const int32_t z = p->zero_point;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) { /* split like quant_array_i8's, to vectorize at -O2 */
        int32_t t[8];
        for (int j = 0; j < 8; j++)
            t[j] = (int32_t)q[i + j] - z;
        for (int j = 0; j < 8; j++)
            x[i + j] = s * (float)t[j];
    }
    for (; i < n; i++)
        x[i] = s * (float)((int32_t)q[i] - z);
}

Requant quant_requant_make(double m)
{
    /* Outside the contract (m <= 0 or NaN): a zero multiplier, so every accumulator maps
     * to z_out, rather than garbage. */
    if (!(m > 0.0))
        return (Requant){ 0, 0, 0.0f, QRQ_Q31_EVEN };
    if (m > DBL_MAX)
        m = DBL_MAX;
    int e;
    double f = frexp(m, &e); /* m = f * 2^e, f in [0.5, 1) */
    /* f * 2^31 is exact in double; rounding it to nearest (ties to even) gives m0 within
     * half a unit, i.e. a relative error of at most 2^-31. */
    int64_t m0 = fconv_round(ldexp(f, 31), INT64_C(1) << 30, INT64_C(1) << 31, NULL);
    if (m0 == (INT64_C(1) << 31)) { /* f rounded up to 1.0 */
        m0 >>= 1;
        e += 1;
    }
    return (Requant){ (int32_t)m0, (int32_t)-e, (float)m, QRQ_Q31_EVEN };
}

Requant quant_requant_make_gemmlowp(double m)
{
    if (!(m > 0.0))
        return (Requant){ 0, 0, 0.0f, QRQ_GEMMLOWP };
    if (m > DBL_MAX)
        m = DBL_MAX;
    int e;
    double f = frexp(m, &e);
    /* TfLiteRound is std::round: ties away from zero (f > 0, so upwards); f * 2^31 is exact */
    int64_t m0 = (int64_t)floor(ldexp(f, 31) + 0.5);
    if (m0 == (INT64_C(1) << 31)) {
        m0 /= 2;
        e += 1;
    }
    if (e < -31) { /* below 2^-31: TFLite flushes the multiplier to zero */
        e = 0;
        m0 = 0;
    }
    if (e > 31) /* outside the contract (m >= 2^31): the largest left shift */
        e = 31;
    return (Requant){ (int32_t)m0, (int32_t)-e, (float)m, QRQ_GEMMLOWP };
}

Requant quant_requant_make_fp32(float scale)
{
    return (Requant){ 0, 0, scale, QRQ_FP32 };
}

int32_t quant_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * b;
    int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : 1 - (INT64_C(1) << 30);
    return (int32_t)((ab + nudge) / (INT64_C(1) << 31)); /* C division truncates toward 0 */
}

int32_t quant_rdivpot(int32_t x, int e)
{
    QS_ASSERT(e >= 0 && e <= 31);
    int32_t mask = (int32_t)((INT64_C(1) << e) - 1);
    int32_t rem = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0);
    return (x >> e) + (rem > threshold);
}

int32_t quant_mul_gemmlowp(int32_t x, int32_t m0, int tshift)
{
    int left = tshift > 0 ? tshift : 0, right = tshift > 0 ? 0 : -tshift;
    /* x * 2^left in int32 wraps on the device (the product is unchecked there); unsigned
     * arithmetic gives the same bits without undefined behaviour here */
    int32_t xs = (int32_t)((uint32_t)x << (left < 31 ? left : 31));
    return quant_rdivpot(quant_srdhm(xs, m0), right < 31 ? right : 31);
}

int32_t quant_round_fp32(float v, int32_t lo, int32_t hi)
{
    float l = (float)lo, h = (float)hi;
    v = v > l ? v : l; /* NaN (never from a finite accumulator) ends at lo */
    v = v < h ? v : h;
    return (int32_t)nearbyintf(v);
}

int32_t quant_requant_rule(int32_t acc, const Requant *r, int32_t z_out, int32_t lo, int32_t hi)
{
    int64_t v;
    switch (r->rule) {
    case QRQ_GEMMLOWP:
        v = (int64_t)quant_mul_gemmlowp(acc, r->m0, -r->shift) + z_out;
        return (int32_t)(v < lo ? lo : v > hi ? hi : v);
    case QRQ_FP32:
        return quant_round_fp32((float)acc * r->scale, lo - z_out, hi - z_out) + z_out;
    default:
        return quant_requant(acc, *r, z_out, lo, hi);
    }
}

int32_t quant_bias_code(float b, double bs, FconvHow *how)
{
    return (int32_t)fconv_round((double)b / bs, -INT32_MAX, INT32_MAX, how);
}

int64_t quant_rshift_even(int64_t x, int n)
{
    QS_ASSERT(n >= 0 && n <= 63);
    if (n == 0)
        return x;
    int64_t q = x >> n; /* floor(x / 2^n) */
    uint64_t rem = (uint64_t)x & ((UINT64_C(1) << n) - 1);
    uint64_t half = UINT64_C(1) << (n - 1);
    /* q + 1 cannot overflow: q <= INT64_MAX / 2 for n >= 1 */
    return q + (rem > half || (rem == half && (q & 1)));
}

int32_t quant_requant(int32_t acc, Requant r, int32_t z_out, int32_t lo, int32_t hi)
{
    int64_t p = (int64_t)acc * r.m0; /* |p| <= 2^62: fits */
    int64_t n = 31 + (int64_t)r.shift;
    int64_t v;
    if (n > 62) {
        v = 0; /* |p| / 2^63 <= 1/2, which rounds to 0 (a tie goes to the even 0) */
    } else if (n >= 0) {
        v = quant_rshift_even(p, (int)n);
    } else {
        /* m >= 1 multiplies. Anything beyond 2^40 in magnitude clamps to the same end of
         * [lo, hi] (lo, hi and z_out are int32), so saturate there instead of overflowing. */
        const int64_t lim = INT64_C(1) << 40;
        int64_t k = -n;
        int64_t cap = k > 40 ? 0 : lim >> k;
        v = p > cap ? lim : p < -cap ? -lim : k > 40 ? 0 : p * ((int64_t)1 << k);
    }
    v += z_out;
    return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

bool quant_finite_range(const float *x, int64_t n, float *lo, float *hi)
{
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (isfinite(v)) {
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
    }
    bool any = mn <= mx;
    *lo = any ? mn : 0.0f;
    *hi = any ? mx : 0.0f;
    return any;
}
