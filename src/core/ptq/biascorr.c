/* Empirical bias correction (biascorr.h). Sequential rather than local: a unit is measured
 * on the inputs the quantized model itself gives it, with the units before it already
 * corrected, so its correction also takes out the mean shift that reaches it from upstream
 * (clipping and rounding of earlier layers, which the next layers' ReLUs turn into a bias),
 * not only its own weight error. That is AIMET's empirical bias correction; the local
 * variant (float inputs) would see only E[(W - W_q) x] of each unit alone. The cost is one
 * pass over the samples per unit. */
#include "ptq/biascorr.h"
#include "eval/eval.h"
#include "eval/walk.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kern/fmath.h"
#include "ops/op.h"
#include "qexec/qexec.h"
#include "run/run.h"

uint64_t biascorr_next_gen(void)
{
    static atomic_uint_fast64_t last;
    return (uint64_t)atomic_fetch_add(&last, 1) + 1;
}

BiasCorr biascorr_none(void)
{
    BiasCorr c;
    memset(&c, 0, sizeof c);
    return c;
}

bool biascorr_active(const BiasCorr *c) { return c && c->n_nodes > 0 && c->v; }

void biascorr_release(BiasCorr *c)
{
    if (!c)
        return;
    if (c->v)
        for (int i = 0; i < c->n_nodes; i++)
            free(c->v[i]);
    free(c->v);
    free(c->len);
    plan_release(&c->plan);
    memset(c, 0, sizeof *c);
}

void biascorr_copy(BiasCorr *dst, const BiasCorr *src)
{
    *dst = biascorr_none();
    if (!biascorr_active(src))
        return;
    *dst = *src;
    int n = src->n_nodes;
    dst->v = xcalloc((size_t)n, sizeof *dst->v);
    dst->len = xcalloc((size_t)n, sizeof *dst->len);
    for (int i = 0; i < n; i++) {
        dst->len[i] = src->len[i];
        if (src->v[i]) {
            dst->v[i] = xmalloc((size_t)(src->len[i] ? src->len[i] : 1) * sizeof(float));
            memcpy(dst->v[i], src->v[i], (size_t)src->len[i] * sizeof(float));
        }
    }
    plan_copy(&dst->plan, &src->plan);
}

/* ---- measurement ----------------------------------------------------------------------- */

/* One corrected unit while it is measured. */
typedef struct BcUnit {
    int head;
    int pre;            /* the value holding the float pre-activation */
    int axis;           /* channel axis of the head's output: 1 (conv) or last */
    int64_t oc;
} BcUnit;

/* Captures one value of the quantized run (the measured unit's input). Taps come under
 * a step's last node, whose output is the value. */
typedef struct BcTap {
    const Graph *g;
    int v;
    Tensor *dst;
    bool got;
} BcTap;

static void bc_tap(void *user, int node, const Tensor *t)
{
    BcTap *c = user;
    if (c->got || c->g->nodes[node].out != c->v || t->dtype != DT_F32 ||
        tensor_numel(t) != tensor_numel(c->dst))
        return;
    memcpy(c->dst->data, t->data, tensor_bytes(c->dst));
    c->got = true;
}

/* Adds (ref - q)^2 and ref^2 of every graph output. */
static void bc_sqnr_add(const Run *ref, const Tensor *const *outs, int n_out, double *sig,
                        double *noise)
{
    for (int k = 0; k < n_out; k++) {
        const float *a = tensor_f32(run_output(ref, k)), *b = tensor_f32(outs[k]);
        int64_t n = tensor_numel(outs[k]);
        for (int64_t i = 0; i < n; i++) {
            double d = (double)b[i] - a[i];
            if (!isfinite(d))
                continue;
            *sig += (double)a[i] * a[i];
            *noise += d * d;
        }
    }
}

static double bc_db(double sig, double noise)
{
    return noise == 0 ? INFINITY : 10.0 * fm_log10(sig / noise);
}

