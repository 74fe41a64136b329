#include "session/qview.h"

#include <math.h>
#include <stdio.h>

#include "ops/op.h"

bool qview_is_preview(const Session *s)
{
    return qstate_plan_is_float(&s->q.plan) && s->q.calibrated;
}

PrecKind qview_preview_prec(void)
{
    return PREC_INT8_STATIC;
}

QModel *qview_current(Session *s, char *note, size_t cap)
{
    if (note && cap)
        note[0] = '\0';
    bool preview = qview_is_preview(s);
    if (qstate_plan_is_float(&s->q.plan) && !preview)
        return NULL;
    QModel *q = NULL;
    QsError e = { 0 };
    Plan p;
    plan_copy(&p, &s->q.plan);
    if (preview)
        p.mode = qview_preview_prec();
    if (qstate_qmodel(&s->q, s->model, &p, NULL, &q, &e)) {
        if (note && cap)
            snprintf(note, cap, "%s", e.msg);
        q = NULL;
    }
    plan_release(&p);
    return q;
}

const char *qview_kernel(const Session *s, const QModel *q, int node)
{
    if (qstate_plan_is_float(&s->q.plan))
        return "float";
    if (!q)
        return NULL;
    const QLayerInfo *L = qmodel_layer(q, node);
    return L->absorbed ? "fused" : L->fallback ? "float-fallback" : L->integer ? "int8" : "float";
}

QsStatus qview_act(Session *s, int node, QViewAct *out, QsError *err)
{
    const Graph *g = &s->model->graph;
    if (!s->q.calibrated)
        return qs_fail(err, QS_EINVAL, "no activation statistics yet (run 'calibrate')");
    int shown = node;
    QModel *q = qview_current(s, NULL, 0);
    if (q && qmodel_layer(q, node)->unit == node)
        shown = qmodel_unit_tail(q, node);
    const ActStats *st = &s->q.calib.stats[g->nodes[shown].out];
    if (st->count == 0 || st->hist.range <= 0)
        return qs_fail(err, QS_EINVAL, "layer '%s' saw no finite values", g->nodes[node].name);
    QuantOpts qo = s->q.plan.q;
    ObserverOpts oo = { .pct = qo.pct, .bits = qo.bits, .symmetric = qo.act_symmetric };
    float lo, hi;
    const QParams *iq = qimport_value(s->q.calib.imported, g->nodes[shown].out);
    if (iq) { /* parameters imported from a deployed file (quant/qimport.h) */
        out->qp = *iq;
        lo = quant_dq(iq->qmin, iq);
        hi = quant_dq(iq->qmax, iq);
    } else if (observer_table[qo.observer].range(st, &oo, &lo, &hi, err)) {
        return err->code;
    } else {
        out->qp = quant_params(lo, hi, qo.bits, qo.act_symmetric);
    }
    float al, ah;
    if (shown != node && op_clamp_range(&g->nodes[shown], &al, &ah)) {
        lo = fmaxf(lo, al);
        hi = fminf(hi, ah);
    }
    out->shown = shown;
    out->st = st;
    out->lo = lo;
    out->hi = hi;
    out->xlo = fmin(fmin(st->min, lo), 0.0);
    out->xhi = fmax(fmax(st->max, hi), 0.0);
    if (out->xhi <= out->xlo)
        out->xhi = out->xlo + 1;
    return QS_OK;
}
