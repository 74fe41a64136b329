/* Training against PyTorch and the training loop (src/core/train/train.c):
 *  - replays the steps of tests/fixtures/train (scripts/fixtures/gen_train_fixtures.py) with
 *    run_backward + loss + optimizer and compares every step's loss, the clipping norms,
 *    the final weights and BatchNorm running statistics with torch's float64 run;
 *  - train_run on a seeded synthetic problem: the loss falls and accuracy gets high, the
 *    same seed gives bit-identical weights, patience stops early, cancellation keeps the
 *    best epoch's weights (BatchNorm statistics included), bad input fails before training. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/builder.h"
#include "eval/eval.h"
#include "io/fileio.h"
#include "train/loss.h"
#include "train/optim.h"
#include "base/rng.h"
#include "kern/normal.h"
#include "run/run.h"
#include "test_util.h"
#include "train/train.h"

/* ---- fixture replay --------------------------------------------------------------------- */

static double jnum(const cJSON *o, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static Tensor *load_case(const char *cs, const char *kind, const char *value)
{
    char rel[256], name[96];
    snprintf(name, sizeof name, "%s", value);
    for (char *p = name; *p; p++)
        if (*p == '.')
            *p = '_';
    if (kind)
        snprintf(rel, sizeof rel, "train/%s_%s_%s.npy", cs, kind, name);
    else
        snprintf(rel, sizeof rel, "train/%s_%s.npy", cs, name);
    return test_load_npy(rel);
}

static void node(Graph *g, int op, const char *name, const char *const *in, int n_in,
                 const Attr *attrs, int n_attrs)
{
    QsError err = { 0 };
    CHECK_OK(graph_add_node(g, op, name, in, n_in, name, attrs, n_attrs, &err), &err);
}

/* The nets of gen_train_fixtures.py, with the fixture's initial values as constants. */
static void build_fixture_net(Graph *g, const char *net, const char *cs, const cJSON *c)
{
    QsError err = { 0 };
    graph_init(g);
    bool mlp = strcmp(net, "mlp") == 0;
    Shape sample = mlp ? shape_of(1, (int64_t)6) : shape_of(3, (int64_t)1, (int64_t)6, (int64_t)6);
    CHECK_OK(graph_add_input(g, "x", &sample, &err), &err);
    const char *lists[2] = { "params", "state" };
    for (int l = 0; l < 2; l++) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(c, lists[l]))
            CHECK_OK(graph_add_const(g, it->valuestring, load_case(cs, "init", it->valuestring),
                                     l == 0, &err), &err);
    }
    if (mlp) {
        node(g, OP_DENSE, "fc1", (const char *[]){ "x", "fc1.weight", "fc1.bias" }, 3, NULL, 0);
        node(g, OP_RELU, "relu", (const char *[]){ "fc1" }, 1, NULL, 0);
        node(g, OP_DENSE, "fc2", (const char *[]){ "relu", "fc2.weight", "fc2.bias" }, 3, NULL, 0);
        CHECK_OK(graph_add_output(g, "fc2", &err), &err);
    } else {
        int64_t pads[4] = { 1, 1, 1, 1 }, k2[2] = { 2, 2 };
        Attr ca[1] = { attr_ints("pads", pads, 4) };
        Attr ba[2] = { attr_float("epsilon", 1e-5f), attr_float("momentum", 0.9f) };
        Attr pa[2] = { attr_ints("kernel_shape", k2, 2), attr_ints("strides", k2, 2) };
        node(g, OP_CONV, "conv", (const char *[]){ "x", "conv.weight" }, 2, ca, 1);
        node(g, OP_BATCHNORM, "bn",
             (const char *[]){ "conv", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var" },
             5, ba, 2);
        node(g, OP_RELU, "relu", (const char *[]){ "bn" }, 1, NULL, 0);
        node(g, OP_MAXPOOL, "pool", (const char *[]){ "relu" }, 1, pa, 2);
        node(g, OP_FLATTEN, "flat", (const char *[]){ "pool" }, 1, NULL, 0);
        node(g, OP_DENSE, "fc", (const char *[]){ "flat", "fc.weight", "fc.bias" }, 3, NULL, 0);
        CHECK_OK(graph_add_output(g, "fc", &err), &err);
        attr_release(&ca[0]);
        for (int i = 0; i < 2; i++) {
            attr_release(&ba[i]);
            attr_release(&pa[i]);
        }
    }
    CHECK_OK(graph_finalize(g, &err), &err);
}

