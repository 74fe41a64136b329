#include "eval/bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/memtrack.h"
#include "eval/score.h"
#include "eval/walk.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

QsStatus bench_time(const Executor *ex, const BenchPasses *b, long warmup, const JobCtx *job,
                    BenchTimes *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    long n = b->repeat;
    double *t = xmalloc((size_t)n * sizeof *t);
    Walk w = { .ex = ex, .job = job, .what = "evaluation", .phase = "eval" };
    QsStatus st = QS_OK;
    for (long i = 0; i < warmup + n && !st; i++) {
        double t0 = now_seconds();
        if ((st = walk_split(&w, b->d, b->n, b->batch, err)))
            break;
        if (i >= warmup)
            t[i - warmup] = now_seconds() - t0;
    }
    if (!st) {
        qsort(t, (size_t)n, sizeof *t, cmp_double);
        out->median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
        out->min = t[0];
        out->max = t[n - 1];
    }
    free(t);
    return st;
}

QsStatus bench_measure(const Executor *ex, const BenchPasses *b, TaskKind task,
                       const Tensor *ref, const JobCtx *job, BenchMeasure *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    int64_t base = memtrack_reset_peak();
    Score sc;
    QsStatus st = score_run(ex, b->d, b->n, task, b->batch, ref, NULL, job, &sc, err);
    if (!st) {
        out->metric = score_metric(&sc);
        out->agreement = compare_metrics_agreement(&sc.vs_ref);
        score_release(&sc);
        st = bench_time(ex, b, b->warmup > 1 ? b->warmup - 1 : 0, job, &out->t, err);
    }
    out->act_peak = memtrack_peak() - base;
    return st;
}

int64_t bench_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}
