/* Gemm, Dense, MatMul, Conv, MaxPool, AveragePool, GlobalAveragePool and
 * BatchNormalization: hand-computed cases with exact values, infer failures, one direct
 * call through the op table with an exactly sized scratch buffer, and PyTorch reference
 * fixtures (scripts/fixtures/gen_ops_linear.py) driven by their manifest. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "graph/graph.h"
#include "kern/sgemm.h"
#include "kern/simd.h"
#include "ops/op.h"
#include "run/run.h"
#include "test_util.h"

#define SHP(...)                                                                             \
    shape_make((int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)),                 \
               (int64_t[]){ __VA_ARGS__ })
#define INTS(name, ...)                                                                      \
    attr_ints(name, (int64_t[]){ __VA_ARGS__ },                                             \
              (int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)))
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One operand of a one-node test graph. Operand 0 is the graph input (dim 0 is the batch);
 * the others become constants. data NULL means an omitted optional input. */
typedef struct {
    Shape shape;
    const float *data;
} Operand;

/* Data for operands whose values do not matter (infer failures). */
static const float Z[4096];

static void release_attrs(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

static QsStatus build_one(Graph *g, int op, const Operand *ops, int n_ops, const Attr *attrs,
                          int n_attrs, QsError *err)
{
    char names[8][16];
    const char *in[8];
    graph_init(g);
    Shape sample = { .ndim = ops[0].shape.ndim - 1 };
    for (int i = 1; i < ops[0].shape.ndim; i++)
        sample.dim[i - 1] = ops[0].shape.dim[i];
    if (graph_add_input(g, "x", &sample, err))
        return err->code;
    in[0] = "x";
    for (int i = 1; i < n_ops; i++) {
        if (!ops[i].data) {
            in[i] = "";
            continue;
        }
        snprintf(names[i], sizeof names[i], "in%d", i);
        in[i] = names[i];
        Tensor *t = tensor_new(DT_F32, ops[i].shape, err);
        if (!t)
            return err->code;
        memcpy(t->data, ops[i].data, tensor_bytes(t));
        if (graph_add_const(g, names[i], t, true, err))
            return err->code;
    }
    if (graph_add_node(g, op, "node", in, n_ops, "y", attrs, n_attrs, err) ||
        graph_add_output(g, "y", err) || graph_finalize(g, err))
        return err->code;
    return QS_OK;
}

/* Calls infer and forward straight through the table on the operands' exact shapes, with a
 * scratch buffer of exactly the requested size (ASan catches an overrun) and the output
 * pre-filled with NaN (an element forward never writes cannot match). */
static void check_direct(const char *label, int op, const Operand *ops, int n_ops,
                         const Attr *attrs, int n_attrs, Shape want_shape, const float *want,
                         double atol, double rtol, bool training)
{
    Node n = { .op = op, .name = (char *)"node", .n_in = n_ops, .n_attrs = n_attrs,
               .attrs = (Attr *)attrs };
    const Shape *in_s[8];
    Tensor in_t[8];
    const Tensor *in_p[8];
    for (int i = 0; i < n_ops; i++) {
        in_s[i] = ops[i].data ? &ops[i].shape : NULL;
        in_t[i] = tensor_view(DT_F32, ops[i].shape, (void *)ops[i].data);
        in_p[i] = ops[i].data ? &in_t[i] : NULL;
    }
    Shape out;
    QsError err = { 0 };
    char a[96], b[96];
    if (!CHECK_OK(op_table[op]->infer(&n, in_s, &out, &err), &err)) {
        fprintf(stderr, "  in case %s\n", label);
        return;
    }
    if (!CHECK(shape_equal(&out, &want_shape))) {
        fprintf(stderr, "  %s: output shape %s, want %s\n", label, shape_format(&out, a, sizeof a),
                shape_format(&want_shape, b, sizeof b));
        return;
    }
    size_t bytes = op_table[op]->scratch ? op_table[op]->scratch(&n, in_s, &out) : 0;
    RunCtx rc = { .scratch = bytes ? malloc(bytes) : NULL, .scratch_bytes = bytes,
                  .training = training };
    Tensor *y = tensor_new(DT_F32, out, &err);
    for (int64_t i = 0; i < shape_numel(&out); i++)
        tensor_f32(y)[i] = NAN;
    op_table[op]->forward(&n, in_p, y, &rc);
    char lab[128];
    snprintf(lab, sizeof lab, "%s (direct)", label);
    expect_close(lab, tensor_f32(y), want, (size_t)shape_numel(&out), atol, rtol);
    tensor_free(y);
    free(rc.scratch);
}

/* Runs the one-node graph (operand 0's dim 0 is the batch) through run_forward. */
static void check_graph(const char *label, int op, const Operand *ops, int n_ops,
                        const Attr *attrs, int n_attrs, Shape want_shape, const float *want,
                        double atol, double rtol, bool training)
{
    Graph g;
    QsError err = { 0 };
    if (!CHECK_OK(build_one(&g, op, ops, n_ops, attrs, n_attrs, &err), &err)) {
        fprintf(stderr, "  in case %s\n", label);
        graph_release(&g);
        return;
    }
    Run r;
    run_init(&r, &g);
    r.training = training;
    Tensor x = tensor_view(DT_F32, ops[0].shape, (void *)ops[0].data);
    const Tensor *xs[1] = { &x };
    if (CHECK_OK(run_forward(&r, xs, NULL, NULL, &err), &err)) {
        const Tensor *y = run_output(&r, 0);
        char a[96], b[96];
        if (!CHECK(shape_equal(&y->shape, &want_shape)))
            fprintf(stderr, "  %s: output shape %s, want %s\n", label,
                    shape_format(&y->shape, a, sizeof a), shape_format(&want_shape, b, sizeof b));
        else
            expect_close(label, tensor_f32(y), want, (size_t)shape_numel(&want_shape), atol, rtol);
    }
    run_release(&r);
    graph_release(&g);
}

static void check_op_mode(const char *label, int op, const Operand *ops, int n_ops,
                          const Attr *attrs, int n_attrs, Shape want_shape, const float *want,
                          double atol, double rtol, bool training)
{
    check_direct(label, op, ops, n_ops, attrs, n_attrs, want_shape, want, atol, rtol, training);
    check_graph(label, op, ops, n_ops, attrs, n_attrs, want_shape, want, atol, rtol, training);
}

/* Exact unless atol says otherwise: every hand case below is integer- or dyadic-valued. */
static void check_op(const char *label, int op, const Operand *ops, int n_ops, const Attr *attrs,
                     int n_attrs, Shape want_shape, const float *want)
{
    check_op_mode(label, op, ops, n_ops, attrs, n_attrs, want_shape, want, 0.0, 0.0, false);
}

/* For operands whose dim 0 is not a batch (Gemm's transA, 1-D MatMul): no graph run. */
static void check_op_direct(const char *label, int op, const Operand *ops, int n_ops,
                            const Attr *attrs, int n_attrs, Shape want_shape, const float *want)
{
    check_direct(label, op, ops, n_ops, attrs, n_attrs, want_shape, want, 0.0, 0.0, false);
}

/* Infer on the operands' exact shapes must fail with `code` and a message containing
 * `needle`. */
static void check_fails(const char *label, int op, const Operand *ops, int n_ops,
                        const Attr *attrs, int n_attrs, QsStatus code, const char *needle)
{
    Node n = { .op = op, .name = (char *)"node", .n_in = n_ops, .n_attrs = n_attrs,
               .attrs = (Attr *)attrs };
    const Shape *in_s[8];
    for (int i = 0; i < n_ops; i++)
        in_s[i] = ops[i].data ? &ops[i].shape : NULL;
    Shape out;
    QsError err = { 0 };
    expect_error(label, op_table[op]->infer(&n, in_s, &out, &err), &err, code, needle);
}

static void test_table_rows(void)
{
    static const struct { int op; const char *name; int min_in, max_in; } rows[] = {
        { OP_GEMM, "Gemm", 2, 3 },
        { OP_DENSE, "Dense", 2, 3 },
        { OP_MATMUL, "MatMul", 2, 2 },
        { OP_CONV, "Conv", 2, 3 },
        { OP_MAXPOOL, "MaxPool", 1, 1 },
        { OP_AVGPOOL, "AveragePool", 1, 1 },
        { OP_GLOBALAVGPOOL, "GlobalAveragePool", 1, 1 },
        { OP_BATCHNORM, "BatchNormalization", 5, 5 },
    };
    for (int i = 0; i < COUNT(rows); i++) {
        const OpDef *d = op_table[rows[i].op];
        CHECK(d && d->infer && d->forward);
        CHECK(op_find(rows[i].name) == rows[i].op);
        CHECK(d->min_in == rows[i].min_in && d->max_in == rows[i].max_in);
    }
    CHECK(op_table[OP_CONV]->scratch != NULL);
}

/* ---- Conv --------------------------------------------------------------------------- */

/* x = 1..16 as (1, 1, 4, 4); kernels: all ones, and an asymmetric one that catches a
 * flipped (true convolution) or transposed kernel:
 *   y[i][j] = x[i-1][j-1] + 2 x[i-1][j] - x[i+1][j+1]. */
static const float X16[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const float K3[18] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0, 0, -1 };

static void test_conv_hand(void)
{
    {   /* 1x1 (pointwise path), batch 2 so per-sample offsets matter. */
        const float x[16] = { 1, 2, 3, 4, 5, 6, 7, 8, /* sample 1: */ 10, 11, 12, 13, 14, 15,
                              16, 17 };
        const float w[6] = { 1, 0, 0, 1, 1, -1 }, b[3] = { 0.5f, 0, -1 };
        const float want[24] = { 1.5f, 2.5f, 3.5f, 4.5f, 5, 6, 7, 8, -5, -5, -5, -5,
                                 10.5f, 11.5f, 12.5f, 13.5f, 14, 15, 16, 17, -5, -5, -5, -5 };
        Operand ops[3] = { { SHP(2, 2, 2, 2), x }, { SHP(3, 2, 1, 1), w }, { SHP(3), b } };
        check_op("conv 1x1", OP_CONV, ops, 3, NULL, 0, SHP(2, 3, 2, 2), want);
    }
    {   /* 3x3, pads 1 on a 4x4 input (im2col path). */
        const float want[32] = { 14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54,
                                 -6, -7, -8, 0, -8, -6, -4, 11, -4, 2, 4, 23, 18, 29, 32, 35 };
        Attr at[2] = { INTS("pads", 1, 1, 1, 1), INTS("kernel_shape", 3, 3) };
        Operand ops[3] = { { SHP(1, 1, 4, 4), X16 }, { SHP(2, 1, 3, 3), K3 }, { SHP(2), NULL } };
        check_op("conv 3x3 pad 1", OP_CONV, ops, 3, at, 2, SHP(1, 2, 4, 4), want);
        release_attrs(at, 2);
    }
    {   /* The same with stride 2 keeps rows and columns 0 and 2. */
        const float want[8] = { 14, 30, 57, 99, -6, -8, -4, 4 };
        Attr at[2] = { INTS("pads", 1, 1, 1, 1), INTS("strides", 2, 2) };
        Operand ops[2] = { { SHP(1, 1, 4, 4), X16 }, { SHP(2, 1, 3, 3), K3 } };
        check_op("conv 3x3 stride 2", OP_CONV, ops, 2, at, 2, SHP(1, 2, 2, 2), want);
        release_attrs(at, 2);
    }
    {   /* Asymmetric pads (ONNX order: top, left, bottom, right) = (1, 0, 0, 2) with
         * stride (1, 3) and single-tap 2x2 kernels. Output (4, 2): the window at (oh, ow)
         * spans padded rows oh-1..oh and columns 3ow..3ow+1, so
         *   bottom-left  reads x[oh][3ow]     -> columns 0 and 3;
         *   bottom-right reads x[oh][3ow + 1] -> column 1, then column 4 = right padding;
         *   top-left     reads x[oh - 1][3ow] -> row -1 = top padding first. */
        const float w[12] = { 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0 };
        const float want[24] = { 1, 4, 5, 8, 9, 12, 13, 16, 2, 0, 6, 0, 10, 0, 14, 0,
                                 0, 0, 1, 4, 5, 8, 9, 12 };
        Attr at[2] = { INTS("pads", 1, 0, 0, 2), INTS("strides", 1, 3) };
        Operand ops[2] = { { SHP(1, 1, 4, 4), X16 }, { SHP(3, 1, 2, 2), w } };
        check_op("conv asymmetric pads", OP_CONV, ops, 2, at, 2, SHP(1, 3, 4, 2), want);
        release_attrs(at, 2);
    }
    {   /* Depthwise (group == C, multiplier 2), no pads: direct loop. */
        const float x[18] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18 };
        const float w[16] = { 1, 0, 0, 0, /* top-left */ 0, 0, 0, 1, /* bottom-right */
                              1, 1, 1, 1, /* sum */ 1, -1, 0, 0 /* x[i][j] - x[i][j+1] */ };
        const float want[16] = { 1, 2, 4, 5, 5, 6, 8, 9, 48, 52, 60, 64, -1, -1, -1, -1 };
        Attr at[1] = { attr_int("group", 2) };
        Operand ops[2] = { { SHP(1, 2, 3, 3), x }, { SHP(4, 1, 2, 2), w } };
        check_op("conv depthwise", OP_CONV, ops, 2, at, 1, SHP(1, 4, 2, 2), want);
        /* Pads 1 and stride 2: windows start at (-1,-1), (-1,1), (1,-1), (1,1). */
        const float want_p[16] = { 0, 0, 0, 5, 1, 3, 7, 9, 10, 23, 29, 64, 0, 0, -13, -1 };
        const float b[4] = { 0, 0, 0, 0 };
        Attr at2[3] = { attr_int("group", 2), INTS("pads", 1, 1, 1, 1), INTS("strides", 2, 2) };
        Operand ops2[3] = { { SHP(1, 2, 3, 3), x }, { SHP(4, 1, 2, 2), w }, { SHP(4), b } };
        check_op("conv depthwise pad stride", OP_CONV, ops2, 3, at2, 3, SHP(1, 4, 2, 2), want_p);
        release_attrs(at, 1);
        release_attrs(at2, 3);
    }
    {   /* Groups 2 with 2 channels each: 1x1 (pointwise path), then padded (im2col). */
        const float x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }; /* (1, 4, 1, 2) */
        const float w[4] = { 1, 1, 1, -1 };             /* (2, 2, 1, 1) */
        const float want[4] = { 4, 6, -2, -2 };
        Attr at[1] = { attr_int("group", 2) };
        Operand ops[2] = { { SHP(1, 4, 1, 2), x }, { SHP(2, 2, 1, 1), w } };
        check_op("conv grouped 1x1", OP_CONV, ops, 2, at, 1, SHP(1, 2, 1, 2), want);
        const float want_p[8] = { 0, 4, 6, 0, 0, -2, -2, 0 };
        Attr at2[2] = { attr_int("group", 2), INTS("pads", 0, 1, 0, 1) };
        check_op("conv grouped padded", OP_CONV, ops, 2, at2, 2, SHP(1, 2, 1, 4), want_p);
        release_attrs(at, 1);
        release_attrs(at2, 2);
    }
    {   /* 1-D: padded [0 1 2 3 4 5 0], kernel [1 0 -1], stride 2. */
        const float x[5] = { 1, 2, 3, 4, 5 }, w[3] = { 1, 0, -1 };
        const float want[3] = { -2, -2, 4 };
        Attr at[2] = { INTS("pads", 1, 1), INTS("strides", 2) };
        Operand ops[2] = { { SHP(1, 1, 5), x }, { SHP(1, 1, 3), w } };
        check_op("conv1d stride pad", OP_CONV, ops, 2, at, 2, SHP(1, 1, 3), want);
        /* Dilation 2: one window x0 - x4. */
        const float want_d[1] = { -4 };
        Attr at2[1] = { INTS("dilations", 2) };
        check_op("conv1d dilation", OP_CONV, ops, 2, at2, 1, SHP(1, 1, 1), want_d);
        release_attrs(at, 2);
        release_attrs(at2, 1);
    }
}

