/* Lowering a precision plan onto a model (docs/quantization.md, "The quantized executor").
 *
 * 1. Units: graph/linear_unit.h groups the nodes (a Conv, Dense, Gemm or MatMul head with
 *    constant weights, the BatchNormalization folded into it, the Relu/Clip fused after
 *    it) and folds the weights, for QAT exactly as here. Grouping does not depend on the
 *    precision, so layer lists keep their shape when the precision changes; only int8
 *    refuses heads whose K >= 2^17 (qgemm's int32 bound), which then run as float
 *    fallbacks.
 * 2. Precision: a unit runs at its head's plan precision; pins on absorbed nodes are
 *    ignored. fp32 units run their nodes one by one (the float model exactly).
 * 3. Steps: each unit becomes one step (fp32: one per node); each other node one step, at
 *    int8-static the kind its op table row names (OpInt8.step) when the node fits it,
 *    else float.
 * 4. int8-static: every value read or written as int8 gets QParams, from its calibrated
 *    range (observer, then quant_params), except where the row's OpInt8.qp says the
 *    output keeps its input's (MaxPool, Relu/Clip, the layout ops, Resize).
 * 5. Weights (folded) are derived per precision; QLayerInfo and the deployed size are
 *    filled last. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "quant/observer.h"
#include "quant/wscale.h"
#include "graph/linear_unit.h"
#include "ops/op.h"
#include "ops/softmax.h"
#include "qexec/qexec_internal.h"
#include "qexec/qkernels.h"

/* qgemm's int32 accumulator cannot overflow below this K (|a b| <= 2^14). */
#define LOWER_MAX_K ((int64_t)1 << 17)

typedef struct Lower {
    QModel *q;
    const Graph *g;
    const Calibration *cal;
    const float *const *corr; /* [n_nodes] bias corrections of int8 heads, or NULL */
    LinearUnit *units;     /* [n_nodes] the unit each node heads (head -1: none) */
    int *head_of;          /* [n_nodes] the head of the unit running each node */
    bool *counted;         /* [n_values] constants already counted in the deployed size */
    const QTargetDef *T;   /* the plan's target row */
    QexecTies ties;        /* the target's parameter ties (qexec_ties.c) */
} Lower;

void *qexec_alloc(size_t bytes, const char *what, QsError *err);

static bool lower_is_const(const Graph *g, int v)
{
    return v >= 0 && g->values[v].kind == VAL_CONST;
}

static bool lower_is_const_f32(const Graph *g, int v)
{
    return lower_is_const(g, v) && g->values[v].data->dtype == DT_F32;
}

static const Tensor *lower_const(const Graph *g, int v) { return g->values[v].data; }

/* Whether a unit that can be formed is: int8 refuses heads whose K qgemm's int32
 * accumulator cannot hold (they run as float fallbacks). */
static bool lower_accept(const LinearUnit *u, void *ctx)
{
    const Lower *L = ctx;
    PrecKind p = plan_node_prec(&L->q->plan, u->head);
    return !(precision_is_integer(p) && u->k >= LOWER_MAX_K);
}

/* The last node of unit head's step (the head itself for a node that heads no unit). */
static int lower_unit_last(const Lower *L, int head)
{
    const LinearUnit *u = &L->units[head];
    return u->act >= 0 ? u->act : u->bn >= 0 ? u->bn : head;
}

/* ---- attributes ------------------------------------------------------------------------ */

/* Conv or pool attributes for spatial rank sp; kernel sizes from kernel (sp values), or
 * from the node's kernel_shape when NULL (pools). */
static ConvAttrs lower_attrs(const Node *n, int sp, const int64_t *kernel)
{
    ConvAttrs a;
    memset(&a, 0, sizeof a);
    a.sp = sp;
    geom_node_window(n, sp, kernel, &a.w);
    a.group = n->params.win.group;
    a.ceil_mode = n->params.win.ceil_mode != 0;
    a.include_pad = n->params.win.count_include_pad != 0;
    return a;
}

/* ---- activation quantization parameters -------------------------------------------- */

/* Whether v is the output of a Softmax or Sigmoid whose int8 parameters the target fixes. */
static bool lower_prob_out(const Lower *L, int v)
{
    int p = L->g->values[v].producer;
    if (p < 0)
        return false;
    int op = L->g->nodes[p].op;
    return (op == OP_SOFTMAX && (L->T->fixed_prob_out || L->T->fixed_softmax_out)) ||
           (op == OP_SIGMOID && L->T->fixed_prob_out);
}

/* Sets v's QParams from its calibrated range (or the target's fixed ones). */
static QsStatus lower_qp_cal(Lower *L, int v, QsError *err)
{
    const QuantOpts *o = &L->q->plan.q;
    VInfo *vi = &L->q->vi[v];
    if (lower_prob_out(L, v)) {
        int32_t qmin, qmax;
        quant_range(o->bits, o->act_symmetric, &qmin, &qmax);
        vi->has_qp = true;
        vi->qp = target_prob_qparams(qmin, qmax);
        vi->qp_src = v;
        vi->clip_lo = 0.0f;
        vi->clip_hi = vi->qp.scale * (float)(qmax - qmin);
        return QS_OK;
    }
    const QParams *iq = L->cal ? qimport_value(L->cal->imported, v) : NULL;
    if (iq) { /* the deployed file's own parameters (quant/qimport.h) */
        vi->has_qp = true;
        vi->qp = *iq;
        vi->qp_src = v;
        vi->clip_lo = quant_dq(iq->qmin, iq);
        vi->clip_hi = quant_dq(iq->qmax, iq);
        return QS_OK;
    }
    if (!L->cal)
        return qs_fail(err, QS_EINVAL, "value '%s' has no imported parameters and there is "
                       "no calibration: run 'calibrate'", L->g->values[v].name);
    const ActStats *st = &L->cal->stats[v];
    ObserverOpts oo = { .pct = o->pct, .bits = o->bits, .symmetric = o->act_symmetric };
    float lo, hi;
    if (L->ties.tied && L->ties.tied[v]) {
        /* a tied value: its group's range (qexec_ties.c) */
        lo = L->ties.lo[v];
        hi = L->ties.hi[v];
    } else if (observer_table[o->observer].range(st, &oo, &lo, &hi, err)) {
        qs_error_prefix(err, "value '%s' (%s observer)", L->g->values[v].name,
                        observer_table[o->observer].name);
        return err->code;
    }
    vi->has_qp = true;
    vi->qp = quant_params(lo, hi, o->bits, o->act_symmetric);
    vi->qp_src = v;
    vi->clip_lo = lo;
    vi->clip_hi = hi;
    return QS_OK;
}

