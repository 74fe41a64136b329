/* ONNX export: the float graph, and a lowered plan as QDQ (int8-static) or half-weight
 * (fp16) ONNX. docs/onnx.md, "Export", states the layouts.
 *
 * Float nodes are written by their export rows (onnx_export_ops.c). The quantized layouts
 * read the lowered plan's own numbers through the executor's read-only view (qexec_view.h:
 * the steps, each unit's int8 weights, per-channel scales, int32 biases, and every
 * value's calibrated QParams, and how each step reads and writes values), so ONNX Runtime
 * is handed exactly what qscope's integer executor uses, border conversions included;
 * nothing is re-derived here. */
#include "onnx/onnx_export.h"

#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "onnx/onnx_export_write.h"
#include "ops/op.h"
#include "qexec/qexec_view.h"
#include "quant/target.h"

#define EX_OPSET 17
#define EX_IR 8

/* QuantizeLinear + DequantizeLinear of value v (read as `in`) with its QParams. */
static void ex_qdq(Ex *x, int v, const char *in)
{
    QParams qp;
    bool has_qp = qmodel_value_qparams(x->q, v, &qp);
    QS_ASSERT(has_qp); /* the lowering gives every int8 value its parameters */
    const char *s = ex_scalar_f32(x, ex_str(x, "%s::scale", vname(x, v)), qp.scale);
    int8_t z = (int8_t)qp.zero_point;
    const char *zn = ex_str(x, "%s::zp", vname(x, v));
    ex_init(x, zn, T_INT8, NULL, 0, &z, 1);
    const char *q = ex_str(x, "%s::int8", vname(x, v));
    const char *qin[3] = { in, s, zn }, *dqin[3] = { q, s, zn };
    ex_node(x, "QuantizeLinear", ex_str(x, "%s::quantize", vname(x, v)), qin, 3, q, NULL);
    ex_node(x, "DequantizeLinear", ex_str(x, "%s::dequantize", vname(x, v)), dqin, 3,
            qdq_name(x, v), NULL);
}

/* A Cast to FLOAT16 and back: value v (read as `in`) rounded to half. */
static void ex_half(Ex *x, int v, const char *in)
{
    const char *h = ex_str(x, "%s::f16", vname(x, v));
    ex_cast(x, ex_str(x, "%s::to_f16", vname(x, v)), in, h, T_FLOAT16);
    ex_cast(x, ex_str(x, "%s::to_f32", vname(x, v)), h, half_name(x, v), T_FLOAT);
}

/* Value v's forms, right after its producer: the pair that makes its base, then the forms
 * readers of other precisions take from the base. */
static void ex_forms(Ex *x, int v)
{
    if (x->base[v] == BASE_QDQ)
        ex_qdq(x, v, prod_name(x, v));
    else if (x->base[v] == BASE_HALF)
        ex_half(x, v, prod_name(x, v));
    if (x->forms[v] & FORM_QDQ)
        ex_qdq(x, v, base_name(x, v));
    if (x->forms[v] & FORM_HALF)
        ex_half(x, v, base_name(x, v));
}

/* ---- quantized and half units */

/* The value a unit head's export writes: its absorbed BatchNormalization's output (the BN
 * is folded into the weights and not exported), or the head's own. */
static int unit_out(const Ex *x, int head)
{
    int out = x->g->nodes[head].out;
    for (int k = 0; k < x->g->n_nodes; k++) {
        const QLayerInfo *li = qmodel_layer(x->q, k);
        if (li->unit == head && li->absorbed && x->g->nodes[k].op == OP_BATCHNORM)
            out = x->g->nodes[k].out;
    }
    return out;
}

/* (OC, K) row-major weights of es bytes each, copied as written: as they are, or
 * transposed to (K, OC) for a MatMul. */
static void *ex_weight_layout(const void *src, size_t es, int64_t oc, int64_t k,
                              bool transposed)
{
    char *dst = xmalloc((size_t)(oc * k) * es);
    for (int64_t r = 0; r < oc; r++)
        for (int64_t c = 0; c < k; c++)
            memcpy(dst + (size_t)(transposed ? c * oc + r : r * k + c) * es,
                   (const char *)src + (size_t)(r * k + c) * es, es);
    return dst;
}

/* The int8 weights behind a (per-channel) DequantizeLinear and the int32 bias behind one
 * of scale s_in * s_w: *w and *b receive the float values' names. */
