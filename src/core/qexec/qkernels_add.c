/* The int8 Add under the qscope rule (TADD_EXACT): y = clamp(z + rshift_even(M_a (a - z_a)
 * + M_b (b - z_b), S), qmin, qmax), exact in int64 (target_add_apply's arithmetic), for a
 * range of elements; the other targets' rules go through target_add_apply. */
#include "qexec/qkernels.h"

/* The AVX-512 lanes hold the sum in int64 and round with the shift's bias: they need
 * S >= 1 and zero points small enough that |M| |q - z| (M <= 2^40) stays far from 2^63. */
static bool qk_add_lanes_fit(const TargetAdd *ad)
{
    const int32_t zmax = 1 << 16;
    return ad->shift >= 1 && ad->shift <= 62 && ad->za >= -zmax && ad->za <= zmax &&
           ad->zb >= -zmax && ad->zb <= zmax;
}

void qk_add_exact(const TargetAdd *ad, const QParams *p, const int8_t *a, const int8_t *b,
                  int8_t *y, int64_t n, SimdLevel level)
{
#if defined(__x86_64__)
    if (level >= SIMD_AVX512 && qk_add_lanes_fit(ad)) {
        qk_add_exact_avx512(ad, p, a, b, y, n);
        return;
    }
#else
    (void)level;
#endif
    int64_t za = ad->za, zb = ad->zb;
    for (int64_t i = 0; i < n; i++) {
        int64_t acc = ad->mult[0] * ((int64_t)a[i] - za) + ad->mult[1] * ((int64_t)b[i] - zb);
        int64_t q = (int64_t)p->zero_point + quant_rshift_even(acc, ad->shift);
        y[i] = (int8_t)(q < p->qmin ? p->qmin : q > p->qmax ? p->qmax : q);
    }
}
