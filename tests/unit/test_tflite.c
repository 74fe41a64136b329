/* TFLite export (src/formats/tflite/):
 *   - the flatbuffer builder: a hand-checked table (vtable, offsets, alignment, defaults
 *     omitted) read back byte by byte;
 *   - the verifier: every export passes; damaged copies (identifier, root offset, a vtable
 *     offset, truncation, a saturated element count) are refused, and every single-word
 *     corruption of the first 4 KB is verified or refused without a memory error (ASan);
 *   - exports of every bundled model at fp32, of mnist_mlp at fp32, fp16, dynamic and
 *     int8, of mnist_cnn and mnist_dw at int8: tensor types, shapes, opcodes and quantization
 *     parameters asserted against the plan (int8: weights per channel on axis 0, depthwise on
 *     axis 3, int32 bias at s_in * s_w with zero point 0, activations with the plan's scale
 *     and zero point); an op TFLite lacks (Erf) refused; Add then Relu fused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/datafile.h"
#include "data/dataset.h"
#include "graph/model.h"
#include "io/fileio.h"
#include "native/qsm.h"
#include "ops/op.h"
#include "qexec/qexec.h"
#include "qexec/qexec_view.h"
#include "quant/calib.h"
#include "quant/plan.h"
#include "test_mnist.h"
#include "test_util.h"
#include "tflite/flatbuf.h"
#include "tflite/tflite_export.h"
#include "tflite/tflite_schema.h"
#include "tflite/tflite_verify.h"

static uint32_t rd32(const uint8_t *b, size_t p) { uint32_t x; memcpy(&x, b + p, 4); return x; }
static uint16_t rd16(const uint8_t *b, size_t p) { uint16_t x; memcpy(&x, b + p, 2); return x; }

static void test_builder(void)
{
    FbBuilder b;
    fb_init(&b);
    const int16_t v16[3] = { 1, 2, 3 };
    FbRef vec = fb_vector(&b, v16, 3, 2, 16);
    FbRef s = fb_string(&b, "hi");
    fb_table_begin(&b);
    fb_add_u8(&b, 0, 7, 0);
    fb_add_i32(&b, 1, 5, 5);          /* the default: omitted */
    fb_add_ref(&b, 2, s);
    fb_add_i64(&b, 3, -2, 0);
    fb_add_ref(&b, 4, vec);
    FbRef root = fb_table_end(&b);
    void *out = NULL;
    size_t len = 0;
    QsError err = { 0 };
    CHECK_OK(fb_finish(&b, root, "TEST", &out, &len, &err), &err);
    fb_release(&b);
    const uint8_t *p = out;
    CHECK(len % 16 == 0);
    CHECK(memcmp(p + 4, "TEST", 4) == 0);
    size_t t = rd32(p, 0);
    CHECK(t % 4 == 0);
    int32_t so;
    memcpy(&so, p + t, 4);
    size_t vt = t - (size_t)so;
    CHECK(rd16(p, vt) == 4 + 2 * 5);     /* five field slots */
    CHECK(rd16(p, vt + 4 + 2) == 0);     /* field 1 omitted */
    size_t f0 = t + rd16(p, vt + 4);
    CHECK(p[f0] == 7);
    size_t f3 = t + rd16(p, vt + 4 + 6);
    int64_t i64;
    memcpy(&i64, p + f3, 8);
    CHECK(f3 % 8 == 0 && i64 == -2);
    size_t f2 = t + rd16(p, vt + 4 + 4), str = f2 + rd32(p, f2);
    CHECK(rd32(p, str) == 2 && memcmp(p + str + 4, "hi", 3) == 0);
    size_t f4 = t + rd16(p, vt + 4 + 8), vs = f4 + rd32(p, f4);
    CHECK(rd32(p, vs) == 3 && (vs + 4) % 16 == 0);
    CHECK(rd16(p, vs + 4) == 1 && rd16(p, vs + 8) == 3);
    free(out);
}

