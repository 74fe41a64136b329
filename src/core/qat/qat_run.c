/* The QAT loop (qat.h) on the epoch loop float training uses (epochs.h); rules in
 * docs/qat.md. Shuffling, batching, class weights and data checks are train.c's own pieces
 * (train.h), so QAT and float training treat data identically. */
#include "qat/qat.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "kern/minmax.h"
#include "run/exec.h"
#include "qexec/qexec.h"
#include "base/rng.h"
#include "run/run.h"
#include "train/epochs.h"
#include "train/train.h"

/* ---- checks -------------------------------------------------------------------------------- */

static QsStatus qat_check_config(const QatConfig *c, TaskKind task, QsError *err)
{
    if (c->epochs < 1)
        return qs_fail(err, QS_EINVAL, "epochs=%d: must be at least 1", c->epochs);
    if (c->batch < 1)
        return qs_fail(err, QS_EINVAL, "batch=%d: must be at least 1", c->batch);
    if (c->eval_batch < 0 || c->patience < 0 || c->freeze_bn_after < 0 ||
        c->observer_freeze_after < 0)
        return qs_fail(err, QS_EINVAL, "eval_batch, patience, freeze_bn_after and "
                       "observer_freeze_after must be >= 0");
    if (!(c->alpha >= 0.0 && c->alpha <= 1.0))
        return qs_fail(err, QS_EINVAL, "alpha=%g: must be in [0, 1]", c->alpha);
    if (!(c->temperature > 0.0) || isinf(c->temperature))
        return qs_fail(err, QS_EINVAL, "T=%g: must be finite and > 0", c->temperature);
    if (c->distill < -1 || c->distill >= QAT_DISTILL_COUNT)
        return qs_fail(err, QS_EINVAL, "distill %d is not known", c->distill);
    if (c->distill == QAT_DISTILL_KL && !task_table[task].class_labels)
        return qs_fail(err, QS_EINVAL, "distill=kl compares class distributions: task %s "
                       "needs distill=mse or none", task_name(task));
    if ((unsigned)c->scales >= QAT_SCALES_COUNT)
        return qs_fail(err, QS_EINVAL, "scales mode %d is not known", (int)c->scales);
    if (!(c->ma_momentum > 0.0 && c->ma_momentum <= 1.0))
        return qs_fail(err, QS_EINVAL, "range momentum %g: must be in (0, 1]", c->ma_momentum);
    if (c->n_features < 0 || (c->n_features > 0 && !c->features))
        return qs_fail(err, QS_EINVAL, "bad feature list");
    if ((unsigned)c->optim >= OPTIM_COUNT)
        return qs_fail(err, QS_EINVAL, "optimizer %d is not in the optimizer table", (int)c->optim);
    if (c->class_weights && c->auto_class_weights)
        return qs_fail(err, QS_EINVAL, "class weights are given and set to auto; pick one");
    if (c->auto_class_weights && !task_table[task].class_labels)
        return qs_fail(err, QS_EINVAL, "class_weights=auto needs class labels (task %s has none)",
                       task_name(task));
    if (c->class_weights && task == TASK_REGRESS)
        return qs_fail(err, QS_EINVAL, "loss mse does not take class weights");
    return optim_check_config(&c->opt, err);
}

static bool qat_same_structure(const Graph *a, const Graph *b)
{
    if (a->n_values != b->n_values || a->n_nodes != b->n_nodes || a->n_outputs != b->n_outputs ||
        a->n_inputs != b->n_inputs)
        return false;
    for (int k = 0; k < a->n_outputs; k++)
        if (a->outputs[k] != b->outputs[k])
            return false;
    for (int i = 0; i < a->n_nodes; i++)
        if (a->nodes[i].op != b->nodes[i].op || a->nodes[i].out != b->nodes[i].out)
            return false;
    return true;
}

/* ---- the loop's state ---------------------------------------------------------------------- */

