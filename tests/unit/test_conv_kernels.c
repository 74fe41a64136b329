/* The float convolution kernels (ops/op_conv.c on kern/conv_cols.h and kern/dwconv.h):
 *   - forward against a naive double-accumulated reference over many geometries (kernel
 *     1/3/5/7, strides, pads, dilations, groups 1/2/C, depthwise multipliers, 1-D, odd
 *     sizes, batches that fill several column chunks or split a sample into pieces);
 *   - the depthwise kernel at every SIMD level bit-identical to the scalar reference, and
 *     its flat path (several planes per vector) on small maps 1x1..8x8 and 14x14, strides
 *     1 and 2, odd channel counts, batch 1 and 3, 1 and 2 threads;
 *   - each sample's output bit-identical alone and inside a batch of 64, at 1 and 2
 *     threads and at every SIMD level, forward and input gradient;
 *   - the fused clamp bit-identical to the conv followed by a separate clamp;
 *   - backward against naive double references, and finite differences for depthwise and
 *     strided/dilated cases of Conv and ConvTranspose.
 * Bit-identity is asserted on qscope's own sgemm (SGEMM_QSCOPE): OpenBLAS's sums depend
 * on the shapes it is given. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "kern/dwconv.h"
#include "kern/dwconv_impl.h"
#include "kern/sgemm.h"
#include "kern/simd.h"
#include "kern/threads.h"
#include "ops/op.h"
#include "test_util.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A 2-D conv (h = 0: 1-D over w) with batch n. */
typedef struct Geo {
    const char *label;
    int64_t n, c, h, w, oc, kh, kw, group;
    int64_t sh, sw, dh, dw, pt, pl, pb, pr;
    bool bias;
} Geo;

static unsigned rng = 12345u;

/* Uniform in [-1, 1), from a fixed LCG so the cases do not depend on libc. */
static float urand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((double)(rng >> 8) / 8388608.0 - 1.0);
}

static Tensor *rand_tensor(Shape s)
{
    Tensor *t = tensor_new(DT_F32, s, NULL);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = urand();
    return t;
}

static bool one_d(const Geo *g) { return g->h == 0; }

static Shape x_shape(const Geo *g, int64_t n)
{
    return one_d(g) ? (Shape){ 3, { n, g->c, g->w } } : (Shape){ 4, { n, g->c, g->h, g->w } };
}

static Shape w_shape(const Geo *g)
{
    return one_d(g) ? (Shape){ 3, { g->oc, g->c / g->group, g->kw } }
                    : (Shape){ 4, { g->oc, g->c / g->group, g->kh, g->kw } };
}

static int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1)
{
    return (in + p0 + p1 - ((k - 1) * d + 1)) / s + 1;
}

/* The Conv node of g, its attributes in at[4]; release them with node_free_attrs. */
static Node conv_node(const Geo *g, Attr *at)
{
    int sp = one_d(g) ? 1 : 2;
    int64_t st[2] = { g->sh, g->sw }, dl[2] = { g->dh, g->dw };
    int64_t pd[4] = { g->pt, g->pl, g->pb, g->pr }, pd1[2] = { g->pl, g->pr };
    at[0] = attr_ints("strides", one_d(g) ? st + 1 : st, sp);
    at[1] = attr_ints("dilations", one_d(g) ? dl + 1 : dl, sp);
    at[2] = attr_ints("pads", one_d(g) ? pd1 : pd, 2 * sp);
    at[3] = attr_int("group", g->group);
    return (Node){ .op = OP_CONV, .name = (char *)"conv", .n_in = 3, .n_attrs = 4, .attrs = at };
}

static void node_free_attrs(Attr *at)
{
    for (int i = 0; i < 4; i++)
        attr_release(&at[i]);
}

/* Forward (and backward when dy) through the op table with a scratch buffer of exactly
 * the size the op asks for. Returns y; grads into *dx, *dw (zero-filled first). */
static Tensor *run_conv(const Geo *g, Tensor *x, Tensor *w, Tensor *b, const RunCtx *ctx,
                        const Tensor *dy, Tensor **dx, Tensor **dw)
{
    Attr at[4];
    Node n = conv_node(g, at);
    const Shape *in_s[3] = { &x->shape, &w->shape, b ? &b->shape : NULL };
    Shape os;
    QsError err = { 0 };
    Tensor *y = NULL;
    if (CHECK_OK(op_table[OP_CONV]->infer(&n, in_s, &os, &err), &err)) {
        size_t bytes = op_table[OP_CONV]->scratch(&n, in_s, &os);
        RunCtx rc = ctx ? *ctx : (RunCtx){ 0 };
        rc.scratch = bytes ? malloc(bytes) : NULL;
        rc.scratch_bytes = bytes;
        const Tensor *in[3] = { x, w, b };
        y = tensor_new(DT_F32, os, NULL);
        op_table[OP_CONV]->forward(&n, in, y, &rc);
        if (dy) {
            Tensor *din[3] = { *dx = tensor_new(DT_F32, x->shape, NULL),
                               *dw = tensor_new(DT_F32, w->shape, NULL), NULL };
            op_table[OP_CONV]->backward(&n, in, y, dy, din, &rc);
        }
        free(rc.scratch);
    }
    node_free_attrs(at);
    return y;
}

