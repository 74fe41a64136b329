/* The QAT training graph and its export (qat_graph.h, docs/qat.md).
 *
 * Where the FakeQuant nodes go is read off the integer executor's own lowering of the plan
 * (qmodel_build, then qmodel_layer per node: its unit, whether it is absorbed, whether it
 * runs an integer kernel) and the op table's int8 rows, and the units are grouped and
 * folded by the executor's own graph/linear_unit.h, so the training graph quantizes exactly
 * where the executor does:
 *   - every int8 linear unit: its folded weights (per channel or per tensor, symmetric) and
 *     its output (after the fused Relu/Clip, which the executor applies as a clamp on the
 *     output grid: the same thing, by monotonicity);
 *   - int8 Add, Concat, AveragePool, GlobalAveragePool: their output, with its own range;
 *   - int8 MaxPool, Relu, layout ops: nothing (they keep their input's grid exactly); a
 *     standalone Clip re-quantizes on its input's grid (its bounds may fall between codes);
 *   - a value made in float (a graph input, a float fallback, a layer pinned to fp32/fp16)
 *     and read by an int8 layer: a FakeQuant that only the int8 readers see.
 * Each FakeQuant's grid starts from the calibration through the plan's observer, as the
 * executor's lowering does. A unit's bias is rounded to the int32 grid s_in s_w[c] as the
 * executor rounds it (that step is not always small: a per-tensor weight scale set by one
 * large channel makes it coarse); fp16 and int8-dyn layers run in float. */
#include "qat/qat_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/observer.h"
#include "graph/linear_unit.h"
#include "ops/op.h"
#include "qexec/qexec.h"
#include "ptq/qstate.h"
#include "base/quant.h"

const char *const qat_scales_names[QAT_SCALES_COUNT] = { "ema", "learn" };

/* Node kinds, from the executor's lowering. */
enum { K_FLOAT = 0, K_LIN, K_ABSORBED, K_QOWN, K_QPASS, K_QCLIP };

typedef struct Build {
    QatGraph *qg;
    const Graph *mg;
    const Calibration *cal;
    int *kind;           /* [model nodes] */
    LinearUnit *units;   /* [model nodes] the int8 unit each node heads (head -1: none) */
    bool *int8_read;     /* [model values] read as int8 by some layer */
    int *slot_of;        /* [model values] the act whose grid an int8 value is on, -1 */
    int *qv;             /* [model values] the training value int8 readers see, -1 */
} Build;

static bool qg_is_const(const Graph *g, int v) { return v >= 0 && g->values[v].kind == VAL_CONST; }

static float *qg_data(const QatGraph *qg, int v) { return tensor_f32(qg->g.values[v].data); }

/* ---- graph building helpers --------------------------------------------------------- */

/* A new owned f32 constant, zero-filled or copied from data. */
static QsStatus qg_const(QatGraph *qg, const char *name, Shape shape, const float *data,
                         bool param, int *idx, QsError *err)
{
    Tensor *t = tensor_new(DT_F32, shape, err);
    if (!t)
        return err->code;
    if (data)
        memcpy(t->data, data, tensor_bytes(t));
    if (graph_add_const(&qg->g, name, t, param, err))
        return err->code;
    *idx = qg->g.n_values - 1;
    return QS_OK;
}

/* The training graph's copy of model constant mv (made on first use). */
static QsStatus qg_copy_const(Build *b, int mv, int *idx, QsError *err)
{
    QatGraph *qg = b->qg;
    if (qg->const_of[mv] >= 0) {
        *idx = qg->const_of[mv];
        return QS_OK;
    }
    const Value *v = &b->mg->values[mv];
    Tensor *t = tensor_clone(v->data, err);
    if (!t || graph_add_const(&qg->g, v->name, t, v->is_param, err))
        return err->code;
    *idx = qg->const_of[mv] = qg->g.n_values - 1;
    return QS_OK;
}

/* Adds a node reading training values in[] (-1: omitted); *out_val is its output. */
static QsStatus qg_node(QatGraph *qg, int op, const char *name, const int *in, int n_in,
                        const char *out, const Attr *attrs, int n_attrs, int *out_val,
                        QsError *err)
{
    const char *names[64];
    for (int i = 0; i < n_in; i++)
        names[i] = in[i] >= 0 ? qg->g.values[in[i]].name : "";
    if (graph_add_node(&qg->g, op, name, names, n_in, out, attrs, n_attrs, err))
        return err->code;
    *out_val = qg->g.n_values - 1;
    return QS_OK;
}

/* The activation grid's FakeQuant attributes. */
static int qg_fq_attrs(const QatGraph *qg, Attr *a)
{
    int32_t qmin, qmax;
    quant_range(qg->bits, qg->act_sym, &qmin, &qmax);
    int n = 0;
    a[n++] = attr_int("qmin", qmin);
    a[n++] = attr_int("qmax", qmax);
    if (qg->scales == QAT_SCALES_LEARN) /* LSQ's Q_P: the positive levels of the grid */
        a[n++] = attr_float("lsq_qmax", (float)(qg->act_sym ? qmax : qmax - qmin));
    return n;
}

