/* sensitivity, fallback: which layers hurt, and pinning them back to float. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/decide.h"
#include "ptq/diagnose.h"
#include "ops/op.h"
#include "ptq/sensitivity.h"

/* The measuring context on split `split` (labelled), first n samples (option n). */
static QsStatus sens_context_on(App *app, const CmdArgs *a, int split, SensContext *c,
                                QsError *err)
{
    Session *s = &app->session;
    long n;
    if (arg_int_range(a, "n", 0, 0, 1L << 40, &n, err))
        return err->code;
    *c = (SensContext){ .qs = &s->q, .m = qstate_model(&s->q, s->model), .d = &s->splits[split],
                        .n = n, .task = session_task(s, &s->splits[split]),
                        .batch = s->opt.batch, .job = &app->job };
    return QS_OK;
}

/* The deciding split (option split, default calib: decide.h) and its context. */
static QsStatus sens_context(App *app, const CmdArgs *a, const char *cmd, Decision *d,
                             SensContext *c, QsError *err)
{
    if (decide_split(&app->session, a, "split", cmd, true, d, err))
        return err->code;
    return sens_context_on(app, a, d->split, c, err);
}

static int by_only_drop(const void *a, const void *b)
{
    const LayerSens *x = a, *y = b;
    /* larger drop first = smaller only_metric first (accuracy) */
    return (x->only_metric > y->only_metric) - (x->only_metric < y->only_metric);
}

QsStatus cmd_sensitivity(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    SensContext c;
    Decision d;
    if (sens_context(app, a, "sensitivity", &d, &c, err))
        return err->code;
    d.scored = d.split; /* the ranking's figures are the deciding split's */
    if (qstate_plan_is_float(&s->q.plan))
        return qs_fail(err, QS_EINVAL, "sensitivity: the plan is all fp32; choose a precision "
                       "first (mode int8-static)");
    Plan fp32;
    plan_init(&fp32, s->q.plan.n_nodes);
    double ref, full;
    QsStatus st = sens_score(&c, &fp32, &ref, NULL, err);
    plan_release(&fp32);
    if (st || (st = sens_score(&c, &s->q.plan, &full, NULL, err)))
        return st;
    LayerSens *ls;
    int n;
    if ((st = sens_run(&c, &s->q.plan, &ls, &n, err)))
        return st;
    if (!task_table[c.task].higher_is_better) /* for MSE, a larger metric is the larger drop */
        for (int i = 0; i < n; i++) {
            ls[i].only_metric = -ls[i].only_metric;
            ls[i].but_metric = -ls[i].but_metric;
        }
    qsort(ls, (size_t)n, sizeof *ls, by_only_drop);
    RvStyle style = task_metric_style(c.task);
    double sign = task_table[c.task].higher_is_better ? 1.0 : -1.0;
    result_str(r, "precision", plan_label(&s->q.plan));
    result_plan_target(r, &s->q.plan);
    result_str(r, "metric", task_table[c.task].metric);
    result_float(r, "fp32", ref, style);
    result_float(r, "quantized", full, style);
    result_float(r, "drop", sens_drop(c.task, ref, full), style);
    decide_fields(&d, r);
    static const char *const cols[] = { "rank", "layer", "op", "prec", "only_this", "only_drop",
                                        "all_but_this", "recovered", NULL };
    RTable *t = result_table(r, "layers", cols);
    const Graph *g = &s->model->graph;
    for (int i = 0; i < n; i++) {
        double only = sign * ls[i].only_metric, but = sign * ls[i].but_metric;
        int row = rtable_add_row(t);
        rtable_int(t, row, 0, i + 1);
        rtable_str(t, row, 1, g->nodes[ls[i].node].name);
        rtable_str(t, row, 2, op_table[g->nodes[ls[i].node].op]->name);
        rtable_str(t, row, 3, precision_table[ls[i].prec].name);
        rtable_float(t, row, 4, only, style);
        rtable_float(t, row, 5, sens_drop(c.task, ref, only), style);
        rtable_float(t, row, 6, but, style);
        rtable_float(t, row, 7, sens_drop(c.task, but, full), style);
    }
    if (n)
        result_str(r, "worst", g->nodes[ls[0].node].name);
    free(ls);
    return QS_OK;
}

/* The FP32 and current-plan figures of fallback's outcome on the split that scores
 * (scored_fp32, scored_after, scored_drop); ref and after are the deciding split's, used
 * when it is that split. */