/* ---- The naive reference ------------------------------------------------------------ */

typedef struct Ref {
    int64_t oh, ow;
} Ref;

static Ref ref_dims(const Geo *g)
{
    int64_t h = one_d(g) ? 1 : g->h;
    Ref r = { one_d(g) ? 1 : out_len(h, g->kh, g->sh, g->dh, g->pt, g->pb),
              out_len(g->w, g->kw, g->sw, g->dw, g->pl, g->pr) };
    return r;
}

/* The input index tap (ki, kj) of output (oy, ox) reads, or -1 outside. */
static int64_t ref_tap(const Geo *g, int64_t oy, int64_t ox, int64_t ki, int64_t kj)
{
    int64_t h = one_d(g) ? 1 : g->h;
    int64_t iy = one_d(g) ? 0 : oy * g->sh - g->pt + ki * g->dh;
    int64_t ix = ox * g->sw - g->pl + kj * g->dw;
    return iy < 0 || iy >= h || ix < 0 || ix >= g->w ? -1 : iy * g->w + ix;
}

/* y in double, and the sum of |terms| per output (for the rounding bound). */
static void ref_forward(const Geo *g, const float *x, const float *w, const float *b,
                        double *y, double *mag)
{
    Ref r = ref_dims(g);
    int64_t cg = g->c / g->group, ocg = g->oc / g->group, kh = one_d(g) ? 1 : g->kh;
    int64_t hw = (one_d(g) ? 1 : g->h) * g->w;
    for (int64_t s = 0; s < g->n; s++)
        for (int64_t o = 0; o < g->oc; o++)
            for (int64_t oy = 0; oy < r.oh; oy++)
                for (int64_t ox = 0; ox < r.ow; ox++) {
                    double acc = b ? b[o] : 0.0, m = fabs(acc);
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ki = 0; ki < kh; ki++)
                            for (int64_t kj = 0; kj < g->kw; kj++) {
                                int64_t t = ref_tap(g, oy, ox, ki, kj);
                                if (t < 0)
                                    continue;
                                double v = (double)w[((o * cg + ci) * kh + ki) * g->kw + kj] *
                                           x[(s * g->c + o / ocg * cg + ci) * hw + t];
                                acc += v;
                                m += fabs(v);
                            }
                    int64_t i = ((s * g->oc + o) * r.oh + oy) * r.ow + ox;
                    y[i] = acc;
                    mag[i] = m;
                }
}

/* dx and dw in double for dy, with the sums of |terms| per element. */
static void ref_backward(const Geo *g, const float *x, const float *w, const float *dy,
                         double *dx, double *mx, double *dw, double *mw)
{
    Ref r = ref_dims(g);
    int64_t cg = g->c / g->group, ocg = g->oc / g->group, kh = one_d(g) ? 1 : g->kh;
    int64_t hw = (one_d(g) ? 1 : g->h) * g->w;
    for (int64_t s = 0; s < g->n; s++)
        for (int64_t o = 0; o < g->oc; o++)
            for (int64_t oy = 0; oy < r.oh; oy++)
                for (int64_t ox = 0; ox < r.ow; ox++) {
                    double d = dy[((s * g->oc + o) * r.oh + oy) * r.ow + ox];
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ki = 0; ki < kh; ki++)
                            for (int64_t kj = 0; kj < g->kw; kj++) {
                                int64_t t = ref_tap(g, oy, ox, ki, kj);
                                if (t < 0)
                                    continue;
                                int64_t wi = ((o * cg + ci) * kh + ki) * g->kw + kj;
                                int64_t xi = (s * g->c + o / ocg * cg + ci) * hw + t;
                                dx[xi] += d * w[wi];
                                mx[xi] += fabs(d * w[wi]);
                                dw[wi] += d * x[xi];
                                mw[wi] += fabs(d * x[xi]);
                            }
                }
}

/* |got - want| <= (terms + 2) * 2^-24 * mag + 1e-30: the recursive-summation bound with one
 * rounding per term in float (plus the bias's and the final store's), the rounding the
 * kernels' one-accumulator-per-output rule allows; dw sums in float over the batch too. */
