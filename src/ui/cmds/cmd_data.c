/* data, eval, run. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "arrays/datafile.h"
#include "eval/eval.h"
#include "io/fileio.h"
#include "arrays/npy.h"
#include "data/synth.h"

/* Per-sample shapes of every input: "(1, 28, 28)" or "(8, 6) + (4)". */
static void sample_shape_str(const Dataset *d, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < d->n_x && used + 4 < cap; k++) {
        Shape s = shape_make(d->x[k]->shape.ndim - 1, d->x[k]->shape.dim + 1);
        if (k)
            used += (size_t)snprintf(buf + used, cap - used, " + ");
        shape_format(&s, buf + used, cap - used);
        used = strlen(buf);
    }
}

static void split_row(RTable *t, SplitId id, const Dataset *d)
{
    char buf[128];
    int row = rtable_add_row(t);
    rtable_str(t, row, 0, split_name(id));
    if (d->n_x == 0)
        return;
    rtable_int(t, row, 1, dataset_len(d));
    sample_shape_str(d, buf, sizeof buf);
    rtable_str(t, row, 2, buf);
    rtable_str(t, row, 3, d->y ? dtype_name(d->y->dtype) : "none");
    rtable_str(t, row, 4, d->x_path);
}

static QsStatus list_splits(const Session *s, Result *r)
{
    static const char *const cols[] = { "split", "samples", "sample_shape", "labels", "path",
                                        NULL };
    RTable *t = result_table(r, "splits", cols);
    for (int i = 0; i < SPLIT_COUNT; i++)
        split_row(t, (SplitId)i, &s->splits[i]);
    return QS_OK;
}

/* Reads the preprocessing options shared by data and run. */
static QsStatus read_prep(const CmdArgs *a, float *scale, float *mean, float *std, QsError *err)
{
    double v[3];
    if (arg_float(a, "scale", 1.0, &v[0], err) || arg_float(a, "mean", 0.0, &v[1], err) ||
        arg_float(a, "std", 1.0, &v[2], err))
        return err->code;
    if (v[2] == 0.0)
        return qs_fail(err, QS_EINVAL, "std=0: must not be zero");
    *scale = (float)v[0];
    *mean = (float)v[1];
    *std = (float)v[2];
    return QS_OK;
}

/* Input k from spec: in memory, or (a large uncompressed file) read batch by batch from
 * the file. */
static QsStatus load_input(const char *spec, Dataset *d, int k, Tensor **csv_y, QsError *err)
{
    DataSource src;
    if (datafile_open(spec, "x", &d->x[k], csv_y, &src, err))
        return err->code;
    if (src.read)
        dataset_adopt_source(d, k, src);
    d->n_x = k + 1;
    return QS_OK;
}

/* The npz members holding the inputs: "x" for a one-input model, else the model's input
 * names. */
static QsStatus load_inputs(const Session *s, const char *xspec, Dataset *d, Tensor **csv_y,
                            QsError *err)
{
    const Graph *g = s->model ? &s->model->graph : NULL;
    if (!g || g->n_inputs <= 1)
        return load_input(xspec, d, 0, csv_y, err);
    if (!fileio_has_suffix(xspec, ".npz"))
        return qs_fail(err, QS_EINVAL, "the model has %d inputs: give an .npz with one member "
                       "per input name", g->n_inputs);
    if (g->n_inputs > DATA_MAX_INPUTS)
        return qs_fail(err, QS_EUNSUPPORTED, "the model has %d inputs; a split holds at most %d",
                       g->n_inputs, DATA_MAX_INPUTS);
    for (int k = 0; k < g->n_inputs; k++) {
        char spec[1024];
        snprintf(spec, sizeof spec, "%s:%s", xspec, g->values[g->inputs[k]].name);
        if (load_input(spec, d, k, NULL, err))
            return err->code;
    }
    return QS_OK;
}

/* An npz member that may be missing: *out stays NULL then. */
static QsStatus load_optional(const char *path, const char *member, Tensor **out, QsError *err)
{
    QsError e = { 0 };
    if (datafile_load(path, member, out, NULL, &e) && e.code != QS_ENOTFOUND) {
        *err = e;
        return err->code;
    }
    return QS_OK;
}

