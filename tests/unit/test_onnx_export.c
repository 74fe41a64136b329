/* ONNX export (src/formats/onnx/onnx_export.c):
 *   - round trips: every bundled .qsm -> ONNX -> qscope model -> .qsm gives float outputs
 *     bit-identical to the original's (memcmp, on 64 test digits), and every PyTorch ONNX
 *     fixture imported -> exported -> imported again gives bit-identical outputs;
 *   - the QDQ layout of a calibrated int8-static plan of mnist_cnn: one
 *     QuantizeLinear/DequantizeLinear pair per value the integer executor holds as int8,
 *     with exactly its scale and zero point; int8 weights with a per-channel (axis 0)
 *     DequantizeLinear whose scales are the executor's; int32 biases whose scale is
 *     s_in * s_w; BatchNormalization folded away; Relu kept;
 *   - fp16 layout: FLOAT16 weight initializers behind Cast, a Cast pair after each unit;
 *   - mixed fp16/int8/fp32 plans (mnist_cnn, det_balls, both directions, and a value read
 *     by an fp16 and an int8 step at once): every step's head reads each non-constant
 *     input in the exported graph exactly as the executor hands it over (qexec_view.h,
 *     QStepView.reads): quantized with the value's own parameters, rounded to half by a
 *     Cast pair, or as its producer left it; and each form is made from what the
 *     producer wrote (QDQ after an int8 step, a Cast pair after an fp16 step);
 *   - refusals: int8-dyn plans, 4-bit plans, and a path without .onnx (command level). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/calib.h"
#include "test_mnist.h"
#include "arrays/datafile.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "io/fileio.h"
#include "graph/model.h"
#include "onnx/onnx_export.h"
#include "onnx/onnx_import.h"
#include "quant/plan.h"
#include "onnx/protobuf.h"
#include "qexec/qexec.h"
#include "qexec/qexec_view.h"
#include "native/qsm.h"
#include "run/run.h"
#include "test_graph.h"
#include "test_util.h"

static bool same_bits(const char *label, const Tensor *a, const Tensor *b)
{
    bool ok = a && b && shape_equal(&a->shape, &b->shape) &&
              memcmp(a->data, b->data, tensor_bytes(a)) == 0;
    if (!CHECK(ok))
        fprintf(stderr, "%s: outputs are not bit-identical\n", label);
    return ok;
}

static Model *reimport(const Model *m, const char *label)
{
    void *buf = NULL;
    size_t len = 0;
    QsError err = { 0 };
    if (!CHECK_OK(onnx_serialize(m, &buf, &len, &err), &err))
        return NULL;
    Model *r = onnx_parse(buf, len, NULL, label, &err);
    if (!CHECK(r != NULL))
        fprintf(stderr, "%s: %s\n", label, err.msg);
    free(buf);
    return r;
}

static void test_qsm_round_trip(void)
{
    static const char *const models[] = { "models/mnist_cnn.qsm", "models/mnist_dw.qsm",
                                          "models/mnist_mlp.qsm" };
    Tensor *x = test_mnist_x(64);
    if (!x)
        return;
    for (int i = 0; i < 3; i++) {
        QsError err = { 0 };
        Model *m = qsm_load(models[i], &err);
        if (!CHECK(m != NULL))
            continue;
        Tensor xs = *x;
        if (m->graph.values[m->graph.inputs[0]].shape.ndim == 2) /* the MLP takes (N, 784) */
            xs.shape = shape_of(2, (int64_t)64, (int64_t)784);
        Model *o = reimport(m, models[i]);
        void *qbuf = NULL;
        size_t qlen = 0;
        Model *back = NULL;
        if (o && CHECK_OK(qsm_serialize(o, &qbuf, &qlen, &err), &err))
            back = qsm_parse(qbuf, qlen, "round trip", &err);
        free(qbuf);
        Tensor *y0 = tu_run_graph(m, &xs), *y1 = o ? tu_run_graph(o, &xs) : NULL;
        Tensor *y2 = back ? tu_run_graph(back, &xs) : NULL;
        char label[128];
        snprintf(label, sizeof label, "%s -> onnx", models[i]);
        same_bits(label, y0, y1);
        snprintf(label, sizeof label, "%s -> onnx -> qsm", models[i]);
        same_bits(label, y0, y2);
        /* Same layer names, same node count. */
        if (CHECK(back != NULL) && CHECK(back->graph.n_nodes == m->graph.n_nodes))
            for (int k = 0; k < m->graph.n_nodes; k++)
                CHECK(strcmp(back->graph.nodes[k].name, m->graph.nodes[k].name) == 0);
        tensor_free(y0);
        tensor_free(y1);
        tensor_free(y2);
        model_free(back);
        model_free(o);
        model_free(m);
    }
    tensor_free(x);
}

