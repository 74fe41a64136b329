#include "session/qview.h"

#include <stdio.h>

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