/* Inputs (and labels: an explicit file, the npz member "y", or a CSV's last column; task
 * extras: the npz member "aux"). */
static QsStatus load_files(const Session *s, const CmdArgs *a, Dataset *d, QsError *err)
{
    const char *xspec = a->pos[1], *yspec = a->n_pos > 2 ? a->pos[2] : NULL;
    bool want_labels = strcmp(arg_str(a, "labels", "auto"), "none") != 0;
    Tensor *csv_y = NULL;
    QsStatus st = load_inputs(s, xspec, d, &csv_y, err);
    if (!st && want_labels) {
        if (yspec)
            st = datafile_load(yspec, "y", &d->y, NULL, err);
        else if (csv_y)
            d->y = csv_y, csv_y = NULL;
        else if (fileio_has_suffix(xspec, ".npz"))
            st = load_optional(xspec, "y", &d->y, err);
    }
    if (!st && fileio_has_suffix(xspec, ".npz"))
        st = load_optional(xspec, "aux", &d->aux, err);
    tensor_free(csv_y);
    d->x_path = xstrdup(xspec);
    d->y_path = yspec ? xstrdup(yspec) : NULL;
    return st;
}

/* `data SPLIT synth:NAME [seed=S] [knob=value ..]`: knobs go to the generator, the rest
 * must be data's own options. */
static QsStatus load_synth(const Session *s, const CmdArgs *a, const char *name, long n_want,
                           Dataset *d, QsError *err)
{
    const SynthDef *def = synth_find(name);
    if (!def) {
        char names[128] = "";
        for (const SynthDef *g = synth_table; g->name; g++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     g == synth_table ? "" : ", ", g->name);
        return qs_fail(err, QS_EINVAL, "data: no generator '%s' (synth: %s)", name, names);
    }
    long seed;
    if (arg_int_range(a, "seed", s->opt.seed, 0, LONG_MAX, &seed, err))
        return err->code;
    SynthArgs sa;
    synth_args_init(def, &sa, n_want > 0 ? n_want : 1000, (uint64_t)seed);
    CmdArgs rest = *a;
    rest.n_kv = 0;
    char *keys[64], *vals[64];
    rest.keys = keys;
    rest.vals = vals;
    for (int k = 0; k < a->n_kv && k < 64; k++) {
        bool knob = false;
        for (const SynthKnob *kn = def->knobs; kn->name; kn++)
            knob |= strcmp(kn->name, a->keys[k]) == 0;
        if (!knob) {
            keys[rest.n_kv] = a->keys[k];
            vals[rest.n_kv++] = a->vals[k];
            continue;
        }
        double v;
        if (arg_float(a, a->keys[k], 0.0, &v, err) || synth_args_set(def, &sa, a->keys[k], v, err))
            return err->code;
    }
    if (cmd_check_options(cmd_find("data"), &rest, err)) {
        char knobs[160] = "";
        for (const SynthKnob *kn = def->knobs; kn->name; kn++)
            snprintf(knobs + strlen(knobs), sizeof knobs - strlen(knobs), "%s%s",
                     kn == def->knobs ? "" : ", ", kn->name);
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return qs_fail(err, QS_EINVAL, "%.300s; knobs of %s: %s", msg, def->name,
                       knobs[0] ? knobs : "none");
    }
    if (def->make(&sa, d, err))
        return err->code;
    char path[160];
    snprintf(path, sizeof path, "synth:%s seed=%ld", name, seed);
    d->x_path = xstrdup(path);
    return QS_OK;
}

static QsStatus load_split(const Session *s, const CmdArgs *a, long n, Dataset *d, QsError *err)
{
    if (strncmp(a->pos[1], "synth:", 6) == 0) {
        if (a->n_pos > 2)
            return qs_fail(err, QS_EINVAL, "data: a generator makes its own labels; drop '%s'",
                           a->pos[2]);
        return load_synth(s, a, a->pos[1] + 6, n, d, err);
    }
    if (cmd_check_options(cmd_find("data"), a, err))
        return err->code;
    if (arg_str(a, "seed", NULL))
        return qs_fail(err, QS_EINVAL, "data: seed= is for synth: generators");
    return load_files(s, a, d, err);
}

