#include "eval/score.h"

#include <string.h>
#include <time.h>

#include "eval/eval.h"

typedef struct {
    Score *s;
    const Dataset *d;
    const Tensor *ref;
    Tensor *collect;
} ScoreCtx;

static QsStatus score_batch(void *user, int64_t first, int64_t n, const Tensor *out,
                            QsError *err)
{
    ScoreCtx *c = user;
    int64_t C = shape_span(&out->shape, 1, out->shape.ndim);
    const float *o = tensor_f32(out);
    if (c->s->has_labels) {
        QsStatus st = eval_metrics_add(&c->s->labels, c->d, first, n, o, err);
        if (st)
            return st;
    }
    if (c->ref)
        compare_metrics_add(&c->s->vs_ref, tensor_f32(c->ref) + first * C, o, n, (int)C);
    if (c->collect)
        memcpy(tensor_f32(c->collect) + first * C, o, (size_t)(n * C) * sizeof(float));
    return QS_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

QsStatus score_run(const Executor *ex, const Dataset *d, int64_t n, TaskKind task, int batch,
                   const Tensor *ref, Tensor **collect, const JobCtx *job, Score *out,
                   QsError *err)
{
    memset(out, 0, sizeof *out);
    const Graph *g = ex->graph;
    int64_t len = dataset_len(d);
    if (n <= 0 || n > len)
        n = len;
    const Shape *os = &g->values[g->outputs[0]].shape;
    int64_t C = shape_span(os, 1, os->ndim);
    if (ref && (ref->shape.dim[0] < n || shape_span(&ref->shape, 1, ref->shape.ndim) != C))
        return qs_fail(err, QS_ESHAPE, "reference outputs do not match the model output");
    if (eval_check_inputs(g, d, err))
        return err->code;
    ScoreCtx c = { .s = out, .d = d, .ref = ref };
    if (collect) {
        c.collect = tensor_new(DT_F32, shape_of(2, n, C), err);
        if (!c.collect)
            return err->code;
    }
    if (d->y && eval_metrics_init(g, d, task, &out->labels, err)) {
        tensor_free(c.collect);
        return err->code;
    }
    out->n = n;
    out->has_labels = d->y != NULL;
    out->has_ref = ref != NULL;
    compare_metrics_init(&out->vs_ref);
    double t0 = now();
    QsStatus st = eval_batches_with(ex, d, n, batch, job, score_batch, &c, err);
    out->seconds = now() - t0;
    if (st) {
        tensor_free(c.collect);
        score_release(out);
        return st;
    }
    if (collect)
        *collect = c.collect;
    return QS_OK;
}

void score_release(Score *s)
{
    if (s->has_labels)
        label_metrics_release(&s->labels);
    s->has_labels = false;
}

QsStatus score_reference(const Graph *g, const Dataset *d, int64_t n, TaskKind task, int batch,
                         const JobCtx *job, double *metric, int64_t *samples, Tensor **ref,
                         QsError *err)
{
    FloatExec *f;
    Executor fx = exec_float_new(g, &f);
    Score sc;
    QsStatus st = score_run(&fx, d, n, task, batch, NULL, ref, job, &sc, err);
    exec_float_free(f);
    if (st)
        return st;
    *metric = score_metric(&sc);
    if (samples)
        *samples = sc.n;
    score_release(&sc);
    return QS_OK;
}

double score_metric(const Score *s)
{
    if (!s->has_labels)
        return 0.0 / 0.0;
    return label_metrics_headline(&s->labels);
}

const char *score_metric_name(TaskKind task) { return task_table[task].metric; }
