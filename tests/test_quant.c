#include "test_quant.h"

#include <string.h>

#include "base/error.h"
#include "test_util.h"

void tu_hand_calibration(const Graph *g, Calibration *cal, const int *vals,
                         const float (*ranges)[2], int n)
{
    memset(cal, 0, sizeof *cal);
    cal->n_values = g->n_values;
    cal->stats = xmalloc((size_t)g->n_values * sizeof *cal->stats);
    cal->samples = 1;
    cal->ma_momentum = 0.01;
    for (int v = 0; v < g->n_values; v++)
        act_stats_init(&cal->stats[v]);
    for (int i = 0; i < n; i++)
        act_stats_observe(&cal->stats[vals[i]], ranges[i], 2, 0.01);
}

QsStatus tu_int8_build(const Model *m, const Calibration *cal, int target, Plan *p, QModel **q,
                       QsError *err)
{
    plan_init(p, m->graph.n_nodes);
    p->mode = PREC_INT8_STATIC;
    p->q.target = target;
    *q = NULL;
    return qmodel_build(m, p, cal, q, err);
}

Tensor *tu_run_exec(Executor ex, const Tensor *x, RunTapFn fn, void *user)
{
    QsError err = { 0 };
    const Tensor *outs[4];
    const Tensor *in[1] = { x };
    if (!CHECK_OK(ex.forward(ex.self, in, outs, fn, user, &err), &err))
        return NULL;
    Tensor *t = tensor_clone(outs[0], &err);
    QS_ASSERT(t);
    return t;
}

Tensor *tu_run(Executor ex, const Tensor *x) { return tu_run_exec(ex, x, NULL, NULL); }
