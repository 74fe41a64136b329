/* The training kernels give their scalar definitions' bits at every SIMD level (and at 2
 * threads where they split work), on data with NaN, signed zeros, infinities, rounding
 * ties, saturation and lengths that leave vector tails:
 *   - Relu's and Clip's pass masks (kern/backward.h), dx accumulated onto -0 and others;
 *   - FakeQuant's straight-through gradient and its LSQ scale sum (kern/backward.h), the
 *     sum compared as a double, with and without dx, for odd scales (0, negative, inf);
 *   - the bias gradient's per-channel sums (channel counts that leave the 8-chain tail);
 *   - the Adam / AdamW update (kern/adam.h) with and without weight decay;
 *   - the finite range of QAT's moving-average observer (kern/minmax.h), signed zeros too.
 * The definitions are written out here, apart from the kernels. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/adam.h"
#include "kern/backward.h"
#include "kern/minmax.h"
#include "base/quant.h"
#include "kern/simd.h"
#include "kern/threads.h"
#include "test_util.h"

#define NMAX 40000

/* Equal bits, or NaN on both sides: a NaN's sign and payload are not a result (x86 keeps
 * the first operand's NaN, and a compiler may swap the operands of a commutative add). */
static bool same_f32(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) != 0 && !(isnan(a[i]) && isnan(b[i])))
            return false;
    return true;
}

static bool same_f64(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
} /* over the pool's 16384-element grain: two threads split it */

static const float specials[] = { NAN, -NAN, 0.0f, -0.0f, INFINITY, -INFINITY, 6.0f, -1.0f,
                                  1e-45f, 3.5f, -7.25f, 2.5f, -0.5f, 127.5f, -128.5f };
#define N_SPECIALS (int)(sizeof specials / sizeof specials[0])

static float *fill(int64_t n, unsigned seed, float spread)
{
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = i % 7 == 0 ? specials[(i / 7) % N_SPECIALS]
                          : ((float)((seed >> 8) % 20001) - 10000.0f) / 10000.0f * spread;
    }
    return x;
}

static void test_pass(const float *x, const float *dy, const float *dx0)
{
    static const float bounds[][2] = { { 0.0f, 6.0f }, { -1.0f, 1.0f }, { -0.0f, 0.0f },
                                       { -INFINITY, INFINITY } };
    static const int64_t lengths[] = { 0, 1, 7, 8, 15, 16, 17, 33, 1000, NMAX };
    float *dx = malloc(NMAX * sizeof *dx), *want = malloc(NMAX * sizeof *want);
    SimdLevel top = simd_detected();
    for (int t = 1; t <= 2; t++) {
        threads_set(t);
        for (int b = -1; b < 4; b++) /* -1: Relu */
            for (int li = 0; li < 10; li++) {
                int64_t n = lengths[li];
                float lo = b < 0 ? 0.0f : bounds[b][0], hi = b < 0 ? 0.0f : bounds[b][1];
                for (int64_t i = 0; i < n; i++) {
                    bool pass = b < 0 ? !(x[i] <= 0.0f) : x[i] >= lo && x[i] <= hi;
                    want[i] = pass ? dx0[i] + dy[i] : dx0[i];
                }
                for (int l = 0; l <= (int)top; l++) {
                    simd_cap((SimdLevel)l);
                    memcpy(dx, dx0, (size_t)n * sizeof *dx);
                    if (b < 0)
                        backward_relu_f32(x, dy, dx, n);
                    else
                        backward_clip_f32(x, dy, dx, n, lo, hi);
                    if (!CHECK(memcmp(dx, want, (size_t)n * sizeof *dx) == 0))
                        printf("  %s n %lld at %s, %d threads differs from the rule\n",
                               b < 0 ? "relu" : "clip", (long long)n, simd_name((SimdLevel)l), t);
                }
                simd_cap(top);
            }
    }
    threads_set(1);
    free(dx);
    free(want);
}

/* ops/op_fakequant.c's rule, element by element. */
static double fq_rule(const float *x, const float *dy, float *dx, int64_t n, float s, float lo,
                      float hi, double acc)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] / s, r = nearbyintf(v);
        if (r >= lo && r <= hi) {
            if (dx)
                dx[i] += dy[i];
            acc += (double)dy[i] * ((double)r - (double)v);
        } else if (r < lo) {
            acc += (double)dy[i] * lo;
        } else if (r > hi) {
            acc += (double)dy[i] * hi;
        }
    }
    return acc;
}