QsStatus cmd_data(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    if (a->n_pos == 0)
        return cmd_check_options(cmd_find("data"), a, err) ? err->code : list_splits(s, r);
    int id = split_find(a->pos[0]);
    if (id < 0)
        return qs_fail(err, QS_EINVAL, "data: unknown split '%s' (calib, eval or train)",
                       a->pos[0]);
    if (a->n_pos == 1) {
        static const char *const cols[] = { "split", "samples", "sample_shape", "labels", "path",
                                            NULL };
        split_row(result_table(r, "splits", cols), (SplitId)id, &s->splits[id]);
        return QS_OK;
    }
    float scale = 1.0f, mean = 0.0f, std = 1.0f;
    long n, skip;
    if (read_prep(a, &scale, &mean, &std, err) || arg_int_range(a, "n", 0, 0, 1L << 40, &n, err) ||
        arg_int_range(a, "skip", 0, 0, 1L << 40, &skip, err))
        return err->code;
    Dataset tmp = { 0 };
    /* a generator makes exactly what is kept after skip */
    QsStatus st = load_split(s, a, n > 0 ? n + skip : 0, &tmp, err);
    if (!st && (st = dataset_check(&tmp, err)) == QS_OK && skip >= dataset_len(&tmp))
        st = qs_fail(err, QS_EINVAL, "skip=%ld: the source holds %lld samples", skip,
                     (long long)dataset_len(&tmp));
    if (!st) {
        dataset_skip(&tmp, skip);
        if (n > 0 && n < dataset_len(&tmp))
            dataset_truncate(&tmp, n);
        for (int k = 0; k < tmp.n_x && !st; k++)
            st = dataset_prepare_input(&tmp, k, scale, mean, std, err);
        if (!st && tmp.y)
            st = dataset_prepare_y(&tmp.y, dataset_len(&tmp), err);
        if (!st && tmp.aux)
            st = dataset_prepare_x(&tmp.aux, 1.0f, 0.0f, 1.0f, err);
        if (st)
            qs_error_prefix(err, "%s", a->pos[1]);
    }
    if (st) {
        dataset_release(&tmp);
        return st;
    }
    if (session_set_split(s, (SplitId)id, &tmp, err))
        return err->code;
    const Dataset *d = &s->splits[id];
    char buf[128];
    result_str(r, "split", split_name((SplitId)id));
    result_int(r, "samples", dataset_len(d));
    sample_shape_str(d, buf, sizeof buf);
    result_str(r, "sample_shape", buf);
    result_str(r, "labels", d->y ? dtype_name(d->y->dtype) : "none");
    return QS_OK;
}

static void add_class_tables(const LabelMetrics *m, Result *r)
{
    static const char *const cols[] = { "class", "precision", "recall", "support", NULL };
    RTable *t = result_table(r, "per_class", cols);
    int C = m->n_classes;
    for (int c = 0; c < C; c++) {
        int64_t support = 0;
        for (int p = 0; p < C; p++)
            support += m->confusion[(size_t)c * (size_t)C + (size_t)p];
        int row = rtable_add_row(t);
        rtable_int(t, row, 0, c);
        rtable_float(t, row, 1, label_metrics_precision(m, c), RS_FIXED4);
        rtable_float(t, row, 2, label_metrics_recall(m, c), RS_FIXED4);
        rtable_int(t, row, 3, support);
    }
    /* A confusion matrix wider than a screen helps no one in text; JSON still has the
     * per-class table and `eval` is scriptable. */
    if (C > 20)
        return;
    const char *ccols[22];
    char names[21][12];
    ccols[0] = "true";
    for (int c = 0; c < C; c++) {
        snprintf(names[c], sizeof names[c], "p%d", c);
        ccols[c + 1] = names[c];
    }
    ccols[C + 1] = NULL;
    RTable *cm = result_table(r, "confusion", ccols);
    for (int c = 0; c < C; c++) {
        int row = rtable_add_row(cm);
        rtable_int(cm, row, 0, c);
        for (int p = 0; p < C; p++)
            rtable_int(cm, row, p + 1, m->confusion[(size_t)c * (size_t)C + (size_t)p]);
    }
}