typedef struct QatLoop {
    QatGraph qg;
    double mom;          /* moving-average weight of a batch */
    bool ranges_live;    /* activation ranges still move */
    /* made for the current graph (qat_attach), made again when the graph is rebuilt */
    bool attached;
    Run run;             /* the training run */
    Optim opt;
    FloatExec *fowner;   /* the fake-quantized evaluation */
    Executor fake;
} QatLoop;

static void qat_detach(QatLoop *L)
{
    if (!L->attached)
        return;
    run_release(&L->run);
    optim_release(&L->opt);
    exec_float_free(L->fowner);
    L->fowner = NULL;
    L->attached = false;
}

/* The training run with gradients, the optimizer (fresh state) and the fake executor. */
static QsStatus qat_attach(QatLoop *L, const QatConfig *cfg, QsError *err)
{
    run_init(&L->run, &L->qg.g);
    memset(&L->opt, 0, sizeof L->opt);
    L->attached = true;
    L->run.training = L->qg.bn_train;
    L->fake = exec_float_new_live(&L->qg.g, &L->fowner); /* trained: weights change */
    if (run_enable_grads(&L->run, false, err))
        return err->code;
    const ParamList *pl = run_params(&L->run);
    if (pl->numel == 0)
        return qs_fail(err, QS_EINVAL, "the model has no trainable parameters");
    return optim_init(&L->opt, cfg->optim, &cfg->opt, pl->numel, err);
}

/* One batch's min/max of x moves act k's range (QAT_SCALES_EMA). */
static void qat_observe(QatLoop *L, int k, const float *x, int64_t n)
{
    float mn, mx;
    if (!finite_range_f32(x, n, &mn, &mx))
        return; /* nothing finite: the range stays */
    const QatAct *a = &L->qg.act[k];
    float lo = (float)(a->lo + L->mom * ((double)mn - a->lo));
    float hi = (float)(a->hi + L->mom * ((double)mx - a->hi));
    qat_graph_set_range(&L->qg, k, lo, hi);
}

/* Run tap: a FakeQuant's input has just been computed, before the FakeQuant runs, so the
 * batch is quantized with the range that already includes it (as PyTorch's FakeQuantize
 * observes, then quantizes). */
static void qat_tap(void *user, int node, const Tensor *out)
{
    QatLoop *L = user;
    int k = L->qg.act_of_node[node];
    if (k >= 0)
        qat_observe(L, k, tensor_f32(out), tensor_numel(out));
}

static double qat_metric(const LabelMetrics *m, TaskKind task)
{
    (void)task;
    return label_metrics_headline(m);
}

static QsStatus qat_score(const Executor *ex, const Dataset *val, TaskKind task, int batch,
                          const JobCtx *job, double *metric, QsError *err)
{
    LabelMetrics lm;
    if (eval_labels_with(ex, val, 0, task, batch, job, &lm, err))
        return err->code;
    *metric = qat_metric(&lm, task);
    label_metrics_release(&lm);
    return QS_OK;
}

/* Scores the training graph (fake) and its export (int8) on val; *cand receives the export. */
static QsStatus qat_evaluate(QatLoop *L, const Dataset *val, TaskKind task, int batch,
                             const JobCtx *job, double base, double span, QatResult *cand,
                             double *fake_metric, double *int8_metric, QsError *err)
{
    qat_graph_refresh_weights(&L->qg);
    TrainSubJob sub;
    JobCtx vjob = train_sub_job(&sub, job, base, span / 2);
    if (qat_score(&L->fake, val, task, batch, &vjob, fake_metric, err))
        return err->code;
    memset(cand, 0, sizeof *cand);
    if (qat_graph_export(&L->qg, L->qg.cal, &cand->model, &cand->cal, &cand->plan, err))
        return err->code;
    QModel *q;
    QsStatus st = qmodel_build(cand->model, &cand->plan, &cand->cal, &q, err);
    if (st) {
        qs_error_prefix(err, "converting to int8");
        qat_result_release(cand);
        return st;
    }
    Executor ex = qmodel_executor(q);
    vjob = train_sub_job(&sub, job, base + span / 2, span / 2);
    st = qat_score(&ex, val, task, batch, &vjob, int8_metric, err);
    qmodel_free(q);
    if (st)
        qat_result_release(cand);
    return st;
}