static void replay_case(const cJSON *c)
{
    QsError err = { 0 };
    const char *cs = jstr(c, "name");
    char label[160];
    Graph g;
    int failures_before = test_failures;
    build_fixture_net(&g, jstr(c, "net"), cs, c);
    if (test_failures != failures_before) {
        graph_release(&g);
        return;
    }
    int steps = (int)jnum(c, "steps", 0), batch = (int)jnum(c, "batch", 0);
    Tensor *x = load_case(cs, NULL, "x"), *y = load_case(cs, NULL, "y");
    Tensor *losses = load_case(cs, NULL, "losses");
    CHECK(y->dtype == DT_I64 && x->shape.dim[0] == steps && x->shape.dim[1] == batch);

    const cJSON *oj = cJSON_GetObjectItemCaseSensitive(c, "optim");
    int kind = optim_find(jstr(oj, "name"));
    CHECK(kind >= 0);
    OptimConfig oc = optim_config_default((OptimKind)kind);
    oc.lr = jnum(oj, "lr", oc.lr);
    oc.momentum = jnum(oj, "momentum", oc.momentum);
    oc.weight_decay = jnum(oj, "weight_decay", oc.weight_decay);
    oc.beta1 = jnum(oj, "beta1", oc.beta1);
    oc.beta2 = jnum(oj, "beta2", oc.beta2);
    oc.eps = jnum(oj, "eps", oc.eps);
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(c, "loss");
    float weights[3];
    const cJSON *wj = cJSON_GetObjectItemCaseSensitive(lj, "class_weights");
    bool weighted = cJSON_IsArray(wj);
    for (int i = 0; weighted && i < 3; i++)
        weights[i] = (float)cJSON_GetArrayItem(wj, i)->valuedouble;
    double clip = jnum(c, "clip", 0.0);
    const cJSON *norms = cJSON_GetObjectItemCaseSensitive(c, "clip_norms");

    Run r;
    run_init(&r, &g);
    r.training = true;
    CHECK_OK(run_enable_grads(&r, false, &err), &err);
    const ParamList *p = run_params(&r);
    Optim o;
    CHECK_OK(optim_init(&o, (OptimKind)kind, &oc, p->numel, &err), &err);
    int64_t per = shape_span(&x->shape, 2, x->shape.ndim);
    float *dl = xmalloc((size_t)batch * 3 * sizeof *dl);
    double loss_rtol = jnum(c, "loss_rtol", 0);
    for (int s = 0; s < steps; s++) {
        Shape xs = shape_make(x->shape.ndim - 1, x->shape.dim + 1);
        Tensor xt = tensor_view(DT_F32, xs, tensor_f32(x) + s * batch * per);
        const Tensor *in[1] = { &xt };
        CHECK_OK(run_forward(&r, in, NULL, NULL, &err), &err);
        const Tensor *out = run_output(&r, 0);
        LossArgs la = { .logits = tensor_f32(out), .n = batch, .c = 3,
                        .labels = (const int64_t *)y->data + s * batch,
                        .class_weights = weighted ? weights : NULL,
                        .label_smoothing = (float)jnum(lj, "label_smoothing", 0) };
        double L;
        CHECK_OK(loss_compute(LOSS_CROSS_ENTROPY, &la, &L, dl, &err), &err);
        Tensor dt = tensor_view(DT_F32, out->shape, dl);
        const Tensor *dout[1] = { &dt };
        CHECK_OK(run_backward(&r, dout, &err), &err);
        if (clip > 0) {
            double n = optim_clip_grad_norm(p, clip);
            float got = (float)n, want = (float)cJSON_GetArrayItem(norms, s)->valuedouble;
            snprintf(label, sizeof label, "%s step %d gradient norm", cs, s + 1);
            expect_close(label, &got, &want, 1, 0, loss_rtol);
        }
        optim_step(&o, p, oc.lr);
        float got = (float)L;
        snprintf(label, sizeof label, "%s step %d loss", cs, s + 1);
        expect_close(label, &got, tensor_f32(losses) + s, 1, 0, loss_rtol);
    }
    /* final parameters and running statistics against torch's */
    double atol = jnum(c, "weight_atol", 0), rtol = jnum(c, "weight_rtol", 0);
    const char *lists[2] = { "params", "state" };
    for (int l = 0; l < 2; l++) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(c, lists[l])) {
            Tensor *want = load_case(cs, "final", it->valuestring);
            const Tensor *got = g.values[graph_find_value(&g, it->valuestring)].data;
            snprintf(label, sizeof label, "%s final %s", cs, it->valuestring);
            CHECK(tensor_numel(got) == tensor_numel(want));
            expect_close(label, tensor_f32(got), tensor_f32(want), (size_t)tensor_numel(want),
                         atol, rtol);
            tensor_free(want);
        }
    }
    free(dl);
    optim_release(&o);
    run_release(&r);
    tensor_free(x);
    tensor_free(y);
    tensor_free(losses);
    graph_release(&g);
}

