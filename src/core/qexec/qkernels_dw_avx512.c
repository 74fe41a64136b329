/* The int8 depthwise kernels with AVX-512 (qkernels_dw.h): a plane read straight from the
 * input (strides 1 and 2, no padded copy) and a block of small planes on the flat map.
 * Same integers as the reference. */
#include "qexec/qkernels_dw.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdbool.h>

#define QD_TARGET "avx512f,avx512bw,avx512dq,avx512vl"
#define QD_INLINE static inline __attribute__((always_inline, target(QD_TARGET)))

/* Lanes [klo, khi) of a vector of outputs from column ow0 whose tap at column offset off
 * (input column ow0 sw + k sw + off for lane k) reads inside 0 .. w - 1, at most left
 * lanes: the lane mask, and the mask of the bytes a load from column ow0 sw + off reads
 * (sw 1: a byte per lane; sw 2: bytes 2 klo .. 2 khi - 2, the odd ones between dropped). */
static inline void qd_masks(int64_t ow0, int64_t sw, int64_t off, int64_t w, int64_t left,
                            __mmask16 *lanes, __mmask32 *bytes)
{
    const int sh = sw == 2; /* sw is 1 or 2: shifts, not divisions */
    int64_t c0 = ow0 * sw + off;
    int64_t klo = c0 < 0 ? (-c0 + sw - 1) >> sh : 0;
    int64_t khi = w - c0 <= 0 ? 0 : (w - c0 + sw - 1) >> sh;
    khi = khi < left ? khi : left;
    if (khi <= klo) {
        *lanes = 0;
        *bytes = 0;
        return;
    }
    *lanes = (__mmask16)(((1u << khi) - 1) & ~((1u << klo) - 1));
    int64_t b0 = klo * sw, b1 = (khi - 1) * sw + 1;
    *bytes = (__mmask32)(((b1 >= 32 ? 0xffffffffu : (1u << b1) - 1)) & ~((1u << b0) - 1));
}

/* One tap's (x - zp) for 16 outputs as int16 lanes (|x - zp| <= 255), 0 in lanes whose
 * column is outside the input. plain: all 16 sw bytes from p may be read (inside the
 * input tensor), so a plain load reads them (masked loads are slow on some cores); bytes of other rows land
 * in lanes the mask zeroes. */
QD_INLINE __m256i qd_tap16(const void *p, int64_t sw, bool plain, __mmask16 lm, __mmask32 bm,
                           __m256i vz)
{
    __m256i v;
    if (sw == 1)
        v = _mm256_cvtepi8_epi16(plain ? _mm_loadu_si128((const __m128i *)p)
                                       : _mm_maskz_loadu_epi8(lm, p));
    else /* the even bytes, sign-extended */
        v = _mm256_srai_epi16(
            _mm256_slli_epi16(plain ? _mm256_loadu_si256((const __m256i *)p)
                                    : _mm256_maskz_loadu_epi8(bm, p),
                              8),
            8);
    return _mm256_maskz_sub_epi16(lm, v, vz);
}

/* Two taps' int16 lanes times their weight pair w (tap a's weight in the low half), added
 * into the int32 sums: vpmaddwd on the lanes interleaved in pairs, so s0 holds outputs 0-3
 * and 8-11 and s1 outputs 4-7 and 12-15 (each product <= 255 * 128, a pair's sum exact in
 * int32). */
QD_INLINE void qd_pair(__m256i a, __m256i b, __m256i w, __m256i *s0, __m256i *s1)
{
    *s0 = _mm256_add_epi32(*s0, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w));
    *s1 = _mm256_add_epi32(*s1, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w));
}

/* The plane, 16 outputs of a row per pair of 256-bit sums. A tap whose row is outside the
 * input is a zero vector and lanes whose column is outside are masked off (they load
 * nothing and subtract nothing): the reference skips both, and the padded copy's zp would
 * add (zp - zp) w = 0. Loads never touch a byte their mask drops. Integer sums in any
 * order: the reference's integers. kh, kw and sw are constants in the common callers, so
 * the tap loops unroll. */