/* The verifier refuses damaged copies of a good buffer. */
static void test_damaged(const uint8_t *good, size_t len)
{
    uint8_t *b = xmalloc(len);
    QsError err = { 0 };
    struct { size_t at; uint32_t v; const char *what; } cases[] = {
        { 4, 0x334C4654u ^ 1u, "identifier" },
        { 0, (uint32_t)len + 8, "out of range" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, good, len);
        memcpy(b + cases[i].at, &cases[i].v, 4);
        err = (QsError){ 0 };
        CHECK(tflite_verify(b, len, NULL, &err) == QS_EFORMAT);
    }
    /* a vtable offset pointing before the buffer */
    memcpy(b, good, len);
    uint32_t root = rd32(b, 0);
    int32_t bad = (int32_t)root + 64;
    memcpy(b + root, &bad, 4);
    CHECK(tflite_verify(b, len, NULL, &err) == QS_EFORMAT);
    /* a shape whose element count saturates (fuzz_tflite's finding: the message's byte count
     * overflowed) */
    void *rb = NULL;
    size_t rlen = 0;
    if (CHECK_OK(fileio_read("tests/fuzz/corpus/tflite/regress_numel_overflow.tflite", &rb,
                             &rlen, &err), &err)) {
        QsStatus st = tflite_verify(rb, rlen, NULL, &err);
        expect_error("numel overflow", st, &err, QS_EFORMAT, "shape x type needs");
    }
    free(rb);
    /* truncated */
    CHECK(tflite_verify(good, len / 2, NULL, &err) == QS_EFORMAT);
    /* every single-word corruption either verifies or is refused, never crashes (ASan) */
    for (size_t at = 0; at + 4 <= len && at < 4096; at += 4) {
        memcpy(b, good, len);
        uint32_t junk = 0x7fffff00u;
        memcpy(b + at, &junk, 4);
        TflSummary s;
        if (tflite_verify(b, len, &s, &err) == QS_OK)
            tflite_summary_release(&s);
    }
    free(b);
}

static int count_ops(const TflSummary *s, int code)
{
    int c = 0;
    for (int i = 0; i < s->n_ops; i++)
        c += s->ops[i].code == code;
    return c;
}

/* Exports q and returns its verified summary (false on failure). */
static bool export_sum(const QModel *q, TflIo io, TflSummary *s, void **buf, size_t *len)
{
    QsError err = { 0 };
    TfliteOpts o = { .io = io, .batch = 1 };
    if (!CHECK_OK(tflite_serialize_plan(q, &o, buf, len, NULL, &err), &err))
        return false;
    return CHECK_OK(tflite_verify(*buf, *len, s, &err), &err);
}

static void test_fp32_all(void)
{
    static const char *const models[] = { "models/mnist_mlp.qsm", "models/mnist_cnn.qsm",
                                          "models/mnist_dw.qsm", "models/falls.qsm",
                                          "models/det_balls.qsm", "models/deepsets.qsm" };
    for (int i = 0; i < 6; i++) {
        QsError err = { 0 };
        Model *m = qsm_load(models[i], &err);
        if (!CHECK(m != NULL))
            continue;
        Plan p;
        plan_init(&p, m->graph.n_nodes);
        QModel *q = NULL;
        TflSummary s;
        void *buf = NULL;
        size_t len = 0;
        if (CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err) &&
            export_sum(q, TFLIO_FLOAT, &s, &buf, &len)) {
            CHECK(s.n_inputs == m->graph.n_inputs && s.n_outputs == m->graph.n_outputs);
            for (int t = 0; t < s.n_tensors; t++)
                CHECK(s.tensors[t].type == TFL_FLOAT32 || s.tensors[t].type == TFL_INT32);
            CHECK(strstr(s.description, "variant=fp32") != NULL);
            if (i == 0)
                test_damaged(buf, len);
            tflite_summary_release(&s);
        }
        free(buf);
        qmodel_free(q);
        plan_release(&p);
        model_free(m);
    }
}

