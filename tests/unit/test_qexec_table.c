/* Unary ops as int8 lookup tables at int8-static (STEP_Q_TABLE: Sigmoid, Tanh, HardSigmoid,
 * HardSwish, Erf, Sqrt, Gelu, SiLU, and Add, Sub, Mul, Div, Pow of an activation and a constant scalar,
 * as the decomposed GELU and LayerNorm hold them): for every int8 input code c, the integer
 * run gives exactly
 * quant_q(f(dq(c))) with f the op's float forward (run by the float executor), the
 * fake-quant run gives the same values, and the layer reports an integer kernel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "qexec/qexec.h"
#include "qexec/qexec_view.h"
#include "quant/calib.h"
#include "run/run.h"
#include "test_quant.h"
#include "test_util.h"

/* x (256) -> op(x[, k]) -> y, k the constant scalar `k` when binary; x calibrated to
 * [xlo, xhi] (so every code is a distinct input), y to [ylo, yhi]. */
static void check_op_k(int op, const char *name, bool binary, float k, float xlo, float xhi,
                       float ylo, float yhi, int min_distinct)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(1, (int64_t)256);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    if (binary) {
        Tensor *kt = tensor_new(DT_F32, shape_of(0), &err);
        tensor_f32(kt)[0] = k;
        CHECK_OK(graph_add_const(g, "k", kt, false, &err), &err);
    }
    const char *in[2] = { "x", "k" };
    CHECK_OK(graph_add_node(g, op, name, in, binary ? 2 : 1, "y", NULL, 0, &err), &err);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);

    Calibration cal = { 0 };
    cal.n_values = g->n_values;
    cal.stats = xmalloc((size_t)g->n_values * sizeof *cal.stats);
    cal.samples = 1;
    cal.ma_momentum = 0.01;
    for (int v = 0; v < g->n_values; v++)
        act_stats_init(&cal.stats[v]);
    const float xr[2] = { xlo, xhi }, yr[2] = { ylo, yhi };
    act_stats_observe(&cal.stats[graph_find_value(g, "x")], xr, 2, 0.01);
    act_stats_observe(&cal.stats[graph_find_value(g, "y")], yr, 2, 0.01);
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q = NULL;
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
        const QLayerInfo *li = qmodel_layer(q, 0);
        CHECK(li->integer && !li->fallback);
        QParams px, py = li->act;
        CHECK(qmodel_value_qparams(q, graph_find_value(g, "x"), &px));
        Tensor *x = tensor_new(DT_F32, shape_of(2, (int64_t)1, (int64_t)256), &err);
        for (int c = 0; c < 256; c++)
            tensor_f32(x)[c] = quant_dq(c - 128, &px);
        FloatExec *fe;
        Tensor *yf32 = tu_run(exec_float_new(g, &fe), x);
        exec_float_free(fe);
        Tensor *yi = tu_run(qmodel_executor(q), x), *yq = tu_run(qmodel_fake_executor(q), x);
        if (yf32 && yi && yq) {
            int32_t want[256], got[256], fake[256];
            int distinct = 0;
            for (int c = 0; c < 256; c++) {
                want[c] = quant_q(tensor_f32(yf32)[c], &py);
                got[c] = quant_q(tensor_f32(yi)[c], &py);   /* dq(code) back to its code */
                fake[c] = quant_q(tensor_f32(yq)[c], &py);
                distinct += c == 0 || want[c] != want[c - 1];
            }
            char l[64];
            snprintf(l, sizeof l, "%s table, integer", name);
            expect_equal_i32(l, got, want, 256);
            snprintf(l, sizeof l, "%s table, fake-quant", name);
            expect_equal_i32(l, fake, want, 256);
            CHECK(distinct >= min_distinct); /* the table is not trivially flat */
            if (distinct < min_distinct)
                fprintf(stderr, "%s: %d distinct output codes\n", name, distinct);
        }
        tensor_free(x);
        tensor_free(yf32);
        tensor_free(yi);
        tensor_free(yq);
    }
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

static void check_op(int op, const char *name, float ylo, float yhi, int min_distinct)
{
    check_op_k(op, name, false, 0.0f, -7.0f, 5.0f, ylo, yhi, min_distinct);
}

int main(void)
{
    check_op(OP_SIGMOID, "sigmoid", 0.0f, 1.0f, 120); /* 143 measured */
    check_op(OP_TANH, "tanh", -1.0f, 1.0f, 80);        /* 87 measured */
    check_op(OP_HARDSIGMOID, "hardsigmoid", 0.0f, 1.0f, 100);
    check_op(OP_HARDSWISH, "hardswish", -0.5f, 5.0f, 100);
    check_op(OP_ERF, "erf", -1.0f, 1.0f, 60); /* 71 measured */
    check_op(OP_GELU, "gelu", -0.2f, 5.0f, 100);
    check_op(OP_SILU, "silu", -0.3f, 5.0f, 100);
    check_op_k(OP_SQRT, "sqrt", false, 0.0f, 0.0f, 9.0f, 0.0f, 3.0f, 100);
    /* the GELU chain x / sqrt 2, erf, + 1, * 0.5 and the LayerNorm chain ^2, + eps */
    check_op_k(OP_DIV, "div_k", true, 1.4142135f, -7.0f, 5.0f, -5.0f, 3.6f, 200);
    check_op_k(OP_ADD, "add_k", true, 1.0f, -1.0f, 1.0f, 0.0f, 2.0f, 200);
    check_op_k(OP_MUL, "mul_k", true, 0.5f, -7.0f, 5.0f, -3.5f, 2.5f, 200);
    check_op_k(OP_POW, "pow_k", true, 2.0f, -7.0f, 5.0f, 0.0f, 49.0f, 100);
    check_op_k(OP_SUB, "sub_k", true, 0.25f, -7.0f, 5.0f, -7.25f, 4.75f, 200);
    return test_summary("qexec_table");
}
