/* The checked float-to-int conversion (base/fconv.h) and the three findings of issue 14 it
 * closes, all with exact expectations:
 *   1. codes near the int32 limits: quant_q / quant_dq with [qmin, qmax] = int32's range and
 *      a nonzero zero point (the differences overflowed int32), and FakeQuant's parse,
 *      which refuses qmin = -2^31;
 *   2. FakeQuant with NaN, infinite, fractional and out-of-range zero points (NaN and
 *      infinite were cast to int: outputs of 2.1e9);
 *   3. a linear unit with a NaN or infinite bias (or weight): int8-static and int8-dyn
 *      refuse the plan naming the layer, where a NaN bias used to reach the int cast; a
 *      finite bias beyond the int32 grid saturates, as documented.
 * docs/quantization.md, "Float to integer", states the rules. Every expectation here is
 * exact: the conversions are integer-valued or IEEE operations on exact integers. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/fconv.h"
#include "base/quant.h"
#include "gradcheck.h"
#include "ops/op.h"
#include "quant/observer.h"
#include "qexec/qexec.h"
#include "test_graph.h"
#include "test_quant.h"
#include "test_util.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- fconv_round ------------------------------------------------------------------------ */

typedef struct FconvCase {
    double x;
    int64_t lo, hi, want;
    FconvHow how;
} FconvCase;

static void test_fconv_round(void)
{
    const int64_t I64MAX = INT64_MAX, I64MIN = INT64_MIN;
    const FconvCase cases[] = {
        /* ties to even, both signs */
        { 0.5, -10, 10, 0, FCONV_EXACT },
        { 1.5, -10, 10, 2, FCONV_EXACT },
        { 2.5, -10, 10, 2, FCONV_EXACT },
        { -2.5, -10, 10, -2, FCONV_EXACT },
        { -3.5, -10, 10, -4, FCONV_EXACT },
        { 2.4999999999999996, -10, 10, 2, FCONV_EXACT },
        /* the bounds themselves are exact; a value that rounds onto a bound too */
        { 10.0, -10, 10, 10, FCONV_EXACT },
        { 10.4, -10, 10, 10, FCONV_EXACT },
        { -10.5, -10, 10, -10, FCONV_EXACT }, /* -10.5 rounds to -10 (even) */
        { 10.5, -10, 10, 10, FCONV_EXACT },   /* 10.5 rounds to 10 (even) */
        { 11.5, -10, 10, 10, FCONV_SATURATED },
        { -11.0, -10, 10, -10, FCONV_SATURATED },
        /* non-finite */
        { INFINITY, -10, 10, 10, FCONV_SATURATED },
        { -INFINITY, -10, 10, -10, FCONV_SATURATED },
        { NAN, -10, 10, 0, FCONV_NAN },
        { NAN, 3, 10, 3, FCONV_NAN },     /* 0 clamped into [lo, hi] */
        { NAN, -10, -4, -4, FCONV_NAN },
        /* int32 and int64 ends: 2^31 and 2^63 have no int32 / int64 representation */
        { 2147483648.0, INT32_MIN, INT32_MAX, INT32_MAX, FCONV_SATURATED },
        { -2147483649.0, INT32_MIN, INT32_MAX, INT32_MIN, FCONV_SATURATED },
        { -2147483648.0, INT32_MIN, INT32_MAX, INT32_MIN, FCONV_EXACT },
        { 2147483647.0, INT32_MIN, INT32_MAX, INT32_MAX, FCONV_EXACT },
        { 9223372036854775808.0, I64MIN, I64MAX, I64MAX, FCONV_SATURATED },
        { 1e300, I64MIN, I64MAX, I64MAX, FCONV_SATURATED },
        { -9223372036854775808.0, I64MIN, I64MAX, I64MIN, FCONV_EXACT },
        { -1e300, I64MIN, I64MAX, I64MIN, FCONV_SATURATED },
        { 9223372036854774784.0, I64MIN, I64MAX, INT64_C(9223372036854774784), FCONV_EXACT },
        { DBL_MAX, 0, 1, 1, FCONV_SATURATED },
        { DBL_TRUE_MIN, -1, 1, 0, FCONV_EXACT },
    };
    for (int i = 0; i < NELEM(cases); i++) {
        const FconvCase *c = &cases[i];
        FconvHow how = (FconvHow)-1;
        int64_t got = fconv_round(c->x, c->lo, c->hi, &how);
        if (!CHECK(got == c->want && how == c->how))
            printf("    case %d: fconv_round(%.17g, %lld, %lld) = %lld (how %d), want %lld (%d)\n",
                   i, c->x, (long long)c->lo, (long long)c->hi, (long long)got, (int)how,
                   (long long)c->want, (int)c->how);
    }
    CHECK(fconv_round(7.5, 0, 100, NULL) == 8); /* how may be NULL */
}

