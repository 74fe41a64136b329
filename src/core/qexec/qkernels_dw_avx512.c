/* The depthwise plane with AVX-512 on a padded plane (qkernels_dw.h): 16 outputs of a row
 * in one register across every tap, stored once with a mask at the row's end. Stride 2
 * takes the low byte of each 16-bit word of 32 loaded bytes. Loads may run into the next
 * row or the slack, only into lanes that are never stored. Same integers as the
 * reference. */
#include "qexec/qkernels_dw.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
qk_dw_padded_avx512(const ConvAttrs *a, const CDims *d, const int8_t *pad, const int8_t *wk,
                    int32_t zp, int32_t *acc)
{
    const int64_t wp = qk_dw_pad_w(a, d), sw = a->w.sw;
    const __m512i vz = _mm512_set1_epi32(zp);
    for (int64_t oh = 0; oh < d->oh; oh++) {
        int32_t *ar = acc + oh * d->ow;
        for (int64_t ow = 0; ow < d->ow; ow += 16) {
            __m512i s = _mm512_setzero_si512();
            for (int64_t i = 0; i < a->w.kh; i++) {
                const int8_t *row = pad + (oh * a->w.sh + i * a->w.dh) * wp + ow * sw;
                for (int64_t j = 0; j < a->w.kw; j++) {
                    const int8_t *p = row + j * a->w.dw;
                    __m512i v;
                    if (sw == 1)
                        v = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p));
                    else
                        v = _mm512_srai_epi32(
                            _mm512_slli_epi32(
                                _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)),
                                24),
                            24);
                    v = _mm512_sub_epi32(v, vz);
                    s = _mm512_add_epi32(
                        s, _mm512_mullo_epi32(v, _mm512_set1_epi32(wk[i * a->w.kw + j])));
                }
            }
            int64_t left = d->ow - ow;
            __mmask16 m = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            _mm512_mask_storeu_epi32(ar + ow, m, s);
        }
    }
}

#else
typedef int qk_dw_avx512_empty; /* ISO C wants a declaration in every translation unit */
#endif