static QsStatus fallback_scored(App *app, const CmdArgs *a, const Decision *d, TaskKind task,
                                double ref, double after, Result *r, QsError *err)
{
    Session *s = &app->session;
    SensContext c;
    QsStatus st = QS_OK;
    if (d->scored != d->split) {
        if (sens_context_on(app, a, d->scored, &c, err))
            return err->code;
        task = c.task;
        Plan fp32;
        plan_init(&fp32, s->q.plan.n_nodes);
        st = sens_score(&c, &fp32, &ref, NULL, err);
        plan_release(&fp32);
        if (st || (st = sens_score(&c, &s->q.plan, &after, NULL, err)))
            return st;
    }
    RvStyle style = task_metric_style(task);
    result_float(r, "scored_fp32", ref, style);
    result_float(r, "scored_after", after, style);
    result_float(r, "scored_drop", sens_drop(task, ref, after), style);
    return QS_OK;
}

QsStatus cmd_fallback(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const char *drop_s = arg_str(a, "drop", NULL);
    if (!drop_s && a->n_pos == 1 && strncmp(a->pos[0], "drop<=", 6) == 0)
        drop_s = a->pos[0] + 6; /* the documented spelling: fallback drop<=0.01 */
    if (!drop_s)
        return qs_fail(err, QS_EINVAL, "fallback: give the largest acceptable drop, e.g. "
                       "'fallback drop<=0.01' or 'fallback drop<=1%%' (a fraction of the "
                       "metric: one point of accuracy)");
    double max_drop;
    int target;
    if (parse_fraction("drop", drop_s, &max_drop, err) ||
        arg_choice_of(a, "to", choice_float_precision, PREC_FP16, &target, err))
        return err->code;
    SensContext c;
    Decision d;
    if (sens_context(app, a, "fallback", &d, &c, err))
        return err->code;
    PrecKind to = (PrecKind)target;
    Plan fp32;
    plan_init(&fp32, s->q.plan.n_nodes);
    double ref, before, before_ms, after, after_ms;
    QsStatus st = sens_score(&c, &fp32, &ref, NULL, err);
    plan_release(&fp32);
    if (st || (st = sens_score(&c, &s->q.plan, &before, &before_ms, err)))
        return st;
    QModel *q;
    if ((st = qstate_qmodel(&s->q, s->model, &s->q.plan, NULL, &q, err)))
        return st;
    int64_t before_bytes = qmodel_deployed_bytes(q);
    Plan p;
    plan_copy(&p, &s->q.plan);
    FallbackStep *steps;
    int n;
    bool reached;
    if ((st = sens_fallback(&c, &p, to, max_drop, ref, &steps, &n, &reached, err))) {
        plan_release(&p);
        return st;
    }
    plan_release(&s->q.plan);
    s->q.plan = p;
    if ((st = sens_score(&c, &s->q.plan, &after, &after_ms, err)) ||
        (st = qstate_qmodel(&s->q, s->model, &s->q.plan, NULL, &q, err))) {
        free(steps);
        return st;
    }
    RvStyle style = task_metric_style(c.task);
    result_bool(r, "reached", reached);
    result_float(r, "max_drop", max_drop, style);
    result_float(r, "fp32", ref, style);
    result_float(r, "before", before, style);
    result_float(r, "after", after, style);
    result_float(r, "drop", sens_drop(c.task, ref, after), style);
    result_int(r, "bytes_before", before_bytes);
    result_int(r, "bytes_after", qmodel_deployed_bytes(q));
    result_float(r, "ms_before", before_ms, RS_MS);
    result_float(r, "ms_after", after_ms, RS_MS);
    result_str(r, "to", precision_table[to].name);
    decide_fields(&d, r);
    if ((st = fallback_scored(app, a, &d, c.task, ref, after, r, err))) {
        free(steps);
        return st;
    }
    static const char *const cols[] = { "step", "pinned", "metric", "drop", NULL };
    RTable *t = result_table(r, "steps", cols);
    for (int i = 0; i < n; i++) {
        int row = rtable_add_row(t);
        rtable_int(t, row, 0, i + 1);
        rtable_str(t, row, 1, s->model->graph.nodes[steps[i].node].name);
        rtable_float(t, row, 2, steps[i].metric, style);
        rtable_float(t, row, 3, sens_drop(c.task, ref, steps[i].metric), style);
    }
    free(steps);
    return QS_OK;
}

