/* The depthwise row (qkernels.h: qk_dw_row_ref's contract) with AVX-512: 16 int32 lanes
 * of (x - zp) w, masked at the end of the row (nothing past it is read or written); stride
 * 2 takes the even bytes of 32 loaded ones (masked to the row). Same integers as the
 * reference. */
#include "qexec/qkernels_dw.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define QD_TARGET "avx512f,avx512bw,avx512dq,avx512vl"

static inline __attribute__((always_inline, target(QD_TARGET))) void
qk_dw_row_avx512_inl(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp, int32_t w)
{
    if (s > 2) {
        for (int64_t i = 0; i < n; i++)
            acc[i] += ((int32_t)x[i * s] - zp) * w;
        return;
    }
    const __m512i vz = _mm512_set1_epi32(zp), vw = _mm512_set1_epi32(w);
    /* stride 2: the low byte of each 16-bit word of 32 bytes, sign-extended */
    for (int64_t i = 0; i < n; i += 16) {
        int64_t left = n - i;
        __mmask16 m = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        __m512i v;
        if (s == 1) {
            v = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, x + i));
        } else {
            int64_t nb = 2 * left - 1 < 32 ? 2 * left - 1 : 32; /* the last tap is byte 2n-2 */
            __mmask32 mb = nb >= 32 ? 0xffffffffu : (__mmask32)((1u << nb) - 1);
            __m256i b = _mm256_maskz_loadu_epi8(mb, x + 2 * i);
            v = _mm512_srai_epi32(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 24), 24);
        }
        __m512i p = _mm512_mullo_epi32(_mm512_sub_epi32(v, vz), vw);
        _mm512_mask_storeu_epi32(acc + i, m,
                                 _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, acc + i), p));
    }
}

__attribute__((target(QD_TARGET))) void qk_dw_row_avx512(int32_t *acc, const int8_t *x,
                                                         int64_t s, int64_t n, int32_t zp,
                                                         int32_t w)
{
    qk_dw_row_avx512_inl(acc, x, s, n, zp, w);
}

__attribute__((target(QD_TARGET))) void qk_dw_plane_avx512(const ConvAttrs *a, const CDims *d,
                                                           const int8_t *xp, const int8_t *wk,
                                                           int32_t zp, int32_t *acc)
{
    QK_DW_PLANE_BODY(qk_dw_row_avx512_inl)
}

#else
typedef int qk_dw_avx512_empty; /* ISO C wants a declaration in every translation unit */
#endif
