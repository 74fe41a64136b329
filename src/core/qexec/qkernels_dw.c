/* Int8 depthwise convolution, one output plane at a time: one kernel tap at a time over its
 * valid output rectangle, so the inner loop (a row of one tap) has no bounds checks and is
 * the only part with SIMD versions (qkernels_dw_avx2.c, qkernels_dw_avx512.c). Integer sums
 * of exact products: every version gives the same accumulators. */
#include <string.h>

#include "ops/geometry.h"
#include "qexec/qkernels.h"

void qk_dw_row_ref(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp, int32_t w)
{
    for (int64_t i = 0; i < n; i++)
        acc[i] += ((int32_t)x[i * s] - zp) * w;
}

static QkDwRowFn qk_dw_row_for(SimdLevel level)
{
#if defined(__x86_64__)
    if (level >= SIMD_AVX512)
        return qk_dw_row_avx512;
    if (level >= SIMD_AVX2)
        return qk_dw_row_avx2;
#else
    (void)level;
#endif
    return qk_dw_row_ref;
}

void qk_dw_plane(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                 int32_t zp, int32_t *acc, SimdLevel level)
{
    QkDwRowFn row = qk_dw_row_for(level);
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
            if (ow1 <= ow0)
                continue;
            for (int64_t oh = oh0; oh < oh1; oh++) {
                const int8_t *xr = xp + (oh * a->w.sh + offh) * d->w + offw;
                row(acc + oh * d->ow + ow0, xr + ow0 * a->w.sw, a->w.sw, ow1 - ow0, zp, wv);
            }
        }
}