/* The int8 linear units of plan p in topological order (lowered once without correction). */
static int bc_find_units(const Model *m, QModel *q, BcUnit *units)
{
    const Graph *g = &m->graph;
    int n = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        int node = g->order[k];
        const QLayerInfo *li = qmodel_layer(q, node);
        if (li->absorbed || li->unit != node || li->n_wscales == 0 ||
            !precision_is_integer(li->prec))
            continue;
        BcUnit *u = &units[n++];
        u->head = node;
        u->pre = g->nodes[node].out;
        for (int b = 0; b < g->n_nodes; b++)
            if (b != node && qmodel_layer(q, b)->unit == node && g->nodes[b].op == OP_BATCHNORM)
                u->pre = g->nodes[b].out;
        const Shape *s = &g->values[g->nodes[node].out].shape;
        u->axis = g->nodes[node].op == OP_CONV ? 1 : s->ndim - 1;
        u->oc = s->dim[u->axis];
    }
    return n;
}

/* Adds sum(ref - q) per channel (and ref^2) of one batch. */
static void bc_accumulate(const BcUnit *u, const Tensor *ref, const Tensor *q, double *sum,
                          int64_t *cnt, double *sq)
{
    const float *a = tensor_f32(ref), *b = tensor_f32(q);
    int64_t n = tensor_numel(ref);
    int64_t inner = shape_span(&ref->shape, u->axis + 1, ref->shape.ndim);
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        if (!isfinite(d))
            continue;
        int64_t c = (i / inner) % u->oc;
        sum[c] += d;
        cnt[c]++;
        *sq += (double)a[i] * a[i];
    }
}

/* One pass over the samples: the float reference, then the quantized model with the units
 * before u corrected; unit u (NULL in the last pass) has its pre-activation error summed. */
typedef struct BcPass {
    const Run *ref;       /* the float run of the batch */
    QModel *q;
    const BcUnit *u;
    int from_input;       /* the graph input u reads directly, -1: a value tapped into xin */
    BcTap tap;
    Tensor xin;           /* u's input in the quantized run */
    double *sig, *noise;  /* output SQNR sums, or NULL when the pass does not measure them */
    double *sum, sq;      /* bc_accumulate's */
    int64_t *cnt, vals;
} BcPass;

/* Sizes xin from the float run's value and aims the tap at it. */
static QsStatus bc_between(void *user, WalkBatch *b, QsError *err)
{
    (void)b;
    BcPass *c = user;
    int v = c->ref->g->nodes[c->u->head].in[0];
    tensor_release(&c->xin);
    if (tensor_init(&c->xin, DT_F32, c->ref->vals[v].shape, err))
        return err->code;
    c->tap.v = v;
    c->tap.dst = &c->xin;
    c->tap.got = false;
    return QS_OK;
}

static QsStatus bc_batch(void *user, WalkBatch *b, QsError *err)
{
    BcPass *c = user;
    const Run *ref = c->ref;
    const Graph *g = ref->g;
    const BcUnit *u = c->u;
    if (c->sig)
        bc_sqnr_add(ref, b->out2, g->n_outputs, c->sig, c->noise);
    if (!u)
        return QS_OK;
    const Node *hn = &g->nodes[u->head];
    if (c->from_input < 0 && !c->tap.got)
        return qs_fail(err, QS_EINVAL, "biascorr: the quantized run did not produce the "
                       "input of '%s'", hn->name);
    const Tensor *zf = &ref->vals[u->pre];
    Tensor zq;
    if (tensor_init(&zq, DT_F32, ref->vals[hn->out].shape, err))
        return err->code;
    QsStatus st = qmodel_unit_preact(c->q, u->head, c->from_input >= 0 ? &b->views[c->from_input]
                                                                      : &c->xin, &zq, err);
    if (!st) {
        bc_accumulate(u, zf, &zq, c->sum, c->cnt, &c->sq);
        c->vals += tensor_numel(zf);
    }
    tensor_release(&zq);
    return st;
}

