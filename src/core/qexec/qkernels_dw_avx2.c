/* The depthwise row (qkernels.h: qk_dw_row_ref's contract) with AVX2: 8 int32 lanes of
 * (x - zp) w, exact (|x - zp| <= 255, |w| <= 128), added to the accumulators. Strides 1
 * and 2 are vectorized (the common ones); the loads never read past the last tap. */
#include "qexec/qkernels_dw.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline __attribute__((always_inline, target("avx2"))) void
qk_dw_row_avx2_inl(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp, int32_t w)
{
    const __m256i vz = _mm256_set1_epi32(zp), vw = _mm256_set1_epi32(w);
    int64_t i = 0;
    if (s == 1) {
        for (; i + 8 <= n; i += 8) {
            __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + i)));
            __m256i p = _mm256_mullo_epi32(_mm256_sub_epi32(v, vz), vw);
            __m256i *a = (__m256i *)(acc + i);
            _mm256_storeu_si256(a, _mm256_add_epi32(_mm256_loadu_si256(a), p));
        }
    } else if (s == 2) {
        /* 16 bytes from x + 2i end at tap 2i + 15, inside the row while i + 8 < n */
        const __m128i even = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1,
                                           -1, -1);
        for (; i + 8 < n; i += 8) {
            __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(x + 2 * i)), even);
            __m256i p = _mm256_mullo_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(b), vz), vw);
            __m256i *a = (__m256i *)(acc + i);
            _mm256_storeu_si256(a, _mm256_add_epi32(_mm256_loadu_si256(a), p));
        }
    }
    for (; i < n; i++)
        acc[i] += ((int32_t)x[i * s] - zp) * w;
}

__attribute__((target("avx2"))) void qk_dw_row_avx2(int32_t *acc, const int8_t *x, int64_t s,
                                                    int64_t n, int32_t zp, int32_t w)
{
    qk_dw_row_avx2_inl(acc, x, s, n, zp, w);
}

__attribute__((target("avx2"))) void qk_dw_plane_avx2(const ConvAttrs *a, const CDims *d,
                                                      const int8_t *xp, const int8_t *wk,
                                                      int32_t zp, int32_t *acc)
{
    QK_DW_PLANE_BODY(qk_dw_row_avx2_inl)
}

#else
typedef int qk_dw_avx2_empty; /* ISO C wants a declaration in every translation unit */
#endif
