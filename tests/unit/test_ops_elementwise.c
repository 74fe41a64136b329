/* Elementwise, shape and reduction ops: hand cases with exact values, saturation cases,
 * infer failures, a walk over every op_table row, and PyTorch reference fixtures
 * (tests/fixtures/ops_elementwise, made by scripts/fixtures/gen_ops_elementwise.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "io/fileio.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "run/run.h"
#include "test_util.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One input of a test node: graph inputs carry the batch as dim 0; constants do not. */
typedef struct TIn {
    Shape shape;
    const float *data;
    bool is_const;
} TIn;

static void attrs_release(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

/* Builds a one-node graph named `name`, runs one forward and returns a copy of the
 * output in *out (caller frees with tensor_free). Any failure (adding the node, infer
 * during graph_finalize, the run) comes back as the status with err set. */
static QsStatus op_run_named(int op, const char *name, const Attr *attrs, int n_attrs,
                             const TIn *ins, int n_in, bool training, Tensor **out,
                             QsError *err)
{
    Graph g;
    Run r;
    bool have_run = false;
    char names[64][16];
    const char *pnames[64];
    Tensor views[64];
    const Tensor *tin[64];
    int n_graph_in = 0;
    QsStatus st = QS_OK;
    *out = NULL;
    graph_init(&g);
    for (int i = 0; i < n_in && !st; i++) {
        snprintf(names[i], sizeof names[i], "in%d", i);
        pnames[i] = names[i];
        if (ins[i].is_const) {
            Tensor *t = tensor_new(DT_F32, ins[i].shape, err);
            if (!t) {
                st = err->code;
                break;
            }
            memcpy(t->data, ins[i].data, tensor_bytes(t));
            st = graph_add_const(&g, names[i], t, false, err);
        } else {
            Shape sample = { .ndim = ins[i].shape.ndim - 1 };
            for (int k = 1; k < ins[i].shape.ndim; k++)
                sample.dim[k - 1] = ins[i].shape.dim[k];
            st = graph_add_input(&g, names[i], &sample, err);
            views[n_graph_in] = tensor_view(DT_F32, ins[i].shape, (void *)ins[i].data);
            tin[n_graph_in] = &views[n_graph_in];
            n_graph_in++;
        }
    }
    if (!st)
        st = graph_add_node(&g, op, name, pnames, n_in, "out", attrs, n_attrs, err);
    if (!st)
        st = graph_add_output(&g, "out", err);
    if (!st)
        st = graph_finalize(&g, err);
    if (!st) {
        run_init(&r, &g);
        have_run = true;
        r.training = training;
        st = run_forward(&r, tin, NULL, NULL, err);
    }
    if (!st) {
        *out = tensor_clone(run_output(&r, 0), err);
        if (!*out)
            st = err->code;
    }
    if (have_run)
        run_release(&r);
    graph_release(&g);
    return st;
}

static QsStatus op_run(int op, const Attr *attrs, int n_attrs, const TIn *ins, int n_in,
                       Tensor **out, QsError *err)
{
    return op_run_named(op, "node", attrs, n_attrs, ins, n_in, false, out, err);
}

static bool expect_shape(const char *label, const Tensor *t, Shape want)
{
    char a[96], b[96];
    if (!t)
        return test_check(false, __FILE__, __LINE__, label);
    bool ok = shape_equal(&t->shape, &want);
    if (!ok)
        fprintf(stderr, "%s: shape %s, want %s\n", label, shape_format(&t->shape, a, sizeof a),
                shape_format(&want, b, sizeof b));
    return test_check(ok, __FILE__, __LINE__, label);
}

/* Runs a single-input op on x with shape s and compares with want (same shape). */
static void check_unary(const char *label, int op, const Attr *attrs, int n_attrs, Shape s,
                        const float *x, const float *want, double atol, double rtol)
{
    QsError err = { 0 };
    Tensor *y = NULL;
    TIn in = { s, x, false };
    if (CHECK_OK(op_run(op, attrs, n_attrs, &in, 1, &y, &err), &err) &&
        expect_shape(label, y, s))
        expect_close(label, tensor_f32(y), want, (size_t)shape_numel(&s), atol, rtol);
    tensor_free(y);
}

/* Expects the op to fail (in graph_finalize's infer or earlier) with code and needle. */
static void check_fails(const char *label, int op, const char *name, const Attr *attrs,
                        int n_attrs, const TIn *ins, int n_in, QsStatus code,
                        const char *needle)
{
    QsError err = { 0 };
    Tensor *y = NULL;
    QsStatus st = op_run_named(op, name, attrs, n_attrs, ins, n_in, false, &y, &err);
    expect_error(label, st, &err, code, needle);
    tensor_free(y);
}

static bool all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

/* ---- activations ---- */

static void test_activations_exact(void)
{
    Shape s = shape_of(2, (int64_t)1, (int64_t)8);
    {
        const float x[8] = { -2, -0.5f, -0.0f, 0, 0.5f, 3, 1e30f, -1e30f };
        const float want[8] = { 0, 0, 0, 0, 0.5f, 3, 1e30f, 0 };
        check_unary("relu", OP_RELU, NULL, 0, s, x, want, 0, 0);
    }
    {
        const float x[8] = { -1, 0, 3, 5.9999995f, 6, 7.5f, -1e30f, 1e30f };
        const float want[8] = { 0, 0, 3, 5.9999995f, 6, 6, 0, 6 };
        Attr a[2] = { attr_float("min", 0), attr_float("max", 6) };
        check_unary("clip relu6", OP_CLIP, a, 2, s, x, want, 0, 0);
        attrs_release(a, 2);
    }
    {
        const float x[8] = { -1e30f, -1, 0, 1, 2.5f, 1e30f, INFINITY, -INFINITY };
        check_unary("clip defaults is identity", OP_CLIP, NULL, 0, s, x, x, 0, 0);
        Attr a[1] = { attr_float("min", -0.5f) };
        const float want[8] = { -0.5f, -0.5f, 0, 1, 2.5f, 1e30f, INFINITY, -0.5f };
        check_unary("clip min only", OP_CLIP, a, 1, s, x, want, 0, 0);
        attrs_release(a, 1);
    }
    {
        const float x[8] = { -2, -100, -0.5f, 0, 0.5f, 2, 100, 1e-3f };
        /* The products are the same float multiplications forward does: exact by spec. */
        const float want[8] = { -2 * 0.01f, -100 * 0.01f, -0.5f * 0.01f, 0, 0.5f, 2, 100, 1e-3f };
        check_unary("leakyrelu default alpha", OP_LEAKYRELU, NULL, 0, s, x, want, 0, 0);
        Attr a[1] = { attr_float("alpha", 0.25f) };
        const float want2[8] = { -0.5f, -25, -0.125f, 0, 0.5f, 2, 100, 1e-3f };
        check_unary("leakyrelu alpha 0.25", OP_LEAKYRELU, a, 1, s, x, want2, 0, 0);
        attrs_release(a, 1);
    }
    {
        /* Kinks at -3 and 3; 1 -> 1 * 4 / 6 and 1.5 -> 1.5 * 4.5 / 6 = 1.125 exactly. */
        const float x[8] = { -4, -3, 0, 1, 1.5f, 3, 4, -1e30f };
        const float want[8] = { 0, 0, 0, 4.0f / 6.0f, 1.125f, 3, 4, 0 };
        check_unary("hardswish", OP_HARDSWISH, NULL, 0, s, x, want, 0, 0);
    }
    {
        const float x[8] = { 0, 1, -1, 2, -2, 0.5f, 100, -100 };
        const float want[8] = { 0, 1, -1, 2, -2, 0.5f, 100, -100 };
        check_unary("identity", OP_IDENTITY, NULL, 0, s, x, want, 0, 0);
        check_unary("dropout at inference", OP_DROPOUT, NULL, 0, s, x, want, 0, 0);
        /* Training mode is still the identity until the mask lands (see op_activation.c). */
        QsError err = { 0 };
        Tensor *y = NULL;
        TIn in = { s, x, false };
        Attr a[1] = { attr_float("ratio", 0.3f) };
        if (CHECK_OK(op_run_named(OP_DROPOUT, "drop", a, 1, &in, 1, true, &y, &err), &err))
            expect_close("dropout in training", tensor_f32(y), want, 8, 0, 0);
        tensor_free(y);
        attrs_release(a, 1);
    }
    {
        /* NaN propagates through relu, clip and leakyrelu, as in torch. */
        const float x[2] = { NAN, 1 };
        Shape s2 = shape_of(2, (int64_t)1, (int64_t)2);
        const int ops[] = { OP_RELU, OP_CLIP, OP_LEAKYRELU, OP_SIGMOID, OP_TANH, OP_GELU,
                            OP_HARDSWISH, OP_SILU };
        for (int i = 0; i < NELEM(ops); i++) {
            QsError err = { 0 };
            Tensor *y = NULL;
            TIn in = { s2, x, false };
            if (CHECK_OK(op_run(ops[i], NULL, 0, &in, 1, &y, &err), &err))
                CHECK(isnan(tensor_f32(y)[0]) && !isnan(tensor_f32(y)[1]));
            tensor_free(y);
        }
    }
}

/* Values of the smooth activations where the answer is known in closed form or from
 * torch float64 (noted per line); 1e-6 relative covers libm's few-ulp errors. */
static void test_activations_smooth(void)
{
    Shape s = shape_of(2, (int64_t)1, (int64_t)4);
    {
        const float x[4] = { 0, 1, -1, 0.5f };
        /* torch.float64: gelu(1), gelu(-1), gelu(0.5) = 0.5 * 0.5 * (1 + erf(0.5 / sqrt 2)) */
        const float want[4] = { 0, 0.841344746068543f, -0.15865525393145702f,
                                0.34573123063700656f };
        check_unary("gelu exact", OP_GELU, NULL, 0, s, x, want, 0, 1e-6);
        Attr a[1] = { attr_str("approximate", "tanh") };
        const float want2[4] = { 0, 0.8411919906082768f, -0.15880800939172324f,
                                 0.34571400982514394f };
        check_unary("gelu tanh", OP_GELU, a, 1, s, x, want2, 0, 1e-6);
        attrs_release(a, 1);
        Attr b[1] = { attr_str("approximate", "none") };
        check_unary("gelu approximate=none", OP_GELU, b, 1, s, x, want, 0, 1e-6);
        attrs_release(b, 1);
    }
    {
        const float x[4] = { 0, 0.5f, -0.5f, 2 };
        const float want[4] = { 0.5f, 0.6224593312018546f, 0.3775406687981454f,
                                0.8807970779778823f };
        check_unary("sigmoid", OP_SIGMOID, NULL, 0, s, x, want, 0, 1e-6);
        const float want_t[4] = { 0, 0.46211715726000974f, -0.46211715726000974f,
                                  0.9640275800758169f };
        check_unary("tanh", OP_TANH, NULL, 0, s, x, want_t, 0, 1e-6);
        const float want_s[4] = { 0, 0.5f * 0.6224593312018546f, -0.5f * 0.3775406687981454f,
                                  2 * 0.8807970779778823f };
        check_unary("silu", OP_SILU, NULL, 0, s, x, want_s, 0, 1e-6);
    }
}

/* Large |x| must saturate cleanly: no inf/inf, no NaN. */
static void test_activations_saturation(void)
{
    Shape s = shape_of(2, (int64_t)1, (int64_t)8);
    const float x[8] = { -100, 100, -1e4f, 1e4f, -INFINITY, INFINITY, -88.8f, 88.8f };
    {
        /* sigmoid(-100) = 3.72e-44 and sigmoid(-88.8f) = 2.72e-39 (float64) are float
         * denormals, spaced 1.4e-45 apart: atol 1e-44 is a few of those steps. */
        const float want[8] = { 3.7200759760208356e-44f, 1, 0, 1, 0, 1, 2.7204996954839132e-39f,
                                1 };
        check_unary("sigmoid saturates", OP_SIGMOID, NULL, 0, s, x, want, 1e-44, 1e-6);
    }
    {
        const float want[8] = { -1, 1, -1, 1, -1, 1, -1, 1 };
        check_unary("tanh saturates", OP_TANH, NULL, 0, s, x, want, 0, 0);
    }
    {
        /* silu(-inf) = -inf * 0 is NaN in IEEE and in torch; only finite x here. */
        const float xf[6] = { -100, 100, -1e4f, 1e4f, -88.8f, 88.8f };
        const float want[6] = { -100 * 3.7200759760208356e-44f, 100, 0, 1e4f, 0, 88.8f };
        Shape s6 = shape_of(2, (int64_t)1, (int64_t)6);
        check_unary("silu saturates", OP_SILU, NULL, 0, s6, xf, want, 1e-36, 0);
        const float want_g[6] = { 0, 100, 0, 1e4f, 0, 88.8f };
        check_unary("gelu saturates", OP_GELU, NULL, 0, s6, xf, want_g, 1e-30, 0);
        Attr a[1] = { attr_str("approximate", "tanh") };
        check_unary("gelu tanh saturates", OP_GELU, a, 1, s6, xf, want_g, 1e-30, 0);
        attrs_release(a, 1);
    }
}

/* ---- softmax ---- */

static void test_softmax(void)
{
    QsError err = { 0 };
    Shape s = shape_of(2, (int64_t)2, (int64_t)3);
    {
        const float x[6] = { 1, 2, 3, 1001, 1002, 1003 };
        /* torch float64; the second row is the first shifted, so the same result. */
        const float p[3] = { 0.09003057317038045f, 0.2447284710547976f, 0.6652409557748218f };
        const float want[6] = { p[0], p[1], p[2], p[0], p[1], p[2] };
        check_unary("softmax [1 2 3]", OP_SOFTMAX, NULL, 0, s, x, want, 0, 1.2e-7);
        const float l[3] = { -2.4076059644443806f, -1.4076059644443804f, -0.4076059644443804f };
        const float want_l[6] = { l[0], l[1], l[2], l[0], l[1], l[2] };
        check_unary("logsoftmax [1 2 3]", OP_LOGSOFTMAX, NULL, 0, s, x, want_l, 0, 1.2e-7);
    }
    {
        /* 1e4 logits: exp would overflow without the max subtraction. */
        const float x[6] = { 1e4f, 0, -1e4f, -1e4f, -1e4f, 1e4f };
        const float want[6] = { 1, 0, 0, 0, 0, 1 };
        check_unary("softmax 1e4 logits", OP_SOFTMAX, NULL, 0, s, x, want, 0, 0);
        /* x - max - log(sum) = x - max exactly here: log(1 + e^-1e4) rounds to 0. */
        const float want_l[6] = { 0, -1e4f, -2e4f, -2e4f, -2e4f, 0 };
        check_unary("logsoftmax 1e4 logits", OP_LOGSOFTMAX, NULL, 0, s, x, want_l, 0, 0);
        const float y[6] = { 1e4f, 1e4f, 1e4f, -1e4f, -1e4f, -1e4f };
        const float third = (float)(1.0 / 3.0), lt = (float)-log(3.0);
        const float want_e[6] = { third, third, third, third, third, third };
        check_unary("softmax equal 1e4 logits", OP_SOFTMAX, NULL, 0, s, y, want_e, 0, 0);
        const float want_le[6] = { lt, lt, lt, lt, lt, lt };
        check_unary("logsoftmax equal 1e4 logits", OP_LOGSOFTMAX, NULL, 0, s, y, want_le, 0, 0);
    }
    {
        /* Axis 1 of (N, 3, 2) walks with stride 2; compare with the same data laid out
         * with the axis last, and check columns sum to 1. */
        const float x[12] = { 0.5f, -3, 2, 7, -1, 40, 1e4f, 1, -1e4f, 2, 0, 3 };
        Shape s3 = shape_of(3, (int64_t)2, (int64_t)3, (int64_t)2);
        Attr a[1] = { attr_int("axis", 1) };
        TIn in = { s3, x, false };
        Tensor *y = NULL;
        if (CHECK_OK(op_run(OP_SOFTMAX, a, 1, &in, 1, &y, &err), &err)) {
            const float *v = tensor_f32(y);
            CHECK(all_finite(v, 12));
            for (int n = 0; n < 2; n++)
                for (int w = 0; w < 2; w++) {
                    float xt[3], want[3], got[3];
                    double m = -INFINITY, sum = 0;
                    for (int c = 0; c < 3; c++) {
                        xt[c] = x[n * 6 + c * 2 + w];
                        got[c] = v[n * 6 + c * 2 + w];
                        m = fmax(m, xt[c]);
                    }
                    for (int c = 0; c < 3; c++)
                        sum += exp(xt[c] - m);
                    for (int c = 0; c < 3; c++)
                        want[c] = (float)(exp(xt[c] - m) / sum);
                    expect_close("softmax axis 1 column", got, want, 3, 0, 1.2e-7);
                    CHECK(fabs((double)got[0] + got[1] + got[2] - 1.0) < 3e-7);
                }
        }
        tensor_free(y);
        attrs_release(a, 1);
    }
    {
        Attr a[1] = { attr_int("axis", 0) };
        const float x[6] = { 0 };
        TIn in = { s, x, false };
        check_fails("softmax over batch", OP_SOFTMAX, "sm", a, 1, &in, 1, QS_ESHAPE,
                    "Softmax 'sm': axis 0 is the batch axis");
        attrs_release(a, 1);
        Attr b[1] = { attr_int("axis", 2) };
        check_fails("logsoftmax axis out of range", OP_LOGSOFTMAX, "ls", b, 1, &in, 1,
                    QS_ESHAPE, "LogSoftmax 'ls': axis 2 out of range for rank 2");
        attrs_release(b, 1);
    }
}

/* ---- shape ops ---- */

static void test_flatten_reshape(void)
{
    QsError err = { 0 };
    float x[40];
    for (int i = 0; i < 40; i++)
        x[i] = (float)i;
    Tensor *y = NULL;
    {
        TIn in = { shape_of(4, (int64_t)2, (int64_t)2, (int64_t)5, (int64_t)2), x, false };
        if (CHECK_OK(op_run(OP_FLATTEN, NULL, 0, &in, 1, &y, &err), &err) &&
            expect_shape("flatten default", y, shape_of(2, (int64_t)2, (int64_t)20)))
            expect_close("flatten data", tensor_f32(y), x, 40, 0, 0);
        tensor_free(y);
        Attr a[1] = { attr_int("axis", 0) };
        check_fails("flatten axis 0", OP_FLATTEN, "f0", a, 1, &in, 1, QS_ESHAPE,
                    "Flatten 'f0': axis 0 merges the batch dim 0 of input (1, 2, 5, 2) with "
                    "other dims");
        Attr c[1] = { attr_int("axis", 2) };
        check_fails("flatten axis 2", OP_FLATTEN, "f2", c, 1, &in, 1, QS_ESHAPE,
                    "Flatten 'f2': axis 2 merges the batch dim 0");
        attrs_release(c, 1);
        attrs_release(a, 1);
        Attr b[1] = { attr_int("axis", 5) };
        check_fails("flatten axis out of range", OP_FLATTEN, "f5", b, 1, &in, 1, QS_ESHAPE,
                    "axis 5 out of range for rank 4");
        attrs_release(b, 1);
    }
    {
        /* (N, 1, 4, 5) at axis 2 keeps the batch: the merged dim is 1. */
        TIn in = { shape_of(4, (int64_t)2, (int64_t)1, (int64_t)4, (int64_t)5), x, false };
        Attr a[1] = { attr_int("axis", -2) };
        if (CHECK_OK(op_run(OP_FLATTEN, a, 1, &in, 1, &y, &err), &err))
            expect_shape("flatten axis -2", y, shape_of(2, (int64_t)2, (int64_t)20));
        tensor_free(y);
        attrs_release(a, 1);
        Attr b[1] = { attr_int("axis", 4) };
        check_fails("flatten axis = rank 4", OP_FLATTEN, "f4", b, 1, &in, 1, QS_ESHAPE,
                    "axis 4 merges the batch dim 0");
        attrs_release(b, 1);
    }
    {
        /* ONNX allows axis == rank: (N,) -> (N, 1). */
        TIn in = { shape_of(1, (int64_t)3), x, false };
        if (CHECK_OK(op_run(OP_FLATTEN, NULL, 0, &in, 1, &y, &err), &err) &&
            expect_shape("flatten axis = rank 1", y, shape_of(2, (int64_t)3, (int64_t)1)))
            expect_close("flatten (N,) data", tensor_f32(y), x, 3, 0, 0);
        tensor_free(y);
    }
    {
        TIn in = { shape_of(3, (int64_t)1, (int64_t)4, (int64_t)5), x, false };
        const int64_t s1[] = { 0, 5, -1 }, s2[] = { 0, -1 }, s3[] = { 0, 3, -1 },
                      s4[] = { -1, 5 }, s5[] = { 0, -1, -1 }, s6[] = { 0, 2, 2, 5 },
                      s7[] = { 0, 4, 0, 0 }, s8[] = { 0, -2, -10 }, s9[] = { 0, 21 };
        Attr a[1] = { attr_ints("shape", s1, 3) };
        if (CHECK_OK(op_run(OP_RESHAPE, a, 1, &in, 1, &y, &err), &err) &&
            expect_shape("reshape (0, 5, -1)", y,
                         shape_of(3, (int64_t)1, (int64_t)5, (int64_t)4)))
            expect_close("reshape data", tensor_f32(y), x, 20, 0, 0);
        tensor_free(y);
        attrs_release(a, 1);
        Attr b[1] = { attr_ints("shape", s6, 4) };
        if (CHECK_OK(op_run(OP_RESHAPE, b, 1, &in, 1, &y, &err), &err))
            expect_shape("reshape (0, 2, 2, 5)", y,
                         shape_of(4, (int64_t)1, (int64_t)2, (int64_t)2, (int64_t)5));
        tensor_free(y);
        attrs_release(b, 1);
        Attr c[1] = { attr_ints("shape", s3, 3) };
        check_fails("reshape indivisible", OP_RESHAPE, "r1", c, 1, &in, 1, QS_ESHAPE,
                    "Reshape 'r1': cannot reshape (1, 4, 5) to (0, 3, -1)");
        attrs_release(c, 1);
        /* -1 at dim 0 over part of a sample folds the batch into dim 0 (B*4 rows of 5,
         * as attention's B*heads): each row lies inside one sample */
        Attr d[1] = { attr_ints("shape", s4, 2) };
        if (CHECK_OK(op_run(OP_RESHAPE, d, 1, &in, 1, &y, &err), &err))
            expect_shape("reshape (-1, 5)", y, shape_of(2, (int64_t)4, (int64_t)5));
        tensor_free(y);
        attrs_release(d, 1);
        /* Literal 1 works at batch 1 only; rejected already at graph_finalize. */
        const int64_t s10[] = { 1, -1 }, s11[] = { -1, 4, 5 };
        Attr d2[1] = { attr_ints("shape", s10, 2) };
        check_fails("reshape literal batch", OP_RESHAPE, "r9", d2, 1, &in, 1, QS_ESHAPE,
                    "must stay 0 (copy) or be -1 (the batch, possibly folded with other dims)");
        attrs_release(d2, 1);
        Attr d3[1] = { attr_ints("shape", s11, 3) };
        if (CHECK_OK(op_run(OP_RESHAPE, d3, 1, &in, 1, &y, &err), &err))
            expect_shape("reshape (-1, 4, 5)", y, shape_of(3, (int64_t)1, (int64_t)4, (int64_t)5));
        tensor_free(y);
        attrs_release(d3, 1);
        Attr e[1] = { attr_ints("shape", s5, 3) };
        check_fails("reshape two -1", OP_RESHAPE, "r3", e, 1, &in, 1, QS_ESHAPE,
                    "more than one -1");
        attrs_release(e, 1);
        Attr f[1] = { attr_ints("shape", s7, 4) };
        check_fails("reshape 0 past input rank", OP_RESHAPE, "r4", f, 1, &in, 1, QS_ESHAPE,
                    "0 at position 3 copies a dim the input does not have");
        attrs_release(f, 1);
        Attr g[1] = { attr_ints("shape", s8, 3) };
        check_fails("reshape negative dim", OP_RESHAPE, "r5", g, 1, &in, 1, QS_ESHAPE,
                    "negative dim -2");
        attrs_release(g, 1);
        Attr h[1] = { attr_ints("shape", s9, 2) };
        check_fails("reshape wrong count", OP_RESHAPE, "r6", h, 1, &in, 1, QS_ESHAPE,
                    "cannot reshape (1, 4, 5) to (0, 21): 20 elements, the target has 21");
        attrs_release(h, 1);
        check_fails("reshape without shape", OP_RESHAPE, "r7", NULL, 0, &in, 1, QS_EINVAL,
                    "Reshape 'r7': attribute 'shape' (ints) is missing");
        Attr k[2] = { attr_ints("shape", s2, 2), attr_int("allowzero", 1) };
        check_fails("reshape allowzero", OP_RESHAPE, "r8", k, 2, &in, 1, QS_EUNSUPPORTED,
                    "allowzero=1 is not supported");
        attrs_release(k, 2);
    }
    {
        /* Batch 2 through the same attribute: (0, -1) keeps N and infers 20. */
        TIn in = { shape_of(3, (int64_t)2, (int64_t)4, (int64_t)5), x, false };
        const int64_t s2[] = { 0, -1 };
        Attr a[1] = { attr_ints("shape", s2, 2) };
        if (CHECK_OK(op_run(OP_RESHAPE, a, 1, &in, 1, &y, &err), &err) &&
            expect_shape("reshape batch 2", y, shape_of(2, (int64_t)2, (int64_t)20)))
            expect_close("reshape batch 2 data", tensor_f32(y), x, 40, 0, 0);
        tensor_free(y);
        attrs_release(a, 1);
    }
}

/* Index-by-index reference for a transpose. */
static void naive_transpose(const Shape *s, const float *x, const int64_t *perm, float *y)
{
    int r = s->ndim;
    int64_t n = shape_numel(s), istr[QS_MAX_DIMS], od[QS_MAX_DIMS];
    for (int k = r - 1, acc = 1; k >= 0; k--) {
        istr[k] = acc;
        acc *= (int)s->dim[k];
    }
    for (int k = 0; k < r; k++)
        od[k] = s->dim[perm[k]];
    for (int64_t f = 0; f < n; f++) {
        int64_t rem = f, off = 0;
        for (int k = r - 1; k >= 0; k--) {
            off += (rem % od[k]) * istr[perm[k]];
            rem /= od[k];
        }
        y[f] = x[off];
    }
}

static void test_transpose(void)
{
    QsError err = { 0 };
    Tensor *y = NULL;
    float x[240];
    for (int i = 0; i < 240; i++)
        x[i] = (float)i;
    {
        /* Hand case: (2, 2, 3) with perm (0, 2, 1). */
        TIn in = { shape_of(3, (int64_t)2, (int64_t)2, (int64_t)3), x, false };
        const int64_t p[] = { 0, 2, 1 };
        Attr a[1] = { attr_ints("perm", p, 3) };
        const float want[12] = { 0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11 };
        if (CHECK_OK(op_run(OP_TRANSPOSE, a, 1, &in, 1, &y, &err), &err) &&
            expect_shape("transpose 021", y, shape_of(3, (int64_t)2, (int64_t)3, (int64_t)2)))
            expect_close("transpose 021 data", tensor_f32(y), want, 12, 0, 0);
        tensor_free(y);
        attrs_release(a, 1);
    }
    {
        /* Every perm of a 4-D tensor that keeps axis 0, including size-1 axes that the
         * forward drops and neighbours it merges. */
        const Shape shapes[] = { shape_of(4, (int64_t)2, (int64_t)3, (int64_t)4, (int64_t)5),
                                 shape_of(4, (int64_t)2, (int64_t)1, (int64_t)6, (int64_t)1),
                                 shape_of(4, (int64_t)1, (int64_t)4, (int64_t)1, (int64_t)3) };
        const int64_t perms[6][4] = { { 0, 1, 2, 3 }, { 0, 1, 3, 2 }, { 0, 2, 1, 3 },
                                      { 0, 2, 3, 1 }, { 0, 3, 1, 2 }, { 0, 3, 2, 1 } };
        for (int si = 0; si < NELEM(shapes); si++)
            for (int pi = 0; pi < 6; pi++) {
                TIn in = { shapes[si], x, false };
                Attr a[1] = { attr_ints("perm", perms[pi], 4) };
                float want[240];
                char label[64];
                snprintf(label, sizeof label, "transpose shape %d perm %d", si, pi);
                naive_transpose(&shapes[si], x, perms[pi], want);
                if (CHECK_OK(op_run(OP_TRANSPOSE, a, 1, &in, 1, &y, &err), &err))
                    expect_close(label, tensor_f32(y), want, (size_t)shape_numel(&shapes[si]),
                                 0, 0);
                tensor_free(y);
                attrs_release(a, 1);
            }
    }
    {
        /* Rank 1: the default (reversed) perm is the identity and is accepted. */
        TIn in = { shape_of(1, (int64_t)3), x, false };
        if (CHECK_OK(op_run(OP_TRANSPOSE, NULL, 0, &in, 1, &y, &err), &err))
            expect_close("transpose rank 1 default", tensor_f32(y), x, 3, 0, 0);
        tensor_free(y);
    }
    {
        TIn in = { shape_of(3, (int64_t)1, (int64_t)2, (int64_t)3), x, false };
        check_fails("transpose default perm", OP_TRANSPOSE, "t0", NULL, 0, &in, 1, QS_ESHAPE,
                    "Transpose 't0': perm moves the batch axis 0 of input (1, 2, 3) (the "
                    "default perm reverses all axes)");
        const int64_t p1[] = { 1, 0, 2 }, p2[] = { 0, 0, 1 }, p3[] = { 0, 1 }, p4[] = { 0, 3, 1 };
        Attr a[1] = { attr_ints("perm", p1, 3) };
        check_fails("transpose moves batch", OP_TRANSPOSE, "t1", a, 1, &in, 1, QS_ESHAPE,
                    "perm moves the batch axis 0");
        attrs_release(a, 1);
        Attr b[1] = { attr_ints("perm", p2, 3) };
        check_fails("transpose repeated axis", OP_TRANSPOSE, "t2", b, 1, &in, 1, QS_ESHAPE,
                    "perm is not a permutation of 0..2 (entry 1 is 0)");
        attrs_release(b, 1);
        Attr c[1] = { attr_ints("perm", p3, 2) };
        check_fails("transpose short perm", OP_TRANSPOSE, "t3", c, 1, &in, 1, QS_ESHAPE,
                    "perm has 2 entries for input (1, 2, 3)");
        attrs_release(c, 1);
        Attr d[1] = { attr_ints("perm", p4, 3) };
        check_fails("transpose axis out of range", OP_TRANSPOSE, "t4", d, 1, &in, 1, QS_ESHAPE,
                    "entry 1 is 3");
        attrs_release(d, 1);
    }
}

static void test_concat(void)
{
    QsError err = { 0 };
    Tensor *y = NULL;
    {
        const float a[4] = { 1, 2, 3, 4 };            /* (2, 1, 2) */
        const float b[8] = { 5, 6, 7, 8, 9, 10, 11, 12 }; /* (2, 2, 2) */
        TIn in[2] = { { shape_of(3, (int64_t)2, (int64_t)1, (int64_t)2), a, false },
                      { shape_of(3, (int64_t)2, (int64_t)2, (int64_t)2), b, false } };
        const float want[12] = { 1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12 };
        if (CHECK_OK(op_run(OP_CONCAT, NULL, 0, in, 2, &y, &err), &err) &&
            expect_shape("concat axis 1 (default)", y,
                         shape_of(3, (int64_t)2, (int64_t)3, (int64_t)2)))
            expect_close("concat axis 1 data", tensor_f32(y), want, 12, 0, 0);
        tensor_free(y);
    }
    {
        const float a[4] = { 1, 2, 3, 4 };                 /* (2, 2, 1) */
        const float b[8] = { 5, 6, 7, 8, 9, 10, 11, 12 };  /* (2, 2, 2) */
        TIn in[2] = { { shape_of(3, (int64_t)2, (int64_t)2, (int64_t)1), a, false },
                      { shape_of(3, (int64_t)2, (int64_t)2, (int64_t)2), b, false } };
        Attr at[1] = { attr_int("axis", -1) };
        const float want[12] = { 1, 5, 6, 2, 7, 8, 3, 9, 10, 4, 11, 12 };
        if (CHECK_OK(op_run(OP_CONCAT, at, 1, in, 2, &y, &err), &err) &&
            expect_shape("concat axis -1", y, shape_of(3, (int64_t)2, (int64_t)2, (int64_t)3)))
            expect_close("concat axis -1 data", tensor_f32(y), want, 12, 0, 0);
        tensor_free(y);
        attrs_release(at, 1);
    }
    {
        /* Three inputs, and a single input (a copy). */
        const float a[2] = { 1, 2 }, b[4] = { 3, 4, 5, 6 }, c[2] = { 7, 8 };
        TIn in[3] = { { shape_of(2, (int64_t)2, (int64_t)1), a, false },
                      { shape_of(2, (int64_t)2, (int64_t)2), b, false },
                      { shape_of(2, (int64_t)2, (int64_t)1), c, false } };
        const float want[8] = { 1, 3, 4, 7, 2, 5, 6, 8 };
        if (CHECK_OK(op_run(OP_CONCAT, NULL, 0, in, 3, &y, &err), &err) &&
            expect_shape("concat 3 inputs", y, shape_of(2, (int64_t)2, (int64_t)4)))
            expect_close("concat 3 inputs data", tensor_f32(y), want, 8, 0, 0);
        tensor_free(y);
        if (CHECK_OK(op_run(OP_CONCAT, NULL, 0, &in[1], 1, &y, &err), &err))
            expect_close("concat 1 input", tensor_f32(y), b, 4, 0, 0);
        tensor_free(y);
        Attr at[1] = { attr_int("axis", 0) };
        check_fails("concat batch axis", OP_CONCAT, "c0", at, 1, in, 3, QS_ESHAPE,
                    "Concat 'c0': axis 0 is the batch axis");
        attrs_release(at, 1);
        TIn bad[2] = { in[0], { shape_of(3, (int64_t)2, (int64_t)1, (int64_t)1), a, false } };
        check_fails("concat rank mismatch", OP_CONCAT, "c1", NULL, 0, bad, 2, QS_ESHAPE,
                    "Concat 'c1': input 1 has shape (1, 1, 1), which does not match input 0 "
                    "(1, 1)");
        float z[6] = { 0 };
        TIn bad2[2] = { { shape_of(3, (int64_t)2, (int64_t)1, (int64_t)2), z, false },
                        { shape_of(3, (int64_t)2, (int64_t)1, (int64_t)3), z, false } };
        check_fails("concat dim mismatch", OP_CONCAT, "c2", NULL, 0, bad2, 2, QS_ESHAPE,
                    "outside axis 1");
    }
}

/* ---- Add, Mul ---- */

/* Element-by-element numpy broadcast reference. */
static void naive_binary(bool mul, const Shape *sa, const float *a, const Shape *sb,
                         const float *b, const Shape *so, float *c)
{
    int r = so->ndim;
    int64_t n = shape_numel(so);
    for (int64_t f = 0; f < n; f++) {
        int64_t rem = f, oa = 0, ob = 0, ma = 1, mb = 1;
        for (int k = r - 1; k >= 0; k--) {
            int64_t i = rem % so->dim[k];
            rem /= so->dim[k];
            int ka = sa->ndim - r + k, kb = sb->ndim - r + k;
            if (ka >= 0) {
                oa += (sa->dim[ka] == 1 ? 0 : i) * ma;
                ma *= sa->dim[ka];
            }
            if (kb >= 0) {
                ob += (sb->dim[kb] == 1 ? 0 : i) * mb;
                mb *= sb->dim[kb];
            }
        }
        c[f] = mul ? a[oa] * b[ob] : a[oa] + b[ob];
    }
}

static void test_binary(void)
{
    QsError err = { 0 };
    Tensor *y = NULL;
    {
        /* (N, C, H, W) = (2, 2, 1, 2) with a per-channel (C, 1, 1) constant, both orders. */
        const float x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, b[2] = { 10, 100 };
        TIn in[2] = { { shape_of(4, (int64_t)2, (int64_t)2, (int64_t)1, (int64_t)2), x, false },
                      { shape_of(3, (int64_t)2, (int64_t)1, (int64_t)1), b, true } };
        TIn rev[2] = { in[1], in[0] };
        const float want_add[8] = { 11, 12, 103, 104, 15, 16, 107, 108 };
        const float want_mul[8] = { 10, 20, 300, 400, 50, 60, 700, 800 };
        if (CHECK_OK(op_run(OP_ADD, NULL, 0, in, 2, &y, &err), &err) &&
            expect_shape("add (N,C,H,W)+(C,1,1)", y, in[0].shape))
            expect_close("add per-channel", tensor_f32(y), want_add, 8, 0, 0);
        tensor_free(y);
        if (CHECK_OK(op_run(OP_ADD, NULL, 0, rev, 2, &y, &err), &err) &&
            expect_shape("add (C,1,1)+(N,C,H,W)", y, in[0].shape))
            expect_close("add per-channel reversed", tensor_f32(y), want_add, 8, 0, 0);
        tensor_free(y);
        if (CHECK_OK(op_run(OP_MUL, NULL, 0, in, 2, &y, &err), &err))
            expect_close("mul per-channel", tensor_f32(y), want_mul, 8, 0, 0);
        tensor_free(y);
        if (CHECK_OK(op_run(OP_MUL, NULL, 0, rev, 2, &y, &err), &err))
            expect_close("mul per-channel reversed", tensor_f32(y), want_mul, 8, 0, 0);
        tensor_free(y);
    }
    {
        /* Many shape pairs against the naive reference; they cover the same-shape,
         * scalar, per-channel and general strided paths, including two batched inputs. */
        struct {
            Shape a, b;
            bool b_const;
        } pairs[] = {
            { shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4),
              shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4), false },
            { shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4), shape_of(1, (int64_t)1), true },
            { shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4), shape_of(1, (int64_t)4), true },
            { shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4),
              shape_of(2, (int64_t)3, (int64_t)1), true },
            { shape_of(4, (int64_t)2, (int64_t)3, (int64_t)2, (int64_t)2),
              shape_of(3, (int64_t)3, (int64_t)1, (int64_t)1), true },
            { shape_of(3, (int64_t)2, (int64_t)1, (int64_t)4),
              shape_of(2, (int64_t)3, (int64_t)1), true },
            { shape_of(3, (int64_t)2, (int64_t)1, (int64_t)3),
              shape_of(3, (int64_t)2, (int64_t)4, (int64_t)1), false },
            { shape_of(4, (int64_t)2, (int64_t)3, (int64_t)1, (int64_t)2),
              shape_of(4, (int64_t)1, (int64_t)1, (int64_t)4, (int64_t)1), true },
            { shape_of(4, (int64_t)2, (int64_t)1, (int64_t)3, (int64_t)1),
              shape_of(3, (int64_t)2, (int64_t)1, (int64_t)2), true },
            { shape_of(2, (int64_t)2, (int64_t)1), shape_of(3, (int64_t)3, (int64_t)1,
                                                            (int64_t)4), true },
            { shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4),
              shape_of(3, (int64_t)1, (int64_t)3, (int64_t)4), true },
        };
        float a[96], b[96];
        for (int i = 0; i < 96; i++) {
            a[i] = (float)(i % 11) * 0.5f - 2.0f;
            b[i] = (float)(i % 7) * 0.25f + 1.0f;
        }
        for (int p = 0; p < NELEM(pairs); p++)
            for (int op = 0; op < 2; op++) {
                TIn in[2] = { { pairs[p].a, a, false }, { pairs[p].b, b, pairs[p].b_const } };
                Shape so = { 0 };
                int r = pairs[p].a.ndim > pairs[p].b.ndim ? pairs[p].a.ndim : pairs[p].b.ndim;
                so.ndim = r;
                for (int k = 0; k < r; k++) {
                    int ka = pairs[p].a.ndim - r + k, kb = pairs[p].b.ndim - r + k;
                    int64_t da = ka >= 0 ? pairs[p].a.dim[ka] : 1;
                    int64_t db = kb >= 0 ? pairs[p].b.dim[kb] : 1;
                    so.dim[k] = da == 1 ? db : da;
                }
                float want[256];
                naive_binary(op == 1, &pairs[p].a, a, &pairs[p].b, b, &so, want);
                char label[64];
                snprintf(label, sizeof label, "%s pair %d", op ? "mul" : "add", p);
                if (CHECK_OK(op_run(op ? OP_MUL : OP_ADD, NULL, 0, in, 2, &y, &err), &err) &&
                    expect_shape(label, y, so))
                    expect_close(label, tensor_f32(y), want, (size_t)shape_numel(&so), 0, 0);
                tensor_free(y);
            }
    }
    {
        const float z[12] = { 0 };
        TIn in[2] = { { shape_of(2, (int64_t)2, (int64_t)3), z, false },
                      { shape_of(1, (int64_t)4), z, true } };
        check_fails("add no broadcast", OP_ADD, "a0", NULL, 0, in, 2, QS_ESHAPE,
                    "Add 'a0': shapes (1, 3) and (4) do not broadcast");
        check_fails("mul one input", OP_MUL, "m0", NULL, 0, in, 1, QS_EFORMAT,
                    "Mul 'm0': 1 inputs, expected 2 to 2");
    }
}

