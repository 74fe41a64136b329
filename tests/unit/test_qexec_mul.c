/* Mul (STEP_Q_MUL) and Add of two int8 activations with numpy broadcasting at int8-static,
 * on x (4, 3, 5) -> GlobalAveragePool -> g (4, 1, 1) -> op(x, g) -> y: a per-channel gate
 * (the squeeze-excitation Mul of MobileNetV3 and EfficientNet, a broadcast residual).
 *   - every target: the layer runs integer, and its codes are within one code of the
 *     fake-quant run (the float product or sum of the dequantized inputs, fake-quantized:
 *     the integer rules round the same exact value once, the float twin rounds s_a s_b p
 *     in float first, so they part only next to a rounding boundary);
 *   - qscope's Mul: each code is round(p s_a s_b / s_out) + z_out computed in double from
 *     the codes the run read (p the exact int32 product), exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "qexec/qexec.h"
#include "qexec/qexec_view.h"
#include "quant/calib.h"
#include "quant/target.h"
#include "run/run.h"
#include "test_quant.h"
#include "test_util.h"

enum { N = 6, C = 4, H = 3, W = 5, HW = H * W };

typedef struct Case {
    Model *m;
    Calibration cal;
    Plan p;
    QModel *q;
    QParams px, pg, py;
} Case;

static bool case_build(Case *c, int op, int target)
{
    QsError err = { 0 };
    memset(c, 0, sizeof *c);
    c->m = model_new();
    Graph *g = &c->m->graph;
    Shape xs = shape_of(3, (int64_t)C, (int64_t)H, (int64_t)W);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    const char *in1[1] = { "x" }, *in2[2] = { "x", "g" };
    CHECK_OK(graph_add_node(g, OP_GLOBALAVGPOOL, "gap", in1, 1, "g", NULL, 0, &err), &err);
    CHECK_OK(graph_add_node(g, op, "op", in2, 2, "y", NULL, 0, &err), &err);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    int vals[3] = { graph_find_value(g, "x"), graph_find_value(g, "g"),
                    graph_find_value(g, "y") };
    const float ranges[3][2] = { { -3.0f, 3.0f }, { -1.5f, 2.0f }, { -4.0f, 5.0f } };
    tu_hand_calibration(g, &c->cal, vals, ranges, 3);
    if (!CHECK_OK(tu_int8_build(c->m, &c->cal, target, &c->p, &c->q, &err), &err))
        return false;
    const QLayerInfo *li = qmodel_layer(c->q, 1);
    CHECK(li->integer && !li->fallback);
    CHECK(qmodel_value_qparams(c->q, vals[0], &c->px));
    CHECK(qmodel_value_qparams(c->q, vals[1], &c->pg));
    CHECK(qmodel_value_qparams(c->q, vals[2], &c->py));
    return true;
}

static void case_free(Case *c)
{
    qmodel_free(c->q);
    plan_release(&c->p);
    calib_release(&c->cal);
    model_free(c->m);
}

/* Seeded x on its grid; the output codes of the integer and fake runs, and g's codes (the
 * pool's mean of each plane, the same in both runs' integer pool). */
static bool case_run(Case *c, int32_t *xc, int32_t *gc, int32_t *got, int32_t *fake)
{
    QsError err = { 0 };
    Tensor *x = tensor_new(DT_F32, shape_of(4, (int64_t)N, (int64_t)C, (int64_t)H, (int64_t)W),
                           &err);
    unsigned seed = 99;
    for (int i = 0; i < N * C * HW; i++) {
        seed = seed * 1103515245u + 12345u;
        xc[i] = (int32_t)((seed >> 16) % 256) - 128;
        tensor_f32(x)[i] = quant_dq(xc[i], &c->px);
    }
    for (int i = 0; i < N * C; i++) {
        double sum = 0.0;
        for (int k = 0; k < HW; k++)
            sum += quant_dq(xc[i * HW + k], &c->px);
        gc[i] = quant_q((float)(sum / HW), &c->pg); /* within a code of the pool's rule */
    }
    Tensor *yi = tu_run(qmodel_executor(c->q), x), *yq = tu_run(qmodel_fake_executor(c->q), x);
    bool ok = yi && yq;
    for (int i = 0; ok && i < N * C * HW; i++) {
        got[i] = quant_q(tensor_f32(yi)[i], &c->py);
        fake[i] = quant_q(tensor_f32(yq)[i], &c->py);
    }
    tensor_free(x);
    tensor_free(yi);
    tensor_free(yq);
    return ok;
}

static void check(int op, const char *name, int target)
{
    Case c;
    if (!case_build(&c, op, target)) {
        case_free(&c);
        return;
    }
    enum { NE = N * C * HW };
    int32_t *xc = xmalloc(NE * sizeof *xc), *got = xmalloc(NE * sizeof *got);
    int32_t *fake = xmalloc(NE * sizeof *fake), gc[N * C];
    if (case_run(&c, xc, gc, got, fake)) {
        int64_t far = 0, moved = 0;
        for (int i = 0; i < NE; i++) {
            far += abs(got[i] - fake[i]) > 1;
            moved += got[i] != fake[i];
        }
        CHECK(far == 0);
        fprintf(stderr, "%s %s: %lld of %d codes one step from the fake-quant run\n", name,
                target_table[target].name, (long long)moved, NE);
        int32_t lo = got[0], hi = got[0];
        for (int i = 1; i < NE; i++) {
            lo = got[i] < lo ? got[i] : lo;
            hi = got[i] > hi ? got[i] : hi;
        }
        CHECK(hi - lo >= 100); /* not saturated or flat */
        if (target == QTGT_QSCOPE && op == OP_MUL) {
            /* g's code is the pool's (this test's own mean is within a code of it): one of
             * g - 1, g, g + 1 must reproduce the whole plane */
            int planes_ok = 0;
            for (int pl = 0; pl < N * C; pl++) {
                bool any = false;
                for (int dg = -1; dg <= 1 && !any; dg++) {
                    int32_t gq = gc[pl] + dg;
                    bool all = true;
                    for (int k = 0; k < HW && all; k++) {
                        int i = pl * HW + k;
                        double p = (double)(xc[i] - c.px.zero_point) * (gq - c.pg.zero_point);
                        double v = nearbyint(p * c.px.scale * c.pg.scale / c.py.scale);
                        v += c.py.zero_point;
                        v = v < c.py.qmin ? c.py.qmin : v > c.py.qmax ? c.py.qmax : v;
                        all = got[i] == (int32_t)v;
                    }
                    any = all;
                }
                planes_ok += any;
            }
            CHECK(planes_ok == N * C);
        }
    }
    free(xc);
    free(got);
    free(fake);
    case_free(&c);
}

int main(void)
{
    for (int t = 0; t < QTGT_COUNT; t++) {
        check(OP_MUL, "mul", t);
        check(OP_ADD, "add", t);
    }
    return test_summary("qexec_mul");
}
