/* TFLite import (src/formats/tflite/tflite_import.h):
 *   - mnist_dw at int8 with uint8 IO, exported in memory and read back: the graph's layers,
 *     its input in qscope's order, the file's parameters (weights' int8 codes exactly the
 *     plan's, int32 biases exactly the plan's, activations' scale and zero point), and the
 *     integer run on the imported calibration equal to the exporting plan's, byte for byte;
 *   - the damaged-file corpus (run under the sanitizers too): truncations at every length
 *     step, a vector longer than the file, a table whose vtable is itself, an operator index
 *     out of range, huge shapes (a graph input the budget refuses, an activation whose shape
 *     contradicts its operator), an operator reading a tensor before it is written, and a
 *     sweep of single-byte corruptions: each is a clear error or a model, never a crash. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/model.h"
#include "qexec/qexec.h"
#include "qexec/qexec_view.h"
#include "quant/calib.h"
#include "quant/plan.h"
#include "test_mnist.h"
#include "test_quant.h"
#include "test_util.h"
#include "tflite/tflite_export.h"
#include "tflite/tflite_import.h"
#include "tflite/tflite_schema.h"

static uint32_t rd32(const uint8_t *b, size_t p) { uint32_t x; memcpy(&x, b + p, 4); return x; }
static uint16_t rd16(const uint8_t *b, size_t p) { uint16_t x; memcpy(&x, b + p, 2); return x; }
static void wr32(uint8_t *b, size_t p, uint32_t x) { memcpy(b + p, &x, 4); }

/* Where field f of the table at t is stored (0: absent). */
static size_t fb_field(const uint8_t *b, size_t t, int f)
{
    size_t vt = t - (size_t)(int32_t)rd32(b, t);
    size_t e = 4 + 2 * (size_t)f;
    if (e + 2 > rd16(b, vt))
        return 0;
    uint16_t off = rd16(b, vt + e);
    return off ? t + off : 0;
}
/* The target of the uoffset at p. */
static size_t fb_deref(const uint8_t *b, size_t p) { return p + rd32(b, p); }
/* Element i of the vector of tables at vector position v. */
static size_t fb_elem(const uint8_t *b, size_t v, uint32_t i)
{
    return fb_deref(b, v + 4 + 4 * (size_t)i);
}

static size_t fb_subgraph0(const uint8_t *b)
{
    size_t root = rd32(b, 0);
    return fb_elem(b, fb_deref(b, fb_field(b, root, MODEL_SUBGRAPHS)), 0);
}

/* mnist_dw at int8, uint8 IO, calibrated on 200 digits: the file and its plan. */
static void *export_dw(size_t *len, Model **m_out, QModel **q_out, Plan *p, Calibration *cal)
{
    QsError err = { 0 };
    Model *m = test_mnist_calibrated("models/mnist_dw.qsm", 200, cal);
    if (!m)
        return NULL;
    plan_init(p, m->graph.n_nodes);
    p->mode = PREC_INT8_STATIC;
    QModel *q = NULL;
    void *buf = NULL;
    TfliteOpts o = { .io = TFLIO_UINT8, .batch = 1 };
    if (!CHECK_OK(qmodel_build(m, p, cal, &q, &err), &err) ||
        !CHECK_OK(tflite_serialize_plan(q, &o, &buf, len, NULL, &err), &err)) {
        qmodel_free(q);
        model_free(m);
        return NULL;
    }
    *m_out = m;
    *q_out = q;
    return buf;
}

static void test_roundtrip(const void *buf, size_t len, Model *m0, QModel *q0)
{
    QsError err = { 0 };
    TflImportQuant tq;
    Model *m = tflite_import_buffer(buf, len, &tq, &err);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    const Graph *g = &m->graph;
    CHECK(strcmp(tq.variant, "int8") == 0 && strcmp(tq.target, "qscope") == 0);
    CHECK(g->n_inputs == 1 && g->values[g->inputs[0]].shape.ndim == 4);
    CHECK(g->values[g->inputs[0]].shape.dim[1] == 1 && g->values[g->inputs[0]].shape.dim[2] == 28);
    /* the uint8 input's parameters on the int8 grid: the same as the plan's input */
    QParams want;
    CHECK(qmodel_value_qparams(q0, m0->graph.inputs[0], &want));
    int found = 0;
    for (int i = 0; i < tq.n_values; i++)
        if (strcmp(tq.values[i].value, g->values[g->inputs[0]].name) == 0) {
            found++;
            CHECK(tq.values[i].scale == want.scale && tq.values[i].zero_point == want.zero_point);
        }
    CHECK(found == 1);
    /* every linear unit's codes and bias are the plan's (the view exporters read) */
    int units = 0;
    for (int s = 0; s < qmodel_n_steps(q0); s++) {
        QStepView v = qmodel_step(q0, s);
        if (v.kind != QSTEP_LIN_INT8)
            continue;
        units++;
        bool matched = false;
        for (int i = 0; i < tq.n_weights && !matched; i++) {
            const TflQWeights *w = &tq.weights[i];
            if (w->oc * w->k != v.lin.oc * v.lin.k || !w->bias)
                continue;
            matched = memcmp(w->codes, v.lin.wq, (size_t)(w->oc * w->k)) == 0 &&
                      memcmp(w->bias, v.lin.bq, (size_t)w->oc * 4) == 0 &&
                      memcmp(w->scales, v.lin.ws, (size_t)w->n_scales * 4) == 0;
        }
        CHECK(matched);
    }
    CHECK(units == tq.n_weights && units >= 3);
    /* the integer run on the imported parameters: the exporting plan's outputs */
    Plan p;
    Calibration cal;
    QModel *q = NULL;
    if (CHECK_OK(tflite_import_plan(m, &tq, "test", &p, &cal, &err), &err)) {
        CHECK(p.mode == PREC_INT8_STATIC && cal.imported != NULL);
        Tensor *x = test_mnist_x(16);
        if (x && CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
            Tensor *a = tu_run(qmodel_executor(q0), x), *b = tu_run(qmodel_executor(q), x);
            CHECK(a && b && tensor_numel(a) == tensor_numel(b) &&
                  memcmp(a->data, b->data, (size_t)tensor_numel(a) * 4) == 0);
            tensor_free(a);
            tensor_free(b);
        }
        tensor_free(x);
        qmodel_free(q);
        plan_release(&p);
        calib_release(&cal);
    }
    tflite_import_quant_release(&tq);
    model_free(m);
}

