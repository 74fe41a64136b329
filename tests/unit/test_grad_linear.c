/* Backward of Gemm, Dense, MatMul, Conv, MaxPool, AveragePool, GlobalAveragePool and
 * BatchNormalization: every row has a backward; central-difference gradient checks
 * (tests/gradcheck.h) of every input on small shapes covering each code path; hand cases
 * with exact values (MaxPool ties, BatchNorm running statistics); and PyTorch reference
 * gradients for larger random cases (scripts/fixtures/gen_grad_linear.py) driven by their
 * manifest.
 *
 * Gradient-check tolerances (|num - ana| <= atol + rtol max(|num|, |ana|)):
 *   - Gemm, Dense, MatMul, Conv, AveragePool, GlobalAveragePool are linear in any single
 *     input element, so the central difference has no truncation error and eps can be
 *     large (0.1). What remains is float32 rounding of the outputs that element touches:
 *     about K u |y| each (K-term sums, u = 2^-24, |y| of a few units), times a fan-out of
 *     at most a few dozen outputs, over 2 eps: below 1e-3. Hence atol = rtol = 2e-3; a
 *     wrong gradient (missing tap, wrong transpose, wrong broadcast sum) is off by O(0.1)
 *     or more.
 *   - MaxPool: inputs are distinct multiples of 0.05 (spacing > 2 eps with eps = 0.01),
 *     so no perturbation changes an argmax; the output moves by exactly +-eps and the
 *     numeric gradient is a sum of float32 weights r, exact to double rounding. atol 1e-5.
 *   - BatchNormalization is not linear in X in training mode (the batch statistics are
 *     functions of X) nor in var in inference mode: with eps = 1e-2 the central difference
 *     has a truncation error eps^2/6 |f'''|, up to about 2e-4 relative for var near 0.5
 *     (f ~ (var + epsilon)^-1/2), plus float32 output rounding u |y| sqrt(numel) / (2 eps),
 *     about 1e-5. Hence atol = 1e-3, rtol = 2e-3 (the worst case measured is 1.4e-4
 *     relative, the var gradient); a missing batch-statistics term changes dX by O(0.1).
 * Measured margins: every linear-op check still passes with atol = rtol = 2e-4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "gradcheck.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "test_util.h"

#define SHP(...)                                                                             \
    shape_make((int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)),                 \
               (int64_t[]){ __VA_ARGS__ })
#define INTS(name, ...)                                                                      \
    attr_ints(name, (int64_t[]){ __VA_ARGS__ },                                             \
              (int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)))
/* The same as a constant initializer, for tables. */
#define CSHP(...)                                                                            \
    { .ndim = (int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)),                 \
      .dim = { __VA_ARGS__ } }
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define MAX_IN 5

static const GradCheckOpts LINEAR = { .eps = 0.1, .atol = 2e-3, .rtol = 2e-3, .seed = 7 };
static const GradCheckOpts MAXPOOL = { .eps = 0.01, .atol = 1e-5, .rtol = 1e-5, .seed = 11 };
static const GradCheckOpts BN_INF = { .eps = 0.01, .atol = 1e-3, .rtol = 2e-3, .seed = 13 };
static const GradCheckOpts BN_TRAIN = { .eps = 0.01, .atol = 1e-3, .rtol = 2e-3, .seed = 17,
                                        .training = true };

/* ---- Inputs ------------------------------------------------------------------------- */

static unsigned rng_state = 2024u;

/* Uniform in [-1, 1), from a fixed LCG so the cases do not depend on libc. */
static double urand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (double)(rng_state >> 8) / 8388608.0 - 1.0;
}

static Tensor *rand_tensor(Shape s, double scale, double shift)
{
    Tensor *t = tensor_new(DT_F32, s, NULL);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)(urand() * scale + shift);
    return t;
}

/* Values k * 0.05 for a random permutation of k = -numel/2 .. numel/2 - 1: all distinct,
 * 0.05 apart (for MaxPool, see the top). */
static Tensor *distinct_tensor(Shape s)
{
    Tensor *t = tensor_new(DT_F32, s, NULL);
    int64_t n = tensor_numel(t);
    float *v = tensor_f32(t);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)((double)(i - n / 2) * 0.05);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)((urand() + 1.0) * 0.5 * (double)(i + 1));
        if (j > i)
            j = i;
        float tmp = v[i];
        v[i] = v[j];
        v[j] = tmp;
    }
    return t;
}

static void free_all(Tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        tensor_free(t[i]);
}

