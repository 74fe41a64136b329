/* The `bench` command: the single-plan form keeps its fields; precisions= gives one table
 * with a row per precision in the order asked, whose files are real (their size on disk
 * is the table's), whose weights are the deployed bytes `compare` reports, whose peak is
 * weights plus the measured activation memory, whose fp32 row is the float model exactly,
 * and whose figures are also fields for `check`. Timings are never asserted beyond their
 * order (min <= median <= max): this machine is shared. Runs on the bundled mnist_cnn and
 * the first 40 test digits. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds/app.h"
#include "cmds/commands.h"
#include "test_util.h"

static void quiet(App *app, const Result *r)
{
    (void)app;
    (void)r;
}

static const RTable *find_table(const Result *r, const char *name)
{
    for (int i = 0; i < r->n_tables; i++)
        if (strcmp(r->tables[i].name, name) == 0)
            return &r->tables[i];
    return NULL;
}

static const RValue *cell(const RTable *t, int row, const char *col)
{
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->cols[c], col) == 0)
            return &t->cells[row * t->n_cols + c];
    return NULL;
}

static double num(const RValue *v)
{
    if (!v)
        return NAN;
    return v->type == RV_FLOAT ? v->f : v->type == RV_INT ? (double)v->i : NAN;
}

static double field(const Result *r, const char *key) { return num(result_get(r, key)); }

static bool file_size_is(const char *path, double want)
{
    struct stat sb;
    return stat(path, &sb) == 0 && (double)sb.st_size == want;
}

int main(void)
{
    App app;
    app_init(&app);
    app.emit = quiet;
    Result r;
    result_init(&r, "");
    QsError err = { 0 };
    CHECK_OK(cmd_exec(&app, "load models/mnist_cnn.qsm", &r, &err), &err);
    CHECK_OK(cmd_exec(&app, "data eval models/data/mnist_test.npz n=40 scale=0.00392156886",
                      &r, &err), &err);
    CHECK_OK(cmd_exec(&app, "eval", &r, &err), &err);
    double float_acc = field(&r, "accuracy");

    /* the single-plan form: the current plan's fields, no table */
    CHECK_OK(cmd_exec(&app, "bench batch=16 repeat=2", &r, &err), &err);
    const RValue *v = result_get(&r, "precision");
    CHECK(v && v->type == RV_STR && strcmp(v->s, "fp32") == 0);
    CHECK(field(&r, "samples") == 40 && field(&r, "batch") == 16 && field(&r, "repeat") == 2);
    CHECK(field(&r, "ms_per_sample_min") <= field(&r, "ms_per_sample"));
    CHECK(field(&r, "ms_per_sample") <= field(&r, "ms_per_sample_max"));
    CHECK(field(&r, "samples_per_s") > 0);
    CHECK(r.n_tables == 0);

    /* compare's deployed bytes, the reference for the weights column */
    CHECK_OK(cmd_exec(&app, "compare", &r, &err), &err);
    const RTable *ct = find_table(&r, "variants");
    double cmp_bytes[3] = { NAN, NAN, NAN }; /* fp32, fp16, int8-dyn */
    for (int i = 0; ct && i < ct->n_rows; i++) {
        const RValue *name = cell(ct, i, "variant");
        static const char *const names[] = { "fp32", "fp16", "int8-dyn" };
        for (int k = 0; k < 3; k++)
            if (name && name->type == RV_STR && strcmp(name->s, names[k]) == 0)
                cmp_bytes[k] = num(cell(ct, i, "bytes"));
    }

    /* the table, asked in a non-canonical order, files kept */
    char prefix[64], path[96];
    snprintf(prefix, sizeof prefix, "/tmp/qscope_test_bench_%d", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "bench precisions=int8-dyn,fp32,fp16 n=40 batch=16 repeat=3 files=%s", prefix);
    CHECK_OK(cmd_exec(&app, cmd, &r, &err), &err);
    const RTable *t = find_table(&r, "precisions");
    CHECK(t != NULL);
    if (!t)
        return test_summary("bench_cmd");
    static const char *const cols[] = { "precision", "file", "format", "weights", "act_peak",
                                        "peak", "ms_median", "ms_min", "ms_max", "accuracy",
                                        "drop", "agreement" };
    CHECK(t->n_cols == 12 && t->n_rows == 3);
    for (int c = 0; c < 12 && c < t->n_cols; c++)
        CHECK(strcmp(t->cols[c], cols[c]) == 0);
    static const char *const order[] = { "int8-dyn", "fp32", "fp16" };
    static const int cmp_of[] = { 2, 0, 1 };
    double peak_b16[3];
    for (int i = 0; i < 3 && i < t->n_rows; i++) {
        const RValue *p = cell(t, i, "precision"), *fmt = cell(t, i, "format");
        CHECK(p && p->type == RV_STR && strcmp(p->s, order[i]) == 0);
        double file = num(cell(t, i, "file")), weights = num(cell(t, i, "weights"));
        double act = num(cell(t, i, "act_peak")), peak = num(cell(t, i, "peak"));
        CHECK(weights == cmp_bytes[cmp_of[i]]);
        CHECK(act > 0 && peak == weights + act);
        peak_b16[i] = peak;
        snprintf(path, sizeof path, "%s_%s.onnx", prefix, order[i]);
        CHECK(fmt && fmt->type == RV_STR);
        if (i == 0 && fmt && strcmp(fmt->s, "deployed") == 0) {
            /* no ONNX layout for int8-dyn (yet): the deployed bytes, and no file */
            CHECK(file == weights);
            CHECK(access(path, F_OK) != 0);
        } else {
            CHECK(fmt && strcmp(fmt->s, "onnx") == 0);
            CHECK(file_size_is(path, file));
            /* an ONNX file holds the weights and a little graph around them (about 1.5 KB
             * at fp32, 2.5 KB at fp16 with its Cast nodes) */
            CHECK(file > weights && (i == 0 || file < weights + 4096));
            unlink(path);
        }
        double med = num(cell(t, i, "ms_median"));
        CHECK(med > 0 && num(cell(t, i, "ms_min")) <= med && med <= num(cell(t, i, "ms_max")));
        double acc = num(cell(t, i, "accuracy")), drop = num(cell(t, i, "drop"));
        CHECK(acc >= 0 && acc <= 1 && fabs(drop - (float_acc - acc)) < 1e-12);
        CHECK(num(cell(t, i, "agreement")) >= 0.9);
    }
    /* the fp32 row is the float model exactly */
    CHECK(num(cell(t, 1, "accuracy")) == float_acc && num(cell(t, 1, "drop")) == 0);
    CHECK(num(cell(t, 1, "agreement")) == 1);
    /* the same figures as fields */
    CHECK(field(&r, "file_int8_dyn") == num(cell(t, 0, "file")));
    CHECK(field(&r, "peak_fp16") == num(cell(t, 2, "peak")));
    CHECK(field(&r, "ms_fp32") == num(cell(t, 1, "ms_median")));
    CHECK(field(&r, "accuracy_fp16") == num(cell(t, 2, "accuracy")));
    CHECK(field(&r, "drop_int8_dyn") == num(cell(t, 0, "drop")));
    CHECK(field(&r, "agreement_fp32") == 1);
    CHECK(field(&r, "shrink_fp32") == 1);
    CHECK(field(&r, "shrink_int8_dyn") == num(cell(t, 1, "file")) / num(cell(t, 0, "file")));
    CHECK(field(&r, "shrink_int8_dyn") > 3.5 && field(&r, "shrink_fp16") > 1.9);
    CHECK(field(&r, "params") == 106058 && field(&r, "samples") == 40);
    v = result_get(&r, "wgran");
    CHECK(v && v->type == RV_STR && strcmp(v->s, "channel") == 0);

    /* the activation memory is measured again from nothing each time: the same figure,
     * and less for smaller batches; files go to a temporary place by default */
    CHECK_OK(cmd_exec(&app, "bench precisions=int8-dyn,fp32,fp16 n=40 batch=16 repeat=1",
                      &r, &err), &err);
    t = find_table(&r, "precisions");
    for (int i = 0; t && i < 3 && i < t->n_rows; i++)
        CHECK(num(cell(t, i, "peak")) == peak_b16[i]);
    CHECK_OK(cmd_exec(&app, "bench precisions=int8-dyn,fp32,fp16 n=40 batch=1 repeat=1",
                      &r, &err), &err);
    t = find_table(&r, "precisions");
    for (int i = 0; t && i < 3 && i < t->n_rows; i++)
        CHECK(num(cell(t, i, "peak")) < peak_b16[i]);

    /* per-tensor int8 weights: a row of its own options; the plan stays as it was */
    CHECK_OK(cmd_exec(&app, "bench precisions=int8-dyn wgran=tensor n=40 repeat=1", &r, &err),
             &err);
    v = result_get(&r, "wgran");
    CHECK(v && strcmp(v->s, "tensor") == 0);
    CHECK(field(&r, "weights_int8_dyn") < cmp_bytes[2]); /* one scale per layer */
    CHECK(result_get(&r, "shrink_int8_dyn") == NULL);      /* no fp32 row to compare with */
    CHECK(!app.session.q.plan.q.wgran_tensor && app.session.q.plan.mode == PREC_FP32);

    expect_error("unknown", cmd_exec(&app, "bench precisions=fp32,fp99", &r, &err), &err,
                 QS_EINVAL, "unknown precision 'fp99'");
    expect_error("twice", cmd_exec(&app, "bench precisions=fp16,fp16", &r, &err), &err,
                 QS_EINVAL, "'fp16' is listed twice");
    expect_error("empty", cmd_exec(&app, "bench precisions=fp32,,fp16", &r, &err), &err,
                 QS_EINVAL, "comma-separated list");
    expect_error("alone", cmd_exec(&app, "bench wgran=tensor", &r, &err), &err, QS_EINVAL,
                 "go with precisions=");
    expect_error("static", cmd_exec(&app, "bench precisions=int8-static", &r, &err), &err,
                 QS_EINVAL, "calibrate");
    result_release(&r);
    app_release(&app);
    return test_summary("bench_cmd");
}
