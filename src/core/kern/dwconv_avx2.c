/* Depthwise planes at AVX2: 8 output columns per vector, each lane summing its taps as
 * dwconv.h's rule says; a tap outside the input loads 0 through the mask. Column blocks
 * are the outer loop so each tap's mask is worked out once per block. */
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
    __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                     _mm256_set1_epi32((int)g->sw));
    __m256 zero = _mm256_setzero_ps(), vlo = _mm256_set1_ps(p->lo), vhi = _mm256_set1_ps(p->hi);
    __m256i m[DW_MAX_KW];
    for (int64_t x0 = 0; x0 < g->ow; x0 += 8) {
        int64_t n = g->ow - x0 < 8 ? g->ow - x0 : 8;
        for (int64_t kj = 0; kj < g->kw; kj++)
            m[kj] = lanes(x0, n, lo[kj], hi[kj]);
        __m256i store = lanes(0, n, 0, n);
        for (int64_t oy = 0; oy < g->oh; oy++) {
            __m256 acc = _mm256_set1_ps(p->bias);
            for (int64_t ki = 0; ki < g->kh; ki++) {
                int64_t iy = oy * g->sh - g->pt + ki * g->dh;
                const float *wr = p->w + ki * g->kw;
                if (iy < 0 || iy >= g->h) {
                    for (int64_t kj = 0; kj < g->kw; kj++)
                        acc = _mm256_fmadd_ps(_mm256_set1_ps(wr[kj]), zero, acc);
                    continue;
                }
                const float *r = p->x + iy * g->w;
                for (int64_t kj = 0; kj < g->kw; kj++) {
                    int mask = _mm256_movemask_ps(_mm256_castsi256_ps(m[kj]));
                    __m256 v = zero;
                    if (mask)
                        v = load(r, x0, g->sw, kj * g->dw - g->pl, m[kj], idx, mask == 0xFF);
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(wr[kj]), v, acc);
                }
            }
            if (p->clamp) /* v < lo ? lo : v > hi ? hi : v; min(hi, NaN) is the NaN */
                acc = _mm256_blendv_ps(_mm256_min_ps(vhi, acc), vlo,
                                       _mm256_cmp_ps(acc, vlo, _CMP_LT_OQ));
            float *y = p->y + oy * g->ow + x0;
            if (n == 8)
                _mm256_storeu_ps(y, acc);
            else
                _mm256_maskstore_ps(y, store, acc);
        }
    }
}
