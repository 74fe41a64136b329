/* bench: inference latency on this machine. Without precisions=, the current plan alone
 * (latency and throughput); with precisions=fp32,fp16,int8-dyn one table with a row per
 * precision: the size of the model file written at that precision, the weights a
 * deployment stores, the activation memory measured at run time (memtrack.h), latency per
 * sample (median of repeated timed passes after untimed warm-up passes, with min and max)
 * and the metric on the split. docs/bench.md says exactly what each column counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds/cmd_device.h"
#include "cmds/cmd_handlers.h"
#include "eval/bench.h"
#include "onnx/onnx_export.h"
#include "eval/score.h"

/* target= and io= (NULL target: none). */
typedef struct BenchDevice {
    const DeviceTarget *t;
    bool io_int8;
} BenchDevice;

/* The process's peak memory so far and the float weights left in the model's file. */
static void bench_memory_fields(const Model *m, Result *r)
{
    result_int(r, "peak_rss_bytes", bench_peak_rss_bytes());
    result_int(r, "mapped_weight_bytes", (int64_t)model_mapped_bytes(m));
}

/* The old single-plan bench: the current plan, as every other command runs it; with a
 * target, its device profile's estimate, arena and size too. */
static QsStatus bench_current(App *app, const BenchPasses *b, const BenchDevice *dev, Result *r,
                              QsError *err)
{
    Session *s = &app->session;
    Executor ex;
    FloatExec *owner;
    if (qstate_executor(&s->q, s->model, &s->q.plan, NULL, &ex, &owner, err))
        return err->code;
    BenchTimes t;
    QsStatus st = bench_time(&ex, b, b->warmup, &app->job, &t, err);
    exec_float_free(owner);
    if (!st) {
        result_str(r, "precision", plan_label(&s->q.plan));
        result_plan_target(r, &s->q.plan);
        result_int(r, "samples", b->n);
        result_int(r, "batch", b->batch);
        result_int(r, "repeat", b->repeat);
        result_float(r, "ms_per_sample", 1e3 * t.median / (double)b->n, RS_PLAIN);
        result_float(r, "ms_per_sample_min", 1e3 * t.min / (double)b->n, RS_PLAIN);
        result_float(r, "ms_per_sample_max", 1e3 * t.max / (double)b->n, RS_PLAIN);
        result_float(r, "samples_per_s", (double)b->n / t.median, RS_PLAIN);
        bench_memory_fields(s->model, r);
    }
    if (!st && dev->t) {
        double est;
        int64_t arena;
        st = device_bench_fields(qstate_model(&s->q, s->model), &s->q.plan,
                                 s->q.calibrated ? &s->q.calib : NULL, dev->t, dev->io_int8,
                                 NULL, r, &est, &arena, err);
    }
    return st;
}

/* ---- the precision table ------------------------------------------------------------- */

typedef struct BenchRow {
    PrecKind prec;
    int64_t file_bytes;    /* the ONNX file's size, or the deployed bytes (below) */
    bool file_real;        /* false: no ONNX layout for the precision; file_bytes is then
                              qmodel_deployed_bytes */
    int64_t weight_bytes;  /* qmodel_deployed_bytes */
    int64_t act_peak;      /* measured: memtrack peak over the passes above its start */
    double ms_med, ms_min, ms_max; /* per sample */
    double metric, agreement;
    double est_ms;         /* with target=: the device estimate */
    int64_t arena;         /* with target=: the planned tensor arena */
} BenchRow;

/* Parses "fp32,fp16,int8-dyn" into out[] (no repeats); returns the count or -1. */
static int bench_parse_precisions(const char *list, PrecKind *out, QsError *err)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        char name[32];
        if (len == 0 || len >= sizeof name) {
            qs_fail(err, QS_EINVAL, "precisions=%s: expected a comma-separated list of fp32, "
                    "fp16, int8-dyn, int8-static", list);
            return -1;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        int k = precision_find(name);
        if (k < 0) {
            qs_fail(err, QS_EINVAL, "precisions=%s: unknown precision '%s' (fp32, fp16, "
                    "int8-dyn, int8-static)", list, name);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (out[i] == (PrecKind)k) {
                qs_fail(err, QS_EINVAL, "precisions=%s: '%s' is listed twice", list, name);
                return -1;
            }
        out[n++] = (PrecKind)k;
        p += len;
        if (*p == ',')
            p++;
    }
    if (n == 0)
        qs_fail(err, QS_EINVAL, "precisions=: give at least one precision");
    return n ? n : -1;
}

/* The file size of q written as ONNX: to `keep` when given (the file stays), else to a
 * temporary directory that is removed again. A precision ONNX has no layout for here
 * (int8-dyn) gives row->file_real = false and the deployed bytes. */
