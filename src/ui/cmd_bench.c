/* bench: float inference latency and throughput on a split, measured here. */
#include <stdlib.h>
#include <time.h>

#include "cmd_handlers.h"
#include "eval.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static QsStatus discard(void *user, int64_t first, int64_t n, const Tensor *out, QsError *err)
{
    (void)user, (void)first, (void)n, (void)out, (void)err;
    return QS_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

CMD_HANDLER(cmd_bench)
{
    Session *s = &app->session;
    int split = split_find(arg_str(a, "split", "eval"));
    if (split < 0 || !s->splits[split].x)
        return qs_fail(err, QS_EINVAL, "bench: split '%s' is empty or unknown",
                       arg_str(a, "split", "eval"));
    const Dataset *d = &s->splits[split];
    long n, batch, repeat, warmup;
    if (arg_int_range(a, "n", 0, 0, 1L << 40, &n, err) ||
        arg_int_range(a, "batch", s->opt.batch, 1, 1 << 20, &batch, err) ||
        arg_int_range(a, "repeat", 5, 1, 1000, &repeat, err) ||
        arg_int_range(a, "warmup", 1, 0, 100, &warmup, err))
        return err->code;
    int64_t len = dataset_len(d);
    if (n <= 0 || n > len)
        n = len;
    Executor ex;
    FloatExec *owner;
    if (qstate_executor(&s->q, s->model, &s->q.plan, NULL, &ex, &owner, err))
        return err->code;
    double *t = xmalloc((size_t)repeat * sizeof *t);
    QsStatus st = QS_OK;
    for (long i = 0; i < warmup + repeat && !st; i++) {
        double t0 = now_seconds();
        st = eval_batches_with(&ex, d->x, n, (int)batch, &app->job, discard, NULL, err);
        if (i >= warmup)
            t[i - warmup] = now_seconds() - t0;
    }
    exec_float_free(owner);
    if (!st) {
        result_str(r, "precision", plan_label(&s->q.plan));
        qsort(t, (size_t)repeat, sizeof *t, cmp_double);
        double median = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
        result_int(r, "samples", n);
        result_int(r, "batch", batch);
        result_int(r, "repeat", repeat);
        result_float(r, "ms_per_sample", 1e3 * median / (double)n, RS_PLAIN);
        result_float(r, "ms_per_sample_min", 1e3 * t[0] / (double)n, RS_PLAIN);
        result_float(r, "ms_per_sample_max", 1e3 * t[repeat - 1] / (double)n, RS_PLAIN);
        result_float(r, "samples_per_s", (double)n / median, RS_PLAIN);
    }
    free(t);
    return st;
}