static void test_fixtures(void)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    if (!CHECK_OK(fileio_read("tests/fixtures/train/manifest.json", &buf, &len, &err), &err))
        return;
    cJSON *m = cJSON_ParseWithLength(buf, len);
    free(buf);
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "cases")) {
        replay_case(c);
        n++;
    }
    CHECK(n == 5);
    cJSON_Delete(m);
}

/* ---- train_run on a synthetic problem ------------------------------------------------------
 * Three classes in 2-D: Gaussian blobs (sd 0.35) around points 2 apart on a circle, so a
 * small MLP separates them almost perfectly. */

static void make_blobs(Dataset *d, int64_t n, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    Rng r;
    rng_seed(&r, seed);
    d->x[0] = tensor_new(DT_F32, shape_of(2, n, (int64_t)2), NULL);
    d->n_x = 1;
    d->y = tensor_new(DT_I64, shape_of(1, n), NULL);
    float *x = tensor_f32(d->x[0]);
    int64_t *y = d->y->data;
    for (int64_t i = 0; i < n; i++) {
        /* unbalanced: class 0 is half the data, so auto weights have work to do */
        int c = i % 4 == 3 ? 2 : i % 4 == 1 ? 1 : 0;
        double a = 2.0943951023931953 * c;
        y[i] = c;
        x[2 * i] = (float)(1.2 * cos(a) + 0.35 * rng_normal(&r));
        x[2 * i + 1] = (float)(1.2 * sin(a) + 0.35 * rng_normal(&r));
    }
}

/* Dense 2->16, [BatchNorm,] Relu, Dense 16->3 with the builder's seeded init. */
static Model *make_mlp(uint64_t seed, bool bn)
{
    QsError err = { 0 };
    Model *m = model_new();
    Builder b;
    Shape s = shape_of(1, (int64_t)2);
    CHECK_OK(builder_begin(&b, m, "x", &s, seed, &err), &err);
    LayerSpec l1 = layer_spec_default("dense");
    l1.out = 16;
    CHECK_OK(builder_add(&b, &l1, &err), &err);
    if (bn) {
        LayerSpec lb = layer_spec_default("batchnorm");
        CHECK_OK(builder_add(&b, &lb, &err), &err);
    }
    LayerSpec lr = layer_spec_default("relu");
    CHECK_OK(builder_add(&b, &lr, &err), &err);
    LayerSpec l2 = layer_spec_default("dense");
    l2.out = 3;
    CHECK_OK(builder_add(&b, &l2, &err), &err);
    CHECK_OK(builder_finish(&b, &err), &err);
    return m;
}