static void test_fixture_round_trip(void)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    if (!CHECK_OK(fileio_read("tests/fixtures/onnx/manifest.json", &buf, &len, &err), &err))
        return;
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases"))
    {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        char path[256], xr[128];
        snprintf(path, sizeof path, "tests/fixtures/onnx/%s.onnx", name);
        snprintf(xr, sizeof xr, "onnx/%s_x.npy", name);
        Model *m = onnx_load(path, &err);
        if (!CHECK(m != NULL)) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            continue;
        }
        Model *o = reimport(m, name);
        Tensor *x = test_load_npy(xr);
        Tensor *y0 = tu_run_graph(m, x), *y1 = o ? tu_run_graph(o, x) : NULL;
        char label[128];
        snprintf(label, sizeof label, "%s import -> export -> import", name);
        same_bits(label, y0, y1);
        tensor_free(x);
        tensor_free(y0);
        tensor_free(y1);
        model_free(o);
        model_free(m);
        n++;
    }
    CHECK(n >= 15);
    cJSON_Delete(root);
}

/* ---- the QDQ layout, read back with the protobuf reader */

typedef struct Init {
    char name[128];
    int64_t type, dims[6];
    int nd;
    const uint8_t *raw;
    size_t raw_len;
} Init;

typedef struct Nd {
    char op[32], name[128], in[3][128], out[128];
    int n_in;
    int64_t axis;
    int64_t to; /* Cast */
} Nd;

static void copy_str(char *dst, size_t cap, const PbField *f)
{
    size_t n = f->len < cap - 1 ? f->len : cap - 1;
    memcpy(dst, f->data, n);
    dst[n] = '\0';
}

/* Reads every node and initializer of a model image (nodes and inits are caller-sized). */
static void read_model(const void *buf, size_t len, Nd *nodes, int *nn, Init *inits, int *ni)
{
    PbReader r, g, s;
    PbField f, h, k;
    QsError err = { 0 };
    *nn = *ni = 0;
    pb_reader_init(&r, buf, len, "ModelProto");
    while (pb_next(&r, &f, &err) == 1) {
        if (f.num != 7 || pb_sub(&r, &f, "GraphProto", &g, &err))
            continue;
        while (pb_next(&g, &h, &err) == 1) {
            if (h.num == 1 && *nn < 512) {
                Nd *d = &nodes[(*nn)++];
                memset(d, 0, sizeof *d);
                d->axis = -99;
                pb_sub(&g, &h, "NodeProto", &s, &err);
                while (pb_next(&s, &k, &err) == 1) {
                    if (k.num == 1 && d->n_in < 3)
                        copy_str(d->in[d->n_in++], 128, &k);
                    if (k.num == 2)
                        copy_str(d->out, 128, &k);
                    if (k.num == 3)
                        copy_str(d->name, 128, &k);
                    if (k.num == 4)
                        copy_str(d->op, 32, &k);
                    if (k.num == 5) { /* an attribute: look for axis (int) */
                        PbReader ar;
                        PbField af;
                        char an[32] = "";
                        int64_t iv = 0;
                        pb_sub(&s, &k, "AttributeProto", &ar, &err);
                        while (pb_next(&ar, &af, &err) == 1) {
                            if (af.num == 1)
                                copy_str(an, sizeof an, &af);
                            if (af.num == 3)
                                iv = (int64_t)af.v;
                        }
                        if (strcmp(an, "axis") == 0)
                            d->axis = iv;
                        if (strcmp(an, "to") == 0)
                            d->to = iv;
                    }
                }
            } else if (h.num == 5 && *ni < 512) {
                Init *t = &inits[(*ni)++];
                memset(t, 0, sizeof *t);
                pb_sub(&g, &h, "TensorProto", &s, &err);
                while (pb_next(&s, &k, &err) == 1) {
                    if (k.num == 1 && k.wire == PB_LEN) {
                        uint64_t v[6];
                        int64_t n = pb_read_packed(&s, &k, PB_VARINT, v, 6, &err);
                        for (int64_t q = 0; q < n && q < 6; q++)
                            t->dims[t->nd++] = (int64_t)v[q];
                    }
                    if (k.num == 2)
                        t->type = (int64_t)k.v;
                    if (k.num == 8)
                        copy_str(t->name, 128, &k);
                    if (k.num == 9)
                        t->raw = k.data, t->raw_len = k.len;
                }
            }
        }
    }
}

