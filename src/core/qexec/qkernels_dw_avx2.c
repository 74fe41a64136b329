/* The depthwise plane with AVX2 on a padded plane (qkernels_dw.h): 8 outputs of a row in
 * one register across every tap, (x - zp) w exact in int32 lanes (|x - zp| <= 255,
 * |w| <= 128), stored once. Strides 1 and 2 (the even bytes of 16 loaded); loads may run
 * into the next row or the slack, only into lanes that are never stored. */
#include "qexec/qkernels_dw.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

__attribute__((target("avx2"))) void qk_dw_padded_avx2(const ConvAttrs *a, const CDims *d,
                                                       const int8_t *pad, const int8_t *wk,
                                                       int32_t zp, int32_t *acc)
{
    const int64_t wp = qk_dw_pad_w(a, d), sw = a->w.sw;
    const __m256i vz = _mm256_set1_epi32(zp);
    const __m128i even = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1,
                                       -1, -1);
    for (int64_t oh = 0; oh < d->oh; oh++) {
        int32_t *ar = acc + oh * d->ow;
        for (int64_t ow = 0; ow < d->ow; ow += 8) {
            __m256i s = _mm256_setzero_si256();
            for (int64_t i = 0; i < a->w.kh; i++) {
                const int8_t *row = pad + (oh * a->w.sh + i * a->w.dh) * wp + ow * sw;
                for (int64_t j = 0; j < a->w.kw; j++) {
                    const int8_t *p = row + j * a->w.dw;
                    __m128i b = sw == 1 ? _mm_loadl_epi64((const __m128i *)p)
                                        : _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p),
                                                           even);
                    __m256i v = _mm256_sub_epi32(_mm256_cvtepi8_epi32(b), vz);
                    s = _mm256_add_epi32(
                        s, _mm256_mullo_epi32(v, _mm256_set1_epi32(wk[i * a->w.kw + j])));
                }
            }
            if (d->ow - ow >= 8) {
                _mm256_storeu_si256((__m256i *)(ar + ow), s);
            } else {
                int32_t out[8];
                _mm256_storeu_si256((__m256i *)out, s);
                memcpy(ar + ow, out, (size_t)(d->ow - ow) * sizeof(int32_t));
            }
        }
    }
}

#else
typedef int qk_dw_avx2_empty; /* ISO C wants a declaration in every translation unit */
#endif
