/* The one loop over a data split in batches: evaluation, scoring, calibration, bias
 * correction, equalization, per-layer error and export verification all walk a split the
 * same way. For each batch of samples [first, first + n): the input views, the executor
 * (float or quantized) with an optional tap, optionally a second executor on the same
 * inputs (a comparison: the float reference and the quantized model), then the caller's
 * batch callback. Cancellation is checked before every batch and progress reported after
 * it, both through the Job. */
#ifndef QS_WALK_H
#define QS_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/job.h"
#include "data/dataset.h"
#include "run/exec.h"

/* One batch as the callbacks see it; every pointer is valid only during the call. */
typedef struct WalkBatch {
    int64_t first, n;                   /* samples [first, first + n) of the split */
    const Tensor *views;                /* [d->n_x] the batch's input views */
    const Tensor *const *inputs;        /* [d->n_x] = &views[k], as passed to the executors */
    const Tensor *const *out;           /* the executor's graph outputs */
    const Tensor *const *out2;          /* the second executor's outputs; NULL when none,
                                           and in the `between` callback */
    bool stop;                          /* set by the batch callback: end the walk here,
                                           without error (no progress for this batch) */
} WalkBatch;

typedef QsStatus (*WalkBatchFn)(void *user, WalkBatch *b, QsError *err);

typedef struct Walk {
    const Executor *ex;                 /* required */
    RunTapFn tap;                       /* on ex; may be NULL */
    void *tap_user;
    const Executor *ex2;                /* may be NULL; needs the same inputs as ex */
    RunTapFn tap2;                      /* on ex2; may be NULL */
    void *tap2_user;
    /* After ex and before ex2 (e.g. to size a tap's buffer from ex's values); may be NULL. */
    WalkBatchFn between;
    WalkBatchFn batch;                  /* after both executors; may be NULL */
    void *user;                         /* for between and batch */
    const JobCtx *job;                  /* may be NULL */
    const char *what;                   /* names the work when cancelled: "evaluation" */
    const char *phase;                  /* progress label: "eval" */
    /* Progress after a batch is frac0 + span * done / n; {0, 0} means {0, 1}. */
    double frac0, span;
} Walk;

/* Walks the first n samples of d (n <= 0 or past the end: all of them) in batches of
 * `batch`. QS_EINVAL when batch < 1 or d does not fit ex's graph (eval_check_inputs);
 * otherwise the first failure of an executor or callback, or QS_ECANCELLED. */
QsStatus walk_split(const Walk *w, const Dataset *d, int64_t n, int batch, QsError *err);

#endif
