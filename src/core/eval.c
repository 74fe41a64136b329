#include "eval.h"

#include <stdlib.h>

#include "run.h"

QsStatus eval_batches_with(const Executor *ex, const Tensor *x, int64_t n, int batch,
                           const JobCtx *job, EvalBatchFn fn, void *user, QsError *err)
{
    const Graph *g = ex->graph;
    if (batch < 1)
        return qs_fail(err, QS_EINVAL, "batch=%d: must be at least 1", batch);
    if (g->n_inputs != 1)
        return qs_fail(err, QS_EUNSUPPORTED, "the model has %d inputs; data splits feed one",
                       g->n_inputs);
    const Tensor **outs = xmalloc((size_t)g->n_outputs * sizeof *outs);
    QsStatus st = QS_OK;
    int64_t per_sample = shape_span(&x->shape, 1, x->shape.ndim);
    for (int64_t first = 0; first < n; first += batch) {
        if ((st = job_check(job, "evaluation", err)))
            break;
        int64_t b = n - first < batch ? n - first : batch;
        Shape s = x->shape;
        s.dim[0] = b;
        Tensor in = tensor_view(DT_F32, s, tensor_f32(x) + first * per_sample);
        const Tensor *inputs[1] = { &in };
        if ((st = ex->forward(ex->self, inputs, outs, NULL, NULL, err)))
            break;
        if ((st = fn(user, first, b, outs[0], err)))
            break;
        job_progress(job, (double)(first + b) / (double)n, "eval");
    }
    free(outs);
    return st;
}

QsStatus eval_batches(const Graph *g, const Tensor *x, int64_t n, int batch, const JobCtx *job,
                      EvalBatchFn fn, void *user, QsError *err)
{
    FloatExec *f;
    Executor ex = exec_float_new(g, &f);
    QsStatus st = eval_batches_with(&ex, x, n, batch, job, fn, user, err);
    exec_float_free(f);
    return st;
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
    const Tensor *y = c->d->y;
    if (y->dtype == DT_I64)
        return label_metrics_add(c->m, tensor_f32(out), n, (const int64_t *)y->data + first,
                                 NULL, first, err);
    return label_metrics_add(c->m, tensor_f32(out), n, NULL, tensor_f32(y) + first * width, first,
                             err);
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
    const Graph *g = ex->graph;
    if (!d->x)
        return qs_fail(err, QS_EINVAL, "the split holds no data");
    if (!d->y)
        return qs_fail(err, QS_EINVAL, "the split has no labels");
    int64_t len = dataset_len(d);
    if (n <= 0 || n > len)
        n = len;
    const Shape *os = &g->values[g->outputs[0]].shape;
    int64_t width = shape_span(os, 1, os->ndim);
    if (task == TASK_CLASSIFY && d->y->dtype != DT_I64)
        return qs_fail(err, QS_EINVAL, "task classify needs integer class labels, got %s targets",
                       dtype_name(d->y->dtype));
    if (task != TASK_CLASSIFY) {
        if (d->y->dtype != DT_F32 || shape_span(&d->y->shape, 1, d->y->shape.ndim) != width)
            return qs_fail(err, QS_ESHAPE, "task %s needs f32 targets with %lld values per sample",
                           task_name(task), (long long)width);
    }
    label_metrics_init(out, task, (int)width);
    ScoreCtx c = { .m = out, .d = d };
    QsStatus st = eval_batches_with(ex, d->x, n, batch, job, score_batch, &c, err);
    if (st)
        label_metrics_release(out);
    return st;
}