/* ---- finding 1: codes at the int32 limits ----------------------------------------------- */

static void test_quant_int32_limits(void)
{
    /* [qmin, qmax] = int32's whole range with z = 1: qmin - z and qmax - z leave int32 */
    QParams p = { .scale = 1.0f, .zero_point = 1, .qmin = INT32_MIN, .qmax = INT32_MAX };
    CHECK(quant_q(3e9f, &p) == INT32_MAX);
    CHECK(quant_q(-3e9f, &p) == INT32_MIN);
    CHECK(quant_q(INFINITY, &p) == INT32_MAX);
    CHECK(quant_q(-INFINITY, &p) == INT32_MIN);
    CHECK(quant_q(NAN, &p) == 1);
    CHECK(quant_q(-7.0f, &p) == -6);
    /* s (q - z) with q - z = -2^31 - 1 and 2^31 - 2, computed in int64 then rounded to float */
    CHECK(quant_dq(INT32_MIN, &p) == -2147483649.0f);
    CHECK(quant_dq(INT32_MAX, &p) == 2147483646.0f);
    QParams n = { .scale = 0.5f, .zero_point = INT32_MIN, .qmin = INT32_MIN, .qmax = INT32_MAX };
    CHECK(quant_q(1e30f, &n) == INT32_MAX);
    CHECK(quant_dq(INT32_MAX, &n) == 0.5f * 4294967295.0f);
    CHECK(quant_fake(NAN, &n) != quant_fake(NAN, &n));
}

static Node fq_node(int64_t qmin, int64_t qmax)
{
    Attr a[3] = { attr_int("axis", 1), attr_int("qmin", qmin), attr_int("qmax", qmax) };
    Node n = gradcheck_make_node(OP_FAKEQUANT, "fq", 3, a, 3);
    for (int i = 0; i < 3; i++)
        attr_release(&a[i]);
    return n;
}

static void test_fakequant_parse_limits(void)
{
    QsError err;
    Shape x = shape_of(2, (int64_t)2, (int64_t)4), s1 = shape_of(1, (int64_t)1), out;
    const Shape *in[3] = { &x, &s1, &s1 };
    const int64_t bad[][2] = { { INT32_MIN, 127 }, { -128, (int64_t)INT32_MAX + 1 },
                               { INT64_MIN, INT64_MAX } };
    const char *want[] = {
        "FakeQuant 'fq': qmin -2147483648 and qmax 127 must lie in [-(2^31 - 1), 2^31 - 1]",
        "FakeQuant 'fq': qmin -128 and qmax 2147483648 must lie in [-(2^31 - 1), 2^31 - 1]",
        "qmin -9223372036854775808 and qmax 9223372036854775807 must lie in",
    };
    for (int i = 0; i < NELEM(bad); i++) {
        Node nd = fq_node(bad[i][0], bad[i][1]);
        expect_error(want[i], op_table[OP_FAKEQUANT]->infer(&nd, in, &out, &err), &err,
                     QS_EINVAL, want[i]);
        gradcheck_node_release(&nd);
    }
    /* the widest accepted grid (QAT's int32 bias grid) runs exactly: s = 1, z = 5 */
    Node nd = fq_node(-INT32_MAX, INT32_MAX);
    CHECK_OK(op_table[OP_FAKEQUANT]->infer(&nd, in, &out, &err), &err);
    float xs[8] = { 1e10f, -1e10f, 7.0f, -7.5f, INFINITY, -INFINITY, NAN, 2.5f }, y[8];
    float sv = 1.0f, zv = 5.0f;
    Tensor tx = tensor_view(DT_F32, x, xs), ts = tensor_view(DT_F32, s1, &sv),
           tz = tensor_view(DT_F32, s1, &zv), ty = tensor_view(DT_F32, x, y);
    const Tensor *fin[3] = { &tx, &ts, &tz };
    RunCtx rc = { 0 };
    op_table[OP_FAKEQUANT]->forward(&nd, fin, &ty, &rc);
    /* qmax - z = 2147483642 and qmin - z = -2147483652, rounded to float: 2^31 and -2^31 */
    const float want_y[8] = { 2147483648.0f, -2147483648.0f, 7.0f, -8.0f, 2147483648.0f,
                              -2147483648.0f, NAN, 2.0f };
    expect_close("FakeQuant on the int32 grid", y, want_y, 8, 0, 0);
    gradcheck_node_release(&nd);
}

