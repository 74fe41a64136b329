/* data, eval, run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_handlers.h"
#include "datafile.h"
#include "eval.h"
#include "fileio.h"
#include "npy.h"

static void sample_shape_str(const Tensor *x, char *buf, size_t cap)
{
    Shape s = shape_make(x->shape.ndim - 1, x->shape.dim + 1);
    shape_format(&s, buf, cap);
}

static void split_row(RTable *t, SplitId id, const Dataset *d)
{
    char buf[128];
    int row = rtable_add_row(t);
    rtable_str(t, row, 0, split_name(id));
    if (!d->x)
        return;
    rtable_int(t, row, 1, dataset_len(d));
    sample_shape_str(d->x, buf, sizeof buf);
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

/* Loads x (and labels: an explicit file, the npz member "y", or a CSV's last column). */
static QsStatus load_xy(const CmdArgs *a, const char *xspec, const char *yspec, Tensor **x,
                        Tensor **y, QsError *err)
{
    bool want_labels = strcmp(arg_str(a, "labels", "auto"), "none") != 0;
    *x = *y = NULL;
    Tensor *csv_y = NULL;
    if (datafile_load(xspec, "x", x, &csv_y, err))
        return err->code;
    if (!want_labels) {
        tensor_free(csv_y);
        return QS_OK;
    }
    if (yspec) {
        tensor_free(csv_y);
        if (datafile_load(yspec, "y", y, NULL, err)) {
            tensor_free(*x);
            *x = NULL;
            return err->code;
        }
    } else if (csv_y) {
        *y = csv_y;
    } else if (fileio_has_suffix(xspec, ".npz")) {
        QsError ignore = { 0 };
        if (datafile_load(xspec, "y", y, NULL, &ignore) && ignore.code != QS_ENOTFOUND) {
            tensor_free(*x);
            *x = NULL;
            *err = ignore;
            return err->code;
        }
    }
    return QS_OK;
}

CMD_HANDLER(cmd_data)
{
    Session *s = &app->session;
    if (a->n_pos == 0)
        return list_splits(s, r);
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
    float scale, mean, std;
    long n, skip;
    if (read_prep(a, &scale, &mean, &std, err) || arg_int_range(a, "n", 0, 0, 1L << 40, &n, err) ||
        arg_int_range(a, "skip", 0, 0, 1L << 40, &skip, err))
        return err->code;
    Tensor *x, *y;
    if (load_xy(a, a->pos[1], a->n_pos > 2 ? a->pos[2] : NULL, &x, &y, err))
        return err->code;
    Dataset tmp = { .x = x, .y = y };
    int64_t len = dataset_len(&tmp);
    if (skip >= len) {
        dataset_release(&tmp);
        return qs_fail(err, QS_EINVAL, "skip=%ld: the file holds %lld samples", skip,
                       (long long)len);
    }
    dataset_skip(&tmp, skip);
    if (n > 0 && n < dataset_len(&tmp))
        dataset_truncate(&tmp, n);
    QsStatus st = dataset_prepare_x(&tmp.x, scale, mean, std, err);
    if (!st && tmp.y)
        st = dataset_prepare_y(&tmp.y, dataset_len(&tmp), err);
    if (st) {
        dataset_release(&tmp);
        qs_error_prefix(err, "%s", a->pos[1]);
        return st;
    }
    if (session_set_split(s, (SplitId)id, tmp.x, tmp.y, a->pos[1], a->n_pos > 2 ? a->pos[2] : NULL,
                          err))
        return err->code;
    const Dataset *d = &s->splits[id];
    char buf[128];
    result_str(r, "split", split_name((SplitId)id));
    result_int(r, "samples", dataset_len(d));
    sample_shape_str(d->x, buf, sizeof buf);
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

CMD_HANDLER(cmd_eval)
{
    Session *s = &app->session;
    static const char *const tasks[] = { "classify", "multilabel", "regress", NULL };
    int split = split_find(arg_str(a, "split", "eval"));
    if (split < 0)
        return qs_fail(err, QS_EINVAL, "split=%s: expected calib, eval or train",
                       arg_str(a, "split", ""));
    const Dataset *d = &s->splits[split];
    if (!d->x)
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
    result_str(r, "task", task_name((TaskKind)task));
    result_int(r, "n", m.n);
    if (task == TASK_CLASSIFY || task == TASK_MULTILABEL)
        result_float(r, "accuracy", label_metrics_accuracy(&m), RS_PCT);
    if (task != TASK_CLASSIFY) {
        result_float(r, "mse", label_metrics_mse(&m), RS_PLAIN);
        result_float(r, "mae", label_metrics_mae(&m), RS_PLAIN);
    }
    if (task == TASK_CLASSIFY)
        add_class_tables(&m, r);
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

CMD_HANDLER(cmd_run)
{
    Session *s = &app->session;
    const Graph *g = &s->model->graph;
    float scale, mean, std;
    long i, n;
    if (read_prep(a, &scale, &mean, &std, err) || arg_int_range(a, "i", 0, 0, 1L << 40, &i, err) ||
        arg_int_range(a, "n", 0, 0, 1L << 40, &n, err))
        return err->code;
    Dataset d = { 0 };
    QsStatus st = datafile_load(a->pos[0], "x", &d.x, NULL, err);
    if (st)
        return st;
    if (n > 0 && n < dataset_len(&d))
        dataset_truncate(&d, n);
    if ((st = dataset_prepare_x(&d.x, scale, mean, std, err)) ||
        (st = session_check_split(s, &d, a->pos[0], err)))
        goto cleanup;
    int64_t len = dataset_len(&d);
    const char *out_path = arg_str(a, "out", NULL);
    Executor ex;
    FloatExec *owner = NULL;
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
        st = eval_batches_with(&ex, d.x, len, s->opt.batch, &app->job, collect_batch, &c, err);
        if (!st)
            st = npy_save(out_path, c.all, err);
        tensor_free(c.all);
        if (!st) {
            result_int(r, "samples", len);
            result_str(r, "out", out_path);
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
    Shape xs = d.x->shape;
    int64_t per_in = shape_span(&xs, 1, xs.ndim);
    xs.dim[0] = 1;
    Tensor sample = tensor_view(DT_F32, xs, tensor_f32(d.x) + i * per_in);
    st = eval_batches_with(&ex, &sample, 1, 1, NULL, collect_batch, &c, err);
    if (!st) {
        const float *v = tensor_f32(c.all);
        int64_t w = tensor_numel(c.all), best = 0;
        for (int64_t k = 1; k < w; k++)
            if (v[k] > v[best])
                best = k;
        result_int(r, "sample", i);
        result_int(r, "argmax", best);
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
