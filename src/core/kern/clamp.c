/* One file for the three levels: the kernel is a compare and a blend, too small to split. */
#include "kern/clamp.h"

#include <immintrin.h>

#include "kern/pool.h"
#include "kern/simd.h"

typedef struct ClampJob {
    const float *x;
    float *y;
    float lo, hi;
} ClampJob;

static void clamp_scalar(const ClampJob *j, int64_t b, int64_t e)
{
    for (int64_t i = b; i < e; i++) {
        j->y[i] = clamp_value(j->x[i], j->lo, j->hi);
    }
}

/* clamp_value on lanes: min(hi, v) is v when v is NaN and when hi == v (so -0 stays), then
 * v < lo takes lo. */
__attribute__((target("avx2,fma"))) static inline __m256 clamp8(__m256 v, __m256 lo, __m256 hi)
{
    return _mm256_blendv_ps(_mm256_min_ps(hi, v), lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
}

__attribute__((target("avx512f"))) static inline __m512 clamp16(__m512 v, __m512 lo, __m512 hi)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), _mm512_min_ps(hi, v), lo);
}

__attribute__((target("avx2,fma"))) static void clamp_avx2(const ClampJob *j, int64_t b,
                                                             int64_t e)
{
    __m256 lo = _mm256_set1_ps(j->lo), hi = _mm256_set1_ps(j->hi);
    int64_t i = b;
    for (; i + 8 <= e; i += 8)
        _mm256_storeu_ps(j->y + i, clamp8(_mm256_loadu_ps(j->x + i), lo, hi));
    clamp_scalar(j, i, e);
}

__attribute__((target("avx512f"))) static void clamp_avx512(const ClampJob *j, int64_t b,
                                                              int64_t e)
{
    __m512 lo = _mm512_set1_ps(j->lo), hi = _mm512_set1_ps(j->hi);
    int64_t i = b;
    for (; i + 16 <= e; i += 16)
        _mm512_storeu_ps(j->y + i, clamp16(_mm512_loadu_ps(j->x + i), lo, hi));
    clamp_scalar(j, i, e);
}

static void clamp_range(void *ctx, int64_t b, int64_t e)
{
    const ClampJob *j = ctx;
    switch (simd_level()) {
    case SIMD_AVX512:
        clamp_avx512(j, b, e);
        break;
    case SIMD_AVX2:
        clamp_avx2(j, b, e);
        break;
    default:
        clamp_scalar(j, b, e);
    }
}

void clamp_f32(const float *x, float *y, int64_t n, float lo, float hi)
{
    ClampJob j = { x, y, lo, hi };
    pool_for(n, 1 << 14, clamp_range, &j); /* 64 KB a part at least: no thread for less */
}

static void norm_clamp_scalar(const float *x, float *y, int64_t b, int64_t e, float sub,
                              float mul, float add, bool clamp, float lo, float hi)
{
    for (int64_t i = b; i < e; i++) {
        float v = norm_affine(x[i], sub, mul, add);
        y[i] = clamp ? clamp_value(v, lo, hi) : v;
    }
}

__attribute__((target("avx2,fma"))) static void
norm_clamp_avx2(const float *x, float *y, int64_t n, float sub, float mul, float add,
                bool clamp, float lo, float hi)
{
    __m256 s = _mm256_set1_ps(sub), m = _mm256_set1_ps(mul), a = _mm256_set1_ps(add);
    __m256 l = _mm256_set1_ps(lo), h = _mm256_set1_ps(hi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), s), m), a);
        if (clamp)
            v = clamp8(v, l, h);
        _mm256_storeu_ps(y + i, v);
    }
    norm_clamp_scalar(x, y, i, n, sub, mul, add, clamp, lo, hi);
}

__attribute__((target("avx512f"))) static void
norm_clamp_avx512(const float *x, float *y, int64_t n, float sub, float mul, float add,
                  bool clamp, float lo, float hi)
{
    __m512 s = _mm512_set1_ps(sub), m = _mm512_set1_ps(mul), a = _mm512_set1_ps(add);
    __m512 l = _mm512_set1_ps(lo), h = _mm512_set1_ps(hi);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), s), m), a);
        if (clamp)
            v = clamp16(v, l, h);
        _mm512_storeu_ps(y + i, v);
    }
    norm_clamp_scalar(x, y, i, n, sub, mul, add, clamp, lo, hi);
}

void norm_clamp_f32(const float *x, float *y, int64_t n, float sub, float mul, float add,
                    bool clamp, float lo, float hi)
{
    switch (simd_level()) {
    case SIMD_AVX512:
        norm_clamp_avx512(x, y, n, sub, mul, add, clamp, lo, hi);
        break;
    case SIMD_AVX2:
        norm_clamp_avx2(x, y, n, sub, mul, add, clamp, lo, hi);
        break;
    default:
        norm_clamp_scalar(x, y, 0, n, sub, mul, add, clamp, lo, hi);
    }
}