/* When the model names its classes (metadata "labels": "fall,walk,..."), each class's
 * recall and precision as figures too (recall_fall, precision_fall), so that scripts can
 * check and keep them; unnamed models get none (their output stays as it was). */
static void add_named_classes(const Model *model, const LabelMetrics *m, Result *r)
{
    const char *names = model ? model_meta_get(model, "labels") : NULL;
    for (int c = 0; names && *names && c < m->n_classes; c++) {
        const char *name = names;
        int len = (int)strcspn(names, ",");
        names += len + (names[len] == ',');
        len = len < 40 ? len : 40;
        char key[64];
        snprintf(key, sizeof key, "recall_%.*s", len, name);
        if (result_get(r, key))
            continue; /* a name given twice (or alike in 40 bytes): per_class has both */
        result_float(r, key, label_metrics_recall(m, c), RS_FIXED4);
        snprintf(key, sizeof key, "precision_%.*s", len, name);
        result_float(r, key, label_metrics_precision(m, c), RS_FIXED4);
    }
}

/* The figures of each task; the headline (task_table[].metric) comes first. */
static void add_task_figures(const Model *model, const LabelMetrics *m, Result *r)
{
    switch (m->task) {
    case TASK_CLASSIFY:
        result_float(r, "accuracy", label_metrics_accuracy(m), RS_PCT);
        add_named_classes(model, m, r);
        add_class_tables(m, r);
        break;
    case TASK_POLICY:
        result_float(r, "success", label_metrics_accuracy(m), RS_PCT);
        result_float(r, "collision", label_metrics_collision(m), RS_PCT);
        add_named_classes(model, m, r);
        add_class_tables(m, r);
        break;
    case TASK_DETECT: {
        /* "_all", not bare: the result's "precision" is the plan already */
        static const char *const names[3] = { "_all", "_small", "_large" };
        result_float(r, "f1", detect_f1(&m->det, -1), RS_PCT);
        for (int c = -1; c <= DET_LARGE; c++) {
            char key[32];
            snprintf(key, sizeof key, "recall%s", names[c + 1]);
            result_float(r, key, detect_recall(&m->det, c), RS_PCT);
            snprintf(key, sizeof key, "precision%s", names[c + 1]);
            result_float(r, key, detect_precision(&m->det, c), RS_PCT);
        }
        result_int(r, "objects_small", m->det.tp[DET_SMALL] + m->det.fn[DET_SMALL]);
        result_int(r, "objects_large", m->det.tp[DET_LARGE] + m->det.fn[DET_LARGE]);
        break;
    }
    case TASK_MULTILABEL:
        result_float(r, "accuracy", label_metrics_accuracy(m), RS_PCT);
        /* and the MSE/MAE of the probabilities */
        __attribute__((fallthrough));
    default:
        result_float(r, "mse", label_metrics_mse(m), RS_PLAIN);
        result_float(r, "mae", label_metrics_mae(m), RS_PLAIN);
        break;
    }
}

QsStatus cmd_eval(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    static const char *tasks[TASK_COUNT + 1];
    for (int t = 0; t < TASK_COUNT; t++)
        tasks[t] = task_table[t].name;
    int split = split_find(arg_str(a, "split", "eval"));
    if (split < 0)
        return qs_fail(err, QS_EINVAL, "split=%s: expected calib, eval or train",
                       arg_str(a, "split", ""));
    const Dataset *d = &s->splits[split];
    if (d->n_x == 0)
        return qs_fail(err, QS_EINVAL, "eval: split '%s' is empty (use 'data %s X [Y]')",
                       split_name((SplitId)split), split_name((SplitId)split));
    long n, batch;
    int task;
    if (arg_int_range(a, "n", 0, 0, 1L << 40, &n, err) ||
        arg_int_range(a, "batch", s->opt.batch, 1, 1 << 20, &batch, err) ||
        arg_choice(a, "task", tasks, (int)session_task(s, d), &task, err))
        return err->code;
    LabelMetrics m;
    Executor ex;
    FloatExec *owner;
    if (qstate_executor(&s->q, s->model, &s->q.plan, NULL, &ex, &owner, err))
        return err->code;
    QsStatus st = eval_labels_with(&ex, d, n, (TaskKind)task, (int)batch, &app->job, &m, err);
    exec_float_free(owner);
    if (st)
        return st;
    result_str(r, "split", split_name((SplitId)split));
    result_str(r, "precision", plan_label(&s->q.plan));
    result_plan_target(r, &s->q.plan);
    result_str(r, "task", task_name((TaskKind)task));
    result_int(r, "n", m.n);
    add_task_figures(qstate_model(&s->q, s->model), &m, r);
    label_metrics_release(&m);
    return QS_OK;
}