/* Every constant of the model (parameters and BatchNorm statistics), packed. The arena
 * itself is not compared: its alignment padding is not part of any tensor. */
static size_t weights_bytes(const Model *m)
{
    size_t n = 0;
    for (int v = 0; v < m->graph.n_values; v++)
        if (m->graph.values[v].kind == VAL_CONST)
            n += tensor_bytes(m->graph.values[v].data);
    return n;
}

static void *weights_copy(const Model *m, void *dst)
{
    if (!dst)
        dst = xmalloc(weights_bytes(m));
    size_t off = 0;
    for (int v = 0; v < m->graph.n_values; v++)
        if (m->graph.values[v].kind == VAL_CONST) {
            const Tensor *t = m->graph.values[v].data;
            memcpy((char *)dst + off, t->data, tensor_bytes(t));
            off += tensor_bytes(t);
        }
    return dst;
}

/* True when m's constants equal the packed copy. */
static bool weights_match(const Model *m, const void *copy)
{
    void *now = weights_copy(m, NULL);
    bool same = memcmp(now, copy, weights_bytes(m)) == 0;
    free(now);
    return same;
}

typedef struct {
    int n;
    TrainEpoch e[64];
    Model *m;
    void *best_copy;       /* weights_copy at the last improving epoch */
    atomic_int *cancel;
    double cancel_at;      /* progress fraction at which to cancel; > 1: never */
} Trace;

static void on_epoch(void *user, const TrainEpoch *e)
{
    Trace *t = user;
    if (t->n < 64)
        t->e[t->n++] = *e;
    if (e->improved && t->best_copy)
        weights_copy(t->m, t->best_copy);
}

static void on_progress(void *user, double frac, const char *phase)
{
    Trace *t = user;
    (void)phase;
    if (frac >= t->cancel_at)
        atomic_store(t->cancel, 1);
}

static TrainConfig blob_config(void)
{
    TrainConfig c = train_config_default();
    c.epochs = 15;
    c.batch = 16;
    c.opt.lr = 0.02;
    c.seed = 7;
    return c;
}

static void test_learns(void)
{
    QsError err = { 0 };
    Dataset tr, va;
    make_blobs(&tr, 203, 1); /* 203 = 12 full batches + a partial one of 11 */
    make_blobs(&va, 90, 2);
    Model *m = make_mlp(11, false);
    TrainConfig c = blob_config();
    c.auto_class_weights = true;
    c.sched = SCHED_COSINE;
    Trace t = { .m = m };
    TrainSummary s;
    CHECK_OK(train_run(m, &tr, &va, TASK_CLASSIFY, &c, NULL, on_epoch, &t, &s, &err), &err);
    CHECK(t.n == 15 && s.epochs_run == 15 && !s.stopped_early);
    CHECK(s.steps == 15 * 13);
    CHECK(strcmp(s.metric, "accuracy") == 0 && s.higher_is_better);
    CHECK(s.n_params == 2 * 16 + 16 + 16 * 3 + 3);
    /* the loss falls well below its first epoch's and below chance (ln 3 = 1.1) */
    CHECK(t.e[14].train_loss < 0.5 * t.e[0].train_loss && t.e[14].train_loss < 0.2);
    CHECK(s.best_metric >= 0.95);
    CHECK(s.best_epoch >= 1 && t.e[s.best_epoch - 1].improved);
    /* cosine: epoch 1 at the base rate, the last at base (1 + cos(pi 14/15)) / 2 */
    CHECK(t.e[0].lr == 0.02 && fabs(t.e[14].lr - 0.01 * (1 + cos(M_PI * 14 / 15))) < 1e-15);
    for (int i = 0; i < t.n; i++)
        CHECK(t.e[i].epoch == i + 1 && t.e[i].seconds >= 0);

    /* the model holds the best epoch's weights: evaluating it gives best_metric */
    LabelMetrics lm;
    CHECK_OK(eval_labels(&m->graph, &va, 0, TASK_CLASSIFY, 64, NULL, &lm, &err), &err);
    CHECK(label_metrics_accuracy(&lm) == s.best_metric);
    label_metrics_release(&lm);

    /* auto weights: 1 / count, mean 1 over classes. Counts 102, 51, 50 for 203 samples. */
    float w[3];
    CHECK_OK(train_auto_class_weights(tr.y, 3, w, &err), &err);
    double inv = 1.0 / 102 + 1.0 / 51 + 1.0 / 50;
    float want[3] = { (float)(3.0 / 102 / inv), (float)(3.0 / 51 / inv), (float)(3.0 / 50 / inv) };
    expect_close("auto class weights", w, want, 3, 0, 1e-7);
    CHECK(fabs((w[0] + w[1] + w[2]) / 3.0 - 1.0) < 1e-6);
    model_free(m);
    dataset_release(&tr);
    dataset_release(&va);
}