/* An int8 input: keeps the parameters its producer gave it, or takes its calibrated ones. */
static QsStatus lower_qp_in(Lower *L, int v, QsError *err)
{
    return L->q->vi[v].has_qp ? QS_OK : lower_qp_cal(L, v, err);
}

static void lower_qp_pass(Lower *L, int out, int in)
{
    L->q->vi[out] = L->q->vi[in];
    L->q->vi[out].reps = 0;
    L->q->vi[out].half_exact = false;
}

/* A requantization multiplier; rejects what the Q31 form cannot hold. */
static QsStatus lower_requant(double m, Requant *r, const Node *n, QsError *err)
{
    if (!(m > 0.0) || !(m < 2147483648.0))
        return qs_fail(err, QS_EINVAL, "%s '%s': requantization multiplier %g is out of range",
                       op_table[n->op]->name, n->name, m);
    *r = quant_requant_make(m);
    return QS_OK;
}

/* The integer clamp [lo, hi] of the float range [fl, fh] on grid p, as the target's runtime
 * computes it (target_clamp). */
static void lower_clamp(const Lower *L, const QParams *p, float fl, float fh, int32_t *lo,
                        int32_t *hi)
{
    target_clamp(L->T, p, fl, fh, lo, hi);
}

/* "Op 'name'" of node n, for the target's errors. */
static const char *lower_what(const Node *n, char *buf, size_t size)
{
    snprintf(buf, size, "%s '%s'", op_table[n->op]->name, n->name);
    return buf;
}

/* ---- linear units ------------------------------------------------------------------------ */

static QsStatus lower_lin_alloc(void **p, size_t bytes, const Node *n, QsError *err)
{
    *p = qexec_alloc(bytes ? bytes : 1, n->name, err);
    if (!*p)
        return err->code;
    memset(*p, 0, bytes ? bytes : 1);
    return QS_OK;
}

/* Finite folded weights (and, when `bias`, biases) or an error naming the layer: a NaN or an
 * infinity has no integer code (quant_q would put NaN on the zero point and let an infinity
 * set the scale), so the integer precision would print numbers the float model does not
 * compute. Such values come from the model file; the plan is refused. */
static QsStatus lower_lin_finite(const LinUnit *u, PrecKind prec, bool bias, const Node *n,
                                 QsError *err)
{
    const char *pname = precision_table[prec].name;
    for (int64_t i = 0; i < u->oc * u->k; i++)
        if (!isfinite(u->wf[i]))
            return qs_fail(err, QS_EINVAL, "%s: layer '%s' has a NaN or infinite weight",
                           pname, n->name);
    for (int64_t c = 0; bias && c < u->oc; c++)
        if (!isfinite(u->bf[c]))
            return qs_fail(err, QS_EINVAL, "%s: layer '%s' has a NaN or infinite bias", pname,
                           n->name);
    return QS_OK;
}

/* The deployed file's int8 codes and scales (quant/qimport.h) as the unit's weights. */
static void lower_lin_import_weights(LinUnit *u, const QImportUnit *iu)
{
    u->n_wscales = iu->n_scales;
    for (int64_t c = 0; c < u->oc; c++) {
        QParams p = { .scale = iu->scales[iu->n_scales > 1 ? c : 0], .qmin = -127, .qmax = 127 };
        u->ws[c] = p.scale;
        int32_t sum = 0;
        for (int64_t i = 0; i < u->k; i++) {
            int32_t qv = iu->codes[c * u->k + i];
            u->wq[c * u->k + i] = (int8_t)qv;
            u->wfq[c * u->k + i] = quant_dq(qv, &p);
            sum += qv;
        }
        u->sumw[c] = sum;
    }
}

/* Symmetric int8 weights per output channel (or one scale for the tensor). */
static void lower_lin_quant_weights(LinUnit *u, int bits, bool per_tensor)
{
    int64_t oc = u->oc, k = u->k;
    QParams *qp = xmalloc((size_t)oc * sizeof *qp);
    wscale_params(u->wf, oc, k, bits, per_tensor, qp);
    u->n_wscales = per_tensor ? 1 : (int)oc;
    for (int64_t c = 0; c < oc; c++) {
        const QParams *p = &qp[c];
        u->ws[c] = p->scale;
        int32_t sum = 0;
        for (int64_t i = 0; i < k; i++) {
            int32_t qv = quant_q(u->wf[c * k + i], p);
            u->wq[c * k + i] = (int8_t)qv;
            u->wfq[c * k + i] = quant_dq(qv, p);
            sum += qv;
        }
        u->sumw[c] = sum;
    }
    free(qp);
}

/* The int8 weights packed for the active qgemm row, one block per group, so the hot path
 * never repacks (int8-dyn and int8-static; depthwise runs a direct loop instead). */
