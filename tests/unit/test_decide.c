/* The validation discipline (docs/plans.md, "Which split decides"): every decision command
 * -- sensitivity, fallback, pick (and report's pick), biascorr, qat, train -- decides on
 * calib unless told otherwise, never reads eval unless it is named (then with a warning),
 * and says which split decided and which scored. Also: `eval` after `qat` measures the
 * qat variant, and a drop threshold means the same written 0.01 or 1%.
 *
 * The calib split (300 held-out training digits) and the eval split (the first 300 test
 * digits) give different figures, so a figure equal to the calib measurement and unequal to
 * the eval one shows which split a command read. All comparisons are exact: the same
 * executor runs the same samples in the same batches. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/app.h"
#include "cmds/commands.h"
#include "io/fileio.h"
#include "test_util.h"

#define DATA_TRAIN "data train models/data/mnist_train.npz n=500 scale=0.00392156886;"
#define DATA_CALIB "data calib models/data/mnist_train.npz skip=7000 n=300 scale=0.00392156886;"
#define DATA_EVAL "data eval models/data/mnist_test.npz n=300 scale=0.00392156886;"

static Result res;

/* Runs one command into res; returns its status (the error in *err). */
static QsStatus run(App *app, const char *cmd, QsError *err)
{
    result_reset(&res, "");
    return cmd_exec(app, cmd, &res, err);
}

static double num(const char *key)
{
    const RValue *v = result_get(&res, key);
    if (!v || (v->type != RV_FLOAT && v->type != RV_INT && v->type != RV_BOOL)) {
        printf("  no number '%s' in the result of %s\n", key, res.cmd ? res.cmd : "?");
        test_check(false, __FILE__, __LINE__, key);
        return NAN;
    }
    return v->type == RV_FLOAT ? v->f : (double)v->i;
}

static const char *str(const char *key)
{
    const RValue *v = result_get(&res, key);
    return v && v->type == RV_STR ? v->s : "";
}

/* The headline accuracy of the current plan on a split, as `eval` gives it. */
static double accuracy_on(App *app, const char *split, QsError *err)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "eval split=%s", split);
    CHECK_OK(run(app, cmd, err), err);
    return num("accuracy");
}

/* The metric of row `name` of compare's table on a split. */
static double compare_row(App *app, const char *split, const char *name, QsError *err)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "compare split=%s", split);
    CHECK_OK(run(app, cmd, err), err);
    const RTable *t = &res.tables[0];
    for (int row = 0; row < t->n_rows; row++)
        if (strcmp(t->cells[row * t->n_cols].s, name) == 0)
            return t->cells[row * t->n_cols + 2].f; /* variant, mode, metric */
    CHECK(!"the row is in compare's table");
    return NAN;
}

/* With only eval registered, no decision command falls back to it. */
static void test_eval_only(void)
{
    App app;
    app_init(&app);
    QsError err = { 0 };
    CHECK_OK(cmd_exec_line(&app, "load models/mnist_dw.qsm;" DATA_TRAIN DATA_EVAL
                                 "calibrate split=eval n=200; mode int8-static", &err), &err);
    const char *cmds[] = { "sensitivity", "fallback drop<=1%", "pick drop<=1%",
                           "qat epochs=1", "biascorr" };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        printf("  eval only: %s\n", cmds[i]);
        expect_error(cmds[i], run(&app, cmds[i], &err), &err, QS_EINVAL, "calib");
    }
    /* train without a validation split picks by the train loss, not by eval */
    CHECK_OK(run(&app, "mode fp32", &err), &err);
    CHECK_OK(run(&app, "train epochs=1 lr=0.0001 seed=1", &err), &err);
    CHECK(strcmp(str("decided_on"), "none") == 0);
    CHECK(strcmp(str("metric"), "train_loss") == 0);
    app_release(&app);
}

