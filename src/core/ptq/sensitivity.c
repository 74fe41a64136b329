#include "ptq/sensitivity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/score.h"

QsStatus sens_score(const SensContext *c, const Plan *p, double *metric, double *ms_per_sample,
                    QsError *err)
{
    Executor ex;
    FloatExec *owner;
    if (qstate_executor(c->qs, c->m, p, NULL, &ex, &owner, err))
        return err->code;
    Score s;
    QsStatus st = score_run(&ex, c->d, c->n, c->task, c->batch, NULL, NULL, c->job, &s, err);
    exec_float_free(owner);
    if (st)
        return st;
    *metric = score_metric(&s);
    if (ms_per_sample)
        *ms_per_sample = 1e3 * s.seconds / (double)s.n;
    score_release(&s);
    return QS_OK;
}

double sens_drop(TaskKind task, double ref, double metric)
{
    return task_table[task].higher_is_better ? ref - metric : metric - ref;
}

QsStatus sens_layers(const SensContext *c, const Plan *p, int **out, int *n_out, QsError *err)
{
    QModel *q;
    if (qstate_qmodel(c->qs, c->m, p, NULL, &q, err))
        return err->code;
    const Graph *g = &c->m->graph;
    int *list = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *list), n = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        int i = g->order[k];
        const QLayerInfo *L = qmodel_layer(q, i);
        if (L->unit == i && !L->absorbed && !precision_is_float(L->prec) &&
            (L->integer || L->n_wscales > 0 || precision_half_outputs(L->prec)))
            list[n++] = i;
    }
    *out = list;
    *n_out = n;
    return QS_OK;
}

QsStatus sens_run(const SensContext *c, const Plan *p, LayerSens **out, int *n_out,
                  QsError *err)
{
    int *layers, n;
    if (sens_layers(c, p, &layers, &n, err))
        return err->code;
    LayerSens *res = xcalloc((size_t)(n ? n : 1), sizeof *res);
    Plan only, but;
    plan_copy(&only, p);
    plan_copy(&but, p);
    QsStatus st = QS_OK;
    for (int k = 0; k < n && !st; k++) {
        int node = layers[k];
        PrecKind prec = plan_node_prec(p, node);
        /* only this layer: everything fp32 but it */
        only.mode = PREC_FP32;
        memset(only.pin, -1, (size_t)only.n_nodes);
        only.pin[node] = (int8_t)prec;
        /* all but this layer */
        memcpy(but.pin, p->pin, (size_t)but.n_nodes);
        but.pin[node] = PREC_FP32;
        res[k].node = node;
        res[k].prec = prec;
        if (!(st = sens_score(c, &only, &res[k].only_metric, NULL, err)))
            st = sens_score(c, &but, &res[k].but_metric, NULL, err);
        job_progress(c->job, (double)(k + 1) / n, "sensitivity");
    }
    plan_release(&only);
    plan_release(&but);
    free(layers);
    if (st) {
        free(res);
        return st;
    }
    *out = res;
    *n_out = n;
    return QS_OK;
}

QsStatus sens_fallback(const SensContext *c, Plan *p, PrecKind target, double max_drop,
                       double fp32_metric, FallbackStep **steps, int *n_steps, bool *reached,
                       QsError *err)
{
    *steps = NULL;
    *n_steps = 0;
    *reached = false;
    double metric;
    if (sens_score(c, p, &metric, NULL, err))
        return err->code;
    Plan trial;
    plan_copy(&trial, p);
    QsStatus st = QS_OK;
    while (!st && sens_drop(c->task, fp32_metric, metric) > max_drop) {
        int *layers, n;
        if ((st = sens_layers(c, p, &layers, &n, err)))
            break;
        int best = -1;
        double best_metric = 0;
        for (int k = 0; k < n && !st; k++) {
            if (plan_node_prec(p, layers[k]) == target)
                continue;
            memcpy(trial.pin, p->pin, (size_t)p->n_nodes);
            trial.pin[layers[k]] = (int8_t)target;
            double m;
            if ((st = sens_score(c, &trial, &m, NULL, err)))
                break;
            if (best < 0 || sens_drop(c->task, m, best_metric) > 0) {
                best = layers[k];
                best_metric = m;
            }
        }
        free(layers);
        if (st || best < 0)
            break; /* nothing left to fall back */
        p->pin[best] = (int8_t)target;
        metric = best_metric;
        *steps = xrealloc(*steps, (size_t)(*n_steps + 1) * sizeof **steps);
        (*steps)[(*n_steps)++] = (FallbackStep){ .node = best, .metric = metric };
    }
    plan_release(&trial);
    if (st) {
        free(*steps);
        *steps = NULL;
        *n_steps = 0;
        return st;
    }
    *reached = sens_drop(c->task, fp32_metric, metric) <= max_drop;
    return QS_OK;
}