QD_INLINE void qd_plane(const ConvAttrs *a, const CDims *d, const int8_t *xp, int64_t before,
                        int64_t after, const int8_t *wk, int32_t zp, int32_t *acc,
                        const int64_t kh, const int64_t kw, const int64_t sw)
{
    const int64_t taps = kh * kw;
    const __m256i vz = _mm256_set1_epi16((int16_t)zp), zero = _mm256_setzero_si256();
    __m256i wp[(DWF_MAX_TAPS + 1) / 2];
    for (int64_t t = 0; t < taps; t += 2) {
        int32_t w1 = t + 1 < taps ? wk[t + 1] : 0;
        wp[t / 2] = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)(int16_t)wk[t] |
                                                ((uint32_t)(uint16_t)(int16_t)w1 << 16)));
    }
    __mmask16 lm[DWF_MAX_TAPS];
    __mmask32 bm[DWF_MAX_TAPS];
    for (int64_t ow = 0; ow < d->ow; ow += 16) {
        int64_t left = d->ow - ow < 16 ? d->ow - ow : 16;
        for (int64_t j = 0; j < kw; j++)
            qd_masks(ow, sw, j * a->w.dw - a->w.pl, d->w, left, &lm[j], &bm[j]);
        const __mmask16 out = (__mmask16)((1u << left) - 1);
        for (int64_t oh = 0; oh < d->oh; oh++) {
            __m256i v[DWF_MAX_TAPS + 1];
            for (int64_t i = 0; i < kh; i++) {
                int64_t ih = oh * a->w.sh + i * a->w.dh - a->w.pt;
                int64_t at = ih * d->w + ow * sw - a->w.pl; /* tap (i, 0)'s first byte */
                bool inside = ih >= 0 && ih < d->h;
                for (int64_t j = 0; j < kw; j++) {
                    int64_t pos = at + j * a->w.dw;
                    bool plain = pos >= -before && pos + 16 * sw <= after;
                    v[i * kw + j] = inside ? qd_tap16((const void *)((uintptr_t)xp + (uintptr_t)pos),
                                                      sw, plain, lm[j], bm[j], vz)
                                           : zero;
                }
            }
            v[taps] = zero;
            __m256i s0 = zero, s1 = zero;
            for (int64_t t = 0; t < taps; t += 2)
                qd_pair(v[t], v[t + 1], wp[t / 2], &s0, &s1);
            int32_t *ar = acc + oh * d->ow + ow;
            _mm256_mask_storeu_epi32(ar, (__mmask8)out, _mm256_permute2x128_si256(s0, s1, 0x20));
            _mm256_mask_storeu_epi32(ar + 8, (__mmask8)(out >> 8),
                                     _mm256_permute2x128_si256(s0, s1, 0x31));
        }
    }
}

/* The plane straight from the input, strides 1 and 2 (qd_plane), unrolled for 3x3. */
__attribute__((target(QD_TARGET))) void
qk_dw_direct_avx512(const ConvAttrs *a, const CDims *d, const int8_t *xp, int64_t before,
                    int64_t after, const int8_t *wk, int32_t zp, int32_t *acc)
{
    if (a->w.kh == 3 && a->w.kw == 3 && a->w.sw == 1)
        qd_plane(a, d, xp, before, after, wk, zp, acc, 3, 3, 1);
    else if (a->w.kh == 3 && a->w.kw == 3)
        qd_plane(a, d, xp, before, after, wk, zp, acc, 3, 3, 2);
    else if (a->w.sw == 1)
        qd_plane(a, d, xp, before, after, wk, zp, acc, a->w.kh, a->w.kw, 1);
    else
        qd_plane(a, d, xp, before, after, wk, zp, acc, a->w.kh, a->w.kw, 2);
}

/* Channels across lanes (qkernels_dw.h): each tap of an output pixel is one 16-byte load
 * of the padded, channel-interleaved input, times each lane's own weight; the padding
 * holds zp, so sum x w - zp sum w is the reference's sum of (x - zp) w over the taps
 * inside (exact int32). kh, kw and the strides are constants in the common callers. */
QD_INLINE void qd_chan(const ConvAttrs *a, const CDims *d, const int8_t *t, int64_t pw,
                       const int8_t *wk, int64_t np, int32_t zp, int32_t *acc,
                       const int64_t kh, const int64_t kw, const int64_t sh, const int64_t sw)
{
    const int64_t taps = kh * kw;
    __m512i wv[DWF_MAX_TAPS];
    int32_t sumw[DWF_LANES] = { 0 };
    for (int64_t q = 0; q < taps; q++) {
        int32_t buf[DWF_LANES];
        for (int64_t k = 0; k < DWF_LANES; k++) {
            buf[k] = k < np ? wk[k * taps + q] : 0;
            sumw[k] += buf[k];
        }
        wv[q] = _mm512_loadu_si512(buf);
    }
    const __m512i base = _mm512_mullo_epi32(_mm512_loadu_si512(sumw), _mm512_set1_epi32(-zp));
    const int64_t dh = a->w.dh, dw = a->w.dw;
    for (int64_t oh = 0; oh < d->oh; oh++)
        for (int64_t ow = 0; ow < d->ow; ow++) {
            const int8_t *p = t + (oh * sh * pw + ow * sw) * DWF_LANES;
            __m512i s = base;
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++) {
                    __m512i x = _mm512_cvtepi8_epi32(_mm_loadu_si128(
                        (const __m128i *)(p + (i * dh * pw + j * dw) * DWF_LANES)));
                    s = _mm512_add_epi32(s, _mm512_mullo_epi32(x, wv[i * kw + j]));
                }
            _mm512_storeu_si512(acc + (oh * d->ow + ow) * DWF_LANES, s);
        }
}