static void ex_unit_int8(Ex *x, const char *name, const QLinearView *l, const int64_t *wd,
                         int wnd, bool transposed, const char **w, const char **b)
{
    int64_t oc = l->oc, k = l->k;
    int8_t *wq = ex_weight_layout(l->wq, 1, oc, k, transposed);
    const char *wqn = ex_str(x, "%s::weight_int8", name);
    ex_init(x, wqn, T_INT8, wd, wnd, wq, (size_t)(oc * k));
    free(wq);
    bool per_ch = l->n_wscales > 1;
    int64_t nsc = per_ch ? oc : 1;
    float *bs = xmalloc((size_t)oc * sizeof *bs);
    int8_t *z8 = xcalloc((size_t)oc, 1);
    int32_t *z32 = xcalloc((size_t)oc, sizeof *z32);
    for (int64_t c = 0; c < oc; c++)
        bs[c] = l->in_qp.scale * l->ws[per_ch ? c : 0];
    const char *wsn = ex_str(x, "%s::weight_scale", name);
    const char *wzn = ex_str(x, "%s::weight_zp", name);
    ex_init(x, wsn, T_FLOAT, &nsc, per_ch ? 1 : 0, l->ws, (size_t)nsc * sizeof(float));
    ex_init(x, wzn, T_INT8, &nsc, per_ch ? 1 : 0, z8, (size_t)nsc);
    PbWriter ax;
    pb_writer_init(&ax);
    if (per_ch)
        at_int(&ax, "axis", transposed ? 1 : 0);
    *w = ex_str(x, "%s::weight", name);
    ex_node(x, "DequantizeLinear", ex_str(x, "%s::weight_dequantize", name),
            (const char *[]){ wqn, wsn, wzn }, 3, *w, &ax);
    pb_writer_release(&ax);
    const char *bqn = ex_str(x, "%s::bias_int32", name);
    const char *bsn = ex_str(x, "%s::bias_scale", name);
    const char *bzn = ex_str(x, "%s::bias_zp", name);
    ex_init(x, bqn, T_INT32, &oc, 1, l->bq, (size_t)oc * sizeof(int32_t));
    ex_init(x, bsn, T_FLOAT, &oc, 1, bs, (size_t)oc * sizeof(float));
    ex_init(x, bzn, T_INT32, &oc, 1, z32, (size_t)oc * sizeof(int32_t));
    pb_writer_init(&ax);
    at_int(&ax, "axis", 0);
    *b = ex_str(x, "%s::bias", name);
    ex_node(x, "DequantizeLinear", ex_str(x, "%s::bias_dequantize", name),
            (const char *[]){ bqn, bsn, bzn }, 3, *b, &ax);
    pb_writer_release(&ax);
    free(bs);
    free(z8);
    free(z32);
}

/* The half weights and bias behind a Cast to float: *w and *b receive the float names. */
static void ex_unit_half(Ex *x, const char *name, const QLinearView *l, const int64_t *wd,
                         int wnd, bool transposed, const char **w, const char **b)
{
    int64_t oc = l->oc, k = l->k;
    uint16_t *wh = ex_weight_layout(l->wh, sizeof *wh, oc, k, transposed);
    const char *whn = ex_str(x, "%s::weight_f16", name);
    ex_init(x, whn, T_FLOAT16, wd, wnd, wh, (size_t)(oc * k) * 2);
    free(wh);
    const char *bhn = ex_str(x, "%s::bias_f16", name);
    ex_init(x, bhn, T_FLOAT16, &oc, 1, l->bh, (size_t)oc * 2);
    *w = ex_str(x, "%s::weight", name);
    *b = ex_str(x, "%s::bias", name);
    ex_cast(x, ex_str(x, "%s::weight_cast", name), whn, *w, T_FLOAT);
    ex_cast(x, ex_str(x, "%s::bias_cast", name), bhn, *b, T_FLOAT);
}

/* A linear unit head with its folded weights: int8 + per-channel DequantizeLinear and an
 * int32 bias (QSTEP_LIN_INT8), or FLOAT16 + Cast (QSTEP_LIN_HALF). */
