#include "eval/eval.h"

#include <stdlib.h>

#include "eval/walk.h"
#include "run/run.h"

QsStatus eval_check_inputs(const Graph *g, const Dataset *d, QsError *err)
{
    if (d->n_x == 0)
        return qs_fail(err, QS_EINVAL, "the split holds no data");
    if (d->n_x != g->n_inputs)
        return qs_fail(err, QS_EINVAL, "the model has %d input%s, the split holds %d",
                       g->n_inputs, g->n_inputs == 1 ? "" : "s", d->n_x);
    return QS_OK;
}

typedef struct {
    EvalBatchFn fn;
    void *user;
} EvalAdapter;

static QsStatus eval_walk_batch(void *user, WalkBatch *b, QsError *err)
{
    EvalAdapter *a = user;
    return a->fn(a->user, b->first, b->n, b->out[0], err);
}

QsStatus eval_batches_with(const Executor *ex, const Dataset *d, int64_t n, int batch,
                           const JobCtx *job, EvalBatchFn fn, void *user, QsError *err)
{
    EvalAdapter a = { fn, user };
    Walk w = { .ex = ex, .batch = eval_walk_batch, .user = &a, .job = job,
               .what = "evaluation", .phase = "eval" };
    return walk_split(&w, d, n, batch, err);
}

QsStatus eval_batches(const Graph *g, const Dataset *d, int64_t n, int batch, const JobCtx *job,
                      EvalBatchFn fn, void *user, QsError *err)
{
    FloatExec *f;
    Executor ex = exec_float_new(g, &f);
    QsStatus st = eval_batches_with(&ex, d, n, batch, job, fn, user, err);
    exec_float_free(f);
    return st;
}

QsStatus eval_metrics_init(const Graph *g, const Dataset *d, TaskKind task, LabelMetrics *m,
                           QsError *err)
{
    const TaskDef *t = &task_table[task];
    const Shape *os = &g->values[g->outputs[0]].shape;
    int64_t width = shape_span(os, 1, os->ndim);
    if (!d->y)
        return qs_fail(err, QS_EINVAL, "the split has no labels");
    if (t->class_labels && d->y->dtype != DT_I64)
        return qs_fail(err, QS_EINVAL, "task %s needs integer class labels, got %s targets",
                       t->name, dtype_name(d->y->dtype));
    if (!t->class_labels &&
        (d->y->dtype != DT_F32 || shape_span(&d->y->shape, 1, d->y->shape.ndim) != width))
        return qs_fail(err, QS_ESHAPE, "task %s needs f32 targets with %lld values per sample",
                       t->name, (long long)width);
    if (t->needs_aux && !d->aux)
        return qs_fail(err, QS_EINVAL, "task %s needs the split's task extras (%s), which "
                       "only its generator or an npz member 'aux' provides", t->name,
                       task == TASK_DETECT ? "object lists" : "unsafe-action masks");
    if (width > INT32_MAX)
        return qs_fail(err, QS_ESHAPE, "output width %lld is too large", (long long)width);
    label_metrics_init(m, task, (int)width);
    if (task == TASK_DETECT) {
        const Shape *is = &g->values[g->inputs[0]].shape;
        if (os->ndim != 4 || os->dim[1] != 1 || is->ndim != 4) {
            label_metrics_release(m);
            return qs_fail(err, QS_ESHAPE, "task detect needs an image input (N, C, H, W) and "
                           "a one-channel heat map output (N, 1, H', W')");
        }
        DetectCfg cfg = detect_cfg_default((int)os->dim[2], (int)os->dim[3], (int)is->dim[3]);
        label_metrics_set_detect(m, &cfg);
    }
    return QS_OK;
}

QsStatus eval_metrics_add(LabelMetrics *m, const Dataset *d, int64_t first, int64_t n,
                          const float *out, QsError *err)
{
    const Tensor *y = d->y;
    int64_t C = m->n_classes;
    QsStatus st = y->dtype == DT_I64
                      ? label_metrics_add(m, out, n, (const int64_t *)y->data + first, NULL, first, err)
                      : label_metrics_add(m, out, n, NULL, tensor_f32(y) + first * C, first, err);
    if (st || !task_table[m->task].needs_aux)
        return st;
    int64_t aw = shape_span(&d->aux->shape, 1, d->aux->shape.ndim);
    return label_metrics_add_aux(m, out, n, tensor_f32(d->aux) + first * aw, aw, err);
}

typedef struct {
    LabelMetrics *m;
    const Dataset *d;
} ScoreCtx;

static QsStatus score_batch(void *user, int64_t first, int64_t n, const Tensor *out,
                            QsError *err)
{
    ScoreCtx *c = user;
    int64_t width = shape_span(&out->shape, 1, out->shape.ndim);
    if (width != c->m->n_classes)
        return qs_fail(err, QS_ESHAPE, "output width changed from %d to %lld", c->m->n_classes,
                       (long long)width);
    return eval_metrics_add(c->m, c->d, first, n, tensor_f32(out), err);
}

QsStatus eval_labels(const Graph *g, const Dataset *d, int64_t n, TaskKind task, int batch,
                     const JobCtx *job, LabelMetrics *out, QsError *err)
{
    FloatExec *f;
    Executor ex = exec_float_new(g, &f);
    QsStatus st = eval_labels_with(&ex, d, n, task, batch, job, out, err);
    exec_float_free(f);
    return st;
}

QsStatus eval_labels_with(const Executor *ex, const Dataset *d, int64_t n, TaskKind task,
                          int batch, const JobCtx *job, LabelMetrics *out, QsError *err)
{
    if (eval_check_inputs(ex->graph, d, err))
        return err->code;
    int64_t len = dataset_len(d);
    if (n <= 0 || n > len)
        n = len;
    if (eval_metrics_init(ex->graph, d, task, out, err))
        return err->code;
    ScoreCtx c = { .m = out, .d = d };
    QsStatus st = eval_batches_with(ex, d, n, batch, job, score_batch, &c, err);
    if (st)
        label_metrics_release(out);
    return st;
}
