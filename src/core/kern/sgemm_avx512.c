/* The AVX-512 microkernel: 12 rows x 32 columns of C in 24 zmm accumulators. Each k step
 * loads one 32-wide row of the B sliver and broadcasts the 12 A values, one FMA per
 * accumulator: the rule of kern/sgemm.h, lanes across n only. A variant per row count
 * (1 .. 12) keeps short edge tiles from multiplying zero rows. */
#include <immintrin.h>

#include "kern/sgemm_internal.h"

#define TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define INLINE static inline __attribute__((always_inline))
#define MR 12

/* v < lo ? lo : v > hi ? hi : v, lane by lane (NaN compares false: stays NaN) */
INLINE TARGET __m512 clamp16(__m512 v, __m512 lo, __m512 hi)
{
    __mmask16 lt = _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ);
    __mmask16 gt = _mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ);
    return _mm512_mask_blend_ps(lt, _mm512_mask_blend_ps(gt, v, hi), lo);
}

INLINE TARGET void tile_rows(const SgTile *t, const int m)
{
    __m512 c0[MR], c1[MR];
    float *c = t->c;
    const int64_t ldc = t->ldc, ldb = t->ldb;
#pragma GCC unroll 12
    for (int i = 0; i < m; i++) {
        switch (t->c0) {
        case SG_C0_LOAD:
            c0[i] = _mm512_loadu_ps(c + i * ldc);
            c1[i] = _mm512_loadu_ps(c + i * ldc + 16);
            break;
        case SG_C0_BIAS_M:
            c0[i] = c1[i] = _mm512_set1_ps(t->bias[i]);
            break;
        case SG_C0_BIAS_N:
            c0[i] = _mm512_loadu_ps(t->bias);
            c1[i] = _mm512_loadu_ps(t->bias + 16);
            break;
        default:
            c0[i] = c1[i] = _mm512_setzero_ps();
        }
    }
    const float *a = t->a, *b = t->b;
    for (int64_t k = 0; k < t->kc; k++, a += MR, b += ldb) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
        for (int i = 0; i < m; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
    }
    if (t->clamp) {
        __m512 lo = _mm512_set1_ps(t->lo), hi = _mm512_set1_ps(t->hi);
#pragma GCC unroll 12
        for (int i = 0; i < m; i++) {
            c0[i] = clamp16(c0[i], lo, hi);
            c1[i] = clamp16(c1[i], lo, hi);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < m; i++) {
        _mm512_storeu_ps(c + i * ldc, c0[i]);
        _mm512_storeu_ps(c + i * ldc + 16, c1[i]);
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
ROWS(7)
ROWS(8)
ROWS(9)
ROWS(10)
ROWS(11)
ROWS(12)

static void (*const by_rows[MR + 1])(const SgTile *) = {
    NULL, rows1, rows2, rows3, rows4, rows5, rows6, rows7, rows8, rows9, rows10, rows11, rows12,
};

static void micro(const SgTile *t, int m) { by_rows[m](t); }

const SgKernel sg_kernel_avx512 = { MR, 32, micro };