static void ex_unit(Ex *x, const QStepView *s)
{
    const QLinearView *l = &s->lin;
    const Node *n = &x->g->nodes[s->head];
    const char *name = n->name, *out = prod_name(x, unit_out(x, s->head));
    int64_t oc = l->oc, k = l->k;
    bool conv = l->conv, rank2 = value_rank(x, n->in[0]) == 2;
    bool transposed = !conv && !rank2; /* MatMul with W^T (K, OC), channels on axis 1 */
    int64_t wd[QS_MAX_DIMS];
    int wnd;
    if (conv) {
        wnd = l->wshape.ndim;
        memcpy(wd, l->wshape.dim, (size_t)wnd * sizeof *wd);
    } else if (transposed) {
        wnd = 2, wd[0] = k, wd[1] = oc;
    } else {
        wnd = 2, wd[0] = oc, wd[1] = k;
    }
    const char *w, *b;
    if (s->kind == QSTEP_LIN_INT8)
        ex_unit_int8(x, name, l, wd, wnd, transposed, &w, &b);
    else
        ex_unit_half(x, name, l, wd, wnd, transposed, &w, &b);
    const char *xin = in_name(x, s->head, 0, false);
    PbWriter a;
    pb_writer_init(&a);
    if (conv) {
        at_copy(&a, n, NULL);
        ex_node(x, "Conv", name, (const char *[]){ xin, w, b }, 3, out, &a);
    } else if (!transposed) {
        at_int(&a, "transB", 1);
        ex_node(x, "Gemm", name, (const char *[]){ xin, w, b }, 3, out, &a);
    } else {
        const char *h = ex_str(x, "%s::matmul", name);
        ex_node(x, "MatMul", h, (const char *[]){ xin, w }, 2, h, NULL);
        ex_node(x, "Add", name, (const char *[]){ h, b }, 2, out, NULL);
    }
    pb_writer_release(&a);
}

/* ---- the model */

static void ex_value_info(PbWriter *list, uint32_t field, const char *name, const Shape *s)
{
    PbWriter vi, tp, tt, sh;
    pb_writer_init(&sh);
    for (int i = 0; i < s->ndim; i++) {
        PbWriter d;
        pb_writer_init(&d);
        if (i == 0)
            pb_put_string(&d, 2, "N");
        else
            pb_put_int64(&d, 1, s->dim[i]);
        pb_put_message(&sh, 1, &d);
        pb_writer_release(&d);
    }
    pb_writer_init(&tt);
    pb_put_varint(&tt, 1, T_FLOAT);
    pb_put_message(&tt, 2, &sh);
    pb_writer_init(&tp);
    pb_put_message(&tp, 1, &tt);
    pb_writer_init(&vi);
    pb_put_string(&vi, 1, name);
    pb_put_message(&vi, 2, &tp);
    pb_put_message(list, field, &vi);
    pb_writer_release(&vi);
    pb_writer_release(&tp);
    pb_writer_release(&tt);
    pb_writer_release(&sh);
}

/* The forms of every value, from the steps as the executor runs them: each step's output
 * has the base its step writes; each step's head reads its non-constant inputs in the
 * step's representation, which is the base or a form made from it. */
static void ex_mark_forms(Ex *x)
{
    const Graph *g = x->g;
    int ns = qmodel_n_steps(x->q);
    for (int si = 0; si < ns; si++) {
        QStepView s = qmodel_step(x->q, si);
        x->base[s.out] = s.writes == QREP_INT8 ? BASE_QDQ
                         : s.writes == QREP_HALF ? BASE_HALF : BASE_PLAIN;
    }
    for (int si = 0; si < ns; si++) {
        QStepView s = qmodel_step(x->q, si);
        const Node *h = &g->nodes[s.head];
        x->reads[s.head] = (uint8_t)s.reads;
        for (int i = 0; i < h->n_in; i++) {
            int v = h->in[i];
            if (v < 0 || g->values[v].kind == VAL_CONST)
                continue;
            if (s.reads == QREP_INT8 && x->base[v] != BASE_QDQ)
                x->forms[v] |= FORM_QDQ;
            if (s.reads == QREP_HALF && x->base[v] != BASE_HALF)
                x->forms[v] |= FORM_HALF;
        }
    }
}

/* Node ni as its plan step runs it: part of a linear unit (written by its head), or one
 * float node; then the forms of what it wrote. */
static void ex_plan_node(Ex *x, int ni)
{
    const Node *n = &x->g->nodes[ni];
    const QLayerInfo *li = qmodel_layer(x->q, ni);
    QStepView s = qmodel_step(x->q, qmodel_step_of(x->q, ni));
    bool lin = s.kind == QSTEP_LIN_INT8 || s.kind == QSTEP_LIN_HALF;
    if (lin && li->absorbed && n->op == OP_BATCHNORM)
        return; /* folded into the head's weights */
    if (lin && s.head == ni) {
        ex_unit(x, &s);
        ex_forms(x, unit_out(x, ni));
        return;
    }
    ex_float_node(x, ni, s.kind == QSTEP_HALF);
    ex_forms(x, n->out);
}

/* One metadata_props entry of the ModelProto. */
static void ex_metadata(PbWriter *model, const char *key, const char *value)
{
    PbWriter kv;
    pb_writer_init(&kv);
    pb_put_string(&kv, 1, key);
    pb_put_string(&kv, 2, value);
    pb_put_message(model, 14, &kv);
    pb_writer_release(&kv);
}