static bool close_to(const char *label, const float *got, const double *want,
                     const double *mag, int64_t n, int64_t terms)
{
    double u = ldexp(1.0, -24);
    for (int64_t i = 0; i < n; i++) {
        double tol = (double)(terms + 2) * u * mag[i] + 1e-30;
        if (!(fabs(got[i] - want[i]) <= tol)) {
            printf("  %s[%lld]: got %.9g want %.9g (tolerance %.3g)\n", label, (long long)i,
                   got[i], want[i], tol);
            return false;
        }
    }
    return true;
}

/* Geometries of every kernel: depthwise, pointwise direct and batched, column panels
 * in one chunk, several chunks of whole samples, and pieces of one sample. */
static const Geo GEOS[] = {
    { "3x3 pad 1", 3, 4, 9, 11, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true },
    { "1x1 pointwise small", 5, 6, 5, 7, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true },
    { "1x1 pointwise direct", 2, 5, 17, 16, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true },
    { "1x1 stride 2", 3, 3, 7, 9, 5, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, false },
    { "5x5 stride 2 asym pads", 2, 3, 13, 12, 4, 5, 5, 1, 2, 2, 1, 1, 2, 1, 0, 2, true },
    { "7x7 stride 2 pad 3", 2, 3, 15, 15, 5, 7, 7, 1, 2, 2, 1, 1, 3, 3, 3, 3, true },
    { "3x3 dilation 2", 2, 4, 10, 9, 3, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2, true },
    { "3x2 stride (2,1) dilation (1,3)", 3, 2, 9, 13, 3, 3, 2, 1, 2, 1, 1, 3, 1, 0, 0, 2, true },
    { "groups 2", 2, 6, 8, 7, 4, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, true },
    { "groups 2, 1x1", 3, 4, 5, 5, 6, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, false },
    { "depthwise 3x3", 3, 5, 9, 19, 5, 3, 3, 5, 1, 1, 1, 1, 1, 1, 1, 1, true },
    { "depthwise 3x3 stride 2", 2, 4, 11, 21, 4, 3, 3, 4, 2, 2, 1, 1, 1, 1, 1, 1, true },
    { "depthwise 5x5 dilation 2", 2, 3, 12, 23, 3, 5, 5, 3, 1, 1, 2, 2, 4, 4, 4, 4, false },
    { "depthwise 7x7 stride 3 asym", 2, 2, 16, 35, 2, 7, 7, 2, 3, 3, 1, 1, 3, 2, 1, 3, true },
    { "depthwise multiplier 2", 2, 3, 7, 18, 6, 3, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, true },
    { "conv1d 3 pad 1", 3, 4, 0, 23, 5, 1, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1, true },
    { "conv1d depthwise stride 2", 2, 4, 0, 37, 4, 1, 5, 4, 1, 2, 1, 1, 0, 2, 0, 2, true },
    { "conv1d groups 2 dilation 3", 2, 4, 0, 30, 6, 1, 3, 2, 1, 1, 1, 3, 0, 2, 0, 1, false },
    /* K + OC = 160 floats a column, 1 MB: 1638 columns, 6 samples of 256 per chunk */
    { "several chunks of samples", 13, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true },
    /* K + OC = 1154 floats a column: 227 columns, a sample of 256 is cut in pieces */
    { "pieces of a sample", 3, 128, 16, 16, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true },
};

static void test_forward_reference(void)
{
    for (int i = 0; i < COUNT(GEOS); i++) {
        const Geo *g = &GEOS[i];
        Tensor *x = rand_tensor(x_shape(g, g->n)), *w = rand_tensor(w_shape(g));
        Tensor *b = g->bias ? rand_tensor((Shape){ 1, { g->oc } }) : NULL;
        Tensor *y = run_conv(g, x, w, b, NULL, NULL, NULL, NULL);
        if (y) {
            int64_t n = tensor_numel(y);
            double *want = malloc((size_t)n * sizeof *want), *mag = malloc((size_t)n * sizeof *mag);
            ref_forward(g, tensor_f32(x), tensor_f32(w), b ? tensor_f32(b) : NULL, want, mag);
            int64_t terms = g->c / g->group * (one_d(g) ? 1 : g->kh) * g->kw;
            CHECK(close_to(g->label, tensor_f32(y), want, mag, n, terms));
            free(want);
            free(mag);
        }
        tensor_free(y);
        tensor_free(x);
        tensor_free(w);
        tensor_free(b);
    }
}

