/* The scalar microkernel: the rule element by element with fmaf. It runs at the scalar SIMD
 * level and for packed operands whose sliver width no longer matches the level's kernel. */
#include <math.h>

#include "kern/clamp.h"
#include "kern/sgemm_internal.h"

void sg_micro_generic(const SgTile *t, int m)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < t->nr; j++) {
            float *c = &t->c[i * t->ldc + j];
            float acc = t->c0 == SG_C0_LOAD     ? *c
                        : t->c0 == SG_C0_BIAS_M ? t->bias[i]
                        : t->c0 == SG_C0_BIAS_N ? t->bias[j]
                                                : 0.0f;
            for (int64_t k = 0; k < t->kc; k++)
                acc = fmaf(t->a[k * t->mr + i], t->b[k * t->ldb + j], acc);
            *c = t->clamp ? clamp_value(acc, t->lo, t->hi) : acc;
        }
}

SgKernel sg_kernel(SimdLevel l)
{
    if (l == SIMD_AVX512)
        return sg_kernel_avx512;
    if (l == SIMD_AVX2)
        return sg_kernel_avx2;
    return (SgKernel){ 8, 8, sg_micro_generic };
}
