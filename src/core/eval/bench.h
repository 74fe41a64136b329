/* Latency on this machine: untimed warm-up passes, then timed passes over the first n
 * samples of a split, summarised by median, min and max; and one precision's measurement
 * for `bench`'s table (metric, agreement, activation memory at run time, latency).
 * docs/bench.md says exactly what each figure counts. */
#ifndef QS_BENCH_H
#define QS_BENCH_H

#include <stdint.h>

#include "base/error.h"
#include "base/job.h"
#include "data/dataset.h"
#include "eval/metrics.h"
#include "run/exec.h"

typedef struct BenchPasses {
    const Dataset *d;
    int64_t n;                  /* samples per pass (1 <= n <= len(d)) */
    int batch;
    long repeat;                /* timed passes, >= 1 */
    long warmup;                /* untimed passes before them */
} BenchPasses;

typedef struct BenchTimes {
    double median, min, max;    /* seconds per pass over the n samples */
} BenchTimes;

/* Runs `warmup` untimed passes (this count, not b->warmup), then b->repeat timed ones. */
QsStatus bench_time(const Executor *ex, const BenchPasses *b, long warmup, const JobCtx *job,
                    BenchTimes *out, QsError *err);

typedef struct BenchMeasure {
    double metric;              /* score_metric on the passes' samples */
    double agreement;           /* top-1 agreement with ref */
    int64_t act_peak;           /* memtrack peak over the passes above its start */
    BenchTimes t;
} BenchMeasure;

/* One row of the table: a scoring pass against the reference outputs ref (which is also
 * the first warm-up pass), then max(b->warmup - 1, 0) more warm-up passes and the timed
 * ones, the run-time memory (memtrack.h) counted from the start of the scoring pass. ex
 * should be freshly built, so that its buffers are allocated inside the measurement. */
QsStatus bench_measure(const Executor *ex, const BenchPasses *b, TaskKind task,
                       const Tensor *ref, const JobCtx *job, BenchMeasure *out, QsError *err);

/* The process's peak resident set since it started, in bytes (getrusage's ru_maxrss):
 * weights read from a mapped file count once their pages are touched, so this is what a
 * model of any size really costs, weights, packed caches and activations together. 0 when
 * the system cannot tell. */
int64_t bench_peak_rss_bytes(void);

#endif