/* ---- reductions ---- */

static void test_reduce(void)
{
    QsError err = { 0 };
    Tensor *y = NULL;
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)(i + 1);
    Shape s = shape_of(3, (int64_t)2, (int64_t)3, (int64_t)2); /* Deep Sets (N, P, H) */
    TIn in = { s, x, false };
    const int64_t ax1[] = { 1 }, axm1[] = { -1 }, ax12[] = { 1, 2 }, ax0[] = { 0 },
                  ax11[] = { 1, -2 }, ax3[] = { 3 };
    struct {
        int op;
        const int64_t *axes;
        int n_axes;
        int keepdims;
        Shape shape;
        float want[6];
    } cases[] = {
        { OP_REDUCESUM, ax1, 1, 0, shape_of(2, (int64_t)2, (int64_t)2), { 9, 12, 27, 30 } },
        { OP_REDUCEMEAN, ax1, 1, 0, shape_of(2, (int64_t)2, (int64_t)2), { 3, 4, 9, 10 } },
        { OP_REDUCEMAX, ax1, 1, 0, shape_of(2, (int64_t)2, (int64_t)2), { 5, 6, 11, 12 } },
        { OP_REDUCESUM, ax1, 1, 1, shape_of(3, (int64_t)2, (int64_t)1, (int64_t)2),
          { 9, 12, 27, 30 } },
        { OP_REDUCEMEAN, ax1, 1, 1, shape_of(3, (int64_t)2, (int64_t)1, (int64_t)2),
          { 3, 4, 9, 10 } },
        { OP_REDUCEMAX, ax1, 1, 1, shape_of(3, (int64_t)2, (int64_t)1, (int64_t)2),
          { 5, 6, 11, 12 } },
        { OP_REDUCESUM, axm1, 1, 0, shape_of(2, (int64_t)2, (int64_t)3),
          { 3, 7, 11, 15, 19, 23 } },
        { OP_REDUCEMEAN, axm1, 1, 1, shape_of(3, (int64_t)2, (int64_t)3, (int64_t)1),
          { 1.5f, 3.5f, 5.5f, 7.5f, 9.5f, 11.5f } },
        { OP_REDUCEMAX, axm1, 1, 0, shape_of(2, (int64_t)2, (int64_t)3), { 2, 4, 6, 8, 10, 12 } },
        { OP_REDUCESUM, ax12, 2, 0, shape_of(1, (int64_t)2), { 21, 57 } },
        { OP_REDUCEMEAN, ax12, 2, 1, shape_of(3, (int64_t)2, (int64_t)1, (int64_t)1),
          { 3.5f, 9.5f } },
        { OP_REDUCEMAX, ax12, 2, 1, shape_of(3, (int64_t)2, (int64_t)1, (int64_t)1), { 6, 12 } },
    };
    for (int c = 0; c < NELEM(cases); c++) {
        Attr a[2] = { attr_ints("axes", cases[c].axes, cases[c].n_axes),
                      attr_int("keepdims", cases[c].keepdims) };
        char label[64];
        snprintf(label, sizeof label, "%s case %d", op_table[cases[c].op]->name, c);
        if (CHECK_OK(op_run(cases[c].op, a, 2, &in, 1, &y, &err), &err) &&
            expect_shape(label, y, cases[c].shape))
            expect_close(label, tensor_f32(y), cases[c].want,
                         (size_t)shape_numel(&cases[c].shape), 0, 0);
        tensor_free(y);
        attrs_release(a, 2);
    }
    {
        /* keepdims defaults to 1; a single int "axes" is accepted too. */
        Attr a[1] = { attr_int("axes", 1) };
        if (CHECK_OK(op_run(OP_REDUCESUM, a, 1, &in, 1, &y, &err), &err))
            expect_shape("reducesum default keepdims", y,
                         shape_of(3, (int64_t)2, (int64_t)1, (int64_t)2));
        tensor_free(y);
        attrs_release(a, 1);
    }
    {
        /* noop_with_empty_axes=1 and no axes: identity. */
        Attr a[1] = { attr_int("noop_with_empty_axes", 1) };
        if (CHECK_OK(op_run(OP_REDUCEMEAN, a, 1, &in, 1, &y, &err), &err) &&
            expect_shape("reduce noop", y, s))
            expect_close("reduce noop data", tensor_f32(y), x, 12, 0, 0);
        tensor_free(y);
        attrs_release(a, 1);
    }
    {
        /* ReduceMax propagates NaN wherever it sits in the reduced run. */
        float xn[12];
        memcpy(xn, x, sizeof xn);
        xn[0] = NAN; /* n0, p0, h0: first of its column */
        xn[9] = NAN; /* n1, p1, h1: middle of its column */
        TIn inn = { s, xn, false };
        Attr a[2] = { attr_ints("axes", ax1, 1), attr_int("keepdims", 0) };
        if (CHECK_OK(op_run(OP_REDUCEMAX, a, 2, &inn, 1, &y, &err), &err)) {
            const float *v = tensor_f32(y);
            CHECK(isnan(v[0]) && v[1] == 6 && v[2] == 11 && isnan(v[3]));
        }
        tensor_free(y);
        attrs_release(a, 2);
        Attr b[1] = { attr_ints("axes", ax12, 2) };
        if (CHECK_OK(op_run(OP_REDUCEMAX, b, 1, &inn, 1, &y, &err), &err)) {
            const float *v = tensor_f32(y);
            CHECK(isnan(v[0]) && isnan(v[1]));
        }
        tensor_free(y);
        attrs_release(b, 1);
    }
    {
        /* Sums accumulate in double: 1e8 + 1 - 1e8 + ... would lose the ones in float. */
        const float xs[8] = { 1e8f, 1, 1, 1, -1e8f, 1, 1, 1 };
        TIn ins = { shape_of(2, (int64_t)1, (int64_t)8), xs, false };
        Attr a[2] = { attr_ints("axes", ax1, 1), attr_int("keepdims", 0) };
        if (CHECK_OK(op_run(OP_REDUCESUM, a, 2, &ins, 1, &y, &err), &err))
            CHECK(tensor_f32(y)[0] == 6.0f);
        tensor_free(y);
        attrs_release(a, 2);
    }
    {
        Attr a[1] = { attr_ints("axes", ax0, 1) };
        check_fails("reduce batch axis", OP_REDUCEMEAN, "pool", a, 1, &in, 1, QS_ESHAPE,
                    "ReduceMean 'pool': cannot reduce the batch axis 0");
        attrs_release(a, 1);
        check_fails("reduce without axes", OP_REDUCESUM, "rs", NULL, 0, &in, 1, QS_ESHAPE,
                    "ReduceSum 'rs': no axes given, which reduces every axis including the "
                    "batch axis 0");
        Attr e[1] = { attr_ints("axes", ax1, 0) };
        check_fails("reduce empty axes", OP_REDUCEMAX, "rm", e, 1, &in, 1, QS_ESHAPE,
                    "no axes given");
        attrs_release(e, 1);
        Attr b[1] = { attr_ints("axes", ax11, 2) };
        check_fails("reduce repeated axis", OP_REDUCESUM, "rs", b, 1, &in, 1, QS_ESHAPE,
                    "axis 1 is given twice");
        attrs_release(b, 1);
        Attr c[1] = { attr_ints("axes", ax3, 1) };
        check_fails("reduce axis out of range", OP_REDUCESUM, "rs", c, 1, &in, 1, QS_ESHAPE,
                    "ReduceSum 'rs': axis 3 out of range for rank 3");
        attrs_release(c, 1);
        Attr d[2] = { attr_ints("axes", ax1, 1), attr_int("keepdims", 2) };
        check_fails("reduce bad keepdims", OP_REDUCESUM, "rs", d, 2, &in, 1, QS_EINVAL,
                    "keepdims and noop_with_empty_axes must be 0 or 1");
        attrs_release(d, 2);
    }
    {
        /* Calling the table row directly, with the scratch its scratch() asks for. */
        const OpDef *def = op_table[OP_REDUCEMEAN];
        Node node = { .op = OP_REDUCEMEAN, .name = "direct" };
        Attr a[2] = { attr_ints("axes", ax12, 2), attr_int("keepdims", 0) };
        node.attrs = a;
        node.n_attrs = 2;
        const Shape *ins[1] = { &s };
        Shape so = { 0 };
        if (CHECK_OK(def->infer(&node, ins, &so, &err), &err)) {
            CHECK(so.ndim == 1 && so.dim[0] == 2);
            size_t bytes = def->scratch(&node, ins, &so);
            CHECK(bytes >= 2 * sizeof(double));
            double scratch[2];
            float out[2];
            Tensor tx = tensor_view(DT_F32, s, x), ty = tensor_view(DT_F32, so, out);
            const Tensor *tin[1] = { &tx };
            RunCtx rc = { .scratch = scratch, .scratch_bytes = sizeof scratch };
            def->forward(&node, tin, &ty, &rc);
            const float want[2] = { 3.5f, 9.5f };
            expect_close("reducemean direct", out, want, 2, 0, 0);
        }
        attrs_release(a, 2);
    }
}

