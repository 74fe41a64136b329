/* QAT on the bundled MNIST models (qat_graph.c, qat.c, the QAT variant in qstate.c).
 *
 *  - Epoch 0: the training graph exported before any step lowers to exactly the PTQ model
 *    (bit-identical INT8 outputs), per channel and per tensor, with min-max and percentile
 *    ranges; the training graph's own fake-quantized run agrees with the executor's
 *    fake-quant simulation.
 *  - Export after moving the weights and ranges: the executor's own BatchNorm folding gives
 *    back the trained folded weights bit for bit (its weight range and scales equal the
 *    training graph's), and the activation grids equal the trained ranges'.
 *  - Short runs: INT8 accuracy within 0.2 points of the fake-quantized accuracy every
 *    epoch (mnist_cnn; also with learned scales, BatchNorm batch statistics and feature
 *    distillation); with alpha = 0 the student moves toward the teacher (KL falls across an
 *    epoch); the student and teacher models are never changed; Ctrl-C keeps the best epoch.
 *  - The variant: variant use makes its weights the active model; drop and model changes.
 *
 * Runs use a few hundred digits so that the sanitizer build stays quick; the accuracy
 * recovery on the full 7000 digits is tests/scripts/qat_dw.check.qs. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/calib.h"
#include "arrays/datafile.h"
#include "eval/eval.h"
#include "quant/observer.h"
#include "ops/op.h"
#include "qat/qat.h"
#include "qexec/qexec.h"
#include "native/qsm.h"
#include "ptq/qstate.h"
#include "run/run.h"
#include "base/quant.h"
#include "test_util.h"

#define SCALE 0.00392156886f

static Dataset all_train, all_test;

static bool load_split(const char *path, Dataset *d)
{
    QsError err = { 0 };
    memset(d, 0, sizeof *d);
    d->n_x = 1;
    if (!CHECK_OK(datafile_load(path, "x", &d->x[0], NULL, &err), &err) ||
        !CHECK_OK(datafile_load(path, "y", &d->y, NULL, &err), &err) ||
        !CHECK_OK(dataset_prepare_x(&d->x[0], SCALE, 0.0f, 1.0f, &err), &err) ||
        !CHECK_OK(dataset_prepare_y(&d->y, d->x[0]->shape.dim[0], &err), &err))
        return false;
    int64_t n = d->x[0]->shape.dim[0];
    d->x[0]->shape = shape_of(4, n, (int64_t)1, (int64_t)28, (int64_t)28);
    return true;
}

/* Samples [first, first + n) of src as a new split. */
static Dataset slice(const Dataset *src, int64_t first, int64_t n)
{
    Dataset d = { 0 };
    Shape xs = src->x[0]->shape;
    xs.dim[0] = n;
    d.x[0] = tensor_new(DT_F32, xs, NULL);
    d.n_x = 1;
    d.y = tensor_new(DT_I64, shape_of(1, n), NULL);
    memcpy(d.x[0]->data, tensor_f32(src->x[0]) + first * 784, (size_t)n * 784 * sizeof(float));
    memcpy(d.y->data, (int64_t *)src->y->data + first, (size_t)n * sizeof(int64_t));
    return d;
}

typedef struct Setup {
    Model *m;
    Calibration cal;
    Plan plan;
} Setup;

static bool setup(Setup *s, const char *path, bool tensor, int observer)
{
    QsError err = { 0 };
    memset(s, 0, sizeof *s);
    s->m = qsm_load(path, &err);
    if (!CHECK_OK(s->m ? QS_OK : err.code, &err))
        return false;
    Dataset calib = slice(&all_train, 7000, 500);
    bool ok = CHECK_OK(calib_run(&s->m->graph, &calib, 0, 100, 0.01, NULL, &s->cal, &err), &err);
    dataset_release(&calib);
    plan_init(&s->plan, s->m->graph.n_nodes);
    s->plan.mode = PREC_INT8_STATIC;
    s->plan.q.wgran_tensor = tensor;
    s->plan.q.observer = observer;
    return ok;
}