static void test_deterministic(void)
{
    QsError err = { 0 };
    Dataset tr, va;
    make_blobs(&tr, 100, 3);
    make_blobs(&va, 40, 4);
    TrainConfig c = blob_config();
    c.epochs = 3;
    c.optim = OPTIM_SGD;
    c.opt = optim_config_default(OPTIM_SGD);
    c.opt.lr = 0.05;
    c.opt.momentum = 0.9;
    c.clip_norm = 1.0;
    Model *a = make_mlp(5, true), *b = make_mlp(5, true), *d = make_mlp(5, true);
    CHECK_OK(train_run(a, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err), &err);
    CHECK_OK(train_run(b, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err), &err);
    void *wa = weights_copy(a, NULL);
    CHECK(weights_match(b, wa));
    /* another shuffling seed gives other weights, so the comparison above means something */
    c.seed = 8;
    CHECK_OK(train_run(d, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err), &err);
    CHECK(!weights_match(d, wa));
    free(wa);
    model_free(a);
    model_free(b);
    model_free(d);
    dataset_release(&tr);
    dataset_release(&va);
}

static void test_patience(void)
{
    QsError err = { 0 };
    Dataset tr, va;
    make_blobs(&tr, 64, 5);
    make_blobs(&va, 40, 6);
    Model *m = make_mlp(9, false);
    TrainConfig c = blob_config();
    /* a rate so small that the validation accuracy cannot move after epoch 1 */
    c.opt.lr = 1e-12;
    c.epochs = 20;
    c.patience = 2;
    Trace t = { .m = m };
    TrainSummary s;
    CHECK_OK(train_run(m, &tr, &va, TASK_CLASSIFY, &c, NULL, on_epoch, &t, &s, &err), &err);
    CHECK(s.stopped_early && s.epochs_run == 3 && t.n == 3 && s.best_epoch == 1);
    CHECK(t.e[0].improved && !t.e[1].improved && !t.e[2].improved);
    model_free(m);

    /* without a validation split the train loss selects (lower is better) */
    m = make_mlp(9, false);
    c.opt.lr = 0.02;
    c.epochs = 4;
    c.patience = 0;
    CHECK_OK(train_run(m, &tr, NULL, TASK_CLASSIFY, &c, NULL, NULL, NULL, &s, &err), &err);
    CHECK(strcmp(s.metric, "train_loss") == 0 && !s.higher_is_better && s.epochs_run == 4);
    CHECK(s.best_metric <= s.last_train_loss);
    model_free(m);
    dataset_release(&tr);
    dataset_release(&va);
}

