/* Variants survive save and load: the reloaded variant gives bit-identical outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/app.h"
#include "cmds/commands.h"
#include "native/qsm.h"
#include "eval/score.h"
#include "test_util.h"

static int emitted;
static void count(App *app, const Result *r)
{
    (void)app, (void)r;
    emitted++;
}

/* Outputs of the named variant on the first 300 eval samples. */
static Tensor *variant_outputs(App *app, const char *name)
{
    QsError err = { 0 };
    Session *s = &app->session;
    const Variant *v = qstate_variant_find(&s->q, name);
    if (!CHECK(v != NULL))
        return NULL;
    Executor ex;
    FloatExec *owner;
    CHECK_OK(qstate_executor(&s->q, s->model, &v->plan, v->calibrated ? &v->calib : NULL, &ex,
                             &owner, &err), &err);
    Score sc;
    Tensor *out = NULL;
    CHECK_OK(score_run(&ex, &s->splits[SPLIT_EVAL], 300, TASK_CLASSIFY, 64, NULL, &out, NULL,
                       &sc, &err), &err);
    score_release(&sc);
    exec_float_free(owner);
    return out;
}

int main(void)
{
    App app;
    app_init(&app);
    app.emit = count;
    QsError err = { 0 };
    char path[] = "/tmp/qscope_variants_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char saved[64];
    snprintf(saved, sizeof saved, "%s.qsm", path);
    const char *setup =
        "load models/mnist_cnn.qsm; source scripts/train/mnist_data.qs; calibrate n=300;"
        "mode int8-static; variant save ptq;"
        "quant wgran=tensor observer=percentile pct=99.9; calibrate n=200; prec fc2 fp16;"
        "variant save mixed; mode fp16; variant save half";
    CHECK_OK(cmd_exec_line(&app, setup, &err), &err);
    Tensor *before[3] = { variant_outputs(&app, "ptq"), variant_outputs(&app, "mixed"),
                          variant_outputs(&app, "half") };
    char line[256];
    snprintf(line, sizeof line, "save %s; load %s; source scripts/train/mnist_data.qs", saved,
             saved);
    CHECK_OK(cmd_exec_line(&app, line, &err), &err);
    CHECK(app.session.q.n_variants == 3);
    const char *names[3] = { "ptq", "mixed", "half" };
    for (int i = 0; i < 3; i++) {
        Tensor *after = variant_outputs(&app, names[i]);
        if (before[i] && after)
            CHECK(memcmp(before[i]->data, after->data, tensor_bytes(after)) == 0);
        tensor_free(before[i]);
        tensor_free(after);
    }
    const Variant *mixed = qstate_variant_find(&app.session.q, "mixed");
    if (CHECK(mixed != NULL)) {
        CHECK(mixed->plan.q.wgran_tensor);
        int fc2 = graph_find_node(&app.session.model->graph, "fc2");
        CHECK(fc2 >= 0 && mixed->plan.pin[fc2] == PREC_FP16);
    }
    /* a damaged variants section fails the load with a clear message, nothing loaded */
    model_meta_set(app.session.model, "variants", "[{\"name\": \"x\"}]");
    snprintf(line, sizeof line, "%s.bad.qsm", path);
    CHECK_OK(qsm_save(line, app.session.model, &err), &err);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "load %s", line);
    Model *keep = app.session.model;
    expect_error("bad variants", cmd_exec_line(&app, cmd, &err), &err, QS_EFORMAT,
                 "variants[0]: 'mode' must name a precision");
    CHECK(app.session.model == keep);
    unlink(line);
    unlink(saved);
    unlink(path);
    app_release(&app);
    return test_summary("variants");
}