static void qg_release_attrs(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

/* A FakeQuant on training value `in` with act k's grid; *out_val is its output. */
static QsStatus qg_fq(QatGraph *qg, int k, int in, int *out_val, QsError *err)
{
    char nm[256], out[256];
    const char *vn = qg->g.values[in].name;
    snprintf(nm, sizeof nm, "qat:fq:%s", vn);
    snprintf(out, sizeof out, "qat:q:%s", vn);
    Attr a[3];
    int na = qg_fq_attrs(qg, a);
    int ins[3] = { in, qg->act[k].scale, qg->act[k].zero };
    QsStatus st = qg_node(qg, OP_FAKEQUANT, nm, ins, 3, out, a, na, out_val, err);
    qg_release_attrs(a, na);
    return st;
}

/* A new quantization point for model value mv, observing training value `in` made by
 * training node in_node (-1: a graph input); its grid comes from the calibration. */
static QsStatus qg_new_act(Build *b, int mv, int in, int in_node, int *out_val, QsError *err)
{
    QatGraph *qg = b->qg;
    const QuantOpts *o = &qg->plan.q;
    ObserverOpts oo = { .pct = o->pct, .bits = o->bits, .symmetric = o->act_symmetric };
    float lo, hi;
    if (observer_table[o->observer].range(&b->cal->stats[mv], &oo, &lo, &hi, err)) {
        qs_error_prefix(err, "value '%s' (%s observer)", b->mg->values[mv].name,
                        observer_table[o->observer].name);
        return err->code;
    }
    QParams p = quant_params(lo, hi, qg->bits, qg->act_sym);
    qg->act = xrealloc(qg->act, (size_t)(qg->n_act + 1) * sizeof *qg->act);
    int k = qg->n_act++;
    QatAct *a = &qg->act[k];
    memset(a, 0, sizeof *a);
    a->value = mv;
    a->obs = in;
    a->obs_node = in_node;
    a->lo = lo;
    a->hi = hi;
    char nm[256];
    float s = p.scale, z = (float)p.zero_point;
    snprintf(nm, sizeof nm, "qat:s:%s", b->mg->values[mv].name);
    if (qg_const(qg, nm, shape_of(1, (int64_t)1), &s, qg->scales == QAT_SCALES_LEARN,
                 &qg->act[k].scale, err))
        return err->code;
    snprintf(nm, sizeof nm, "qat:z:%s", b->mg->values[mv].name);
    if (qg_const(qg, nm, shape_of(1, (int64_t)1), &z, false, &qg->act[k].zero, err))
        return err->code;
    b->slot_of[mv] = k;
    return qg_fq(qg, k, in, out_val, err);
}

/* ---- classification --------------------------------------------------------------------- */

/* The units linear_group forms are the executor's int8 ones: the same rules, and the
 * same heads. */
static bool qg_accept(const LinearUnit *u, void *ctx)
{
    const Build *b = ctx;
    return b->kind[u->head] == K_LIN;
}

static QsStatus qg_classify(Build *b, const Model *m, const Plan *p, QsError *err)
{
    const Graph *g = b->mg;
    QModel *q;
    if (qmodel_build(m, p, b->cal, &q, err))
        return err->code;
    bool any = false;
    for (int n = 0; n < g->n_nodes; n++) {
        const QLayerInfo *li = qmodel_layer(q, n);
        const OpInt8 *rule = &op_table[g->nodes[n].op]->int8;
        if (!precision_static_activations(li->prec) || !li->integer) {
            b->kind[n] = K_FLOAT;
            continue;
        }
        any = true;
        if (li->unit != n)
            b->kind[n] = K_ABSORBED;
        else if (rule->step == OPQ_UNIT && qg_is_const(g, g->nodes[n].in[1]))
            b->kind[n] = K_LIN;  /* an integer MatMul of two activations falls to K_QOWN */
        else if (rule->qp == OPQ_QP_OWN)
            b->kind[n] = K_QOWN;
        else if (rule->qp == OPQ_QP_CLAMPED)
            b->kind[n] = K_QCLIP;
        else
            b->kind[n] = K_QPASS;
    }
    int *head_of = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *head_of);
    linear_group(g, qg_accept, b, b->units, head_of);
    for (int n = 0; n < g->n_nodes; n++)
        QS_ASSERT(b->kind[n] != K_ABSORBED || head_of[n] == qmodel_layer(q, n)->unit);
    free(head_of);
    qmodel_free(q);
    if (!any)
        return qs_fail(err, QS_EINVAL, "the plan runs no layer at int8-static: QAT simulates "
                       "int8-static (use 'mode int8-static')");
    for (int n = 0; n < g->n_nodes; n++) {
        const Node *nd = &g->nodes[n];
        if (b->kind[n] == K_LIN)
            b->int8_read[nd->in[0]] = true;
        else if (b->kind[n] >= K_QOWN)
            for (int i = 0; i < nd->n_in; i++)
                if (nd->in[i] >= 0 && !qg_is_const(g, nd->in[i]))
                    b->int8_read[nd->in[i]] = true;
    }
    return QS_OK;
}