/* Element i of raw float data (initializer bytes are not aligned). */
static float rd_f32(const uint8_t *raw, int i)
{
    float f;
    memcpy(&f, raw + 4 * i, 4);
    return f;
}

static const Init *find_init(const Init *inits, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(inits[i].name, name) == 0)
            return &inits[i];
    return NULL;
}

static int count_op(const Nd *nodes, int n, const char *op)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += strcmp(nodes[i].op, op) == 0;
    return c;
}

static void test_qdq_layout(void)
{
    QsError err = { 0 };
    Calibration cal;
    Model *m = test_mnist_calibrated("models/mnist_cnn.qsm", 200, &cal);
    if (!m)
        return;
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q = NULL;
    static Nd nodes[512];
    static Init inits[512];
    int nn = 0, ni = 0;
    void *buf = NULL;
    size_t len = 0;
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err) &&
        CHECK_OK(onnx_serialize_plan(q, &buf, &len, &err), &err)) {
        read_model(buf, len, nodes, &nn, inits, &ni);
        /* metadata_props {key: "qscope.target", value: "qscope"}: the plan's arithmetic, as
         * the wire spells the StringStringEntryProto (field 1, 13 bytes; field 2, 6 bytes) */
        static const char kv[] = "\x0a\x0dqscope.target\x12\x06qscope";
        bool has_target = false;
        for (size_t i = 0; i + sizeof kv - 1 <= len && !has_target; i++)
            has_target = memcmp((const char *)buf + i, kv, sizeof kv - 1) == 0;
        CHECK(has_target);
        CHECK(count_op(nodes, nn, "BatchNormalization") == 0);
        CHECK(count_op(nodes, nn, "Relu") == 3);
        CHECK(count_op(nodes, nn, "Conv") == 2 && count_op(nodes, nn, "Gemm") == 2);
        /* weights: 4 int8 DQs (axis 0), 4 int32 bias DQs */
        int wdq = 0, bdq = 0;
        for (int i = 0; i < nn; i++) {
            if (strcmp(nodes[i].op, "DequantizeLinear") != 0)
                continue;
            const Init *t = find_init(inits, ni, nodes[i].in[0]);
            if (t && t->type == 3 && t->nd >= 2)
                wdq += CHECK(nodes[i].axis == 0);
            if (t && t->type == 6)
                bdq += CHECK(nodes[i].axis == 0);
        }
        CHECK(wdq == 4 && bdq == 4);
        /* Per layer: weight scales and the output's scale/zero point are the executor's. */
        const Graph *g = &m->graph;
        int heads = 0;
        for (int k = 0; k < g->n_nodes; k++) {
            const QLayerInfo *li = qmodel_layer(q, k);
            const char *nm = g->nodes[k].name;
            if (li->n_wscales > 0 && !li->absorbed) {
                char key[160];
                snprintf(key, sizeof key, "%s::weight_scale", nm);
                const Init *ws = find_init(inits, ni, key);
                if (CHECK(ws != NULL) && CHECK(ws->raw_len == (size_t)li->n_wscales * 4))
                    CHECK(memcmp(ws->raw, li->wscales, ws->raw_len) == 0);
                snprintf(key, sizeof key, "%s::weight_int8", nm);
                const Init *wq = find_init(inits, ni, key);
                CHECK(wq != NULL && wq->type == 3);
                snprintf(key, sizeof key, "%s::bias_scale", nm);
                const Init *bs = find_init(inits, ni, key);
                heads++;
                if (CHECK(bs != NULL)) {
                    /* s_in * s_w: the input's activation scale times each weight scale */
                    int in_v = g->nodes[k].in[0];
                    char sk[160];
                    snprintf(sk, sizeof sk, "%s::scale", g->values[in_v].name);
                    const Init *si = find_init(inits, ni, sk);
                    if (CHECK(si != NULL))
                        CHECK(rd_f32(bs->raw, 0) == rd_f32(si->raw, 0) * li->wscales[0]);
                }
            }
            if (li->has_act && !li->absorbed) {
                int v = g->nodes[qmodel_unit_tail(q, k)].out;
                char key[160];
                snprintf(key, sizeof key, "%s::scale", g->values[v].name);
                const Init *s = find_init(inits, ni, key);
                snprintf(key, sizeof key, "%s::zp", g->values[v].name);
                const Init *z = find_init(inits, ni, key);
                if (CHECK(s && z)) {
                    CHECK(rd_f32(s->raw, 0) == li->act.scale);
                    CHECK(*(const int8_t *)z->raw == li->act.zero_point);
                }
            }
        }
        CHECK(heads == 4);
        CHECK(count_op(nodes, nn, "QuantizeLinear") >= 8);
        /* The graph output is dequantized under its own name. */
        const char *out = g->values[g->outputs[0]].name;
        bool found = false;
        for (int i = 0; i < nn; i++)
            found |= strcmp(nodes[i].op, "DequantizeLinear") == 0 && strcmp(nodes[i].out, out) == 0;
        CHECK(found);
    }
    free(buf);
    buf = NULL;
    qmodel_free(q);
    q = NULL;
    /* fp16: half weights behind Cast */
    p.mode = PREC_FP16;
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err) &&
        CHECK_OK(onnx_serialize_plan(q, &buf, &len, &err), &err)) {
        read_model(buf, len, nodes, &nn, inits, &ni);
        int f16 = 0;
        for (int i = 0; i < ni; i++)
            f16 += inits[i].type == 10;
        CHECK(f16 == 8); /* 4 weights, 4 biases */
        CHECK(count_op(nodes, nn, "Cast") >= 8 + 2 * 4);
        CHECK(count_op(nodes, nn, "BatchNormalization") == 0);
    }
    free(buf);
    buf = NULL;
    qmodel_free(q);
    q = NULL;
    /* refusals */
    p.mode = PREC_INT8_DYN;
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err))
        expect_error("int8-dyn", onnx_serialize_plan(q, &buf, &len, &err), &err, QS_EUNSUPPORTED,
                     "int8-dyn");
    qmodel_free(q);
    q = NULL;
    p.mode = PREC_INT8_STATIC;
    p.q.bits = 4;
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err))
        expect_error("4 bits", onnx_serialize_plan(q, &buf, &len, &err), &err, QS_EUNSUPPORTED,
                     "4-bit");
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

