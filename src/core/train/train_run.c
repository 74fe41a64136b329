/* The float training loop (train.h) on the shared epoch loop (epochs.h); rules and
 * formulas in docs/training.md. */
#include "train/train.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/eval.h"
#include "train/epochs.h"
#include "base/rng.h"
#include "run/run.h"

static QsStatus train_check_config(const TrainConfig *c, QsError *err)
{
    if (c->epochs < 1)
        return qs_fail(err, QS_EINVAL, "epochs=%d: must be at least 1", c->epochs);
    if (c->batch < 1)
        return qs_fail(err, QS_EINVAL, "batch=%d: must be at least 1", c->batch);
    if (c->eval_batch < 0)
        return qs_fail(err, QS_EINVAL, "eval_batch=%d: must be >= 0", c->eval_batch);
    if (c->patience < 0)
        return qs_fail(err, QS_EINVAL, "patience=%d: must be >= 0", c->patience);
    if (!(c->clip_norm >= 0.0) || isinf(c->clip_norm))
        return qs_fail(err, QS_EINVAL, "clip=%g: must be finite and >= 0 (0 = off)", c->clip_norm);
    if (c->loss < -1 || c->loss >= LOSS_COUNT)
        return qs_fail(err, QS_EINVAL, "loss %d is not in the loss table", c->loss);
    if ((unsigned)c->optim >= OPTIM_COUNT)
        return qs_fail(err, QS_EINVAL, "optimizer %d is not in the optimizer table", (int)c->optim);
    if (optim_check_config(&c->opt, err))
        return err->code;
    SchedConfig sc = { .base_lr = c->opt.lr, .epochs = c->epochs, .step_size = c->step_size,
                       .gamma = c->gamma };
    if (optim_sched_check(c->sched, &sc, err))
        return err->code;
    if (!(c->label_smoothing >= 0.0f && c->label_smoothing <= 1.0f))
        return qs_fail(err, QS_EINVAL, "label_smoothing=%g: must be in [0, 1]",
                       (double)c->label_smoothing);
    if (c->class_weights && c->auto_class_weights)
        return qs_fail(err, QS_EINVAL, "class weights are given and set to auto; pick one");
    return QS_OK;
}

/* ---- weights snapshot -------------------------------------------------------------------
 * Everything training changes: the parameters and the running statistics that BatchNorm
 * updates in place in training mode (its non-parameter constant inputs mean and var). */

typedef struct TrainState {
    int n;
    float **data;    /* [n] the model's tensors, not owned */
    int64_t *len;    /* [n] elements */
    int64_t total;
    float *copy;     /* [total] the snapshot, owned */
} TrainState;

static bool train_is_bn_stat(const Graph *g, int v)
{
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[k];
        if (n->op == OP_BATCHNORM && ((n->n_in > 3 && n->in[3] == v) || (n->n_in > 4 && n->in[4] == v)))
            return true;
    }
    return false;
}

static QsStatus train_state_init(TrainState *s, const Graph *g, const ParamList *p, QsError *err)
{
    memset(s, 0, sizeof *s);
    bool *mark = xcalloc((size_t)g->n_values, sizeof *mark);
    for (int i = 0; i < p->n; i++)
        mark[p->value[i]] = true;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == VAL_CONST && g->values[v].data->dtype == DT_F32 &&
            train_is_bn_stat(g, v))
            mark[v] = true;
    for (int v = 0; v < g->n_values; v++)
        s->n += mark[v];
    s->data = xmalloc((size_t)(s->n ? s->n : 1) * sizeof *s->data);
    s->len = xmalloc((size_t)(s->n ? s->n : 1) * sizeof *s->len);
    int i = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (!mark[v])
            continue;
        s->data[i] = tensor_f32(g->values[v].data);
        s->len[i] = tensor_numel(g->values[v].data);
        s->total += s->len[i];
        i++;
    }
    free(mark);
    s->copy = malloc((size_t)(s->total ? s->total : 1) * sizeof *s->copy);
    if (!s->copy)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %lld floats for the best-weights copy",
                       (long long)s->total);
    return QS_OK;
}

static void train_state_save(TrainState *s)
{
    int64_t off = 0;
    for (int i = 0; i < s->n; i++) {
        memcpy(s->copy + off, s->data[i], (size_t)s->len[i] * sizeof(float));
        off += s->len[i];
    }
}

static void train_state_restore(const TrainState *s)
{
    int64_t off = 0;
    for (int i = 0; i < s->n; i++) {
        memcpy(s->data[i], s->copy + off, (size_t)s->len[i] * sizeof(float));
        off += s->len[i];
    }
}

static void train_state_release(TrainState *s)
{
    free(s->data);
    free(s->len);
    free(s->copy);
    memset(s, 0, sizeof *s);
}

