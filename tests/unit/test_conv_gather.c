/* The implicit GEMM of the float conv (kern/conv_cols.h's conv_gather_fill feeding
 * kern/sgemm.h's sgemm_packed_a_gather) against the reference route it replaced: the
 * column panel from conv_im2col multiplied by sgemm on the unpacked weights.
 *   - the gathered slivers hold exactly the panel's values (bit for bit, the zeros of the
 *     padding included) for sliver widths 1, 8, 16 and 32, ragged column ranges and any
 *     k block;
 *   - the product is bit-identical to sgemm on the panel, with bias and clamp, at every
 *     SIMD level (simd_cap) and at 1 and 2 threads, also from weights packed into caller
 *     memory (sgemm_pack_a_at);
 *   - the product written into each sample's place (sgemm_packed_a_gather_runs) is the same;
 *   - conv_im2col at AVX-512 (which gathers small panels) writes the same panel;
 * over odd shapes, strides, dilations, asymmetric pads, a grouped input (a channel offset
 * into a wider tensor), batches 1 and 3, a chunk that is a piece of one sample, and maps
 * of whole 16-position vectors (the AVX-512 gather, on the input's grid and off it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/conv_cols.h"
#include "kern/sgemm.h"
#include "kern/simd.h"
#include "kern/threads.h"
#include "test_util.h"

typedef struct Case {
    const char *label;
    ConvPlane g;
    int64_t n;      /* samples */
    int64_t groups; /* the tensor holds groups * g.c channels; group 1 is used */
    int64_t oc;
    bool piece;     /* the chunk: positions [1, p - 2) of sample n - 1 */
} Case;

static const Case CASES[] = {
    { "3x3 s1 p1", { 5, 9, 11, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1 }, 3, 1, 13, false },
    { "3x3 s2 p1 grouped", { 4, 10, 7, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1 }, 3, 2, 7, false },
    { "7x7 s2 p3", { 3, 17, 13, 9, 7, 7, 7, 2, 2, 1, 1, 3, 3 }, 1, 1, 33, false },
    { "dilated 3x2 s1", { 2, 12, 9, 8, 7, 3, 2, 1, 1, 2, 2, 0, 0 }, 3, 1, 5, false },
    { "stride 3 pad 2 wide", { 6, 5, 40, 3, 14, 3, 3, 3, 3, 1, 1, 2, 2 }, 1, 1, 40, false },
    { "1x1 s2", { 17, 8, 8, 4, 4, 1, 1, 2, 2, 1, 1, 0, 0 }, 3, 1, 12, false },
    { "1-D k5 p2", { 3, 1, 37, 1, 37, 1, 5, 1, 1, 1, 1, 0, 2 }, 3, 1, 9, false },
    { "piece of a sample", { 3, 9, 11, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1 }, 3, 1, 6, true },
    { "tiny map", { 20, 2, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1 }, 3, 1, 26, false },
    /* whole vectors of positions per sample: AVX-512's masked loads (on the grid) and
     * masked gathers (off it) */
    { "3x3 s1 p1 on the grid", { 5, 8, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1 }, 3, 2, 13, false },
    { "3x3 s1 p1 16 wide", { 4, 6, 16, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1 }, 3, 1, 7, false },
    { "dilated 3x3 on the grid", { 3, 4, 8, 4, 8, 3, 3, 1, 1, 2, 2, 2, 2 }, 2, 1, 5, false },
    { "1x1 on the grid", { 9, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 0, 0 }, 3, 1, 10, false },
    { "3x3 s2 p1 gathered", { 6, 16, 16, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1 }, 2, 1, 9, false },
    { "7x7 s2 p3 gathered", { 3, 16, 15, 8, 8, 7, 7, 2, 2, 1, 1, 3, 3 }, 2, 1, 4, false },
    { "grid piece", { 3, 8, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1 }, 3, 1, 6, true },
};

static unsigned rng = 777u;

static float urand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((double)(rng >> 8) / 8388608.0 - 1.0);
}

static float *rand_floats(int64_t n)
{
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = urand();
    return v;
}

static ConvChunk chunk_of(const Case *c)
{
    int64_t p = c->g.oh * c->g.ow;
    if (c->piece)
        return (ConvChunk){ c->n - 1, 1, 1, p - 3 };
    return (ConvChunk){ 0, c->n, 0, p };
}