/* sensitivity and fallback measure on calib; fallback scores its plan on eval too. */
static void test_sens_fallback(App *app, double fp32_calib, double fp32_eval)
{
    QsError err = { 0 };
    CHECK_OK(cmd_exec_line(app, "mode int8-static; quant wgran=tensor; variant save pt", &err),
             &err);
    double q_calib = accuracy_on(app, "calib", &err), q_eval = accuracy_on(app, "eval", &err);
    CHECK(q_calib != q_eval);
    CHECK_OK(run(app, "sensitivity", &err), &err);
    CHECK(num("fp32") == fp32_calib && num("quantized") == q_calib);
    CHECK(strcmp(str("decided_on"), "calib") == 0 && strcmp(str("scored_on"), "calib") == 0);
    CHECK(!result_get(&res, "warning"));
    char worst[64];
    snprintf(worst, sizeof worst, "%s", str("worst"));
    CHECK_OK(run(app, "sensitivity split=calib", &err), &err);
    CHECK(strcmp(str("worst"), worst) == 0);
    CHECK_OK(run(app, "sensitivity split=eval", &err), &err);
    CHECK(num("fp32") == fp32_eval && strcmp(str("decided_on"), "eval") == 0);
    CHECK(strstr(str("warning"), "test split") != NULL);

    /* fallback: drop<=1% and drop<=0.01 are one threshold */
    CHECK_OK(run(app, "fallback drop<=1%", &err), &err);
    CHECK(num("fp32") == fp32_calib && num("before") == q_calib);
    CHECK(num("max_drop") == 0.01);
    CHECK(strcmp(str("decided_on"), "calib") == 0 && strcmp(str("scored_on"), "eval") == 0);
    CHECK(num("scored_fp32") == fp32_eval);
    double after = num("after"), scored_after = num("scored_after");
    int64_t bytes = (int64_t)num("bytes_after");
    CHECK(accuracy_on(app, "eval", &err) == scored_after); /* the plan is current */
    CHECK(accuracy_on(app, "calib", &err) == after);
    CHECK_OK(run(app, "variant use pt", &err), &err);
    CHECK_OK(run(app, "fallback drop<=0.01", &err), &err);
    CHECK(num("max_drop") == 0.01 && num("after") == after && num("bytes_after") == bytes);
    CHECK_OK(run(app, "variant use pt", &err), &err);
    CHECK_OK(run(app, "fallback drop=1%", &err), &err);
    CHECK(num("after") == after);
    CHECK_OK(run(app, "variant use pt", &err), &err);
    expect_error("negative", run(app, "fallback drop<=-0.01", &err), &err, QS_EINVAL,
                 "must not be negative");
    expect_error("negative %", run(app, "fallback drop<=-1%", &err), &err, QS_EINVAL,
                 "must not be negative");
    expect_error("malformed", run(app, "fallback drop<=1pt", &err), &err, QS_EINVAL,
                 "0.01 or 1%");
}

/* pick decides on calib and scores the winner on eval; report's pick does the same. */
static void test_pick_report(App *app, QsError *err)
{
    CHECK_OK(cmd_exec_line(app, "mode int8-dyn; quant wgran=channel", err), err);
    CHECK_OK(run(app, "pick size<=10KB drop<=1%", err), err);
    char winner[64];
    snprintf(winner, sizeof winner, "%s", str("winner"));
    double wm = num("winner_metric"), sm = num("scored_metric");
    CHECK(strcmp(str("decided_on"), "calib") == 0 && strcmp(str("scored_on"), "eval") == 0);
    CHECK_OK(run(app, "pick size<=10KB drop<=0.01", err), err);
    CHECK(strcmp(str("winner"), winner) == 0 && num("winner_metric") == wm);
    CHECK(compare_row(app, "calib", winner, err) == wm);
    CHECK(compare_row(app, "eval", winner, err) == sm);
    expect_error("negative", run(app, "pick drop<=-1%", err), err, QS_EINVAL,
                 "must not be negative");

    /* report: the same pick under either spelling; a negative drop fails before writing */
    const char *paths[2] = { "/tmp/qscope_test_decide_a.json", "/tmp/qscope_test_decide_b.json" };
    const char *drops[2] = { "drop<=1%", "drop<=0.01" };
    for (int k = 0; k < 2; k++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "report %s size<=10KB %s", paths[k], drops[k]);
        CHECK_OK(run(app, cmd, err), err);
        void *buf = NULL;
        size_t len;
        CHECK_OK(fileio_read(paths[k], &buf, &len, err), err);
        cJSON *doc = buf ? cJSON_Parse(buf) : NULL;
        const cJSON *pick = cJSON_GetObjectItemCaseSensitive(doc, "pick");
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(pick, "winner");
        const cJSON *on = cJSON_GetObjectItemCaseSensitive(pick, "decided_on");
        CHECK(cJSON_IsString(w) && strcmp(w->valuestring, winner) == 0);
        CHECK(cJSON_IsString(on) && strcmp(on->valuestring, "calib") == 0);
        cJSON_Delete(doc);
        free(buf);
        unlink(paths[k]);
    }
    expect_error("report negative", run(app, "report /tmp/qscope_test_decide_c.json drop<=-1%",
                                        err), err, QS_EINVAL, "must not be negative");
    CHECK(access("/tmp/qscope_test_decide_c.json", F_OK) != 0);
}

/* check: 1% is 0.01, as a number and as an offset */
static void test_check_pct(App *app, QsError *err)
{
    CHECK_OK(cmd_exec_line(app, "let d=0.01; check d == 1%; check d == 0.01; check d <= 1%", err),
             err);
    CHECK_OK(cmd_exec_line(app, "let a=0.5; check a == d+49%; check a > d-1%", err), err);
    expect_error("check 1%", cmd_exec_line(app, "check d < 1%", err), err, QS_ECHECK,
                 "check failed");
}

