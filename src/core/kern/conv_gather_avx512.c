/* conv_gather_fill at AVX-512: 16 consecutive output positions of one sample per vector,
 * for every row (channel, tap) one load whose mask is the lanes where the tap falls inside
 * the input; the masked-off lanes are zeros, as the generic fill writes (the same values,
 * so the same bits). On the input's grid (stride 1, output as wide as the input), where
 * position p's tap t reads input p + off[t], the load is a plain masked load; otherwise a
 * masked gather. */
#include <immintrin.h>
#include <stdint.h>

#include "kern/conv_cols.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define LANES 16
#define MAX_GROUPS (512 / LANES) /* conv_gather_fill's widest call: 512 columns */

/* An address formed as an integer: a masked-off lane's may lie outside the tensor. */
static inline const float *at(const float *r, int64_t i)
{
    return (const float *)((uintptr_t)r + (uintptr_t)(i * (int64_t)sizeof(float)));
}

bool conv_gather_grid(const ConvPlane *g)
{
    return (g->oh * g->ow) % LANES == 0 && g->kh * g->kw <= CONV_GRID_TAPS &&
           g->h * g->w <= INT32_MAX / 2; /* lane indices in int32 */
}

/* Output positions on the input's grid: 16 lanes are 16 consecutive input floats. */
static bool on_grid(const ConvPlane *g) { return g->sh == 1 && g->sw == 1 && g->ow == g->w; }

AVX512 bool conv_gather_fill_grid(const ConvGather *cg, int64_t j0, int64_t nc, int64_t k0,
                                  int64_t kc, int w, float *out)
{
    const ConvPlane *g = cg->g;
    const ConvChunk k = cg->k;
    int64_t taps = g->kh * g->kw, hw = g->h * g->w;
    int64_t groups = (nc + LANES - 1) / LANES, per = w / LANES;
    int64_t slivers = (nc + w - 1) / w;
    if (!conv_gather_grid(g) || w % LANES || j0 % LANES || k.np % LANES || k.p0 % LANES ||
        groups > MAX_GROUPS)
        return false;
    int64_t toff[CONV_GRID_TAPS], base[MAX_GROUPS];
    __mmask16 mask[MAX_GROUPS][CONV_GRID_TAPS];
    __m512i idx[MAX_GROUPS]; /* off the grid: lane l reads input base + idx[l] + toff */
    int64_t dst[MAX_GROUPS];  /* where a group's 16 columns of row 0 go in out */
    for (int64_t gi = 0; gi < slivers * per; gi++)
        dst[gi] = (gi / per) * kc * w + (gi % per) * LANES;
    bool grid = on_grid(g);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t t = 0; t < taps; t++)
        toff[t] = ((t / g->kw) * g->dh - g->pt) * g->w + (t % g->kw) * g->dw - g->pl;
    for (int64_t gi = 0; gi < groups; gi++) {
        int64_t j = j0 + gi * LANES, s = j / k.np, p = k.p0 + j % k.np;
        base[gi] = (k.b0 + s) * cg->x_stride + (grid ? p : 0);
        /* lanes past nc stay zero */
        __mmask16 live = (__mmask16)(nc - gi * LANES >= LANES ? 0xffff
                                                               : (1u << (nc - gi * LANES)) - 1);
        __m512i pos = _mm512_add_epi32(_mm512_set1_epi32((int)p), lane);
        int32_t yv[LANES], xv[LANES], pv[LANES];
        _mm512_storeu_si512(pv, pos);
        for (int l = 0; l < LANES; l++) {
            yv[l] = (int32_t)(pv[l] / g->ow);
            xv[l] = (int32_t)(pv[l] % g->ow);
        }
        __m512i y = _mm512_mullo_epi32(_mm512_loadu_si512(yv), _mm512_set1_epi32((int)g->sh));
        __m512i x = _mm512_mullo_epi32(_mm512_loadu_si512(xv), _mm512_set1_epi32((int)g->sw));
        idx[gi] = _mm512_add_epi32(_mm512_mullo_epi32(y, _mm512_set1_epi32((int)g->w)), x);
        for (int64_t t = 0; t < taps; t++) {
            __m512i yy = _mm512_add_epi32(y, _mm512_set1_epi32((int)((t / g->kw) * g->dh - g->pt)));
            __m512i xx = _mm512_add_epi32(x, _mm512_set1_epi32((int)((t % g->kw) * g->dw - g->pl)));
            __mmask16 in = _mm512_cmp_epi32_mask(yy, _mm512_setzero_si512(), _MM_CMPINT_NLT) &
                           _mm512_cmp_epi32_mask(yy, _mm512_set1_epi32((int)g->h), _MM_CMPINT_LT) &
                           _mm512_cmp_epi32_mask(xx, _mm512_setzero_si512(), _MM_CMPINT_NLT) &
                           _mm512_cmp_epi32_mask(xx, _mm512_set1_epi32((int)g->w), _MM_CMPINT_LT);
            mask[gi][t] = in & live;
        }
    }
    /* row by row: the taps of one channel, consecutive rows, reread its input from L1 */
    int64_t ci = k0 / taps, t = k0 % taps, tail = slivers * per;
    for (int64_t r = 0; r < kc; r++) {
        const float *xc = cg->x + ci * hw + toff[t];
        float *row = out + r * w;
        for (int64_t gi = 0; gi < groups; gi++) {
            __m512 v = grid ? _mm512_maskz_loadu_ps(mask[gi][t], at(xc, base[gi]))
                            : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask[gi][t],
                                                       idx[gi], at(xc, base[gi]), 4);
            _mm512_storeu_ps(row + dst[gi], v);
        }
        for (int64_t gi = groups; gi < tail; gi++) /* the last sliver's tail */
            _mm512_storeu_ps(row + dst[gi], _mm512_setzero_ps());
        if (++t == taps) {
            t = 0;
            ci++;
        }
    }
    return true;
}