/* Appends "; kept the weights of epoch K (metric V)" (or the initial weights) to err. */
static void train_note_kept(QsError *err, const TrainSummary *s)
{
    char msg[sizeof err->msg], kept[128];
    snprintf(msg, sizeof msg, "%s", err->msg);
    if (s->best_epoch > 0)
        snprintf(kept, sizeof kept, "kept the weights of epoch %d (%s %.6g)", s->best_epoch,
                 s->metric, s->best_metric);
    else
        snprintf(kept, sizeof kept, "kept the initial weights");
    qs_fail(err, err->code, "%.370s; %s", msg, kept);
}


/* What train's epoch-loop callbacks work on. */
typedef struct TrainLoop {
    const TrainConfig *cfg;
    const Graph *g;
    Run *run;
    const ParamList *pl;
    Optim *opt;
    TrainState *state;
    TrainBatch *tb;
    LossKind lk;
    const float *weights;       /* class weights (C) or NULL */
    const Tensor **dout;
    SchedConfig sc;
    const Dataset *val;
    TaskKind task;
    const JobCtx *job;
    int64_t N;
    TrainSummary *sum;
    TrainEpochFn on_epoch;
    void *user;
    double lr, loss_sum, train_loss; /* of the running epoch */
} TrainLoop;

static void train_begin(void *user, int epoch)
{
    TrainLoop *t = user;
    t->lr = optim_sched_lr(t->cfg->sched, &t->sc, epoch - 1);
    t->loss_sum = 0.0;
}

/* Forward in training mode, loss, backward, clipping, optimizer step. */
static QsStatus train_step(void *user, int epoch, int64_t first, int64_t b, QsError *err)
{
    TrainLoop *t = user;
    const TrainConfig *cfg = t->cfg;
    TrainBatch *tb = t->tb;
    if (run_forward(t->run, tb->x.ptrs, NULL, NULL, err))
        return err->code;
    const Tensor *o = run_output(t->run, 0);
    LossArgs la = { .logits = tensor_f32(o), .n = b, .c = tb->C, .labels = tb->labels,
                    .targets = tb->targets, .class_weights = t->weights,
                    .label_smoothing = cfg->label_smoothing };
    double L;
    if (loss_compute(t->lk, &la, &L, tb->dlogits, err))
        return err->code;
    if (!isfinite(L))
        return qs_fail(err, QS_EINVAL, "training diverged: the %s loss is %g in epoch %d at "
                       "sample %lld", loss_table[t->lk].name, L, epoch, (long long)first);
    Tensor dt = tensor_view(DT_F32, o->shape, tb->dlogits);
    t->dout[0] = &dt;
    if (run_backward(t->run, t->dout, err))
        return err->code;
    if (cfg->clip_norm > 0.0)
        optim_clip_grad_norm(t->pl, cfg->clip_norm);
    optim_step(t->opt, t->pl, t->lr);
    t->loss_sum += L * (double)b;
    return QS_OK;
}

/* The validation metric, or the epoch's train loss without a validation split. */
static QsStatus train_score(void *user, int epoch, double base, double span, double *metric,
                            QsError *err)
{
    (void)epoch;
    TrainLoop *t = user;
    t->train_loss = t->loss_sum / (double)t->N;
    *metric = t->train_loss;
    if (!t->val)
        return QS_OK;
    TrainSubJob sub;
    JobCtx vjob = train_sub_job(&sub, t->job, base, span);
    LabelMetrics lm;
    if (eval_labels(t->g, t->val, 0, t->task,
                    t->cfg->eval_batch ? t->cfg->eval_batch : t->cfg->batch, &vjob, &lm, err))
        return err->code;
    *metric = label_metrics_headline(&lm);
    label_metrics_release(&lm);
    return QS_OK;
}

static void train_end(void *user, int epoch, bool improved, double metric, double seconds)
{
    TrainLoop *t = user;
    if (improved)
        train_state_save(t->state);
    t->sum->last_train_loss = t->train_loss;
    TrainEpoch e = { .epoch = epoch, .epochs = t->cfg->epochs, .train_loss = t->train_loss,
                     .val_metric = metric, .lr = t->lr, .improved = improved,
                     .seconds = seconds };
    if (t->on_epoch)
        t->on_epoch(t->user, &e);
}