/* ---- the loop --------------------------------------------------------------------------- */

/* Everything qat_run's epoch-loop callbacks work on. */
typedef struct QatRun {
    const QatConfig *cfg;
    QatLoop L;
    bool graph_live;
    Run trun;                   /* the teacher's run, when use_teacher */
    bool use_teacher;
    TrainBatch tb;
    QatLossCfg lc;
    int C;
    float *weights;             /* class weights (C) or NULL */
    const Tensor **dout;        /* [training graph outputs] */
    Tensor *fdout;              /* [n_features] */
    float **fgrad;              /* [n_features] (B, per-sample width) */
    float *saved_scales;        /* learned scales kept over a step once ranges froze */
    const Dataset *val;
    TaskKind task;
    int eval_batch;
    const JobCtx *job;
    int64_t N;
    QatSummary *sum;
    QatResult *res;             /* the best so far */
    QatEpochFn on_epoch;
    void *user;
    /* the running epoch */
    bool ema;
    double task_sum, dist_sum, feat_sum;
    QatResult cand;
    double fake_m, int8_m;
} QatRun;

/* The step's buffers: output gradients, feature-loss gradients, saved scales. */
static QsStatus qat_buffers(QatRun *R, QsError *err)
{
    const QatConfig *cfg = R->cfg;
    const QatGraph *qg = &R->L.qg;
    int nf = cfg->n_features;
    R->dout = xcalloc((size_t)qg->g.n_outputs, sizeof *R->dout);
    R->fdout = xcalloc((size_t)(nf ? nf : 1), sizeof *R->fdout);
    R->fgrad = xcalloc((size_t)(nf ? nf : 1), sizeof *R->fgrad);
    for (int i = 0; i < nf; i++) {
        const Shape *fs = &qg->g.values[qg->g.outputs[qg->feature_output0 + i]].shape;
        int64_t per = shape_span(fs, 1, fs->ndim), cnt;
        if (per > INT_MAX || __builtin_mul_overflow(R->tb.cap, per, &cnt) ||
            !(R->fgrad[i] = train_alloc(cnt, sizeof(float), "a feature gradient", err)))
            return qs_fail(err, QS_ENOMEM, "feature %d: %lld values per sample", i,
                           (long long)per);
    }
    if (cfg->scales == QAT_SCALES_LEARN)
        R->saved_scales = xmalloc((size_t)(qg->n_act ? qg->n_act : 1) * sizeof *R->saved_scales);
    return QS_OK;
}

static void qat_run_release(QatRun *R)
{
    free(R->weights);
    train_batch_release(&R->tb);
    free(R->saved_scales);
    free(R->dout);
    free(R->fdout);
    if (R->fgrad)
        for (int i = 0; i < R->cfg->n_features; i++)
            free(R->fgrad[i]);
    free(R->fgrad);
    qat_detach(&R->L);
    if (R->use_teacher)
        run_release(&R->trun);
    if (R->graph_live)
        qat_graph_release(&R->L.qg);
}

static void qat_begin(void *user, int epoch)
{
    (void)epoch;
    QatRun *R = user;
    R->task_sum = R->dist_sum = R->feat_sum = 0.0;
    R->ema = R->cfg->scales == QAT_SCALES_EMA && R->L.ranges_live;
}