static void test_backward_reference(void)
{
    for (int i = 0; i < COUNT(GEOS); i++) {
        const Geo *g = &GEOS[i];
        Tensor *x = rand_tensor(x_shape(g, g->n)), *w = rand_tensor(w_shape(g));
        Ref r = ref_dims(g);
        Tensor *dy = rand_tensor(one_d(g) ? (Shape){ 3, { g->n, g->oc, r.ow } }
                                          : (Shape){ 4, { g->n, g->oc, r.oh, r.ow } });
        Tensor *dx = NULL, *dw = NULL;
        tensor_free(run_conv(g, x, w, NULL, NULL, dy, &dx, &dw));
        if (dx && dw) {
            int64_t nx = tensor_numel(x), nw = tensor_numel(w);
            double *ax = calloc((size_t)(2 * nx), sizeof *ax);
            double *aw = calloc((size_t)(2 * nw), sizeof *aw);
            ref_backward(g, tensor_f32(x), tensor_f32(w), tensor_f32(dy), ax, ax + nx, aw,
                         aw + nw);
            char label[128];
            snprintf(label, sizeof label, "%s: dx", g->label);
            int64_t ocg = g->oc / g->group, kk = (one_d(g) ? 1 : g->kh) * g->kw;
            CHECK(close_to(label, tensor_f32(dx), ax, ax + nx, nx, ocg * kk));
            snprintf(label, sizeof label, "%s: dw", g->label);
            CHECK(close_to(label, tensor_f32(dw), aw, aw + nw, nw, g->n * r.oh * r.ow));
            free(ax);
            free(aw);
        }
        tensor_free(dx);
        tensor_free(dw);
        tensor_free(dy);
        tensor_free(x);
        tensor_free(w);
    }
}

/* ---- Depthwise at every SIMD level ------------------------------------------------- */

static void test_depthwise_levels(void)
{
    /* (k, stride, dilation, pad begin, pad end) per axis; widths cover vector tails */
    static const int64_t cases[][5] = { { 3, 1, 1, 1, 1 }, { 3, 2, 1, 1, 1 }, { 5, 1, 2, 4, 3 },
                                        { 7, 3, 1, 3, 0 }, { 1, 1, 1, 0, 0 }, { 2, 2, 3, 0, 2 },
                                        { 4, 1, 1, 0, 0 }, { 3, 5, 2, 2, 2 } };
    SimdLevel top = simd_detected();
    int compared = 0;
    for (int ci = 0; ci < COUNT(cases); ci++)
        for (int64_t wd = 1; wd <= 37; wd += 3) {
            const int64_t *k = cases[ci];
            int64_t h = 6, ext = (k[0] - 1) * k[2] + 1;
            if (wd + k[3] + k[4] < ext || h + k[3] + k[4] < ext)
                continue;
            ConvPlane g = { .c = 3, .h = h, .w = wd, .kh = k[0], .kw = k[0], .sh = k[1],
                            .sw = k[1], .dh = k[2], .dw = k[2], .pt = k[3], .pl = k[3] };
            g.oh = out_len(h, k[0], k[1], k[2], k[3], k[4]);
            g.ow = out_len(wd, k[0], k[1], k[2], k[3], k[4]);
            int64_t n = 2, mult = 2, nx = n * g.c * h * wd, ny = n * g.c * mult * g.oh * g.ow;
            float *x = malloc((size_t)nx * sizeof *x), *w = malloc((size_t)(g.c * mult * k[0] * k[0]) * sizeof *w);
            float bias[6], *y[SIMD_COUNT];
            for (int64_t i = 0; i < nx; i++)
                x[i] = i % 7 == 3 ? -0.0f : urand() * 4;
            for (int64_t i = 0; i < g.c * mult * k[0] * k[0]; i++)
                w[i] = urand();
            for (int i = 0; i < 6; i++)
                bias[i] = i == 2 ? -0.0f : urand();
            for (int clamp = 0; clamp < 2; clamp++) {
                DwEpi epi = { ci % 2 ? bias : NULL, clamp, -0.5f, 0.75f };
                for (int l = 0; l <= (int)top; l++) {
                    y[l] = malloc((size_t)ny * sizeof *y[l]);
                    simd_cap((SimdLevel)l);
                    dwconv_forward(&g, n, g.c, mult, x, w, &epi, y[l]);
                }
                simd_cap(top);
                for (int l = 1; l <= (int)top; l++) {
                    if (!CHECK(memcmp(y[l], y[0], (size_t)ny * sizeof *y[0]) == 0))
                        printf("  depthwise k %lld s %lld d %lld w %lld at %s differs from scalar\n",
                               (long long)k[0], (long long)k[1], (long long)k[2], (long long)wd,
                               simd_name((SimdLevel)l));
                    compared++;
                }
                for (int l = 0; l <= (int)top; l++)
                    free(y[l]);
            }
            free(x);
            free(w);
        }
    CHECK(top < SIMD_AVX2 || compared > 100);
}

