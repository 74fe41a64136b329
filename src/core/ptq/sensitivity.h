/* Finding the layers a plan loses the most on, and fixing a plan by falling back.
 *
 * Layers here are unit heads (qexec.h) that the plan quantizes. For each the metric is
 * measured twice: with only that layer at the plan's precision (everything else fp32),
 * and with every layer but that one (that one pinned to fp32). */
#ifndef QS_SENSITIVITY_H
#define QS_SENSITIVITY_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "base/error.h"
#include "base/job.h"
#include "eval/metrics.h"
#include "graph/model.h"
#include "ptq/qstate.h"

typedef struct LayerSens {
    int node;
    PrecKind prec;        /* its precision in the plan */
    double only_metric;   /* only this layer quantized */
    double but_metric;    /* every quantized layer but this one */
} LayerSens;

typedef struct SensContext {
    QuantState *qs;
    const Model *m;
    const Dataset *d;     /* the split that decides: a validation split, not the test split
                             (the commands pick it: docs/plans.md, "Which split decides") */
    int64_t n;            /* samples (<= 0: all) */
    TaskKind task;
    int batch;
    const JobCtx *job;
    const Dataset *calib_d; /* diagnose: the split the calibration was made from (the
                               session's qs->calib_split), NULL when unknown or gone */
} SensContext;

/* The headline metric of plan p on the context's split, and the wall time per sample. */
QsStatus sens_score(const SensContext *c, const Plan *p, double *metric, double *ms_per_sample,
                    QsError *err);
/* How much worse `metric` is than `ref` (positive = worse): ref - metric for accuracy,
 * metric - ref for MSE. */
double sens_drop(TaskKind task, double ref, double metric);

/* The quantized unit heads of plan p, in run order; *out is new memory (free). */
QsStatus sens_layers(const SensContext *c, const Plan *p, int **out, int *n_out, QsError *err);

/* Both measurements for every quantized layer of p. *out is new memory (free). */
QsStatus sens_run(const SensContext *c, const Plan *p, LayerSens **out, int *n_out,
                  QsError *err);

typedef struct FallbackStep {
    int node;             /* the layer pinned in this step */
    double metric;        /* the plan's metric after the step */
} FallbackStep;

/* Greedy fallback: while the drop against fp32 exceeds max_drop, pin to `target` the
 * quantized layer whose fallback helps most. Changes *p. *steps is new memory (free).
 * *reached says whether the drop got within max_drop. */
QsStatus sens_fallback(const SensContext *c, Plan *p, PrecKind target, double max_drop,
                       double fp32_metric, FallbackStep **steps, int *n_steps, bool *reached,
                       QsError *err);

#endif
