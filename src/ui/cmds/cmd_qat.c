/* qat: quantization-aware fine-tuning of the current plan into a variant that holds its own
 * weights (docs/qat.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/cmd_tflite.h"
#include "cmds/decide.h"
#include "eval/eval.h"
#include "qat/qat.h"

typedef struct {
    RTable *t;
    RvStyle style;
} QatRows;

static void on_epoch(void *user, const QatEpoch *e)
{
    QatRows *rows = user;
    int row = rtable_add_row(rows->t);
    rtable_int(rows->t, row, 0, e->epoch);
    rtable_float(rows->t, row, 1, e->task_loss, RS_PLAIN);
    rtable_float(rows->t, row, 2, e->distill_loss, RS_PLAIN);
    rtable_float(rows->t, row, 3, e->feature_loss, RS_PLAIN);
    rtable_float(rows->t, row, 4, e->fake_metric, rows->style);
    rtable_float(rows->t, row, 5, e->int8_metric, rows->style);
    rtable_bool(rows->t, row, 6, e->improved);
    rtable_bool(rows->t, row, 7, e->bn_frozen);
    rtable_bool(rows->t, row, 8, e->ranges_frozen);
    rtable_float(rows->t, row, 9, e->seconds, RS_FIXED4);
}

/* feature=A,B,...: layer names of the session model into nodes (n_max entries). */
static QsStatus parse_features(const Graph *g, const char *s, int *nodes, int n_max, int *n,
                               QsError *err)
{
    *n = 0;
    char *copy = xstrdup(s), *save = NULL;
    QsStatus st = QS_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && !st; tok = strtok_r(NULL, ",", &save)) {
        int node = graph_find_node(g, tok);
        if (node < 0)
            st = qs_fail(err, QS_ENOTFOUND, "feature=%s: no layer named '%s' (see 'layers')", s,
                         tok);
        else if (*n == n_max)
            st = qs_fail(err, QS_EINVAL, "feature=%s: at most %d layers", s, n_max);
        else
            nodes[(*n)++] = node;
    }
    free(copy);
    if (!st && *n == 0)
        st = qs_fail(err, QS_EINVAL, "feature=%s: expected layer names separated by commas", s);
    return st;
}