/* Forward called straight through the table, with a scratch buffer of exactly the size the
 * op asked for (ASan catches any overrun) and batch 2. */
static void test_conv_direct(void)
{
    Attr at[2] = { INTS("pads", 1, 1, 1, 1), INTS("strides", 2, 1) };
    Node n = { .op = OP_CONV, .name = "direct", .n_in = 3, .n_attrs = 2, .attrs = at };
    float x[32], b[2] = { 1, -1 };
    for (int i = 0; i < 16; i++)
        x[i] = X16[i], x[16 + i] = 2 * X16[i];
    Shape xs = SHP(2, 1, 4, 4), ws = SHP(2, 1, 3, 3), bs = SHP(2), out;
    const Shape *in_s[3] = { &xs, &ws, &bs };
    QsError err = { 0 };
    if (CHECK_OK(op_table[OP_CONV]->infer(&n, in_s, &out, &err), &err)) {
        Shape want_s = SHP(2, 2, 2, 4);
        CHECK(shape_equal(&out, &want_s));
        size_t bytes = op_table[OP_CONV]->scratch(&n, in_s, &out);
        /* (C/g KH KW + OC/g, N OH OW) = (9 + 2, 2 * 2 * 4): the column and output panels
         * (rounded up to 64 bytes), then the weights packed for sgemm, then three
         * coefficients per output channel for a fused BatchNormalization */
        CHECK(bytes == (9 + 2) * 16 * sizeof(float) + sgemm_pack_a_bytes(2, 9) +
                           3 * 2 * sizeof(float));
        RunCtx rc = { .scratch = malloc(bytes), .scratch_bytes = bytes };
        Tensor xt = tensor_view(DT_F32, xs, x), wt = tensor_view(DT_F32, ws, (void *)K3);
        Tensor bt = tensor_view(DT_F32, bs, b);
        Tensor *yt = tensor_new(DT_F32, out, &err);
        const Tensor *in_t[3] = { &xt, &wt, &bt };
        op_table[OP_CONV]->forward(&n, in_t, yt, &rc);
        /* Rows 0 and 2 of the stride-1 result, plus bias; sample 1 is 2 (y - b) + b. */
        const float want[32] = { 15, 25, 31, 23, 58, 91, 100, 70, -7, -8, -9, -1, -5, 1, 3, 22,
                                 29, 49, 61, 45, 115, 181, 199, 139, -13, -15, -17, -1, -9, 3,
                                 7, 45 };
        expect_close("conv direct", tensor_f32(yt), want, 32, 0, 0);
        tensor_free(yt);
        free(rc.scratch);
    }
    release_attrs(at, 2);
}

