/* Byte kernels of the int8 engine in SSE2 registers (every x86-64 has them), pure data
 * movement or comparisons, so every version stores the same bytes: the transpose of a
 * conv's GEMM rows (pixels x channels) into its channel-major output planes and of a
 * pointwise conv's input planes into im2row rows, and the signed max and clamp of MaxPool
 * and Relu / Clip (SSE2 compares bytes unsigned only: x ^ 0x80 maps int8 onto uint8
 * keeping the order). */
#include <string.h>

#include "qexec/qkernels.h"

#if defined(__x86_64__)
#include <emmintrin.h>

/* The 16 x 16 bytes r[i][j] transposed in place into r[j][i] (64 unpacks). After the stage
 * of width W bytes, an element of W bytes holds one column of W consecutive rows. */
static inline __attribute__((always_inline)) void qt_transpose16(__m128i r[16])
{
    __m128i a[8][2], b[4][4], c[2][8];
    for (int g = 0; g < 8; g++) { /* rows 2g, 2g + 1; a[g][h]: columns 8h .. 8h + 7 */
        a[g][0] = _mm_unpacklo_epi8(r[2 * g], r[2 * g + 1]);
        a[g][1] = _mm_unpackhi_epi8(r[2 * g], r[2 * g + 1]);
    }
    for (int g = 0; g < 4; g++) /* rows 4g .. 4g + 3; b[g][k]: columns 4k .. 4k + 3 */
        for (int h = 0; h < 2; h++) {
            b[g][2 * h] = _mm_unpacklo_epi16(a[2 * g][h], a[2 * g + 1][h]);
            b[g][2 * h + 1] = _mm_unpackhi_epi16(a[2 * g][h], a[2 * g + 1][h]);
        }
    for (int g = 0; g < 2; g++) /* rows 8g .. 8g + 7; c[g][m]: columns 2m, 2m + 1 */
        for (int k = 0; k < 4; k++) {
            c[g][2 * k] = _mm_unpacklo_epi32(b[2 * g][k], b[2 * g + 1][k]);
            c[g][2 * k + 1] = _mm_unpackhi_epi32(b[2 * g][k], b[2 * g + 1][k]);
        }
    for (int m = 0; m < 8; m++) {
        r[2 * m] = _mm_unpacklo_epi64(c[0][m], c[1][m]);
        r[2 * m + 1] = _mm_unpackhi_epi64(c[0][m], c[1][m]);
    }
}
#endif

#if defined(__x86_64__)
/* The first n (< 16) bytes of v to dst, in pieces of 8, 4, 2 and 1. */
static inline void qt_store_part(int8_t *dst, __m128i v, int64_t n)
{
    if (n & 8) {
        _mm_storel_epi64((__m128i *)dst, v);
        v = _mm_srli_si128(v, 8);
        dst += 8;
    }
    if (n & 4) {
        int32_t w = _mm_cvtsi128_si32(v);
        memcpy(dst, &w, 4);
        v = _mm_srli_si128(v, 4);
        dst += 4;
    }
    if (n & 2) {
        int16_t h = (int16_t)_mm_cvtsi128_si32(v);
        memcpy(dst, &h, 2);
        v = _mm_srli_si128(v, 2);
        dst += 2;
    }
    if (n & 1)
        *dst = (int8_t)_mm_cvtsi128_si32(v);
}

/* Columns j .. j + 15, rows i .. i + n - 1 (n <= 16). */
static inline void qt_tile(const int8_t *src, int64_t ls, int64_t i, int64_t n, int64_t j,
                           int8_t *dst, int64_t ld)
{
    __m128i r[16];
    for (int t = 0; t < 16; t++)
        r[t] = t < n ? _mm_loadu_si128((const __m128i *)(src + (i + t) * ls + j))
                     : _mm_setzero_si128();
    qt_transpose16(r);
    for (int t = 0; t < 16; t++) {
        if (n == 16)
            _mm_storeu_si128((__m128i *)(dst + (j + t) * ld + i), r[t]);
        else
            qt_store_part(dst + (j + t) * ld + i, r[t], n);
    }
}
#endif