static void test_mlp_variants(void)
{
    QsError err = { 0 };
    Calibration cal;
    Model *m = test_mnist_calibrated("models/mnist_mlp.qsm", 200, &cal);
    if (!m)
        return;
    static const PrecKind modes[4] = { PREC_FP32, PREC_FP16, PREC_INT8_DYN, PREC_INT8_STATIC };
    for (int k = 0; k < 4; k++) {
        Plan p;
        plan_init(&p, m->graph.n_nodes);
        p.mode = modes[k];
        QModel *q = NULL;
        TflSummary s;
        void *buf = NULL;
        size_t len = 0;
        if (!CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err) ||
            !export_sum(q, TFLIO_FLOAT, &s, &buf, &len)) {
            qmodel_free(q);
            plan_release(&p);
            free(buf);
            continue;
        }
        /* Flatten as RESHAPE, three FULLY_CONNECTED with Relu fused into the first two */
        CHECK(count_ops(&s, TFL_OP_FULLY_CONNECTED) == 3);
        CHECK(count_ops(&s, TFL_OP_RESHAPE) == 1);
        CHECK(count_ops(&s, TFL_OP_RELU) == 0);
        const TflSumTensor *in = &s.tensors[s.inputs[0]], *out = &s.tensors[s.outputs[0]];
        CHECK(in->type == TFL_FLOAT32 && in->nd == 4 && in->dim[0] == 1 && in->dim[1] == 1);
        CHECK(out->type == TFL_FLOAT32 && out->nd == 2 && out->dim[1] == 10);
        if (modes[k] == PREC_FP16)
            CHECK(count_ops(&s, TFL_OP_DEQUANTIZE) == 6); /* 3 weights, 3 biases */
        if (modes[k] == PREC_INT8_DYN) {
            int n8 = 0;
            for (int t = 0; t < s.n_tensors; t++)
                n8 += s.tensors[t].type == TFL_INT8;
            CHECK(n8 == 3); /* the weights only */
        }
        if (modes[k] == PREC_INT8_STATIC) {
            CHECK(count_ops(&s, TFL_OP_QUANTIZE) == 1 && count_ops(&s, TFL_OP_DEQUANTIZE) == 1);
            /* fc1: weights int8 per channel, bias int32 at s_in * s_w, output the plan's */
            const Graph *g = qmodel_graph(q);
            for (int oi = 0; oi < s.n_ops; oi++) {
                const TflSumOp *op = &s.ops[oi];
                if (op->code != TFL_OP_FULLY_CONNECTED)
                    continue;
                const TflSumTensor *w = &s.tensors[op->in[1]], *b = &s.tensors[op->in[2]];
                const TflSumTensor *y = &s.tensors[op->out[0]];
                CHECK(w->type == TFL_INT8 && w->n_q == w->dim[0] && w->qdim == 0);
                CHECK(b->type == TFL_INT32 && b->n_q == b->dim[0] && b->zero_point[0] == 0);
                const TflSumTensor *xi = &s.tensors[op->in[0]];
                CHECK(xi->type == TFL_INT8 && y->type == TFL_INT8);
                CHECK(fabsf(b->scale[0] - xi->scale[0] * w->scale[0]) <=
                      1e-6f * b->scale[0]);
                int v = -1;
                for (int vi = 0; vi < g->n_values; vi++)
                    if (strcmp(g->values[vi].name, y->name) == 0)
                        v = vi;
                QParams qp;
                CHECK(v >= 0 && qmodel_value_qparams(q, v, &qp));
                if (v >= 0)
                    CHECK(y->scale[0] == qp.scale && y->zero_point[0] == qp.zero_point);
            }
            free(buf);
            tflite_summary_release(&s);
            buf = NULL;
            if (export_sum(q, TFLIO_INT8, &s, &buf, &len)) {
                CHECK(s.tensors[s.inputs[0]].type == TFL_INT8);
                CHECK(s.tensors[s.outputs[0]].type == TFL_INT8);
                CHECK(count_ops(&s, TFL_OP_QUANTIZE) == 0);
            }
        }
        tflite_summary_release(&s);
        free(buf);
        qmodel_free(q);
        plan_release(&p);
    }
    /* io=int8 on a float variant is refused */
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    QModel *q = NULL;
    if (CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err)) {
        void *buf = NULL;
        size_t len = 0;
        TfliteOpts o = { .io = TFLIO_INT8, .batch = 1 };
        QsStatus st = tflite_serialize_plan(q, &o, &buf, &len, NULL, &err);
        expect_error("io=int8 on fp32", st, &err, QS_EINVAL, "needs the int8 variant");
        free(buf);
    }
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