/* The feature MSEs of the batch (n samples) into *fl, their gradients into R->dout. */
static QsStatus qat_feature_loss(QatRun *R, int64_t n, double *fl, QsError *err)
{
    const QatGraph *qg = &R->L.qg;
    *fl = 0.0;
    for (int i = 0; i < R->cfg->n_features; i++) {
        const Tensor *so = run_output(&R->L.run, qg->feature_output0 + i);
        const Tensor *to = &R->trun.vals[qg->feature_value[i]];
        int64_t per = shape_span(&so->shape, 1, so->shape.ndim);
        LossArgs fa = { .logits = tensor_f32(so), .n = n, .c = (int)per,
                        .targets = tensor_f32(to) };
        double f;
        if (loss_compute(LOSS_MSE, &fa, &f, R->fgrad[i], err))
            return err->code;
        *fl += f;
        R->fdout[i] = tensor_view(DT_F32, so->shape, R->fgrad[i]);
        R->dout[qg->feature_output0 + i] = &R->fdout[i];
    }
    return QS_OK;
}

/* One step: observe ranges, forward student and teacher, loss, backward, optimizer step
 * (learned scales held while the ranges are frozen), clamp and refresh the weights. */
static QsStatus qat_step(void *user, int epoch, int64_t first, int64_t b, QsError *err)
{
    QatRun *R = user;
    const QatConfig *cfg = R->cfg;
    QatLoop *L = &R->L;
    QatGraph *qg = &L->qg;
    TrainBatch *tb = &R->tb;
    const Tensor *const *inputs = tb->x.ptrs;
    if (R->ema)
        for (int k = 0; k < qg->n_act; k++)
            for (int i = 0; qg->act[k].obs_node < 0 && i < qg->g.n_inputs; i++)
                if (qg->g.inputs[i] == qg->act[k].obs)
                    qat_observe(L, k, tensor_f32(tb->x.x[i]), tensor_numel(tb->x.x[i]));
    if (run_forward(&L->run, inputs, R->ema ? qat_tap : NULL, L, err) ||
        (R->use_teacher && run_forward(&R->trun, inputs, NULL, NULL, err)))
        return err->code;
    const Tensor *o = run_output(&L->run, 0);
    QatLossParts lp;
    if (qat_loss(&R->lc, tensor_f32(o), R->use_teacher ? tensor_f32(run_output(&R->trun, 0)) : NULL,
                 tb->labels, tb->targets, b, R->C, tb->dlogits, &lp, err))
        return err->code;
    double total = lp.total, fl;
    if (qat_feature_loss(R, b, &fl, err))
        return err->code;
    total += fl;
    if (!isfinite(total))
        return qs_fail(err, QS_EINVAL, "QAT diverged: the loss is %g in epoch %d at sample %lld",
                       total, epoch, (long long)first);
    Tensor dt = tensor_view(DT_F32, o->shape, tb->dlogits);
    R->dout[0] = &dt;
    if (run_backward(&L->run, R->dout, err))
        return err->code;
    bool keep_scales = cfg->scales == QAT_SCALES_LEARN && !L->ranges_live;
    if (keep_scales)
        for (int k = 0; k < qg->n_act; k++)
            R->saved_scales[k] = tensor_f32(qg->g.values[qg->act[k].scale].data)[0];
    optim_step(&L->opt, run_params(&L->run), cfg->opt.lr);
    if (keep_scales)
        for (int k = 0; k < qg->n_act; k++)
            tensor_f32(qg->g.values[qg->act[k].scale].data)[0] = R->saved_scales[k];
    qat_graph_clamp_scales(qg);
    qat_graph_refresh_weights(qg);
    R->task_sum += lp.task * (double)b;
    R->dist_sum += lp.distill * (double)b;
    R->feat_sum += fl * (double)b;
    return QS_OK;
}

/* Ends the epoch's phases, then scores it: the INT8 metric selects. */
static QsStatus qat_score_epoch(void *user, int epoch, double base, double span,
                                double *metric, QsError *err)
{
    QatRun *R = user;
    const QatConfig *cfg = R->cfg;
    QatLoop *L = &R->L;
    /* the phases end with their epoch, before the epoch is scored */
    if (L->qg.bn_train && epoch >= cfg->freeze_bn_after) {
        /* the graph is rebuilt in its frozen form: new run, new optimizer state */
        qat_detach(L);
        if (qat_graph_freeze_bn(&L->qg, err) || qat_attach(L, cfg, err))
            return err->code;
    }
    if (cfg->observer_freeze_after > 0 && epoch >= cfg->observer_freeze_after)
        L->ranges_live = false;
    if (qat_evaluate(L, R->val, R->task, R->eval_batch, R->job, base, span, &R->cand,
                     &R->fake_m, &R->int8_m, err))
        return err->code;
    *metric = R->int8_m;
    return QS_OK;
}