static void release_attrs(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

/* Gradient check of every present input of a one-node op. */
static void grad_all(const char *label, int op, Tensor **in, int n_in, const Attr *attrs,
                     int n_attrs, const GradCheckOpts *o)
{
    bool check[MAX_IN];
    for (int i = 0; i < n_in; i++)
        check[i] = in[i] != NULL;
    Node nd = gradcheck_make_node(op, "node", n_in, attrs, n_attrs);
    gradcheck_node(label, &nd, in, n_in, check, o);
    gradcheck_node_release(&nd);
}

/* ---- Direct forward + backward ------------------------------------------------------ */

/* Runs infer, forward and backward of node (op, attrs) through the table with a scratch
 * buffer of exactly the requested size (ASan catches an overrun), dout = r, and
 * gradients for the inputs with want[i] into zero-filled grads[i] (caller frees). Returns
 * the output (caller frees) or NULL after a failed check. */
static Tensor *run_direct(int op, const Attr *attrs, int n_attrs, Tensor *const *in, int n_in,
                          const Tensor *r, const bool *want, bool training, Tensor **grads)
{
    Node n = { .op = op, .name = (char *)"node", .n_in = n_in, .n_attrs = n_attrs,
               .attrs = (Attr *)attrs };
    const Shape *in_s[MAX_IN];
    const Tensor *in_c[MAX_IN];
    Tensor *din[MAX_IN] = { 0 };
    for (int i = 0; i < n_in; i++) {
        in_s[i] = in[i] ? &in[i]->shape : NULL;
        in_c[i] = in[i];
    }
    Shape os;
    QsError err = { 0 };
    if (!CHECK_OK(op_table[op]->infer(&n, in_s, &os, &err), &err))
        return NULL;
    size_t bytes = op_table[op]->scratch ? op_table[op]->scratch(&n, in_s, &os) : 0;
    RunCtx rc = { .scratch = bytes ? malloc(bytes) : NULL, .scratch_bytes = bytes,
                  .training = training };
    Tensor *y = tensor_new(DT_F32, os, NULL);
    op_table[op]->forward(&n, in_c, y, &rc);
    if (r && CHECK(shape_equal(&r->shape, &os))) {
        for (int i = 0; i < n_in; i++)
            if (in[i] && want[i])
                din[i] = grads[i] = tensor_new(DT_F32, in[i]->shape, NULL);
        op_table[op]->backward(&n, in_c, y, r, din, &rc);
    }
    free(rc.scratch);
    return y;
}

/* ---- Table ---------------------------------------------------------------------------- */

static void test_table_rows(void)
{
    /* The rows defined in op_dense.c, op_conv.c, op_pool.c and op_norm.c. */
    static const char *const mine[] = { "Gemm", "Dense", "MatMul", "Conv", "MaxPool",
                                        "AveragePool", "GlobalAveragePool",
                                        "BatchNormalization" };
    int found = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const OpDef *d = op_table[op];
        for (int k = 0; d && k < COUNT(mine); k++)
            if (strcmp(d->name, mine[k]) == 0) {
                found++;
                if (!CHECK(d->backward != NULL))
                    fprintf(stderr, "  %s has no backward\n", d->name);
            }
    }
    CHECK(found == COUNT(mine));
}

/* ---- Gemm, Dense, MatMul -------------------------------------------------------------- */

static void test_gemm(void)
{
    const int64_t m = 3, k = 4, nn = 5;
    /* C: none, scalar (), (1), row (N), (1, N), column (M, 1), (1, 1), full (M, N). */
    const Shape cs[] = { { .ndim = -1 }, { .ndim = 0 }, SHP(1), SHP(5), SHP(1, 5), SHP(3, 1),
                         SHP(1, 1), SHP(3, 5) };
    static const char *const cn[] = { "none", "()", "(1)", "(N)", "(1,N)", "(M,1)", "(1,1)",
                                      "(M,N)" };
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int ci = 0; ci < COUNT(cs); ci++) {
                Attr at[4] = { attr_int("transA", ta), attr_int("transB", tb),
                               attr_float("alpha", ta ? -1.5f : 0.5f),
                               attr_float("beta", tb ? 2.0f : -0.75f) };
                Tensor *in[3] = { rand_tensor(ta ? SHP(k, m) : SHP(m, k), 1, 0),
                                  rand_tensor(tb ? SHP(nn, k) : SHP(k, nn), 1, 0),
                                  cs[ci].ndim >= 0 ? rand_tensor(cs[ci], 1, 0) : NULL };
                char label[96];
                snprintf(label, sizeof label, "gemm transA=%d transB=%d C %s", ta, tb, cn[ci]);
                grad_all(label, OP_GEMM, in, in[2] ? 3 : 2, at, 4, &LINEAR);
                free_all(in, 3);
                release_attrs(at, 4);
            }
    {   /* beta = 0 ignores C in the forward, so its gradient must be 0 too. */
        Attr at[1] = { attr_float("beta", 0.0f) };
        Tensor *in[3] = { rand_tensor(SHP(3, 4), 1, 0), rand_tensor(SHP(4, 2), 1, 0),
                          rand_tensor(SHP(3, 2), 1, 0) };
        grad_all("gemm beta=0", OP_GEMM, in, 3, at, 1, &LINEAR);
        free_all(in, 3);
        release_attrs(at, 1);
    }
}

