/* The read-only view of a lowered plan (qexec_view.h), read from the executor's own
 * structs so that writers never see them. */
#include "qexec/qexec_view.h"

#include <string.h>

#include "qexec/qexec_internal.h"

const Model *qmodel_model(const QModel *q) { return q->m; }

const Graph *qmodel_graph(const QModel *q) { return q->g; }

const Plan *qmodel_plan(const QModel *q) { return &q->plan; }

const QTargetDef *qmodel_target(const QModel *q)
{
    return target_of(q->plan.q.target);
}

int qmodel_n_steps(const QModel *q) { return q->n_steps; }

int qmodel_step_of(const QModel *q, int node) { return q->step_of[node]; }

static QStepViewKind view_kind(StepKind k)
{
    switch (k) {
    case STEP_FLOAT: return QSTEP_FLOAT;
    case STEP_HALF: return QSTEP_HALF;
    case STEP_LIN_HALF: return QSTEP_LIN_HALF;
    case STEP_LIN_DYN: return QSTEP_LIN_DYN;
    case STEP_LIN_Q: return QSTEP_LIN_INT8;
    default: return QSTEP_INT8;
    }
}

static QRepView view_rep(int rep, bool half)
{
    return rep == REP_Q ? QREP_INT8 : rep == REP_H || half ? QREP_HALF : QREP_FLOAT;
}

static QLinearView view_linear(const LinUnit *l)
{
    QLinearView v = {
        .conv = l->kind != LIN_GEMM, .oc = l->oc, .k = l->k, .wshape = l->wshape,
        .wq = l->wq, .ws = l->ws, .n_wscales = l->n_wscales, .in_qp = l->in_qp, .bq = l->bq,
        .wh = l->wh, .bh = l->bh,
    };
    return v;
}

QStepView qmodel_step(const QModel *q, int si)
{
    const Step *s = &q->steps[si];
    QStepView v;
    memset(&v, 0, sizeof v);
    v.kind = view_kind(s->kind);
    v.prec = s->prec;
    v.head = s->head;
    v.last = s->last;
    v.out = s->out;
    v.reads = view_rep(s->in_rep, false);
    /* an fp16 step's output is float in its slot, rounded to half (VInfo.half_exact) */
    v.writes = view_rep(s->out_rep, s->kind == STEP_HALF || s->kind == STEP_LIN_HALF);
    v.out_qp = s->out_qp;
    v.lo = s->lo;
    v.hi = s->hi;
    bool linear = s->kind == STEP_LIN_HALF || s->kind == STEP_LIN_DYN || s->kind == STEP_LIN_Q;
    if (linear) { /* fp32 units keep a LinUnit for inspection only: not shown here */
        v.lin = view_linear(s->lin);
        if (s->kind == STEP_LIN_Q) { /* the unit's clamp holds its fused activation */
            v.lo = s->lin->lo;
            v.hi = s->lin->hi;
        }
    }
    return v;
}

bool qmodel_value_qparams(const QModel *q, int v, QParams *qp)
{
    if (!q->vi[v].has_qp)
        return false;
    *qp = q->vi[v].qp;
    return true;
}

const Tensor *qmodel_half_const(const QModel *q, int v)
{
    return q->hconst ? q->hconst[v] : NULL;
}