/* diagnose's validation split (decide.h): calib unless split= names another, unlabelled
 * allowed (errors need no labels; fp32 and base need them); eval only when named, with the
 * warning. Without a usable calib and no split= it runs the rules that need no data. */
static QsStatus diagnose_context(App *app, const CmdArgs *a, Result *r, SensContext *c,
                                 QsError *err)
{
    Session *s = &app->session;
    Decision dec = { .split = -1 };
    if (arg_str(a, "split", NULL) || decide_split_usable(s, SPLIT_CALIB, false)) {
        if (decide_split(s, a, "split", "diagnose", false, &dec, err))
            return err->code;
        dec.scored = dec.split; /* its figures are the measuring split's own */
        decide_fields(&dec, r);
    } else {
        decide_fields_split(-1, r);
    }
    long n;
    if (arg_int_range(a, "n", 0, 0, 1L << 40, &n, err))
        return err->code;
    const Dataset *d = dec.split >= 0 ? &s->splits[dec.split] : NULL;
    *c = (SensContext){ .qs = &s->q, .m = qstate_model(&s->q, s->model), .d = d, .n = n,
                        .task = session_task(s, d ? d : &s->splits[SPLIT_CALIB]),
                        .batch = s->opt.batch, .job = &app->job };
    int cal = split_find(s->q.calib_split);
    c->calib_d = cal >= 0 && decide_split_usable(s, cal, false) ? &s->splits[cal] : NULL;
    return QS_OK;
}

/* The collapse check's figures (diag_collapse.h), when it ran. */
static void diagnose_collapse_fields(const CollapseStats *s, Result *r)
{
    if (!s->checked)
        return;
    result_bool(r, "collapsed", s->collapsed);
    result_int(r, "top_class", s->top_class);
    result_float(r, "top_share", s->top_share, RS_PCT);
    result_int(r, "top_class_fp32", s->top_class_fp32);
    result_float(r, "top_share_fp32", s->top_share_fp32, RS_PCT);
    result_float(r, "entropy", s->entropy, RS_FIXED4);
    result_float(r, "entropy_fp32", s->entropy_fp32, RS_FIXED4);
}

QsStatus cmd_diagnose(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const Graph *g = &s->model->graph;
    SensContext c;
    DiagReport d;
    if (diagnose_context(app, a, r, &c, err) || diagnose_run(&c, &s->q.plan, &d, err))
        return err->code;
    RvStyle style = task_metric_style(c.task);
    result_str(r, "judged", plan_label(&d.judged));
    result_plan_target(r, &d.judged);
    if (d.scored) {
        result_float(r, "fp32", d.fp32_metric, style);
        result_float(r, "base", d.base_metric, style);
    }
    diagnose_collapse_fields(&d.collapse, r);
    result_int(r, "n_findings", d.n);
    static const char *const cols[] = { "rank",   "layer",  "kind", "channels", "evidence",
                                        "fix",    "metric", "gain", NULL };
    RTable *t = result_table(r, "findings", cols);
    for (int i = 0; i < d.n; i++) {
        const Finding *f = &d.f[i];
        int row = rtable_add_row(t);
        rtable_int(t, row, 0, i + 1);
        rtable_str(t, row, 1, g->nodes[f->node].name);
        rtable_str(t, row, 2, diag_kind_names[f->kind]);
        rtable_ints(t, row, 3, f->channels, f->n_channels);
        rtable_str(t, row, 4, f->evidence);
        rtable_str(t, row, 5, f->fix);
        if (f->measured) {
            rtable_float(t, row, 6, f->metric, style);
            rtable_float(t, row, 7, f->gain, style);
        }
    }
    if (d.n > 0) {
        const Finding *f = &d.f[0];
        result_str(r, "worst", g->nodes[f->node].name);
        result_str(r, "worst_kind", diag_kind_names[f->kind]);
        result_int(r, "worst_channel", f->n_channels ? f->channels[0] : -1);
        result_str(r, "worst_fix", f->fix);
        if (f->measured) {
            double drop = sens_drop(c.task, d.fp32_metric, d.base_metric);
            result_float(r, "worst_gain", f->gain, style);
            /* the share of the plan's drop against fp32 that the fix wins back */
            result_float(r, "worst_recovered", drop > 0 ? f->gain / drop : NAN, RS_PCT);
        }
    } else {
        result_textf(r, "nothing stands out");
    }
    diagnose_release(&d);
    return arg_has(a, "taps") ? diagnose_taps(app, a, r, err) : QS_OK;
}