static void test_cnn_int8(const char *path, bool dw)
{
    QsError err = { 0 };
    Calibration cal;
    Model *m = test_mnist_calibrated(path, 200, &cal);
    if (!m)
        return;
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q = NULL;
    TflSummary s = { 0 };
    void *buf = NULL;
    size_t len = 0;
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err) &&
        export_sum(q, TFLIO_FLOAT, &s, &buf, &len) && dw) {
        /* depthwise weights (1, KH, KW, C) per channel on axis 3, GlobalAveragePool as MEAN */
        CHECK(count_ops(&s, TFL_OP_DEPTHWISE_CONV_2D) == 2);
        CHECK(count_ops(&s, TFL_OP_MEAN) == 1);
        for (int oi = 0; oi < s.n_ops; oi++) {
            const TflSumOp *op = &s.ops[oi];
            if (op->code != TFL_OP_DEPTHWISE_CONV_2D)
                continue;
            const TflSumTensor *w = &s.tensors[op->in[1]], *b = &s.tensors[op->in[2]];
            CHECK(w->type == TFL_INT8 && w->nd == 4 && w->dim[0] == 1);
            CHECK(w->n_q == w->dim[3] && w->qdim == 3);
            CHECK(b->type == TFL_INT32 && b->n_q == w->dim[3] && b->qdim == 0);
        }
    } else if (!dw && s.n_ops) {
        /* conv1, conv2 (BN folded, Relu fused), two pools, the flatten's TRANSPOSE back to
         * NCHW and RESHAPE, fc1, fc2, QUANTIZE and DEQUANTIZE at the edges */
        CHECK(count_ops(&s, TFL_OP_CONV_2D) == 2);
        CHECK(count_ops(&s, TFL_OP_MAX_POOL_2D) == 2);
        CHECK(count_ops(&s, TFL_OP_TRANSPOSE) == 1);
        CHECK(count_ops(&s, TFL_OP_FULLY_CONNECTED) == 2);
        CHECK(s.n_ops == 10);
        const TflSumTensor *in = &s.tensors[s.inputs[0]];
        CHECK(in->nd == 4 && in->dim[1] == 28 && in->dim[2] == 28 && in->dim[3] == 1);
        for (int oi = 0; oi < s.n_ops; oi++) {
            const TflSumOp *op = &s.ops[oi];
            if (op->code == TFL_OP_CONV_2D) {
                const TflSumTensor *w = &s.tensors[op->in[1]];
                CHECK(op->version == 3 && w->type == TFL_INT8 && w->nd == 4);
                CHECK(w->n_q == w->dim[0] && w->qdim == 0);
                for (int c = 0; c < w->n_q; c++)
                    CHECK(w->zero_point[c] == 0);
            }
            if (op->code == TFL_OP_MAX_POOL_2D) /* the pool keeps its input's parameters */
                CHECK(s.tensors[op->in[0]].scale[0] == s.tensors[op->out[0]].scale[0]);
        }
    }
    tflite_summary_release(&s);
    free(buf);
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

/* An op TFLite lacks: an error naming the layer and the op. */
static void test_refusal(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape s = shape_of(1, (int64_t)4);
    const char *in[1] = { "x" };
    if (!CHECK_OK(graph_add_input(g, "x", &s, &err), &err) ||
        !CHECK_OK(graph_add_node(g, OP_ERF, "erf1", in, 1, "y", NULL, 0, &err), &err) ||
        !CHECK_OK(graph_add_output(g, "y", &err), &err) ||
        !CHECK_OK(graph_finalize(g, &err), &err)) {
        model_free(m);
        return;
    }
    Plan p;
    plan_init(&p, g->n_nodes);
    QModel *q = NULL;
    if (CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err)) {
        void *buf = NULL;
        size_t len = 0;
        TfliteOpts o = { .batch = 1 };
        QsStatus st = tflite_serialize_plan(q, &o, &buf, &len, NULL, &err);
        expect_error("Erf", st, &err, QS_EUNSUPPORTED, "Erf 'erf1' has no TFLite form");
        CHECK(buf == NULL);
        free(buf);
    }
    qmodel_free(q);
    plan_release(&p);
    model_free(m);
}

/* The int32 values of constant tensor t of s (n of them at most). */
static int const_i32(const TflSummary *s, int t, int32_t *v, int n)
{
    int k = (int)(s->tensors[t].data_len / 4);
    k = k < n ? k : n;
    memcpy(v, s->tensors[t].data, (size_t)k * 4);
    return k;
}

/* Slice x[:, 3::-1] of an (N, 5) input: STRIDED_SLICE from 3 down through index 0, which
 * no end index says (-1 counts from the end): begin (0, 3), strides (1, -1), end_mask
 * bit 1. */
