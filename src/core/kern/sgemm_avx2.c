/* The AVX2+FMA microkernel: 6 rows x 16 columns of C in 12 ymm accumulators, the same
 * scheme as the AVX-512 one (kern/sgemm_avx512.c): lanes across n, one FMA per term in
 * increasing k, a variant per row count. */
#include <immintrin.h>

#include "kern/sgemm_internal.h"

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
#define MR 6

/* v < lo ? lo : v > hi ? hi : v, lane by lane (NaN compares false: stays NaN) */
INLINE TARGET __m256 clamp8(__m256 v, __m256 lo, __m256 hi)
{
    __m256 lt = _mm256_cmp_ps(v, lo, _CMP_LT_OQ), gt = _mm256_cmp_ps(v, hi, _CMP_GT_OQ);
    return _mm256_blendv_ps(_mm256_blendv_ps(v, hi, gt), lo, lt);
}

INLINE TARGET void tile_rows(const SgTile *t, const int m)
{
    __m256 c0[MR], c1[MR];
    float *c = t->c;
    const int64_t ldc = t->ldc, ldb = t->ldb;
#pragma GCC unroll 6
    for (int i = 0; i < m; i++) {
        switch (t->c0) {
        case SG_C0_LOAD:
            c0[i] = _mm256_loadu_ps(c + i * ldc);
            c1[i] = _mm256_loadu_ps(c + i * ldc + 8);
            break;
        case SG_C0_BIAS_M:
            c0[i] = c1[i] = _mm256_set1_ps(t->bias[i]);
            break;
        case SG_C0_BIAS_N:
            c0[i] = _mm256_loadu_ps(t->bias);
            c1[i] = _mm256_loadu_ps(t->bias + 8);
            break;
        default:
            c0[i] = c1[i] = _mm256_setzero_ps();
        }
    }
    const float *a = t->a, *b = t->b;
    for (int64_t k = 0; k < t->kc; k++, a += MR, b += ldb) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < m; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
        }
    }
    if (t->clamp) {
        __m256 lo = _mm256_set1_ps(t->lo), hi = _mm256_set1_ps(t->hi);
#pragma GCC unroll 6
        for (int i = 0; i < m; i++) {
            c0[i] = clamp8(c0[i], lo, hi);
            c1[i] = clamp8(c1[i], lo, hi);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < m; i++) {
        _mm256_storeu_ps(c + i * ldc, c0[i]);
        _mm256_storeu_ps(c + i * ldc + 8, c1[i]);
    }
}

#define ROWS(M)                                                                                \
    static TARGET void rows##M(const SgTile *t) { tile_rows(t, M); }
ROWS(1)
ROWS(2)
ROWS(3)
ROWS(4)
ROWS(5)
ROWS(6)

static void (*const by_rows[MR + 1])(const SgTile *) = {
    NULL, rows1, rows2, rows3, rows4, rows5, rows6,
};

static void micro(const SgTile *t, int m) { by_rows[m](t); }

const SgKernel sg_kernel_avx2 = { MR, 16, micro };

/* Rows i .. i+7, columns k .. k+7 of src (row stride is) to out[(k + j) * w + i ..], times
 * s unless s is 1: an 8 x 8 transpose in registers. */
INLINE TARGET void transpose8(const float *src, int64_t is, float *out, int w, bool scale,
                              __m256 s)
{
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + is),
           r2 = _mm256_loadu_ps(src + 2 * is), r3 = _mm256_loadu_ps(src + 3 * is),
           r4 = _mm256_loadu_ps(src + 4 * is), r5 = _mm256_loadu_ps(src + 5 * is),
           r6 = _mm256_loadu_ps(src + 6 * is), r7 = _mm256_loadu_ps(src + 7 * is);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
           t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    __m256 v[8] = {
        _mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
        _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
        _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
        _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31),
    };
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        _mm256_storeu_ps(out + j * w, scale ? _mm256_mul_ps(s, v[j]) : v[j]);
}

INLINE TARGET void pack_rows(const float *src, int64_t is, int64_t iv, int64_t kc, int w,
                             float s, float *out, const bool scale)
{
    int64_t i = 0;
    __m256 sv = _mm256_set1_ps(s);
    for (; i + 8 <= iv; i += 8) {
        int64_t k = 0;
        for (; k + 8 <= kc; k += 8)
            transpose8(src + i * is + k, is, out + k * w + i, w, scale, sv);
        for (; k < kc; k++)
            for (int j = 0; j < 8; j++)
                out[k * w + i + j] = scale ? s * src[(i + j) * is + k] : src[(i + j) * is + k];
    }
    for (; i < iv; i++)
        for (int64_t k = 0; k < kc; k++)
            out[k * w + i] = scale ? s * src[i * is + k] : src[i * is + k];
}

TARGET void sg_pack_rows_avx2(const float *src, int64_t is, int64_t iv, int64_t kc, int w,
                              float s, float *out)
{
    if (s == 1.0f)
        pack_rows(src, is, iv, kc, w, s, out, false);
    else
        pack_rows(src, is, iv, kc, w, s, out, true);
}