/* ---- finding 2: FakeQuant zero points --------------------------------------------------- */

static void test_fakequant_zero_points(void)
{
    /* x (2, 6, 1) per channel along axis 1, s = 0.5 everywhere, [qmin, qmax] = [-128, 127].
     *   z = NaN, +Inf, -Inf: no grid, outputs NaN, no gradient;
     *   z = 2.5: rounds half to even to 2;  z = 1e10: saturates to 127;  z = -3: as given. */
    Node nd = fq_node(-128, 127);
    Shape xs = shape_of(3, (int64_t)2, (int64_t)6, (int64_t)1), cs = shape_of(1, (int64_t)6);
    float x[12] = { 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
                    -3.0f, -3.0f, -3.0f, -3.0f, -3.0f, 70.0f };
    float sv[6] = { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f };
    float zv[6] = { NAN, INFINITY, -INFINITY, 2.5f, 1e10f, -3.0f };
    float y[12], dx[12], ds[6], dy[12];
    for (int i = 0; i < 12; i++) {
        dx[i] = 0.5f;
        dy[i] = 1.0f;
    }
    for (int i = 0; i < 6; i++)
        ds[i] = 2.0f;
    Tensor tx = tensor_view(DT_F32, xs, x), ts = tensor_view(DT_F32, cs, sv),
           tz = tensor_view(DT_F32, cs, zv), ty = tensor_view(DT_F32, xs, y),
           tdy = tensor_view(DT_F32, xs, dy), tdx = tensor_view(DT_F32, xs, dx),
           tds = tensor_view(DT_F32, cs, ds);
    const Tensor *in[3] = { &tx, &ts, &tz };
    Tensor *din[3] = { &tdx, &tds, NULL };
    RunCtx rc = { 0 };
    op_table[OP_FAKEQUANT]->forward(&nd, in, &ty, &rc);
    op_table[OP_FAKEQUANT]->backward(&nd, in, &ty, &tdy, din, &rc);
    /* z = 2: x = 1 -> r = 2, q = 4 -> 1.0; x = -3 -> r = -6 -> -3.0.
     * z = 127: x = 1 -> r + z = 129 -> 127 -> 0.0; x = -3 -> 121 -> -3.0.
     * z = -3: x = 1 -> 2 - 3 = -1 -> 1.0; x = 70 -> r = 140, 137 -> 127 -> 65.0 */
    const float want_y[12] = { NAN, NAN, NAN, 1.0f, 0.0f, 1.0f,
                               NAN, NAN, NAN, -3.0f, -3.0f, 65.0f };
    expect_close("FakeQuant zero points, forward", y, want_y, 12, 0, 0);
    /* STE: +1 where inside; the clamped (z = 127, x = 1) and (z = -3, x = 70) pass nothing,
     * nor do the channels without a grid */
    const float want_dx[12] = { 0.5f, 0.5f, 0.5f, 1.5f, 0.5f, 1.5f,
                                0.5f, 0.5f, 0.5f, 1.5f, 1.5f, 0.5f };
    expect_close("FakeQuant zero points, dx", dx, want_dx, 12, 0, 0);
    /* LSQ (g = 1): inside r - v = 0 (x / s is an integer here); outside qmax - z:
     * channel 4: 127 - 127 = 0; channel 5: 127 - (-3) = 130 */
    const float want_ds[6] = { 2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 132.0f };
    expect_close("FakeQuant zero points, dscale", ds, want_ds, 6, 0, 0);
    gradcheck_node_release(&nd);
}