static void test_dense(void)
{
    Tensor *a[3] = { rand_tensor(SHP(3, 5), 1, 0), rand_tensor(SHP(4, 5), 1, 0),
                     rand_tensor(SHP(4), 1, 0) };
    grad_all("dense 2-D", OP_DENSE, a, 3, NULL, 0, &LINEAR);
    Tensor *b[3] = { rand_tensor(SHP(2, 3, 5), 1, 0), rand_tensor(SHP(4, 5), 1, 0),
                     rand_tensor(SHP(4), 1, 0) };
    grad_all("dense 3-D", OP_DENSE, b, 3, NULL, 0, &LINEAR);
    Tensor *c[3] = { rand_tensor(SHP(2, 2, 3, 5), 1, 0), rand_tensor(SHP(2, 5), 1, 0), NULL };
    grad_all("dense 4-D no bias", OP_DENSE, c, 3, NULL, 0, &LINEAR);
    free_all(a, 3);
    free_all(b, 3);
    free_all(c, 3);
}

static void test_matmul(void)
{
    static const struct { const char *label; Shape a, b; } cases[] = {
        { "matmul 2-D", CSHP(3, 4), CSHP(4, 5) },
        { "matmul shared B", CSHP(2, 3, 4), CSHP(4, 5) },
        { "matmul batched", CSHP(2, 3, 4), CSHP(2, 4, 5) },
        { "matmul broadcast both", CSHP(2, 1, 3, 4), CSHP(3, 4, 2) },
        { "matmul broadcast A", CSHP(3, 4), CSHP(2, 4, 5) },
        { "matmul broadcast B size-1 batch", CSHP(2, 3, 3, 4), CSHP(1, 3, 4, 2) },
        { "matmul 1-D A", CSHP(4), CSHP(2, 4, 3) },
        { "matmul 1-D B", CSHP(2, 3, 4), CSHP(4) },
        { "matmul 1-D both", CSHP(4), CSHP(4) },
        { "matmul 1-D A shared B", CSHP(4), CSHP(4, 3) },
    };
    for (int i = 0; i < COUNT(cases); i++) {
        Tensor *in[2] = { rand_tensor(cases[i].a, 1, 0), rand_tensor(cases[i].b, 1, 0) };
        grad_all(cases[i].label, OP_MATMUL, in, 2, NULL, 0, &LINEAR);
        free_all(in, 2);
    }
    {   /* MatMul(x, x): both gradients accumulate into one buffer. */
        Tensor *x = rand_tensor(SHP(3, 3), 1, 0), *r = rand_tensor(SHP(3, 3), 1, 0);
        Tensor *in[2] = { x, x }, *g[2] = { 0 };
        const bool both[2] = { true, true };
        Tensor *y = run_direct(OP_MATMUL, NULL, 0, in, 2, r, both, false, g);
        /* Shared buffer: d(x x)/dx = r x^T + x^T r. */
        Node n = { .op = OP_MATMUL, .name = (char *)"node", .n_in = 2 };
        Tensor *shared = tensor_new(DT_F32, x->shape, NULL);
        Tensor *din[2] = { shared, shared };
        const Tensor *cin[2] = { x, x };
        RunCtx rc = { 0 };
        op_table[OP_MATMUL]->backward(&n, cin, y, r, din, &rc);
        float want[9];
        for (int i = 0; i < 9; i++)
            want[i] = tensor_f32(g[0])[i] + tensor_f32(g[1])[i];
        /* Two float sums per element in either order: a few ulp of values below 10. */
        expect_close("matmul x x shared gradient", tensor_f32(shared), want, 9, 1e-5, 0);
        tensor_free(shared);
        tensor_free(y);
        free_all(g, 2);
        tensor_free(x);
        tensor_free(r);
    }
}

/* ---- Conv ----------------------------------------------------------------------------- */

typedef struct {
    const char *label;
    Shape x, w;
    bool bias;
    int64_t group;
    int sp;
    int64_t st[2], pd[4], dl[2];
} ConvCase;

static void conv_attrs(const ConvCase *c, Attr *at)
{
    at[0] = attr_ints("strides", c->st, c->sp);
    at[1] = attr_ints("pads", c->pd, 2 * c->sp);
    at[2] = attr_ints("dilations", c->dl, c->sp);
    at[3] = attr_int("group", c->group);
}