static QsStatus bench_file(QModel *q, const char *keep, BenchRow *row, QsError *err)
{
    char dir[256] = "", path[512];
    if (keep) {
        snprintf(path, sizeof path, "%s", keep);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/qscope-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
            return qs_fail(err, QS_EIO, "bench: cannot create a temporary directory %s", dir);
        snprintf(path, sizeof path, "%s/model.onnx", dir);
    }
    QsStatus st = onnx_save_plan(path, q, err);
    if (!st) {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            st = qs_fail(err, QS_EIO, "bench: cannot stat %s", path);
        } else {
            row->file_bytes = (int64_t)sb.st_size;
            row->file_real = true;
        }
    } else if (st == QS_EUNSUPPORTED) {
        st = QS_OK;
        row->file_bytes = qmodel_deployed_bytes(q);
        row->file_real = false;
    }
    if (!keep) {
        unlink(path);
        rmdir(dir);
    }
    return st;
}

/* One row: lowers the plan afresh (so that the executor's buffers are allocated inside the
 * measurement), writes its file, measures it against the float outputs ref. */
static QsStatus bench_row(App *app, const Plan *p, const BenchPasses *b, TaskKind task,
                          const Tensor *ref, const char *keep, const BenchDevice *dev,
                          BenchRow *row, Result *r, QsError *err)
{
    Session *s = &app->session;
    QuantState *qs = &s->q;
    /* what qstate_qmodel lowers for the current state: the active model (a QAT variant's
     * weights when one is in use), the current calibration, its bias correction when it
     * was measured for this plan; built outside the cache on purpose */
    const BiasCorr *corr = qstate_bias_corr_for(qs, p);
    QModel *q;
    if (qmodel_build_ex(qstate_model(qs, s->model), p, qs->calibrated ? &qs->calib : NULL,
                        corr ? (const float *const *)corr->v : NULL, &q, err))
        return err->code;
    QsStatus st = bench_file(q, keep, row, err);
    row->weight_bytes = qmodel_deployed_bytes(q);
    Executor ex = qmodel_executor(q);
    BenchMeasure m;
    if (!st && !(st = bench_measure(&ex, b, task, ref, &app->job, &m, err))) {
        double n = (double)b->n;
        row->metric = m.metric;
        row->agreement = m.agreement;
        row->act_peak = m.act_peak;
        row->ms_med = 1e3 * m.t.median / n;
        row->ms_min = 1e3 * m.t.min / n;
        row->ms_max = 1e3 * m.t.max / n;
    }
    qmodel_free(q);
    if (!st && dev->t) {
        char sfx[40];
        snprintf(sfx, sizeof sfx, "_%s", precision_table[p->mode].field);
        st = device_bench_fields(qstate_model(qs, s->model), p,
                                 qs->calibrated ? &qs->calib : NULL, dev->t, dev->io_int8, sfx,
                                 r, &row->est_ms, &row->arena, err);
    }
    return st;
}

/* "drop_int8_dyn": one word, for `check`. */
static void bench_field(char *buf, size_t cap, const char *what, PrecKind k)
{
    snprintf(buf, cap, "%s_%s", what, precision_table[k].field);
}

static void bench_report(const BenchRow *rows, int n_rows, const char *metric, double ref_metric,
                         RvStyle mstyle, bool regress, bool device, Result *r)
{
    /* the device columns only with target= (a NULL ends the list before them) */
    const char *cols[] = { "precision", "file", "format", "weights", "act_peak", "peak",
                           "ms_median", "ms_min", "ms_max", metric, "drop", "agreement",
                           device ? "est_ms" : NULL, "arena", NULL };
    RTable *t = result_table(r, "precisions", cols);
    const BenchRow *fp32 = NULL;
    for (int i = 0; i < n_rows; i++)
        if (precision_is_float(rows[i].prec))
            fp32 = &rows[i];
    char key[64];
    for (int i = 0; i < n_rows; i++) {
        const BenchRow *w = &rows[i];
        double drop = regress ? w->metric - ref_metric : ref_metric - w->metric;
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, precision_table[w->prec].name);
        rtable_int(t, row, 1, w->file_bytes);
        rtable_str(t, row, 2, w->file_real ? "onnx" : "deployed");
        rtable_int(t, row, 3, w->weight_bytes);
        rtable_int(t, row, 4, w->act_peak);
        rtable_int(t, row, 5, w->weight_bytes + w->act_peak);
        static const int byte_cols[] = { 1, 3, 4, 5 };
        for (int c = 0; c < 4; c++)
            t->cells[row * t->n_cols + byte_cols[c]].style = RS_BYTES;
        rtable_float(t, row, 6, w->ms_med, RS_MS);
        rtable_float(t, row, 7, w->ms_min, RS_MS);
        rtable_float(t, row, 8, w->ms_max, RS_MS);
        rtable_float(t, row, 9, w->metric, mstyle);
        rtable_float(t, row, 10, drop, mstyle);
        rtable_float(t, row, 11, w->agreement, RS_PCT);
        if (device) {
            rtable_float(t, row, 12, w->est_ms, RS_MS);
            rtable_int(t, row, 13, w->arena);
            t->cells[row * t->n_cols + 13].style = RS_BYTES;
        }
        /* the same figures as fields, for `check`: file_int8_dyn, drop_fp16, ... */
        bench_field(key, sizeof key, "file", w->prec);
        result_int(r, key, w->file_bytes);
        bench_field(key, sizeof key, "weights", w->prec);
        result_int(r, key, w->weight_bytes);
        bench_field(key, sizeof key, "peak", w->prec);
        result_int(r, key, w->weight_bytes + w->act_peak);
        bench_field(key, sizeof key, "ms", w->prec);
        result_float(r, key, w->ms_med, RS_PLAIN);
        bench_field(key, sizeof key, metric, w->prec);
        result_float(r, key, w->metric, RS_PLAIN);
        bench_field(key, sizeof key, "drop", w->prec);
        result_float(r, key, drop, RS_PLAIN);
        bench_field(key, sizeof key, "agreement", w->prec);
        result_float(r, key, w->agreement, RS_PLAIN);
        if (fp32 && w->file_bytes > 0) {
            /* how many times smaller than fp32: 4 for int8 weights, 2 for halves */
            bench_field(key, sizeof key, "shrink", w->prec);
            result_float(r, key, (double)fp32->file_bytes / (double)w->file_bytes, RS_PLAIN);
        }
    }
}