static void setdown(Setup *s)
{
    model_free(s->m);
    calib_release(&s->cal);
    plan_release(&s->plan);
}

/* Outputs (n, 10) of executor ex on the first n samples of d. */
static float *outputs(const Executor *ex, const Dataset *d, int64_t n)
{
    float *o = xmalloc((size_t)n * 10 * sizeof *o);
    QsError err = { 0 };
    for (int64_t first = 0; first < n; first += 100) {
        int64_t b = n - first < 100 ? n - first : 100;
        Shape xs = d->x[0]->shape;
        xs.dim[0] = b;
        Tensor x = tensor_view(DT_F32, xs, tensor_f32(d->x[0]) + first * 784);
        const Tensor *in[1] = { &x }, *out[4];
        if (!CHECK_OK(ex->forward(ex->self, in, out, NULL, NULL, &err), &err))
            break;
        memcpy(o + first * 10, tensor_f32(out[0]), (size_t)b * 10 * sizeof *o);
    }
    return o;
}

static int argmax10(const float *v)
{
    int k = 0;
    for (int i = 1; i < 10; i++)
        k = v[i] > v[k] ? i : k;
    return k;
}

/* ---- epoch 0 --------------------------------------------------------------------------- */

static void test_epoch0(const char *path, bool tensor, int observer)
{
    char label[160];
    snprintf(label, sizeof label, "%s %s %s", path, tensor ? "per-tensor" : "per-channel",
             observer == OBS_MINMAX ? "minmax" : "percentile");
    Setup s;
    if (!setup(&s, path, tensor, observer)) {
        setdown(&s);
        return;
    }
    QsError err = { 0 };
    QatGraph qg;
    QatGraphOpts o = { .scales = QAT_SCALES_EMA };
    if (!CHECK_OK(qat_graph_build(&qg, s.m, &s.plan, &s.cal, &o, &err), &err)) {
        setdown(&s);
        return;
    }
    Model *em = NULL;
    Calibration ec;
    Plan ep;
    QModel *q0 = NULL, *q1 = NULL;
    if (CHECK_OK(qat_graph_export(&qg, &s.cal, &em, &ec, &ep, &err), &err) &&
        CHECK_OK(qmodel_build(s.m, &s.plan, &s.cal, &q0, &err), &err) &&
        CHECK_OK(qmodel_build(em, &ep, &ec, &q1, &err), &err)) {
        Dataset d = slice(&all_test, 0, 300);
        Executor e0 = qmodel_executor(q0), e1 = qmodel_executor(q1);
        float *a = outputs(&e0, &d, 300), *b = outputs(&e1, &d, 300);
        /* the export of the untrained graph IS the PTQ model: same int8 codes everywhere */
        if (!CHECK(memcmp(a, b, 300 * 10 * sizeof *a) == 0))
            fprintf(stderr, "  %s: epoch-0 export differs from PTQ\n", label);
        /* the training graph's fake-quantized run against the executor's simulation: the
         * same grids; they may differ where a bias rounds differently in float and double
         * arithmetic and a value then lands one step away */
        FloatExec *fo;
        Executor ef = exec_float_new(&qg.g, &fo), es = qmodel_fake_executor(q0);
        float *f = outputs(&ef, &d, 300), *g = outputs(&es, &d, 300);
        int agree = 0;
        double worst = 0;
        for (int i = 0; i < 300; i++) {
            agree += argmax10(f + i * 10) == argmax10(g + i * 10);
            for (int c = 0; c < 10; c++)
                worst = fmax(worst, fabs((double)f[i * 10 + c] - g[i * 10 + c]));
        }
        if (!CHECK(agree >= 299 && worst < 0.5))
            fprintf(stderr, "  %s: fake vs executor fake: %d/300 agree, max diff %g\n", label,
                    agree, worst);
        exec_float_free(fo);
        free(a);
        free(b);
        free(f);
        free(g);
        dataset_release(&d);
    }
    qmodel_free(q0);
    qmodel_free(q1);
    if (em) {
        model_free(em);
        calib_release(&ec);
        plan_release(&ep);
    }
    qat_graph_release(&qg);
    setdown(&s);
}

