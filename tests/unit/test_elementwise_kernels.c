/* The elementwise kernels, exact by construction:
 *   - the clamp of Relu and Clip (kern/clamp.h): every SIMD level gives the scalar rule's
 *     bits (x < lo ? lo : x > hi ? hi : x) on NaN, +-0, +-inf, the bounds themselves and
 *     lengths that leave vector tails; at 2 threads too; in place as well;
 *   - a BatchNormalization's formula then the clamp (kern/clamp.h norm_clamp_f32, the fused
 *     epilogue of a conv and the op itself): every level gives the scalar formula's bits;
 *   - fake quantization (kern/fakequant.h): every SIMD level gives base/quant.h's
 *     quant_fake bits, ties, saturation, overflow of x / s and signed zeros included. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/quant.h"
#include "kern/clamp.h"
#include "kern/fakequant.h"
#include "kern/simd.h"
#include "kern/threads.h"
#include "test_util.h"

static float rule(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void test_fakequant(const float *x, int64_t n)
{
    static const float scales[] = { 0.1f, 3.0f, 1e-30f, 0.0078125f, 7e20f };
    static const int32_t grids[][3] = { { -128, 127, 0 },   { -128, 127, -128 }, { -128, 127, 127 },
                                        { 0, 255, 37 },     { -127, 127, 0 },    { 0, 255, 0 },
                                        { -32768, 32767, 5 } };
    SimdLevel top = simd_detected();
    float *y = malloc((size_t)n * sizeof *y), *want = malloc((size_t)n * sizeof *want);
    for (int si = 0; si < 5; si++)
        for (int gi = 0; gi < 14; gi++) { /* the second 7: values far past the grid */
            const int32_t *gr = grids[gi % 7];
            QParams p = { .scale = scales[si], .qmin = gr[0], .qmax = gr[1], .zero_point = gr[2] };
            float *xs = malloc((size_t)n * sizeof *xs), wide = gi < 7 ? 1.0f : 5000.0f;
            for (int64_t i = 0; i < n; i++) {
                xs[i] = x[i] * wide * scales[si];
                want[i] = quant_fake(xs[i], &p);
            }
            for (int l = 0; l <= (int)top; l++) {
                simd_cap((SimdLevel)l);
                fakequant_f32(xs, y, n, p.scale, (float)(p.qmin - p.zero_point),
                              (float)(p.qmax - p.zero_point));
                if (!CHECK(memcmp(y, want, (size_t)n * sizeof *y) == 0))
                    printf("  fake quant s %g grid [%d, %d] z %d at %s differs from quant_fake\n",
                           p.scale, p.qmin, p.qmax, p.zero_point, simd_name((SimdLevel)l));
            }
            simd_cap(top);
            free(xs);
        }
    free(y);
    free(want);
}

static void test_norm_clamp(const float *x, int64_t n)
{
    static const float coefs[][3] = { { 0.5f, 1.75f, -0.25f }, { -3.0f, 1e-20f, 2.0f },
                                       { 1e30f, 1e10f, 0.0f },  { 0.0f, -1.0f, -0.0f } };
    static const float bounds[][2] = { { 0.0f, INFINITY }, { 0.0f, 6.0f }, { -0.0f, 0.0f } };
    SimdLevel top = simd_detected();
    float *y = malloc((size_t)n * sizeof *y), *want = malloc((size_t)n * sizeof *want);
    for (int ci = 0; ci < 4; ci++)
        for (int bi = -1; bi < 3; bi++) { /* -1: no clamp */
            const float *c = coefs[ci];
            float lo = bi < 0 ? 0.0f : bounds[bi][0], hi = bi < 0 ? 0.0f : bounds[bi][1];
            for (int64_t i = 0; i < n; i++) {
                float v = (x[i] - c[0]) * c[1] + c[2];
                want[i] = bi < 0 ? v : rule(v, lo, hi);
            }
            for (int64_t len = n - 20; len <= n; len++) /* every tail length */
                for (int l = 0; l <= (int)top; l++) {
                    simd_cap((SimdLevel)l);
                    memcpy(y, x, (size_t)n * sizeof *y);
                    norm_clamp_f32(y, y, len, c[0], c[1], c[2], bi >= 0, lo, hi);
                    if (!CHECK(memcmp(y, want, (size_t)len * sizeof *y) == 0 &&
                               memcmp(y + len, x + len, (size_t)(n - len) * sizeof *y) == 0))
                        printf("  norm_clamp coefs %d bounds %d n %lld at %s differs\n", ci, bi,
                               (long long)len, simd_name((SimdLevel)l));
                }
            simd_cap(top);
        }
    free(y);
    free(want);
}

int main(void)
{
    static const float specials[] = { NAN, -NAN, 0.0f, -0.0f, INFINITY, -INFINITY,
                                      6.0f, -1.0f, 1e-45f, 3.5f, -7.25f, 6.0000005f };
    static const float bounds[][2] = { { 0.0f, INFINITY }, { 0.0f, 6.0f }, { -1.0f, 1.0f },
                                       { -0.0f, 0.0f }, { -INFINITY, INFINITY } };
    int64_t nmax = 70000; /* over the pool's 16384-element grain: two threads split it */
    float *x = malloc((size_t)nmax * sizeof *x), *y = malloc((size_t)nmax * sizeof *y);
    float *want = malloc((size_t)nmax * sizeof *want);
    for (int64_t i = 0; i < nmax; i++)
        x[i] = i % 5 == 0 ? specials[(i / 5) % 12] : (float)((i * 7919) % 2001 - 1000) / 97.0f;
    SimdLevel top = simd_detected();
    static const int64_t lengths[] = { 0, 1, 7, 8, 15, 16, 17, 33, 1000, 70000 };
    for (int t = 1; t <= 2; t++) {
        threads_set(t);
        for (int b = 0; b < 5; b++)
            for (int li = 0; li < 10; li++) {
                int64_t n = lengths[li];
                float lo = bounds[b][0], hi = bounds[b][1];
                for (int64_t i = 0; i < n; i++)
                    want[i] = rule(x[i], lo, hi);
                for (int l = 0; l <= (int)top; l++) {
                    simd_cap((SimdLevel)l);
                    clamp_f32(x, y, n, lo, hi);
                    if (!CHECK(memcmp(y, want, (size_t)n * sizeof *y) == 0))
                        printf("  n %lld [%g, %g] at %s, %d threads differs from the rule\n",
                               (long long)n, lo, hi, simd_name((SimdLevel)l), t);
                    memcpy(y, x, (size_t)n * sizeof *y); /* in place */
                    clamp_f32(y, y, n, lo, hi);
                    CHECK(memcmp(y, want, (size_t)n * sizeof *y) == 0);
                }
                simd_cap(top);
            }
    }
    test_fakequant(x, 1037);
    test_norm_clamp(x, 97);
    free(x);
    free(y);
    free(want);
    return test_summary("elementwise_kernels");
}