/* Reads the options into cfg. C sizes the class weights, features the feature list. */
static QsStatus read_config(App *app, const CmdArgs *a, int C, QatConfig *cfg, float *weights,
                            int *features, Decision *val, const char **name, QsError *err)
{
    Session *s = &app->session;
    const Graph *g = &s->model->graph;
    long epochs, batch, patience, fbn, fobs, seed;
    double lr, momentum, wd, T, alpha;
    int opt, distill, sc;
    *cfg = qat_config_default();
    if (arg_int_range(a, "epochs", cfg->epochs, 1, 100000, &epochs, err) ||
        arg_int_range(a, "batch", cfg->batch, 1, 1 << 16, &batch, err) ||
        arg_int_range(a, "patience", 0, 0, 100000, &patience, err) ||
        arg_int_range(a, "freeze_bn_after", 0, 0, 100000, &fbn, err) ||
        arg_int_range(a, "observer_freeze_after", 0, 0, 100000, &fobs, err) ||
        arg_int(a, "seed", s->opt.seed, &seed, err) ||
        arg_choice_of(a, "opt", choice_optim, OPTIM_ADAM, &opt, err) ||
        arg_choice_of(a, "distill", choice_distill, -1, &distill, err) ||
        arg_choice_of(a, "scales", choice_qat_scales, QAT_SCALES_EMA, &sc, err))
        return err->code;
    cfg->optim = (OptimKind)opt;
    cfg->opt = optim_config_default(cfg->optim);
    /* ten times below train's defaults: fine-tuning, not training */
    cfg->opt.lr /= 10.0;
    if (arg_float(a, "lr", cfg->opt.lr, &lr, err) ||
        arg_float(a, "momentum", opt == OPTIM_SGD ? 0.9 : 0.0, &momentum, err) ||
        arg_float(a, "wd", cfg->opt.weight_decay, &wd, err) ||
        arg_float(a, "T", cfg->temperature, &T, err) ||
        arg_float(a, "alpha", cfg->alpha, &alpha, err))
        return err->code;
    if (!(lr > 0) || momentum < 0 || momentum >= 1 || wd < 0 || !(T > 0) || isinf(T) ||
        !(alpha >= 0 && alpha <= 1))
        return qs_fail(err, QS_EINVAL, "qat: need lr > 0, 0 <= momentum < 1, wd >= 0, T > 0 "
                       "and 0 <= alpha <= 1");
    cfg->epochs = (int)epochs;
    cfg->batch = (int)batch;
    cfg->eval_batch = s->opt.batch;
    cfg->opt.lr = lr;
    cfg->opt.momentum = opt == OPTIM_SGD ? momentum : cfg->opt.momentum;
    cfg->opt.weight_decay = wd;
    cfg->distill = distill;
    cfg->temperature = T;
    cfg->alpha = alpha;
    cfg->patience = (int)patience;
    cfg->freeze_bn_after = (int)fbn;
    cfg->observer_freeze_after = (int)fobs;
    cfg->seed = (uint64_t)seed;
    cfg->scales = (QatScales)sc;
    if (cmd_train_class_weights(a, C, weights, &cfg->auto_class_weights, &cfg->class_weights,
                                &cfg->n_class_weights, err))
        return err->code;
    const char *fs = arg_str(a, "feature", NULL);
    if (fs) {
        if (parse_features(g, fs, features, g->n_nodes, &cfg->n_features, err))
            return err->code;
        cfg->features = features;
    }
    /* the validation split picks the epoch (calib unless named: decide.h) */
    if (decide_split(s, a, "val", "qat", true, val, err))
        return err->code;
    *name = arg_str(a, "as", "qat");
    if (!**name || precision_find(*name) >= 0)
        return qs_fail(err, QS_EINVAL, "as=%s: name the variant something other than a precision",
                       *name);
    return QS_OK;
}

/* The headline metric of the current plan on split `split`, as `eval` measures it. */
static QsStatus score_current(App *app, int split, TaskKind task, double *metric, QsError *err)
{
    Session *s = &app->session;
    Executor ex;
    FloatExec *owner;
    if (qstate_executor(&s->q, s->model, &s->q.plan, NULL, &ex, &owner, err))
        return err->code;
    LabelMetrics m;
    QsStatus st = eval_labels_with(&ex, &s->splits[split], 0, task, s->opt.batch, &app->job, &m,
                                   err);
    exec_float_free(owner);
    if (st)
        return st;
    *metric = label_metrics_headline(&m);
    label_metrics_release(&m);
    return QS_OK;
}

/* What qat kept and where it was scored: the variant is current from here on (as
 * fallback's plan is), and a kept epoch 0 is said to be the PTQ model. */
static void kept_fields(const char *name, const Decision *val, const QatSummary *sum,
                        double scored_ptq, double scored, RvStyle style, Result *r)
{
    result_str(r, "current", name);
    result_str(r, "kept", sum->best_epoch == 0 ? "ptq" : "qat");
    decide_fields(val, r);
    result_float(r, "scored_ptq_metric", scored_ptq, style);
    result_float(r, "scored_metric", scored, style);
    if (sum->best_epoch == 0)
        result_textf(r, "no QAT epoch beat the PTQ starting point on %s: variant '%s' holds "
                     "the PTQ model (epoch 0), not fine-tuned weights",
                     split_name((SplitId)val->split), name);
    result_textf(r, "variant '%s' is now current: eval measures it ('variant use NAME' goes "
                 "back to another)", name);
}

