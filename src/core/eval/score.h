/* Scoring one executor on a split: metrics against the labels, agreement with reference
 * outputs (normally the float model's), and the wall time of the pass. `eval`, `compare`,
 * `sensitivity` and `fallback` are built on it. */
#ifndef QS_SCORE_H
#define QS_SCORE_H

#include <stdint.h>

#include "data/dataset.h"
#include "base/error.h"
#include "run/exec.h"
#include "base/job.h"
#include "eval/metrics.h"

typedef struct Score {
    LabelMetrics labels;     /* valid when the split has labels */
    bool has_labels;
    CompareMetrics vs_ref;   /* valid when a reference was given */
    bool has_ref;
    int64_t n;
    double seconds;          /* wall time of the forward passes */
} Score;

/* Runs ex on the first n samples of d (n <= 0: all). ref (n, C) f32 or NULL. When
 * collect is non-NULL it receives a new (n, C) tensor of the outputs (caller frees with
 * tensor_free). Caller releases *out with score_release. */
QsStatus score_run(const Executor *ex, const Dataset *d, int64_t n, TaskKind task, int batch,
                   const Tensor *ref, Tensor **collect, const JobCtx *job, Score *out,
                   QsError *err);
void score_release(Score *s);

/* The float model g's run as the reference other executors are compared with: its metric
 * (NaN without labels), the samples scored (samples may be NULL) and a new (n, C) tensor of its outputs in *ref
 * (caller frees with tensor_free). */
QsStatus score_reference(const Graph *g, const Dataset *d, int64_t n, TaskKind task, int batch,
                         const JobCtx *job, double *metric, int64_t *samples, Tensor **ref,
                         QsError *err);

/* The headline metric: accuracy for classify and multilabel, MSE for regress. */
double score_metric(const Score *s);
/* "accuracy" or "mse". */
const char *score_metric_name(TaskKind task);

#endif