/* ---- linear units ------------------------------------------------------------------------ */

/* Conv units keep their conv (and its attributes); the products become Dense on (OC, K)
 * weights. */
static bool qg_is_conv(const QatUnit *u)
{
    return u->lin.kind == LU_CONV || u->lin.kind == LU_DEPTHWISE;
}

/* A per-channel constant that broadcasts (from the right) over a value of rank `rank`
 * whose axis 1 holds the channels: (C, 1, ...) with rank - 1 dims. */
static Shape qg_chan_shape(int64_t oc, int rank)
{
    Shape s = shape_of(1, oc);
    for (int i = 2; i < rank; i++)
        s.dim[s.ndim++] = 1;
    return s;
}

/* The unit's weight FakeQuant (symmetric, restricted range, axis 0) on training value w. */
static QsStatus qg_weight_fq(QatGraph *qg, QatUnit *u, const Node *n, int w, int *wq,
                             QsError *err)
{
    char nm[256], out[256];
    int64_t ns = plan_node_wgran_tensor(&qg->plan, u->lin.head) ? 1 : u->lin.oc;
    snprintf(nm, sizeof nm, "qat:ws:%s", n->name);
    if (qg_const(qg, nm, shape_of(1, ns), NULL, false, &u->wscale, err))
        return err->code;
    snprintf(nm, sizeof nm, "qat:wz:%s", n->name);
    if (qg_const(qg, nm, shape_of(1, ns), NULL, false, &u->wzero, err))
        return err->code;
    int32_t qmin, qmax;
    quant_range(qg->bits, true, &qmin, &qmax);
    Attr wa[3] = { attr_int("axis", 0), attr_int("qmin", qmin), attr_int("qmax", qmax) };
    snprintf(nm, sizeof nm, "qat:wfq:%s", n->name);
    snprintf(out, sizeof out, "qat:wq:%s", n->name);
    int win[3] = { w, u->wscale, u->wzero };
    QsStatus st = qg_node(qg, OP_FAKEQUANT, nm, win, 3, out, wa, 3, wq, err);
    qg_release_attrs(wa, 3);
    return st;
}

/* Frozen form: W' and b' folded and trained; the bias on the executor's int32 grid
 * s_in s_w[c] (no gradient into those scales). *pre is the pre-activation. */
static QsStatus qg_unit_frozen(Build *b, QatUnit *u, const Node *n, const char *pre_name,
                               int *pre, QsError *err)
{
    QatGraph *qg = b->qg;
    const Graph *g = b->mg;
    int64_t oc = u->lin.oc, k = u->lin.k;
    float *wf = malloc((size_t)(oc * k + oc) * sizeof *wf);
    if (!wf)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %lld weights for '%s'",
                       (long long)(oc * k), n->name);
    float *bf = wf + oc * k;
    bool has_bias = linear_fold(g, &u->lin, wf, bf);
    /* the trained bias goes into the BatchNorm's B, or the head's own per-channel bias */
    u->b_trainable = u->lin.bn >= 0 || linear_bias_input(g, &u->lin) >= 0;
    char nm[256], o2[256];
    Shape wshape = qg_is_conv(u) ? g->values[n->in[1]].data->shape : shape_of(2, oc, k);
    snprintf(nm, sizeof nm, "qat:w:%s", n->name);
    QsStatus st = qg_const(qg, nm, wshape, wf, true, &u->w, err);
    if (!st && (has_bias || u->b_trainable)) {
        snprintf(nm, sizeof nm, "qat:b:%s", n->name);
        st = qg_const(qg, nm, shape_of(1, oc), bf, u->b_trainable, &u->b, err);
    }
    free(wf);
    int wq = -1, bq = -1;
    if (st || (st = qg_weight_fq(qg, u, n, u->w, &wq, err)))
        return st;
    if (u->b >= 0) {
        int64_t ns = plan_node_wgran_tensor(&qg->plan, u->lin.head) ? 1 : oc;
        int bs = -1, bz = -1;
        snprintf(nm, sizeof nm, "qat:bz:%s", n->name);
        if ((st = qg_const(qg, nm, shape_of(1, ns), NULL, false, &bz, err)))
            return st;
        snprintf(nm, sizeof nm, "qat:bsm:%s", n->name);
        snprintf(o2, sizeof o2, "qat:bs:%s", n->name);
        int min[2] = { u->sin, u->wscale };
        if ((st = qg_node(qg, OP_MUL, nm, min, 2, o2, NULL, 0, &bs, err)))
            return st;
        Attr ba[4] = { attr_int("axis", 0), attr_int("qmin", -2147483647),
                       attr_int("qmax", 2147483647), attr_int("scale_grad", 0) };
        int bin[3] = { u->b, bs, bz };
        snprintf(nm, sizeof nm, "qat:bfq:%s", n->name);
        snprintf(o2, sizeof o2, "qat:bq:%s", n->name);
        st = qg_node(qg, OP_FAKEQUANT, nm, bin, 3, o2, ba, 4, &bq, err);
        qg_release_attrs(ba, 4);
        if (st)
            return st;
    }
    /* Conv keeps its attributes; the products become Dense on (OC, K) weights */
    int hin[3] = { b->qv[n->in[0]], wq, bq };
    bool conv = qg_is_conv(u);
    return qg_node(qg, conv ? OP_CONV : OP_DENSE, n->name, hin, bq >= 0 ? 3 : 2, pre_name,
                   conv ? n->attrs : NULL, conv ? n->n_attrs : 0, pre, err);
}