/* The ModelProto around the finished graph. */
static QsStatus ex_model(Ex *x, void **out, size_t *out_len)
{
    PbWriter model, os;
    pb_writer_init(&model);
    pb_put_varint(&model, 1, EX_IR);
    pb_put_string(&model, 2, "qscope");
    pb_put_string(&model, 3, "0.1");
    pb_put_message(&model, 7, &x->graph);
    pb_writer_init(&os);
    pb_put_string(&os, 1, "");
    pb_put_varint(&os, 2, EX_OPSET);
    pb_put_message(&model, 8, &os);
    pb_writer_release(&os);
    for (int i = 0; i < x->m->n_meta; i++)
        ex_metadata(&model, x->m->meta[i].key, x->m->meta[i].value);
    /* the arithmetic the QDQ file's integers were computed with (docs/quantization.md) */
    if (x->q && plan_needs_calibration(qmodel_plan(x->q)))
        ex_metadata(&model, "qscope.target", qmodel_target(x->q)->name);
    if (pb_writer_status(&model, x->err)) {
        pb_writer_release(&model);
        return x->err->code;
    }
    *out = model.buf;
    *out_len = model.len;
    return QS_OK;
}

static QsStatus ex_run(Ex *x, void **out, size_t *out_len)
{
    const Graph *g = x->g;
    int nv = g->n_values;
    x->init_done = xcalloc((size_t)nv, sizeof *x->init_done);
    x->base = xcalloc((size_t)nv, sizeof *x->base);
    x->forms = xcalloc((size_t)nv, sizeof *x->forms);
    x->is_output = xcalloc((size_t)nv, sizeof *x->is_output);
    pb_writer_init(&x->graph);
    for (int i = 0; i < g->n_outputs; i++)
        x->is_output[g->outputs[i]] = true;
    if (x->q) {
        x->reads = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *x->reads);
        ex_mark_forms(x);
    }
    pb_put_string(&x->graph, 2, "qscope");
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        ex_value_info(&x->graph, 11, vname(x, v), &g->values[v].shape);
        ex_forms(x, v);
    }
    for (int k = 0; k < g->n_nodes && !x->st; k++) {
        if (x->q)
            ex_plan_node(x, g->order[k]);
        else
            ex_float_node(x, g->order[k], false);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        ex_value_info(&x->graph, 12, vname(x, v), &g->values[v].shape);
    }
    if (x->st)
        return x->st;
    return ex_model(x, out, out_len);
}

static void ex_release(Ex *x)
{
    pb_writer_release(&x->graph);
    free(x->init_done);
    free(x->base);
    free(x->forms);
    free(x->reads);
    free(x->is_output);
    for (int i = 0; i < x->n_pool; i++)
        free(x->pool[i]);
    free(x->pool);
}

QsStatus onnx_serialize(const Model *m, void **out, size_t *out_len, QsError *err)
{
    Ex x;
    memset(&x, 0, sizeof x);
    x.m = m;
    x.g = &m->graph;
    x.err = err;
    QsStatus st = ex_run(&x, out, out_len);
    ex_release(&x);
    return st;
}

QsStatus onnx_serialize_plan(const QModel *q, void **out, size_t *out_len, QsError *err)
{
    Ex x;
    memset(&x, 0, sizeof x);
    x.m = qmodel_model(q);
    x.g = qmodel_graph(q);
    x.err = err;
    const Plan *p = qmodel_plan(q);
    PrecKind blocker = PREC_FP32;
    PrecOnnx layout = plan_onnx_layout(p, &blocker);
    if (layout == PONNX_NONE)
        return qs_fail(err, QS_EUNSUPPORTED, "%s", precision_table[blocker].onnx_none);
    if (layout == PONNX_QDQ && p->q.bits != 8)
        return qs_fail(err, QS_EUNSUPPORTED, "%d-bit quantization has no ONNX QDQ layout "
                       "(ONNX int8 covers 8 bits only)", p->q.bits);
    /* a plan that runs everything in fp32 is the float graph */
    x.q = layout == PONNX_FLOAT ? NULL : q;
    QsStatus st = ex_run(&x, out, out_len);
    ex_release(&x);
    return st;
}

static QsStatus ex_write(const char *path, QsStatus st, void *buf, size_t len, QsError *err)
{
    if (!st)
        st = fileio_write_atomic(path, buf, len, err);
    free(buf);
    return st;
}

QsStatus onnx_save(const char *path, const Model *m, QsError *err)
{
    void *buf = NULL;
    size_t len = 0;
    QsStatus st = onnx_serialize(m, &buf, &len, err);
    return ex_write(path, st, buf, len, err);
}

QsStatus onnx_save_plan(const char *path, const QModel *q, QsError *err)
{
    void *buf = NULL;
    size_t len = 0;
    QsStatus st = onnx_serialize_plan(q, &buf, &len, err);
    return ex_write(path, st, buf, len, err);
}
