/* The inspection commands.
 *
 * `hist LAYER weights` on a hand-built Conv + BatchNorm whose folded weights and integer
 * codes are known by hand: per-channel min/max, levels used, zeroed weights and their
 * share, the median range and the widest channel, under both weight granularities, and
 * asked through the BatchNorm the unit absorbs.
 *
 * `layers`' kernel column on the tiny_cnn fixture: what runs under the current plan (float
 * throughout an fp32 plan, calibrated or not), the calibrated fp32 plan's quantization
 * columns labelled as an int8-static preview. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/app.h"
#include "cmds/commands.h"
#include "graph/model.h"
#include "ops/op.h"
#include "test_graph.h"
#include "test_util.h"

/* Folded weights (BatchNorm scale 4 / sqrt(4 + 0) = 2 exactly) of 3 channels, 4 each:
 *   ch 0: 1.27 0.5 -0.004 0     range 1.274
 *   ch 1: 0.03 -0.02 0.003 0.006 range 0.05
 *   ch 2: 0.1 -0.1 0.04 0.02    range 0.2 (the median) */
static const float folded[3][4] = {
    { 1.27f, 0.5f, -0.004f, 0.0f },
    { 0.03f, -0.02f, 0.003f, 0.006f },
    { 0.1f, -0.1f, 0.04f, 0.02f },
};