/* The flat path (kern/dwconv_flat.h) forced on, and dwconv_forward's own choice at the
 * top level and 2 threads, against the scalar reference bit for bit: small maps, whose
 * vectors span planes, in every corner a lane can fall (borders, the last partial block
 * of planes, a period crossing samples). */
static void test_depthwise_flat(void)
{
    /* (k, stride, dilation, pad) per axis */
    static const int64_t ks[][4] = { { 3, 1, 1, 1 }, { 3, 2, 1, 1 }, { 1, 1, 1, 0 },
                                     { 5, 1, 1, 2 }, { 3, 1, 2, 2 }, { 3, 1, 1, 0 },
                                     { 3, 2, 1, 0 }, { 2, 2, 1, 1 } };
    static const int64_t maps[][2] = { { 1, 1 }, { 2, 2 }, { 3, 3 }, { 4, 4 }, { 5, 5 },
                                       { 6, 6 }, { 7, 7 }, { 8, 8 }, { 14, 14 }, { 3, 5 },
                                       { 7, 2 }, { 1, 9 } };
    static const int64_t chans[] = { 3, 17, 33 }, batches[] = { 1, 3 };
    SimdLevel top = simd_detected();
    int flat = 0;
    for (int ki = 0; ki < COUNT(ks); ki++)
        for (int mi = 0; mi < COUNT(maps); mi++)
            for (int ci = 0; ci < COUNT(chans); ci++)
                for (int bi = 0; bi < COUNT(batches); bi++) {
                    const int64_t *k = ks[ki];
                    int64_t h = maps[mi][0], wd = maps[mi][1], c = chans[ci], n = batches[bi];
                    int64_t ext = (k[0] - 1) * k[2] + 1;
                    if (h + 2 * k[3] < ext || wd + 2 * k[3] < ext)
                        continue;
                    ConvPlane g = { .c = c, .h = h, .w = wd, .kh = k[0], .kw = k[0], .sh = k[1],
                                    .sw = k[1], .dh = k[2], .dw = k[2], .pt = k[3], .pl = k[3] };
                    g.oh = out_len(h, k[0], k[1], k[2], k[3], k[3]);
                    g.ow = out_len(wd, k[0], k[1], k[2], k[3], k[3]);
                    int64_t nx = n * c * h * wd, ny = n * c * g.oh * g.ow, nw = c * k[0] * k[0];
                    float *x = malloc((size_t)nx * sizeof *x), *w = malloc((size_t)nw * sizeof *w);
                    float *bias = malloc((size_t)c * sizeof *bias), *y[4];
                    for (int64_t i = 0; i < nx; i++)
                        x[i] = i % 7 == 3 ? -0.0f : urand() * 4;
                    for (int64_t i = 0; i < nw; i++)
                        w[i] = i % 11 == 5 ? -0.0f : urand();
                    for (int64_t i = 0; i < c; i++)
                        bias[i] = i % 3 == 1 ? -0.0f : urand();
                    for (int v = 0; v < 4; v++)
                        y[v] = malloc((size_t)ny * sizeof *y[v]);
                    DwEpi epi = { (ki + mi) % 2 ? bias : NULL, (ci + bi) % 2 == 1, -0.5f, 0.75f };
                    simd_cap(SIMD_SCALAR);
                    dwconv_forward(&g, n, c, 1, x, w, &epi, y[0]);
                    simd_cap(top);
                    bool forced = false;
                    for (int t = 1; t <= 2; t++) { /* forced at 1 and 2 threads */
                        threads_set(t);
                        memset(y[t], 0x5a, (size_t)ny * sizeof *y[t]);
                        forced = dwconv_flat_forward(&g, n, c, x, w, &epi, y[t]);
                        if (!forced)
                            memcpy(y[t], y[0], (size_t)ny * sizeof *y[t]);
                    }
                    dwconv_forward(&g, n, c, 1, x, w, &epi, y[3]); /* its own choice */
                    threads_set(1);
                    flat += forced;
                    for (int v = 1; v < 4; v++)
                        if (!CHECK(memcmp(y[v], y[0], (size_t)ny * sizeof *y[0]) == 0))
                            printf("  depthwise %lldx%lld k %lld s %lld d %lld p %lld c %lld "
                                   "n %lld: %s differs from scalar\n",
                                   (long long)h, (long long)wd, (long long)k[0], (long long)k[1],
                                   (long long)k[2], (long long)k[3], (long long)c, (long long)n,
                                   v == 1 ? "flat" : v == 2 ? "flat, 2 threads" : "forward");
                    for (int v = 0; v < 4; v++)
                        free(y[v]);
                    free(x);
                    free(w);
                    free(bias);
                }
    CHECK(top < SIMD_AVX512 || flat > 300);
}

