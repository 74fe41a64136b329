/* One file for the three levels: a divide, a round, a clamp and a multiply. */
#include "kern/fakequant.h"

#include <immintrin.h>
#include <math.h>

#include "kern/simd.h"

static void fq_scalar(const float *x, float *y, int64_t b, int64_t e, float s, float lo,
                      float hi)
{
    for (int64_t i = b; i < e; i++) {
        float v = x[i];
        if (v != v) {
            y[i] = v;
            continue;
        }
        float r = rintf(v / s);
        r = r < lo ? lo : r > hi ? hi : r;
        y[i] = s * (r + 0.0f); /* + 0: the code -0 is the integer 0 */
    }
}

__attribute__((target("avx2,fma"))) static void fq_avx2(const float *x, float *y, int64_t n,
                                                         float s, float lo, float hi)
{
    __m256 vs = _mm256_set1_ps(s), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    __m256 zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 r = _mm256_round_ps(_mm256_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT |
                                                         _MM_FROUND_NO_EXC);
        r = _mm256_min_ps(_mm256_max_ps(r, vlo), vhi);
        __m256 q = _mm256_mul_ps(vs, _mm256_add_ps(r, zero));
        _mm256_storeu_ps(y + i, _mm256_blendv_ps(q, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    }
    fq_scalar(x, y, i, n, s, lo, hi);
}

__attribute__((target("avx512f"))) static void fq_avx512(const float *x, float *y, int64_t n,
                                                          float s, float lo, float hi)
{
    __m512 vs = _mm512_set1_ps(s), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    __m512 zero = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 r = _mm512_roundscale_ps(_mm512_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT |
                                                                  _MM_FROUND_NO_EXC);
        r = _mm512_min_ps(_mm512_max_ps(r, vlo), vhi);
        __m512 q = _mm512_mul_ps(vs, _mm512_add_ps(r, zero));
        _mm512_storeu_ps(y + i, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q),
                                                     q, v));
    }
    fq_scalar(x, y, i, n, s, lo, hi);
}

void fakequant_f32(const float *x, float *y, int64_t n, float s, float lo, float hi)
{
    switch (simd_level()) {
    case SIMD_AVX512:
        fq_avx512(x, y, n, s, lo, hi);
        break;
    case SIMD_AVX2:
        fq_avx2(x, y, n, s, lo, hi);
        break;
    default:
        fq_scalar(x, y, 0, n, s, lo, hi);
    }
}
