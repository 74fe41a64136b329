/* The depthwise row (qkernels.h: qk_dw_row_ref's contract) with AVX-512: 16 int32 lanes
 * of (x - zp) w at stride 1; other strides go to the AVX2 row. Same integers as the
 * reference. */
#include "qexec/qkernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
qk_dw_row_avx512(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp, int32_t w)
{
    if (s != 1) {
        qk_dw_row_avx2(acc, x, s, n, zp, w);
        return;
    }
    const __m512i vz = _mm512_set1_epi32(zp), vw = _mm512_set1_epi32(w);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        __m512i p = _mm512_mullo_epi32(_mm512_sub_epi32(v, vz), vw);
        _mm512_storeu_si512(acc + i, _mm512_add_epi32(_mm512_loadu_si512(acc + i), p));
    }
    if (i < n) { /* masked: nothing past the row is read or written */
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512i v = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, x + i));
        __m512i p = _mm512_mullo_epi32(_mm512_sub_epi32(v, vz), vw);
        _mm512_mask_storeu_epi32(acc + i, m,
                                 _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, acc + i), p));
    }
}

#else
typedef int qk_dw_avx512_empty; /* ISO C wants a declaration in every translation unit */
#endif