/* ---- finding 3: non-finite biases and weights in an int8 unit ------------------------------ */

/* x (4) -> Dense 'fc' (w, b) -> y, calibrated by hand: x in [-1, 1], y in [-2, 2]. */
static Model *dense_model(const float *w, const float *b, Calibration *cal)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(1, (int64_t)4);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    tu_add_const_values(g, "w", shape_of(2, (int64_t)3, (int64_t)4), w);
    tu_add_const_values(g, "b", shape_of(1, (int64_t)3), b);
    const char *in[3] = { "x", "w", "b" };
    tu_add_node(g, OP_DENSE, "fc", in, 3, NULL, 0);
    CHECK_OK(graph_add_output(g, "fc", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    const int vals[2] = { graph_find_value(g, "x"), graph_find_value(g, "fc") };
    const float ranges[2][2] = { { -1.0f, 1.0f }, { -2.0f, 2.0f } };
    tu_hand_calibration(g, cal, vals, ranges, 2);
    return m;
}

static QsStatus build(const Model *m, PrecKind mode, const Calibration *cal, QModel **q,
                      QsError *err)
{
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = mode;
    QsStatus st = qmodel_build(m, &p, cal, q, err);
    plan_release(&p);
    return st;
}

/* Runs ex on one sample x (4); the output (3) into y. */
static bool run1(Executor ex, const float *x, float *y)
{
    QsError err = { 0 };
    float xv[4];
    memcpy(xv, x, sizeof xv);
    Tensor tx = tensor_view(DT_F32, shape_of(2, (int64_t)1, (int64_t)4), xv);
    const Tensor *in[1] = { &tx }, *outs[1];
    if (!CHECK_OK(ex.forward(ex.self, in, outs, NULL, NULL, &err), &err))
        return false;
    memcpy(y, tensor_f32(outs[0]), 3 * sizeof *y);
    return true;
}

static void test_nonfinite_unit(void)
{
    const float w[12] = { 0.25f, -0.5f, 0.125f, 0.0f, 0.5f, 0.25f, -0.25f, 0.125f,
                          -0.125f, 0.0f, 0.5f, 0.25f };
    const float x[4] = { 0.5f, -0.25f, 1.0f, 0.0f };
    struct {
        float b[3];
        int bad_w; /* index of a weight made non-finite, or -1 */
        float wv;
        const char *static_err, *dyn_err; /* NULL: builds */
    } cases[] = {
        { { 0.1f, NAN, 0.3f }, -1, 0, "int8-static: layer 'fc' has a NaN or infinite bias",
          NULL },
        { { INFINITY, 0.0f, 0.3f }, -1, 0, "int8-static: layer 'fc' has a NaN or infinite bias",
          NULL },
        { { 0.1f, 0.0f, -INFINITY }, -1, 0,
          "int8-static: layer 'fc' has a NaN or infinite bias", NULL },
        { { 0.1f, 0.0f, 0.3f }, 5, NAN, "int8-static: layer 'fc' has a NaN or infinite weight",
          "int8-dyn: layer 'fc' has a NaN or infinite weight" },
        { { 0.1f, 0.0f, 0.3f }, 0, -INFINITY,
          "int8-static: layer 'fc' has a NaN or infinite weight",
          "int8-dyn: layer 'fc' has a NaN or infinite weight" },
    };
    for (int i = 0; i < NELEM(cases); i++) {
        float wc[12];
        memcpy(wc, w, sizeof wc);
        if (cases[i].bad_w >= 0)
            wc[cases[i].bad_w] = cases[i].wv;
        Calibration cal;
        Model *m = dense_model(wc, cases[i].b, &cal);
        QModel *q = NULL;
        QsError err = { 0 };
        expect_error(cases[i].static_err, build(m, PREC_INT8_STATIC, &cal, &q, &err), &err,
                     QS_EINVAL, cases[i].static_err);
        CHECK(q == NULL);
        if (cases[i].dyn_err) {
            expect_error(cases[i].dyn_err, build(m, PREC_INT8_DYN, NULL, &q, &err), &err,
                         QS_EINVAL, cases[i].dyn_err);
        } else if (CHECK_OK(build(m, PREC_INT8_DYN, NULL, &q, &err), &err)) {
            /* int8-dyn adds the float bias: the non-finite channel stays what float gives */
            float y[3];
            if (run1(qmodel_executor(q), x, y)) {
                for (int c = 0; c < 3; c++)
                    CHECK(isfinite(cases[i].b[c]) ? isfinite(y[c])
                                                  : (isnan(cases[i].b[c]) ? isnan(y[c])
                                                                          : y[c] == cases[i].b[c]));
            }
        }
        qmodel_free(q);
        calib_release(&cal);
        model_free(m);
    }
}

/* A finite bias beyond the int32 grid saturates to +-(2^31 - 1): the unit's output is then
 * the end of the output grid, as integer arithmetic defines it. */
static void test_bias_saturation(void)
{
    FconvHow how;
    CHECK(quant_bias_code(1e30f, 1.0, &how) == INT32_MAX && how == FCONV_SATURATED);
    CHECK(quant_bias_code(-1e30f, 1.0, &how) == -INT32_MAX && how == FCONV_SATURATED);
    CHECK(quant_bias_code(-INFINITY, 1.0, &how) == -INT32_MAX && how == FCONV_SATURATED);
    CHECK(quant_bias_code(NAN, 1.0, &how) == 0 && how == FCONV_NAN);
    CHECK(quant_bias_code(1.0f, 0.0, &how) == INT32_MAX && how == FCONV_SATURATED);
    CHECK(quant_bias_code(0.0f, 0.0, &how) == 0 && how == FCONV_NAN); /* 0 / 0 */
    CHECK(quant_bias_code(2.5f, 1.0, &how) == 2 && how == FCONV_EXACT);
    CHECK(quant_bias_code(-0.375f, 0.25, &how) == -2 && how == FCONV_EXACT); /* -1.5 -> -2 */

    const float w[12] = { 0.25f, -0.5f, 0.125f, 0.0f, 0.5f, 0.25f, -0.25f, 0.125f,
                          -0.125f, 0.0f, 0.5f, 0.25f };
    const float b[3] = { 1e30f, -1e30f, 0.0f };
    Calibration cal;
    Model *m = dense_model(w, b, &cal);
    QModel *q = NULL;
    QsError err = { 0 };
    if (CHECK_OK(build(m, PREC_INT8_STATIC, &cal, &q, &err), &err)) {
        QParams out = quant_params(-2.0f, 2.0f, 8, false); /* the plan's default: asymmetric */
        const float x[4] = { 0.5f, -0.25f, 1.0f, 0.0f };
        float y[3];
        if (run1(qmodel_executor(q), x, y)) {
            CHECK(y[0] == quant_dq(out.qmax, &out));
            CHECK(y[1] == quant_dq(out.qmin, &out));
        }
    }
    qmodel_free(q);
    calib_release(&cal);
    model_free(m);
}

int main(void)
{
    test_fconv_round();
    test_quant_int32_limits();
    test_fakequant_parse_limits();
    test_fakequant_zero_points();
    test_nonfinite_unit();
    test_bias_saturation();
    return test_summary("fconv");
}