__attribute__((target(QD_TARGET))) void
qk_dw_chan_avx512(const ConvAttrs *a, const CDims *d, const int8_t *t, int64_t pw,
                  const int8_t *wk, int64_t np, int32_t zp, int32_t *acc)
{
    if (a->w.kh == 3 && a->w.kw == 3 && a->w.sh == 1 && a->w.sw == 1)
        qd_chan(a, d, t, pw, wk, np, zp, acc, 3, 3, 1, 1);
    else if (a->w.kh == 3 && a->w.kw == 3 && a->w.sh == 2 && a->w.sw == 2)
        qd_chan(a, d, t, pw, wk, np, zp, acc, 3, 3, 2, 2);
    else
        qd_chan(a, d, t, pw, wk, np, zp, acc, a->w.kh, a->w.kw, a->w.sh, a->w.sw);
}

/* The flat map (kern/dwconv_flat.h, stride 1 and the same size): 16 outputs of a block of
 * planes per vector, a masked byte load per tap at the tap's shift (lanes outside the
 * input load nothing and subtract nothing: (x - zp) is 0 there, as the reference skips
 * them), each lane times its own channel's weight. */
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
qk_dw_flat_avx512(const DwFlat *f, const int8_t *x, const int8_t *wk, int64_t np, int32_t zp,
                  int32_t *acc)
{
    const int64_t taps = f->taps;
    const bool one = f->planes == 1;
    const __m512i vz = _mm512_set1_epi32(zp), vnp = _mm512_set1_epi32((int)np);
    const int64_t span = np * f->vecs * DWF_LANES / f->planes; /* np input planes' bytes */
    __m512i wt[DWF_MAX_TAPS];
    if (one) {
        for (int64_t t = 0; t < taps; t++)
            wt[t] = _mm512_set1_epi32(wk[t]);
    } else { /* lane k: channel k's tap t (every tap written before any vector is read) */
        int32_t buf[DWF_MAX_TAPS][DWF_LANES];
        for (int64_t t = 0; t < taps; t++)
            for (int64_t k = 0; k < DWF_LANES; k++)
                buf[t][k] = k < np ? wk[k * taps + t] : 0;
        for (int64_t t = 0; t < taps; t++)
            wt[t] = _mm512_loadu_si512(buf[t]);
    }
    for (int64_t v = 0; v < f->vecs; v++) {
        __m512i pl = _mm512_loadu_si512(f->plane[v]);
        __mmask16 live = _mm512_cmplt_epi32_mask(pl, vnp);
        __m512i s = _mm512_setzero_si512();
        for (int64_t t = 0; t < taps; t++) {
            __mmask16 m = (__mmask16)(f->mask[v][t] & live);
            int64_t off = v * DWF_LANES + f->shift[t];
            const int8_t *p = (const int8_t *)((uintptr_t)x + (uintptr_t)off);
            /* inside the block's planes: a plain load (masked loads are slow on some
             * cores), the lanes outside zeroed below */
            __m128i b = off >= 0 && off + DWF_LANES <= span ? _mm_loadu_si128((const __m128i *)p)
                                                            : _mm_maskz_loadu_epi8(m, p);
            __m512i xv = _mm512_cvtepi8_epi32(b);
            xv = _mm512_maskz_sub_epi32(m, xv, vz);
            __m512i wv = one ? wt[t] : _mm512_permutexvar_epi32(pl, wt[t]);
            s = _mm512_add_epi32(s, _mm512_mullo_epi32(xv, wv));
        }
        _mm512_mask_storeu_epi32(acc + v * DWF_LANES, live, s);
    }
}

#else
typedef int qk_dw_avx512_empty; /* ISO C wants a declaration in every translation unit */
#endif