static QsStatus bench_table(App *app, const char *list, const BenchPasses *b,
                            const BenchDevice *dev, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    PrecKind precs[PREC_COUNT];
    int n_rows = bench_parse_precisions(list, precs, err);
    if (n_rows < 0)
        return err->code;
    static const char *const gran_names[] = { "channel", "tensor", NULL };
    int gran;
    if (arg_choice(a, "wgran", gran_names, s->q.plan.q.wgran_tensor, &gran, err))
        return err->code;
    const char *keep = arg_str(a, "files", NULL);
    TaskKind task = session_task(s, b->d);
    /* the float run first, as compare does: its outputs are the reference for agreement
     * and its metric the reference for drop */
    double ref_metric;
    Tensor *ref = NULL;
    QsStatus st = score_reference(&qstate_model(&s->q, s->model)->graph, b->d, b->n, task,
                                  b->batch, &app->job, &ref_metric, NULL, &ref, err);
    if (st)
        return st;

    BenchRow rows[PREC_COUNT];
    memset(rows, 0, sizeof rows);
    Plan p;
    plan_copy(&p, &s->q.plan);
    memset(p.pin, -1, (size_t)p.n_nodes); /* whole-model precisions, as compare's rows */
    p.q.wgran_tensor = gran == 1;
    for (int i = 0; i < n_rows && !st; i++) {
        char path[512];
        if (keep && (size_t)snprintf(path, sizeof path, "%s_%s.onnx", keep,
                                     precision_table[precs[i]].name) >= sizeof path) {
            st = qs_fail(err, QS_EINVAL, "bench: files=%s is too long a prefix", keep);
            break;
        }
        p.mode = precs[i];
        rows[i].prec = precs[i];
        st = bench_row(app, &p, b, task, ref, keep ? path : NULL, dev, &rows[i], r, err);
        if (st)
            qs_error_prefix(err, "bench %s", precision_table[precs[i]].name);
    }
    plan_release(&p);
    tensor_free(ref);
    if (st)
        return st;
    bool regress = task == TASK_REGRESS;
    bench_report(rows, n_rows, score_metric_name(task), ref_metric, regress ? RS_PLAIN : RS_PCT,
                 regress, dev->t != NULL, r);
    if (dev->t)
        result_str(r, "profile", dev->t->name);
    result_str(r, "split", arg_str(a, "split", "eval"));
    result_int(r, "samples", b->n);
    result_int(r, "batch", b->batch);
    result_int(r, "repeat", b->repeat);
    result_int(r, "warmup", b->warmup > 1 ? b->warmup : 1);
    result_str(r, "wgran", gran == 1 ? "tensor" : "channel");
    result_int(r, "params", graph_param_count(&s->model->graph));
    result_str(r, "metric", score_metric_name(task));
    bench_memory_fields(s->model, r);
    return QS_OK;
}

QsStatus cmd_bench(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const char *split_s = arg_str(a, "split", "eval");
    int split = split_find(split_s);
    if (split < 0 || s->splits[split].n_x == 0)
        return qs_fail(err, QS_EINVAL, "bench: split '%s' is empty or unknown", split_s);
    BenchPasses b = { .d = &s->splits[split] };
    long n, batch;
    if (arg_int_range(a, "n", 0, 0, 1L << 40, &n, err) ||
        arg_int_range(a, "batch", s->opt.batch, 1, 1 << 20, &batch, err) ||
        arg_int_range(a, "repeat", 5, 1, 1000, &b.repeat, err) ||
        arg_int_range(a, "warmup", 1, 0, 100, &b.warmup, err))
        return err->code;
    b.batch = (int)batch;
    int64_t len = dataset_len(b.d);
    b.n = n <= 0 || n > len ? len : n;
    BenchDevice dev;
    if (device_target_arg(a, &dev.t, &dev.io_int8, err))
        return err->code;
    const char *list = arg_str(a, "precisions", NULL);
    if (!list) {
        if (arg_has(a, "wgran") || arg_has(a, "files"))
            return qs_fail(err, QS_EINVAL, "bench: wgran= and files= go with precisions=");
        return bench_current(app, &b, &dev, r, err);
    }
    return bench_table(app, list, &b, &dev, a, r, err);
}