/* ---- export after the weights and ranges moved ------------------------------------------ */

static void test_export_exact(const char *path, bool tensor)
{
    Setup s;
    if (!setup(&s, path, tensor, OBS_MINMAX)) {
        setdown(&s);
        return;
    }
    QsError err = { 0 };
    QatGraph qg;
    QatGraphOpts o = { .scales = QAT_SCALES_EMA };
    if (!CHECK_OK(qat_graph_build(&qg, s.m, &s.plan, &s.cal, &o, &err), &err)) {
        setdown(&s);
        return;
    }
    /* move every folded weight and bias, and every range, as training would */
    unsigned st = 5;
    for (int i = 0; i < qg.n_units; i++) {
        const QatUnit *u = &qg.units[i];
        float *w = tensor_f32(qg.g.values[u->w].data);
        for (int64_t k = 0; k < u->lin.oc * u->lin.k; k++) {
            st = st * 1103515245u + 12345u;
            w[k] *= 1.0f + 0.05f * ((float)((st >> 8) & 0xff) / 255.0f - 0.5f);
        }
        if (u->b >= 0)
            tensor_f32(qg.g.values[u->b].data)[0] += 0.01f;
    }
    for (int k = 0; k < qg.n_act; k++)
        qat_graph_set_range(&qg, k, qg.act[k].lo * 0.9f, qg.act[k].hi * 1.1f);
    qat_graph_refresh_weights(&qg);
    Model *em = NULL;
    Calibration ec;
    Plan ep;
    QModel *q = NULL;
    if (CHECK_OK(qat_graph_export(&qg, &s.cal, &em, &ec, &ep, &err), &err) &&
        CHECK_OK(qmodel_build(em, &ep, &ec, &q, &err), &err)) {
        int bad = 0;
        for (int i = 0; i < qg.n_units; i++) {
            const QatUnit *u = &qg.units[i];
            const QLayerInfo *li = qmodel_layer(q, u->lin.head);
            const float *w = tensor_f32(qg.g.values[u->w].data);
            const float *ws = tensor_f32(qg.g.values[u->wscale].data);
            float lo = INFINITY, hi = -INFINITY;
            for (int64_t k = 0; k < u->lin.oc * u->lin.k; k++) {
                lo = fminf(lo, w[k]);
                hi = fmaxf(hi, w[k]);
            }
            /* the executor folded the identity BatchNorm: exactly the trained weights */
            bad += li->w_min != lo || li->w_max != hi;
            bad += li->n_wscales != (tensor ? 1 : (int)u->lin.oc);
            for (int c = 0; c < li->n_wscales; c++)
                bad += li->wscales[c] != ws[c];
            /* the unit's output grid is the trained range's */
            int tail = qmodel_unit_tail(q, u->lin.head);
            const QLayerInfo *ti = qmodel_layer(q, tail);
            for (int k = 0; k < qg.n_act; k++)
                if (qg.act[k].value == em->graph.nodes[tail].out) {
                    QParams p = quant_params(qg.act[k].lo, qg.act[k].hi, 8, false);
                    bad += ti->act.scale != p.scale || ti->act.zero_point != p.zero_point;
                }
        }
        if (!CHECK(bad == 0))
            fprintf(stderr, "  %s: %d exported weights/scales/grids differ\n", path, bad);
        /* the two runs agree on the classes */
        Dataset d = slice(&all_test, 0, 200);
        FloatExec *fo;
        Executor ef = exec_float_new(&qg.g, &fo), ei = qmodel_executor(q);
        float *f = outputs(&ef, &d, 200), *g = outputs(&ei, &d, 200);
        int agree = 0;
        for (int i = 0; i < 200; i++)
            agree += argmax10(f + i * 10) == argmax10(g + i * 10);
        CHECK(agree >= 198);
        exec_float_free(fo);
        free(f);
        free(g);
        dataset_release(&d);
    }
    qmodel_free(q);
    if (em) {
        model_free(em);
        calib_release(&ec);
        plan_release(&ep);
    }
    qat_graph_release(&qg);
    setdown(&s);
}