static void qat_end(void *user, int epoch, bool improved, double metric, double seconds)
{
    QatRun *R = user;
    if (improved) {
        qat_result_release(R->res);
        *R->res = R->cand;
        R->sum->best_fake_metric = R->fake_m;
    } else {
        qat_result_release(&R->cand);
    }
    double N = (double)R->N;
    QatEpoch e = { .epoch = epoch, .epochs = R->cfg->epochs, .task_loss = R->task_sum / N,
                   .distill_loss = R->dist_sum / N, .feature_loss = R->feat_sum / N,
                   .fake_metric = R->fake_m, .int8_metric = metric, .lr = R->cfg->opt.lr,
                   .improved = improved, .bn_frozen = !R->L.qg.bn_train,
                   .ranges_frozen = !R->L.ranges_live, .seconds = seconds };
    if (R->on_epoch)
        R->on_epoch(R->user, &e);
}

QsStatus qat_run(const Model *student, const Model *teacher, const Plan *p,
                 const Calibration *cal, const Dataset *train, const Dataset *val,
                 TaskKind task, const QatConfig *cfg, const JobCtx *job, QatEpochFn on_epoch,
                 void *user, QatResult *res, QatSummary *sum_out, QsError *err)
{
    const Graph *g = &student->graph;
    QatSummary sum;
    memset(&sum, 0, sizeof sum);
    memset(res, 0, sizeof *res);
    sum.metric = task_table[task].metric;
    sum.higher_is_better = task_table[task].higher_is_better;
    sum.ptq_metric = sum.ptq_fake_metric = sum.best_metric = sum.best_fake_metric = NAN;
    double t_start = train_now();
    QsStatus st = QS_OK;
    QatRun R;
    memset(&R, 0, sizeof R);
    R.cfg = cfg;
    bool scored = false;
    int epoch = 0;

    if ((unsigned)task >= TASK_COUNT) {
        st = qs_fail(err, QS_EINVAL, "task %d is not a task", (int)task);
        goto cleanup;
    }
    if ((st = qat_check_config(cfg, task, err)))
        goto cleanup;
    if (!g->finalized || g->n_inputs < 1) {
        st = qs_fail(err, QS_EUNSUPPORTED, "QAT needs a finalized model with inputs (it has %d)",
                     g->n_inputs);
        goto cleanup;
    }
    if (!qat_same_structure(g, &teacher->graph)) {
        st = qs_fail(err, QS_EINVAL, "the teacher's graph is not the student's");
        goto cleanup;
    }
    if (!val) {
        st = qs_fail(err, QS_EINVAL, "QAT picks its epoch by the INT8 metric on a labelled "
                     "validation split; none was given");
        goto cleanup;
    }
    int C;
    if ((st = train_output_width(g, &C, err)))
        goto cleanup;
    LossKind lk = train_task_loss(task);
    const LossDef *loss = &loss_table[lk];
    int distill = cfg->distill >= 0 ? cfg->distill
                : task_table[task].class_labels ? QAT_DISTILL_KL : QAT_DISTILL_MSE;
    sum.distill = distill;
    if ((st = train_check_split(g, train, "train", task, C, loss, err)) ||
        (st = train_check_split(g, val, "validation", task, C, loss, err)))
        goto cleanup;
    if (cfg->class_weights || cfg->auto_class_weights) {
        R.weights = xmalloc((size_t)C * sizeof *R.weights);
        if ((st = train_class_weights(cfg->class_weights, cfg->n_class_weights,
                                      cfg->auto_class_weights, train, C, R.weights, err)))
            goto cleanup;
    }
    int64_t N = dataset_len(train);

    /* the training graph, its run, the teacher's run, the optimizer */
    QatGraphOpts go = { .scales = cfg->scales, .bn_train = cfg->freeze_bn_after > 0,
                        .features = cfg->features, .n_features = cfg->n_features };
    if ((st = qat_graph_build(&R.L.qg, student, p, cal, &go, err)))
        goto cleanup;
    R.graph_live = true;
    R.L.mom = cfg->ma_momentum;
    R.L.ranges_live = true;
    sum.n_act = R.L.qg.n_act;
    sum.n_units = R.L.qg.n_units;
    if ((st = qat_attach(&R.L, cfg, err)))
        goto cleanup;
    sum.n_params = run_params(&R.L.run)->numel;
    R.use_teacher = distill != QAT_DISTILL_NONE || cfg->n_features > 0;
    if (R.use_teacher) {
        run_init(&R.trun, &teacher->graph);
        /* Without feature matching only the logits are read: the inference layout (shared
         * slots, Relu/Clip fused into their producer: the same bits) saves a pass per
         * activation and most of the teacher's arena. */
        R.trun.outputs_only = cfg->n_features == 0;
    }
    R.eval_batch = cfg->eval_batch ? cfg->eval_batch : cfg->batch;
    if ((st = train_batch_init(&R.tb, train, cfg->batch, C, loss->class_labels, err)) ||
        (st = qat_buffers(&R, err)))
        goto cleanup;

    /* epoch 0: the starting point */
    if ((st = qat_evaluate(&R.L, val, task, R.eval_batch, job, 0.0, 0.0, res,
                           &sum.ptq_fake_metric, &sum.ptq_metric, err)))
        goto cleanup;
    scored = true; /* res owns the best from here on */
    sum.best_metric = sum.ptq_metric;
    sum.best_fake_metric = sum.ptq_fake_metric;

    R.lc = (QatLossCfg){ .task = lk, .class_weights = R.weights, .distill = distill,
                         .temperature = cfg->temperature, .alpha = cfg->alpha };
    R.C = C;
    R.val = val;
    R.task = task;
    R.job = job;
    R.N = N;
    R.sum = &sum;
    R.res = res;
    R.on_epoch = on_epoch;
    R.user = user;
    int64_t nval = dataset_len(val);
    EpochLoop l = { .epochs = cfg->epochs, .patience = cfg->patience, .shuffle = true,
                    .seed = cfg->seed, .higher_is_better = sum.higher_is_better,
                    .train = train, .tb = &R.tb, .share = (double)N / (double)(N + 2 * nval),
                    .what = "QAT", .phase = "qat", .user = &R, .begin = qat_begin,
                    .step = qat_step, .score = qat_score_epoch, .end = qat_end,
                    .best = sum.best_metric };
    st = epoch_loop_run(&l, job, err);
    epoch = l.epoch;
    sum.steps = l.steps;
    sum.epochs_run = l.epochs_run;
    sum.best_epoch = l.best_epoch;
    sum.best_metric = l.best;
    sum.stopped_early = l.stopped_early;

cleanup:
    if (st && scored) {
        char msg[sizeof err->msg], kept[128];
        snprintf(msg, sizeof msg, "%s", err->msg);
        if (st == QS_ECANCELLED)
            snprintf(msg, sizeof msg, "qat cancelled in epoch %d of %d", epoch, cfg->epochs);
        snprintf(kept, sizeof kept, "kept epoch %d (%sint8 %s %.6g)", sum.best_epoch,
                 sum.best_epoch == 0 ? "the PTQ starting point, " : "", sum.metric,
                 sum.best_metric);
        qs_fail(err, st, "%.370s; %s", msg, kept);
    } else if (st == QS_ECANCELLED) {
        qs_fail(err, st, "qat cancelled before the first epoch; nothing was kept");
    }
    sum.seconds = train_now() - t_start;
    if (sum_out)
        *sum_out = sum;
    qat_run_release(&R);
    return st;
}