/* BatchNorm with batch statistics (freeze_bn_after > 0; docs/qat.md, "BatchNorm"), PyTorch's
 * ConvBn recipe: with F = gamma / sqrt(running var + eps) refreshed before every forward,
 *   c = conv(x, FakeQuant(W F)),  u = c / F + b,  z = BatchNorm(u) + R,
 * W, b, gamma, beta trained; the BatchNorm normalises by the batch's statistics and updates
 * its running ones in training mode and uses the running ones otherwise, where z is then the
 * folded unit's output; R puts the folded bias on the executor's int32 grid (a constant,
 * refreshed with F). */
static QsStatus qg_unit_live(Build *b, QatUnit *u, const Node *n, const char *pre_name,
                             int *pre, QsError *err)
{
    QatGraph *qg = b->qg;
    const Graph *g = b->mg;
    const Node *bn = &g->nodes[u->lin.bn];
    int64_t oc = u->lin.oc, k = u->lin.k;
    float *wf = malloc((size_t)(oc * k + oc) * sizeof *wf);
    if (!wf)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %lld weights for '%s'",
                       (long long)(oc * k), n->name);
    float *bf = wf + oc * k;
    bool has_bias = linear_weights(g, &u->lin, wf, bf); /* unfolded, (OC, K) */
    u->live = true;
    u->b_trainable = true; /* it goes into the BatchNorm's B */
    int out_rank = g->values[n->out].shape.ndim;
    Shape wshape = qg_is_conv(u) ? g->values[n->in[1]].data->shape : shape_of(2, oc, k);
    /* the weights' channel axis is 0: (OC, 1, ...) of their own rank */
    Shape cw = qg_chan_shape(oc, wshape.ndim + 1), co = qg_chan_shape(oc, out_rank);
    char nm[256], o2[256];
    snprintf(nm, sizeof nm, "qat:w:%s", n->name);
    QsStatus st = qg_const(qg, nm, wshape, wf, true, &u->w, err);
    if (!st && has_bias) {
        snprintf(nm, sizeof nm, "qat:b:%s", n->name);
        st = qg_const(qg, nm, co, bf, true, &u->b, err);
    }
    free(wf);
    int bnin[5];
    for (int i = 1; i < 5 && !st; i++)
        st = qg_copy_const(b, bn->in[i], &bnin[i], err);
    static const char *const tag[3] = { "fw", "fr", "br" };
    int *dst[3] = { &u->fw, &u->fr, &u->res };
    for (int i = 0; i < 3 && !st; i++) {
        snprintf(nm, sizeof nm, "qat:%s:%s", tag[i], n->name);
        st = qg_const(qg, nm, i == 0 ? cw : co, NULL, false, dst[i], err);
    }
    if (st)
        return st;
    int wm = -1, wq = -1, c = -1, v = -1;
    snprintf(nm, sizeof nm, "qat:wmul:%s", n->name);
    snprintf(o2, sizeof o2, "qat:wm:%s", n->name);
    int mi[2] = { u->w, u->fw };
    if ((st = qg_node(qg, OP_MUL, nm, mi, 2, o2, NULL, 0, &wm, err)) ||
        (st = qg_weight_fq(qg, u, n, wm, &wq, err)))
        return st;
    snprintf(o2, sizeof o2, "qat:c:%s", n->name);
    int hin[2] = { b->qv[n->in[0]], wq };
    bool conv = qg_is_conv(u);
    if ((st = qg_node(qg, conv ? OP_CONV : OP_DENSE, n->name, hin, 2, o2,
                      conv ? n->attrs : NULL, conv ? n->n_attrs : 0, &c, err)))
        return st;
    snprintf(nm, sizeof nm, "qat:cmul:%s", n->name);
    snprintf(o2, sizeof o2, "qat:cu:%s", n->name);
    int ci[2] = { c, u->fr };
    if ((st = qg_node(qg, OP_MUL, nm, ci, 2, o2, NULL, 0, &v, err)))
        return st;
    if (u->b >= 0) {
        snprintf(nm, sizeof nm, "qat:badd:%s", n->name);
        snprintf(o2, sizeof o2, "qat:u:%s", n->name);
        int ai[2] = { v, u->b };
        if ((st = qg_node(qg, OP_ADD, nm, ai, 2, o2, NULL, 0, &v, err)))
            return st;
    }
    snprintf(o2, sizeof o2, "qat:bn:%s", n->name);
    bnin[0] = v;
    if ((st = qg_node(qg, OP_BATCHNORM, bn->name, bnin, 5, o2, bn->attrs, bn->n_attrs, &v,
                      err)))
        return st;
    u->bn_node = qg->g.n_nodes - 1;
    snprintf(nm, sizeof nm, "qat:bres:%s", n->name);
    int ri[2] = { v, u->res };
    return qg_node(qg, OP_ADD, nm, ri, 2, pre_name, NULL, 0, pre, err);
}