static QsStatus lower_lin_pack(LinUnit *u, const Node *n, QsError *err)
{
    if (u->kind == LIN_DW)
        return QS_OK;
    int64_t groups = u->kind == LIN_CONV ? u->ca.group : 1, ocg = u->oc / groups;
    u->wp = xcalloc((size_t)groups, sizeof *u->wp);
    for (int64_t g = 0; g < groups; g++) {
        if (!qgemm_pack(ocg, u->k, u->wq + g * ocg * u->k, u->k, &u->wp[g]))
            return qs_fail(err, QS_ENOMEM, "cannot pack the weights of '%s'", n->name);
        u->n_wp++;
    }
    return QS_OK;
}

/* The int8-static epilogue's constants: each accumulator's correction (bias minus the
 * zero point times the weight sum: sum (q_x - z_in) w = sum q_x w - z_in sumw[c]) and the
 * multipliers as SIMD lanes. */
static QsStatus lower_lin_epilogue(LinUnit *u, const Node *n, QsError *err)
{
    if (lower_lin_alloc((void **)&u->corr, (size_t)u->oc * sizeof(int64_t), n, err))
        return err->code;
    for (int64_t c = 0; c < u->oc; c++)
        u->corr[c] = (int64_t)u->bq[c] - (int64_t)u->in_qp.zero_point * u->sumw[c];
    u->rv = xcalloc(1, sizeof *u->rv);
    qk_rqvec_make(u->rq, u->oc, u->rv);
    return QS_OK;
}

static QsStatus lower_lin(Lower *L, Step *s, QsError *err)
{
    const Graph *g = L->g;
    const Node *n = &g->nodes[s->head];
    const LinearUnit *lu = &L->units[s->head];
    QS_ASSERT(lu->head == s->head);
    LinUnit *u = xcalloc(1, sizeof *u);
    s->lin = u;
    bool conv = lu->kind == LU_CONV || lu->kind == LU_DEPTHWISE;
    u->kind = lu->kind == LU_DEPTHWISE ? LIN_DW : conv ? LIN_CONV : LIN_GEMM;
    u->oc = lu->oc;
    u->k = lu->k;
    size_t nw = (size_t)(u->oc * u->k), nc = (size_t)u->oc;
    if (lower_lin_alloc((void **)&u->wf, nw * sizeof(float), n, err) ||
        lower_lin_alloc((void **)&u->bf, nc * sizeof(float), n, err))
        return err->code;
    u->has_bias = linear_fold(g, lu, u->wf, u->bf);
    u->has_act = lu->act >= 0;
    u->act_lo = lu->act_lo;
    u->act_hi = lu->act_hi;
    const Shape *ws = &lower_const(g, n->in[1])->shape;
    if (conv) {
        int sp = ws->ndim - 2;
        u->ca = lower_attrs(n, sp, ws->dim + 2);
        u->wshape = *ws;
    } else {
        u->wshape = shape_of(2, u->oc, u->k);
    }
    u->fnode = *n;
    u->fnode.n_in = 3;
    u->fnode_in[0] = n->in[0];
    u->fnode_in[1] = u->fnode_in[2] = n->in[1];
    u->fnode.in = u->fnode_in;

    const QuantOpts *o = &L->q->plan.q;
    WeightPrep prep = precision_table[s->prec].weight_prep;
    if (prep == WPREP_HALF) {
        if (lower_lin_alloc((void **)&u->wh, nw * sizeof(uint16_t), n, err) ||
            lower_lin_alloc((void **)&u->bh, nc * sizeof(uint16_t), n, err) ||
            lower_lin_alloc((void **)&u->whf, nw * sizeof(float), n, err) ||
            lower_lin_alloc((void **)&u->bhf, nc * sizeof(float), n, err))
            return err->code;
        half_from_float_array(u->wf, (int64_t)nw, u->wh);
        half_from_float_array(u->bf, (int64_t)nc, u->bh);
        half_to_float_array(u->wh, (int64_t)nw, u->whf);
        half_to_float_array(u->bh, (int64_t)nc, u->bhf);
    }
    if (prep != WPREP_INT8)
        return QS_OK;
    if (L->corr && L->corr[s->head]) {
        /* bias correction (biascorr.h): part of the quantized unit, never of the float
         * model; added before the int32 bias is derived from b' */
        const float *c = L->corr[s->head];
        for (int64_t i = 0; i < u->oc; i++)
            u->bf[i] += c[i];
        u->has_bias = true;
    }
    bool int8_static = precision_table[s->prec].linear_run == PRUN_INT8_STATIC;
    if (lower_lin_finite(u, s->prec, int8_static, n, err))
        return err->code;
    if (lower_lin_alloc((void **)&u->wq, nw, n, err) ||
        lower_lin_alloc((void **)&u->wfq, nw * sizeof(float), n, err) ||
        lower_lin_alloc((void **)&u->ws, nc * sizeof(float), n, err) ||
        lower_lin_alloc((void **)&u->sumw, nc * sizeof(int32_t), n, err))
        return err->code;
    const QImportUnit *iu = L->cal ? qimport_unit(L->cal->imported, s->head) : NULL;
    if (iu && (iu->oc != u->oc || iu->k != u->k))
        return qs_fail(err, QS_EINVAL, "layer '%s': the imported weights are %lld x %lld, the "
                       "layer's %lld x %lld", n->name, (long long)iu->oc, (long long)iu->k,
                       (long long)u->oc, (long long)u->k);
    if (iu)
        lower_lin_import_weights(u, iu);
    else
        lower_lin_quant_weights(u, o->bits, plan_node_wgran_tensor(&L->q->plan, s->head));
    if (lower_lin_pack(u, n, err))
        return err->code;
    if (!int8_static)
        return QS_OK;

    int vin = n->in[0];
    if (lower_qp_in(L, vin, err) || lower_qp_cal(L, s->out, err))
        return err->code;
    u->in_qp = L->q->vi[vin].qp;
    u->out_qp = L->q->vi[s->out].qp;
    s->out_qp = u->out_qp;
    if (lower_lin_alloc((void **)&u->bq, nc * sizeof(int32_t), n, err) ||
        lower_lin_alloc((void **)&u->bfq, nc * sizeof(float), n, err) ||
        lower_lin_alloc((void **)&u->rq, nc * sizeof(Requant), n, err))
        return err->code;
    char what[300];
    lower_what(n, what, sizeof what);
    for (int64_t c = 0; c < u->oc; c++) {
        double bs = (double)u->in_qp.scale * (double)u->ws[c];
        if (iu) { /* the file's own int32 bias (none: 0), plus a bias correction's codes */
            int64_t b = iu->bias ? iu->bias[c] : 0;
            if (L->corr && L->corr[s->head])
                b += quant_bias_code(L->corr[s->head][c], bs, NULL);
            u->bq[c] = (int32_t)(b < INT32_MIN ? INT32_MIN : b > INT32_MAX ? INT32_MAX : b);
        } else
            u->bq[c] = quant_bias_code(u->bf[c], bs, NULL); /* finite: saturation is the rule */
        u->bfq[c] = (float)((double)u->bq[c] * bs);
        if (target_requant_linear(L->T, u->in_qp.scale, u->ws[c], u->out_qp.scale, &u->rq[c],
                                  what, err))
            return err->code;
    }
    u->lo = u->out_qp.qmin;
    u->hi = u->out_qp.qmax;
    if (u->has_act)
        lower_clamp(L, &u->out_qp, u->act_lo, u->act_hi, &u->lo, &u->hi);
    return lower_lin_epilogue(u, n, err);
}

