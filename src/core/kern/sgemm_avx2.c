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