/* ---- short runs ------------------------------------------------------------------------ */

typedef struct {
    int epochs;
    double worst_gap;          /* |fake - int8| over the epochs */
    double feature_loss;
    atomic_int *cancel_flag;   /* set after epoch cancel_at, when non-NULL */
    int cancel_at;
} EpochLog;

static void log_epoch(void *user, const QatEpoch *e)
{
    EpochLog *l = user;
    l->epochs++;
    l->worst_gap = fmax(l->worst_gap, fabs(e->fake_metric - e->int8_metric));
    l->feature_loss = e->feature_loss;
    if (l->cancel_flag && e->epoch == l->cancel_at)
        atomic_store(l->cancel_flag, 1);
}

static bool same_weights(const Model *a, const Model *b)
{
    for (int v = 0; v < a->graph.n_values; v++)
        if (a->graph.values[v].kind == VAL_CONST &&
            memcmp(a->graph.values[v].data->data, b->graph.values[v].data->data,
                   tensor_bytes(a->graph.values[v].data)) != 0)
            return false;
    return true;
}

static void test_run_cnn(void)
{
    Setup s;
    if (!setup(&s, "models/mnist_cnn.qsm", false, OBS_MINMAX)) {
        setdown(&s);
        return;
    }
    QsError err = { 0 };
    Model *teacher = model_clone(s.m, &err), *before = model_clone(s.m, &err);
    Dataset tr = slice(&all_train, 0, 600), val = slice(&all_test, 0, 500);
    QatConfig cfg = qat_config_default();
    cfg.epochs = 1;
    cfg.batch = 64;
    cfg.eval_batch = 250;
    cfg.seed = 1;
    EpochLog log = { 0 };
    QatResult res;
    QatSummary sum;
    QsStatus st = qat_run(s.m, teacher, &s.plan, &s.cal, &tr, &val, TASK_CLASSIFY, &cfg, NULL,
                          log_epoch, &log, &res, &sum, &err);
    if (CHECK_OK(st, &err)) {
        CHECK(log.epochs == 1 && sum.epochs_run == 1 && res.model);
        /* the conversion keeps what the fake-quantized graph scored, within 0.2 points */
        if (!CHECK(log.worst_gap <= 0.002 + 1e-12 && fabs(sum.ptq_fake_metric - sum.ptq_metric) <= 0.002))
            fprintf(stderr, "  cnn: fake/int8 gap %g (epoch 0: %g vs %g)\n", log.worst_gap,
                    sum.ptq_fake_metric, sum.ptq_metric);
        CHECK(sum.ptq_metric > 0.95 && sum.best_metric >= sum.ptq_metric);
        CHECK(sum.n_units == 4 && sum.distill == QAT_DISTILL_KL && sum.steps == 10);
        /* the student and the teacher are untouched */
        CHECK(same_weights(s.m, before) && same_weights(teacher, before));
        /* the result scores what the summary says, through the variant and qstate */
        QuantState qs;
        qstate_init(&qs, s.m->graph.n_nodes);
        Plan keep;
        plan_copy(&keep, &res.plan);
        Model *rm = res.model;
        qstate_variant_save_model(&qs, "qat", &res.plan, &res.cal, res.model);
        res.model = NULL;
        CHECK(qstate_model(&qs, s.m) == s.m);
        CHECK(qstate_variant_use(&qs, "qat"));
        const Model *am = qstate_model(&qs, s.m);
        CHECK(am != s.m && am != rm && same_weights(am, rm));
        Executor ex;
        FloatExec *fo;
        LabelMetrics lm;
        if (CHECK_OK(qstate_executor(&qs, s.m, &qs.plan, NULL, &ex, &fo, &err), &err) &&
            CHECK_OK(eval_labels_with(&ex, &val, 0, TASK_CLASSIFY, 100, NULL, &lm, &err), &err)) {
            CHECK(label_metrics_accuracy(&lm) == sum.best_metric);
            label_metrics_release(&lm);
        }
        exec_float_free(fo);
        /* the fp32 plan runs the variant's float weights: not the teacher's outputs */
        Plan fp;
        plan_init(&fp, s.m->graph.n_nodes);
        if (CHECK_OK(qstate_executor(&qs, s.m, &fp, NULL, &ex, &fo, &err), &err))
            CHECK(ex.graph == &am->graph);
        exec_float_free(fo);
        plan_release(&fp);
        /* a variant saved now carries the weights too; dropping the source keeps the active */
        qstate_variant_save(&qs, "copy", &qs.plan);
        CHECK(qstate_variant_find(&qs, "copy")->model != NULL);
        CHECK(qstate_variant_drop(&qs, "qat") && qstate_model(&qs, s.m) == am);
        /* a plain variant makes the session's model active again */
        Plan p2;
        plan_copy(&p2, &s.plan);
        qstate_model_changed(&qs, s.m->graph.n_nodes); /* e.g. train: back to the session */
        CHECK(qstate_model(&qs, s.m) == s.m);
        qstate_variant_save(&qs, "plain", &p2);
        CHECK(qstate_variant_use(&qs, "copy") && qstate_model(&qs, s.m) != s.m);
        CHECK(qstate_variant_use(&qs, "plain") && qstate_model(&qs, s.m) == s.m);
        plan_release(&p2);
        plan_release(&keep);
        qstate_release(&qs);
    }
    qat_result_release(&res);
    model_free(teacher);
    model_free(before);
    dataset_release(&tr);
    dataset_release(&val);
    setdown(&s);
}