static const ConvCase CONV_CASES[] = {
    { "conv2d stride 2, asymmetric pads, dilation 2", CSHP(2, 3, 7, 8), CSHP(4, 3, 3, 3), true,
      1, 2, { 2, 2 }, { 1, 0, 2, 1 }, { 2, 2 } },
    { "conv2d groups 2", CSHP(2, 4, 6, 5), CSHP(6, 2, 3, 2), true, 2, 2, { 1, 2 },
      { 1, 1, 1, 0 }, { 1, 1 } },
    { "conv2d depthwise", CSHP(2, 3, 6, 6), CSHP(3, 1, 3, 3), true, 3, 2, { 2, 2 },
      { 1, 1, 1, 1 }, { 1, 1 } },
    { "conv2d depthwise multiplier 2, dilation, asym pads", CSHP(2, 2, 7, 6), CSHP(4, 1, 3, 2),
      true, 2, 2, { 1, 2 }, { 2, 0, 1, 1 }, { 2, 1 } },
    { "conv2d depthwise no bias", CSHP(1, 3, 5, 5), CSHP(3, 1, 2, 2), false, 3, 2, { 1, 1 },
      { 0, 0, 0, 0 }, { 1, 1 } },
    { "conv2d 1x1 fast path", CSHP(2, 5, 3, 4), CSHP(3, 5, 1, 1), true, 1, 2, { 1, 1 },
      { 0, 0, 0, 0 }, { 1, 1 } },
    { "conv2d 1x1 grouped", CSHP(2, 4, 3, 3), CSHP(6, 2, 1, 1), true, 2, 2, { 1, 1 },
      { 0, 0, 0, 0 }, { 1, 1 } },
    { "conv2d 1x1 stride 2 (im2col)", CSHP(1, 3, 5, 5), CSHP(2, 3, 1, 1), false, 1, 2, { 2, 2 },
      { 0, 0, 0, 0 }, { 1, 1 } },
    { "conv1d stride 2, pads, dilation 2", CSHP(2, 3, 12), CSHP(4, 3, 3), true, 1, 1, { 2, 0 },
      { 2, 1, 0, 0 }, { 2, 0 } },
    { "conv1d depthwise", CSHP(2, 2, 9), CSHP(4, 1, 3), true, 2, 1, { 2, 0 }, { 1, 1, 0, 0 },
      { 1, 0 } },
    { "conv1d groups 2 dilation 3", CSHP(2, 4, 12), CSHP(4, 2, 3), false, 2, 1, { 1, 0 },
      { 1, 2, 0, 0 }, { 3, 0 } },
};

static void test_conv(void)
{
    for (int i = 0; i < COUNT(CONV_CASES); i++) {
        const ConvCase *c = &CONV_CASES[i];
        Attr at[4];
        conv_attrs(c, at);
        Tensor *in[3] = { rand_tensor(c->x, 1, 0), rand_tensor(c->w, 1, 0),
                          c->bias ? rand_tensor(SHP(c->w.dim[0]), 1, 0) : NULL };
        grad_all(c->label, OP_CONV, in, 3, at, 4, &LINEAR);
        free_all(in, 3);
        release_attrs(at, 4);
    }
}

/* Asking for a subset of the gradients gives the same values as asking for all of them
 * (each kernel skips work per din[i]; the im2col path reuses its scratch for two things). */
static void test_conv_subsets(void)
{
    for (int i = 0; i < COUNT(CONV_CASES); i++) {
        const ConvCase *c = &CONV_CASES[i];
        if (!c->bias)
            continue;
        Attr at[4];
        conv_attrs(c, at);
        Tensor *in[3] = { rand_tensor(c->x, 1, 0), rand_tensor(c->w, 1, 0),
                          rand_tensor(SHP(c->w.dim[0]), 1, 0) };
        const bool all[3] = { true, true, true };
        Tensor *full[3] = { 0 };
        Tensor *y = run_direct(OP_CONV, at, 4, in, 3, NULL, all, false, full);
        if (!y) {
            free_all(in, 3);
            release_attrs(at, 4);
            continue;
        }
        Tensor *r = rand_tensor(y->shape, 1, 0);
        tensor_free(y);
        tensor_free(run_direct(OP_CONV, at, 4, in, 3, r, all, false, full));
        for (int k = 0; k < 3; k++) {
            bool one[3] = { k == 0, k == 1, k == 2 };
            Tensor *g[3] = { 0 };
            tensor_free(run_direct(OP_CONV, at, 4, in, 3, r, one, false, g));
            char label[128];
            snprintf(label, sizeof label, "%s: gradient %d alone", c->label, k);
            if (g[k] && full[k])
                expect_close(label, tensor_f32(g[k]), tensor_f32(full[k]),
                             (size_t)tensor_numel(g[k]), 0, 0);
            free_all(g, 3);
        }
        free_all(full, 3);
        tensor_free(r);
        free_all(in, 3);
        release_attrs(at, 4);
    }
}

/* ---- Pooling -------------------------------------------------------------------------- */