/* ---- mixed plans: every border as the executor crosses it */

typedef struct Borders {
    const QModel *q;
    const Nd *nodes;
    int nn;
    const Init *inits;
    int ni;
    int n_to_int8, n_to_half; /* reads that needed a form of another precision */
} Borders;

static const Nd *producer(const Borders *b, const char *name)
{
    for (int i = 0; i < b->nn; i++)
        if (strcmp(b->nodes[i].out, name) == 0)
            return &b->nodes[i];
    return NULL;
}

/* How the step that produces v writes it (a graph input: as it is). */
static QRepView writer(const QModel *q, int v)
{
    for (int si = 0; si < qmodel_n_steps(q); si++) {
        QStepView s = qmodel_step(q, si);
        if (s.out == v)
            return s.writes;
    }
    return QREP_FLOAT;
}

/* `name` is written by DequantizeLinear(QuantizeLinear(*in)) with v's scale and zero point. */
static bool is_qdq_of(const Borders *b, int v, const char *name, const char **in)
{
    const Nd *dq = producer(b, name);
    if (!dq || strcmp(dq->op, "DequantizeLinear") != 0)
        return false;
    const Nd *qn = producer(b, dq->in[0]);
    QParams qp;
    if (!qn || strcmp(qn->op, "QuantizeLinear") != 0 || !qmodel_value_qparams(b->q, v, &qp))
        return false;
    const Init *s = find_init(b->inits, b->ni, qn->in[1]);
    const Init *z = find_init(b->inits, b->ni, qn->in[2]);
    *in = qn->in[0];
    return s && z && rd_f32(s->raw, 0) == qp.scale && *(const int8_t *)z->raw == qp.zero_point;
}

