/* Depthwise planes at AVX-512: 16 output columns per vector, each lane summing its taps
 * as dwconv.h's rule says; a tap outside the input loads 0 through the mask. Column
 * blocks are the outer loop so each tap's mask is worked out once per block; four output
 * rows are summed side by side, so four fma chains are in flight instead of one. */
#include <immintrin.h>
#include <stdint.h>

#include "kern/dwconv_impl.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* Lanes i < n with lo <= x0 + i < hi. */
static inline uint32_t lanes(int64_t x0, int64_t n, int64_t lo, int64_t hi)
{
    int64_t a = lo - x0 < 0 ? 0 : lo - x0, b = hi - x0 < n ? hi - x0 : n;
    if (b <= a)
        return 0;
    return (((uint32_t)1 << b) - 1) & ~(((uint32_t)1 << a) - 1);
}

/* Bit i of m to bit 2i: the even elements of two vectors that stride 2 reads. */
static inline uint32_t spread2(uint32_t m)
{
    m = (m | (m << 8)) & 0x00FF00FFu;
    m = (m | (m << 4)) & 0x0F0F0F0Fu;
    m = (m | (m << 2)) & 0x33333333u;
    return (m | (m << 1)) & 0x55555555u;
}

/* An address formed as an integer: a masked-off lane's may lie outside the row. */
static inline const float *at(const float *r, int64_t i)
{
    return (const float *)((uintptr_t)r + (uintptr_t)(i * (int64_t)sizeof(float)));
}

/* Row r's values at columns (x0 + i) * sw + off for the lanes in m (its stride-2 load
 * mask in m2), 0 elsewhere. */
AVX512 static inline __m512 load(const float *r, int64_t start, int64_t sw, uint32_t m,
                                 uint32_t m2, __m512i gidx, __m512i even)
{
    if (sw == 1)
        return m == 0xFFFF ? _mm512_loadu_ps(at(r, start))
                           : _mm512_maskz_loadu_ps((__mmask16)m, at(r, start));
    if (sw == 2) {
        __m512 a = _mm512_maskz_loadu_ps((__mmask16)m2, at(r, start));
        __m512 b = _mm512_maskz_loadu_ps((__mmask16)(m2 >> 16), at(r, start + 16));
        return _mm512_permutex2var_ps(a, even, b);
    }
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), (__mmask16)m, gidx, at(r, start), 4);
}

enum { DW_ROWS = 4 };

/* The block's loads and lane masks, shared by its rows. */
typedef struct RowCtx {
    const DwPlane *p;
    int64_t x0;
    const uint32_t *m, *m2;
    __m512i gidx, even;
    __mmask16 store;
} RowCtx;

/* Output rows oy0 .. oy0 + rows - 1 of column block c->x0 (rows is a constant where this is
 * inlined, so the accumulators live in registers). */
AVX512 static inline __attribute__((always_inline)) void plane_rows(const RowCtx *c,
                                                                   int64_t oy0, int rows)
{
    const DwPlane *p = c->p;
    const ConvPlane *g = p->g;
    const __m512 zero = _mm512_setzero_ps();
    __m512 acc[DW_ROWS];
    const float *r[DW_ROWS];
#pragma GCC unroll 4
    for (int i = 0; i < DW_ROWS; i++) {
        acc[i] = _mm512_set1_ps(p->bias);
        r[i] = NULL;
    }
    for (int64_t ki = 0; ki < g->kh; ki++) {
        const float *wr = p->w + ki * g->kw;
#pragma GCC unroll 4
        for (int i = 0; i < rows; i++) { /* the input row, NULL outside: its taps read 0 */
            int64_t iy = (oy0 + i) * g->sh - g->pt + ki * g->dh;
            r[i] = iy >= 0 && iy < g->h ? p->x + iy * g->w : NULL;
        }
        int64_t start = c->x0 * g->sw - g->pl;
        for (int64_t kj = 0; kj < g->kw; kj++, start += g->dw) {
            __m512 wv = _mm512_set1_ps(wr[kj]);
#pragma GCC unroll 4
            for (int i = 0; i < rows; i++) {
                __m512 v = r[i] && c->m[kj]
                               ? load(r[i], start, g->sw, c->m[kj], c->m2[kj], c->gidx, c->even)
                               : zero;
                acc[i] = _mm512_fmadd_ps(wv, v, acc[i]);
            }
        }
    }
    const __m512 vlo = _mm512_set1_ps(p->lo), vhi = _mm512_set1_ps(p->hi);
#pragma GCC unroll 4
    for (int i = 0; i < rows; i++) {
        if (p->clamp) /* v < lo ? lo : v > hi ? hi : v; min(hi, NaN) is the NaN */
            acc[i] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(acc[i], vlo, _CMP_LT_OQ),
                                          _mm512_min_ps(vhi, acc[i]), vlo);
        _mm512_mask_storeu_ps(p->y + (oy0 + i) * g->ow + c->x0, c->store, acc[i]);
    }
}

AVX512 void dwconv_plane_avx512(const DwPlane *p)
{
    const ConvPlane *g = p->g;
    int64_t lo[DW_MAX_KW], hi[DW_MAX_KW];
    uint32_t m[DW_MAX_KW], m2[DW_MAX_KW];
    dwconv_cols(g, lo, hi);
    /* Gather indices i * sw; a stride too large for them runs on the reference. */
    if (g->sw > INT32_MAX / 16) {
        dwconv_plane_scalar(p);
        return;
    }
    __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    RowCtx c = { p, 0, m, m2, _mm512_mullo_epi32(iota, _mm512_set1_epi32((int)g->sw)),
                 _mm512_add_epi32(iota, iota), 0 };
    for (int64_t x0 = 0; x0 < g->ow; x0 += 16) {
        int64_t n = g->ow - x0 < 16 ? g->ow - x0 : 16;
        for (int64_t kj = 0; kj < g->kw; kj++) {
            m[kj] = lanes(x0, n, lo[kj], hi[kj]);
            m2[kj] = spread2(m[kj]);
        }
        c.x0 = x0;
        c.store = (__mmask16)((1u << n) - 1);
        int64_t oy = 0;
        for (; oy + DW_ROWS <= g->oh; oy += DW_ROWS) {
            dwconv_prefetch_rows(p, oy + DW_ROWS, DW_ROWS);
            plane_rows(&c, oy, DW_ROWS);
        }
        for (; oy < g->oh; oy++)
            plane_rows(&c, oy, 1);
    }
}