/* ---- Batch, threads and SIMD level do not change a sample ------------------------- */

static const Geo BATCH_GEOS[] = {
    { "columns", 64, 4, 9, 9, 8, 3, 3, 1, 2, 1, 1, 2, 1, 1, 0, 2, true },
    { "pointwise direct", 64, 4, 16, 16, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true },
    { "pointwise batched", 64, 6, 5, 5, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true },
    { "depthwise", 64, 5, 9, 13, 10, 3, 3, 5, 2, 1, 1, 1, 1, 1, 1, 1, true },
    { "pieces", 64, 128, 16, 16, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true },
    { "conv1d groups", 64, 4, 0, 40, 4, 1, 5, 2, 1, 3, 1, 1, 0, 2, 0, 2, true },
};

/* The samples of batch t, one by one (y and dx of each). */
static void per_sample(const Geo *g, Tensor *x, Tensor *w, Tensor *b, Tensor *dy, float *y1,
                       float *dx1)
{
    Geo one = *g;
    one.n = 1;
    int64_t xs = tensor_numel(x) / g->n, ys = tensor_numel(dy) / g->n;
    for (int64_t s = 0; s < g->n; s++) {
        Shape sx = x->shape, sy = dy->shape;
        sx.dim[0] = sy.dim[0] = 1;
        Tensor xv = tensor_view(DT_F32, sx, tensor_f32(x) + s * xs);
        Tensor dyv = tensor_view(DT_F32, sy, tensor_f32(dy) + s * ys);
        Tensor *dx = NULL, *dw = NULL;
        Tensor *y = run_conv(&one, &xv, w, b, NULL, &dyv, &dx, &dw);
        if (y) {
            memcpy(y1 + s * ys, tensor_f32(y), (size_t)ys * sizeof *y1);
            memcpy(dx1 + s * xs, tensor_f32(dx), (size_t)xs * sizeof *dx1);
        }
        tensor_free(y);
        tensor_free(dx);
        tensor_free(dw);
    }
}

static void test_batch_threads_levels(void)
{
    SimdLevel top = simd_detected();
    for (int i = 0; i < COUNT(BATCH_GEOS); i++) {
        const Geo *g = &BATCH_GEOS[i];
        Tensor *x = rand_tensor(x_shape(g, g->n)), *w = rand_tensor(w_shape(g));
        Tensor *b = rand_tensor((Shape){ 1, { g->oc } });
        Ref r = ref_dims(g);
        Tensor *dy = rand_tensor(one_d(g) ? (Shape){ 3, { g->n, g->oc, r.ow } }
                                          : (Shape){ 4, { g->n, g->oc, r.oh, r.ow } });
        size_t yb = (size_t)tensor_numel(dy) * sizeof(float);
        size_t xb = (size_t)tensor_numel(x) * sizeof(float);
        float *y1 = malloc(yb), *dx1 = malloc(xb);
        threads_set(1);
        per_sample(g, x, w, b, dy, y1, dx1);
        for (int run = 0; run < 3; run++) {
            /* batch 64 at 1 thread, at 2 threads, at 2 threads and the scalar level */
            threads_set(run == 0 ? 1 : 2);
            simd_cap(run == 2 ? SIMD_SCALAR : top);
            Tensor *dx = NULL, *dw = NULL;
            Tensor *y = run_conv(g, x, w, b, NULL, dy, &dx, &dw);
            char label[128];
            snprintf(label, sizeof label, "%s: batch 64, %s", g->label,
                     run == 0 ? "1 thread" : run == 1 ? "2 threads" : "2 threads, scalar");
            if (y && !CHECK(memcmp(tensor_f32(y), y1, yb) == 0))
                printf("  %s: y differs from the samples alone\n", label);
            if (dx && !CHECK(memcmp(tensor_f32(dx), dx1, xb) == 0))
                printf("  %s: dx differs from the samples alone\n", label);
            tensor_free(y);
            tensor_free(dx);
            tensor_free(dw);
        }
        simd_cap(top);
        threads_set(1);
        free(y1);
        free(dx1);
        tensor_free(x);
        tensor_free(w);
        tensor_free(b);
        tensor_free(dy);
    }
}