/* Mean KL(softmax(teacher) || softmax(student)) over d, student = ex. */
static double mean_kl(const Executor *teacher, const Executor *student, const Dataset *d,
                      int64_t n)
{
    float *a = outputs(teacher, d, n), *b = outputs(student, d, n);
    CompareMetrics c;
    compare_metrics_init(&c);
    compare_metrics_add(&c, a, b, n, 10);
    free(a);
    free(b);
    return compare_metrics_kl(&c);
}

static void test_distill_moves_student(void)
{
    /* mnist_dw per tensor: PTQ is far from the teacher (about 69 % against 96 %) */
    Setup s;
    if (!setup(&s, "models/mnist_dw.qsm", true, OBS_MINMAX)) {
        setdown(&s);
        return;
    }
    QsError err = { 0 };
    Dataset tr = slice(&all_train, 0, 400), val = slice(&all_test, 0, 300);
    QatConfig cfg = qat_config_default();
    cfg.epochs = 1;
    cfg.batch = 32;
    cfg.alpha = 0.0; /* distillation only: the labels play no part */
    cfg.temperature = 1.0;
    cfg.opt.lr = 1e-3;
    cfg.seed = 3;
    QatResult res;
    QatSummary sum;
    EpochLog log = { 0 };
    QModel *q0 = NULL, *q1 = NULL;
    if (CHECK_OK(qat_run(s.m, s.m, &s.plan, &s.cal, &tr, &val, TASK_CLASSIFY, &cfg, NULL,
                         log_epoch, &log, &res, &sum, &err), &err) &&
        CHECK_OK(qmodel_build(s.m, &s.plan, &s.cal, &q0, &err), &err) &&
        CHECK_OK(qmodel_build(res.model, &res.plan, &res.cal, &q1, &err), &err)) {
        FloatExec *fo;
        Executor t = exec_float_new(&s.m->graph, &fo), e0 = qmodel_executor(q0),
                 e1 = qmodel_executor(q1);
        /* on the digits it trained on: the KL to the teacher at least halves */
        double before = mean_kl(&t, &e0, &tr, 400), after = mean_kl(&t, &e1, &tr, 400);
        if (!CHECK(after < 0.5 * before))
            fprintf(stderr, "  alpha=0: KL %g -> %g\n", before, after);
        exec_float_free(fo);
        CHECK(log.worst_gap <= 0.002 + 1e-12);
    }
    qmodel_free(q0);
    qmodel_free(q1);
    qat_result_release(&res);
    dataset_release(&tr);
    dataset_release(&val);
    setdown(&s);
}