/* ---- int8-static single-node steps --------------------------------------------------- */

/* A second operand that is a constant scalar: the op is a unary function of its first. */
static bool lower_scalar_fits(const Graph *g, const Node *n)
{
    return n->n_in == 2 && n->in[1] >= 0 && lower_is_const_f32(g, n->in[1]) &&
           shape_numel(&g->values[n->in[1]].shape) == 1;
}

/* Add and Mul of two activations (numpy broadcasting: a per-channel gate, a residual). */
static bool lower_binary_fits(const Graph *g, const Node *n)
{
    return n->n_in == 2 && n->in[1] >= 0 && !lower_is_const(g, n->in[1]);
}

static bool lower_concat_fits(const Graph *g, const Node *n)
{
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0 || lower_is_const(g, n->in[i]))
            return false;
    return true;
}

/* qkernels.c finds a gather's index map in float: exact while a sample has at most 2^24
 * elements */
static bool lower_gather_fits(const Graph *g, const Node *n)
{
    const Shape *xs = &g->values[n->in[0]].shape;
    return shape_span(xs, 1, xs->ndim) <= ((int64_t)1 << 24);
}

/* A Softmax feeding the graph's output stays float: no int8 step reads it, and the
 * model's probabilities keep their float precision (a classifier's last layer). */
static bool lower_softmax_fits(const Graph *g, const Node *n)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == n->out)
            return false;
    return true;
}

/* A MatMul of two activations (a unit head with constant weights never comes here) whose
 * int32 sums cannot overflow: |(q_a - z_a)(q_b - z_b)| <= 255^2, so K <= 33025. */
static bool lower_matmul_fits(const Graph *g, const Node *n)
{
    if (op_table[n->op]->int8.linear != OPLIN_MATMUL || n->n_in != 2 || n->in[1] < 0 ||
        lower_is_const(g, n->in[1]))
        return false;
    const Shape *a = &g->values[n->in[0]].shape;
    return a->dim[a->ndim - 1] <= INT32_MAX / (255 * 255);
}

/* The step each int8 lowering of the op table (OpInt8.step) runs as, and what the node must
 * satisfy for it (NULL: nothing more), else it falls back to float; a row left out runs
 * in float. A linear head comes here only when it heads no unit: a MatMul of two
 * activations runs as STEP_Q_MATMUL, anything else in float. */
static const struct {
    StepKind kind;
    bool (*fits)(const Graph *g, const Node *n);
} lower_q_rules[OPQ_STEP_COUNT] = {
    [OPQ_FLOAT] = { STEP_FLOAT, NULL },
    [OPQ_UNIT] = { STEP_Q_MATMUL, lower_matmul_fits },
    [OPQ_ADD] = { STEP_Q_ADD, lower_binary_fits },
    [OPQ_CONCAT] = { STEP_Q_CONCAT, lower_concat_fits },
    [OPQ_MAXPOOL] = { STEP_Q_MAXPOOL, NULL },
    [OPQ_AVGPOOL] = { STEP_Q_AVGPOOL, NULL },
    [OPQ_GLOBALPOOL] = { STEP_Q_AVGPOOL, NULL },
    [OPQ_CLAMP] = { STEP_Q_CLAMP, NULL },
    [OPQ_LAYOUT] = { STEP_Q_COPY, NULL },
    [OPQ_GATHER] = { STEP_Q_GATHER, lower_gather_fits },
    [OPQ_TABLE] = { STEP_Q_TABLE, NULL },
    [OPQ_SOFTMAX] = { STEP_Q_SOFTMAX, lower_softmax_fits },
    [OPQ_MUL] = { STEP_Q_MUL, lower_binary_fits },
    [OPQ_SCALAR] = { STEP_Q_TABLE, lower_scalar_fits },
};