static void test_fakequant(const float *x0, const float *dy, const float *dx0)
{
    int finite_sums = 0;
    static const float scales[] = { 0.1f, 0.0078125f, 1e-30f, 7e20f, 0.0f, -0.5f, INFINITY };
    static const float grids[][2] = { { -128, 127 }, { 0, 255 }, { -255, 0 }, { -2147483648.0f, 2147483648.0f } };
    int64_t n = 1037;
    float *x = malloc((size_t)n * sizeof *x), *dx = malloc((size_t)n * sizeof *dx);
    float *want = malloc((size_t)n * sizeof *want);
    SimdLevel top = simd_detected();
    for (int si = 0; si < 7; si++)
        for (int gi = 0; gi < 8; gi++) { /* the second 4: values far past the grid */
            float s = scales[si], lo = grids[gi % 4][0], hi = grids[gi % 4][1];
            float wide = gi < 4 ? 1.0f : 40.0f;
            for (int64_t i = 0; i < n; i++) /* x0 has ties k + 1/2 */
                x[i] = x0[i] * wide * s;
            memcpy(want, dx0, (size_t)n * sizeof *want);
            double acc_want = fq_rule(x, dy, want, n, s, lo, hi, 0.25);
            finite_sums += isfinite(acc_want);
            for (int l = 0; l <= (int)top; l++) {
                simd_cap((SimdLevel)l);
                memcpy(dx, dx0, (size_t)n * sizeof *dx);
                double acc = 0.25;
                backward_fakequant_f32(x, dy, dx, n, s, lo, hi, &acc);
                if (!CHECK(memcmp(dx, want, (size_t)n * sizeof *dx) == 0 &&
                           same_f64(acc, acc_want)))
                    printf("  fake quant s %g [%g, %g] at %s: sum %.17g, rule %.17g\n", s, lo,
                           hi, simd_name((SimdLevel)l), acc, acc_want);
                memcpy(dx, dx0, (size_t)n * sizeof *dx); /* dx only */
                backward_fakequant_f32(x, dy, dx, n, s, lo, hi, NULL);
                CHECK(memcmp(dx, want, (size_t)n * sizeof *dx) == 0);
                acc = 0.25; /* the sum only */
                backward_fakequant_f32(x, dy, NULL, n, s, lo, hi, &acc);
                CHECK(same_f64(acc, acc_want));
            }
            simd_cap(top);
        }
    CHECK(finite_sums >= 24); /* the finite positive scales' */
    free(x);
    free(dx);
    free(want);
}

static void test_channel_sums(void)
{
    float dy[1000];
    for (int i = 0; i < 1000; i++)
        dy[i] = (float)((i * 7919) % 2001 - 1000) / 97.0f;
    for (int64_t c = 1; c <= 19; c++) {
        int64_t n = 2, hw = 26;
        float db[19], want[19];
        for (int64_t ch = 0; ch < c; ch++) {
            double acc = 0.0;
            for (int64_t b = 0; b < n; b++)
                for (int64_t i = 0; i < hw; i++)
                    acc += dy[(b * c + ch) * hw + i];
            db[ch] = want[ch] = 0.5f * (float)ch;
            want[ch] = (float)(want[ch] + acc);
        }
        float db0[19];
        memcpy(db0, db, sizeof db);
        SimdLevel top = simd_detected();
        for (int l = 0; l <= (int)top; l++) {
            simd_cap((SimdLevel)l);
            memcpy(db, db0, sizeof db);
            backward_channel_sums(dy, n, c, hw, db);
            if (!CHECK(memcmp(db, want, (size_t)c * sizeof *db) == 0))
                printf("  channel sums of %lld channels at %s differ from the rule\n",
                       (long long)c, simd_name((SimdLevel)l));
        }
        simd_cap(top);
    }
}

static void adam_rule(float *w, const float *gr, float *m, float *v, int64_t n,
                      const AdamCoef *c)
{
    for (int64_t k = 0; k < n; k++) {
        float g = gr[k];
        if (c->decoupled)
            w[k] = (float)((double)w[k] * c->decay);
        else if (c->wd != 0.0)
            g = (float)((double)g + c->wd * (double)w[k]);
        m[k] = (float)(c->b1 * (double)m[k] + c->one_b1 * (double)g);
        v[k] = (float)(c->b2 * (double)v[k] + c->one_b2 * (double)g * (double)g);
        double denom = sqrt((double)v[k]) / c->bc2_sqrt + c->eps;
        w[k] = (float)((double)w[k] - c->step_size * (double)m[k] / denom);
    }
}