/* ---- other infer failures ---- */

static void test_attr_failures(void)
{
    const float x[4] = { 0 };
    TIn in = { shape_of(2, (int64_t)1, (int64_t)4), x, false };
    Attr a[2] = { attr_float("min", 6), attr_float("max", 0) };
    check_fails("clip min > max", OP_CLIP, "c", a, 2, &in, 1, QS_EINVAL,
                "Clip 'c': min 6 is greater than max 0");
    attrs_release(a, 2);
    Attr b[1] = { attr_float("min", NAN) };
    check_fails("clip NaN", OP_CLIP, "c", b, 1, &in, 1, QS_EINVAL, "must not be NaN");
    attrs_release(b, 1);
    Attr c[1] = { attr_str("approximate", "fast") };
    check_fails("gelu mode", OP_GELU, "g", c, 1, &in, 1, QS_EINVAL,
                "Gelu 'g': approximate=\"fast\", expected \"none\" or \"tanh\"");
    attrs_release(c, 1);
    Attr d[1] = { attr_float("ratio", 1.5f) };
    check_fails("dropout ratio", OP_DROPOUT, "d", d, 1, &in, 1, QS_EINVAL,
                "Dropout 'd': ratio 1.5 is outside [0, 1)");
    attrs_release(d, 1);
    Attr e[1] = { attr_float("alpha", INFINITY) };
    check_fails("leakyrelu alpha", OP_LEAKYRELU, "l", e, 1, &in, 1, QS_EINVAL,
                "LeakyRelu 'l': alpha inf is not finite");
    attrs_release(e, 1);
    TIn two[2] = { in, in };
    check_fails("relu two inputs", OP_RELU, "r", NULL, 0, two, 2, QS_EFORMAT,
                "Relu 'r': 2 inputs, expected 1 to 1");
}

