/* The requantization of int32 accumulators into int8 under each target's rule
 * (quant_requant_rule): a row of accumulators, with strides so that an epilogue can walk
 * a column of a GEMM block. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "qexec/qkernels.h"

static inline int32_t qk_sat32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* y[i * sy] = the requantization of sat32(acc[i] + corr) under r.rule (quant_requant_rule); the
 * qscope rule, clamp(z + round_half_even(sat32(acc[i] + corr) m0 / 2^(31 + shift)), lo, hi),
 * is quant_requant's arithmetic inlined for a row with the common case 31 + shift in
 * [1, 62]; any other shift goes through quant_requant itself. Both are exact integer
 * arithmetic, so they agree on every input. */
/* The fp32 rule (XNNPACK, ONNX Runtime): (float)acc * scale clamped to [lo - z, hi - z] in
 * float, rounded to nearest even (the 1.5 * 2^23 trick, exact for |v| <= 2^22, which the
 * int8 clamp ensures), then z. */
static void qk_requant_row_fp32(const int32_t *acc, int64_t sa, int64_t n, int64_t corr,
                                Requant r, int32_t z, int32_t lo, int32_t hi, int8_t *y,
                                int64_t sy)
{
    const float sc = r.scale, flo = (float)(lo - z), fhi = (float)(hi - z), magic = 0x1.8p23f;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = (int64_t)acc[i * sa] + corr;
        a = a > INT32_MAX ? INT32_MAX : a < INT32_MIN ? INT32_MIN : a;
        float v = (float)(int32_t)a * sc;
        v = v > flo ? v : flo;
        v = v < fhi ? v : fhi;
        v = (v + magic) - magic;
        y[i * sy] = (int8_t)((int32_t)v + z);
    }
}

/* TFLite's double rounding (quant_mul_gemmlowp) written out branch-free for a row. m0 >= 0
 * (quant_requant_make_gemmlowp), so the doubling high multiply never saturates here; its
 * division by 2^31 truncates toward zero (a floor shift after adding 2^31 - 1 to a negative
 * value). tests/unit/test_target.c compares it with quant_requant_rule. */
static void qk_requant_row_gemmlowp(const int32_t *acc, int64_t sa, int64_t n, int64_t corr,
                                    Requant r, int32_t z, int32_t lo, int32_t hi, int8_t *y,
                                    int64_t sy)
{
    int tshift = -r.shift;
    int left = tshift > 0 ? (tshift < 31 ? tshift : 31) : 0;
    int right = tshift < 0 ? (-tshift < 31 ? -tshift : 31) : 0;
    const int64_t m0 = r.m0, pos = INT64_C(1) << 30, neg = 1 - (INT64_C(1) << 30);
    const int64_t trunc = (INT64_C(1) << 31) - 1;
    const int32_t mask = (int32_t)((INT64_C(1) << right) - 1), half = mask >> 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = (int64_t)acc[i * sa] + corr;
        a = a > INT32_MAX ? INT32_MAX : a < INT32_MIN ? INT32_MIN : a;
        int32_t xs = (int32_t)((uint32_t)(int32_t)a << left);
        int64_t p = (int64_t)xs * m0;
        p += p >= 0 ? pos : neg;
        int32_t h = (int32_t)((p + ((p >> 63) & trunc)) >> 31);
        int32_t v = (h >> right) + ((h & mask) > half + (h < 0));
        int64_t q = (int64_t)v + z;
        y[i * sy] = (int8_t)(q < lo ? lo : q > hi ? hi : q);
    }
}

void qk_requant_row(const int32_t *acc, int64_t sa, int64_t n, int64_t corr, Requant r,
                    int32_t z, int32_t lo, int32_t hi, int8_t *y, int64_t sy)
{
    if (r.rule == QRQ_FP32) {
        qk_requant_row_fp32(acc, sa, n, corr, r, z, lo, hi, y, sy);
        return;
    }
    if (r.rule == QRQ_GEMMLOWP) {
        qk_requant_row_gemmlowp(acc, sa, n, corr, r, z, lo, hi, y, sy);
        return;
    }
    int sh = 31 + r.shift;
    if (sh < 1 || sh > 62) {
        for (int64_t i = 0; i < n; i++)
            y[i * sy] = (int8_t)quant_requant(qk_sat32(acc[i * sa] + corr), r, z, lo, hi);
        return;
    }
    /* Branch-free rounding: with p = k 2^sh + r (0 <= r < 2^sh, >> a floor shift),
     * (p + 2^(sh-1) - 1 + (k & 1)) >> sh is k for r below half, k + 1 above, and the even
     * one of the two at r == half. |p| <= 2^62, so the sum cannot overflow. */
    const int64_t m0 = r.m0, bias = ((int64_t)1 << (sh - 1)) - 1;
    const int64_t lo64 = (int64_t)lo - z, hi64 = (int64_t)hi - z;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = (int64_t)acc[i * sa] + corr;
        a = a > INT32_MAX ? INT32_MAX : a < INT32_MIN ? INT32_MIN : a;
        int64_t p = a * m0;
        int64_t q = (p + bias + ((p >> sh) & 1)) >> sh;
        q = q < lo64 ? lo64 : q > hi64 ? hi64 : q;
        y[i * sy] = (int8_t)(q + z);
    }
}


