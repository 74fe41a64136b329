#include "kern/conv_small.h"

#include <immintrin.h>

#include "kern/pool.h"
#include "kern/simd.h"

typedef struct SmallJob {
    const ConvPlane *g;
    int64_t m;
    const float *x, *w;
    const DwEpi *epi;
    float *y;
} SmallJob;

bool conv_small_fits(const ConvPlane *g, int64_t m)
{
    return simd_level() == SIMD_AVX512 && m >= 1 && m <= CONV_SMALL_MAX_M && g->sw == 1 &&
           g->dw == 1;
}

/* Lanes [lo, hi) of 16 set (empty when hi <= lo). */
static inline __mmask16 lanes(int64_t lo, int64_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo)
        return 0;
    return (__mmask16)((((uint32_t)1 << hi) - 1) & ~(((uint32_t)1 << lo) - 1));
}

/* Output row oh of sample s, columns [o0, o0 + 16) (the lanes of `out`): each channel's
 * sum in its own register, tap by tap in increasing k. m is a constant in each caller
 * (small_block_m), so the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
small_block(const SmallJob *j, const int64_t m, int64_t s, int64_t oh, int64_t o0,
            __mmask16 out)
{
    const ConvPlane *g = j->g;
    const int64_t kk = g->c * g->kh * g->kw, hw = g->h * g->w;
    __m512 acc[CONV_SMALL_MAX_M];
#pragma GCC unroll 8
    for (int64_t i = 0; i < m; i++)
        acc[i] = j->epi->bias ? _mm512_set1_ps(j->epi->bias[i]) : _mm512_setzero_ps();
    const float *xs = j->x + s * g->c * hw;
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int64_t ki = 0; ki < g->kh; ki++) {
            int64_t ih = oh * g->sh - g->pt + ki * g->dh;
            bool inside = ih >= 0 && ih < g->h;
            const float *row = xs + ci * hw + (inside ? ih : 0) * g->w;
            for (int64_t kj = 0; kj < g->kw; kj++) {
                int64_t k = (ci * g->kh + ki) * g->kw + kj, base = o0 - g->pl + kj;
                /* lanes reading inside the row; the others take 0, as im2col's padding */
                __mmask16 in = inside ? (__mmask16)(out & lanes(-base, g->w - base)) : 0;
                __m512 xv = _mm512_maskz_loadu_ps(in, row + base);
#pragma GCC unroll 8
                for (int64_t i = 0; i < m; i++)
                    acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(j->w[i * kk + k]), xv, acc[i]);
            }
        }
    const __m512 lo = _mm512_set1_ps(j->epi->lo), hi = _mm512_set1_ps(j->epi->hi);
#pragma GCC unroll 8
    for (int64_t i = 0; i < m; i++) {
        __m512 v = acc[i];
        if (j->epi->clamp) /* min(hi, v) keeps v when NaN or equal, then v < lo takes lo */
            v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ),
                                     _mm512_min_ps(hi, v), lo);
        _mm512_mask_storeu_ps(j->y + ((s * m + i) * g->oh + oh) * g->ow + o0, out, v);
    }
}

/* Rows [r0, r1) of the batch's n * oh output rows, m output channels. */
__attribute__((target("avx512f"), always_inline)) static inline void
small_rows_m(const SmallJob *j, const int64_t m, int64_t r0, int64_t r1)
{
    const ConvPlane *g = j->g;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t o0 = 0; o0 < g->ow; o0 += 16)
            small_block(j, m, r / g->oh, r % g->oh, o0, lanes(0, g->ow - o0));
}

#define SMALL_ROWS(M)                                                                        \
    __attribute__((target("avx512f"))) static void small_rows_##M(const SmallJob *j,         \
                                                                    int64_t r0, int64_t r1)  \
    {                                                                                        \
        small_rows_m(j, M, r0, r1);                                                          \
    }
SMALL_ROWS(1)
SMALL_ROWS(2)
SMALL_ROWS(3)
SMALL_ROWS(4)
SMALL_ROWS(5)
SMALL_ROWS(6)
SMALL_ROWS(7)
SMALL_ROWS(8)

static void small_rows(void *ctx, int64_t r0, int64_t r1)
{
    static void (*const by_m[CONV_SMALL_MAX_M])(const SmallJob *, int64_t, int64_t) = {
        small_rows_1, small_rows_2, small_rows_3, small_rows_4,
        small_rows_5, small_rows_6, small_rows_7, small_rows_8,
    };
    const SmallJob *j = ctx;
    by_m[j->m - 1](j, r0, r1);
}

void conv_small_forward(const ConvPlane *g, int64_t n, int64_t m, const float *x,
                        const float *w, const DwEpi *epi, float *y)
{
    SmallJob j = { g, m, x, w, epi, y };
    pool_for(n * g->oh, pool_grain(m * g->ow * g->c * g->kh * g->kw), small_rows, &j);
}