/* x (1, 3, 3) -> Conv 2x2 "conv" (3 channels, weights folded / 2) -> BatchNorm "bn". */
static Model *conv_bn_model(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(3, (int64_t)1, (int64_t)3, (int64_t)3);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    float w[12];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++)
            w[c * 4 + i] = folded[c][i] / 2; /* exact: a power of two */
    tu_add_const_values(g, "conv.w", shape_of(4, (int64_t)3, (int64_t)1, (int64_t)2, (int64_t)2), w);
    const float gamma[3] = { 4, 4, 4 }, zero[3] = { 0, 0, 0 }, var[3] = { 4, 4, 4 };
    tu_add_const_values(g, "bn.scale", shape_of(1, (int64_t)3), gamma);
    tu_add_const_values(g, "bn.B", shape_of(1, (int64_t)3), zero);
    tu_add_const_values(g, "bn.mean", shape_of(1, (int64_t)3), zero);
    tu_add_const_values(g, "bn.var", shape_of(1, (int64_t)3), var);
    int64_t k2[2] = { 2, 2 };
    const char *cin[2] = { "x", "conv.w" };
    Attr ca[1] = { attr_ints("kernel_shape", k2, 2) };
    tu_add_node(g, OP_CONV, "conv", cin, 2, ca, 1);
    const char *bin[5] = { "conv", "bn.scale", "bn.B", "bn.mean", "bn.var" };
    Attr ba[1] = { attr_float("epsilon", 0.0f) };
    tu_add_node(g, OP_BATCHNORM, "bn", bin, 5, ba, 1);
    CHECK_OK(graph_add_output(g, "bn", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    CHECK_OK(model_pack(m, &err), &err);
    return m;
}

static int64_t get_int(const Result *r, const char *key)
{
    const RValue *v = result_get(r, key);
    return v && v->type == RV_INT ? v->i : -999;
}

static double get_num(const Result *r, const char *key)
{
    const RValue *v = result_get(r, key);
    return v && v->type == RV_FLOAT ? v->f : v && v->type == RV_INT ? (double)v->i : NAN;
}

static const char *get_str(const Result *r, const char *key)
{
    const RValue *v = result_get(r, key);
    return v && v->type == RV_STR ? v->s : "";
}

/* Cell (row, column name) of table `table`, or NULL. */
static const RValue *tcell(const Result *r, const char *table, int row, const char *col)
{
    for (int t = 0; t < r->n_tables; t++) {
        const RTable *tb = &r->tables[t];
        if (strcmp(tb->name, table) != 0)
            continue;
        for (int c = 0; c < tb->n_cols; c++)
            if (strcmp(tb->cols[c], col) == 0 && row < tb->n_rows)
                return &tb->cells[row * tb->n_cols + c];
    }
    return NULL;
}

/* A by_channel cell as a number. */
static double cell(const Result *r, int row, const char *col)
{
    const RValue *v = tcell(r, "by_channel", row, col);
    return !v ? NAN : v->type == RV_INT ? (double)v->i : v->type == RV_FLOAT ? v->f : NAN;
}

static int table_rows(const Result *r, const char *table)
{
    for (int t = 0; t < r->n_tables; t++)
        if (strcmp(r->tables[t].name, table) == 0)
            return r->tables[t].n_rows;
    return -1;
}

static void test_hist_weights(void)
{
    App app;
    app_init(&app);
    session_set_model(&app.session, conv_bn_model(), "hand.qsm", NULL, 0);
    Result r;
    result_init(&r, "");
    QsError err = { 0 };

    /* per tensor: scale 1.27 / 127 = 0.01. ch 0 codes 127, 50, 0 (-0.4 rounds to 0: one of
     * its 3 nonzero weights lost), 0: 3 levels; ch 1 codes 3, -2, 0 (0.3: lost), 1: 4 levels;
     * ch 2 codes 10, -10, 4, 2: 4 levels. 2 of 11 nonzero weights round to zero. */
    CHECK_OK(cmd_exec(&app, "quant wgran=tensor", &r, &err), &err);
    if (CHECK_OK(cmd_exec(&app, "hist conv weights", &r, &err), &err)) {
        CHECK(strcmp(get_str(&r, "what"), "weights") == 0);
        CHECK(strcmp(get_str(&r, "unit"), "conv") == 0);
        CHECK(strcmp(get_str(&r, "wgran"), "tensor") == 0);
        CHECK(get_int(&r, "channels") == 3 && get_int(&r, "per_channel") == 4);
        CHECK(get_int(&r, "bits") == 8 && get_int(&r, "grid_levels") == 255);
        CHECK(table_rows(&r, "by_channel") == 3);
        static const int levels[3] = { 3, 4, 4 }, zeroed[3] = { 1, 1, 0 };
        for (int c = 0; c < 3; c++) {
            CHECK(cell(&r, c, "channel") == c);
            CHECK(cell(&r, c, "levels") == levels[c]);
            CHECK(cell(&r, c, "zeroed") == zeroed[c]);
        }
        CHECK(cell(&r, 0, "min") == -0.004f && cell(&r, 0, "max") == 1.27f);
        CHECK(cell(&r, 1, "min") == -0.02f && cell(&r, 1, "max") == 0.03f);
        CHECK(cell(&r, 0, "zero_share") == 1.0 / 3 && cell(&r, 1, "zero_share") == 0.25);
        CHECK(cell(&r, 2, "zero_share") == 0.0);
        CHECK(get_int(&r, "levels_min") == 3 && get_int(&r, "levels_max") == 4);
        CHECK(get_int(&r, "nonzero") == 11 && get_int(&r, "zeroed") == 2);
        CHECK(get_num(&r, "zero_share") == 2.0 / 11);
        CHECK(get_num(&r, "min") == -0.1f && get_num(&r, "max") == 1.27f);
        /* median range: ch 2's 0.2; ch 0 spans 1.274 / 0.2 = 6.37 times it (float ranges:
         * within 1e-6) */
        CHECK(fabs(get_num(&r, "median_range") - 0.2) < 1e-6);
        CHECK(get_int(&r, "widest_channel") == 0);
        CHECK(fabs(get_num(&r, "widest_x") - 6.37) < 1e-5);
        CHECK(strcmp(get_str(&r, "widest"),
                     "ch 0 (6.4x the median range), ch 2 (1.0x), ch 1 (0.2x)") == 0);
        CHECK(strcmp(get_str(&r, "listed"), "all") == 0);
    }
    /* per channel: ch 0 keeps scale 0.01 and its lost weight; ch 1 (scale 0.03 / 127) codes
     * 127, -85, 13, 25; ch 2 (0.1 / 127) 127, -127, 51, 25: 1 of 11 lost. Asked through the
     * BatchNorm, the unit's head answers. top=2 lists the two widest, widest first. */
    CHECK_OK(cmd_exec(&app, "quant wgran=channel", &r, &err), &err);
    if (CHECK_OK(cmd_exec(&app, "hist bn weights top=2", &r, &err), &err)) {
        CHECK(strcmp(get_str(&r, "unit"), "conv") == 0);
        CHECK(strcmp(get_str(&r, "wgran"), "channel") == 0);
        CHECK(get_int(&r, "zeroed") == 1 && get_num(&r, "zero_share") == 1.0 / 11);
        CHECK(strcmp(get_str(&r, "listed"), "widest") == 0);
        CHECK(table_rows(&r, "by_channel") == 2);
        CHECK(cell(&r, 0, "channel") == 0 && cell(&r, 1, "channel") == 2);
        CHECK(cell(&r, 0, "levels") == 3 && cell(&r, 1, "levels") == 4);
        CHECK(fabs(cell(&r, 1, "scale") - 0.1 / 127) < 1e-9);
    }
    /* a name that is no layer */
    expect_error("no weights", cmd_exec(&app, "hist x weights", &r, &err), &err, QS_ENOTFOUND,
                 "no layer named 'x'");
    result_release(&r);
    app_release(&app);
}

/* Every layer's kernel cell equals `want`, or, for want NULL, the expected[] entries. */
static void check_kernels(const Result *r, const char *want, const char *const *expected)
{
    int n = table_rows(r, "layers");
    CHECK(n == 10);
    for (int i = 0; i < n; i++) {
        const RValue *v = tcell(r, "layers", i, "kernel");
        const char *e = want ? want : expected[i];
        if (!CHECK(v && v->type == RV_STR && strcmp(v->s, e) == 0))
            fprintf(stderr, "  layer %d: kernel %s, expected %s\n", i,
                    v && v->type == RV_STR ? v->s : "(none)", e);
    }
}

static void test_layers_kernel(void)
{
    App app;
    app_init(&app);
    Result r;
    result_init(&r, "");
    QsError err = { 0 };
    CHECK_OK(cmd_exec(&app, "load tests/fixtures/models/tiny_cnn.qsm", &r, &err), &err);
    /* fp32, no calibration: the float graph runs, nothing to preview */
    if (CHECK_OK(cmd_exec(&app, "layers", &r, &err), &err)) {
        check_kernels(&r, "float", NULL);
        CHECK(!result_get(&r, "preview"));
        CHECK(!tcell(&r, "layers", 0, "scale") || tcell(&r, "layers", 0, "scale")->type == RV_NULL);
    }
    CHECK_OK(cmd_exec(&app, "data calib models/data/mnist_train.npz n=64 "
                            "scale=0.00392156886", &r, &err), &err);
    CHECK_OK(cmd_exec(&app, "calibrate", &r, &err), &err);
    /* fp32, calibrated: still float everywhere; the scales are int8-static's, labelled */
    if (CHECK_OK(cmd_exec(&app, "layers", &r, &err), &err)) {
        check_kernels(&r, "float", NULL);
        const RValue *pv = result_get(&r, "preview"), *note = result_get(&r, "note");
        CHECK(pv && pv->type == RV_STR && strcmp(pv->s, "int8-static") == 0);
        CHECK(note && note->type == RV_STR && strstr(note->s, "preview int8-static"));
        const RValue *sc = tcell(&r, "layers", 0, "scale");
        CHECK(sc && sc->type == RV_FLOAT && sc->f > 0);
    }
    /* int8-static: integer kernels, BatchNorm and activations fused into their conv */
    static const char *const int8[10] = { "int8", "fused", "fused", "int8", "int8",
                                          "fused", "fused", "int8", "int8", "int8" };
    CHECK_OK(cmd_exec(&app, "mode int8-static", &r, &err), &err);
    if (CHECK_OK(cmd_exec(&app, "layers", &r, &err), &err)) {
        check_kernels(&r, NULL, int8);
        CHECK(!result_get(&r, "preview"));
    }
    /* back to fp32: float again, the preview again */
    CHECK_OK(cmd_exec(&app, "mode fp32", &r, &err), &err);
    if (CHECK_OK(cmd_exec(&app, "layers", &r, &err), &err)) {
        check_kernels(&r, "float", NULL);
        CHECK(result_get(&r, "preview") != NULL);
    }
    result_release(&r);
    app_release(&app);
}

int main(void)
{
    test_hist_weights();
    test_layers_kernel();
    return test_summary("inspect");
}