/* biascorr measures on calib; named eval, it warns. */
static void test_biascorr(App *app, QsError *err)
{
    CHECK_OK(cmd_exec_line(app, "mode int8-static; quant wgran=tensor", err), err);
    CHECK_OK(run(app, "biascorr", err), err);
    CHECK(strcmp(str("decided_on"), "calib") == 0 && !result_get(&res, "warning"));
    CHECK_OK(run(app, "biascorr split=eval", err), err);
    CHECK(strcmp(str("decided_on"), "eval") == 0 && result_get(&res, "warning"));
    CHECK_OK(run(app, "biascorr off", err), err);
}

/* qat picks its epoch on calib, makes its variant current, and eval then measures it. */
static void test_qat(App *app, double fp32_calib, QsError *err)
{
    (void)fp32_calib;
    CHECK_OK(cmd_exec_line(app, "variant use pt", err), err);
    double ptq_calib = accuracy_on(app, "calib", err), ptq_eval = accuracy_on(app, "eval", err);
    CHECK_OK(run(app, "qat epochs=1 lr=0.001 seed=1", err), err);
    CHECK(strcmp(str("decided_on"), "calib") == 0 && strcmp(str("scored_on"), "eval") == 0);
    CHECK(strcmp(str("current"), "qat") == 0);
    CHECK(num("ptq_metric") == ptq_calib && num("scored_ptq_metric") == ptq_eval);
    double int8 = num("int8_metric"), scored = num("scored_metric");
    bool kept_ptq = num("best_epoch") == 0;
    CHECK(strcmp(str("kept"), kept_ptq ? "ptq" : "qat") == 0);
    CHECK(accuracy_on(app, "eval", err) == scored);  /* eval after qat: the qat variant */
    CHECK(accuracy_on(app, "calib", err) == int8);
    CHECK(scored != ptq_eval);
    /* an epoch that cannot improve (Adam moves every parameter by about lr = 1e-12, ranges
     * learned, so nothing moves measurably) keeps epoch 0, and qat says it is the PTQ model */
    CHECK_OK(run(app, "variant use pt", err), err);
    CHECK_OK(run(app, "qat epochs=1 lr=0.000000000001 scales=learn seed=1 as=qat_still", err),
             err);
    CHECK(num("best_epoch") == 0 && strcmp(str("kept"), "ptq") == 0);
    CHECK(num("int8_metric") == ptq_calib && num("scored_metric") == ptq_eval);
    bool said = false;
    for (int i = 0; i < res.n_text; i++)
        said |= strstr(res.text[i], "holds the PTQ model (epoch 0)") != NULL;
    CHECK(said);
    CHECK(accuracy_on(app, "eval", err) == ptq_eval);
    CHECK_OK(run(app, "variant use pt", err), err);
    CHECK_OK(run(app, "qat epochs=1 lr=0.001 seed=1 val=eval as=qat_eval", err), err);
    CHECK(strcmp(str("decided_on"), "eval") == 0 && result_get(&res, "warning"));
    CHECK(num("ptq_metric") == ptq_eval);
}

/* train picks its best epoch on calib by default (the model then holds that epoch). */
static void test_train(App *app, QsError *err)
{
    CHECK_OK(cmd_exec_line(app, "mode fp32", err), err);
    CHECK_OK(run(app, "train epochs=1 lr=0.0001 seed=1", err), err);
    CHECK(strcmp(str("decided_on"), "calib") == 0);
    double best = num("best_metric");
    CHECK(accuracy_on(app, "calib", err) == best);
    CHECK_OK(run(app, "train epochs=1 lr=0.0001 seed=1 val=eval", err), err);
    CHECK(strcmp(str("decided_on"), "eval") == 0 && result_get(&res, "warning"));
}

int main(void)
{
    result_init(&res, "");
    test_eval_only();
    App app;
    app_init(&app);
    QsError err = { 0 };
    CHECK_OK(cmd_exec_line(&app, "load models/mnist_dw.qsm;" DATA_TRAIN DATA_CALIB DATA_EVAL
                                 "calibrate n=300", &err), &err);
    double fp32_calib = accuracy_on(&app, "calib", &err);
    double fp32_eval = accuracy_on(&app, "eval", &err);
    CHECK(fp32_calib != fp32_eval); /* else the splits could not be told apart */
    test_sens_fallback(&app, fp32_calib, fp32_eval);
    test_pick_report(&app, &err);
    test_check_pct(&app, &err);
    test_biascorr(&app, &err);
    test_qat(&app, fp32_calib, &err);
    test_train(&app, &err);
    app_release(&app);
    result_release(&res);
    return test_summary("decide");
}
