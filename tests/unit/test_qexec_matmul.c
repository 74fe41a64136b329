/* MatMul of two int8 activations at int8-static (STEP_Q_MATMUL): hand-computed codes with
 * rounding ties under the qscope and tflm rules, in the integer run and its fake-quant
 * twin; the layer reports an integer kernel; on random data the integer run against
 * the fake-quant twin within one output step; QAT's training graph treats it as an int8
 * op with its own range, not as a linear unit (which has constant weights). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "ops/op.h"
#include "qat/qat_graph.h"
#include "qexec/qexec.h"
#include "quant/calib.h"
#include "quant/target.h"
#include "test_quant.h"
#include "test_util.h"

/* x (N, R, C) -> a = x, b = Reshape(x) to (N, C, R) (int8 copy: x's parameters) ->
 * y = MatMul(a, b) (N, R, R). */
static Model *square_model(int64_t r, int64_t c)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(2, r, c);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    int64_t to[3] = { 0, c, r };
    Attr a = attr_ints("shape", to, 3);
    const char *in1[1] = { "x" };
    CHECK_OK(graph_add_node(g, OP_RESHAPE, "rs", in1, 1, "b", &a, 1, &err), &err);
    attr_release(&a);
    const char *in2[2] = { "x", "b" };
    CHECK_OK(graph_add_node(g, OP_MATMUL, "mm", in2, 2, "y", NULL, 0, &err), &err);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    return m;
}

/* x (2, 2, 3) on s = 1/16, z = -64 (range [-4, 191/16]); y on s = 1/16, z = -96 (range
 * [-2, 13.9375]); m = s s / s_y = 2^-4. With d = q - z of x:
 *   sample 0: d = [4, -2, 6, 1, 4, -1]: a = [[4, -2, 6], [1, 4, -1]], b = [[4, -2], [6, 1],
 *             [4, -1]]; acc = [28, -16, 24, 3]
 *   sample 1: d = [5, 1, -3, 4, 0, 6]: a = [[5, 1, -3], [4, 0, 6]], b = [[5, 1], [-3, 4],
 *             [0, 6]]; acc = [22, -9, 20, 40]
 * qscope (round half to even of acc / 16): [2, -1, 2, 0], [1, -1, 1, 2] (1.5 -> 2, 2.5 -> 2)
 * tflm (round(acc / 2) then round(/ 8), halves away from zero, TFLite's
 *   MultiplyByQuantizedMultiplier of 0.5 * 2^-3): 3 -> 2 -> 0, -9 -> -5 -> -1, 40 -> 20 -> 3:
 *   [2, -1, 2, 0], [1, -1, 1, 3] */
static void test_hand(int target, const int32_t *want_d, const char *label)
{
    QsError err = { 0 };
    Model *m = square_model(2, 3);
    Graph *g = &m->graph;
    Calibration cal;
    int vals[2] = { graph_find_value(g, "x"), graph_find_value(g, "y") };
    const float ranges[2][2] = { { -4.0f, 191.0f / 16.0f }, { -2.0f, 13.9375f } };
    tu_hand_calibration(g, &cal, vals, ranges, 2);
    Plan p;
    QModel *q;
    if (CHECK_OK(tu_int8_build(m, &cal, target, &p, &q, &err), &err)) {
        const QLayerInfo *li = qmodel_layer(q, 1);
        CHECK(li->integer && !li->fallback);
        CHECK(li->act.scale == 1.0f / 16 && li->act.zero_point == -96);
        const int d[12] = { 4, -2, 6, 1, 4, -1, 5, 1, -3, 4, 0, 6 };
        Tensor *x = tensor_new(DT_F32, shape_of(3, (int64_t)2, (int64_t)2, (int64_t)3), &err);
        for (int i = 0; i < 12; i++)
            tensor_f32(x)[i] = (float)d[i] / 16.0f;
        float want[8]; /* dequantized: (q - z) s with q - z = want_d */
        for (int i = 0; i < 8; i++)
            want[i] = (float)want_d[i] / 16.0f;
        Tensor *yi = tu_run(qmodel_executor(q), x);
        if (yi) {
            char l[96];
            snprintf(l, sizeof l, "%s, integer", label);
            expect_close(l, tensor_f32(yi), want, 8, 0, 0);
        }
        if (target == QTGT_QSCOPE) { /* the twin rounds half to even, as qscope does */
            Tensor *yf = tu_run(qmodel_fake_executor(q), x);
            if (yf)
                expect_close("hand matmul, fake-quant", tensor_f32(yf), want, 8, 0, 0);
            tensor_free(yf);
        }
        tensor_free(x);
        tensor_free(yi);
    }
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

/* x (N, 5, 6) times its Reshape (N, 6, 5), calibrated on the data itself: every output code of the
 * integer run is within one of the fake-quant twin's (the twin sums in float, in another
 * order, so a value next to  a rounding boundary may land one code away), and at least
 * 95 % are equal. */
static void test_random(void)
{
    QsError err = { 0 };
    Model *m = square_model(5, 6);
    Graph *g = &m->graph;
    int64_t n = 4;
    Tensor *x = tensor_new(DT_F32, shape_of(3, n, (int64_t)5, (int64_t)6), &err);
    Rng r;
    rng_seed(&r, 31);
    for (int64_t i = 0; i < tensor_numel(x); i++)
        tensor_f32(x)[i] = (float)(2.0 * rng_uniform(&r) - 0.7);
    Calibration cal;
    Dataset d = { .x = { x }, .n_x = 1 };
    CHECK_OK(calib_run(g, &d, 0, 16, 0.01, NULL, &cal, &err), &err);
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q = NULL;
    QatGraph qg;
    QatGraphOpts qo = { .scales = QAT_SCALES_EMA };
    if (CHECK_OK(qat_graph_build(&qg, m, &p, &cal, &qo, &err), &err)) {
        CHECK(qg.n_units == 0);
        /* the MatMul's output is observed: a FakeQuant with its own range */
        int observed = 0;
        for (int k = 0; k < qg.g.n_nodes; k++)
            observed += qg.act_of_node[k] >= 0;
        CHECK(observed >= 1);
        qat_graph_release(&qg);
    }
    if (CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err)) {
        const QLayerInfo *li = qmodel_layer(q, 1);
        CHECK(li->integer && !li->fallback);
        Tensor *yi = tu_run(qmodel_executor(q), x), *yf = tu_run(qmodel_fake_executor(q), x);
        if (yi && yf) {
            int64_t cnt = tensor_numel(yi), same = 0, far = 0;
            float s = li->act.scale;
            for (int64_t i = 0; i < cnt; i++) {
                float dq = fabsf(tensor_f32(yi)[i] - tensor_f32(yf)[i]) / s;
                same += dq < 0.5f;
                far += dq > 1.5f;
            }
            CHECK(far == 0);
            CHECK(same * 100 >= cnt * 95);
            if (far || same * 100 < cnt * 95)
                fprintf(stderr, "random matmul: %lld of %lld equal, %lld beyond one step\n",
                        (long long)same, (long long)cnt, (long long)far);
        }
        tensor_free(yi);
        tensor_free(yf);
    }
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    tensor_free(x);
    model_free(m);
}