/* `name` is Cast(to float) of Cast(to FLOAT16) of *in. */
static bool is_half_of(const Borders *b, const char *name, const char **in)
{
    const Nd *c1 = producer(b, name);
    if (!c1 || strcmp(c1->op, "Cast") != 0 || c1->to != 1)
        return false;
    const Nd *c2 = producer(b, c1->in[0]);
    *in = c2 ? c2->in[0] : "";
    return c2 && strcmp(c2->op, "Cast") == 0 && c2->to == 10;
}

/* `name` is what a node computed, before any quantization or half rounding. */
static bool is_raw(const Borders *b, const char *name)
{
    const Nd *p = producer(b, name);
    return !p || (strcmp(p->op, "DequantizeLinear") != 0 && strcmp(p->op, "QuantizeLinear") != 0 &&
                  strcmp(p->op, "Cast") != 0);
}

/* `name` is v as its producer left it (written `w`). */
static bool is_base(const Borders *b, int v, QRepView w, const char *name)
{
    const char *in = "";
    const Graph *g = qmodel_graph(b->q);
    switch (w) {
    case QREP_INT8: return is_qdq_of(b, v, name, &in) && is_raw(b, in);
    case QREP_HALF: return is_half_of(b, name, &in) && is_raw(b, in);
    default: return strcmp(name, g->values[v].name) == 0;
    }
}

/* The exported graph hands value v to a step that reads `reads` under `name`. */
static bool reads_as_executor(Borders *b, int v, QRepView reads, const char *name)
{
    QRepView w = writer(b->q, v);
    const char *in = "";
    if (reads == QREP_INT8 && w != QREP_INT8) {
        b->n_to_int8++;
        return is_qdq_of(b, v, name, &in) && is_base(b, v, w, in);
    }
    if (reads == QREP_HALF && w != QREP_HALF) {
        b->n_to_half++;
        return is_half_of(b, name, &in) && is_base(b, v, w, in);
    }
    return is_base(b, v, w, name);
}

static int node_named(const Graph *g, const char *name)
{
    for (int k = 0; k < g->n_nodes; k++)
        if (strcmp(g->nodes[k].name, name) == 0)
            return k;
    return -1;
}

/* Builds plan mode + pins (NULL-terminated "layer", "precision" pairs), exports it and
 * checks every step head's non-constant inputs; at least min_q reads need a QDQ form and
 * min_h a half form. */