/* The reference panel (K, cols) of group 1 (or 0 when ungrouped), from the generic
 * im2col. */
static float *ref_panel(const Case *c, const float *x, ConvChunk k, int64_t *rows,
                        int64_t *cols)
{
    const ConvPlane *g = &c->g;
    *rows = g->c * g->kh * g->kw;
    *cols = k.nb * k.np;
    float *col = malloc((size_t)(*rows * *cols) * sizeof *col);
    int64_t hw = g->h * g->w, gi = c->groups - 1;
    /* below AVX-512, conv_im2col never takes the gather under test */
    SimdLevel top = simd_level();
    simd_cap(SIMD_AVX2);
    conv_im2col(g, x + gi * g->c * hw, c->groups * g->c * hw, k, col, *cols);
    simd_cap(top);
    return col;
}

static void check_slivers(const Case *c, const float *x, const float *col, int64_t rows,
                          int64_t cols, ConvChunk k)
{
    const ConvPlane *g = &c->g;
    int64_t hw = g->h * g->w, gi = c->groups - 1;
    ConvGather cg = { g, x + gi * g->c * hw, c->groups * g->c * hw, k };
    const int widths[] = { 1, 8, 16, 32 };
    for (int wi = 0; wi < 4; wi++) {
        int w = widths[wi];
        /* column ranges from j0 (a multiple of w), k blocks from k0 */
        for (int64_t j0 = 0; j0 < cols; j0 += 3 * w)
            for (int64_t k0 = 0; k0 < rows; k0 += rows / 2 + 1) {
                int64_t nc = cols - j0 < 5 * w + 3 ? cols - j0 : 5 * w + 3;
                int64_t kc = rows - k0, sl = (nc + w - 1) / w;
                float *out = malloc((size_t)(sl * w * kc) * sizeof *out);
                memset(out, 0x7f, (size_t)(sl * w * kc) * sizeof *out); /* not zero */
                conv_gather_fill(&cg, j0, nc, k0, kc, w, out);
                bool same = true;
                for (int64_t kk = 0; kk < kc; kk++)
                    for (int64_t j = 0; j < sl * w; j++) {
                        float want = j < nc ? col[(k0 + kk) * cols + j0 + j] : 0.0f;
                        float got = out[(j / w) * kc * w + kk * w + j % w];
                        same = same && memcmp(&want, &got, sizeof got) == 0;
                    }
                if (!same)
                    printf("  %s: w %d j0 %lld k0 %lld differs\n", c->label, w, (long long)j0,
                           (long long)k0);
                CHECK(same);
                free(out);
            }
    }
}

/* conv_im2col at the machine's level against the generic panel, bit for bit. */
static void check_im2col(const Case *c, const float *x, const float *col, int64_t rows,
                         int64_t cols, ConvChunk k)
{
    const ConvPlane *g = &c->g;
    int64_t hw = g->h * g->w, gi = c->groups - 1;
    size_t n = (size_t)(rows * cols);
    float *got = malloc(n * sizeof *got);
    memset(got, 0x7f, n * sizeof *got);
    conv_im2col(g, x + gi * g->c * hw, c->groups * g->c * hw, k, got, cols);
    if (memcmp(got, col, n * sizeof *got) != 0)
        printf("  %s: im2col differs\n", c->label);
    CHECK(memcmp(got, col, n * sizeof *got) == 0);
    free(got);
}

/* The product into each sample's own place (sgemm_packed_a_gather_runs): a run of np
 * columns per sample, samples oc * np + 5 floats apart; the gaps stay untouched. */