QsStatus cmd_qat(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const Dataset *train = &s->splits[SPLIT_TRAIN];
    if (!train->n_x || !train->y)
        return qs_fail(err, QS_EINVAL, "qat: the train split is empty or unlabelled (use 'data "
                       "train X [Y]')");
    if (!s->q.calibrated)
        return qs_fail(err, QS_EINVAL, "qat: starts from the PTQ ranges of the current plan: run "
                       "'calibrate' first");
    if (tflite_refuse_imported(s, "qat", "fine-tuning starts from calibrated ranges, and the "
                               "file's int8 weights would not follow the trained ones", err))
        return err->code;
    const Graph *g = &s->model->graph;
    const Shape *os = &g->values[g->outputs[0]].shape;
    int C = (int)shape_span(os, 1, os->ndim);
    float *weights = xmalloc((size_t)(C > 0 ? C : 1) * sizeof *weights);
    int *features = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *features);
    QatConfig cfg;
    Decision val;
    const char *name = "qat";
    QsStatus st = read_config(app, a, C, &cfg, weights, features, &val, &name, err);
    TaskKind task = session_task(s, train);
    double scored_ptq = NAN;
    /* the starting point on the split that scores, unless the deciding split is that one */
    if (!st && val.scored != val.split)
        st = score_current(app, val.scored, task, &scored_ptq, err);
    if (st) {
        free(weights);
        free(features);
        return st;
    }
    static const char *const cols[] = { "epoch", "task_loss", "distill_loss", "feature_loss",
                                        "fake_metric", "int8_metric", "best", "bn_frozen",
                                        "ranges_frozen", "seconds", NULL };
    QatRows rows = { .t = result_table(r, "epochs", cols),
                     .style = task_metric_style(task) };
    QatResult res;
    QatSummary sum;
    /* the student starts from the model the current plan runs on (a QAT variant's weights
     * when one is current); the teacher is always the session's FP32 model */
    st = qat_run(qstate_model(&s->q, s->model), s->model, &s->q.plan, &s->q.calib, train,
                 &s->splits[val.split], task, &cfg, &app->job, on_epoch, &rows, &res, &sum,
                 err);
    free(weights);
    free(features);
    bool kept = res.model != NULL;
    if (kept) { /* cancelled or failed runs still keep the best epoch so far, made current */
        qstate_variant_save_model(&s->q, name, &res.plan, &res.cal, res.model);
        qstate_variant_use(&s->q, name);
    }
    res.model = NULL;
    qat_result_release(&res);
    if (st)
        return st;
    double scored = sum.best_metric;
    if (val.scored != val.split && (st = score_current(app, val.scored, task, &scored, err)))
        return st;
    if (val.scored == val.split)
        scored_ptq = sum.ptq_metric;
    result_str(r, "variant", name);
    result_str(r, "task", task_name(task));
    result_str(r, "metric", sum.metric);
    result_str(r, "val", split_name((SplitId)val.split));
    result_str(r, "distill", qat_distill_names[sum.distill]);
    result_str(r, "scales", qat_scales_names[cfg.scales]);
    result_float(r, "ptq_metric", sum.ptq_metric, rows.style);
    result_float(r, "ptq_fake_metric", sum.ptq_fake_metric, rows.style);
    result_int(r, "best_epoch", sum.best_epoch);
    result_float(r, "int8_metric", sum.best_metric, rows.style);
    result_float(r, "fake_metric", sum.best_fake_metric, rows.style);
    result_float(r, "fake_int8_gap", fabs(sum.best_fake_metric - sum.best_metric), rows.style);
    result_int(r, "epochs_run", sum.epochs_run);
    result_bool(r, "stopped_early", sum.stopped_early);
    result_int(r, "steps", sum.steps);
    result_int(r, "trainable_params", sum.n_params);
    result_int(r, "quant_points", sum.n_act);
    result_int(r, "int8_units", sum.n_units);
    result_float(r, "seconds", sum.seconds, RS_FIXED4);
    kept_fields(name, &val, &sum, scored_ptq, scored, rows.style, r);
    return QS_OK;
}