StepKind qexec_q_kind(const Graph *g, const Node *n)
{
    if (n->n_in < 1 || n->in[0] < 0 || lower_is_const(g, n->in[0]))
        return STEP_FLOAT;
    OpQStep k = op_table[n->op]->int8.step;
    if ((k == OPQ_ADD || k == OPQ_MUL) && lower_scalar_fits(g, n))
        k = OPQ_SCALAR;
    return !lower_q_rules[k].fits || lower_q_rules[k].fits(g, n) ? lower_q_rules[k].kind
                                                                   : STEP_FLOAT;
}

/* STEP_Q_TABLE: the op's own float forward on the dequantized value of every int8 code
 * (and the constant scalar of a binary op), quantized onto the output grid, so the table
 * holds exactly what the fake-quant run computes for that code (quant_q(f(dq(c)))), with
 * qscope's fmath on every machine. */
static QsStatus lower_table(const Graph *g, Step *s, const Node *n, QsError *err)
{
    float xs[256], ys[256];
    for (int c = 0; c < 256; c++)
        xs[c] = quant_dq(c - 128, &s->in_qps[0]);
    Tensor xt = tensor_view(DT_F32, shape_of(1, (int64_t)256), xs);
    Tensor yt = tensor_view(DT_F32, shape_of(1, (int64_t)256), ys);
    const Tensor *in[2] = { &xt, n->n_in == 2 ? g->values[n->in[1]].data : NULL };
    RunCtx rc = { 0 };
    op_table[n->op]->forward(n, in, &yt, &rc);
    s->table = qexec_alloc(256, n->name, err);
    if (!s->table)
        return err->code;
    for (int c = 0; c < 256; c++)
        s->table[c] = (int8_t)quant_q(ys[c], &s->out_qp);
    return QS_OK;
}

bool qexec_node_integer(const Graph *g, const Node *n)
{
    return qexec_q_kind(g, n) != STEP_FLOAT;
}

static QsStatus lower_q_node(Lower *L, Step *s, QsError *err)
{
    const Graph *g = L->g;
    const Node *n = &g->nodes[s->head];
    VInfo *vi = L->q->vi;
    int in0 = n->in[0];
    s->in_qps = xcalloc((size_t)n->n_in, sizeof *s->in_qps);
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (v < 0 || lower_is_const(g, v))
            continue;
        if (lower_qp_in(L, v, err))
            return err->code;
        s->in_qps[i] = vi[v].qp;
    }
    if (s->kind == STEP_Q_MAXPOOL) {
        int sp = g->values[in0].shape.ndim - 2;
        s->pa = lower_attrs(n, sp, NULL);
    }
    const OpInt8 *rule = &op_table[n->op]->int8;
    if (rule->qp == OPQ_QP_INPUT || rule->qp == OPQ_QP_CLAMPED) {
        /* the output keeps the input's parameters (its own calibration is not used) */
        lower_qp_pass(L, s->out, in0);
        s->out_qp = vi[s->out].qp;
        return qexec_step_rules(g, s, L->T, err);
    }
    if (lower_qp_cal(L, s->out, err))
        return err->code;
    s->out_qp = vi[s->out].qp;
    if (s->kind == STEP_Q_TABLE) {
        s->target = L->T;
        return lower_table(g, s, n, err);
    }
    return qexec_step_rules(g, s, L->T, err);
}

QsStatus qexec_step_rules(const Graph *g, Step *s, const QTargetDef *T, QsError *err)
{
    const Node *n = &g->nodes[s->head];
    int in0 = n->in[0];
    const OpInt8 *rule = &op_table[n->op]->int8;
    if (rule->qp == OPQ_QP_INPUT || rule->qp == OPQ_QP_CLAMPED) {
        if (rule->clamp) {
            float fl, fh;
            rule->clamp(n, &fl, &fh);
            target_clamp(T, &s->out_qp, fl, fh, &s->lo, &s->hi);
        }
        return QS_OK;
    }
    double so = s->out_qp.scale;
    char what[300];
    lower_what(n, what, sizeof what);
    s->target = T;
    if (s->kind == STEP_Q_ADD)
        return target_add_make(T, &s->in_qps[0], &s->in_qps[1], &s->out_qp, &s->add, what,
                               err);
    if (s->kind == STEP_Q_SOFTMAX) {
        int64_t outer, len, inner;
        softmax_split(n, &g->values[n->out].shape, &outer, &len, &inner);
        s->softmax = qexec_alloc(sizeof *s->softmax, n->name, err);
        if (!s->softmax)
            return err->code;
        target_softmax_make(T, &s->in_qps[0], &s->out_qp, len, s->softmax);
        return QS_OK;
    }
    if (s->kind == STEP_Q_MATMUL || s->kind == STEP_Q_MUL) {
        s->lo = s->out_qp.qmin;
        s->hi = s->out_qp.qmax;
        return target_requant_linear(T, s->in_qps[0].scale, s->in_qps[1].scale,
                                     s->out_qp.scale, &s->rq, what, err);
    }
    if (s->kind == STEP_Q_CONCAT) {
        s->same = xcalloc((size_t)n->n_in, sizeof *s->same);
        s->rq_in = xcalloc((size_t)n->n_in, sizeof *s->rq_in);
        for (int i = 0; i < n->n_in; i++) {
            const QParams *p = &s->in_qps[i];
            s->same[i] = p->scale == s->out_qp.scale && p->zero_point == s->out_qp.zero_point &&
                         p->qmin == s->out_qp.qmin && p->qmax == s->out_qp.qmax;
            if (!s->same[i] && target_requant_ratio(T, (double)p->scale / so,
                                                    p->scale / s->out_qp.scale, &s->rq_in[i],
                                                    what, err))
                return err->code;
        }
        return QS_OK;
    }
    if (s->kind != STEP_Q_AVGPOOL)
        return QS_OK;
    const Shape *xs = &g->values[in0].shape;
    double si = s->in_qps[0].scale;
    s->global = op_table[n->op]->int8.step == OPQ_GLOBALPOOL;
    if (s->global) {
        int64_t hw = shape_span(xs, 2, xs->ndim);
        if (hw * 255 > INT32_MAX)
            return qs_fail(err, QS_EINVAL, "GlobalAveragePool '%s': %lld values per plane "
                           "overflow the int32 sum", n->name, (long long)hw);
        s->n_count = hw;
        return target_mean_make(T, &s->in_qps[0], &s->out_qp, hw, &s->mean, what, err);
    }
    s->pa = lower_attrs(n, xs->ndim - 2, NULL);
    s->n_count = s->pa.w.kh * s->pa.w.kw;
    if (s->n_count * 255 > INT32_MAX)
        return qs_fail(err, QS_EINVAL, "AveragePool '%s': window of %lld values "
                       "overflows the int32 sum", n->name, (long long)s->n_count);
    s->avg = T->avgpool;
    /* TFLite averages the raw codes, which needs the output on the input's grid: the tie
     * (qexec_ties.c) guarantees it; were it ever not so, qscope's rule stays correct */
    const QParams *pi = &s->in_qps[0], *po = &s->out_qp;
    if (s->avg == TAVG_TFLITE && !(pi->scale == po->scale && pi->zero_point == po->zero_point))
        s->avg = TAVG_REQUANT;
    if (s->avg != TAVG_REQUANT)
        return QS_OK;
    s->rq_count = xcalloc((size_t)s->n_count, sizeof *s->rq_count);
    for (int64_t c = 1; c <= s->n_count; c++)
        if (lower_requant(si / ((double)c * so), &s->rq_count[c - 1], n, err))
            return err->code;
    return QS_OK;
}