static void test_cancel(void)
{
    QsError err = { 0 };
    Dataset tr, va;
    make_blobs(&tr, 96, 7);
    make_blobs(&va, 40, 8);
    /* with BatchNorm: its running statistics change every step and must come back with
     * the best epoch's parameters */
    Model *m = make_mlp(3, true);
    atomic_int cancel = 0;
    Trace t = { .m = m, .best_copy = xmalloc(weights_bytes(m)), .cancel = &cancel,
                .cancel_at = 0.0 };
    JobCtx job = { .progress = on_progress, .user = &t, .cancel = &cancel };
    TrainConfig c = blob_config();
    c.epochs = 10;
    /* cancelled before the first batch: nothing changes */
    void *initial = weights_copy(m, NULL);
    atomic_store(&cancel, 1);
    TrainSummary s;
    expect_error("cancel at once", train_run(m, &tr, &va, TASK_CLASSIFY, &c, &job, on_epoch, &t,
                                             &s, &err),
                 &err, QS_ECANCELLED, "cancelled in epoch 1 of 10; kept the initial weights");
    CHECK(weights_match(m, initial) && s.best_epoch == 0);

    /* cancelled in the middle of epoch 4's training pass */
    atomic_store(&cancel, 0);
    t.cancel_at = 0.35;
    QsStatus st = train_run(m, &tr, &va, TASK_CLASSIFY, &c, &job, on_epoch, &t, &s, &err);
    expect_error("cancel in epoch 4", st, &err, QS_ECANCELLED, "training cancelled in epoch 4 of 10");
    CHECK(s.epochs_run == 3 && t.n == 3 && s.best_epoch >= 1);
    char want[64];
    snprintf(want, sizeof want, "kept the weights of epoch %d", s.best_epoch);
    CHECK(strstr(err.msg, want) != NULL);
    /* parameters AND BatchNorm running statistics are the best epoch's */
    CHECK(weights_match(m, t.best_copy));
    CHECK(!weights_match(m, initial));
    int vm = graph_find_value(&m->graph, "batchnorm2.mean");
    if (vm < 0)
        for (int v = 0; v < m->graph.n_values; v++)
            if (m->graph.values[v].kind == VAL_CONST && !m->graph.values[v].is_param)
                vm = v;
    CHECK(vm >= 0 && tensor_f32(m->graph.values[vm].data)[0] != 0.0f);
    free(t.best_copy);
    free(initial);
    model_free(m);
    dataset_release(&tr);
    dataset_release(&va);
}