QsStatus biascorr_run(const Model *m, const Plan *p, const Calibration *cal, const Dataset *d,
                      int64_t n, int batch, const JobCtx *job, BiasCorr *out,
                      BiasCorrReport *rep, QsError *err)
{
    const Graph *g = &m->graph;
    *out = biascorr_none();
    if (rep)
        memset(rep, 0, sizeof *rep);
    if (eval_check_inputs(g, d, err))
        return qs_error_prefix(err, "biascorr"), err->code;
    if (batch < 1)
        return qs_fail(err, QS_EINVAL, "biascorr: batch %d must be at least 1", batch);
    if (n <= 0 || n > dataset_len(d))
        n = dataset_len(d);
    if (n < 1)
        return qs_fail(err, QS_EINVAL, "biascorr: the split is empty");
    QModel *q;
    if (qmodel_build_ex(m, p, cal, NULL, &q, err))
        return err->code;
    int nn = g->n_nodes;
    BcUnit *units = xcalloc((size_t)(nn ? nn : 1), sizeof *units);
    int nu = bc_find_units(m, q, units);
    qmodel_free(q);
    q = NULL;
    if (nu == 0) {
        free(units);
        return qs_fail(err, QS_EINVAL, "biascorr: the plan (%s) has no int8 Conv/Dense/Gemm/"
                       "MatMul layer to correct", plan_label(p));
    }
    BiasCorr c = biascorr_none();
    c.n_nodes = nn;
    c.v = xcalloc((size_t)nn, sizeof *c.v);
    c.len = xcalloc((size_t)nn, sizeof *c.len);
    plan_copy(&c.plan, p);
    c.samples = n;
    c.gen = biascorr_next_gen();
    /* the corrections measured so far: units after the one measured run uncorrected */
    const float **use = xcalloc((size_t)nn, sizeof *use);
    BiasCorrUnit *ru = xcalloc((size_t)nu, sizeof *ru);
    FloatExec *fe;
    Executor fx = exec_float_new(g, &fe);
    double sig0 = 0, noise0 = 0, sig1 = 0, noise1 = 0;
    QsStatus st = QS_OK;
    /* pass k measures unit k; pass nu only measures the corrected model's outputs */
    for (int k = 0; k <= nu && !st; k++) {
        if ((st = qmodel_build_ex(m, p, cal, use, &q, err)))
            break;
        Executor qx = qmodel_executor(q);
        const BcUnit *u = k < nu ? &units[k] : NULL;
        BcPass bp = { .ref = exec_float_run(fe), .q = q, .u = u, .from_input = -1,
                      .tap = { .g = g, .v = -1 } };
        if (k == 0)
            bp.sig = &sig0, bp.noise = &noise0;
        if (k == nu)
            bp.sig = &sig1, bp.noise = &noise1;
        if (u) {
            bp.sum = xcalloc((size_t)u->oc, sizeof *bp.sum);
            bp.cnt = xcalloc((size_t)u->oc, sizeof *bp.cnt);
            for (int i = 0; i < g->n_inputs; i++)
                if (g->inputs[i] == g->nodes[u->head].in[0])
                    bp.from_input = i;
        }
        bool tapped = u && bp.from_input < 0;
        Walk w = { .ex = &fx, .ex2 = &qx, .tap2 = tapped ? bc_tap : NULL, .tap2_user = &bp.tap,
                   .between = tapped ? bc_between : NULL, .batch = bc_batch, .user = &bp,
                   .job = job, .what = "bias correction", .phase = "biascorr",
                   .frac0 = (double)k / (double)(nu + 1), .span = 1.0 / (double)(nu + 1) };
        st = walk_split(&w, d, n, batch, err);
        tensor_release(&bp.xin);
        double *sum = bp.sum, sq = bp.sq;
        int64_t *cnt = bp.cnt, vals = bp.vals;
        if (!st && u) {
            float *v = xmalloc((size_t)u->oc * sizeof *v);
            double ss = 0, mx = 0;
            for (int64_t ch = 0; ch < u->oc; ch++) {
                v[ch] = cnt[ch] ? (float)(sum[ch] / (double)cnt[ch]) : 0.0f;
                ss += (double)v[ch] * v[ch];
                mx = fabs(v[ch]) > mx ? fabs(v[ch]) : mx;
            }
            c.v[u->head] = v;
            c.len[u->head] = u->oc;
            use[u->head] = v;
            ru[k] = (BiasCorrUnit){ .node = u->head, .prec = plan_node_prec(p, u->head),
                                    .channels = u->oc, .rms = sqrt(ss / (double)u->oc),
                                    .max_abs = mx,
                                    .rms_pre = vals ? sqrt(sq / (double)vals) : 0.0 };
        }
        free(sum);
        free(cnt);
        qmodel_free(q);
        q = NULL;
    }
    exec_float_free(fe);
    free(use);
    free(units);
    if (st) {
        free(ru);
        biascorr_release(&c);
        return st;
    }
    *out = c;
    if (rep) {
        rep->n_units = nu;
        rep->units = ru;
        rep->samples = n;
        rep->sqnr_before = bc_db(sig0, noise0);
        rep->sqnr_after = bc_db(sig1, noise1);
    } else {
        free(ru);
    }
    return QS_OK;
}
