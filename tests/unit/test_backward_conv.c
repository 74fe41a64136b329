/* The convolution backward kernels give their definitions' bits at every SIMD level and at
 * 1 and 2 threads:
 *   - backward_depthwise (kern/backward_dw.h) against dwconv_backward, the scalar
 *     definition, on geometries with strides, pads, dilations, non-square kernels,
 *     channel counts that leave partial lane blocks, a channel multiplier (the fallback),
 *     and data with NaN, infinities and signed zeros in dY;
 *   - backward_conv_cols (kern/backward_conv.h) against the chunked definition written out
 *     here (im2col, then sgemm_reference for dW += dY col^T and col' = W^T dY, then
 *     col2im), groups, strides and pads, with dW small (chunks) and large (one product
 *     gathered over the whole batch), dX and dW each alone too. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/backward_conv.h"
#include "kern/backward_dw.h"
#include "kern/dwconv.h"
#include "kern/sgemm.h"
#include "kern/simd.h"
#include "kern/threads.h"
#include "test_util.h"

/* Equal bits, or NaN on both sides (a NaN's payload is not a result). */
static bool same_f32(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) != 0 && !(isnan(a[i]) && isnan(b[i])))
            return false;
    return true;
}

static float *fill(int64_t n, unsigned seed, bool specials)
{
    static const float sp[] = { NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1e-40f };
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = ((float)((seed >> 8) % 20001) - 10000.0f) / 7919.0f;
        if (specials && i % 97 == 5)
            x[i] = sp[(i / 97) % 6];
    }
    return x;
}

static ConvPlane plane(int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t s,
                       int64_t d, int64_t p)
{
    ConvPlane g = { .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .sh = s, .sw = s, .dh = d,
                    .dw = d, .pt = p, .pl = p };
    g.oh = (h + 2 * p - d * (kh - 1) - 1) / s + 1;
    g.ow = (w + 2 * p - d * (kw - 1) - 1) / s + 1;
    return g;
}

static void test_depthwise(void)
{
    static const int64_t geo[][8] = { /* c, h, w, kh, kw, stride, dilation, pad */
        { 16, 8, 8, 3, 3, 1, 1, 1 },  { 19, 7, 9, 3, 3, 2, 1, 1 }, { 5, 6, 6, 3, 3, 1, 1, 0 },
        { 33, 4, 4, 3, 3, 1, 1, 1 },  { 24, 9, 11, 5, 3, 2, 2, 2 }, { 8, 2, 2, 3, 3, 2, 1, 1 },
        { 17, 14, 14, 1, 3, 1, 1, 1 },
    };
    SimdLevel top = simd_detected();
    for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi++)
        for (int64_t mult = 1; mult <= 2; mult++) {
            const int64_t *q = geo[gi];
            ConvPlane g = plane(1, q[1], q[2], q[3], q[4], q[5], q[6], q[7]);
            int64_t n = 3, c = q[0], oc = c * mult, hw = g.h * g.w, ohw = g.oh * g.ow;
            int64_t taps = g.kh * g.kw, nx = n * c * hw, nw = oc * taps;
            float *x = fill(nx, 3, false), *w = fill(nw, 4, false);
            float *dy = fill(n * oc * ohw, 5, gi % 2 == 1);
            float *dx0 = fill(nx, 6, false), *dw0 = fill(nw, 7, false);
            float *dxw = malloc((size_t)nx * sizeof *dxw), *dww = malloc((size_t)nw * sizeof *dww);
            float *dx = malloc((size_t)nx * sizeof *dx), *dw = malloc((size_t)nw * sizeof *dw);
            memcpy(dxw, dx0, (size_t)nx * sizeof *dx);
            memcpy(dww, dw0, (size_t)nw * sizeof *dw);
            simd_cap(SIMD_SCALAR);
            dwconv_backward(&g, n, c, mult, x, w, dy, dxw, dww);
            for (int t = 1; t <= 2; t++) {
                threads_set(t);
                for (int l = 0; l <= (int)top; l++)
                    for (int want = 1; want <= 3; want++) { /* 1: dX, 2: dW, 3: both */
                        simd_cap((SimdLevel)l);
                        memcpy(dx, dx0, (size_t)nx * sizeof *dx);
                        memcpy(dw, dw0, (size_t)nw * sizeof *dw);
                        backward_depthwise(&g, n, c, mult, x, w, dy, want & 1 ? dx : NULL,
                                           want & 2 ? dw : NULL);
                        bool ok = same_f32(dx, want & 1 ? dxw : dx0, nx) &&
                                  same_f32(dw, want & 2 ? dww : dw0, nw);
                        if (!CHECK(ok))
                            printf("  depthwise %zu mult %lld (%d) at %s, %d threads differs\n",
                                   gi, (long long)mult, want, simd_name((SimdLevel)l), t);
                    }
            }
            simd_cap(top);
            threads_set(1);
            free(x), free(w), free(dy), free(dx0), free(dw0);
            free(dxw), free(dww), free(dx), free(dw);
        }
}

/* The chunked definition: per chunk and group, col = im2col(x); dW += dY col^T;
 * col' = W^T dY; dX += col2im(col'). */
