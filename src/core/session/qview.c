#include "session/qview.h"

#include <stdio.h>

QModel *qview_current(Session *s, char *note, size_t cap)
{
    if (note && cap)
        note[0] = '\0';
    if (qstate_plan_is_float(&s->q.plan) && !s->q.calibrated)
        return NULL;
    QModel *q = NULL;
    QsError e = { 0 };
    Plan p;
    plan_copy(&p, &s->q.plan);
    if (qstate_plan_is_float(&p))
        p.mode = PREC_INT8_STATIC;
    if (qstate_qmodel(&s->q, s->model, &p, NULL, &q, &e)) {
        if (note && cap)
            snprintf(note, cap, "%s", e.msg);
        q = NULL;
    }
    plan_release(&p);
    return q;
}
