/* Int8 depthwise convolution, one output plane at a time: the scalar reference, the
 * padded plane the AVX2 version reads (qkernels_dw_avx2.c; the AVX-512 one reads the input
 * itself, qkernels_dw_avx512.c), and the dispatch. Integer sums of exact products: every version gives the same accumulators. */
#include <string.h>

#include "ops/geometry.h"
#include "qexec/qkernels_dw.h"

/* One kernel tap at a time over its valid output rectangle: no bounds checks inside. */
static void qk_dw_plane_ref(const ConvAttrs *a, const CDims *d, const int8_t *xp,
                            const int8_t *wk, int32_t zp, int32_t *acc)
{
    memset(acc, 0, (size_t)(d->oh * d->ow) * sizeof *acc);
    for (int64_t i = 0; i < a->w.kh; i++)
        for (int64_t j = 0; j < a->w.kw; j++) {
            int32_t wv = wk[i * a->w.kw + j];
            if (wv == 0)
                continue;
            int64_t offh = i * a->w.dh - a->w.pt, offw = j * a->w.dw - a->w.pl;
            int64_t oh0, oh1, ow0, ow1;
            geom_range(d->oh, d->h, a->w.sh, offh, &oh0, &oh1);
            geom_range(d->ow, d->w, a->w.sw, offw, &ow0, &ow1);
            for (int64_t oh = oh0; oh < oh1; oh++) {
                const int8_t *xr = xp + (oh * a->w.sh + offh) * d->w + offw;
                int32_t *ar = acc + oh * d->ow;
                for (int64_t ow = ow0; ow < ow1; ow++)
                    ar[ow] += ((int32_t)xr[ow * a->w.sw] - zp) * wv;
            }
        }
}

int64_t qk_dw_pad_h(const ConvAttrs *a, const CDims *d)
{
    return (d->oh - 1) * a->w.sh + (a->w.kh - 1) * a->w.dh + 1;
}

int64_t qk_dw_pad_w(const ConvAttrs *a, const CDims *d)
{
    return (d->ow - 1) * a->w.sw + (a->w.kw - 1) * a->w.dw + 1;
}

size_t qk_dw_pad_bytes(const ConvAttrs *a, const CDims *d)
{
    return (size_t)(qk_dw_pad_h(a, d) * qk_dw_pad_w(a, d)) + QK_DW_SLACK;
}

void qk_dw_pad(const ConvAttrs *a, const CDims *d, const int8_t *xp, int8_t zp, int8_t *pad)
{
    const int64_t hp = qk_dw_pad_h(a, d), wp = qk_dw_pad_w(a, d);
    /* padded column c is input column c - pl */
    int64_t c0 = a->w.pl < wp ? a->w.pl : wp, c1 = a->w.pl + d->w < wp ? a->w.pl + d->w : wp;
    c1 = c1 < c0 ? c0 : c1;
    for (int64_t r = 0; r < hp; r++) {
        int8_t *row = pad + r * wp;
        int64_t ih = r - a->w.pt;
        if (ih < 0 || ih >= d->h) {
            memset(row, zp, (size_t)wp);
            continue;
        }
        memset(row, zp, (size_t)c0);
        memcpy(row + c0, xp + ih * d->w + (c0 - a->w.pl), (size_t)(c1 - c0));
        memset(row + c1, zp, (size_t)(wp - c1));
    }
    memset(pad + hp * wp, 0, QK_DW_SLACK);
}

size_t qk_dw_chan_bytes(const ConvAttrs *a, const CDims *d)
{
    return (size_t)(qk_dw_pad_h(a, d) * qk_dw_pad_w(a, d) * DWF_LANES);
}