void qexec_step_rules_release(Step *s)
{
    free(s->same);
    free(s->rq_in);
    free(s->rq_count);
    free(s->softmax);
    s->same = NULL;
    s->rq_in = NULL;
    s->rq_count = NULL;
    s->softmax = NULL;
}

/* ---- fp16 constants ---------------------------------------------------------------------- */

static QsStatus lower_half_consts(Lower *L, Step *s, QsError *err)
{
    const Graph *g = L->g;
    const Node *n = &g->nodes[s->head];
    s->hconst = xcalloc((size_t)n->n_in, sizeof *s->hconst);
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (!lower_is_const_f32(g, v))
            continue;
        if (!L->q->hconst[v]) {
            Tensor *t = tensor_clone(lower_const(g, v), err);
            if (!t)
                return err->code;
            half_round_array(tensor_f32(t), tensor_numel(t));
            L->q->hconst[v] = t;
        }
        s->hconst[i] = L->q->hconst[v];
    }
    return QS_OK;
}

/* ---- steps ------------------------------------------------------------------------------ */

static Step *lower_new_step(QModel *q, int head, int last, StepKind kind, PrecKind prec)
{
    Step *s = &q->steps[q->n_steps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->prec = prec;
    s->head = head;
    s->last = last;
    s->out = q->g->nodes[last].out;
    switch (kind) {
    case STEP_HALF:
    case STEP_LIN_HALF:
        s->in_rep = REP_H, s->out_rep = REP_F;
        break;
    case STEP_FLOAT:
    case STEP_LIN_DYN:
        s->in_rep = REP_F, s->out_rep = REP_F;
        break;
    default:
        s->in_rep = REP_Q, s->out_rep = REP_Q;
        break;
    }
    return s;
}

/* The step kind of a linear unit, and of any other node, at each way of running
 * (PrecisionDef.linear_run and other_run). */
static const StepKind lower_lin_steps[] = {
    [PRUN_FLOAT] = STEP_FLOAT, [PRUN_HALF] = STEP_LIN_HALF,
    [PRUN_INT8_DYN] = STEP_LIN_DYN, [PRUN_INT8_STATIC] = STEP_LIN_Q,
};

static StepKind lower_other_step(PrecRun run, const Graph *g, const Node *n)
{
    switch (run) {
    case PRUN_HALF: return STEP_HALF;
    case PRUN_INT8_STATIC: return qexec_q_kind(g, n);
    case PRUN_FLOAT:
    case PRUN_INT8_DYN: break; /* dynamic quantization exists for linear units only */
    }
    return STEP_FLOAT;
}

static QsStatus lower_steps(Lower *L, QsError *err)
{
    QModel *q = L->q;
    const Graph *g = L->g;
    for (int k = 0; k < g->n_nodes; k++) {
        int node = g->order[k];
        if (L->head_of[node] != node)
            continue; /* absorbed: its head's step runs it */
        PrecKind p = plan_node_prec(&q->plan, node);
        int bn = L->units[node].bn, act = L->units[node].act, last = lower_unit_last(L, node);
        bool lin = L->units[node].head == node;
        StepKind lin_sk = lower_lin_steps[precision_table[p].linear_run];
        if (lin && lin_sk != STEP_FLOAT) {
            StepKind sk = lin_sk;
            Step *s = lower_new_step(q, node, last, sk, p);
            s->target = L->T;
            int si = (int)(s - q->steps);
            q->step_of[node] = si;
            if (bn >= 0)
                q->step_of[bn] = si;
            if (act >= 0)
                q->step_of[act] = si;
            if (lower_lin(L, s, err))
                return err->code;
            continue;
        }
        /* fp32 units (and every other node) run node by node */
        int members[3] = { node, bn, act };
        for (int i = 0; i < 3; i++) {
            int m = members[i];
            if (m < 0)
                continue;
            StepKind sk = lower_other_step(precision_table[p].other_run, g, &g->nodes[m]);
            Step *s = lower_new_step(q, m, m, sk, p);
            q->step_of[m] = (int)(s - q->steps);
            if (sk == STEP_HALF && lower_half_consts(L, s, err))
                return err->code;
            if (sk != STEP_FLOAT && sk != STEP_HALF && lower_q_node(L, s, err))
                return err->code;
            /* a float fallback whose int8 output parameters the target fixes: the view
             * shows them (an exporter writes the op as the int8 kernel it is there) */
            if (sk == STEP_FLOAT && precision_static_activations(p) && lower_prob_out(L, s->out)) {
                int32_t qmin, qmax;
                quant_range(q->plan.q.bits, q->plan.q.act_symmetric, &qmin, &qmax);
                s->out_qp = target_prob_qparams(qmin, qmax);
            }
        }
        if (lin) {
            /* an fp32 unit: derive its folded weights for inspection only */
            Step tmp;
            memset(&tmp, 0, sizeof tmp);
            tmp.head = node;
            tmp.prec = PREC_FP32;
            tmp.out = g->nodes[last].out;
            QsStatus st = lower_lin(L, &tmp, err);
            q->steps[q->step_of[node]].lin = tmp.lin;
            if (st)
                return st;
        }
    }
    return QS_OK;
}

/* ---- representations ----------------------------------------------------------------- */

static void lower_reps(QModel *q)
{
    const Graph *g = q->g;
    for (int i = 0; i < q->n_steps; i++) {
        const Step *s = &q->steps[i];
        const Node *n = &g->nodes[s->head];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0 || lower_is_const(g, v))
                continue;
            /* an fp16 step reading an fp16 step's output reads its F slot (already half);
             * REP_H is still recorded for node-local runs, whose inputs are not */
            q->vi[v].reps |= s->in_rep | (s->in_rep == REP_H && q->vi[v].half_exact ? REP_F : 0);
        }
        q->vi[s->out].reps |= s->out_rep | REP_F;
        q->vi[s->out].half_exact = s->kind == STEP_HALF || s->kind == STEP_LIN_HALF;
    }
}

