/* pick and export on a model with parts (the Deep Sets spec: encoder peers -> pool, head
 * pool, ego -> logits): a column of deployed bytes per part, size<= applied to each part
 * rather than to the whole model, and parts exported as .qsm/.onnx with the variant's plan,
 * loaded back and found to reproduce the source's values exactly. The model is an
 * untrained Deep Sets spec written here (so that the byte counts below do not move with
 * the bundled model): sizes and reproduction do not depend on what it learnt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/app.h"
#include "cmds/commands.h"
#include "test_util.h"

static App app;
static Result res;
static char tmp[128];

static const char *spec =
    "{\"inputs\": [{\"name\": \"peers\", \"shape\": [8, 6]}, {\"name\": \"ego\", "
    "\"shape\": [4]}], \"task\": \"policy\","
    " \"parts\": {\"encoder\": {\"inputs\": [\"peers\"], \"outputs\": [\"pool\"]},"
    "           \"head\": {\"inputs\": [\"pool\", \"ego\"], \"outputs\": [\"logits\"]}},"
    " \"layers\": ["
    "  {\"kind\": \"dense\", \"name\": \"enc1\", \"out\": 64, \"from\": \"peers\"},"
    "  {\"kind\": \"relu\"}, {\"kind\": \"dense\", \"name\": \"enc2\", \"out\": 64},"
    "  {\"kind\": \"relu\"}, {\"kind\": \"mean\", \"name\": \"pool\", \"axes\": [1]},"
    "  {\"kind\": \"concat\", \"name\": \"joint\", \"from\": [\"pool\", \"ego\"]},"
    "  {\"kind\": \"dense\", \"name\": \"head1\", \"out\": 128}, {\"kind\": \"relu\"},"
    "  {\"kind\": \"dense\", \"name\": \"head2\", \"out\": 128}, {\"kind\": \"relu\"},"
    "  {\"kind\": \"dense\", \"name\": \"logits\", \"out\": 5}]}";

static bool run(const char *line)
{
    QsError err = { 0 };
    return CHECK_OK(cmd_exec(&app, line, &res, &err), &err);
}

static const RTable *table(const char *name)
{
    for (int i = 0; i < res.n_tables; i++)
        if (strcmp(res.tables[i].name, name) == 0)
            return &res.tables[i];
    return NULL;
}

static int col(const RTable *t, const char *name)
{
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->cols[c], name) == 0)
            return c;
    return -1;
}

static const RValue *cell(const RTable *t, const char *variant, const char *column)
{
    int c = col(t, column);
    for (int r = 0; c >= 0 && r < t->n_rows; r++)
        if (strcmp(t->cells[r * t->n_cols].s, variant) == 0)
            return &t->cells[r * t->n_cols + c];
    return NULL;
}

static const char *field_str(const char *key)
{
    const RValue *v = result_get(&res, key);
    return v && v->type == RV_STR ? v->s : "";
}

static double field_num(const char *key)
{
    const RValue *v = result_get(&res, key);
    return !v ? -1 : v->type == RV_FLOAT ? v->f : (double)v->i;
}

static void test_pick(void)
{
    if (!run("pick size<=60KB"))
        return;
    const RTable *t = table("variants");
    if (!CHECK(t && col(t, "bytes_encoder") >= 0 && col(t, "bytes_head") >= 0))
        return;
    /* head: 68*128+128 + 128*128+128 + 128*5+5 = 25989 weights; encoder 6*64+64 + 64*64+64
     * = 4608: float32 and half bytes exactly */
    const RValue *h = cell(t, "fp32", "bytes_head"), *e = cell(t, "fp32", "bytes_encoder");
    CHECK(h && h->i == 25989 * 4 && e && e->i == 4608 * 4);
    const RValue *h16 = cell(t, "fp16", "bytes_head");
    CHECK(h16 && h16->i == 25989 * 2);
    /* every row's parts partition its weights */
    for (int r = 0; r < t->n_rows; r++) {
        const RValue *b = &t->cells[r * t->n_cols + col(t, "bytes")];
        const RValue *pe = &t->cells[r * t->n_cols + col(t, "bytes_encoder")];
        const RValue *ph = &t->cells[r * t->n_cols + col(t, "bytes_head")];
        CHECK(b->type == RV_INT && pe->i + ph->i == b->i);
    }
    /* fp32 fails on its head alone; fp16's head (52 KB) fits */
    const RValue *ok32 = cell(t, "fp32", "size_ok"), *ok16 = cell(t, "fp16", "size_ok");
    CHECK(ok32 && ok32->i == 0 && ok16 && ok16->i == 1);
    const RValue *why = cell(t, "fp32", "verdict");
    CHECK(why && strstr(why->s, "head 104.0 KB > 60 KB") && !strstr(why->s, "encoder"));
    CHECK(strcmp(field_str("winner"), "fp32") != 0 &&
          strcmp(field_str("size_rule"), "each part") == 0);

    /* the whole model is 122.4 KB, but each part fits under 110 KB: fp32 qualifies */
    if (!run("pick size<=110KB"))
        return;
    t = table("variants");
    ok32 = t ? cell(t, "fp32", "size_ok") : NULL;
    CHECK(ok32 && ok32->i == 1);
    /* under 10 KB no head qualifies, and pick says so per part */
    QsError err = { 0 };
    expect_error("none", cmd_exec(&app, "pick size<=10KB", &res, &err), &err, QS_ECHECK,
                 "no variant meets every constraint");
}

