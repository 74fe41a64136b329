/* The QAT loop; rules in docs/qat.md. Shuffling, batching, class weights and data checks
 * are train.c's own pieces (train.h), so QAT and float training treat data identically. */
#include "qat/qat.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "run/exec.h"
#include "qexec/qexec.h"
#include "base/rng.h"
#include "run/run.h"
#include "train/train.h"

const char *const qat_distill_names[QAT_DISTILL_COUNT] = { "none", "kl", "mse" };

QatConfig qat_config_default(void)
{
    QatConfig c;
    memset(&c, 0, sizeof c);
    c.epochs = 3;
    c.batch = 32;
    c.optim = OPTIM_ADAM;
    c.opt = optim_config_default(OPTIM_ADAM);
    c.opt.lr = 1e-4;
    c.distill = -1;
    c.temperature = 4.0;
    c.alpha = 0.5;
    c.scales = QAT_SCALES_EMA;
    c.ma_momentum = 0.01;
    return c;
}

void qat_result_release(QatResult *r)
{
    model_free(r->model);
    calib_release(&r->cal);
    plan_release(&r->plan);
    memset(r, 0, sizeof *r);
}

/* ---- the loss ---------------------------------------------------------------------------- */

QsStatus qat_loss(const QatLossCfg *c, const float *logits, const float *teacher,
                  const int64_t *labels, const float *targets, int64_t n, int C,
                  float *dlogits, QatLossParts *out, QsError *err)
{
    LossArgs la = { .logits = logits, .n = n, .c = C, .labels = labels, .targets = targets,
                    .class_weights = c->class_weights };
    double lt, ld;
    if (loss_compute(c->task, &la, &lt, dlogits, err))
        return err->code;
    out->task = out->total = lt;
    out->distill = 0.0;
    if (c->distill == QAT_DISTILL_NONE)
        return QS_OK;
    size_t count;
    if (__builtin_mul_overflow((size_t)n, (size_t)C, &count))
        return qs_fail(err, QS_ENOMEM, "a batch of %lld x %d logits overflows", (long long)n, C);
    float *dd = malloc(count * sizeof *dd);
    if (!dd)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu distillation gradients", count);
    LossArgs da = { .logits = logits, .n = n, .c = C, .targets = teacher,
                    .temperature = c->temperature };
    if (loss_compute(c->distill == QAT_DISTILL_KL ? LOSS_KL_DISTILL : LOSS_MSE, &da, &ld, dd,
                     err)) {
        free(dd);
        return err->code;
    }
    double a = c->alpha;
    for (size_t i = 0; i < count; i++)
        dlogits[i] = (float)(a * dlogits[i] + (1.0 - a) * dd[i]);
    free(dd);
    out->distill = ld;
    out->total = a * lt + (1.0 - a) * ld;
    return QS_OK;
}

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
    L->fake = exec_float_new(&L->qg.g, &L->fowner);
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
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (isfinite(v)) {
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
    }
    if (mn > mx)
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

static bool qat_better(double a, double b, bool higher)
{
    return higher ? a > b : a < b; /* NaN never improves */
}