static QsStatus qg_unit(Build *b, int head, QsError *err)
{
    QatGraph *qg = b->qg;
    const Graph *g = b->mg;
    const Node *n = &g->nodes[head];
    int bn = b->units[head].bn, act = b->units[head].act;
    qg->units = xrealloc(qg->units, (size_t)(qg->n_units + 1) * sizeof *qg->units);
    QatUnit *u = &qg->units[qg->n_units++];
    memset(u, 0, sizeof *u);
    u->lin = b->units[head];
    QS_ASSERT(u->lin.head == head);
    u->b = u->bn_node = u->fw = u->fr = u->res = -1;
    u->sin = qg->act[b->slot_of[n->in[0]]].scale;
    int pre_mv = bn >= 0 ? g->nodes[bn].out : n->out; /* the pre-activation model value */
    int pre = -1;
    QsStatus st = bn >= 0 && qg->bn_train
                ? qg_unit_live(b, u, n, g->values[pre_mv].name, &pre, err)
                : qg_unit_frozen(b, u, n, g->values[pre_mv].name, &pre, err);
    if (st)
        return st;
    qg->val_of[pre_mv] = pre;
    int last = pre, last_mv = pre_mv;
    if (act >= 0) {
        const Node *an = &g->nodes[act];
        int ain[1] = { pre };
        if (qg_node(qg, an->op, an->name, ain, 1, g->values[an->out].name, an->attrs,
                    an->n_attrs, &last, err))
            return err->code;
        last_mv = an->out;
    }
    int q;
    if (qg_new_act(b, last_mv, last, qg->g.n_nodes - 1, &q, err))
        return err->code;
    qg->val_of[last_mv] = b->qv[last_mv] = q;
    return QS_OK;
}

/* ---- the graph ------------------------------------------------------------------------- */

/* A node other than a unit, reading the fake-quantized inputs when int8. */
static QsStatus qg_other(Build *b, int node, QsError *err)
{
    QatGraph *qg = b->qg;
    const Graph *g = b->mg;
    const Node *n = &g->nodes[node];
    int kind = b->kind[node];
    int in[64];
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (v < 0)
            in[i] = -1;
        else if (qg_is_const(g, v)) {
            if (qg_copy_const(b, v, &in[i], err))
                return err->code;
        } else {
            in[i] = kind == K_FLOAT ? qg->val_of[v] : b->qv[v];
            QS_ASSERT(in[i] >= 0);
        }
    }
    int out = -1;
    if (qg_node(qg, n->op, n->name, in, n->n_in, g->values[n->out].name, n->attrs, n->n_attrs,
                &out, err))
        return err->code;
    int tnode = qg->g.n_nodes - 1, mv = n->out;
    qg->val_of[mv] = b->qv[mv] = out;
    switch (kind) {
    case K_QOWN:
        if (qg_new_act(b, mv, out, tnode, &out, err))
            return err->code;
        qg->val_of[mv] = b->qv[mv] = out;
        break;
    case K_QPASS:
        b->slot_of[mv] = b->slot_of[n->in[0]];
        break;
    case K_QCLIP:
        /* on the input's grid: the clamp bounds snap to codes, as the integer clamp does */
        b->slot_of[mv] = b->slot_of[n->in[0]];
        if (qg_fq(qg, b->slot_of[mv], out, &out, err))
            return err->code;
        qg->val_of[mv] = b->qv[mv] = out;
        break;
    default:
        if (b->int8_read[mv]) {
            if (qg_new_act(b, mv, out, tnode, &b->qv[mv], err))
                return err->code;
        }
        break;
    }
    return QS_OK;
}