static void test_pool(void)
{
    {
        Attr at[4] = { INTS("kernel_shape", 3, 3), INTS("strides", 2, 2), INTS("pads", 1, 1, 1, 1),
                       attr_int("ceil_mode", 1) };
        Tensor *x = distinct_tensor(SHP(2, 2, 8, 8)); /* 8 + 2 - 3 odd: a partial window */
        grad_all("maxpool2d pads ceil_mode", OP_MAXPOOL, &x, 1, at, 4, &MAXPOOL);
        tensor_free(x);
        release_attrs(at, 4);
    }
    {
        Attr at[5] = { INTS("kernel_shape", 2, 3), INTS("strides", 1, 2), INTS("pads", 1, 1, 0, 1),
                       INTS("dilations", 2, 1), attr_int("ceil_mode", 0) };
        Tensor *x = distinct_tensor(SHP(1, 3, 6, 7));
        grad_all("maxpool2d dilation asym pads", OP_MAXPOOL, &x, 1, at, 5, &MAXPOOL);
        tensor_free(x);
        release_attrs(at, 5);
    }
    {
        Attr at[4] = { INTS("kernel_shape", 3), INTS("strides", 2), INTS("pads", 1, 1),
                       attr_int("ceil_mode", 1) };
        Tensor *x = distinct_tensor(SHP(2, 3, 10));
        grad_all("maxpool1d pads ceil_mode", OP_MAXPOOL, &x, 1, at, 4, &MAXPOOL);
        tensor_free(x);
        release_attrs(at, 4);
    }
    for (int incl = 0; incl < 2; incl++) {
        char label[96];
        Attr at[5] = { INTS("kernel_shape", 3, 3), INTS("strides", 2, 2), INTS("pads", 1, 1, 1, 1),
                       attr_int("ceil_mode", 1), attr_int("count_include_pad", incl) };
        Tensor *x = rand_tensor(SHP(2, 2, 8, 8), 1, 0);
        snprintf(label, sizeof label, "avgpool2d ceil_mode count_include_pad=%d", incl);
        grad_all(label, OP_AVGPOOL, &x, 1, at, 5, &LINEAR);
        tensor_free(x);
        release_attrs(at, 5);
        /* 10 + 4 - 4 = 10: ceil gives a fifth window that would start in the end padding
         * and is dropped; the fourth overhangs the padded input. */
        Attr a1[5] = { INTS("kernel_shape", 4), INTS("strides", 3), INTS("pads", 2, 2),
                       attr_int("ceil_mode", 1), attr_int("count_include_pad", incl) };
        x = rand_tensor(SHP(2, 3, 10), 1, 0);
        snprintf(label, sizeof label, "avgpool1d ceil_mode count_include_pad=%d", incl);
        grad_all(label, OP_AVGPOOL, &x, 1, a1, 5, &LINEAR);
        tensor_free(x);
        release_attrs(a1, 5);
        Attr a2[4] = { INTS("kernel_shape", 2, 3), INTS("strides", 2, 1), INTS("pads", 0, 1, 1, 0),
                       attr_int("count_include_pad", incl) };
        x = rand_tensor(SHP(1, 2, 5, 5), 1, 0);
        snprintf(label, sizeof label, "avgpool2d asym pads count_include_pad=%d", incl);
        grad_all(label, OP_AVGPOOL, &x, 1, a2, 4, &LINEAR);
        tensor_free(x);
        release_attrs(a2, 4);
    }
    Tensor *x = rand_tensor(SHP(2, 3, 4, 5), 1, 0);
    grad_all("globalavgpool 2-D", OP_GLOBALAVGPOOL, &x, 1, NULL, 0, &LINEAR);
    tensor_free(x);
    x = rand_tensor(SHP(2, 3, 7), 1, 0);
    grad_all("globalavgpool 1-D", OP_GLOBALAVGPOOL, &x, 1, NULL, 0, &LINEAR);
    tensor_free(x);
}

/* MaxPool ties: the gradient goes to the first maximum in scan order (rows, then
 * columns), as PyTorch's CPU kernel does; values checked against torch 1.13. */
static void test_maxpool_ties(void)
{
    static const struct {
        const char *label;
        Shape s;
        int64_t k[2];
        float x[5], want[5];
    } cases[] = {
        /* windows {1,3,3} {3,3,2} {3,2,3}: argmax 1, 1, 2 */
        { "maxpool1d ties", CSHP(1, 1, 5), { 3, 0 }, { 1, 3, 3, 2, 3 }, { 0, 2, 1, 0, 0 } },
        /* one 2x2 window of {1,3 / 3,3}: the first 3 */
        { "maxpool2d ties", CSHP(1, 1, 2, 2), { 2, 2 }, { 1, 3, 3, 3 }, { 0, 1, 0, 0 } },
        /* {-inf,-inf} has no strict maximum: its first tap, as PyTorch */
        { "maxpool1d -inf window", CSHP(1, 1, 3), { 2, 0 }, { -INFINITY, -INFINITY, 1 },
          { 1, 0, 1 } },
    };
    for (int i = 0; i < COUNT(cases); i++) {
        int sp = cases[i].s.ndim - 2;
        Attr at[1] = { attr_ints("kernel_shape", cases[i].k, sp) };
        int64_t n = shape_numel(&cases[i].s);
        Tensor *x = tensor_new(DT_F32, cases[i].s, NULL);
        memcpy(x->data, cases[i].x, (size_t)n * sizeof(float));
        const bool want[1] = { true };
        Tensor *g[1] = { 0 };
        Tensor *y = run_direct(OP_MAXPOOL, at, 1, &x, 1, NULL, want, false, g);
        if (y) {
            Tensor *ones = tensor_new(DT_F32, y->shape, NULL);
            for (int64_t k = 0; k < tensor_numel(ones); k++)
                tensor_f32(ones)[k] = 1.0f;
            tensor_free(run_direct(OP_MAXPOOL, at, 1, &x, 1, ones, want, false, g));
            if (CHECK(g[0] != NULL))
                expect_close(cases[i].label, tensor_f32(g[0]), cases[i].want, (size_t)n, 0, 0);
            tensor_free(ones);
            tensor_free(g[0]);
            tensor_free(y);
        }
        tensor_free(x);
        release_attrs(at, 1);
    }
}