static void check_runs(const Case *c, const SgemmPacked *pm, const SgemmGather *gb,
                       int64_t cols, const float *want, const SgemmEpi *epi)
{
    int64_t np = c->g.oh * c->g.ow, stride = c->oc * np + 5;
    size_t n = (size_t)(c->n * stride);
    float *got = malloc(n * sizeof *got);
    memset(got, 0x7f, n * sizeof *got);
    sgemm_packed_a_gather_runs(pm, gb, cols, got, np, np, stride, epi);
    bool same = true;
    for (int64_t m = 0; m < c->oc; m++)
        for (int64_t j = 0; j < cols; j++) {
            float v = got[m * np + (j / np) * stride + j % np];
            same = same && memcmp(&v, &want[m * cols + j], sizeof v) == 0;
        }
    for (int64_t s = 0; s < c->n; s++) /* the gaps */
        for (int64_t i = c->oc * np; i < stride; i++)
            same = same && got[s * stride + i] > 1e30f;
    if (!same)
        printf("  %s: runs differ\n", c->label);
    CHECK(same);
    free(got);
}

static void check_products(const Case *c, const float *x, const float *col, int64_t rows,
                           int64_t cols, ConvChunk k)
{
    const ConvPlane *g = &c->g;
    int64_t hw = g->h * g->w, gi = c->groups - 1;
    ConvGather cg = { g, x + gi * g->c * hw, c->groups * g->c * hw, k };
    SgemmGather gb = { conv_gather_fill, &cg };
    float *w = rand_floats(c->oc * rows), *bias = rand_floats(c->oc);
    SgemmEpi epi = { .bias_m = bias, .clamp = true, .lo = -0.5f, .hi = 0.75f };
    size_t n = (size_t)(c->oc * cols);
    float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    void *mem = aligned_alloc(64, (sgemm_pack_a_bytes(c->oc, rows) + 63) / 64 * 64);
    SimdLevel top = simd_level();
    for (int l = SIMD_SCALAR; l <= (int)top; l++)
        for (int t = 1; t <= 2; t++) {
            simd_cap((SimdLevel)l);
            threads_set(t);
            sgemm(false, false, c->oc, cols, rows, 1.0f, w, rows, col, cols, want, cols, &epi);
            SgemmPacked *pa = sgemm_pack_a(false, c->oc, rows, 1.0f, w, rows);
            memset(got, 0, n * sizeof *got);
            sgemm_packed_a_gather(pa, &gb, cols, got, cols, &epi);
            CHECK(memcmp(want, got, n * sizeof *got) == 0);
            sgemm_packed_free(pa);
            SgemmPacked *pm = sgemm_pack_a_at(mem, false, c->oc, rows, 1.0f, w, rows);
            memset(got, 0, n * sizeof *got);
            sgemm_packed_a(pm, false, cols, col, cols, got, cols, &epi);
            CHECK(memcmp(want, got, n * sizeof *got) == 0);
            memset(got, 0, n * sizeof *got);
            sgemm_packed_a_gather(pm, &gb, cols, got, cols, &epi);
            if (memcmp(want, got, n * sizeof *got) != 0)
                printf("  %s: level %d threads %d differs\n", c->label, l, t);
            CHECK(memcmp(want, got, n * sizeof *got) == 0);
            if (!c->piece)
                check_runs(c, pm, &gb, cols, want, &epi);
        }
    simd_cap(top);
    threads_set(1);
    /* OpenBLAS (`set blas=openblas`): B gathered whole, its own sums: close, not equal */
    sgemm_set_backend(SGEMM_OPENBLAS);
    SgemmPacked *pa = sgemm_pack_a(false, c->oc, rows, 1.0f, w, rows);
    sgemm_packed_a_gather(pa, &gb, cols, got, cols, &epi);
    sgemm_packed_free(pa);
    sgemm_set_backend(SGEMM_QSCOPE);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)want[i] - got[i]));
    CHECK(worst < 1e-4); /* |terms| < 1, K < 200: float rounding is far below this */
    free(mem);
    free(want);
    free(got);
    free(w);
    free(bias);
}

int main(void)
{
    sgemm_set_backend(SGEMM_QSCOPE);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const Case *c = &CASES[i];
        const ConvPlane *g = &c->g;
        float *x = rand_floats(c->n * c->groups * g->c * g->h * g->w);
        ConvChunk k = chunk_of(c);
        int64_t rows, cols;
        float *col = ref_panel(c, x, k, &rows, &cols);
        check_slivers(c, x, col, rows, cols, k);
        check_im2col(c, x, col, rows, cols, k);
        check_products(c, x, col, rows, cols, k);
        free(col);
        free(x);
    }
    return test_summary("conv_gather");
}