/* ---- inspection --------------------------------------------------------------------------- */

static int lower_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void lower_weight_info(const LinUnit *u, bool int8, QLayerInfo *li)
{
    int64_t oc = u->oc, k = u->k;
    double *range = xmalloc((size_t)oc * sizeof *range);
    float wmin = INFINITY, wmax = -INFINITY;
    int64_t nonzero = 0, lost = 0;
    for (int64_t c = 0; c < oc; c++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < k; i++) {
            float v = u->wf[c * k + i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            if (v != 0.0f && int8) {
                nonzero++;
                lost += u->wq[c * k + i] == 0;
            }
        }
        range[c] = (double)hi - lo;
        wmin = lo < wmin ? lo : wmin;
        wmax = hi > wmax ? hi : wmax;
    }
    qsort(range, (size_t)oc, sizeof *range, lower_cmp_double);
    double med = oc % 2 ? range[oc / 2] : 0.5 * (range[oc / 2 - 1] + range[oc / 2]);
    double top = range[oc - 1];
    li->w_min = wmin;
    li->w_max = wmax;
    li->w_channel_spread = med > 0 ? top / med : top > 0 ? INFINITY : 1.0;
    free(range);
    if (int8) {
        li->w_zero_fraction = nonzero ? (double)lost / (double)nonzero : 0.0;
        li->n_wscales = u->n_wscales;
        li->wscales = u->ws;
    }
}

/* Activation inspection for node `node` whose int8 output value is v. */
static void lower_act_info(const Lower *L, int v, QLayerInfo *li)
{
    const VInfo *vi = &L->q->vi[v];
    if (!vi->has_qp)
        return;
    if (!L->cal)
        return;
    const ActStats *st = &L->cal->stats[v];
    li->has_act = true;
    li->act_from_file = qimport_value(L->cal->imported, vi->qp_src) != NULL;
    li->act_observed = st->count > 0;
    li->act_min = (float)st->min;
    li->act_max = (float)st->max;
    if (li->act_from_file && !li->act_observed) { /* the file's grid */
        li->act_min = vi->clip_lo;
        li->act_max = vi->clip_hi;
    }
    li->clip_lo = vi->clip_lo;
    li->clip_hi = vi->clip_hi;
    li->act = vi->qp;
    li->clipped = act_stats_clipped_fraction(st, vi->clip_lo, vi->clip_hi);
}

static void lower_info(Lower *L)
{
    QModel *q = L->q;
    const Graph *g = L->g;
    for (int node = 0; node < g->n_nodes; node++) {
        QLayerInfo *li = &q->info[node];
        const Step *s = &q->steps[q->step_of[node]];
        int head = L->head_of[node];
        li->prec = s->prec;
        li->unit = head;
        li->absorbed = head != node;
        li->integer = s->kind != STEP_FLOAT && s->kind != STEP_HALF && s->kind != STEP_LIN_HALF;
        /* a fallback: a node its precision would run on integers that runs in float */
        const PrecisionDef *pd = &precision_table[s->prec];
        li->fallback = s->kind == STEP_FLOAT &&
                       (pd->other_run == PRUN_INT8_STATIC ||
                        (pd->linear_run == PRUN_INT8_DYN &&
                         op_table[g->nodes[node].op]->int8.linear != OPLIN_NONE &&
                         head == node && !s->lin));
        if (head == node && s->lin)
            lower_weight_info(s->lin, precision_is_integer(s->prec), li);
        if (!precision_static_activations(s->prec))
            continue;
        /* a fused unit's head and last node show the unit's output; interior nodes have
         * no quantized value */
        int last = lower_unit_last(L, head);
        if (s->kind == STEP_LIN_Q && node != head && node != last)
            continue;
        lower_act_info(L, s->kind == STEP_LIN_Q ? s->out : g->nodes[node].out, li);
    }
}

/* ---- deployed size ------------------------------------------------------------------------ */