/* ---- BatchNormalization --------------------------------------------------------------- */

static void test_bn_grad(void)
{
    static const struct { const char *label; Shape x; } shapes[] = {
        { "(N, C, L)", CSHP(3, 4, 5) },
        { "(N, C)", CSHP(6, 3) },
        { "(N, C, H, W)", CSHP(2, 3, 3, 4) },
    };
    for (int i = 0; i < COUNT(shapes); i++)
        for (int training = 0; training < 2; training++) {
            int64_t c = shapes[i].x.dim[1];
            Attr at[1] = { attr_float("epsilon", 1e-3f) };
            /* Offset data: the batch statistics matter; var in [0.5, 1.5]. */
            Tensor *in[5] = { rand_tensor(shapes[i].x, 1.5, 0.5), rand_tensor(SHP(c), 1, 0),
                              rand_tensor(SHP(c), 1, 0), rand_tensor(SHP(c), 0.5, 0),
                              rand_tensor(SHP(c), 0.5, 1.0) };
            char label[96];
            snprintf(label, sizeof label, "batchnorm %s %s", shapes[i].label,
                     training ? "training" : "inference");
            /* Training: mean and var get no gradient, which the check confirms (their
             * numeric gradient is 0 too: the output does not depend on them). */
            grad_all(label, OP_BATCHNORM, in, 5, at, 1, training ? &BN_TRAIN : &BN_INF);
            free_all(in, 5);
            release_attrs(at, 1);
        }
}

/* Runs a BatchNormalization forward on x (N, C) with the given running statistics
 * (updated in place) and returns y (caller frees). */
static Tensor *bn_run(const Attr *at, int n_at, Tensor *x, float *mean, float *var,
                      const float *scale, const float *bias, bool training)
{
    int64_t c = x->shape.dim[1];
    Tensor ts = tensor_view(DT_F32, SHP(c), (void *)scale), tb = tensor_view(DT_F32, SHP(c), (void *)bias);
    Tensor tm = tensor_view(DT_F32, SHP(c), mean), tv = tensor_view(DT_F32, SHP(c), var);
    Tensor *in[5] = { x, &ts, &tb, &tm, &tv };
    const bool none[5] = { false };
    return run_direct(OP_BATCHNORM, at, n_at, in, 5, NULL, none, training, NULL);
}

