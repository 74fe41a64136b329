/* The depthwise kernels' shared pieces (qkernels_dw*.c). Internal to qexec. */
#ifndef QS_QKERNELS_DW_H
#define QS_QKERNELS_DW_H

#include "qexec/qkernels.h"

/* The padded plane the SIMD versions read: every row and column a tap of an output
 * reads, the input where it is inside, zp elsewhere, rows of qk_dw_pad_w bytes. */
int64_t qk_dw_pad_h(const ConvAttrs *a, const CDims *d);
int64_t qk_dw_pad_w(const ConvAttrs *a, const CDims *d);
void qk_dw_pad(const ConvAttrs *a, const CDims *d, const int8_t *xp, int8_t zp, int8_t *pad);
/* Bytes any SIMD version may read past the padded plane (into lanes it never stores). */
enum { QK_DW_SLACK = 64 };

/* The SIMD planes on a padded plane (strides 1 and 2; qk_dw_plane sends others to the
 * reference). */
void qk_dw_padded_avx2(const ConvAttrs *a, const CDims *d, const int8_t *pad, const int8_t *wk,
                       int32_t zp, int32_t *acc);
void qk_dw_padded_avx512(const ConvAttrs *a, const CDims *d, const int8_t *pad,
                         const int8_t *wk, int32_t zp, int32_t *acc);

#endif