void qk_rqvec_make(const Requant *rq, int64_t n, QkRqVec *v)
{
    memset(v, 0, sizeof *v);
    size_t nn = (size_t)(n > 0 ? n : 1);
    v->m0 = xcalloc(5 * nn, sizeof(int64_t));
    v->a = v->m0 + nn;
    v->b = v->a + nn;
    v->c = v->b + nn;
    v->d = v->c + nn;
    v->scale = xcalloc(nn, sizeof(float));
    v->rule = n > 0 ? rq[0].rule : -1;
    for (int64_t i = 0; i < n; i++) {
        const Requant *r = &rq[i];
        if (r->rule != v->rule)
            v->rule = -1;
        v->m0[i] = r->m0;
        v->scale[i] = r->scale;
        if (r->rule == QRQ_GEMMLOWP) {
            int tshift = -r->shift;
            v->a[i] = tshift > 0 ? (tshift < 31 ? tshift : 31) : 0;
            v->b[i] = tshift < 0 ? (-tshift < 31 ? -tshift : 31) : 0;
            v->c[i] = (INT64_C(1) << v->b[i]) - 1;
            v->d[i] = v->c[i] >> 1;
        } else if (r->rule != QRQ_FP32) {
            int sh = 31 + r->shift;
            if (sh < 1 || sh > 62)
                v->rule = -1;
            else {
                v->a[i] = sh;
                v->b[i] = (INT64_C(1) << (sh - 1)) - 1;
            }
        }
    }
}

void qk_rqvec_free(QkRqVec *v)
{
    free(v->m0);
    free(v->scale);
    memset(v, 0, sizeof *v);
}

QkRqVec qk_rqvec_at(const QkRqVec *v, int64_t c0)
{
    QkRqVec w = *v;
    w.m0 += c0;
    w.a += c0;
    w.b += c0;
    w.c += c0;
    w.d += c0;
    w.scale += c0;
    return w;
}

void qk_requant_block(const int32_t *acc, int64_t ld, int64_t rows, int64_t n,
                      const int64_t *corr, const Requant *rq, const QkRqVec *v, int32_t z,
                      int32_t lo, int32_t hi, int8_t *y, int64_t ys, SimdLevel level)
{
#if defined(__x86_64__)
    if (level >= SIMD_AVX512 && v->rule >= 0) {
        qk_requant_block_avx512(acc, ld, rows, n, corr, v, z, lo, hi, y, ys);
        return;
    }
#else
    (void)v;
    (void)level;
#endif
    /* a column of the block per channel, its constants read once */
    for (int64_t j = 0; j < n; j++)
        qk_requant_row(acc + j, ld, rows, corr[j], rq[j], z, lo, hi, y + j, ys);
}

void qk_requant_row_at(const int32_t *acc, int64_t n, int64_t corr, const Requant *r,
                       const QkRqVec *v, int32_t z, int32_t lo, int32_t hi, int8_t *y,
                       SimdLevel level)
{
#if defined(__x86_64__)
    if (level >= SIMD_AVX512 && v->rule >= 0) {
        qk_requant_row_avx512(acc, n, corr, v, z, lo, hi, y);
        return;
    }
#else
    (void)v;
    (void)level;
#endif
    qk_requant_row(acc, 1, n, corr, *r, z, lo, hi, y, 1);
}

void qk_requant_runs(const int32_t *acc, int64_t n, int64_t p0, int64_t hw, int64_t corr,
                     const Requant *r, const QkRqVec *v, int32_t z, int32_t lo, int32_t hi,
                     int8_t *y, int64_t ys, SimdLevel level)
{
#if defined(__x86_64__)
    if (level >= SIMD_AVX512 && v->rule >= 0) {
        qk_requant_runs_avx512(acc, n, p0, hw, corr, v, z, lo, hi, y, ys);
        return;
    }
#else
    (void)v;
    (void)level;
#endif
    int8_t *yr = y + p0 / hw * ys;
    for (int64_t t = 0, p = p0 % hw; t < n; yr += ys, p = 0) {
        int64_t len = hw - p < n - t ? hw - p : n - t;
        qk_requant_row(acc + t, 1, len, corr, *r, z, lo, hi, yr + p, 1);
        t += len;
    }
}

void qk_requant_planes(const int32_t *acc, int64_t np, int64_t ohw, const int32_t *corr,
                       const Requant *rq, const QkRqVec *v, int32_t z, int32_t lo, int32_t hi,
                       int8_t *y, SimdLevel level)
{
#if defined(__x86_64__)
    if (level >= SIMD_AVX512 && v->rule >= 0) {
        qk_requant_planes_avx512(acc, np, ohw, corr, v, z, lo, hi, y);
        return;
    }
#else
    (void)v;
    (void)level;
#endif
    for (int64_t k = 0; k < np; k++)
        qk_requant_row(acc + k * ohw, 1, ohw, corr[k], rq[k], z, lo, hi, y + k * ohw, 1);
}
