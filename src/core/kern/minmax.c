/* One file for the three levels. The vector levels take min and max per lane, which are
 * exact whatever the order, except for the sign of a zero extreme: that one is fixed
 * afterwards from the first zero of the run, as the scalar scan (v < mn ? v : mn, from
 * +inf) keeps the first zero it meets once nothing below zero is left to meet. */
#include "kern/minmax.h"

#include <immintrin.h>
#include <math.h>

#include "base/quant.h"
#include "kern/simd.h"

static inline __attribute__((always_inline)) void
range_scalar(const float *x, int64_t b, int64_t e, float *mn, float *mx)
{
    for (int64_t i = b; i < e; i++) {
        float v = x[i];
        if (isfinite(v)) {
            *mn = v < *mn ? v : *mn;
            *mx = v > *mx ? v : *mx;
        }
    }
}

__attribute__((target("avx2,fma"))) static void range_avx2(const float *x, int64_t n, float *mn,
                                                             float *mx)
{
    __m256 lo = _mm256_set1_ps(INFINITY), hi = _mm256_set1_ps(-INFINITY);
    __m256 inf = _mm256_set1_ps(INFINITY), sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 fin = _mm256_cmp_ps(_mm256_andnot_ps(sign, v), inf, _CMP_LT_OQ);
        lo = _mm256_blendv_ps(lo, _mm256_min_ps(lo, v), fin);
        hi = _mm256_blendv_ps(hi, _mm256_max_ps(hi, v), fin);
    }
    float l[8], h[8];
    _mm256_storeu_ps(l, lo);
    _mm256_storeu_ps(h, hi);
    for (int k = 0; k < 8; k++) {
        *mn = l[k] < *mn ? l[k] : *mn;
        *mx = h[k] > *mx ? h[k] : *mx;
    }
    range_scalar(x, i, n, mn, mx);
}

__attribute__((target("avx512f"))) static void range_avx512(const float *x, int64_t n, float *mn,
                                                              float *mx)
{
    __m512 lo = _mm512_set1_ps(INFINITY), hi = _mm512_set1_ps(-INFINITY);
    __m512 inf = _mm512_set1_ps(INFINITY);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __mmask16 fin = _mm512_cmp_ps_mask(_mm512_abs_ps(v), inf, _CMP_LT_OQ);
        lo = _mm512_mask_min_ps(lo, fin, lo, v);
        hi = _mm512_mask_max_ps(hi, fin, hi, v);
    }
    float l[16], h[16];
    _mm512_storeu_ps(l, lo);
    _mm512_storeu_ps(h, hi);
    for (int k = 0; k < 16; k++) {
        *mn = l[k] < *mn ? l[k] : *mn;
        *mx = h[k] > *mx ? h[k] : *mx;
    }
    range_scalar(x, i, n, mn, mx);
}

bool finite_range_f32(const float *x, int64_t n, float *lo, float *hi)
{
    float mn = INFINITY, mx = -INFINITY;
    switch (simd_level()) {
    case SIMD_AVX512:
        range_avx512(x, n, &mn, &mx);
        break;
    case SIMD_AVX2:
        range_avx2(x, n, &mn, &mx);
        break;
    default:
        return quant_finite_range(x, n, lo, hi);
    }
    if (mn == 0.0f || mx == 0.0f) { /* a zero extreme: the first zero's sign */
        int64_t i = 0;
        while (x[i] != 0.0f)
            i++; /* there is one: mn or mx is a value of x */
        if (mn == 0.0f)
            mn = x[i];
        if (mx == 0.0f)
            mx = x[i];
    }
    bool any = mn <= mx;
    *lo = any ? mn : 0.0f;
    *hi = any ? mx : 0.0f;
    return any;
}
