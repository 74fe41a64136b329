/* Depthwise convolution at AVX-512 across planes (dwconv_flat.h): 16 outputs of a block
 * of consecutive planes per vector, each lane with its own channel's weights (a permute
 * of the block's per-tap weight vectors when a vector spans planes); a tap is one masked
 * load (stride 1, same size) or a masked gather. Each lane sums bias, then every tap in
 * increasing order, one fma per tap, 0 outside the input: dwconv.h's rule. */
#include <immintrin.h>
#include <stdint.h>

#include "kern/dwconv_impl.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define INLINE inline __attribute__((always_inline)) /* constant jobs and taps unrolled */

/* An address formed as an integer: a masked-off lane's may lie outside the tensor. */
static inline const float *at(const float *r, int64_t i)
{
    return (const float *)((uintptr_t)r + (uintptr_t)(i * (int64_t)sizeof(float)));
}

/* The weight (per tap) and bias vectors of block o0: lane k channel o0 + k (np channels;
 * lanes beyond are 0). */
AVX512 static void block_weights(const DwFlatJob *j, int64_t o0, int64_t np, __m512 *wt,
                                 __m512 *bv)
{
    const int64_t taps = j->f->taps;
    const float *b = j->epi && j->epi->bias ? j->epi->bias : NULL;
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

enum { FLAT_JOBS = 4 }; /* vectors summed side by side: four fma chains in flight */

/* Where the next vector is: vector v of block blk in sample b. */
typedef struct FlatCursor {
    int64_t v, b, blk;
} FlatCursor;

/* The next `jobs` vectors from *cur, side by side (jobs is a constant where this is
 * inlined, so the accumulators live in registers). One plane per block: each vector's
 * weights are its channel's, broadcast from w; else every vector is of one block, whose
 * per-lane weights wt and bias bv are permuted to the lanes' planes. */
AVX512 static INLINE void flat_jobs(const DwFlatJob *j, int64_t taps, bool contig, bool one,
                                    int jobs, FlatCursor *cur, const __m512 *wt, __m512 bv,
                                    __m512i vnp, bool clamp, __m512 vlo, __m512 vhi)
{
    const DwFlat *f = j->f;
    const int64_t hw = j->g->h * j->g->w, ohw = j->g->oh * j->g->ow;
    const float *bias = j->epi ? j->epi->bias : NULL;
    const __m512 zero = _mm512_setzero_ps();
    const float *xp[FLAT_JOBS], *wp[FLAT_JOBS];
    float *yp[FLAT_JOBS];
    int64_t vj[FLAT_JOBS];
    __m512i pl[FLAT_JOBS], idx[FLAT_JOBS];
    __mmask16 live[FLAT_JOBS];
    __m512 acc[FLAT_JOBS];
#pragma GCC unroll 4
    for (int i = 0; i < FLAT_JOBS; i++) { /* what jobs leave unused, set for the compiler */
        vj[i] = 0;
        live[i] = 0;
        acc[i] = zero;
    }
#pragma GCC unroll 4
    for (int i = 0; i < jobs; i++) {
        int64_t o0 = cur->blk * f->planes, plane = cur->b * j->c + o0;
        vj[i] = cur->v;
        xp[i] = j->x + plane * hw;
        yp[i] = j->y + plane * ohw + vj[i] * DWF_LANES;
        wp[i] = j->w + o0 * taps;
        pl[i] = _mm512_loadu_si512(f->plane[vj[i]]);
        idx[i] = _mm512_loadu_si512(f->idx[vj[i]]);
        live[i] = one ? (__mmask16)0xFFFF : _mm512_cmplt_epi32_mask(pl[i], vnp);
        acc[i] = one ? _mm512_set1_ps(bias ? bias[o0] : 0.0f) : _mm512_permutexvar_ps(pl[i], bv);
        if (++cur->v == f->vecs) {
            cur->v = 0;
            if (++cur->b == j->n) {
                cur->b = 0;
                cur->blk++;
            }
        }
    }
    for (int64_t t = 0; t < taps; t++) {
#pragma GCC unroll 4
        for (int i = 0; i < jobs; i++) {
            __mmask16 m = (__mmask16)(f->mask[vj[i]][t] & live[i]);
            __m512 xv =
                contig ? _mm512_maskz_loadu_ps(m, at(xp[i], vj[i] * DWF_LANES + f->shift[t]))
                       : _mm512_mask_i32gather_ps(zero, m, idx[i], at(xp[i], f->shift[t]), 4);
            __m512 wv = one ? _mm512_set1_ps(wp[i][t]) : _mm512_permutexvar_ps(pl[i], wt[t]);
            acc[i] = _mm512_fmadd_ps(wv, xv, acc[i]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < jobs; i++) {
        if (clamp) /* v < lo ? lo : v > hi ? hi : v; min(hi, NaN) is the NaN */
            acc[i] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(acc[i], vlo, _CMP_LT_OQ),
                                          _mm512_min_ps(vhi, acc[i]), vlo);
        _mm512_mask_storeu_ps(yp[i], live[i], acc[i]);
    }
}

/* Units [u0, u1): `count` vectors from u0's first, FLAT_JOBS at a time so their fma chains
 * overlap (each vector still sums its own taps in order), then one at a time. */
AVX512 static INLINE void flat_run(const DwFlatJob *j, int64_t taps, bool contig, bool one,
                                   int64_t u0, int64_t count, const __m512 *wt, __m512 bv,
                                   __m512i vnp, bool clamp, __m512 vlo, __m512 vhi)
{
    FlatCursor cur = { 0, u0 % j->n, u0 / j->n };
    int64_t k = 0;
    for (; k + FLAT_JOBS <= count; k += FLAT_JOBS)
        flat_jobs(j, taps, contig, one, FLAT_JOBS, &cur, wt, bv, vnp, clamp, vlo, vhi);
    for (; k < count; k++)
        flat_jobs(j, taps, contig, one, 1, &cur, wt, bv, vnp, clamp, vlo, vhi);
}

/* flat_run with taps and the flags as constants for the common 3x3 kernels. */
AVX512 static void flat_run_any(const DwFlatJob *j, int64_t u0, int64_t count, const __m512 *wt,
                                __m512 bv, __m512i vnp, bool clamp, __m512 vlo, __m512 vhi)
{
    const DwFlat *f = j->f;
    const bool one = f->planes == 1;
    if (f->taps == 9 && f->contig && one)
        flat_run(j, 9, true, true, u0, count, wt, bv, vnp, clamp, vlo, vhi);
    else if (f->taps == 9 && f->contig)
        flat_run(j, 9, true, false, u0, count, wt, bv, vnp, clamp, vlo, vhi);
    else if (f->taps == 9 && one)
        flat_run(j, 9, false, true, u0, count, wt, bv, vnp, clamp, vlo, vhi);
    else if (f->taps == 9)
        flat_run(j, 9, false, false, u0, count, wt, bv, vnp, clamp, vlo, vhi);
    else
        flat_run(j, f->taps, f->contig, one, u0, count, wt, bv, vnp, clamp, vlo, vhi);
}

AVX512 void dwconv_flat_avx512(const DwFlatJob *j, int64_t u0, int64_t u1)
{
    const DwFlat *f = j->f;
    const bool clamp = j->epi && j->epi->clamp;
    const __m512 vlo = _mm512_set1_ps(clamp ? j->epi->lo : 0.0f);
    const __m512 vhi = _mm512_set1_ps(clamp ? j->epi->hi : 0.0f);
    __m512 wt[DWF_MAX_TAPS], bv = _mm512_setzero_ps();
    if (f->planes == 1) { /* every vector within one plane: all units in one run */
        flat_run_any(j, u0, (u1 - u0) * f->vecs, NULL, bv, _mm512_set1_epi32(1), clamp, vlo, vhi);
        return;
    }
    /* runs of units of one block: its weights built once, its samples side by side */
    for (int64_t u = u0, ue; u < u1; u = ue) {
        int64_t blk = u / j->n, o0 = blk * f->planes;
        int64_t np = j->c - o0 < f->planes ? j->c - o0 : f->planes;
        ue = (blk + 1) * j->n < u1 ? (blk + 1) * j->n : u1;
        block_weights(j, o0, np, wt, &bv);
        flat_run_any(j, u, (ue - u) * f->vecs, wt, bv, _mm512_set1_epi32((int)np), clamp, vlo,
                     vhi);
    }
}