/* Learned scales, BatchNorm batch statistics, feature distillation, Ctrl-C. */
static void test_options(void)
{
    Setup s;
    if (!setup(&s, "models/mnist_cnn.qsm", false, OBS_MINMAX)) {
        setdown(&s);
        return;
    }
    QsError err = { 0 };
    Dataset tr = slice(&all_train, 0, 256), val = slice(&all_test, 0, 500);
    QatResult res;
    QatSummary sum;

    /* LSQ scales: the conversion keeps the accuracy */
    QatConfig cfg = qat_config_default();
    cfg.epochs = 1;
    cfg.batch = 32;
    cfg.scales = QAT_SCALES_LEARN;
    cfg.opt.lr = 1e-3;
    EpochLog log = { 0 };
    if (CHECK_OK(qat_run(s.m, s.m, &s.plan, &s.cal, &tr, &val, TASK_CLASSIFY, &cfg, NULL,
                         log_epoch, &log, &res, &sum, &err), &err))
        CHECK(log.worst_gap <= 0.002 + 1e-12 && res.model && sum.n_params > 0);
    qat_result_release(&res);

    /* BatchNorm batch statistics for the first epoch, then frozen; feature distillation */
    cfg = qat_config_default();
    cfg.epochs = 2;
    cfg.batch = 32;
    cfg.freeze_bn_after = 1;
    cfg.observer_freeze_after = 1;
    int feats[1] = { graph_find_node(&s.m->graph, "relu2") };
    cfg.features = feats;
    cfg.n_features = 1;
    memset(&log, 0, sizeof log);
    if (CHECK_OK(qat_run(s.m, s.m, &s.plan, &s.cal, &tr, &val, TASK_CLASSIFY, &cfg, NULL,
                         log_epoch, &log, &res, &sum, &err), &err)) {
        CHECK(log.epochs == 2 && log.worst_gap <= 0.002 + 1e-12);
        /* the batch-statistics form starts where PTQ is, and converts as exactly */
        CHECK(fabs(sum.ptq_fake_metric - sum.ptq_metric) <= 0.002 && sum.ptq_metric > 0.95);
        CHECK(log.feature_loss > 0 && isfinite(log.feature_loss));
    }
    qat_result_release(&res);

    /* a feature whose output is folded away is refused, naming what to use instead */
    feats[0] = graph_find_node(&s.m->graph, "conv1");
    cfg.epochs = 1;
    expect_error("folded feature",
                 qat_run(s.m, s.m, &s.plan, &s.cal, &tr, &val, TASK_CLASSIFY, &cfg, NULL, NULL,
                         NULL, &res, &sum, &err),
                 &err, QS_EINVAL, "feature=conv1: during QAT that layer's output is folded "
                 "with its BatchNorm 'bn1'; name 'bn1' instead");
    CHECK(res.model == NULL);

    /* Ctrl-C after epoch 1 of 3: the best so far is kept and said so */
    cfg = qat_config_default();
    cfg.epochs = 3;
    cfg.batch = 64;
    atomic_int cancel = 0;
    JobCtx job = { .cancel = &cancel };
    memset(&log, 0, sizeof log);
    log.cancel_flag = &cancel;
    log.cancel_at = 1;
    QsStatus st = qat_run(s.m, s.m, &s.plan, &s.cal, &tr, &val, TASK_CLASSIFY, &cfg, &job,
                          log_epoch, &log, &res, &sum, &err);
    expect_error("cancel", st, &err, QS_ECANCELLED, "qat cancelled in epoch 2 of 3; kept epoch");
    CHECK(res.model != NULL && sum.epochs_run == 1);
    qat_result_release(&res);

    /* a plan with nothing at int8-static, and no validation split */
    Plan fp;
    plan_init(&fp, s.m->graph.n_nodes);
    fp.mode = PREC_FP16;
    cfg.epochs = 1;
    expect_error("no int8", qat_run(s.m, s.m, &fp, &s.cal, &tr, &val, TASK_CLASSIFY, &cfg, NULL,
                                    NULL, NULL, &res, &sum, &err),
                 &err, QS_EINVAL, "runs no layer at int8-static");
    plan_release(&fp);
    expect_error("no val", qat_run(s.m, s.m, &s.plan, &s.cal, &tr, NULL, TASK_CLASSIFY, &cfg,
                                   NULL, NULL, NULL, &res, &sum, &err),
                 &err, QS_EINVAL, "validation split");
    dataset_release(&tr);
    dataset_release(&val);
    setdown(&s);
}