static void test_adam(void)
{
    int64_t n = 203;
    float *w0 = fill(n, 1, 1.0f), *g = fill(n, 2, 0.01f), *m0 = fill(n, 3, 0.001f);
    float *v0 = fill(n, 4, 1e-6f);
    for (int64_t i = 0; i < n; i++) {
        if (i % 7 == 0) { /* finite starting state; the gradient keeps its specials */
            w0[i] = 0.25f;
            m0[i] = -0.0f;
        }
        v0[i] = fabsf(v0[i]) * (i % 7 == 0 ? 0.0f : 1.0f);
    }
    size_t bytes = (size_t)n * sizeof(float);
    float *w = malloc(bytes), *m = malloc(bytes), *v = malloc(bytes);
    float *ww = malloc(bytes), *wm = malloc(bytes), *wv = malloc(bytes);
    SimdLevel top = simd_detected();
    for (int kind = 0; kind < 3; kind++) { /* adam, adam with L2, adamw */
        double lr = 1e-3, wd = kind ? 0.01 : 0.0;
        AdamCoef c = { .b1 = 0.9, .b2 = 0.999, .one_b1 = 1.0 - 0.9, .one_b2 = 1.0 - 0.999,
                       .step_size = lr / (1.0 - 0.9 * 0.9), .bc2_sqrt = sqrt(1.0 - 0.999 * 0.999),
                       .eps = 1e-8, .wd = wd, .decay = 1.0 - lr * wd, .decoupled = kind == 2 };
        memcpy(ww, w0, bytes);
        memcpy(wm, m0, bytes);
        memcpy(wv, v0, bytes);
        adam_rule(ww, g, wm, wv, n, &c);
        for (int l = 0; l <= (int)top; l++) {
            simd_cap((SimdLevel)l);
            memcpy(w, w0, bytes);
            memcpy(m, m0, bytes);
            memcpy(v, v0, bytes);
            adam_update_f32(w, g, m, v, n, &c);
            if (!CHECK(same_f32(w, ww, n) && same_f32(m, wm, n) && same_f32(v, wv, n)))
                printf("  adam kind %d at %s differs from the rule\n", kind,
                       simd_name((SimdLevel)l));
        }
        simd_cap(top);
    }
    free(w0), free(g), free(m0), free(v0), free(w), free(m), free(v);
    free(ww), free(wm), free(wv);
}

/* finite_range_f32 against quant_finite_range: signed zeros first in either order, NaN and
 * infinities around them, nothing finite, nothing at all. */
static void test_minmax(void)
{
    float x[300];
    SimdLevel top = simd_detected();
    for (int kind = 0; kind < 6; kind++)
        for (int64_t n = 0; n <= 300; n += n < 40 ? 1 : 37) {
            for (int64_t i = 0; i < n; i++) {
                float u = (float)((i * 7919 + kind) % 2001) / 97.0f; /* >= 0 */
                x[i] = kind == 0 ? u - 10.0f : kind == 1 ? u : kind == 2 ? -u : 0.0f;
                if (kind == 5)
                    x[i] = i % 2 ? NAN : INFINITY;
                if (i % 9 == 4)
                    x[i] = (i / 9) % 2 ? -0.0f : 0.0f;
                if (kind == 4 && i % 9 == 4)
                    x[i] = (i / 9) % 2 ? 0.0f : -0.0f;
                if (i % 13 == 6)
                    x[i] = i % 2 ? NAN : -INFINITY;
            }
            float wlo, whi, lo, hi;
            bool want = quant_finite_range(x, n, &wlo, &whi);
            for (int l = 0; l <= (int)top; l++) {
                simd_cap((SimdLevel)l);
                bool got = finite_range_f32(x, n, &lo, &hi);
                if (!CHECK(got == want && memcmp(&lo, &wlo, sizeof lo) == 0 &&
                           memcmp(&hi, &whi, sizeof hi) == 0))
                    printf("  range kind %d n %lld at %s: [%g, %g], want [%g, %g]\n", kind,
                           (long long)n, simd_name((SimdLevel)l), lo, hi, wlo, whi);
            }
            simd_cap(top);
        }
}

int main(void)
{
    float *x = fill(NMAX, 11, 8.0f), *dy = fill(NMAX, 12, 1.0f), *dx0 = fill(NMAX, 13, 1.0f);
    for (int64_t i = 0; i < NMAX; i += 5)
        dx0[i] = -0.0f; /* -0 + 0 is +0: a kernel must not add where the mask blocks */
    test_pass(x, dy, dx0);
    float *xs = fill(1037, 21, 150.0f); /* in units of the scale: ties and saturation */
    for (int64_t i = 3; i < 1037; i += 11)
        xs[i] = (float)(i % 300) - 149.5f;
    float *dyf = malloc(1037 * sizeof *dyf); /* finite: the scale sums stay numbers */
    for (int64_t i = 0; i < 1037; i++)
        dyf[i] = (float)((i * 7919) % 2001 - 1000) / 97.0f;
    test_fakequant(xs, dyf, dx0);
    free(dyf);
    test_channel_sums();
    test_adam();
    test_minmax();
    free(x);
    free(dy);
    free(dx0);
    free(xs);
    return test_summary("backward_kernels");
}