static void check_borders(const char *label, const Model *m, const Calibration *cal,
                          PrecKind mode, const char *const *pins, int min_q, int min_h)
{
    static Nd nodes[1024];
    static Init inits[1024];
    const Graph *g = &m->graph;
    QsError err = { 0 };
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = mode;
    for (int i = 0; pins[i]; i += 2) {
        int k = node_named(g, pins[i]);
        if (CHECK(k >= 0))
            p.pin[k] = (int8_t)precision_find(pins[i + 1]);
    }
    QModel *q = NULL;
    void *buf = NULL;
    size_t len = 0;
    if (CHECK_OK(qmodel_build(m, &p, cal, &q, &err), &err) &&
        CHECK_OK(onnx_serialize_plan(q, &buf, &len, &err), &err)) {
        Borders b = { .q = q, .nodes = nodes, .inits = inits };
        read_model(buf, len, nodes, &b.nn, inits, &b.ni);
        int bad = 0;
        for (int si = 0; si < qmodel_n_steps(q); si++) {
            QStepView s = qmodel_step(q, si);
            const Node *h = &g->nodes[s.head];
            const Nd *on = NULL;
            for (int i = 0; i < b.nn && !on; i++)
                on = strcmp(nodes[i].name, h->name) == 0 ? &nodes[i] : NULL;
            if (!CHECK(on != NULL))
                continue;
            for (int i = 0; i < h->n_in && i < on->n_in; i++) {
                int v = h->in[i];
                if (v < 0 || g->values[v].kind == VAL_CONST)
                    continue;
                if (!reads_as_executor(&b, v, s.reads, on->in[i])) {
                    fprintf(stderr, "%s: '%s' reads '%s' as '%s', not as the executor does\n",
                            label, h->name, g->values[v].name, on->in[i]);
                    bad++;
                }
            }
        }
        CHECK(bad == 0);
        if (!CHECK(b.n_to_int8 >= min_q && b.n_to_half >= min_h))
            fprintf(stderr, "%s: %d reads quantize, %d round to half\n", label, b.n_to_int8,
                    b.n_to_half);
    }
    free(buf);
    qmodel_free(q);
    plan_release(&p);
}

static void test_mixed_borders(void)
{
    QsError err = { 0 };
    Model *cnn = qsm_load("models/mnist_cnn.qsm", &err);
    Model *det = qsm_load("models/det_balls.qsm", &err);
    Tensor *x = test_mnist_x(100);
    SynthArgs sa;
    synth_args_init(synth_find("balls"), &sa, 32, 5);
    Dataset balls = { 0 };
    Calibration ccal = { 0 }, dcal = { 0 };
    Dataset d = { .x = { x }, .n_x = 1 };
    if (CHECK(cnn && det && x) &&
        CHECK_OK(synth_balls_make(&sa, &balls, &err), &err) &&
        CHECK_OK(calib_run(&cnn->graph, &d, 100, 50, 0.01, NULL, &ccal, &err), &err) &&
        CHECK_OK(calib_run(&det->graph, &balls, 32, 16, 0.01, NULL, &dcal, &err), &err)) {
        /* int8 -> fp16 -> int8 twice (pool2 quantizes conv2's half output, fc2 fc1's) */
        check_borders("cnn int8, conv2 fc1 fp16", cnn, &ccal, PREC_INT8_STATIC,
                      (const char *const[]){ "conv2", "fp16", "fc1", "fp16", NULL }, 2, 2);
        /* fp16 -> int8 -> fp16 */
        check_borders("cnn fp16, conv2 fc2 int8", cnn, &ccal, PREC_FP16,
                      (const char *const[]){ "conv2", "int8-static", "fc2", "int8-static",
                                             NULL }, 2, 1);
        /* relu3 (fp32) is read by conv4 (fp16) and the int8 skip concat; up (fp16) by skip */
        check_borders("det int8, conv3 fp32, conv4 up fp16", det, &dcal, PREC_INT8_STATIC,
                      (const char *const[]){ "conv3", "fp32", "conv4", "fp16", "up", "fp16",
                                             NULL }, 3, 2);
        check_borders("det fp16, conv4 skip heat int8", det, &dcal, PREC_FP16,
                      (const char *const[]){ "conv4", "int8-static", "skip", "int8-static",
                                             "heat", "int8-static", NULL }, 3, 2);
    }
    calib_release(&ccal);
    calib_release(&dcal);
    dataset_release(&balls);
    tensor_free(x);
    model_free(cnn);
    model_free(det);
}

int main(void)
{
    test_qsm_round_trip();
    test_fixture_round_trip();
    test_qdq_layout();
    test_mixed_borders();
    return test_summary("onnx_export");
}
