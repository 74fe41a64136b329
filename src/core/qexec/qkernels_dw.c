/* Int8 depthwise convolution, one output plane at a time (qkernels_dw.h's loop): the row
 * of one tap is the only part with SIMD versions (qkernels_dw_avx2.c,
 * qkernels_dw_avx512.c). Integer sums of exact products: every version gives the same
 * accumulators. */
#include "qexec/qkernels_dw.h"

static inline void qk_dw_row_ref_inl(int32_t *acc, const int8_t *x, int64_t s, int64_t n,
                                     int32_t zp, int32_t w)
{
    for (int64_t i = 0; i < n; i++)
        acc[i] += ((int32_t)x[i * s] - zp) * w;
}

void qk_dw_row_ref(int32_t *acc, const int8_t *x, int64_t s, int64_t n, int32_t zp, int32_t w)
{
    qk_dw_row_ref_inl(acc, x, s, n, zp, w);
}

void qk_dw_plane_ref(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                     int32_t zp, int32_t *acc)
{
    QK_DW_PLANE_BODY(qk_dw_row_ref_inl)
}

void qk_dw_plane(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                 int32_t zp, int32_t *acc, SimdLevel level)
{
#if defined(__x86_64__)
    if (level >= SIMD_AVX512) {
        qk_dw_plane_avx512(a, d, xp, wk, zp, acc);
        return;
    }
    if (level >= SIMD_AVX2) {
        qk_dw_plane_avx2(a, d, xp, wk, zp, acc);
        return;
    }
#else
    (void)level;
#endif
    qk_dw_plane_ref(a, d, xp, wk, zp, acc);
}
