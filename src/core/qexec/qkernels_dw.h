/* The depthwise kernels' shared pieces (qkernels_dw*.c). Internal to qexec. */
#ifndef QS_QKERNELS_DW_H
#define QS_QKERNELS_DW_H

#include "kern/dwconv_flat.h"
#include "qexec/qkernels.h"

/* The padded plane the SIMD versions read: every row and column a tap of an output
 * reads, the input where it is inside, zp elsewhere, rows of qk_dw_pad_w bytes. */
int64_t qk_dw_pad_h(const ConvAttrs *a, const CDims *d);
int64_t qk_dw_pad_w(const ConvAttrs *a, const CDims *d);
void qk_dw_pad(const ConvAttrs *a, const CDims *d, const int8_t *xp, int8_t zp, int8_t *pad);
/* Bytes any SIMD version may read past the padded plane (into lanes it never stores). */
enum { QK_DW_SLACK = 64 };

/* The AVX2 plane on a padded plane (strides 1 and 2; qk_dw_plane sends others to the
 * reference). */
void qk_dw_padded_avx2(const ConvAttrs *a, const CDims *d, const int8_t *pad, const int8_t *wk,
                       int32_t zp, int32_t *acc);

/* The AVX-512 plane read straight from the input (strides 1 and 2, at most DWF_MAX_TAPS
 * taps): no padded copy. Bytes xp - before .. xp + after - 1 may be read (loads there
 * need no mask). */
void qk_dw_direct_avx512(const ConvAttrs *a, const CDims *d, const int8_t *xp, int64_t before,
                         int64_t after, const int8_t *wk, int32_t zp, int32_t *acc);

/* Channels across lanes, for maps too narrow to fill a row's vector (one channel
 * multiplier, at most DWF_MAX_TAPS taps): t holds np <= 16 channels of one sample
 * interleaved, t[(r pw + c) 16 + k] = channel k's padded plane at (r, c) (the rows and
 * columns qk_dw_pad_h and qk_dw_pad_w count, zp in the padding); acc[(oh OW + ow) 16 + k]
 * gets channel k's sum, the same integers as qk_dw_plane's (lanes k >= np: anything). */
void qk_dw_chan_avx512(const ConvAttrs *a, const CDims *d, const int8_t *t, int64_t pw,
                       const int8_t *wk, int64_t np, int32_t zp, int32_t *acc);
/* t's bytes, and t made from np consecutive input planes x of one sample (xt: H W 16
 * bytes of working memory). */
size_t qk_dw_chan_bytes(const ConvAttrs *a, const CDims *d);
void qk_dw_chan_layout(const ConvAttrs *a, const CDims *d, const int8_t *x, int64_t np,
                       int8_t zp, int8_t *xt, int8_t *t);
/* qk_dw_chan_avx512 on t (x86-64 only: callers check the level first). */
void qk_dw_chan(const ConvAttrs *a, const CDims *d, const int8_t *t, const int8_t *wk,
                int64_t np, int32_t zp, int32_t *acc);

/* A block of np consecutive planes of one sample on the flat map f (contiguous: stride 1,
 * the same size; one channel multiplier): x the block's first input plane, wk its first
 * channel's taps, acc (np OH OW) the planes' sums, the same integers as qk_dw_plane. */
void qk_dw_flat_avx512(const DwFlat *f, const int8_t *x, const int8_t *wk, int64_t np,
                       int32_t zp, int32_t *acc);

#endif
