/* The depthwise plane loop shared by every level's file (qkernels_dw*.c), inlined there
 * with that level's row kernel so the short rows of small planes cost no call. Internal
 * to qexec. */
#ifndef QS_QKERNELS_DW_H
#define QS_QKERNELS_DW_H

#include <string.h>

#include "ops/geometry.h"
#include "qexec/qkernels.h"

/* acc (OH*OW) = sum over the taps inside the input of (x - zp) w: one kernel tap at a time
 * over its valid output rectangle, so the row kernel has no bounds checks. */
#define QK_DW_PLANE_BODY(ROW)                                                              \
    memset(acc, 0, (size_t)(d->oh * d->ow) * sizeof *acc);                                 \
    for (int64_t i = 0; i < a->w.kh; i++)                                                  \
        for (int64_t j = 0; j < a->w.kw; j++) {                                            \
            int32_t wv = wk[i * a->w.kw + j];                                              \
            if (wv == 0)                                                                   \
                continue;                                                                  \
            int64_t offh = i * a->w.dh - a->w.pt, offw = j * a->w.dw - a->w.pl;            \
            int64_t oh0, oh1, ow0, ow1;                                                    \
            geom_range(d->oh, d->h, a->w.sh, offh, &oh0, &oh1);                            \
            geom_range(d->ow, d->w, a->w.sw, offw, &ow0, &ow1);                            \
            if (ow1 <= ow0)                                                                \
                continue;                                                                  \
            for (int64_t oh = oh0; oh < oh1; oh++) {                                       \
                const int8_t *xr = xp + (oh * a->w.sh + offh) * d->w + offw;               \
                ROW(acc + oh * d->ow + ow0, xr + ow0 * a->w.sw, a->w.sw, ow1 - ow0, zp, wv); \
            }                                                                              \
        }

/* Each level's plane (qk_dw_plane's contract). */
void qk_dw_plane_ref(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                     int32_t zp, int32_t *acc);
void qk_dw_plane_avx2(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                      int32_t zp, int32_t *acc);
void qk_dw_plane_avx512(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                        int32_t zp, int32_t *acc);

#endif