static void test_conv_errors(void)
{
    Operand ok[3] = { { SHP(1, 4, 5, 5), Z }, { SHP(6, 4, 3, 3), Z }, { SHP(6), Z } };
    Operand wc[2] = { { SHP(1, 4, 5, 5), Z }, { SHP(6, 3, 3, 3), Z } };
    check_fails("conv channels", OP_CONV, wc, 2, NULL, 0, QS_ESHAPE,
                "Conv 'node': weight has 3 input channels per group, input has 4");
    Attr g2[1] = { attr_int("group", 2) };
    check_fails("conv channels per group", OP_CONV, ok, 2, g2, 1, QS_ESHAPE,
                "weight has 4 input channels per group, input has 2 (4 channels in 2 groups)");
    Attr g3[1] = { attr_int("group", 3) };
    check_fails("conv group divides C", OP_CONV, ok, 2, g3, 1, QS_EINVAL,
                "group 3 does not divide the 4 input channels");
    Operand oc[2] = { { SHP(1, 4, 5, 5), Z }, { SHP(5, 2, 3, 3), Z } };
    check_fails("conv group divides OC", OP_CONV, oc, 2, g2, 1, QS_ESHAPE,
                "5 output channels, not divisible by group 2");
    Operand bb[3] = { { SHP(1, 4, 5, 5), Z }, { SHP(6, 4, 3, 3), Z }, { SHP(5), Z } };
    check_fails("conv bias", OP_CONV, bb, 3, NULL, 0, QS_ESHAPE, "bias has shape (5), expected (6)");
    Attr ap[1] = { attr_str("auto_pad", "SAME_UPPER") };
    check_fails("conv auto_pad", OP_CONV, ok, 3, ap, 1, QS_EUNSUPPORTED,
                "auto_pad=SAME_UPPER is not supported");
    Operand big[2] = { { SHP(1, 4, 2, 5), Z }, { SHP(6, 4, 3, 3), Z } };
    check_fails("conv kernel > input", OP_CONV, big, 2, NULL, 0, QS_ESHAPE,
                "kernel extent 3 (kernel 3, dilation 1) exceeds the padded input 2 along axis 2");
    Attr dl[1] = { INTS("dilations", 1, 2) };
    Operand dil[2] = { { SHP(1, 4, 5, 4), Z }, { SHP(6, 4, 3, 3), Z } };
    check_fails("conv dilated kernel > input", OP_CONV, dil, 2, dl, 1, QS_ESHAPE,
                "kernel extent 5 (kernel 3, dilation 2) exceeds the padded input 4 along axis 3");
    Attr st[1] = { INTS("strides", 1, 0) };
    check_fails("conv stride 0", OP_CONV, ok, 3, st, 1, QS_EINVAL, "strides[1] = 0");
    Attr d0[1] = { INTS("dilations", 0, 1) };
    check_fails("conv dilation 0", OP_CONV, ok, 3, d0, 1, QS_EINVAL, "dilations[0] = 0");
    Attr pn[1] = { INTS("pads", 0, -1, 0, 0) };
    check_fails("conv negative pad", OP_CONV, ok, 3, pn, 1, QS_EINVAL, "pads[1] = -1");
    Attr p3[1] = { INTS("pads", 1, 1) };
    check_fails("conv pads count", OP_CONV, ok, 3, p3, 1, QS_EFORMAT, "pads has 2 values, expected 4");
    Attr ks[1] = { INTS("kernel_shape", 3, 2) };
    check_fails("conv kernel_shape", OP_CONV, ok, 3, ks, 1, QS_ESHAPE,
                "kernel_shape does not match weight (6, 4, 3, 3)");
    Operand r5[2] = { { SHP(1, 4, 5, 5, 5), Z }, { SHP(6, 4, 3, 3, 3), Z } };
    check_fails("conv rank", OP_CONV, r5, 2, NULL, 0, QS_ESHAPE, "expected rank 3 to 4");
    Operand wr[2] = { { SHP(1, 4, 5, 5), Z }, { SHP(6, 4, 3), Z } };
    check_fails("conv weight rank", OP_CONV, wr, 2, NULL, 0, QS_ESHAPE,
                "weight has shape (6, 4, 3), expected rank 4");
    Operand nw[2] = { { SHP(1, 4, 5, 5), Z }, { SHP(6, 4, 3, 3), NULL } };
    check_fails("conv missing W", OP_CONV, nw, 2, NULL, 0, QS_EFORMAT, "input W is required");
    release_attrs(g2, 1);
    release_attrs(g3, 1);
    release_attrs(ap, 1);
    release_attrs(dl, 1);
    release_attrs(st, 1);
    release_attrs(d0, 1);
    release_attrs(pn, 1);
    release_attrs(p3, 1);
    release_attrs(ks, 1);
}