/* ---- the op table ---- */

static void test_op_table(void)
{
    for (int i = 0; i < OP_COUNT; i++) {
        const OpDef *d = op_table[i];
        if (!CHECK(d != NULL))
            continue;
        bool ok = d->name && d->infer && d->forward && d->min_in >= 0 &&
                  d->min_in <= d->max_in && d->max_in <= 64;
        if (!ok)
            fprintf(stderr, "op_table[%d] (%s) is incomplete\n", i, d->name ? d->name : "?");
        CHECK(ok);
        if (d->name) {
            int found = op_find(d->name);
            if (found != i)
                fprintf(stderr, "op_find(\"%s\") = %d, want %d\n", d->name, found, i);
            CHECK(found == i);
        }
    }
    CHECK(op_find("NoSuchOp") == -1);
    CHECK(op_find("Relu") == OP_RELU && op_find("ReduceMean") == OP_REDUCEMEAN);
}

/* ---- PyTorch fixtures ---- */

static bool fixture_attrs(const cJSON *list, Attr *attrs, int *n, int max)
{
    *n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *nm = cJSON_GetArrayItem(it, 0), *ty = cJSON_GetArrayItem(it, 1),
                    *v = cJSON_GetArrayItem(it, 2);
        if (*n >= max || !cJSON_IsString(nm) || !cJSON_IsString(ty) || !v)
            return false;
        const char *t = ty->valuestring;
        if (strcmp(t, "int") == 0 && cJSON_IsNumber(v)) {
            attrs[(*n)++] = attr_int(nm->valuestring, (int64_t)v->valuedouble);
        } else if (strcmp(t, "float") == 0 && cJSON_IsNumber(v)) {
            attrs[(*n)++] = attr_float(nm->valuestring, (float)v->valuedouble);
        } else if (strcmp(t, "string") == 0 && cJSON_IsString(v)) {
            attrs[(*n)++] = attr_str(nm->valuestring, v->valuestring);
        } else if (strcmp(t, "ints") == 0 && cJSON_IsArray(v)) {
            int64_t vals[QS_MAX_DIMS];
            int k = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, v)
            {
                if (k >= QS_MAX_DIMS)
                    return false;
                vals[k++] = (int64_t)e->valuedouble;
            }
            attrs[(*n)++] = attr_ints(nm->valuestring, vals, k);
        } else {
            return false;
        }
    }
    return true;
}