static void test_bn_running_stats(void)
{
    /* (N, C) = (5, 2): channel 0 = {0, 1, 2, 3, 4}: mean 2, biased var 2, unbiased 2.5;
     * channel 1 = {-2, 2, -2, 2, 0}: mean 0, biased var 3.2, unbiased 4. */
    const float xv[10] = { 0, -2, 1, 2, 2, -2, 3, 2, 4, 0 };
    const float scale[2] = { 1, 1 }, bias[2] = { 0, 0 };
    Tensor *x = tensor_new(DT_F32, SHP(5, 2), NULL);
    memcpy(x->data, xv, sizeof xv);
    {   /* momentum 0.75 (exact in binary): 0.75 running + 0.25 batch. */
        float mean[2] = { 8, 4 }, var[2] = { 2, 4 };
        Attr at[2] = { attr_float("epsilon", 0), attr_float("momentum", 0.75f) };
        Tensor *y = bn_run(at, 2, x, mean, var, scale, bias, true);
        const float want_mean[2] = { 6.5f, 3.0f }, want_var[2] = { 2.125f, 4.0f };
        expect_close("bn running mean, momentum 0.75", mean, want_mean, 2, 0, 0);
        expect_close("bn running var (unbiased), momentum 0.75", var, want_var, 2, 0, 0);
        /* Normalised with the biased variance: (x - mean) / sqrt(2) and / sqrt(3.2). */
        float want_y[10];
        for (int i = 0; i < 10; i++)
            want_y[i] = (float)((xv[i] - (i % 2 ? 0.0 : 2.0)) / sqrt(i % 2 ? 3.2 : 2.0));
        /* a = 1/sqrt(var) rounded to float, then one product: 2 ulp of values below 2. */
        if (y)
            expect_close("bn training output uses the biased variance", tensor_f32(y), want_y,
                         10, 5e-7, 0);
        tensor_free(y);
        /* Inference leaves the running statistics alone. */
        y = bn_run(at, 2, x, mean, var, scale, bias, false);
        expect_close("bn inference keeps running mean", mean, want_mean, 2, 0, 0);
        expect_close("bn inference keeps running var", var, want_var, 2, 0, 0);
        tensor_free(y);
        release_attrs(at, 2);
    }
    {   /* Default momentum is ONNX's 0.9 (PyTorch's 0.1): 0.9 * 8 + 0.1 * 2 = 7.4, not
         * 2.6; variance 0.9 * 2 + 0.1 * 2.5 = 2.05 (2.0 with the biased variance).
         * The attribute is the float 0.9f = 0.9 - 2.4e-8: off by < 3e-7 here. */
        float mean[2] = { 8, 4 }, var[2] = { 2, 4 };
        Tensor *y = bn_run(NULL, 0, x, mean, var, scale, bias, true);
        const float want_mean[2] = { 7.4f, 3.6f }, want_var[2] = { 2.05f, 4.0f };
        expect_close("bn running mean, default momentum", mean, want_mean, 2, 1e-6, 0);
        expect_close("bn running var, default momentum", var, want_var, 2, 1e-6, 0);
        tensor_free(y);
    }
    {   /* One value per channel (M = 1): no unbiased variance; the running variance is
         * kept, the mean still moves. */
        Tensor *x1 = tensor_new(DT_F32, SHP(1, 2), NULL);
        tensor_f32(x1)[0] = 4;
        tensor_f32(x1)[1] = -4;
        float mean[2] = { 0, 0 }, var[2] = { 1, 3 };
        Attr at[1] = { attr_float("momentum", 0.5f) };
        Tensor *y = bn_run(at, 1, x1, mean, var, scale, bias, true);
        const float want_mean[2] = { 2, -2 }, want_var[2] = { 1, 3 };
        expect_close("bn M=1 running mean", mean, want_mean, 2, 0, 0);
        expect_close("bn M=1 running var kept", var, want_var, 2, 0, 0);
        tensor_free(y);
        tensor_free(x1);
        release_attrs(at, 1);
    }
    {   /* momentum outside [0, 1] is rejected at infer. */
        Attr at[1] = { attr_float("momentum", 1.5f) };
        Node n = { .op = OP_BATCHNORM, .name = (char *)"bn1", .n_in = 5, .n_attrs = 1,
                   .attrs = at };
        Shape sx = SHP(2, 3), sc = SHP(3), out;
        const Shape *in_s[5] = { &sx, &sc, &sc, &sc, &sc };
        QsError err = { 0 };
        expect_error("bn momentum range", op_table[OP_BATCHNORM]->infer(&n, in_s, &out, &err),
                     &err, QS_EINVAL, "BatchNormalization 'bn1': momentum = 1.5, must be in [0, 1]");
        release_attrs(at, 1);
    }
    tensor_free(x);
}

/* Training-mode backward recomputes the batch statistics from the input: running
 * statistics changed between forward and backward (e.g. by the forward's own update)
 * must not change the gradients. */
static void test_bn_backward_stateless(void)
{
    Tensor *in[5] = { rand_tensor(SHP(4, 3, 5), 1.5, 1.0), rand_tensor(SHP(3), 1, 0),
                      rand_tensor(SHP(3), 1, 0), rand_tensor(SHP(3), 0.5, 0),
                      rand_tensor(SHP(3), 0.5, 1.0) };
    const bool all[5] = { true, true, true, false, false };
    Tensor *g1[5] = { 0 }, *g2[5] = { 0 };
    Tensor *y = run_direct(OP_BATCHNORM, NULL, 0, in, 5, NULL, all, true, g1);
    Tensor *r = y ? rand_tensor(y->shape, 1, 0) : NULL;
    tensor_free(y);
    if (r) {
        tensor_free(run_direct(OP_BATCHNORM, NULL, 0, in, 5, r, all, true, g1));
        /* Now backward alone, after scrambling the running statistics. */
        Node n = { .op = OP_BATCHNORM, .name = (char *)"node", .n_in = 5 };
        for (int c = 0; c < 3; c++) {
            tensor_f32(in[3])[c] = 1e3f;
            tensor_f32(in[4])[c] = 1e-3f;
        }
        const Tensor *cin[5] = { in[0], in[1], in[2], in[3], in[4] };
        for (int i = 0; i < 3; i++)
            g2[i] = tensor_new(DT_F32, in[i]->shape, NULL);
        RunCtx rc = { .training = true };
        Tensor *yy = tensor_new(DT_F32, in[0]->shape, NULL);
        op_table[OP_BATCHNORM]->backward(&n, cin, yy, r, g2, &rc);
        for (int i = 0; i < 3; i++)
            if (g1[i])
                expect_close("bn training backward ignores running stats", tensor_f32(g2[i]),
                             tensor_f32(g1[i]), (size_t)tensor_numel(g1[i]), 0, 0);
        tensor_free(yy);
    }
    tensor_free(r);
    free_all(g1, 5);
    free_all(g2, 5);
    free_all(in, 5);
}