static QsStatus qg_build(Build *b, const QatGraphOpts *o, QsError *err)
{
    QatGraph *qg = b->qg;
    const Graph *g = b->mg;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        const Shape *s = &g->values[v].shape;
        Shape sample = shape_make(s->ndim - 1, s->dim + 1);
        if (graph_add_input(&qg->g, g->values[v].name, &sample, err))
            return err->code;
        int tv = qg->g.n_values - 1;
        qg->val_of[v] = b->qv[v] = tv;
        if (b->int8_read[v] && qg_new_act(b, v, tv, -1, &b->qv[v], err))
            return err->code;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        int node = g->order[k];
        QsStatus st = b->kind[node] == K_ABSORBED ? QS_OK
                    : b->kind[node] == K_LIN ? qg_unit(b, node, err) : qg_other(b, node, err);
        if (st)
            return st;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int tv = qg->val_of[g->outputs[k]];
        QS_ASSERT(tv >= 0);
        if (graph_add_output(&qg->g, qg->g.values[tv].name, err))
            return err->code;
    }
    qg->feature_output0 = qg->g.n_outputs;
    qg->n_features = o->n_features;
    qg->feature_value = xmalloc((size_t)(o->n_features ? o->n_features : 1) *
                                sizeof *qg->feature_value);
    for (int i = 0; i < o->n_features; i++) {
        int node = o->features[i];
        if (node < 0 || node >= g->n_nodes)
            return qs_fail(err, QS_ENOTFOUND, "feature layer %d does not exist", node);
        int mv = g->nodes[node].out, tv = qg->val_of[mv];
        if (tv < 0) {
            int bn = b->units[node].bn;
            return qs_fail(err, QS_EINVAL, "feature=%s: during QAT that layer's output is "
                           "folded with its BatchNorm '%s'; name '%s' instead",
                           g->nodes[node].name, bn >= 0 ? g->nodes[bn].name : "?",
                           bn >= 0 ? g->nodes[bn].name : "?");
        }
        qg->feature_value[i] = mv;
        if (graph_add_output(&qg->g, qg->g.values[tv].name, err))
            return err->code;
    }
    if (graph_finalize(&qg->g, err))
        return err->code;
    qg->act_of_node = xmalloc((size_t)(qg->g.n_nodes ? qg->g.n_nodes : 1) *
                              sizeof *qg->act_of_node);
    for (int i = 0; i < qg->g.n_nodes; i++)
        qg->act_of_node[i] = -1;
    for (int k = 0; k < qg->n_act; k++)
        if (qg->act[k].obs_node >= 0)
            qg->act_of_node[qg->act[k].obs_node] = k;
    return QS_OK;
}

QsStatus qat_graph_build(QatGraph *qg, const Model *m, const Plan *p, const Calibration *cal,
                         const QatGraphOpts *o, QsError *err)
{
    memset(qg, 0, sizeof *qg);
    graph_init(&qg->g);
    plan_init(&qg->plan, 0);
    const Graph *g = &m->graph;
    if (!g->finalized)
        return qs_fail(err, QS_EINVAL, "the model's graph is not finalized");
    if (!cal)
        return qs_fail(err, QS_EINVAL, "QAT starts from activation ranges: run 'calibrate' first");
    if (cal->n_values != g->n_values)
        return qs_fail(err, QS_EINVAL, "the calibration has %d values, the model %d: run "
                       "'calibrate' again", cal->n_values, g->n_values);
    if ((unsigned)o->scales >= QAT_SCALES_COUNT)
        return qs_fail(err, QS_EINVAL, "scales mode %d is not known", (int)o->scales);
    qg->m = m;
    plan_release(&qg->plan);
    plan_copy(&qg->plan, p);
    qg->bits = p->q.bits;
    qg->act_sym = p->q.act_symmetric;
    qg->scales = o->scales;
    qg->bn_train = o->bn_train;
    qg->opts = *o;
    qg->cal = cal;
    int nv = g->n_values, nn = g->n_nodes;
    qg->val_of = xmalloc((size_t)(nv ? nv : 1) * sizeof *qg->val_of);
    qg->const_of = xmalloc((size_t)(nv ? nv : 1) * sizeof *qg->const_of);
    Build b = { .qg = qg, .mg = g, .cal = cal };
    b.kind = xcalloc((size_t)(nn ? nn : 1), sizeof *b.kind);
    b.units = xcalloc((size_t)(nn ? nn : 1), sizeof *b.units);
    b.int8_read = xcalloc((size_t)(nv ? nv : 1), sizeof *b.int8_read);
    b.slot_of = xmalloc((size_t)(nv ? nv : 1) * sizeof *b.slot_of);
    b.qv = xmalloc((size_t)(nv ? nv : 1) * sizeof *b.qv);
    for (int v = 0; v < nv; v++)
        qg->val_of[v] = qg->const_of[v] = b.slot_of[v] = b.qv[v] = -1;
    QsStatus st = qg_classify(&b, m, p, err);
    if (!st)
        st = qg_build(&b, o, err);
    free(b.kind);
    free(b.units);
    free(b.int8_read);
    free(b.slot_of);
    free(b.qv);
    if (st) {
        qat_graph_release(qg);
        return st;
    }
    qat_graph_refresh_weights(qg);
    return QS_OK;
}