/* Learned scales are parameters that get LSQ gradients through back-propagation. */
static void test_learn_wiring(void)
{
    Setup s;
    if (!setup(&s, "models/mnist_cnn.qsm", false, OBS_MINMAX)) {
        setdown(&s);
        return;
    }
    QsError err = { 0 };
    QatGraph qg;
    QatGraphOpts o = { .scales = QAT_SCALES_LEARN };
    if (!CHECK_OK(qat_graph_build(&qg, s.m, &s.plan, &s.cal, &o, &err), &err)) {
        setdown(&s);
        return;
    }
    Run r;
    run_init(&r, &qg.g);
    Dataset d = slice(&all_train, 0, 16);
    const Tensor *in[1] = { d.x[0] };
    if (CHECK_OK(run_enable_grads(&r, false, &err), &err) &&
        CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err)) {
        const Tensor *out = run_output(&r, 0);
        Tensor *dy = tensor_new(DT_F32, out->shape, NULL);
        for (int64_t i = 0; i < tensor_numel(dy); i++)
            tensor_f32(dy)[i] = (float)((i * 7) % 5) - 2.0f;
        const Tensor *dout[1] = { dy };
        if (CHECK_OK(run_backward(&r, dout, &err), &err)) {
            int with_grad = 0;
            for (int k = 0; k < qg.n_act; k++) {
                const Tensor *gs = run_grad(&r, qg.act[k].scale);
                CHECK(gs != NULL && qg.g.values[qg.act[k].scale].is_param);
                with_grad += gs && tensor_f32(gs)[0] != 0.0f;
                /* zero points stay constants */
                CHECK(!qg.g.values[qg.act[k].zero].is_param);
            }
            CHECK(with_grad == qg.n_act);
        }
        tensor_free(dy);
    }
    /* a scale stepped through 0 is kept positive */
    tensor_f32(qg.g.values[qg.act[0].scale].data)[0] = -1.0f;
    qat_graph_clamp_scales(&qg);
    CHECK(tensor_f32(qg.g.values[qg.act[0].scale].data)[0] == 0x1p-23f);
    run_release(&r);
    dataset_release(&d);
    qat_graph_release(&qg);
    setdown(&s);
}

int main(void)
{
    if (!load_split("models/data/mnist_train.npz", &all_train) ||
        !load_split("models/data/mnist_test.npz", &all_test))
        return test_summary("qat");
    test_epoch0("models/mnist_cnn.qsm", false, OBS_MINMAX);
    test_epoch0("models/mnist_dw.qsm", true, OBS_MINMAX);
    test_epoch0("models/mnist_dw.qsm", false, OBS_PERCENTILE);
    test_export_exact("models/mnist_cnn.qsm", false);
    test_export_exact("models/mnist_dw.qsm", true);
    test_learn_wiring();
    test_run_cnn();
    test_distill_moves_student();
    test_options();
    dataset_release(&all_train);
    dataset_release(&all_test);
    return test_summary("qat");
}
