/* Depthwise planes at AVX2: 8 output columns per vector, each lane summing its taps as
 * dwconv.h's rule says; a tap outside the input loads 0 through the mask. Column blocks
 * are the outer loop so each tap's mask is worked out once per block; four output rows
 * are summed side by side, so four fma chains are in flight instead of one. */
#include <immintrin.h>
#include <stdint.h>

#include "kern/dwconv_impl.h"

#define AVX2 __attribute__((target("avx2,fma")))

/* All ones in lanes i < n with lo <= x0 + i < hi. */
AVX2 static inline __m256i lanes(int64_t x0, int64_t n, int64_t lo, int64_t hi)
{
    int64_t a = lo - x0 < 0 ? 0 : lo - x0, b = hi - x0 < n ? hi - x0 : n;
    if (b <= a)
        return _mm256_setzero_si256();
    __m256i i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)b), i),
                            _mm256_cmpgt_epi32(i, _mm256_set1_epi32((int)a - 1)));
}

/* Row r's values at columns (x0 + i) * sw + off for the lanes in m, 0 elsewhere. The
 * address of a masked-off lane is never read, so it is formed as an integer. */
AVX2 static inline __m256 load(const float *r, int64_t x0, int64_t sw, int64_t off, __m256i m,
                               __m256i idx, bool full)
{
    if (sw == 1) {
        const float *p = (const float *)((uintptr_t)r + (uintptr_t)((x0 + off) * 4));
        return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
    }
    const float *p = (const float *)((uintptr_t)r + (uintptr_t)((x0 * sw + off) * 4));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, idx, _mm256_castsi256_ps(m), 4);
}

enum { DW_ROWS = 4 };

/* The block's loads, lane masks and store mask, shared by its rows. */
typedef struct RowCtx {
    const DwPlane *p;
    int64_t x0, n;
    const __m256i *m;
    __m256i idx, store;
} RowCtx;

/* Output rows oy0 .. oy0 + rows - 1 of column block c->x0 (rows is a constant where this is
 * inlined, so the accumulators live in registers). */
AVX2 static inline __attribute__((always_inline)) void plane_rows(const RowCtx *c, int64_t oy0,
                                                                 int rows)
{
    const DwPlane *p = c->p;
    const ConvPlane *g = p->g;
    const __m256 zero = _mm256_setzero_ps();
    __m256 acc[DW_ROWS];
    const float *r[DW_ROWS];
#pragma GCC unroll 4
    for (int i = 0; i < DW_ROWS; i++) {
        acc[i] = _mm256_set1_ps(p->bias);
        r[i] = NULL;
    }
    for (int64_t ki = 0; ki < g->kh; ki++) {
        const float *wr = p->w + ki * g->kw;
#pragma GCC unroll 4
        for (int i = 0; i < rows; i++) { /* the input row, NULL outside: its taps read 0 */
            int64_t iy = (oy0 + i) * g->sh - g->pt + ki * g->dh;
            r[i] = iy >= 0 && iy < g->h ? p->x + iy * g->w : NULL;
        }
        for (int64_t kj = 0; kj < g->kw; kj++) {
            __m256 wv = _mm256_set1_ps(wr[kj]);
            int mask = _mm256_movemask_ps(_mm256_castsi256_ps(c->m[kj]));
#pragma GCC unroll 4
            for (int i = 0; i < rows; i++) {
                __m256 v = zero;
                if (r[i] && mask)
                    v = load(r[i], c->x0, g->sw, kj * g->dw - g->pl, c->m[kj], c->idx,
                             mask == 0xFF);
                acc[i] = _mm256_fmadd_ps(wv, v, acc[i]);
            }
        }
    }
    const __m256 vlo = _mm256_set1_ps(p->lo), vhi = _mm256_set1_ps(p->hi);
#pragma GCC unroll 4
    for (int i = 0; i < rows; i++) {
        if (p->clamp) /* v < lo ? lo : v > hi ? hi : v; min(hi, NaN) is the NaN */
            acc[i] = _mm256_blendv_ps(_mm256_min_ps(vhi, acc[i]), vlo,
                                      _mm256_cmp_ps(acc[i], vlo, _CMP_LT_OQ));
        float *y = p->y + (oy0 + i) * g->ow + c->x0;
        if (c->n == 8)
            _mm256_storeu_ps(y, acc[i]);
        else
            _mm256_maskstore_ps(y, c->store, acc[i]);
    }
}

AVX2 void dwconv_plane_avx2(const DwPlane *p)
{
    const ConvPlane *g = p->g;
    int64_t lo[DW_MAX_KW], hi[DW_MAX_KW];
    dwconv_cols(g, lo, hi);
    /* Gather indices i * sw; a stride too large for them runs on the reference. */
    if (g->sw != 1 && g->sw > INT32_MAX / 8) {
        dwconv_plane_scalar(p);
        return;
    }
    __m256i m[DW_MAX_KW];
    RowCtx c = { p, 0, 0, m,
                 _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                    _mm256_set1_epi32((int)g->sw)),
                 _mm256_setzero_si256() };
    for (int64_t x0 = 0; x0 < g->ow; x0 += 8) {
        int64_t n = g->ow - x0 < 8 ? g->ow - x0 : 8;
        for (int64_t kj = 0; kj < g->kw; kj++)
            m[kj] = lanes(x0, n, lo[kj], hi[kj]);
        c.x0 = x0;
        c.n = n;
        c.store = lanes(0, n, 0, n);
        int64_t oy = 0;
        for (; oy + DW_ROWS <= g->oh; oy += DW_ROWS) {
            dwconv_prefetch_rows(p, oy + DW_ROWS, DW_ROWS);
            plane_rows(&c, oy, DW_ROWS);
        }
        for (; oy < g->oh; oy++)
            plane_rows(&c, oy, 1);
    }
}