/* ---- Pooling ------------------------------------------------------------------------ */

static void test_pool_hand(void)
{
    float x25[25];
    for (int i = 0; i < 25; i++)
        x25[i] = (float)(i + 1);
    {   /* 5x5, kernel 2, stride 2: ceil_mode adds the partial last row and column. */
        const float want_c[9] = { 7, 9, 10, 17, 19, 20, 22, 24, 25 }, want_f[4] = { 7, 9, 17, 19 };
        Attr at[3] = { INTS("kernel_shape", 2, 2), INTS("strides", 2, 2), attr_int("ceil_mode", 1) };
        Operand ops[1] = { { SHP(1, 1, 5, 5), x25 } };
        check_op("maxpool ceil_mode", OP_MAXPOOL, ops, 1, at, 3, SHP(1, 1, 3, 3), want_c);
        check_op("maxpool floor", OP_MAXPOOL, ops, 1, at, 2, SHP(1, 1, 2, 2), want_f);
        release_attrs(at, 3);
    }
    {   /* ceil_mode's extra window would start in the end padding: dropped (PyTorch), so
         * 2 outputs where ONNX's bare formula says ceil(3 / 2) + 1 = 3. */
        const float x[3] = { 1, 2, 3 }, want[2] = { 1, 3 };
        Attr at[4] = { INTS("kernel_shape", 2), INTS("strides", 2), INTS("pads", 1, 1),
                       attr_int("ceil_mode", 1) };
        Operand ops[1] = { { SHP(1, 1, 3), x } };
        check_op("maxpool ceil drops padded window", OP_MAXPOOL, ops, 1, at, 4, SHP(1, 1, 2), want);
        release_attrs(at, 4);
    }
    {   /* Padding never wins a max, even over negative values. */
        const float x[3] = { -1, -2, -3 }, want[4] = { -1, -1, -2, -3 };
        Attr at[2] = { INTS("kernel_shape", 2), INTS("pads", 1, 1) };
        Operand ops[1] = { { SHP(1, 1, 3), x } };
        check_op("maxpool negative with pads", OP_MAXPOOL, ops, 1, at, 2, SHP(1, 1, 4), want);
        release_attrs(at, 2);
    }
    {   /* Dilation 2: windows {x0, x2}, {x1, x3}, {x2, x4}. */
        const float x[5] = { 1, 5, 2, 4, 3 }, want[3] = { 2, 5, 3 };
        Attr at[2] = { INTS("kernel_shape", 2), INTS("dilations", 2) };
        Operand ops[1] = { { SHP(1, 1, 5), x } };
        check_op("maxpool dilation", OP_MAXPOOL, ops, 1, at, 2, SHP(1, 1, 3), want);
        release_attrs(at, 2);
    }
    {   /* NaN propagates through max (as in PyTorch), wherever it sits in the window. */
        const float x[4] = { NAN, 1, 2, NAN };
        Attr at[1] = { INTS("kernel_shape", 2) };
        Operand ops[1] = { { SHP(1, 1, 4), x } };
        Graph g;
        QsError err = { 0 };
        if (CHECK_OK(build_one(&g, OP_MAXPOOL, ops, 1, at, 1, &err), &err)) {
            Run r;
            run_init(&r, &g);
            Tensor xt = tensor_view(DT_F32, ops[0].shape, (void *)x);
            const Tensor *xs[1] = { &xt };
            if (CHECK_OK(run_forward(&r, xs, NULL, NULL, &err), &err)) {
                const float *y = tensor_f32(run_output(&r, 0));
                CHECK(isnan(y[0]) && y[1] == 2 && isnan(y[2]));
            }
            run_release(&r);
        }
        graph_release(&g);
        release_attrs(at, 1);
    }
    {   /* 3x3 = 1..9, kernel 2, stride 1, pads 1: count_include_pad both ways. */
        const float want_in[16] = { 0.25f, 0.75f, 1.25f, 0.75f, 1.25f, 3, 4, 2.25f,
                                    2.75f, 6, 7, 3.75f, 1.75f, 3.75f, 4.25f, 2.25f };
        const float want_ex[16] = { 1, 1.5f, 2.5f, 3, 2.5f, 3, 4, 4.5f,
                                    5.5f, 6, 7, 7.5f, 7, 7.5f, 8.5f, 9 };
        Attr at[3] = { INTS("kernel_shape", 2, 2), INTS("pads", 1, 1, 1, 1),
                       attr_int("count_include_pad", 1) };
        Operand ops[1] = { { SHP(1, 1, 3, 3), x25 } }; /* 1..9 */
        check_op("avgpool include pad", OP_AVGPOOL, ops, 1, at, 3, SHP(1, 1, 4, 4), want_in);
        check_op("avgpool exclude pad (default)", OP_AVGPOOL, ops, 1, at, 2, SHP(1, 1, 4, 4), want_ex);
        release_attrs(at, 3);
    }
    {   /* [1 2 3 4], kernel 3, stride 2, pads 1, ceil_mode: the last window covers x3, one
         * pad and one tap past the padded input. With count_include_pad that tap still
         * does not count: 4 / 2; without, 4 / 1. */
        const float x[4] = { 1, 2, 3, 4 }, want_in[3] = { 1, 3, 2 }, want_ex[3] = { 1.5f, 3, 4 };
        Attr at[5] = { INTS("kernel_shape", 3), INTS("strides", 2), INTS("pads", 1, 1),
                       attr_int("ceil_mode", 1), attr_int("count_include_pad", 1) };
        Operand ops[1] = { { SHP(1, 1, 4), x } };
        check_op("avgpool ceil include pad", OP_AVGPOOL, ops, 1, at, 5, SHP(1, 1, 3), want_in);
        check_op("avgpool ceil exclude pad", OP_AVGPOOL, ops, 1, at, 4, SHP(1, 1, 3), want_ex);
        release_attrs(at, 5);
    }
    {
        const float x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, want[2] = { 2.5f, 6.5f };
        Operand ops[1] = { { SHP(1, 2, 2, 2), x } };
        check_op("globalavgpool 2d", OP_GLOBALAVGPOOL, ops, 1, NULL, 0, SHP(1, 2, 1, 1), want);
        const float x1[6] = { 1, 2, 3, 4, 5, 9 }, want1[2] = { 2, 6 };
        Operand ops1[1] = { { SHP(2, 1, 3), x1 } };
        check_op("globalavgpool 1d", OP_GLOBALAVGPOOL, ops1, 1, NULL, 0, SHP(2, 1, 1), want1);
    }
}