static void test_errors(void)
{
    QsError err = { 0 };
    Dataset tr, va;
    make_blobs(&tr, 32, 9);
    make_blobs(&va, 16, 10);
    Model *m = make_mlp(1, false);
    void *initial = weights_copy(m, NULL);
    TrainConfig c = blob_config();
    c.epochs = 0;
    expect_error("epochs", train_run(m, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err),
                 &err, QS_EINVAL, "epochs=0");
    c = blob_config();
    c.loss = LOSS_MSE;
    expect_error("loss vs task", train_run(m, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err),
                 &err, QS_EINVAL, "loss mse does not fit task classify");
    c = blob_config();
    c.label_smoothing = 0.1f;
    ((int64_t *)va.y->data)[5] = 3;
    expect_error("val label", train_run(m, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err),
                 &err, QS_EINVAL, "validation split: sample 5 has label 3");
    ((int64_t *)va.y->data)[5] = 0;
    expect_error("task vs labels", train_run(m, &tr, &va, TASK_REGRESS, &c, NULL, NULL, NULL, NULL, &err),
                 &err, QS_EINVAL, "loss mse does not take label smoothing");
    c.label_smoothing = 0.0f;
    expect_error("regress on class labels",
                 train_run(m, &tr, &va, TASK_REGRESS, &c, NULL, NULL, NULL, NULL, &err), &err,
                 QS_ESHAPE, "task regress needs f32 targets");
    Dataset bad = tr;
    Tensor *x3 = tensor_new(DT_F32, shape_of(2, (int64_t)32, (int64_t)3), NULL);
    bad.x[0] = x3;
    bad.n_x = 1;
    expect_error("sample shape", train_run(m, &bad, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err),
                 &err, QS_ESHAPE, "train split's samples (1, 3) do not fit the model input 'x' (1, 2)");
    tensor_free(x3);
    float neg[3] = { 1, -1, 1 };
    c.class_weights = neg;
    c.n_class_weights = 2;
    expect_error("weight count", train_run(m, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err),
                 &err, QS_EINVAL, "2 class weights given; the model has 3 classes");
    c.n_class_weights = 3;
    expect_error("weights", train_run(m, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err),
                 &err, QS_EINVAL, "class weight 1 is -1");
    CHECK(weights_match(m, initial)); /* nothing trained */

    /* divergence: a huge rate blows the logits up; the initial weights come back */
    c = blob_config();
    c.optim = OPTIM_SGD;
    c.opt = optim_config_default(OPTIM_SGD);
    c.opt.lr = 1e30;
    c.epochs = 5;
    QsStatus st = train_run(m, &tr, &va, TASK_CLASSIFY, &c, NULL, NULL, NULL, NULL, &err);
    expect_error("diverged", st, &err, QS_EINVAL, "training diverged");
    CHECK(strstr(err.msg, "; kept the initial weights") != NULL);
    CHECK(weights_match(m, initial));
    free(initial);
    model_free(m);
    dataset_release(&tr);
    dataset_release(&va);
}

/* Regression and multi-label through the same loop. */
static void test_other_tasks(void)
{
    QsError err = { 0 };
    Dataset tr, va;
    make_blobs(&tr, 120, 11);
    make_blobs(&va, 40, 12);
    /* multilabel: bit c set for class c and, for class 0, bit 2 too */
    Dataset mtr = { 0 }, mva = { 0 };
    Dataset *src[2] = { &tr, &va }, *dst[2] = { &mtr, &mva };
    for (int k = 0; k < 2; k++) {
        int64_t n = dataset_len(src[k]);
        dst[k]->x[0] = tensor_clone(src[k]->x[0], NULL);
        dst[k]->n_x = 1;
        dst[k]->y = tensor_new(DT_F32, shape_of(2, n, (int64_t)3), NULL);
        for (int64_t i = 0; i < n; i++) {
            int64_t c = ((int64_t *)src[k]->y->data)[i];
            tensor_f32(dst[k]->y)[i * 3 + c] = 1.0f;
            if (c == 0)
                tensor_f32(dst[k]->y)[i * 3 + 2] = 1.0f;
        }
    }
    Model *m = make_mlp(2, false);
    TrainConfig c = blob_config();
    c.epochs = 10;
    TrainSummary s;
    CHECK_OK(train_run(m, &mtr, &mva, TASK_MULTILABEL, &c, NULL, NULL, NULL, &s, &err), &err);
    CHECK(strcmp(s.metric, "accuracy") == 0 && s.best_metric >= 0.9);
    model_free(m);

    /* regression on the same one-hot targets: MSE, lower is better */
    m = make_mlp(2, false);
    Trace t = { .m = m };
    CHECK_OK(train_run(m, &mtr, &mva, TASK_REGRESS, &c, NULL, on_epoch, &t, &s, &err), &err);
    CHECK(strcmp(s.metric, "mse") == 0 && !s.higher_is_better);
    CHECK(s.best_metric < 0.5 * t.e[0].val_metric || s.best_epoch == 1);
    CHECK(s.best_metric < 0.1);
    model_free(m);
    dataset_release(&mtr);
    dataset_release(&mva);
    dataset_release(&tr);
    dataset_release(&va);
}

int main(void)
{
    test_fixtures();
    test_learns();
    test_deterministic();
    test_patience();
    test_cancel();
    test_errors();
    test_other_tasks();
    return test_summary("train");
}
