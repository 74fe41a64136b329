/* train: float training of the session's model on its train split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/decide.h"
#include "train/train.h"

/* The command's short loss names, in LossKind order. */

static QsStatus parse_weights(const char *s, int C, float *w, QsError *err)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0)
            return qs_fail(err, QS_EINVAL, "class_weights=%s: expected 'auto' or %d "
                           "non-negative numbers separated by commas", s, C);
        if (n < C)
            w[n] = (float)v;
        n++;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return qs_fail(err, QS_EINVAL, "class_weights=%s: unexpected '%c'", s, *end);
    }
    if (n != C)
        return qs_fail(err, QS_EINVAL, "class_weights=%s: %d weights for %d classes", s, n, C);
    return QS_OK;
}

QsStatus cmd_train_class_weights(const CmdArgs *a, int C, float *buf, bool *autow,
                                 const float **given, int *n_given, QsError *err)
{
    const char *cw = arg_str(a, "class_weights", NULL);
    if (cw && strcmp(cw, "auto") == 0) {
        *autow = true;
    } else if (cw) {
        if (parse_weights(cw, C, buf, err))
            return err->code;
        *given = buf;
        *n_given = C;
    }
    return QS_OK;
}

typedef struct {
    RTable *t;
} EpochRows;

static void on_epoch(void *user, const TrainEpoch *e)
{
    EpochRows *rows = user;
    int row = rtable_add_row(rows->t);
    rtable_int(rows->t, row, 0, e->epoch);
    rtable_float(rows->t, row, 1, e->train_loss, RS_PLAIN);
    rtable_float(rows->t, row, 2, e->val_metric, RS_PLAIN);
    rtable_float(rows->t, row, 3, e->lr, RS_PLAIN);
    rtable_bool(rows->t, row, 4, e->improved);
    rtable_float(rows->t, row, 5, e->seconds, RS_FIXED4);
}

/* Reads every option into cfg; the model's output width C sizes the class weights. */
static QsStatus read_config(App *app, const CmdArgs *a, int C, TrainConfig *cfg, float *weights,
                            int *val_split, QsError *err)
{
    Session *s = &app->session;
    long epochs, batch, patience, step_size, seed;
    double lr, momentum, wd, gamma, clip, smoothing;
    int opt, loss, sched;
    *cfg = train_config_default();
    if (arg_int_range(a, "epochs", 10, 1, 100000, &epochs, err) ||
        arg_int_range(a, "batch", 32, 1, 1 << 16, &batch, err) ||
        arg_int_range(a, "patience", 0, 0, 100000, &patience, err) ||
        arg_int_range(a, "step_size", 10, 1, 100000, &step_size, err) ||
        arg_int(a, "seed", s->opt.seed, &seed, err) ||
        arg_choice_of(a, "opt", choice_optim, OPTIM_ADAM, &opt, err) ||
        arg_choice_of(a, "loss", choice_loss, -1, &loss, err) ||
        arg_choice_of(a, "schedule", choice_schedule, SCHED_CONSTANT, &sched, err))
        return err->code;
    cfg->optim = (OptimKind)opt;
    cfg->opt = optim_config_default(cfg->optim);
    if (arg_float(a, "lr", cfg->opt.lr, &lr, err) ||
        arg_float(a, "momentum", opt == OPTIM_SGD ? 0.9 : 0.0, &momentum, err) ||
        arg_float(a, "wd", cfg->opt.weight_decay, &wd, err) ||
        arg_float(a, "gamma", 0.1, &gamma, err) || arg_float(a, "clip", 0.0, &clip, err) ||
        arg_float(a, "label_smoothing", 0.0, &smoothing, err))
        return err->code;
    if (lr <= 0 || momentum < 0 || momentum >= 1 || wd < 0 || gamma <= 0 || clip < 0 ||
        smoothing < 0 || smoothing > 1)
        return qs_fail(err, QS_EINVAL, "train: need lr > 0, 0 <= momentum < 1, wd >= 0, "
                       "gamma > 0, clip >= 0 and 0 <= label_smoothing <= 1");
    cfg->epochs = (int)epochs;
    cfg->batch = (int)batch;
    cfg->eval_batch = s->opt.batch;
    cfg->loss = loss;
    cfg->opt.lr = lr;
    cfg->opt.momentum = opt == OPTIM_SGD ? momentum : cfg->opt.momentum;
    cfg->opt.weight_decay = wd;
    cfg->sched = (SchedKind)sched;
    cfg->step_size = (int)step_size;
    cfg->gamma = gamma;
    cfg->clip_norm = clip;
    cfg->patience = (int)patience;
    cfg->seed = (uint64_t)seed;
    cfg->label_smoothing = (float)smoothing;
    if (cmd_train_class_weights(a, C, weights, &cfg->auto_class_weights, &cfg->class_weights,
                                &cfg->n_class_weights, err))
        return err->code;
    /* the best epoch is picked on a validation split: calib when it is labelled, else none
     * (the train loss picks); eval only when named (decide.h) */
    int def_val = s->splits[SPLIT_CALIB].n_x && s->splits[SPLIT_CALIB].y ? SPLIT_CALIB
                                                                           : SPLIT_COUNT;
    if (arg_choice_of(a, "val", choice_split_or_none, def_val, val_split, err))
        return err->code;
    if (*val_split < SPLIT_COUNT && !s->splits[*val_split].n_x)
        return qs_fail(err, QS_EINVAL, "val=%s: that split is empty",
                       choice_split_or_none(*val_split));
    return QS_OK;
}

QsStatus cmd_train(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const Dataset *train = &s->splits[SPLIT_TRAIN];
    if (!train->n_x || !train->y)
        return qs_fail(err, QS_EINVAL, "train: the train split is empty or unlabelled (use "
                       "'data train X [Y]')");
    const Graph *g = &s->model->graph;
    const Shape *os = &g->values[g->outputs[0]].shape;
    int C = (int)shape_span(os, 1, os->ndim);
    float *weights = xmalloc((size_t)(C > 0 ? C : 1) * sizeof *weights);
    TrainConfig cfg;
    int val;
    QsStatus st = read_config(app, a, C, &cfg, weights, &val, err);
    if (st) {
        free(weights);
        return st;
    }
    TaskKind task = session_task(s, train);
    static const char *const cols[] = { "epoch", "train_loss", "val_metric", "lr", "best",
                                        "seconds", NULL };
    EpochRows rows = { .t = result_table(r, "epochs", cols) };
    TrainSummary sum;
    st = train_run(s->model, train, val < SPLIT_COUNT ? &s->splits[val] : NULL, task, &cfg,
                   &app->job, on_epoch, &rows, &sum, err);
    free(weights);
    session_model_changed(s);
    /* Cancelled or failed runs still leave the best weights in the model; the summary says
     * which, and the message travels up as the error. */
    if (st)
        return st;
    result_str(r, "task", task_name(task));
    result_str(r, "metric", sum.metric);
    result_int(r, "epochs_run", sum.epochs_run);
    result_int(r, "best_epoch", sum.best_epoch);
    result_float(r, "best_metric", sum.best_metric, RS_PLAIN);
    result_float(r, "last_train_loss", sum.last_train_loss, RS_PLAIN);
    result_bool(r, "stopped_early", sum.stopped_early);
    result_int(r, "steps", sum.steps);
    result_int(r, "trainable_params", sum.n_params);
    result_float(r, "seconds", sum.seconds, RS_FIXED4);
    decide_fields_split(val < SPLIT_COUNT ? val : -1, r);
    return QS_OK;
}