void qat_graph_release(QatGraph *qg)
{
    graph_release(&qg->g);
    plan_release(&qg->plan);
    free(qg->act);
    free(qg->act_of_node);
    free(qg->units);
    free(qg->val_of);
    free(qg->const_of);
    free(qg->feature_value);
    model_free(qg->own_model);
    calib_release(&qg->own_cal);
    memset(qg, 0, sizeof *qg);
}

/* ---- ranges and weights ------------------------------------------------------------------ */

/* A live unit's fold factor F = gamma / sqrt(var + eps), in float (what the graph
 * multiplies by), and the folded weights and bias it stands for:
 *   W' = W * F (float, as the Mul node computes it),
 *   b' = (b - mean) F + beta (double, rounded once). */
static float qg_live_f(const QatGraph *qg, const QatUnit *u, int64_t c)
{
    const Node *n = &qg->g.nodes[u->bn_node];
    double eps = linear_bn_epsilon(n);
    return (float)(qg_data(qg, n->in[1])[c] / sqrt((double)qg_data(qg, n->in[4])[c] + eps));
}

/* The unit's folded weights (OC, K) and bias (OC; zeros when it has none) as the integer
 * model will hold them. */
static void qg_unit_folded(const QatGraph *qg, const QatUnit *u, float *w, float *b)
{
    const float *wt = qg_data(qg, u->w), *bt = u->b >= 0 ? qg_data(qg, u->b) : NULL;
    int64_t oc = u->lin.oc, k = u->lin.k;
    if (!u->live) {
        memcpy(w, wt, (size_t)(oc * k) * sizeof *w);
        for (int64_t c = 0; c < oc; c++)
            b[c] = bt ? bt[c] : 0.0f;
        return;
    }
    const Node *n = &qg->g.nodes[u->bn_node];
    const float *beta = qg_data(qg, n->in[2]), *mean = qg_data(qg, n->in[3]);
    for (int64_t c = 0; c < oc; c++) {
        float f = qg_live_f(qg, u, c);
        for (int64_t j = 0; j < k; j++)
            w[c * k + j] = wt[c * k + j] * f;
        b[c] = (float)(((bt ? (double)bt[c] : 0.0) - mean[c]) * f + beta[c]);
    }
}