static void test_pool_errors(void)
{
    Operand x[1] = { { SHP(1, 2, 4, 4), Z } };
    check_fails("maxpool no kernel", OP_MAXPOOL, x, 1, NULL, 0, QS_EFORMAT,
                "MaxPool 'node': attribute kernel_shape is required");
    Attr k1[1] = { INTS("kernel_shape", 3) };
    check_fails("maxpool kernel rank", OP_MAXPOOL, x, 1, k1, 1, QS_EFORMAT,
                "kernel_shape has 1 values, expected 2");
    Attr big[1] = { INTS("kernel_shape", 5, 2) };
    check_fails("maxpool kernel > input", OP_MAXPOOL, x, 1, big, 1, QS_ESHAPE,
                "kernel extent 5 exceeds the padded input 4 along axis 2");
    Attr allpad[2] = { INTS("kernel_shape", 1, 1), INTS("pads", 1, 0, 0, 0) };
    check_fails("maxpool window in padding", OP_MAXPOOL, x, 1, allpad, 2, QS_ESHAPE,
                "output window 0 along axis 2 of (1, 2, 4, 4) lies entirely in padding");
    /* A dilation past the input length steps over it: along w (length 1, pad 3 before, 1
     * after, taps 3 apart) window 0 reads w = -3 and 0, window 1 reads -2 and 1: none. */
    Operand x1[1] = { { SHP(1, 1, 1, 1), Z } };
    Attr skip[3] = { INTS("kernel_shape", 1, 2), INTS("dilations", 1, 3), INTS("pads", 0, 3, 0, 1) };
    check_fails("maxpool dilation steps over the input", OP_MAXPOOL, x1, 1, skip, 3, QS_ESHAPE,
                "output window 1 along axis 3 of (1, 1, 1, 1) lies entirely in padding");
    Attr dil[2] = { INTS("kernel_shape", 2, 2), INTS("dilations", 2, 2) };
    check_fails("avgpool dilation", OP_AVGPOOL, x, 1, dil, 2, QS_EUNSUPPORTED,
                "AveragePool 'node': dilations other than 1 are not supported");
    Attr cm[2] = { INTS("kernel_shape", 2, 2), attr_int("ceil_mode", 2) };
    check_fails("avgpool ceil_mode", OP_AVGPOOL, x, 1, cm, 2, QS_EINVAL, "ceil_mode = 2");
    Attr s0[2] = { INTS("kernel_shape", 2, 2), INTS("strides", 0, 1) };
    check_fails("maxpool stride 0", OP_MAXPOOL, x, 1, s0, 2, QS_EINVAL, "strides[0] = 0");
    Attr ap[2] = { INTS("kernel_shape", 2, 2), attr_str("auto_pad", "VALID") };
    check_fails("avgpool auto_pad", OP_AVGPOOL, x, 1, ap, 2, QS_EUNSUPPORTED, "auto_pad=VALID");
    Operand r2[1] = { { SHP(1, 2), Z } };
    check_fails("gap rank", OP_GLOBALAVGPOOL, r2, 1, NULL, 0, QS_ESHAPE, "expected rank 3 to 6");
    release_attrs(k1, 1);
    release_attrs(big, 1);
    release_attrs(allpad, 2);
    release_attrs(skip, 3);
    release_attrs(dil, 2);
    release_attrs(cm, 2);
    release_attrs(s0, 2);
    release_attrs(ap, 2);
}

/* ---- BatchNormalization --------------------------------------------------------------- */