void qk_dw_chan_layout(const ConvAttrs *a, const CDims *d, const int8_t *x, int64_t np,
                       int8_t zp, int8_t *xt, int8_t *t)
{
    const int64_t hw = d->h * d->w, ph = qk_dw_pad_h(a, d), pw = qk_dw_pad_w(a, d);
    const int64_t pt = a->w.pt, pl = a->w.pl;
    /* the whole planes in one transpose (rows of a few bytes would go byte by byte) */
    qk_transpose_i8(x, hw, np, hw, xt, DWF_LANES);
    memset(t, zp, qk_dw_chan_bytes(a, d));
    /* the rows and columns the taps reach */
    const int64_t rows = d->h < ph - pt ? d->h : ph - pt, cols = d->w < pw - pl ? d->w : pw - pl;
    for (int64_t ih = 0; ih < rows && cols > 0; ih++)
        memcpy(t + ((ih + pt) * pw + pl) * DWF_LANES, xt + ih * d->w * DWF_LANES,
               (size_t)(cols * DWF_LANES));
}

/* One channel's geometry as the float kernels describe it. */
static ConvPlane qk_dw_geom(const ConvAttrs *a, const CDims *d)
{
    return (ConvPlane){ 1,       d->h,    d->w,    d->oh,   d->ow,   a->w.kh, a->w.kw,
                        a->w.sh, a->w.sw, a->w.dh, a->w.dw, a->w.pt, a->w.pl };
}

int64_t qk_dw_block_planes(const ConvAttrs *a, const CDims *d)
{
    ConvPlane g = qk_dw_geom(a, d);
    return dwflat_planes(&g);
}

bool qk_dw_flat_map(const ConvAttrs *a, const CDims *d, SimdLevel level, DwFlat *f)
{
    ConvPlane g = qk_dw_geom(a, d);
    bool contig = g.sh == 1 && g.sw == 1 && g.oh == g.h && g.ow == g.w;
#if defined(__x86_64__)
    return level >= SIMD_AVX512 && contig && d->ocg == 1 && dwflat_pays(&g, d->n * d->oc) &&
           dwflat_init(f, &g);
#else
    (void)level;
    (void)contig;
    (void)f;
    return false;
#endif
}

void qk_dw_block(const DwFlat *f, const int8_t *x, const int8_t *wk, int64_t np, int32_t zp,
                 int32_t *acc)
{
#if defined(__x86_64__)
    qk_dw_flat_avx512(f, x, wk, np, zp, acc);
#else
    (void)f, (void)x, (void)wk, (void)np, (void)zp, (void)acc;
#endif
}

void qk_dw_chan(const ConvAttrs *a, const CDims *d, const int8_t *t, const int8_t *wk,
                int64_t np, int32_t zp, int32_t *acc)
{
#if defined(__x86_64__)
    qk_dw_chan_avx512(a, d, t, qk_dw_pad_w(a, d), wk, np, zp, acc);
#else
    (void)a, (void)d, (void)t, (void)wk, (void)np, (void)zp, (void)acc;
#endif
}

void qk_dw_plane(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                 int32_t zp, int32_t *acc, int8_t *pad, SimdLevel level)
{
    qk_dw_plane_in(a, d, xp, 0, d->h * d->w, wk, zp, acc, pad, level);
}

void qk_dw_plane_in(const ConvAttrs *a, const CDims *d, const int8_t *xp, int64_t before,
                    int64_t after, const int8_t *wk, int32_t zp, int32_t *acc, int8_t *pad,
                    SimdLevel level)
{
#if defined(__x86_64__)
    if (level >= SIMD_AVX512 && a->w.sw <= 2 && a->w.kh * a->w.kw <= DWF_MAX_TAPS) {
        qk_dw_direct_avx512(a, d, xp, before, after, wk, zp, acc);
        return;
    }
    if (pad && level >= SIMD_AVX2 && a->w.sw <= 2) {
        qk_dw_pad(a, d, xp, (int8_t)zp, pad);
        qk_dw_padded_avx2(a, d, pad, wk, zp, acc);
        return;
    }
#else
    (void)before, (void)after, (void)pad, (void)level;
#endif
    qk_dw_plane_ref(a, d, xp, wk, zp, acc);
}