static int64_t lower_const_bytes(Lower *L, const Node *n, int half)
{
    int64_t bytes = 0;
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (!lower_is_const(L->g, v) || L->counted[v])
            continue;
        L->counted[v] = true;
        const Tensor *t = lower_const(L->g, v);
        bytes += t->dtype == DT_F32 && half ? 2 * tensor_numel(t) : (int64_t)tensor_bytes(t);
    }
    return bytes;
}

static int64_t lower_deployed(Lower *L)
{
    QModel *q = L->q;
    int64_t total = 0;
    for (int i = 0; i < q->n_steps; i++) {
        const Step *s = &q->steps[i];
        const LinUnit *u = s->lin;
        int64_t nw = u ? u->oc * u->k : 0;
        switch (s->kind) {
        case STEP_LIN_HALF:
            total += 2 * nw + (u->has_bias ? 2 * u->oc : 0);
            break;
        case STEP_LIN_DYN:
        case STEP_LIN_Q:
            /* packed at `bits` per weight, one float scale per channel (or tensor); the
             * bias is int32 (static) or float32 (dynamic), 4 bytes either way */
            total += (nw * q->plan.q.bits + 7) / 8 + 4 * (int64_t)u->n_wscales +
                     (u->has_bias ? 4 * u->oc : 0);
            break;
        default:
            total += lower_const_bytes(L, &q->g->nodes[s->head], s->kind == STEP_HALF);
            break;
        }
    }
    /* int8-static activations: a float32 scale and an int8 zero point per quantized value */
    for (int v = 0; v < q->g->n_values; v++)
        if (q->vi[v].has_qp && q->vi[v].qp_src == v)
            total += 5;
    return total;
}

/* ---- entry points --------------------------------------------------------------------------- */

QsStatus qexec_lower(QModel *q, const Calibration *cal, const float *const *corr,
                     QsError *err)
{
    const Graph *g = q->g;
    const QuantOpts *o = &q->plan.q;
    if (q->plan.n_nodes != g->n_nodes)
        return qs_fail(err, QS_EINVAL, "the plan is for %d layers, the model has %d",
                       q->plan.n_nodes, g->n_nodes);
    if (o->bits < 2 || o->bits > 8)
        return qs_fail(err, QS_EINVAL, "bits=%d: must be 2 to 8", o->bits);
    if (o->observer < 0 || o->observer >= OBS_COUNT)
        return qs_fail(err, QS_EINVAL, "observer %d is not in the observer table", o->observer);
    if (o->target < 0 || o->target >= QTGT_COUNT)
        return qs_fail(err, QS_EINVAL, "target %d is not in the target table", o->target);
    bool needs_cal = plan_needs_calibration(&q->plan);
    if (needs_cal && !cal)
        return qs_fail(err, QS_EINVAL, "int8-static needs activation ranges: run 'calibrate' first");
    if (needs_cal && cal->n_values != g->n_values)
        return qs_fail(err, QS_EINVAL, "the calibration has %d values, the model %d: "
                       "run 'calibrate' again", cal->n_values, g->n_values);

    int nv = g->n_values, nn = g->n_nodes;
    q->steps = xcalloc((size_t)(nn ? nn : 1), sizeof *q->steps);
    q->step_of = xcalloc((size_t)(nn ? nn : 1), sizeof *q->step_of);
    q->info = xcalloc((size_t)(nn ? nn : 1), sizeof *q->info);
    q->vi = xcalloc((size_t)(nv ? nv : 1), sizeof *q->vi);
    q->hconst = xcalloc((size_t)(nv ? nv : 1), sizeof *q->hconst);

    Lower L = { .q = q, .g = g, .cal = cal, .corr = corr, .T = &target_table[o->target] };
    L.counted = xcalloc((size_t)(nv ? nv : 1), sizeof *L.counted);
    L.units = xcalloc((size_t)(nn ? nn : 1), sizeof *L.units);
    L.head_of = xmalloc((size_t)(nn ? nn : 1) * sizeof *L.head_of);
    linear_group(g, lower_accept, &L, L.units, L.head_of);
    /* imported parameters are tied in their file already */
    QsStatus st = needs_cal && !cal->imported ? qexec_ties_build(q, cal, L.head_of, &L.ties, err)
                                              : QS_OK;
    if (!st)
        st = lower_steps(&L, err);
    if (!st) {
        lower_reps(q);
        qexec_ort_plan(q);
        lower_info(&L);
        q->deployed_bytes = lower_deployed(&L);
    }
    qexec_ties_release(&L.ties);
    free(L.counted);
    free(L.units);
    free(L.head_of);
    return st;
}

static void lower_free_lin(LinUnit *u)
{
    if (!u)
        return;
    free(u->wf);
    free(u->bf);
    free(u->wh);
    free(u->bh);
    free(u->whf);
    free(u->bhf);
    free(u->wq);
    free(u->ws);
    free(u->sumw);
    free(u->wfq);
    free(u->bq);
    free(u->bfq);
    free(u->rq);
    free(u->corr);
    if (u->rv)
        qk_rqvec_free(u->rv);
    free(u->rv);
    for (int g = 0; g < u->n_wp; g++)
        qpacked_free(&u->wp[g]);
    free(u->wp);
    free(u);
}

void qexec_lower_release(QModel *q)
{
    for (int i = 0; i < q->n_steps; i++) {
        Step *s = &q->steps[i];
        lower_free_lin(s->lin);
        qexec_step_rules_release(s);
        free(s->in_qps);
        free(s->hconst);
        free(s->table);
    }
    if (q->hconst)
        for (int v = 0; v < q->n_values; v++)
            tensor_free(q->hconst[v]);
    free(q->steps);
    free(q->step_of);
    free(q->info);
    free(q->vi);
    free(q->hconst);
    q->steps = NULL;
    q->n_steps = 0;
}