void qk_transpose_i8(const int8_t *src, int64_t ls, int64_t rows, int64_t cols, int8_t *dst,
                     int64_t ld)
{
#if defined(__x86_64__)
    /* Whole 16 x 16 tiles, the last row and column tiles shifted back to end at the edge:
     * they rewrite a few bytes with the same values. Fewer than 16 rows: partial stores. */
    if (cols >= 16) {
        for (int64_t j0 = 0; j0 < cols; j0 += 16) {
            int64_t j = j0 + 16 <= cols ? j0 : cols - 16;
            if (rows < 16) {
                qt_tile(src, ls, 0, rows, j, dst, ld);
                continue;
            }
            for (int64_t i0 = 0; i0 < rows; i0 += 16)
                qt_tile(src, ls, i0 + 16 <= rows ? i0 : rows - 16, 16, j, dst, ld);
        }
        return;
    }
#endif
    for (int64_t j = 0; j < cols; j++)
        for (int64_t i = 0; i < rows; i++)
            dst[j * ld + i] = src[i * ls + j];
}

void qk_max_i8(int8_t *m, const int8_t *x, int64_t n)
{
    int64_t i = 0;
#if defined(__x86_64__)
    const __m128i flip = _mm_set1_epi8((char)0x80);
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(m + i)), flip);
        __m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + i)), flip);
        _mm_storeu_si128((__m128i *)(m + i), _mm_xor_si128(_mm_max_epu8(a, b), flip));
    }
#endif
    for (; i < n; i++)
        m[i] = x[i] > m[i] ? x[i] : m[i];
}

void qk_clamp_i8(const int8_t *x, int8_t *y, int64_t n, int8_t lo, int8_t hi)
{
    int64_t i = 0;
#if defined(__x86_64__)
    const __m128i flip = _mm_set1_epi8((char)0x80);
    const __m128i vlo = _mm_xor_si128(_mm_set1_epi8(lo), flip);
    const __m128i vhi = _mm_xor_si128(_mm_set1_epi8(hi), flip);
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + i)), flip);
        v = _mm_min_epu8(_mm_max_epu8(v, vlo), vhi);
        _mm_storeu_si128((__m128i *)(y + i), _mm_xor_si128(v, flip));
    }
#endif
    for (; i < n; i++)
        y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

#if defined(__x86_64__)
/* Eight 2x2 windows: 16 bytes of each row, flipped to unsigned; max down, then of each
 * byte pair (the odd byte shifted onto the even one), the pairs' low bytes packed. */
static inline __m128i qp_max2x2_8(const int8_t *r0, const int8_t *r1, __m128i flip)
{
    __m128i v = _mm_max_epu8(_mm_xor_si128(_mm_loadu_si128((const __m128i *)r0), flip),
                             _mm_xor_si128(_mm_loadu_si128((const __m128i *)r1), flip));
    v = _mm_and_si128(_mm_max_epu8(v, _mm_srli_epi16(v, 8)), _mm_set1_epi16(0xff));
    return _mm_xor_si128(_mm_packus_epi16(v, v), flip);
}
#endif

void qk_maxpool2x2_row(const int8_t *r0, const int8_t *r1, int64_t n, int8_t *y)
{
    int64_t o = 0;
#if defined(__x86_64__)
    /* blocks of 8 outputs, the last one shifted back to end at n: it rewrites a few
     * outputs with the same values */
    const __m128i flip = _mm_set1_epi8((char)0x80);
    if (n >= 8) {
        for (; o < n; o += 8) {
            int64_t at = o + 8 <= n ? o : n - 8;
            _mm_storel_epi64((__m128i *)(y + at), qp_max2x2_8(r0 + 2 * at, r1 + 2 * at, flip));
        }
        return;
    }
#endif
    for (; o < n; o++) {
        int8_t m0 = r0[2 * o] > r0[2 * o + 1] ? r0[2 * o] : r0[2 * o + 1];
        int8_t m1 = r1[2 * o] > r1[2 * o + 1] ? r1[2 * o] : r1[2 * o + 1];
        y[o] = m0 > m1 ? m0 : m1;
    }
}

int32_t qk_sum_i8(const int8_t *x, int64_t n)
{
    int64_t i = 0;
    int32_t sum = 0;
#if defined(__x86_64__)
    /* flipped to unsigned, 16 bytes summed per psadbw into two 64-bit lanes; the flip
     * adds 128 per byte, taken off at the end */
    const __m128i flip = _mm_set1_epi8((char)0x80), zero = _mm_setzero_si128();
    __m128i acc = zero;
    for (; i + 16 <= n; i += 16)
        acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + i)),
                                                            flip), zero));
    acc = _mm_add_epi64(acc, _mm_srli_si128(acc, 8));
    sum = (int32_t)(_mm_cvtsi128_si64(acc) - 128 * i);
#endif
    for (; i < n; i++)
        sum += x[i];
    return sum;
}