/* ---- the loop --------------------------------------------------------------------------- */

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
    QatLoop L;
    memset(&L, 0, sizeof L);
    bool graph_live = false, trun_live = false, scored = false;
    Run trun;
    float *weights = NULL, *saved_scales = NULL;
    TrainBatch tb = { 0 };
    float **fgrad = NULL;
    const Tensor **dout = NULL;
    Tensor *fdout = NULL;
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
    const Shape *os = &g->values[g->outputs[0]].shape;
    int64_t width = shape_span(os, 1, os->ndim);
    if (width < 1 || width > INT_MAX) {
        st = qs_fail(err, QS_ESHAPE, "output '%s' has %lld values per sample",
                     g->values[g->outputs[0]].name, (long long)width);
        goto cleanup;
    }
    int C = (int)width;
    LossKind lk = train_task_loss(task);
    const LossDef *loss = &loss_table[lk];
    int distill = cfg->distill >= 0 ? cfg->distill
                : task_table[task].class_labels ? QAT_DISTILL_KL : QAT_DISTILL_MSE;
    sum.distill = distill;
    if ((st = train_check_split(g, train, "train", task, C, loss, err)) ||
        (st = train_check_split(g, val, "validation", task, C, loss, err)))
        goto cleanup;
    if (cfg->class_weights || cfg->auto_class_weights) {
        weights = xmalloc((size_t)C * sizeof *weights);
        if ((st = train_class_weights(cfg->class_weights, cfg->n_class_weights,
                                      cfg->auto_class_weights, train, C, weights, err)))
            goto cleanup;
    }
    int64_t N = dataset_len(train);

    /* the training graph, its run, the teacher's run, the optimizer */
    QatGraphOpts go = { .scales = cfg->scales, .bn_train = cfg->freeze_bn_after > 0,
                        .features = cfg->features, .n_features = cfg->n_features };
    if ((st = qat_graph_build(&L.qg, student, p, cal, &go, err)))
        goto cleanup;
    graph_live = true;
    QatGraph *qg = &L.qg;
    L.mom = cfg->ma_momentum;
    L.ranges_live = true;
    sum.n_act = qg->n_act;
    sum.n_units = qg->n_units;
    if ((st = qat_attach(&L, cfg, err)))
        goto cleanup;
    sum.n_params = run_params(&L.run)->numel;
    bool use_teacher = distill != QAT_DISTILL_NONE || cfg->n_features > 0;
    if (use_teacher) {
        run_init(&trun, &teacher->graph);
        trun_live = true;
    }
    int eval_batch = cfg->eval_batch ? cfg->eval_batch : cfg->batch;

    /* buffers */
    if ((st = train_batch_init(&tb, train, cfg->batch, C, loss->class_labels, err)))
        goto cleanup;
    int64_t B = tb.cap;
    dout = xcalloc((size_t)qg->g.n_outputs, sizeof *dout);
    fdout = xcalloc((size_t)(cfg->n_features ? cfg->n_features : 1), sizeof *fdout);
    fgrad = xcalloc((size_t)(cfg->n_features ? cfg->n_features : 1), sizeof *fgrad);
    for (int i = 0; i < cfg->n_features; i++) {
        const Shape *fs = &qg->g.values[qg->g.outputs[qg->feature_output0 + i]].shape;
        int64_t per = shape_span(fs, 1, fs->ndim), cnt;
        if (per > INT_MAX || __builtin_mul_overflow(B, per, &cnt) ||
            !(fgrad[i] = train_alloc(cnt, sizeof(float), "a feature gradient", err))) {
            st = qs_fail(err, QS_ENOMEM, "feature %d: %lld values per sample", i, (long long)per);
            goto cleanup;
        }
    }
    if (cfg->scales == QAT_SCALES_LEARN)
        saved_scales = xmalloc((size_t)(qg->n_act ? qg->n_act : 1) * sizeof *saved_scales);
    int64_t nval = dataset_len(val);
    double share = (double)N / (double)(N + 2 * nval);

    /* epoch 0: the starting point */
    QatResult best, cand;
    memset(&best, 0, sizeof best);
    if ((st = qat_evaluate(&L, val, task, eval_batch, job, 0.0, 0.0, &best,
                           &sum.ptq_fake_metric, &sum.ptq_metric, err)))
        goto cleanup;
    scored = true;
    *res = best; /* res owns the best from here on */
    sum.best_metric = sum.ptq_metric;
    sum.best_fake_metric = sum.ptq_fake_metric;

    Rng rng;
    rng_seed(&rng, cfg->seed);
    int since_best = 0;
    QatLossCfg lc = { .task = lk, .class_weights = weights, .distill = distill,
                      .temperature = cfg->temperature, .alpha = cfg->alpha };
    for (epoch = 1; epoch <= cfg->epochs; epoch++) {
        double t0 = train_now();
        train_shuffle(&rng, tb.perm, N);
        double task_sum = 0.0, dist_sum = 0.0, feat_sum = 0.0;
        bool ema = cfg->scales == QAT_SCALES_EMA && L.ranges_live;
        for (int64_t first = 0; first < N; first += B) {
            if ((st = job_check(job, "QAT", err)))
                goto cleanup;
            int64_t b = N - first < B ? N - first : B;
            train_gather(train, first, b, &tb);
            const Tensor *const *inputs = tb.x.ptrs;
            if (ema)
                for (int k = 0; k < qg->n_act; k++)
                    for (int i = 0; qg->act[k].obs_node < 0 && i < qg->g.n_inputs; i++)
                        if (qg->g.inputs[i] == qg->act[k].obs)
                            qat_observe(&L, k, tensor_f32(tb.x.x[i]), tensor_numel(tb.x.x[i]));
            if ((st = run_forward(&L.run, inputs, ema ? qat_tap : NULL, &L, err)) ||
                (use_teacher && (st = run_forward(&trun, inputs, NULL, NULL, err))))
                goto cleanup;
            const Tensor *o = run_output(&L.run, 0);
            QatLossParts lp;
            if ((st = qat_loss(&lc, tensor_f32(o), use_teacher ? tensor_f32(run_output(&trun, 0)) : NULL,
                               tb.labels, tb.targets, b, C, tb.dlogits, &lp, err)))
                goto cleanup;
            double total = lp.total, fl = 0.0;
            for (int i = 0; i < cfg->n_features; i++) {
                const Tensor *so = run_output(&L.run, qg->feature_output0 + i);
                const Tensor *to = &trun.vals[qg->feature_value[i]];
                int64_t per = shape_span(&so->shape, 1, so->shape.ndim);
                LossArgs fa = { .logits = tensor_f32(so), .n = b, .c = (int)per,
                                .targets = tensor_f32(to) };
                double f;
                if ((st = loss_compute(LOSS_MSE, &fa, &f, fgrad[i], err)))
                    goto cleanup;
                fl += f;
                fdout[i] = tensor_view(DT_F32, so->shape, fgrad[i]);
                dout[qg->feature_output0 + i] = &fdout[i];
            }
            total += fl;
            if (!isfinite(total)) {
                st = qs_fail(err, QS_EINVAL, "QAT diverged: the loss is %g in epoch %d at sample %lld",
                             total, epoch, (long long)first);
                goto cleanup;
            }
            Tensor dt = tensor_view(DT_F32, o->shape, tb.dlogits);
            dout[0] = &dt;
            if ((st = run_backward(&L.run, dout, err)))
                goto cleanup;
            bool keep_scales = cfg->scales == QAT_SCALES_LEARN && !L.ranges_live;
            if (keep_scales)
                for (int k = 0; k < qg->n_act; k++)
                    saved_scales[k] = tensor_f32(qg->g.values[qg->act[k].scale].data)[0];
            optim_step(&L.opt, run_params(&L.run), cfg->opt.lr);
            if (keep_scales)
                for (int k = 0; k < qg->n_act; k++)
                    tensor_f32(qg->g.values[qg->act[k].scale].data)[0] = saved_scales[k];
            qat_graph_clamp_scales(qg);
            qat_graph_refresh_weights(qg);
            sum.steps++;
            task_sum += lp.task * (double)b;
            dist_sum += lp.distill * (double)b;
            feat_sum += fl * (double)b;
            job_progress(job, ((epoch - 1) + share * (double)(first + b) / (double)N) /
                                  cfg->epochs, "qat");
        }
        /* the phases end with their epoch, before the epoch is scored */
        if (qg->bn_train && epoch >= cfg->freeze_bn_after) {
            /* the graph is rebuilt in its frozen form: new run, new optimizer state */
            qat_detach(&L);
            if ((st = qat_graph_freeze_bn(qg, err)) || (st = qat_attach(&L, cfg, err)))
                goto cleanup;
        }
        if (cfg->observer_freeze_after > 0 && epoch >= cfg->observer_freeze_after)
            L.ranges_live = false;
        double fake_m, int8_m;
        if ((st = qat_evaluate(&L, val, task, eval_batch, job,
                               ((epoch - 1) + share) / cfg->epochs, (1.0 - share) / cfg->epochs,
                               &cand, &fake_m, &int8_m, err)))
            goto cleanup;
        bool improved = qat_better(int8_m, sum.best_metric, sum.higher_is_better) ||
                        (isnan(sum.best_metric) && !isnan(int8_m));
        if (improved) {
            qat_result_release(res);
            *res = cand;
            sum.best_epoch = epoch;
            sum.best_metric = int8_m;
            sum.best_fake_metric = fake_m;
            since_best = 0;
        } else {
            qat_result_release(&cand);
            since_best++;
        }
        sum.epochs_run = epoch;
        QatEpoch e = { .epoch = epoch, .epochs = cfg->epochs, .task_loss = task_sum / (double)N,
                       .distill_loss = dist_sum / (double)N, .feature_loss = feat_sum / (double)N,
                       .fake_metric = fake_m, .int8_metric = int8_m, .lr = cfg->opt.lr,
                       .improved = improved, .bn_frozen = !qg->bn_train,
                       .ranges_frozen = !L.ranges_live, .seconds = train_now() - t0 };
        if (on_epoch)
            on_epoch(user, &e);
        if (cfg->patience > 0 && since_best >= cfg->patience) {
            sum.stopped_early = true;
            break;
        }
    }
    job_progress(job, 1.0, "qat");

cleanup:
    if (st && scored) {
        char msg[sizeof err->msg], kept[128];
        snprintf(msg, sizeof msg, "%s", err->msg);
        if (st == QS_ECANCELLED)
            snprintf(msg, sizeof msg, "qat cancelled in epoch %d of %d", epoch, cfg->epochs);
        snprintf(kept, sizeof kept, "kept epoch %d (int8 %s %.6g)", sum.best_epoch, sum.metric,
                 sum.best_metric);
        qs_fail(err, st, "%.370s; %s", msg, kept);
    } else if (st == QS_ECANCELLED) {
        qs_fail(err, st, "qat cancelled before the first epoch; nothing was kept");
    }
    sum.seconds = train_now() - t_start;
    if (sum_out)
        *sum_out = sum;
    free(weights);
    train_batch_release(&tb);
    free(saved_scales);
    free(dout);
    free(fdout);
    if (fgrad)
        for (int i = 0; i < cfg->n_features; i++)
            free(fgrad[i]);
    free(fgrad);
    qat_detach(&L);
    if (trun_live)
        run_release(&trun);
    if (graph_live)
        qat_graph_release(&L.qg);
    return st;
}
