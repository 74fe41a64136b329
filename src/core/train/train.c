/* The pieces of the training loops (train.h): shuffling, data checks, class weights,
 * batches; rules and formulas in docs/training.md. The float loop is train_run.c. */
#include "train/train.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/eval.h"
#include "base/rng.h"
#include "run/run.h"

/* Fisher-Yates: perm = identity, then for i = n-1 down to 1 swap perm[i] with
 * perm[rng_below(i + 1)]; rng.h's stream is the same on every machine, so is the order. */
void train_shuffle(Rng *r, int64_t *perm, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* ---- configuration and data checks -------------------------------------------------------- */

TrainConfig train_config_default(void)
{
    TrainConfig c;
    memset(&c, 0, sizeof c);
    c.epochs = 10;
    c.batch = 32;
    c.loss = -1;
    c.optim = OPTIM_ADAM;
    c.opt = optim_config_default(OPTIM_ADAM);
    c.sched = SCHED_CONSTANT;
    c.step_size = 10;
    c.gamma = 0.1;
    c.shuffle = true;
    return c;
}

QsStatus train_auto_class_weights(const Tensor *labels, int n_classes, float *w, QsError *err)
{
    if (labels->dtype != DT_I64)
        return qs_fail(err, QS_EINVAL, "class_weights=auto needs integer class labels, got %s",
                       dtype_name(labels->dtype));
    int64_t *count = xcalloc((size_t)n_classes, sizeof *count);
    const int64_t *y = labels->data;
    int64_t n = tensor_numel(labels);
    for (int64_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= n_classes) {
            free(count);
            return qs_fail(err, QS_EINVAL, "sample %lld: label %lld out of range [0, %d)",
                           (long long)i, (long long)y[i], n_classes);
        }
        count[y[i]]++;
    }
    double inv_sum = 0.0;
    int present = 0;
    for (int c = 0; c < n_classes; c++)
        if (count[c]) {
            inv_sum += 1.0 / (double)count[c];
            present++;
        }
    for (int c = 0; c < n_classes; c++)
        w[c] = count[c] ? (float)((double)present / (double)count[c] / inv_sum) : 1.0f;
    free(count);
    return QS_OK;
}

/* The split fits the model and the loss: sample shape, label kind and count, label range
 * (class indices) or target values (bce_logits: [0, 1]; others: finite). */
QsStatus train_check_split(const Graph *g, const Dataset *d, const char *name, TaskKind task,
                           int C, const LossDef *loss, QsError *err)
{
    char a[96], b[96];
    int64_t n = dataset_len(d);
    if (d->n_x == 0 || n < 1)
        return qs_fail(err, QS_EINVAL, "the %s split holds no data", name);
    if (d->n_x != g->n_inputs)
        return qs_fail(err, QS_EINVAL, "the model has %d inputs, the %s split holds %d",
                       g->n_inputs, name, d->n_x);
    for (int k = 0; k < d->n_x; k++) {
        const Shape *in = &g->values[g->inputs[k]].shape, *xs = &d->x[k]->shape;
        bool same = d->x[k]->dtype == DT_F32 && in->ndim == xs->ndim;
        for (int i = 1; same && i < in->ndim; i++)
            same = in->dim[i] == xs->dim[i];
        if (!same) {
            Shape sx = *xs, si = *in;
            sx.dim[0] = si.dim[0] = 1;
            return qs_fail(err, QS_ESHAPE, "the %s split's samples %s do not fit the model input '%s' %s (batch shown as 1)",
                           name, shape_format(&sx, a, sizeof a),
                           g->values[g->inputs[k]].name, shape_format(&si, b, sizeof b));
        }
    }
    const Tensor *y = d->y;
    if (!y)
        return qs_fail(err, QS_EINVAL, "the %s split has no labels", name);
    if (y->shape.ndim < 1 || y->shape.dim[0] != n)
        return qs_fail(err, QS_ESHAPE, "the %s split has %lld samples but labels %s", name,
                       (long long)n, shape_format(&y->shape, a, sizeof a));
    if (task_table[task].class_labels) {
        if (y->dtype != DT_I64 || y->shape.ndim != 1)
            return qs_fail(err, QS_EINVAL, "task %s needs (N,) integer class labels; the %s split has %s %s",
                           task_name(task), name, dtype_name(y->dtype), shape_format(&y->shape, a, sizeof a));
        const int64_t *lab = y->data;
        for (int64_t i = 0; i < n; i++)
            if (lab[i] < 0 || lab[i] >= C)
                return qs_fail(err, QS_EINVAL, "the %s split: sample %lld has label %lld, outside [0, %d)",
                               name, (long long)i, (long long)lab[i], C);
        return QS_OK;
    }
    if (y->dtype != DT_F32 || shape_span(&y->shape, 1, y->shape.ndim) != C)
        return qs_fail(err, QS_ESHAPE, "task %s needs f32 targets with %d values per sample; the %s split has %s %s",
                       task_name(task), C, name, dtype_name(y->dtype),
                       shape_format(&y->shape, a, sizeof a));
    const float *t = y->data;
    bool unit = loss == &loss_table[LOSS_BCE_LOGITS];
    for (int64_t k = 0; k < n * C; k++)
        if (unit ? !(t[k] >= 0.0f && t[k] <= 1.0f) : !isfinite(t[k]))
            return qs_fail(err, QS_EINVAL, "the %s split: sample %lld target %lld is %g, %s", name,
                           (long long)(k / C), (long long)(k % C), (double)t[k],
                           unit ? "outside [0, 1]" : "not finite");
    return QS_OK;
}