/* dw sums the batch in increasing sample order whatever the threads or SIMD level. */
static void test_dw_threads(void)
{
    SimdLevel top = simd_detected();
    for (int i = 0; i < COUNT(BATCH_GEOS); i++) {
        const Geo *g = &BATCH_GEOS[i];
        Tensor *x = rand_tensor(x_shape(g, g->n)), *w = rand_tensor(w_shape(g));
        Ref r = ref_dims(g);
        Tensor *dy = rand_tensor(one_d(g) ? (Shape){ 3, { g->n, g->oc, r.ow } }
                                          : (Shape){ 4, { g->n, g->oc, r.oh, r.ow } });
        Tensor *dw[2] = { 0 };
        for (int run = 0; run < 2; run++) {
            threads_set(run + 1);
            simd_cap(run ? SIMD_SCALAR : top);
            Tensor *dx = NULL;
            tensor_free(run_conv(g, x, w, NULL, NULL, dy, &dx, &dw[run]));
            tensor_free(dx);
        }
        simd_cap(top);
        threads_set(1);
        if (dw[0] && dw[1] &&
            !CHECK(memcmp(tensor_f32(dw[0]), tensor_f32(dw[1]),
                          (size_t)tensor_numel(dw[0]) * sizeof(float)) == 0))
            printf("  %s: dw differs between 1 thread and 2 threads at the scalar level\n",
                   g->label);
        tensor_free(dw[0]);
        tensor_free(dw[1]);
        tensor_free(x);
        tensor_free(w);
        tensor_free(dy);
    }
}

/* ---- Few output channels (kern/conv_small.h) at every SIMD level ------------------ */

/* The direct kernel (AVX-512) against the GEMM route (scalar) bit for bit: 1 to 9 output
 * channels (9: the GEMM at every level), widths around the 16-lane blocks, pads, strides
 * and dilations down the height, 1-D, with and without bias (-0 among them) and clamp,
 * and an infinite weight, whose products with padding's zeros are NaN on both routes. */
static void test_small_levels(void)
{
    static const int64_t cases[][6] = { /* c, k, stride h, dilation h, pad, oc */
        { 1, 5, 1, 1, 2, 6 }, { 1, 3, 1, 1, 0, 1 }, { 3, 3, 2, 1, 1, 8 }, { 2, 1, 1, 1, 0, 4 },
        { 1, 3, 1, 2, 1, 3 }, { 2, 5, 3, 1, 0, 9 }, { 1, 7, 1, 1, 3, 5 }, { 4, 2, 1, 1, 1, 2 },
    };
    SimdLevel top = simd_detected();
    int compared = 0;
    for (int ci = 0; ci < COUNT(cases); ci++)
        for (int64_t wd = 1; wd <= 37; wd += 4)
            for (int var = 0; var < 3; var++) {
                const int64_t *k = cases[ci];
                Geo g = { "small", 3, k[0], var == 2 ? 0 : 7, wd, k[5], k[1], k[1], 1,
                          k[2], 1, k[3], 1, k[4], k[4], k[4], k[4], var != 1 };
                int64_t ext = (k[1] - 1) * k[3] + 1;
                if (wd + 2 * k[4] < k[1] || (g.h && g.h + 2 * k[4] < ext))
                    continue;
                if (one_d(&g))
                    g.kh = 1;
                Tensor *x = rand_tensor(x_shape(&g, g.n)), *w = rand_tensor(w_shape(&g));
                Tensor *b = rand_tensor((Shape){ 1, { g.oc } });
                tensor_f32(x)[0] = -0.0f;
                tensor_f32(b)[0] = -0.0f;
                if (ci == 0 && var == 0)
                    tensor_f32(w)[0] = INFINITY;
                RunCtx rc = { .clamp = var != 0, .clamp_lo = -0.25f, .clamp_hi = 0.5f };
                simd_cap(SIMD_SCALAR);
                Tensor *ref = run_conv(&g, x, w, g.bias ? b : NULL, &rc, NULL, NULL, NULL);
                simd_cap(top);
                Tensor *got = run_conv(&g, x, w, g.bias ? b : NULL, &rc, NULL, NULL, NULL);
                if (ref && got) {
                    size_t bytes = (size_t)tensor_numel(ref) * sizeof(float);
                    if (!CHECK(memcmp(tensor_f32(ref), tensor_f32(got), bytes) == 0))
                        printf("  small conv case %d width %lld variant %d at %s differs\n", ci,
                               (long long)wd, var, simd_name(top));
                    compared++;
                }
                tensor_free(ref);
                tensor_free(got);
                tensor_free(x);
                tensor_free(w);
                tensor_free(b);
            }
    CHECK(compared > 150);
}

/* ---- Fused clamp -------------------------------------------------------------------- */