static void conv_rule(const ConvPlane *pl, const ConvChunks *ch, int64_t n, int64_t group,
                      int64_t ocg, const float *x, const float *w, const float *dy, float *dx,
                      float *dw)
{
    int64_t ohw = pl->oh * pl->ow, hw = pl->h * pl->w, kk = pl->c * pl->kh * pl->kw;
    int64_t oc = group * ocg, c = group * pl->c, cmax = conv_chunks_cols(ch);
    float *col = malloc((size_t)(kk * cmax) * sizeof *col);
    float *pan = malloc((size_t)(ocg * cmax) * sizeof *pan);
    for (int64_t i = 0; i < conv_chunks_count(ch); i++) {
        ConvChunk k = conv_chunk_at(ch, i);
        int64_t cols = k.nb * k.np;
        for (int64_t gi = 0; gi < group; gi++) {
            conv_pack_rows(dy + gi * ocg * ohw, oc * ohw, ocg, ohw, k, pan, cols);
            if (dw) {
                conv_im2col(pl, x + gi * pl->c * hw, c * hw, k, col, cols);
                sgemm_reference(false, true, ocg, kk, cols, 1.0f, pan, cols, col, cols,
                                dw + gi * ocg * kk, kk, &sgemm_accumulate);
            }
            if (dx) {
                sgemm_reference(true, false, kk, cols, ocg, 1.0f, w + gi * ocg * kk, kk, pan,
                                cols, col, cols, NULL);
                conv_col2im(pl, col, cols, k, dx + gi * pl->c * hw, c * hw);
            }
        }
    }
    free(col);
    free(pan);
}

static void test_conv_cols(void)
{
    static const int64_t geo[][9] = { /* n, group, cg, ocg, h, w, k, stride, pad */
        { 3, 1, 3, 8, 9, 9, 3, 1, 1 },      { 2, 2, 4, 6, 7, 8, 3, 2, 1 },
        { 24, 1, 64, 128, 4, 4, 3, 1, 1 },  /* dW 128 x 576 over 2 chunks: one product */
        { 5, 1, 8, 6, 12, 12, 3, 2, 0 },
        { 1, 1, 64, 8, 30, 30, 3, 1, 1 },   /* one sample cut into pieces */
        { 1, 1, 64, 128, 20, 20, 3, 1, 1 }, /* pieces, dW gathered */
    };
    SimdLevel top = simd_detected();
    for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi++) {
        const int64_t *q = geo[gi];
        ConvPlane pl = plane(q[2], q[4], q[5], q[6], q[6], q[7], 1, q[8]);
        int64_t n = q[0], group = q[1], ocg = q[3], kk = pl.c * pl.kh * pl.kw;
        int64_t nx = n * group * pl.c * pl.h * pl.w, nw = group * ocg * kk;
        int64_t ndy = n * group * ocg * pl.oh * pl.ow;
        ConvChunks ch = conv_chunks(n, pl.oh * pl.ow, kk + ocg);
        int64_t cmax = conv_chunks_cols(&ch);
        float *x = fill(nx, 8, false), *w = fill(nw, 9, false), *dy = fill(ndy, 10, false);
        float *dx0 = fill(nx, 11, false), *dw0 = fill(nw, 12, false);
        float *dxw = malloc((size_t)nx * sizeof *dxw), *dww = malloc((size_t)nw * sizeof *dww);
        float *dx = malloc((size_t)nx * sizeof *dx), *dw = malloc((size_t)nw * sizeof *dw);
        float *col = malloc((size_t)(kk * cmax) * sizeof *col);
        float *pan = malloc((size_t)(ocg * cmax) * sizeof *pan);
        memcpy(dxw, dx0, (size_t)nx * sizeof *dx);
        memcpy(dww, dw0, (size_t)nw * sizeof *dw);
        conv_rule(&pl, &ch, n, group, ocg, x, w, dy, dxw, dww);
        for (int t = 1; t <= 2; t++) {
            threads_set(t);
            for (int l = 0; l <= (int)top; l++)
                for (int want = 1; want <= 3; want++) {
                    simd_cap((SimdLevel)l);
                    memcpy(dx, dx0, (size_t)nx * sizeof *dx);
                    memcpy(dw, dw0, (size_t)nw * sizeof *dw);
                    ConvBackward b = { &pl, &ch, n, group, ocg, x, w, dy,
                                       want & 1 ? dx : NULL, want & 2 ? dw : NULL, col, pan };
                    backward_conv_cols(&b);
                    bool ok = same_f32(dx, want & 1 ? dxw : dx0, nx) &&
                              same_f32(dw, want & 2 ? dww : dw0, nw);
                    if (!CHECK(ok))
                        printf("  conv %zu (%d) at %s, %d threads differs from the rule\n", gi,
                               want, simd_name((SimdLevel)l), t);
                }
        }
        simd_cap(top);
        threads_set(1);
        free(x), free(w), free(dy), free(dx0), free(dw0);
        free(dxw), free(dww), free(dx), free(dw), free(col), free(pan);
    }
}

int main(void)
{
    test_depthwise();
    test_conv_cols();
    return test_summary("backward_conv");
}
