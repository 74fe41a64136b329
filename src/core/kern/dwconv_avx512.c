/* Depthwise planes at AVX-512: 16 output columns per vector, each lane summing its taps
 * as dwconv.h's rule says; a tap outside the input loads 0 through the mask. */
#include <immintrin.h>
#include <stdint.h>

#include "kern/dwconv_impl.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* Lanes i < n with lo <= x0 + i < hi. */
AVX512 static inline __mmask16 lanes(int64_t x0, int64_t n, int64_t lo, int64_t hi)
{
    int64_t a = lo - x0 < 0 ? 0 : lo - x0, b = hi - x0 < n ? hi - x0 : n;
    if (b <= a)
        return 0;
    return (__mmask16)((((uint32_t)1 << b) - 1) & ~(((uint32_t)1 << a) - 1));
}

/* Row r's values at columns (x0 + i) * sw + off for the lanes in m, 0 elsewhere. The
 * address of a masked-off lane is never read, so it is formed as an integer. */
AVX512 static inline __m512 load(const float *r, int64_t x0, int64_t sw, int64_t off,
                                 __mmask16 m, __m512i idx)
{
    if (sw == 1) {
        const float *p = (const float *)((uintptr_t)r + (uintptr_t)((x0 + off) * 4));
        return m == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
    }
    const float *p = (const float *)((uintptr_t)r + (uintptr_t)((x0 * sw + off) * 4));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, p, 4);
}

AVX512 void dwconv_plane_avx512(const DwPlane *p)
{
    const ConvPlane *g = p->g;
    int64_t lo[DW_MAX_KW], hi[DW_MAX_KW];
    dwconv_cols(g, lo, hi);
    /* Gather indices i * sw; a stride too large for them runs on the reference. */
    if (g->sw != 1 && g->sw > INT32_MAX / 16) {
        dwconv_plane_scalar(p);
        return;
    }
    __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)g->sw));
    __m512 zero = _mm512_setzero_ps(), vlo = _mm512_set1_ps(p->lo), vhi = _mm512_set1_ps(p->hi);
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t x0 = 0; x0 < g->ow; x0 += 16) {
            int64_t n = g->ow - x0 < 16 ? g->ow - x0 : 16;
            __m512 acc = _mm512_set1_ps(p->bias);
            for (int64_t ki = 0; ki < g->kh; ki++) {
                int64_t iy = oy * g->sh - g->pt + ki * g->dh;
                const float *wr = p->w + ki * g->kw;
                if (iy < 0 || iy >= g->h) {
                    for (int64_t kj = 0; kj < g->kw; kj++)
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[kj]), zero, acc);
                    continue;
                }
                const float *r = p->x + iy * g->w;
                for (int64_t kj = 0; kj < g->kw; kj++) {
                    __mmask16 m = lanes(x0, n, lo[kj], hi[kj]);
                    __m512 v = m ? load(r, x0, g->sw, kj * g->dw - g->pl, m, idx) : zero;
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[kj]), v, acc);
                }
            }
            if (p->clamp) /* v < lo ? lo : v > hi ? hi : v; min(hi, NaN) is the NaN */
                acc = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(acc, vlo, _CMP_LT_OQ),
                                           _mm512_min_ps(vhi, acc), vlo);
            _mm512_mask_storeu_ps(p->y + oy * g->ow + x0, (__mmask16)((1u << n) - 1), acc);
        }
}