static void test_fused_clamp(void)
{
    CHECK(op_table[OP_CONV]->fuses_clamp);
    const float bounds[][2] = { { 0.0f, INFINITY }, { 0.0f, 6.0f }, { -0.25f, 0.5f } };
    for (int i = 0; i < COUNT(BATCH_GEOS); i++) {
        Geo g = BATCH_GEOS[i];
        g.n = 3;
        Tensor *x = rand_tensor(x_shape(&g, g.n)), *w = rand_tensor(w_shape(&g));
        Tensor *b = rand_tensor((Shape){ 1, { g.oc } });
        Tensor *plain = run_conv(&g, x, w, b, NULL, NULL, NULL, NULL);
        for (int k = 0; plain && k < COUNT(bounds); k++) {
            float lo = bounds[k][0], hi = bounds[k][1];
            RunCtx rc = { .clamp = true, .clamp_lo = lo, .clamp_hi = hi };
            Tensor *fused = run_conv(&g, x, w, b, &rc, NULL, NULL, NULL);
            int64_t n = tensor_numel(plain);
            float *want = malloc((size_t)n * sizeof *want);
            for (int64_t j = 0; j < n; j++) {
                float v = tensor_f32(plain)[j];
                want[j] = v < lo ? lo : v > hi ? hi : v;
            }
            if (fused && !CHECK(memcmp(tensor_f32(fused), want, (size_t)n * sizeof *want) == 0))
                printf("  %s: fused clamp [%g, %g] differs from a separate clamp\n", g.label,
                       lo, hi);
            free(want);
            tensor_free(fused);
        }
        tensor_free(plain);
        tensor_free(x);
        tensor_free(w);
        tensor_free(b);
    }
}

/* ---- Finite differences --------------------------------------------------------------- */

/* Conv is linear in each input, so central differences are exact up to float rounding of
 * the outputs: eps 0.1 keeps that rounding (about 1e-7 * |y| * sqrt(numel) / eps) far
 * below the tolerance. */
static const GradCheckOpts LINEAR = { .eps = 0.1, .atol = 2e-3, .rtol = 2e-3, .seed = 5 };

static void test_finite_differences(void)
{
    static const Geo cases[] = {
        { "fd depthwise stride 2 dilation 2", 3, 3, 9, 10, 3, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 2, true },
        { "fd depthwise multiplier 2 stride (1,3)", 2, 2, 7, 11, 4, 2, 3, 2, 1, 3, 1, 1, 1, 1, 0, 1, true },
        { "fd strided dilated 5x5", 2, 3, 11, 12, 4, 5, 5, 1, 2, 3, 2, 1, 3, 2, 2, 1, true },
        { "fd groups 2 pointwise batched", 3, 4, 3, 3, 4, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, true },
    };
    for (int i = 0; i < COUNT(cases); i++) {
        const Geo *g = &cases[i];
        Attr at[4];
        (void)conv_node(g, at);
        Node n = gradcheck_make_node(OP_CONV, "conv", 3, at, 4);
        Tensor *in[3] = { rand_tensor(x_shape(g, g->n)), rand_tensor(w_shape(g)),
                          rand_tensor((Shape){ 1, { g->oc } }) };
        const bool check[3] = { true, true, true };
        CHECK(gradcheck_node(g->label, &n, in, 3, check, &LINEAR));
        gradcheck_node_release(&n);
        for (int k = 0; k < 3; k++)
            tensor_free(in[k]);
        node_free_attrs(at);
    }
    /* ConvTranspose, strided and dilated with groups, batched */
    Attr at[5] = { attr_ints("strides", (int64_t[]){ 2, 3 }, 2),
                   attr_ints("dilations", (int64_t[]){ 2, 1 }, 2),
                   attr_ints("pads", (int64_t[]){ 1, 0, 0, 2 }, 4),
                   attr_ints("output_padding", (int64_t[]){ 1, 1 }, 2), attr_int("group", 2) };
    Node n = gradcheck_make_node(OP_CONVTRANSPOSE, "convt", 3, at, 5);
    Tensor *in[3] = { rand_tensor((Shape){ 4, { 3, 4, 4, 3 } }),
                      rand_tensor((Shape){ 4, { 4, 3, 3, 2 } }), rand_tensor((Shape){ 1, { 6 } }) };
    const bool check[3] = { true, true, true };
    CHECK(gradcheck_node("fd convtranspose stride (2,3) dilation (2,1) groups 2", &n, in, 3,
                         check, &LINEAR));
    gradcheck_node_release(&n);
    for (int k = 0; k < 3; k++)
        tensor_free(in[k]);
    for (int k = 0; k < 5; k++)
        attr_release(&at[k]);
}

int main(void)
{
    sgemm_set_backend(SGEMM_QSCOPE);
    test_forward_reference();
    test_backward_reference();
    test_depthwise_levels();
    test_depthwise_flat();
    test_batch_threads_levels();
    test_dw_threads();
    test_small_levels();
    test_fused_clamp();
    test_finite_differences();
    threads_set(1);
    return test_summary("conv_kernels");
}
