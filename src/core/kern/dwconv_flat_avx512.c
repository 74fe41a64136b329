/* Depthwise convolution at AVX-512 across planes (dwconv_flat.h): 16 outputs of a block
 * of consecutive planes per vector, each lane with its own channel's weights (a permute
 * of the block's per-tap weight vectors when a vector spans planes); a tap is one masked
 * load (stride 1, same size) or a masked gather. Each lane sums bias, then every tap in
 * increasing order, one fma per tap, 0 outside the input: dwconv.h's rule. */
#include <immintrin.h>
#include <stdint.h>

#include "kern/dwconv_impl.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* An address formed as an integer: a masked-off lane's may lie outside the tensor. */
static inline const float *at(const float *r, int64_t i)
{
    return (const float *)((uintptr_t)r + (uintptr_t)(i * (int64_t)sizeof(float)));
}

/* The weight (per tap) and bias vectors of block o0: lane k channel o0 + k (np channels;
 * lanes beyond are 0), or every lane channel o0 when a block is one plane. */
AVX512 static void block_weights(const DwFlatJob *j, int64_t o0, int64_t np, __m512 *wt,
                                 __m512 *bv)
{
    const int64_t taps = j->f->taps, one = j->f->planes == 1;
    const float *b = j->epi && j->epi->bias ? j->epi->bias : NULL;
    if (one) {
        for (int64_t t = 0; t < taps; t++)
            wt[t] = _mm512_set1_ps(j->w[o0 * taps + t]);
        *bv = _mm512_set1_ps(b ? b[o0] : 0.0f);
        return;
    }
    /* lane k < np: channel o0 + k's taps, taps apart in w */
    __mmask16 live = (__mmask16)((1u << np) - 1);
    __m512i at_k = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                        12, 13, 14, 15),
                                      _mm512_set1_epi32((int)taps));
    for (int64_t t = 0; t < taps; t++)
        wt[t] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, at_k,
                                         j->w + o0 * taps + t, 4);
    *bv = b ? _mm512_maskz_loadu_ps(live, b + o0) : _mm512_setzero_ps();
}

/* One block of one sample; taps and the flags are constants where it is inlined. */
AVX512 static inline void flat_block(const DwFlat *f, int64_t taps, bool contig, bool one,
                                     const float *x, float *y, int64_t np, const __m512 *wt,
                                     __m512 bv, bool clamp, __m512 vlo, __m512 vhi)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512i vnp = _mm512_set1_epi32((int)np);
    for (int64_t v = 0; v < f->vecs; v++) {
        __m512i pl = _mm512_loadu_si512(f->plane[v]);
        __mmask16 live = _mm512_cmplt_epi32_mask(pl, vnp);
        __m512 acc = one ? bv : _mm512_permutexvar_ps(pl, bv);
        __m512i idx = _mm512_loadu_si512(f->idx[v]);
        for (int64_t t = 0; t < taps; t++) {
            __mmask16 m = (__mmask16)(f->mask[v][t] & live);
            __m512 xv = contig ? _mm512_maskz_loadu_ps(m, at(x, v * DWF_LANES + f->shift[t]))
                               : _mm512_mask_i32gather_ps(zero, m, idx, at(x, f->shift[t]), 4);
            __m512 wv = one ? wt[t] : _mm512_permutexvar_ps(pl, wt[t]);
            acc = _mm512_fmadd_ps(wv, xv, acc);
        }
        if (clamp) /* v < lo ? lo : v > hi ? hi : v; min(hi, NaN) is the NaN */
            acc = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(acc, vlo, _CMP_LT_OQ),
                                       _mm512_min_ps(vhi, acc), vlo);
        _mm512_mask_storeu_ps(y + v * DWF_LANES, live, acc);
    }
}

AVX512 void dwconv_flat_avx512(const DwFlatJob *j, int64_t u0, int64_t u1)
{
    const DwFlat *f = j->f;
    const ConvPlane *g = j->g;
    const int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
    const bool clamp = j->epi && j->epi->clamp, one = f->planes == 1;
    const __m512 vlo = _mm512_set1_ps(clamp ? j->epi->lo : 0.0f);
    const __m512 vhi = _mm512_set1_ps(clamp ? j->epi->hi : 0.0f);
    __m512 wt[DWF_MAX_TAPS], bv = _mm512_setzero_ps();
    int64_t built = -1;
    for (int64_t u = u0; u < u1; u++) {
        int64_t blk = u / j->n, b = u % j->n, o0 = blk * f->planes;
        int64_t np = j->c - o0 < f->planes ? j->c - o0 : f->planes;
        if (blk != built) {
            block_weights(j, o0, np, wt, &bv);
            built = blk;
        }
        const float *x = j->x + (b * j->c + o0) * hw;
        float *y = j->y + (b * j->c + o0) * ohw;
        if (f->taps == 9 && f->contig && one)
            flat_block(f, 9, true, true, x, y, np, wt, bv, clamp, vlo, vhi);
        else if (f->taps == 9 && f->contig)
            flat_block(f, 9, true, false, x, y, np, wt, bv, clamp, vlo, vhi);
        else if (f->taps == 9 && one)
            flat_block(f, 9, false, true, x, y, np, wt, bv, clamp, vlo, vhi);
        else if (f->taps == 9)
            flat_block(f, 9, false, false, x, y, np, wt, bv, clamp, vlo, vhi);
        else
            flat_block(f, f->taps, f->contig, one, x, y, np, wt, bv, clamp, vlo, vhi);
    }
}