static void test_fixtures(void)
{
    const char *path = "tests/fixtures/ops_elementwise/manifest.json";
    QsError err = { 0 };
    void *buf = NULL;
    size_t len = 0;
    if (!CHECK_OK(fileio_read(path, &buf, &len, &err), &err))
        return;
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    if (!CHECK(cJSON_IsArray(cases) && cJSON_GetArraySize(cases) >= 20)) {
        cJSON_Delete(root);
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *opn = cJSON_GetObjectItemCaseSensitive(c, "op");
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(c, "inputs");
        const cJSON *outf = cJSON_GetObjectItemCaseSensitive(c, "output");
        const cJSON *atol = cJSON_GetObjectItemCaseSensitive(c, "atol");
        const cJSON *rtol = cJSON_GetObjectItemCaseSensitive(c, "rtol");
        if (!CHECK(cJSON_IsString(name) && cJSON_IsString(opn) && cJSON_IsArray(ins) &&
                   cJSON_IsString(outf) && cJSON_IsNumber(atol) && cJSON_IsNumber(rtol) &&
                   cJSON_GetArraySize(ins) >= 1 && cJSON_GetArraySize(ins) <= 4))
            continue;
        int op = op_find(opn->valuestring);
        if (!CHECK(op >= 0))
            continue;
        Attr attrs[8];
        int n_attrs = 0;
        if (!CHECK(fixture_attrs(cJSON_GetObjectItemCaseSensitive(c, "attrs"), attrs, &n_attrs,
                                 8))) {
            attrs_release(attrs, n_attrs);
            continue;
        }
        Tensor *loaded[4] = { NULL };
        TIn tin[4];
        int n_in = 0;
        const cJSON *in;
        char rel[256];
        cJSON_ArrayForEach(in, ins)
        {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(in, "file");
            snprintf(rel, sizeof rel, "ops_elementwise/%s",
                     cJSON_IsString(f) ? f->valuestring : "?");
            loaded[n_in] = test_load_npy(rel);
            tin[n_in] = (TIn){ loaded[n_in]->shape, tensor_f32(loaded[n_in]),
                               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "const")) };
            n_in++;
        }
        snprintf(rel, sizeof rel, "ops_elementwise/%s", outf->valuestring);
        Tensor *want = test_load_npy(rel);
        Tensor *y = NULL;
        char label[96];
        snprintf(label, sizeof label, "fixture %s", name->valuestring);
        if (CHECK_OK(op_run_named(op, name->valuestring, attrs, n_attrs, tin, n_in, false, &y,
                                  &err), &err) &&
            expect_shape(label, y, want->shape)) {
            CHECK(all_finite(tensor_f32(y), tensor_numel(y)));
            expect_close(label, tensor_f32(y), tensor_f32(want), (size_t)tensor_numel(want),
                         atol->valuedouble, rtol->valuedouble);
        }
        tensor_free(y);
        tensor_free(want);
        for (int i = 0; i < n_in; i++)
            tensor_free(loaded[i]);
        attrs_release(attrs, n_attrs);
    }
    cJSON_Delete(root);
}

int main(void)
{
    test_op_table();
    test_activations_exact();
    test_activations_smooth();
    test_activations_saturation();
    test_softmax();
    test_flatten_reshape();
    test_transpose();
    test_concat();
    test_binary();
    test_reduce();
    test_attr_failures();
    test_fixtures();
    return test_summary("ops_elementwise");
}