void qat_graph_refresh_weights(QatGraph *qg)
{
    for (int i = 0; i < qg->n_units; i++) {
        const QatUnit *u = &qg->units[i];
        bool per_tensor = plan_node_wgran_tensor(&qg->plan, u->lin.head);
        float *s = qg_data(qg, u->wscale), *z = qg_data(qg, u->wzero);
        const float *w = qg_data(qg, u->w); /* (OC, K) */
        int64_t oc = u->lin.oc, k = u->lin.k;
        if (u->live)
            for (int64_t c = 0; c < oc; c++) {
                float f = qg_live_f(qg, u, c);
                qg_data(qg, u->fw)[c] = f;
                qg_data(qg, u->fr)[c] = f != 0.0f ? (float)(1.0 / f) : 0.0f;
            }
        /* the executor's rule (qexec_lower.c) on the weights the FakeQuant sees: each
         * range starts at [0, 0] */
        float tlo = 0.0f, thi = 0.0f;
        for (int64_t c = 0; c < oc; c++) {
            float lo = 0.0f, hi = 0.0f, f = u->live ? qg_data(qg, u->fw)[c] : 1.0f;
            for (int64_t j = 0; j < k; j++) {
                float v = u->live ? w[c * k + j] * f : w[c * k + j];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            if (per_tensor) {
                tlo = lo < tlo ? lo : tlo;
                thi = hi > thi ? hi : thi;
            } else {
                s[c] = quant_params(lo, hi, qg->bits, true).scale;
                z[c] = 0.0f;
            }
        }
        if (per_tensor) {
            s[0] = quant_params(tlo, thi, qg->bits, true).scale;
            z[0] = 0.0f;
        }
        if (!u->live)
            continue;
        /* R: the folded bias's distance to its int32 grid s_in s_w[c], as the executor
         * rounds it (qexec_lower.c) */
        float *wf = xmalloc((size_t)(oc * k + oc) * sizeof *wf), *bf = wf + oc * k;
        qg_unit_folded(qg, u, wf, bf);
        double sin = qg_data(qg, u->sin)[0];
        for (int64_t c = 0; c < oc; c++) {
            double bs = sin * (double)s[per_tensor ? 0 : c];
            double q = quant_bias_code(bf[c], bs, NULL); /* a NaN bias: NaN residual */
            qg_data(qg, u->res)[c] = (float)(q * bs) - bf[c];
        }
        free(wf);
    }
}

void qat_graph_set_range(QatGraph *qg, int k, float lo, float hi)
{
    QatAct *a = &qg->act[k];
    a->lo = lo;
    a->hi = hi;
    QParams p = quant_params(lo, hi, qg->bits, qg->act_sym);
    qg_data(qg, a->scale)[0] = p.scale;
    qg_data(qg, a->zero)[0] = (float)p.zero_point;
}

void qat_graph_range(const QatGraph *qg, int k, float *lo, float *hi)
{
    const QatAct *a = &qg->act[k];
    if (qg->scales == QAT_SCALES_EMA) {
        *lo = a->lo;
        *hi = a->hi;
        return;
    }
    int32_t qmin, qmax;
    quant_range(qg->bits, qg->act_sym, &qmin, &qmax);
    float s = qg_data(qg, a->scale)[0], z = qg_data(qg, a->zero)[0];
    *lo = s * ((float)qmin - z);
    *hi = s * ((float)qmax - z);
}

void qat_graph_clamp_scales(QatGraph *qg)
{
    if (qg->scales != QAT_SCALES_LEARN)
        return;
    for (int k = 0; k < qg->n_act; k++) {
        float *s = qg_data(qg, qg->act[k].scale);
        if (!(s[0] >= 0x1p-23f)) /* NaN too */
            s[0] = 0x1p-23f;
    }
}

/* var such that var + eps is 1 to within half a float ulp: gamma / sqrt(var + eps) then
 * rounds every float weight to itself (docs/qat.md, "Export"). */
static float qg_identity_var(float eps) { return (float)(1.0 - (double)eps); }

QsStatus qat_graph_freeze_bn(QatGraph *qg, QsError *err)
{
    if (!qg->bn_train)
        return QS_OK;
    /* the frozen form of the same weights: the export, built again */
    qat_graph_refresh_weights(qg);
    QatGraph ng;
    Model *m;
    Calibration cal;
    Plan p;
    if (qat_graph_export(qg, qg->cal, &m, &cal, &p, err))
        return err->code;
    QatGraphOpts o = qg->opts;
    o.bn_train = false;
    QsStatus st = qat_graph_build(&ng, m, &p, &cal, &o, err);
    if (!st && qg->scales == QAT_SCALES_EMA)
        for (int k = 0; k < ng.n_act; k++) /* exactly the ranges, not what min-max makes */
            for (int j = 0; j < qg->n_act; j++)
                if (qg->act[j].value == ng.act[k].value)
                    qat_graph_set_range(&ng, k, qg->act[j].lo, qg->act[j].hi);
    plan_release(&p);
    if (st) {
        model_free(m);
        calib_release(&cal);
        return st;
    }
    qat_graph_release(qg);
    *qg = ng;
    qg->own_model = m;
    qg->own_cal = cal;
    qg->cal = &qg->own_cal;
    return QS_OK;
}

/* ---- export --------------------------------------------------------------------------------- */

static void qg_export_unit(const QatGraph *qg, const QatUnit *u, Model *out)
{
    Graph *g = &out->graph;
    int64_t oc = u->lin.oc, k = u->lin.k;
    float *w = xmalloc((size_t)(oc * k + oc) * sizeof *w), *b = w + oc * k;
    qg_unit_folded(qg, u, w, b);
    linear_store_weights(g, &u->lin, w);
    if (u->lin.bn >= 0) {
        /* the head's own bias becomes 0 and the BatchNorm an identity carrying the bias */
        linear_store_bias(g, &u->lin, NULL);
        const Node *bn = &g->nodes[u->lin.bn];
        float eps = linear_bn_epsilon(bn);
        for (int64_t c = 0; c < oc; c++) {
            tensor_f32(g->values[bn->in[1]].data)[c] = 1.0f;
            tensor_f32(g->values[bn->in[2]].data)[c] = b[c];
            tensor_f32(g->values[bn->in[3]].data)[c] = 0.0f;
            tensor_f32(g->values[bn->in[4]].data)[c] = qg_identity_var(eps);
        }
    } else if (u->b_trainable) {
        linear_store_bias(g, &u->lin, b);
    }
    free(w);
}

QsStatus qat_graph_export(const QatGraph *qg, const Calibration *cal0, Model **model,
                          Calibration *cal, Plan *plan, QsError *err)
{
    *model = NULL;
    memset(cal, 0, sizeof *cal);
    Model *out = model_clone(qg->m, err);
    if (!out)
        return err->code;
    Graph *g = &out->graph;
    for (int v = 0; v < g->n_values; v++) {
        int tv = qg->const_of[v];
        if (tv >= 0)
            memcpy(g->values[v].data->data, qg->g.values[tv].data->data,
                   tensor_bytes(g->values[v].data));
    }
    for (int i = 0; i < qg->n_units; i++)
        qg_export_unit(qg, &qg->units[i], out);
    calib_copy(cal, cal0);
    for (int k = 0; k < qg->n_act; k++) {
        float r[2];
        qat_graph_range(qg, k, &r[0], &r[1]);
        ActStats *s = &cal->stats[qg->act[k].value];
        act_stats_init(s);
        act_stats_observe(s, r, 2, cal->ma_momentum > 0 ? cal->ma_momentum : 0.01);
    }
    plan_copy(plan, &qg->plan);
    plan->q.observer = OBS_MINMAX;
    *model = out;
    return QS_OK;
}