QsStatus train_run(Model *m, const Dataset *train, const Dataset *val, TaskKind task,
                   const TrainConfig *cfg, const JobCtx *job, TrainEpochFn on_epoch,
                   void *user, TrainSummary *out, QsError *err)
{
    const Graph *g = &m->graph;
    TrainSummary sum;
    memset(&sum, 0, sizeof sum);
    sum.best_metric = NAN;
    sum.last_train_loss = NAN;
    sum.metric = val ? task_table[task].metric : "train_loss";
    sum.higher_is_better = val && task_table[task].higher_is_better;
    double t_start = train_now();
    QsStatus st = QS_OK;
    Run run;
    bool run_live = false, started = false;
    Optim opt;
    memset(&opt, 0, sizeof opt);
    TrainState state;
    memset(&state, 0, sizeof state);
    float *weights = NULL;
    TrainBatch tb = { 0 };
    const Tensor **dout = NULL;
    int epoch = 0;

    if ((st = train_check_config(cfg, err)))
        goto cleanup;
    if ((unsigned)task >= TASK_COUNT) {
        st = qs_fail(err, QS_EINVAL, "task %d is not a task", (int)task);
        goto cleanup;
    }
    if (!g->finalized || g->n_inputs < 1) {
        st = qs_fail(err, QS_EUNSUPPORTED, "training needs a finalized model with inputs (it has %d)",
                     g->n_inputs);
        goto cleanup;
    }
    int C;
    if ((st = train_output_width(g, &C, err)))
        goto cleanup;
    LossKind lk = cfg->loss >= 0 ? (LossKind)cfg->loss : train_task_loss(task);
    const LossDef *loss = &loss_table[lk];
    if (loss->class_labels != task_table[task].class_labels) {
        st = qs_fail(err, QS_EINVAL, "loss %s does not fit task %s (%s)", loss->name, task_name(task),
                     loss->class_labels ? "it needs class labels" : "it needs float targets");
        goto cleanup;
    }
    if ((cfg->class_weights || cfg->auto_class_weights) && !loss->uses_class_weights) {
        st = qs_fail(err, QS_EINVAL, "loss %s does not take class weights", loss->name);
        goto cleanup;
    }
    if (cfg->auto_class_weights && !loss->class_labels) {
        st = qs_fail(err, QS_EINVAL, "class_weights=auto needs class labels (task classify)");
        goto cleanup;
    }
    if (cfg->label_smoothing != 0.0f && !loss->uses_label_smoothing) {
        st = qs_fail(err, QS_EINVAL, "loss %s does not take label smoothing", loss->name);
        goto cleanup;
    }
    if ((st = train_check_split(g, train, "train", task, C, loss, err)))
        goto cleanup;
    if (val && (st = train_check_split(g, val, "validation", task, C, loss, err)))
        goto cleanup;
    int64_t N = dataset_len(train);
    if (cfg->class_weights || cfg->auto_class_weights) {
        weights = xmalloc((size_t)C * sizeof *weights);
        if ((st = train_class_weights(cfg->class_weights, cfg->n_class_weights,
                                      cfg->auto_class_weights, train, C, weights, err)))
            goto cleanup;
    }

    run_init(&run, g);
    run_live = true;
    run.training = true;
    if ((st = run_enable_grads(&run, false, err)))
        goto cleanup;
    const ParamList *pl = run_params(&run);
    if (pl->numel == 0) {
        st = qs_fail(err, QS_EINVAL, "the model has no trainable parameters that output '%s' depends on",
                     g->values[g->outputs[0]].name);
        goto cleanup;
    }
    sum.n_params = pl->numel;
    if ((st = optim_init(&opt, cfg->optim, &cfg->opt, pl->numel, err)) ||
        (st = train_state_init(&state, g, pl, err)))
        goto cleanup;
    train_state_save(&state); /* the initial weights, kept when no epoch improves */
    started = true;

    if ((st = train_batch_init(&tb, train, cfg->batch, C, loss->class_labels, err)))
        goto cleanup;
    dout = xcalloc((size_t)g->n_outputs, sizeof *dout);
    int64_t nval = val ? dataset_len(val) : 0;
    TrainLoop t = { .cfg = cfg, .g = g, .run = &run, .pl = pl, .opt = &opt, .state = &state,
                    .tb = &tb, .lk = lk, .weights = weights, .dout = dout,
                    .sc = { .base_lr = cfg->opt.lr, .epochs = cfg->epochs,
                            .step_size = cfg->step_size, .gamma = cfg->gamma },
                    .val = val, .task = task, .job = job, .N = N, .sum = &sum,
                    .on_epoch = on_epoch, .user = user };
    EpochLoop l = { .epochs = cfg->epochs, .patience = cfg->patience, .shuffle = cfg->shuffle,
                    .seed = cfg->seed, .higher_is_better = sum.higher_is_better,
                    .train = train, .tb = &tb, .share = (double)N / (double)(N + nval),
                    .what = "training", .phase = "train", .user = &t, .begin = train_begin,
                    .step = train_step, .score = train_score, .end = train_end,
                    .best = sum.higher_is_better ? -INFINITY : INFINITY };
    st = epoch_loop_run(&l, job, err);
    epoch = l.epoch;
    sum.steps = l.steps;
    sum.epochs_run = l.epochs_run;
    sum.best_epoch = l.best_epoch;
    if (l.best_epoch > 0)
        sum.best_metric = l.best;
    sum.stopped_early = l.stopped_early;

cleanup:
    if (started) {
        train_state_restore(&state);
        if (st == QS_ECANCELLED)
            qs_fail(err, QS_ECANCELLED, "training cancelled in epoch %d of %d", epoch, cfg->epochs);
        if (st)
            train_note_kept(err, &sum);
    }
    sum.seconds = train_now() - t_start;
    if (out)
        *out = sum;
    free(dout);
    free(weights);
    train_batch_release(&tb);
    train_state_release(&state);
    optim_release(&opt);
    if (run_live)
        run_release(&run);
    return st;
}