static void test_bn_hand(void)
{
    {   /* (N, C) = (2, 2), epsilon 0 so 1 / sqrt(var) is exact: a = scale * (0.5, 2). */
        const float x[4] = { 3, 0, 5, -2 }, scale[2] = { 1, 2 }, b[2] = { 0, 1 };
        const float mean[2] = { 1, -1 }, var[2] = { 4, 0.25f };
        const float want[4] = { 1, 5, 2, -3 };
        Attr at[1] = { attr_float("epsilon", 0) };
        Operand ops[5] = { { SHP(2, 2), x }, { SHP(2), scale }, { SHP(2), b }, { SHP(2), mean },
                           { SHP(2), var } };
        check_op("batchnorm (N, C)", OP_BATCHNORM, ops, 5, at, 1, SHP(2, 2), want);
        release_attrs(at, 1);
    }
    {   /* Training: batch statistics over N and L replace the (absurd) running ones.
         * Channel 0 = {2, 6, 2, 6}: mean 4, var 4; channel 1 = {1, 1, 3, 3}: mean 2, var 1. */
        const float x[8] = { 2, 6, 1, 1, 2, 6, 3, 3 }; /* (N, C, L) = (2, 2, 2) */
        const float scale[2] = { 1, 2 }, b[2] = { 0, 1 }, mean[2] = { 100, 100 }, var[2] = { 9, 9 };
        const float want[8] = { -1, 1, -1, -1, -1, 1, 3, 3 };
        Attr at[1] = { attr_float("epsilon", 0) };
        Operand ops[5] = { { SHP(2, 2, 2), x }, { SHP(2), scale }, { SHP(2), b },
                           { SHP(2), mean }, { SHP(2), var } };
        /* The training forward updates the running statistics in place: give it copies. */
        float tmean[2] = { 100, 100 }, tvar[2] = { 9, 9 };
        Operand tops[5] = { ops[0], ops[1], ops[2], { SHP(2), tmean }, { SHP(2), tvar } };
        check_op_mode("batchnorm training", OP_BATCHNORM, tops, 5, at, 1, SHP(2, 2, 2), want, 0, 0,
                      true);
        /* Inference on the same node uses the running statistics: (x - 100) / 3 * s + b. */
        float want_inf[8];
        for (int i = 0; i < 8; i++) {
            int c = (i / 2) % 2;
            want_inf[i] = (float)((x[i] - 100.0) / 3.0 * scale[c] + b[c]);
        }
        /* One float rounding each of 1/3 * s, x - m, the product and the sum: < 4 ulp of 67. */
        check_op_mode("batchnorm inference", OP_BATCHNORM, ops, 5, at, 1, SHP(2, 2, 2), want_inf,
                      4e-5, 0, false);
        release_attrs(at, 1);
    }
}

static void test_bn_errors(void)
{
    Operand bad[5] = { { SHP(1, 3, 4, 4), Z }, { SHP(3), Z }, { SHP(4), Z }, { SHP(3), Z },
                       { SHP(3), Z } };
    check_fails("bn param length", OP_BATCHNORM, bad, 5, NULL, 0, QS_ESHAPE,
                "BatchNormalization 'node': B has shape (4), expected (3)");
    Operand miss[5] = { { SHP(1, 3), Z }, { SHP(3), Z }, { SHP(3), Z }, { SHP(3), Z },
                        { SHP(3), NULL } };
    check_fails("bn missing var", OP_BATCHNORM, miss, 5, NULL, 0, QS_EFORMAT, "input var is required");
    Operand r1[5] = { { SHP(3), Z }, { SHP(3), Z }, { SHP(3), Z }, { SHP(3), Z }, { SHP(3), Z } };
    check_fails("bn rank", OP_BATCHNORM, r1, 5, NULL, 0, QS_ESHAPE, "expected rank 2 to 6");
    Operand ok[5] = { { SHP(1, 3), Z }, { SHP(3), Z }, { SHP(3), Z }, { SHP(3), Z }, { SHP(3), Z } };
    Attr eps[1] = { attr_float("epsilon", -1) };
    check_fails("bn epsilon", OP_BATCHNORM, ok, 5, eps, 1, QS_EINVAL, "epsilon = -1");
    Graph g;
    QsError err = { 0 };
    expect_error("bn arity", build_one(&g, OP_BATCHNORM, ok, 4, NULL, 0, &err), &err, QS_EFORMAT,
                 "4 inputs, expected 5 to 5");
    graph_release(&g);
    release_attrs(eps, 1);
}

/* ---- Gemm, Dense, MatMul -------------------------------------------------------------- */

/* A = [[1 2 3] [4 5 6]], B = [[1 0] [0 1] [1 1]]: A B = [[4 5] [10 11]]. */
static const float A23[6] = { 1, 2, 3, 4, 5, 6 }, A23T[6] = { 1, 4, 2, 5, 3, 6 };
static const float B32[6] = { 1, 0, 0, 1, 1, 1 }, B32T[6] = { 1, 0, 1, 0, 1, 1 };

static void test_gemm_hand(void)
{
    {
        const float c[2] = { 10, 20 }, want[4] = { 13, 20, 25, 32 }; /* 2 AB + 0.5 c */
        Attr at[2] = { attr_float("alpha", 2), attr_float("beta", 0.5f) };
        Operand ops[3] = { { SHP(2, 3), A23 }, { SHP(3, 2), B32 }, { SHP(2), c } };
        check_op("gemm alpha beta row C", OP_GEMM, ops, 3, at, 2, SHP(2, 2), want);
        release_attrs(at, 2);
    }
    {   /* Both transposed, C a column (M, 1). */
        const float c[2] = { 1, 2 }, want[4] = { 5, 6, 12, 13 };
        Attr at[2] = { attr_int("transA", 1), attr_int("transB", 1) };
        Operand ops[3] = { { SHP(3, 2), A23T }, { SHP(2, 3), B32T }, { SHP(2, 1), c } };
        check_op_direct("gemm transA transB column C", OP_GEMM, ops, 3, at, 2, SHP(2, 2), want);
        release_attrs(at, 2);
    }
    {   /* Scalar C with beta -1. */
        const float c[1] = { 3 }, want[4] = { 1, 2, 7, 8 };
        Attr at[1] = { attr_float("beta", -1) };
        Operand ops[3] = { { SHP(2, 3), A23 }, { SHP(3, 2), B32 }, { (Shape){ 0 }, c } };
        check_op("gemm scalar C", OP_GEMM, ops, 3, at, 1, SHP(2, 2), want);
        release_attrs(at, 1);
    }
    {   /* No C; and beta 0 ignores C even when it holds inf (BLAS convention). */
        const float want[4] = { 8, 10, 20, 22 }, want1[4] = { 4, 5, 10, 11 };
        const float c[4] = { INFINITY, 0, 0, NAN };
        Attr at[1] = { attr_float("alpha", 2) }, b0[1] = { attr_float("beta", 0) };
        Operand ops[3] = { { SHP(2, 3), A23 }, { SHP(3, 2), B32 }, { SHP(2, 2), c } };
        check_op("gemm no C", OP_GEMM, ops, 2, at, 1, SHP(2, 2), want);
        check_op_direct("gemm beta 0", OP_GEMM, ops, 3, b0, 1, SHP(2, 2), want1);
        release_attrs(at, 1);
        release_attrs(b0, 1);
    }
}

