/* Pieces of the integer kernels shared by the step files of the executor (qkernels.c: the
 * step table; qkernels_linq.c: int8-static linear units; qkernels_requant.c: the target's
 * requantization; qkernels_dw*.c: int8 depthwise). Internal to qexec. */
#ifndef QS_QKERNELS_H
#define QS_QKERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kern/simd.h"
#include "qexec/qexec_internal.h"

static inline size_t qk_align(size_t n) { return (n + QX_ALIGN - 1) & ~(size_t)(QX_ALIGN - 1); }

/* Carves `bytes` off the scratch cursor (kept 64-byte aligned). */
static inline void *qk_take(char **cur, size_t bytes)
{
    void *p = *cur;
    *cur += qk_align(bytes);
    return p;
}

/* y[i sy] = the requantization of sat32(acc[i sa] + corr) under r.rule
 * (quant_requant_rule), clamped to [lo, hi], for 0 <= i < n. Exact integer arithmetic (the
 * fp32 rule's float steps are exact too), so the result depends on nothing but the
 * inputs. */
void qk_requant_row(const int32_t *acc, int64_t sa, int64_t n, int64_t corr, Requant r,
                    int32_t z, int32_t lo, int32_t hi, int8_t *y, int64_t sy);

/* Row r of the im2row matrix of one sample and group, r = oh OW + ow: (CG*KH*KW) taps from
 * x (CG, H, W); taps outside the input read the zero point zp, the quantized 0, so
 * padding adds nothing once the zero-point correction is applied. */
void qk_im2row_row(const ConvAttrs *a, const CDims *d, const int8_t *x, int8_t zp,
                   int64_t oh, int64_t ow, int8_t *r);
/* Every row of one sample and group into col (OH*OW, CG*KH*KW). */
void qk_im2row(const ConvAttrs *a, const CDims *d, const int8_t *x, int8_t zp, int8_t *col);

/* Depthwise, one output plane: acc (OH*OW) = sum over the taps inside the input of
 * (x - zp) w, which equals padding with zp. The row kernel is chosen by level (the
 * SIMD versions give the same integers). */
void qk_dw_plane(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                 int32_t zp, int32_t *acc, SimdLevel level);

/* acc[i] += (x[i s] - zp) w for 0 <= i < n: the depthwise inner loop, one row of one tap.
 * Each level's version; all give the same integers. */
typedef void (*QkDwRowFn)(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp,
                          int32_t w);
void qk_dw_row_ref(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp, int32_t w);
void qk_dw_row_avx2(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp,
                    int32_t w);
void qk_dw_row_avx512(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp,
                      int32_t w);

/* STEP_LIN_Q's integer run (LORT_QLINEAR units; others go to qexec_ort_run) and its
 * scratch (qkernels_linq.c). */
void qk_lin_q_int(const Step *s, StepIO *io);
size_t qk_lin_q_int_scratch(const Step *s, const StepIO *io);

#endif