static void test_export(void)
{
    char line[512];
    /* encoder and head of the int8-static variant: loaded back, they give exactly the
     * source's values at pool and at the logits on every eval sample */
    snprintf(line, sizeof line, "export %s_enc.qsm part=encoder variant=ptq", tmp);
    if (run(line)) {
        CHECK(field_num("verified") == 200 && field_num("max_abs_diff") == 0.0);
        CHECK(strcmp(field_str("cut"), "peers -> pool") == 0 && field_num("layers") == 5);
        CHECK(strcmp(field_str("layout"), "qsm+variant") == 0);
    }
    snprintf(line, sizeof line, "export %s_head.qsm part=head variant=ptq", tmp);
    if (run(line)) {
        CHECK(field_num("verified") == 200 && field_num("max_abs_diff") == 0.0);
        CHECK(strcmp(field_str("cut"), "pool,ego -> logits") == 0);
        /* int8 weights plus per-channel scales and int32 biases: well under the float
         * head's 104 KB */
        CHECK(field_num("deployed_bytes") > 25989 && field_num("deployed_bytes") < 30000);
    }
    /* a precision row of pick (not a saved variant) exports too: fp16 halves the head */
    snprintf(line, sizeof line, "export %s_head16.qsm part=head variant=fp16", tmp);
    if (run(line)) {
        CHECK(field_num("verified") == 200 && field_num("max_abs_diff") == 0.0);
        CHECK(field_num("deployed_bytes") == 25989 * 2 &&
              strcmp(field_str("plan"), "fp16") == 0);
    }
    /* any cut, under the current plan (fp32 here) and as ONNX; verify=50 samples */
    snprintf(line, sizeof line, "mode fp32; export %s_cut.onnx inputs=pool,ego outputs=joint "
             "verify=50", tmp);
    QsError err = { 0 };
    if (CHECK_OK(cmd_exec_line(&app, line, &err), &err)) {
        const Result *l = &app.last;
        const RValue *v = result_get(l, "verified"), *d = result_get(l, "max_abs_diff");
        CHECK(v && v->i == 50 && d && d->f == 0.0);
    }
    /* a quantized ONNX part is written but not loaded back here */
    snprintf(line, sizeof line, "export %s_head.onnx part=head variant=ptq", tmp);
    if (run(line)) {
        CHECK(field_num("verified") == 0 && strstr(field_str("verify_note"), "ONNX Runtime"));
        CHECK(strcmp(field_str("layout"), "qdq-int8") == 0);
    }
    /* the head loads as a model of its own, with the variant (in a fresh session: the
     * splits here are the whole model's inputs) */
    App other;
    app_init(&other);
    Result r2;
    result_init(&r2, "");
    snprintf(line, sizeof line, "load %s_head.qsm", tmp);
    if (CHECK_OK(cmd_exec(&other, line, &r2, &err), &err)) {
        const RValue *ni = result_get(&r2, "inputs"), *nl = result_get(&r2, "layers"),
                     *nv = result_get(&r2, "variants");
        CHECK(ni && ni->i == 2 && nl && nl->i == 6 && nv && nv->i == 1);
    }
    result_release(&r2);
    app_release(&other);
    expect_error("unknown part", cmd_exec(&app, "export /tmp/x.qsm part=tail", &res, &err),
                 &err, QS_ENOTFOUND, "no part 'tail' (parts: encoder, head)");
    expect_error("suffix", cmd_exec(&app, "export /tmp/x.bin", &res, &err), &err, QS_EINVAL,
                 "PATH.onnx, PATH.qsm or PATH.tflite");
    expect_error("both", cmd_exec(&app, "export /tmp/x.qsm part=a inputs=b", &res, &err), &err,
                 QS_EINVAL, "not both");
    expect_error("half a cut", cmd_exec(&app, "export /tmp/x.qsm inputs=pool", &res, &err),
                 &err, QS_EINVAL, "needs both");
    const char *suffix[] = { "_enc.qsm", "_head.qsm", "_head16.qsm", "_cut.onnx", "_head.onnx" };
    for (int i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "%s%s", tmp, suffix[i]);
        remove(line);
    }
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/qscope_pick_parts_%ld", (long)getpid());
    char spec_path[160], line[200];
    snprintf(spec_path, sizeof spec_path, "%s_spec.json", tmp);
    FILE *f = fopen(spec_path, "w");
    if (!CHECK(f != NULL))
        return test_summary("pick_parts");
    bool written = fputs(spec, f) >= 0;
    written &= fclose(f) == 0;
    if (!CHECK(written))
        return test_summary("pick_parts");
    app_init(&app);
    result_init(&res, "");
    snprintf(line, sizeof line, "init %s", spec_path);
    if (run(line) &&
        run("data eval synth:deepsets n=200 seed=2") &&
        run("data calib synth:deepsets n=200 seed=3") && run("calibrate") &&
        run("mode int8-static") && run("variant save ptq")) {
        test_pick();
        test_export();
    }
    result_release(&res);
    app_release(&app);
    remove(spec_path);
    return test_summary("pick_parts");
}