/* A damaged copy must fail with code (when code != QS_OK) and a message holding needle. */
static void expect_damaged(const char *label, const uint8_t *b, size_t len, QsStatus code,
                           const char *needle)
{
    QsError err = { 0 };
    TflImportQuant tq;
    Model *m = tflite_import_buffer(b, len, &tq, &err);
    if (m) {
        CHECK(!label);
        tflite_import_quant_release(&tq);
        model_free(m);
        return;
    }
    expect_error(label, err.code, &err, code, needle);
}

static void test_damaged(const uint8_t *good, size_t len)
{
    uint8_t *b = xmalloc(len);
    /* truncations: the root, vectors and buffers pass the end */
    for (size_t n = 0; n < len; n += n < 64 ? 1 : 997) {
        QsError err = { 0 };
        TflImportQuant tq;
        Model *m = tflite_import_buffer(good, n, &tq, &err);
        CHECK(m == NULL && err.code == QS_EFORMAT);
        model_free(m);
    }
    size_t sg = fb_subgraph0(good);
    /* a vector longer than the file: model.buffers */
    memcpy(b, good, len);
    wr32(b, fb_deref(b, fb_field(b, rd32(b, 0), MODEL_BUFFERS)), 0x7fffffffu);
    expect_damaged("long vector", b, len, QS_EFORMAT, "passes the end of the buffer");
    /* a table whose vtable is the table itself (soffset 0) */
    memcpy(b, good, len);
    wr32(b, sg, 0);
    expect_damaged("self vtable", b, len, QS_EFORMAT, "vtable size");
    /* operator 1's first input out of range */
    memcpy(b, good, len);
    size_t ops = fb_deref(b, fb_field(b, sg, SUBGRAPH_OPERATORS));
    size_t op1 = fb_elem(b, ops, 1);
    size_t ins = fb_deref(b, fb_field(b, op1, OPERATOR_INPUTS));
    wr32(b, ins + 4, 1000000);
    expect_damaged("index", b, len, QS_EFORMAT, "out of range");
    /* operator 1 reads operator 2's output: before it is written */
    memcpy(b, good, len);
    size_t op2 = fb_elem(b, ops, 2);
    size_t outs2 = fb_deref(b, fb_field(b, op2, OPERATOR_OUTPUTS));
    wr32(b, ins + 4, rd32(b, outs2 + 4));
    expect_damaged("order", b, len, QS_EFORMAT, "before anything writes it");
    /* a huge graph input: every sample dim 2^31 - 1 */
    memcpy(b, good, len);
    size_t tens = fb_deref(b, fb_field(b, sg, SUBGRAPH_TENSORS));
    size_t in0 = rd32(b, fb_deref(b, fb_field(b, sg, SUBGRAPH_INPUTS)) + 4);
    size_t shape = fb_deref(b, fb_field(b, fb_elem(b, tens, (uint32_t)in0), TENSOR_SHAPE));
    for (uint32_t k = 1; k < rd32(b, shape); k++)
        wr32(b, shape + 4 + 4 * k, 0x7fffffffu);
    expect_damaged("huge input", b, len, QS_ENOMEM, "the budget allows");
    /* an activation whose file shape contradicts its operator: operator 1's output */
    memcpy(b, good, len);
    size_t out1 = rd32(b, fb_deref(b, fb_field(b, op1, OPERATOR_OUTPUTS)) + 4);
    shape = fb_deref(b, fb_field(b, fb_elem(b, tens, (uint32_t)out1), TENSOR_SHAPE));
    wr32(b, shape + 8, 0x7fffffffu);
    expect_damaged("huge activation", b, len, QS_EFORMAT, "does not match");
    /* single-byte corruptions over the whole file: an error or a model, never a crash */
    for (size_t p = 8; p < len; p += 13) {
        memcpy(b, good, len);
        b[p] ^= 0xa5;
        QsError err = { 0 };
        TflImportQuant tq;
        Model *m = tflite_import_buffer(b, len, &tq, &err);
        if (m)
            tflite_import_quant_release(&tq);
        else
            CHECK(err.code != QS_OK && err.msg[0]);
        model_free(m);
    }
    free(b);
}

int main(void)
{
    size_t len = 0;
    Model *m0 = NULL;
    QModel *q0 = NULL;
    Plan p;
    Calibration cal;
    void *buf = export_dw(&len, &m0, &q0, &p, &cal);
    if (buf) {
        test_roundtrip(buf, len, m0, q0);
        test_damaged(buf, len);
        free(buf);
        qmodel_free(q0);
        plan_release(&p);
        calib_release(&cal);
        model_free(m0);
    }
    return test_summary("tflite_import");
}