static void test_slice_reverse(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape s = shape_of(1, (int64_t)5); /* a sample: x is (N, 5) */
    const char *in[1] = { "x" };
    const int64_t st[1] = { 3 }, en[1] = { -100 }, ax[1] = { 1 }, sp[1] = { -1 };
    Attr at[4] = { attr_ints("starts", st, 1), attr_ints("ends", en, 1),
                   attr_ints("axes", ax, 1), attr_ints("steps", sp, 1) };
    bool ok = CHECK_OK(graph_add_input(g, "x", &s, &err), &err) &&
              CHECK_OK(graph_add_node(g, OP_SLICE, "rev", in, 1, "y", at, 4, &err), &err) &&
              CHECK_OK(graph_add_output(g, "y", &err), &err) &&
              CHECK_OK(graph_finalize(g, &err), &err);
    for (int i = 0; i < 4; i++)
        attr_release(&at[i]);
    Plan p;
    plan_init(&p, g->n_nodes);
    QModel *q = NULL;
    TflSummary sum;
    void *buf = NULL;
    size_t len = 0;
    if (ok && CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err) &&
        export_sum(q, TFLIO_FLOAT, &sum, &buf, &len)) {
        CHECK(sum.n_ops == 1 && sum.ops[0].code == TFL_OP_STRIDED_SLICE && sum.ops[0].n_in == 4);
        if (sum.n_ops == 1 && sum.ops[0].n_in == 4) {
            int32_t b[2] = { 0 }, e[2] = { 0 }, k[2] = { 0 };
            CHECK(const_i32(&sum, sum.ops[0].in[1], b, 2) == 2 && b[0] == 0 && b[1] == 3);
            CHECK(const_i32(&sum, sum.ops[0].in[2], e, 2) == 2 && e[0] == 1);
            CHECK(const_i32(&sum, sum.ops[0].in[3], k, 2) == 2 && k[0] == 1 && k[1] == -1);
            CHECK(sum.ops[0].opt.end_mask == 2);
        }
        const TflSumTensor *y = &sum.tensors[sum.outputs[0]];
        CHECK(y->nd == 2 && y->dim[0] == 1 && y->dim[1] == 4);
        tflite_summary_release(&sum);
    }
    free(buf);
    qmodel_free(q);
    plan_release(&p);
    model_free(m);
}

/* Add then Relu: the Relu becomes ADD's fused activation. */
static void test_add_relu(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape s = shape_of(3, (int64_t)2, (int64_t)3, (int64_t)3);
    const char *ab[2] = { "a", "b" }, *sum[1] = { "sum" };
    if (!CHECK_OK(graph_add_input(g, "a", &s, &err), &err) ||
        !CHECK_OK(graph_add_input(g, "b", &s, &err), &err) ||
        !CHECK_OK(graph_add_node(g, OP_ADD, "add1", ab, 2, "sum", NULL, 0, &err), &err) ||
        !CHECK_OK(graph_add_node(g, OP_RELU, "relu1", sum, 1, "y", NULL, 0, &err), &err) ||
        !CHECK_OK(graph_add_output(g, "y", &err), &err) ||
        !CHECK_OK(graph_finalize(g, &err), &err)) {
        model_free(m);
        return;
    }
    Plan p;
    plan_init(&p, g->n_nodes);
    QModel *q = NULL;
    TflSummary sum_;
    void *buf = NULL;
    size_t len = 0;
    if (CHECK_OK(qmodel_build(m, &p, NULL, &q, &err), &err) &&
        export_sum(q, TFLIO_FLOAT, &sum_, &buf, &len)) {
        CHECK(sum_.n_ops == 1 && sum_.ops[0].code == TFL_OP_ADD);
        CHECK(sum_.ops[0].options_type == TFL_OPT_ADD);
        CHECK(strcmp(sum_.tensors[sum_.outputs[0]].name, "y") == 0);
        tflite_summary_release(&sum_);
    }
    free(buf);
    qmodel_free(q);
    plan_release(&p);
    model_free(m);
}

int main(void)
{
    test_add_relu();
    test_refusal();
    test_slice_reverse();
    test_builder();
    test_fp32_all();
    test_mlp_variants();
    test_cnn_int8("models/mnist_cnn.qsm", false);
    test_cnn_int8("models/mnist_dw.qsm", true);
    return test_summary("tflite");
}