typedef struct {
    Tensor *all; /* (n, ...) outputs of every sample run */
} CollectCtx;

static QsStatus collect_batch(void *user, int64_t first, int64_t n, const Tensor *out,
                              QsError *err)
{
    CollectCtx *c = user;
    size_t per = (size_t)shape_span(&out->shape, 1, out->shape.ndim);
    memcpy(tensor_f32(c->all) + (size_t)first * per, tensor_f32(out),
           (size_t)n * per * sizeof(float));
    (void)err;
    return QS_OK;
}

QsStatus cmd_run(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const Graph *g = &s->model->graph;
    float scale = 1.0f, mean = 0.0f, std = 1.0f;
    long i, n;
    if (read_prep(a, &scale, &mean, &std, err) || arg_int_range(a, "i", 0, 0, 1L << 40, &i, err) ||
        arg_int_range(a, "n", 0, 0, 1L << 40, &n, err))
        return err->code;
    Dataset d = { 0 };
    FloatExec *owner = NULL;
    Tensor *ignore = NULL;
    QsStatus st = load_inputs(s, a->pos[0], &d, &ignore, err);
    tensor_free(ignore);
    if (st || (st = dataset_check(&d, err)))
        goto cleanup;
    if (n > 0 && n < dataset_len(&d))
        dataset_truncate(&d, n);
    for (int k = 0; k < d.n_x && !st; k++)
        st = dataset_prepare_input(&d, k, scale, mean, std, err);
    if (st || (st = session_check_split(s, &d, a->pos[0], err)))
        goto cleanup;
    int64_t len = dataset_len(&d);
    const char *out_path = arg_str(a, "out", NULL);
    Executor ex;
    if ((st = qstate_executor(&s->q, s->model, &s->q.plan, NULL, &ex, &owner, err)))
        goto cleanup;
    const Shape *os = &g->values[g->outputs[0]].shape;
    if (out_path) {
        Shape all = *os;
        all.dim[0] = len;
        CollectCtx c = { .all = tensor_new(DT_F32, all, err) };
        if (!c.all) {
            st = err->code;
            goto cleanup;
        }
        st = eval_batches_with(&ex, &d, len, s->opt.batch, &app->job, collect_batch, &c, err);
        if (!st)
            st = npy_save(out_path, c.all, err);
        tensor_free(c.all);
        if (!st) {
            result_int(r, "samples", len);
            result_str(r, "out", out_path);
            result_plan_target(r, &s->q.plan);
        }
        goto cleanup;
    }
    if (i >= len) {
        st = qs_fail(err, QS_EINVAL, "i=%ld: the file holds %lld samples", i, (long long)len);
        goto cleanup;
    }
    Shape one = *os;
    one.dim[0] = 1;
    CollectCtx c = { .all = tensor_new(DT_F32, one, err) };
    if (!c.all) {
        st = err->code;
        goto cleanup;
    }
    dataset_skip(&d, i);
    st = eval_batches_with(&ex, &d, 1, 1, NULL, collect_batch, &c, err);
    if (!st) {
        const float *v = tensor_f32(c.all);
        int64_t w = tensor_numel(c.all), best = 0;
        for (int64_t k = 1; k < w; k++)
            if (v[k] > v[best])
                best = k;
        result_int(r, "sample", i);
        result_int(r, "argmax", best);
        result_plan_target(r, &s->q.plan);
        static const char *const cols[] = { "index", "value", NULL };
        RTable *t = result_table(r, "outputs", cols);
        for (int64_t k = 0; k < w; k++) {
            int row = rtable_add_row(t);
            rtable_int(t, row, 0, k);
            rtable_float(t, row, 1, v[k], RS_PLAIN);
        }
    }
    tensor_free(c.all);
cleanup:
    exec_float_free(owner);
    dataset_release(&d);
    return st;
}