/* ---- shared by the loops -------------------------------------------------------------------- */

double train_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Maps the validation pass's own progress [0, 1] into the job's overall fraction. */
static void train_sub_progress(void *user, double frac, const char *phase)
{
    TrainSubJob *s = user;
    (void)phase;
    job_progress(s->outer, s->base + s->span * frac, "val");
}

JobCtx train_sub_job(TrainSubJob *sub, const JobCtx *outer, double base, double span)
{
    sub->outer = outer;
    sub->base = base;
    sub->span = span;
    return (JobCtx){ .progress = train_sub_progress, .user = sub,
                     .cancel = outer ? outer->cancel : NULL };
}

QsStatus train_output_width(const Graph *g, int *C, QsError *err)
{
    const Shape *os = &g->values[g->outputs[0]].shape;
    int64_t width = shape_span(os, 1, os->ndim);
    if (width < 1 || width > INT_MAX)
        return qs_fail(err, QS_ESHAPE, "output '%s' has %lld values per sample",
                       g->values[g->outputs[0]].name, (long long)width);
    *C = (int)width;
    return QS_OK;
}

LossKind train_task_loss(TaskKind task)
{
    /* Float targets in [0, 1] (multi-label bits, detection heat maps) train with BCE. */
    return task_table[task].class_labels ? LOSS_CROSS_ENTROPY
         : task == TASK_REGRESS          ? LOSS_MSE
                                         : LOSS_BCE_LOGITS;
}

QsStatus train_class_weights(const float *given, int n_given, bool autow, const Dataset *train,
                             int C, float *w, QsError *err)
{
    if (given && n_given != C)
        return qs_fail(err, QS_EINVAL, "%d class weights given; the model has %d classes",
                       n_given, C);
    if (autow) {
        if (train_auto_class_weights(train->y, C, w, err))
            return err->code;
    } else {
        memcpy(w, given, (size_t)C * sizeof *w);
    }
    for (int c = 0; c < C; c++)
        if (!(w[c] >= 0.0f) || isinf(w[c]))
            return qs_fail(err, QS_EINVAL, "class weight %d is %g; weights must be finite and >= 0",
                           c, (double)w[c]);
    return QS_OK;
}

void *train_alloc(int64_t count, size_t elem, const char *what, QsError *err)
{
    size_t bytes;
    void *p = NULL;
    if (count < 0 || __builtin_mul_overflow((size_t)count, elem, &bytes) ||
        !(p = malloc(bytes ? bytes : 1)))
        qs_fail(err, QS_ENOMEM, "cannot allocate %lld x %zu bytes for %s", (long long)count, elem,
                what);
    return p;
}

QsStatus train_batch_init(TrainBatch *b, const Dataset *d, int64_t batch, int C,
                          bool class_labels, QsError *err)
{
    memset(b, 0, sizeof *b);
    int64_t N = dataset_len(d), B = batch < N ? batch : N, bc;
    b->cap = B;
    b->C = C;
    if (__builtin_mul_overflow(B, (int64_t)C, &bc) || data_batch_init(&b->x, d, B, false, err) ||
        !(b->dlogits = train_alloc(bc, sizeof *b->dlogits, "the loss gradient", err)) ||
        !(b->perm = train_alloc(N, sizeof *b->perm, "the sample order", err)) ||
        (class_labels ? !(b->labels = train_alloc(B, sizeof *b->labels, "batch labels", err))
                      : !(b->targets = train_alloc(bc, sizeof *b->targets, "batch targets", err)))) {
        train_batch_release(b);
        return qs_fail(err, QS_ENOMEM, "cannot allocate a batch of %lld samples", (long long)B);
    }
    for (int64_t i = 0; i < N; i++)
        b->perm[i] = i;
    return QS_OK;
}

void train_batch_release(TrainBatch *b)
{
    data_batch_release(&b->x);
    free(b->labels);
    free(b->targets);
    free(b->dlogits);
    free(b->perm);
    memset(b, 0, sizeof *b);
}

QsStatus train_gather(const Dataset *d, int64_t first, int64_t n, TrainBatch *b, QsError *err)
{
    if (data_batch_gather(&b->x, d, b->perm + first, n, err))
        return err->code;
    for (int64_t j = 0; j < n; j++) {
        int64_t s = b->perm[first + j];
        if (b->labels)
            b->labels[j] = ((const int64_t *)d->y->data)[s];
        else
            memcpy(b->targets + j * b->C, tensor_f32(d->y) + s * b->C,
                   (size_t)b->C * sizeof *b->targets);
    }
    return QS_OK;
}
