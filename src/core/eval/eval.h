/* Running a model over a data set in batches, and scoring it against labels. */
#ifndef QS_EVAL_H
#define QS_EVAL_H

#include <stdint.h>

#include "data/dataset.h"
#include "base/error.h"
#include "run/exec.h"
#include "graph/graph.h"
#include "base/job.h"
#include "eval/metrics.h"

/* Receives the first graph output for samples [first, first + n); `out` is a view valid
 * only during the call, shape (n, ...). */
typedef QsStatus (*EvalBatchFn)(void *user, int64_t first, int64_t n, const Tensor *out,
                                QsError *err);

/* QS_EINVAL unless d holds one input per graph input (shapes are checked when a split is
 * registered, session.h). */
QsStatus eval_check_inputs(const Graph *g, const Dataset *d, QsError *err);

/* Runs the executor on the first n samples of d's inputs (n <= 0: all) in batches of
 * `batch`; calls fn per batch with the first output. Progress and cancellation through job.
 * A walk_split (walk.h) for callers that only need the first output. */
QsStatus eval_batches_with(const Executor *ex, const Dataset *d, int64_t n, int batch,
                           const JobCtx *job, EvalBatchFn fn, void *user, QsError *err);
/* The same with the float model g. */
QsStatus eval_batches(const Graph *g, const Dataset *d, int64_t n, int batch, const JobCtx *job,
                      EvalBatchFn fn, void *user, QsError *err);

/* Initialises *m to score graph g's first output on d under task: checks the label kind
 * and width (class indices or float targets as the task says), the task extras (aux) the
 * task needs, and sets the detection geometry from the input and output shapes. Caller
 * releases with label_metrics_release (only on success). */
QsStatus eval_metrics_init(const Graph *g, const Dataset *d, TaskKind task, LabelMetrics *m,
                           QsError *err);
/* Adds samples [first, first + n) of d with their outputs out (n, C). */
QsStatus eval_metrics_add(LabelMetrics *m, const Dataset *d, int64_t first, int64_t n,
                          const float *out, QsError *err);

/* Scores the first n samples of d (n <= 0: all) into *out (initialised here; caller
 * releases with label_metrics_release). Fails when d has no labels or they do not fit the
 * output width. */
QsStatus eval_labels_with(const Executor *ex, const Dataset *d, int64_t n, TaskKind task,
                          int batch, const JobCtx *job, LabelMetrics *out, QsError *err);
/* The same with the float model g. */
QsStatus eval_labels(const Graph *g, const Dataset *d, int64_t n, TaskKind task, int batch,
                     const JobCtx *job, LabelMetrics *out, QsError *err);

#endif