/* ---- PyTorch fixtures --------------------------------------------------------------- */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[len] = '\0';
    fclose(f);
    return buf;
}

/* attrs entries are [name, "int" | "ints" | "float", value]. */
static int fixture_attrs(const cJSON *list, Attr *out, int max)
{
    int n = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, list) {
        const char *name = cJSON_GetArrayItem(a, 0)->valuestring;
        const char *type = cJSON_GetArrayItem(a, 1)->valuestring;
        const cJSON *v = cJSON_GetArrayItem(a, 2);
        if (n == max)
            break;
        if (strcmp(type, "int") == 0) {
            out[n++] = attr_int(name, (int64_t)v->valuedouble);
        } else if (strcmp(type, "float") == 0) {
            out[n++] = attr_float(name, (float)v->valuedouble);
        } else {
            int64_t ints[8];
            int k = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, v) if (k < 8) ints[k++] = (int64_t)e->valuedouble;
            out[n++] = attr_ints(name, ints, k);
        }
    }
    return n;
}

static Tensor *fixture_npy(const cJSON *obj, const char *key)
{
    char rel[256];
    snprintf(rel, sizeof rel, "grad_linear/%s", cJSON_GetObjectItem(obj, key)->valuestring);
    return test_load_npy(rel);
}

static void fixture_compare(const char *name, const char *what, const cJSON *e,
                            const Tensor *got)
{
    Tensor *want = fixture_npy(e, "file");
    char label[128];
    snprintf(label, sizeof label, "fixture %s: %s of input %d", name, what,
             cJSON_GetObjectItem(e, "input")->valueint);
    if (CHECK(got && shape_equal(&got->shape, &want->shape)))
        expect_close(label, tensor_f32(got), tensor_f32(want), (size_t)tensor_numel(want),
                     cJSON_GetObjectItem(e, "atol")->valuedouble,
                     cJSON_GetObjectItem(e, "rtol")->valuedouble);
    tensor_free(want);
}

static void test_fixtures(void)
{
    char *text = read_text("tests/fixtures/grad_linear/manifest.json");
    if (!CHECK(text != NULL))
        return;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!CHECK(root != NULL))
        return;
    const cJSON *c;
    int n_cases = 0, n_grads = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        int op = op_find(cJSON_GetObjectItem(c, "op")->valuestring);
        if (!CHECK(op >= 0))
            continue;
        Attr attrs[8];
        int n_attrs = fixture_attrs(cJSON_GetObjectItem(c, "attrs"), attrs, 8);
        Tensor *in[MAX_IN] = { 0 }, *g[MAX_IN] = { 0 };
        bool want[MAX_IN] = { false };
        int n_in = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "inputs")) {
            if (n_in == MAX_IN)
                break;
            char rel[256];
            snprintf(rel, sizeof rel, "grad_linear/%s", e->valuestring);
            in[n_in++] = test_load_npy(rel);
        }
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "grads")) {
            int i = cJSON_GetObjectItem(e, "input")->valueint;
            if (CHECK(i >= 0 && i < n_in))
                want[i] = true;
        }
        Tensor *r = fixture_npy(c, "r");
        bool training = cJSON_IsTrue(cJSON_GetObjectItem(c, "training"));
        /* One forward (which in training mode updates the running statistics), then the
         * backward with dout = R. */
        Tensor *y = run_direct(op, attrs, n_attrs, in, n_in, r, want, training, g);
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "after")) {
            int i = cJSON_GetObjectItem(e, "input")->valueint;
            fixture_compare(name, "value after the forward", e, i >= 0 && i < n_in ? in[i] : NULL);
        }
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "grads")) {
            int i = cJSON_GetObjectItem(e, "input")->valueint;
            fixture_compare(name, "gradient", e, i >= 0 && i < n_in ? g[i] : NULL);
            n_grads++;
        }
        tensor_free(y);
        tensor_free(r);
        free_all(in, n_in);
        free_all(g, MAX_IN);
        release_attrs(attrs, n_attrs);
        n_cases++;
    }
    /* A truncated manifest must not pass quietly. */
    CHECK(n_cases == 8);
    CHECK(n_grads == 20);
    cJSON_Delete(root);
}

int main(void)
{
    test_table_rows();
    test_gemm();
    test_dense();
    test_matmul();
    test_conv();
    test_conv_subsets();
    test_pool();
    test_maxpool_ties();
    test_bn_grad();
    test_bn_running_stats();
    test_bn_backward_stateless();
    test_fixtures();
    return test_summary("grad_linear");
}