/* Heads folded into the batch, as ViT's attention has them: x (N, 2, 3) -> a = Reshape to
 * (2N, 1, 3), b = Reshape to (2N, 3, 1) -> MatMul (2N, 1, 1). A node-local run of the
 * MatMul (`error local`) at N = 2 takes its batch from a's dim 0 over its dim 0 at batch 1,
 * and gives the integer run's values for the same inputs. */
static void test_folded_local(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(2, (int64_t)2, (int64_t)3);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    const int64_t ta[3] = { -1, 1, 3 }, tb[3] = { -1, 3, 1 };
    Attr aa = attr_ints("shape", ta, 3), ab = attr_ints("shape", tb, 3);
    const char *in1[1] = { "x" }, *in2[2] = { "a", "b" };
    CHECK_OK(graph_add_node(g, OP_RESHAPE, "ra", in1, 1, "a", &aa, 1, &err), &err);
    CHECK_OK(graph_add_node(g, OP_RESHAPE, "rb", in1, 1, "b", &ab, 1, &err), &err);
    attr_release(&aa);
    attr_release(&ab);
    CHECK_OK(graph_add_node(g, OP_MATMUL, "mm", in2, 2, "y", NULL, 0, &err), &err);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    Calibration cal;
    int vals[2] = { graph_find_value(g, "x"), graph_find_value(g, "y") };
    const float ranges[2][2] = { { -4.0f, 191.0f / 16.0f }, { -2.0f, 13.9375f } };
    tu_hand_calibration(g, &cal, vals, ranges, 2);
    Plan p;
    QModel *q;
    if (CHECK_OK(tu_int8_build(m, &cal, QTGT_QSCOPE, &p, &q, &err), &err)) {
        const int d[12] = { 4, -2, 6, 1, 4, -1, 5, 1, -3, 4, 0, 6 };
        Tensor *x = tensor_new(DT_F32, shape_of(3, (int64_t)2, (int64_t)2, (int64_t)3), &err);
        for (int i = 0; i < 12; i++)
            tensor_f32(x)[i] = (float)d[i] / 16.0f;
        Tensor a = tensor_view(DT_F32, shape_of(3, (int64_t)4, (int64_t)1, (int64_t)3), x->data);
        Tensor b = tensor_view(DT_F32, shape_of(3, (int64_t)4, (int64_t)3, (int64_t)1), x->data);
        Tensor *yl = tensor_new(DT_F32, shape_of(3, (int64_t)4, (int64_t)1, (int64_t)1), &err);
        const Tensor *lin[2] = { &a, &b };
        Tensor *yi = tu_run(qmodel_executor(q), x);
        if (CHECK_OK(qmodel_run_node_local(q, 2, lin, yl, &err), &err) && yi)
            expect_close("folded batch, node-local", tensor_f32(yl), tensor_f32(yi), 4, 0, 0);
        tensor_free(yl);
        tensor_free(yi);
        tensor_free(x);
    }
    qmodel_free(q);
    plan_release(&p);
    calib_release(&cal);
    model_free(m);
}

int main(void)
{
    const int32_t dq_qscope[8] = { 2, -1, 2, 0, 1, -1, 1, 2 };
    const int32_t dq_tflm[8] = { 2, -1, 2, 0, 1, -1, 1, 3 };
    test_hand(QTGT_QSCOPE, dq_qscope, "hand matmul qscope");
    test_hand(QTGT_TFLM, dq_tflm, "hand matmul tflm");
    test_random();
    test_folded_local();
    return test_summary("qexec_matmul");
}