static void test_dense_hand(void)
{
    const float x[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    const float w[6] = { 1, 0, -1, 1, 1, 1 }, b[2] = { 0.5f, -1 };
    {   /* (N, P, IN) = (2, 2, 3): per-peer rows. */
        const float want[8] = { -1.5f, 5, -1.5f, 14, -1.5f, 23, -1.5f, 32 };
        Operand ops[3] = { { SHP(2, 2, 3), x }, { SHP(2, 3), w }, { SHP(2), b } };
        check_op("dense 3-D", OP_DENSE, ops, 3, NULL, 0, SHP(2, 2, 2), want);
    }
    {
        const float want[4] = { -2, 6, -2, 15 };
        Operand ops[2] = { { SHP(2, 3), x }, { SHP(2, 3), w } };
        check_op("dense no bias", OP_DENSE, ops, 2, NULL, 0, SHP(2, 2), want);
    }
}

/* numpy.matmul by definition, for integer-valued data (exact in float). */
static void matmul_naive(const Shape *as, const float *a, const Shape *bs, const float *b,
                         const Shape *ys, float *y)
{
    int64_t m = as->dim[as->ndim - 2], k = as->dim[as->ndim - 1], n = bs->dim[bs->ndim - 1];
    int rank = ys->ndim - 2;
    int64_t total = shape_span(ys, 0, rank);
    for (int64_t t = 0; t < total; t++) {
        int64_t idx[QS_MAX_DIMS], rem = t;
        for (int i = rank - 1; i >= 0; i--)
            idx[i] = rem % ys->dim[i], rem /= ys->dim[i];
        int64_t oa = 0, ob = 0;
        for (int i = 0; i < rank; i++) {
            int ia = i - (rank - (as->ndim - 2)), ib = i - (rank - (bs->ndim - 2));
            if (ia >= 0)
                oa = oa * as->dim[ia] + (as->dim[ia] == 1 ? 0 : idx[i]);
            if (ib >= 0)
                ob = ob * bs->dim[ib] + (bs->dim[ib] == 1 ? 0 : idx[i]);
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += (double)a[(oa * m + i) * k + p] * b[(ob * k + p) * n + j];
                y[(t * m + i) * n + j] = (float)s;
            }
    }
}

static void test_matmul_hand(void)
{
    const float ones[3] = { 1, 1, 1 };
    {
        const float want[4] = { 4, 5, 10, 11 };
        Operand ops[2] = { { SHP(2, 3), A23 }, { SHP(3, 2), B32 } };
        check_op("matmul 2-D", OP_MATMUL, ops, 2, NULL, 0, SHP(2, 2), want);
    }
    {   /* 1-D A is promoted to (1, K), and the 1 removed again. */
        const float want[2] = { 4, 5 };
        Operand ops[2] = { { SHP(3), A23 }, { SHP(3, 2), B32 } };
        check_op_direct("matmul 1-D A", OP_MATMUL, ops, 2, NULL, 0, SHP(2), want);
    }
    {   /* 1-D B is promoted to (K, 1). */
        const float want[2] = { 6, 15 };
        Operand ops[2] = { { SHP(2, 3), A23 }, { SHP(3), ones } };
        check_op("matmul 1-D B", OP_MATMUL, ops, 2, NULL, 0, SHP(2), want);
    }
    {   /* Both 1-D: a dot product of rank 0. */
        const float want[1] = { 6 };
        Operand ops[2] = { { SHP(3), A23 }, { SHP(3), ones } };
        check_op_direct("matmul dot", OP_MATMUL, ops, 2, NULL, 0, (Shape){ 0 }, want);
    }
    {   /* Batched A, shared B: rows stack. */
        const float x[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
        const float want[8] = { 4, 5, 10, 11, 16, 17, 22, 23 };
        Operand ops[2] = { { SHP(2, 2, 3), x }, { SHP(3, 2), B32 } };
        check_op("matmul shared B", OP_MATMUL, ops, 2, NULL, 0, SHP(2, 2, 2), want);
    }
    {   /* 2-D A against a batch of B: the batch comes from B. */
        const float b[12] = { 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
        const float want[8] = { 4, 5, 10, 11, 6, 6, 15, 15 };
        Operand ops[2] = { { SHP(2, 3), A23 }, { SHP(2, 3, 2), b } };
        check_op("matmul batched B", OP_MATMUL, ops, 2, NULL, 0, SHP(2, 2, 2), want);
    }
    {   /* Broadcasting both ways: (2, 1, 2, 3) x (3, 3, 2) -> (2, 3, 2, 2). */
        float a[12], b[18], want[24];
        for (int i = 0; i < 12; i++)
            a[i] = (float)(i % 5 - 2);
        for (int i = 0; i < 18; i++)
            b[i] = (float)(i % 7 - 3);
        Shape as = SHP(2, 1, 2, 3), bs = SHP(3, 3, 2), ys = SHP(2, 3, 2, 2);
        matmul_naive(&as, a, &bs, b, &ys, want);
        CHECK(want[23] == (float)(a[9] * b[13] + a[10] * b[15] + a[11] * b[17]));
        Operand ops[2] = { { as, a }, { bs, b } };
        check_op("matmul broadcast", OP_MATMUL, ops, 2, NULL, 0, ys, want);
    }
}

static void test_matmul_errors(void)
{
    Operand k[2] = { { SHP(2, 3), Z }, { SHP(4, 2), Z } };
    check_fails("gemm K", OP_GEMM, k, 2, NULL, 0, QS_ESHAPE,
                "Gemm 'node': A (2, 3) (transA=0) has K=3 but B (4, 2) (transB=0) has K=4");
    Operand c[3] = { { SHP(2, 3), Z }, { SHP(3, 4), Z }, { SHP(3), Z } };
    check_fails("gemm C", OP_GEMM, c, 3, NULL, 0, QS_ESHAPE,
                "C has shape (3), which does not broadcast to (2, 4)");
    Operand c3[3] = { { SHP(2, 3), Z }, { SHP(3, 4), Z }, { SHP(1, 2, 4), Z } };
    check_fails("gemm C rank", OP_GEMM, c3, 3, NULL, 0, QS_ESHAPE, "does not broadcast to (2, 4)");
    Operand r3[2] = { { SHP(2, 3, 1), Z }, { SHP(3, 4), Z } };
    check_fails("gemm rank", OP_GEMM, r3, 2, NULL, 0, QS_ESHAPE, "A has shape (2, 3, 1), expected rank 2");
    Operand d[2] = { { SHP(2, 5, 7), Z }, { SHP(4, 6), Z } };
    check_fails("dense IN", OP_DENSE, d, 2, NULL, 0, QS_ESHAPE,
                "Dense 'node': weight (OUT, IN) = (4, 6) expects 6 input features, input (2, 5, 7) has 7");
    Operand db[3] = { { SHP(2, 6), Z }, { SHP(4, 6), Z }, { SHP(3), Z } };
    check_fails("dense bias", OP_DENSE, db, 3, NULL, 0, QS_ESHAPE, "bias has shape (3), expected (4)");
    Operand d0[2] = { { SHP(2, 0), Z }, { SHP(4, 0), Z } };
    check_fails("dense empty", OP_DENSE, d0, 2, NULL, 0, QS_ESHAPE, "empty dimension");
    Operand mk[2] = { { SHP(2, 3, 4), Z }, { SHP(5, 2), Z } };
    check_fails("matmul K", OP_MATMUL, mk, 2, NULL, 0, QS_ESHAPE,
                "MatMul 'node': A (2, 3, 4) has K=4 but B (5, 2) has K=5");
    Operand mb[2] = { { SHP(2, 3, 4), Z }, { SHP(3, 4, 2), Z } };
    check_fails("matmul batch", OP_MATMUL, mb, 2, NULL, 0, QS_ESHAPE,
                "batch dimensions of A (2, 3, 4) and B (3, 4, 2) do not broadcast");
    Operand m1[2] = { { SHP(3), Z }, { SHP(4), Z } };
    check_fails("matmul 1-D K", OP_MATMUL, m1, 2, NULL, 0, QS_ESHAPE, "has K=3 but B (4) has K=4");
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
    char *buf = malloc((size_t)len + 1);
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

static void test_fixtures(void)
{
    char *text = read_text("tests/fixtures/ops_linear/manifest.json");
    if (!CHECK(text != NULL))
        return;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!CHECK(root != NULL))
        return;
    const cJSON *cases = cJSON_GetObjectItem(root, "cases"), *c;
    int n_cases = 0;
    cJSON_ArrayForEach(c, cases) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        int op = op_find(cJSON_GetObjectItem(c, "op")->valuestring);
        if (!CHECK(op >= 0)) {
            fprintf(stderr, "  fixture %s: unknown op\n", name);
            continue;
        }
        Attr attrs[8];
        int n_attrs = fixture_attrs(cJSON_GetObjectItem(c, "attrs"), attrs, 8);
        Operand ops[8];
        Tensor *loaded[8];
        int n_ops = 0;
        const cJSON *in;
        char rel[256];
        cJSON_ArrayForEach(in, cJSON_GetObjectItem(c, "inputs")) {
            if (n_ops == 8)
                break;
            snprintf(rel, sizeof rel, "ops_linear/%s",
                     cJSON_GetObjectItem(in, "file")->valuestring);
            loaded[n_ops] = test_load_npy(rel);
            /* Only the first input is the graph input; the rest must be constants. */
            CHECK(cJSON_IsTrue(cJSON_GetObjectItem(in, "const")) == (n_ops > 0));
            ops[n_ops] = (Operand){ loaded[n_ops]->shape, tensor_f32(loaded[n_ops]) };
            n_ops++;
        }
        snprintf(rel, sizeof rel, "ops_linear/%s", cJSON_GetObjectItem(c, "output")->valuestring);
        Tensor *want = test_load_npy(rel);
        char label[96];
        snprintf(label, sizeof label, "fixture %s", name);
        check_op_mode(label, op, ops, n_ops, attrs, n_attrs, want->shape, tensor_f32(want),
                      cJSON_GetObjectItem(c, "atol")->valuedouble,
                      cJSON_GetObjectItem(c, "rtol")->valuedouble,
                      cJSON_IsTrue(cJSON_GetObjectItem(c, "training")));
        tensor_free(want);
        for (int i = 0; i < n_ops; i++)
            tensor_free(loaded[i]);
        release_attrs(attrs, n_attrs);
        n_cases++;
    }
    /* A truncated manifest must not pass quietly. */
    CHECK(n_cases == 25);
    cJSON_Delete(root);
}

/* MaxPool's side-by-side scan (the interior windows at AVX2 and AVX-512) against the
 * plain one (scalar): the same bits, NaN payloads (the last NaN of a window wins), signed
 * zeros (the first of equal maxima wins) and -inf included, over widths that fill the
 * vectors, leave masked tails and leave no interior at all, strides 1 to 3, dilations and
 * pads. */
static void test_maxpool_levels(void)
{
    const int64_t widths[] = { 3, 5, 14, 17, 28, 33, 40 };
    const int64_t cases[][4] = { /* kernel, stride, dilation, pad */
        { 2, 2, 1, 0 }, { 2, 1, 1, 0 }, { 3, 1, 1, 1 }, { 3, 2, 1, 1 }, { 2, 2, 2, 1 },
        { 3, 3, 1, 0 }, { 1, 2, 1, 0 }, { 2, 2, 1, 1 },
    };
    enum { H = 6, C = 2 };
    float x[C * H * 40];
    uint32_t seed = 12345;
    for (int i = 0; i < COUNT(x); i++) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t r = seed >> 8;
        float v = (float)(int)(r % 9) - 4.0f; /* many ties */
        if (r % 13 == 0)
            v = -0.0f;
        else if (r % 17 == 0) { /* a NaN with its own payload */
            uint32_t bits = 0x7fc00000u | (r & 0xffffu);
            memcpy(&v, &bits, sizeof v);
        } else if (r % 19 == 0)
            v = -INFINITY;
        x[i] = v;
    }
    for (int wi = 0; wi < COUNT(widths); wi++)
        for (int ci = 0; ci < COUNT(cases); ci++) {
            const int64_t *k = cases[ci], w = widths[wi];
            if ((k[0] - 1) * k[2] + 1 > w + 2 * k[3])
                continue;
            Attr at[4] = { INTS("kernel_shape", k[0], k[0]), INTS("strides", k[1], k[1]),
                           INTS("dilations", k[2], k[2]), INTS("pads", k[3], k[3], k[3], k[3]) };
            Operand ops[1] = { { SHP(1, C, H, w), x } };
            Graph g;
            QsError err = { 0 };
            if (!CHECK_OK(build_one(&g, OP_MAXPOOL, ops, 1, at, 4, &err), &err)) {
                release_attrs(at, 4);
                continue;
            }
            float ref[C * H * 40];
            int64_t n = 0;
            for (int l = 0; l < SIMD_COUNT; l++) {
                simd_cap((SimdLevel)l);
                Run r;
                run_init(&r, &g);
                Tensor xt = tensor_view(DT_F32, ops[0].shape, x);
                const Tensor *xs[1] = { &xt };
                if (CHECK_OK(run_forward(&r, xs, NULL, NULL, &err), &err)) {
                    const Tensor *y = run_output(&r, 0);
                    if (l == 0) {
                        n = tensor_numel(y);
                        memcpy(ref, tensor_f32(y), (size_t)n * sizeof(float));
                    } else if (memcmp(ref, tensor_f32(y), (size_t)n * sizeof(float)) != 0) {
                        fprintf(stderr, "maxpool w=%lld case %d level %s differs\n",
                                (long long)w, ci, simd_name((SimdLevel)l));
                        CHECK(false);
                    }
                }
                run_release(&r);
            }
            simd_cap(simd_detected());
            graph_release(&g);
            release_attrs(at, 4);
        }
}

int main(void)
{
    test_table_rows();
    test_conv_hand();
    test_conv_direct();
    test_conv_errors();
    test_pool_hand();
    test_maxpool_levels();
    test_pool_errors();
    test_bn_hand();
    test_bn_errors();
    test_gemm_hand();
    test_dense_hand();
    test_matmul_hand();
    test_matmul_errors();
    test_fixtures();
    return test_summary("ops_linear");
}
