/* Deployment targets (quant/target.h): the gemmlowp primitives and TFLite Micro's rules on
 * hand-worked cases (ties of both signs, saturation of the doubling high multiply, shifts
 * of 31 and beyond, multipliers >= 1), XNNPACK's and ONNX Runtime's float rules and their
 * Add, mean and average pool by hand, the ties TFLite's converter makes, and a conv layer
 * run on every target: each differs from qscope's rule only next to a rounding tie, by one
 * step. Every expected value below is worked out in its comment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "ops/op.h"
#include "quant/calib.h"
#include "quant/target.h"
#include "qexec/qexec_view.h"
#include "test_util.h"

/* ---- gemmlowp primitives ------------------------------------------------------------------ */

static void test_srdhm(void)
{
    const int32_t h = 1 << 30; /* 0.5 in Q31 */
    /* the only overflow: (-1) * (-1) in Q31 saturates */
    CHECK(quant_srdhm(INT32_MIN, INT32_MIN) == INT32_MAX);
    CHECK(quant_srdhm(INT32_MIN, INT32_MAX) == -INT32_MAX); /* -(2^31 - 1), exact */
    CHECK(quant_srdhm(INT32_MAX, INT32_MAX) == INT32_MAX - 1);
    /* x * 0.5: ties go up for both signs (the nudge is not symmetric around zero) */
    CHECK(quant_srdhm(1, h) == 1);    /*  0.5 -> 1 */
    CHECK(quant_srdhm(3, h) == 2);    /*  1.5 -> 2 */
    CHECK(quant_srdhm(5, h) == 3);    /*  2.5 -> 3 */
    CHECK(quant_srdhm(-1, h) == 0);   /* -0.5 -> 0 */
    CHECK(quant_srdhm(-3, h) == -1);  /* -1.5 -> -1 */
    CHECK(quant_srdhm(-5, h) == -2);  /* -2.5 -> -2 */
    CHECK(quant_srdhm(-4, h) == -2);  /* exact */
    CHECK(quant_srdhm(7, h / 2) == 2); /* 1.75 -> 2 */
}

static void test_rdivpot(void)
{
    /* ties away from zero */
    CHECK(quant_rdivpot(5, 1) == 3);    /*  2.5 */
    CHECK(quant_rdivpot(-5, 1) == -3);  /* -2.5 */
    CHECK(quant_rdivpot(3, 1) == 2);    /*  1.5 */
    CHECK(quant_rdivpot(-3, 1) == -2);  /* -1.5 */
    CHECK(quant_rdivpot(-6, 2) == -2);  /* -1.5 */
    CHECK(quant_rdivpot(7, 2) == 2);    /*  1.75 */
    CHECK(quant_rdivpot(-7, 2) == -2);  /* -1.75 */
    CHECK(quant_rdivpot(-5, 2) == -1);  /* -1.25 */
    CHECK(quant_rdivpot(9, 0) == 9);
    /* the largest exponent, 31 */
    CHECK(quant_rdivpot(INT32_MIN, 31) == -1);     /* -1 exactly */
    CHECK(quant_rdivpot(1 << 30, 31) == 1);        /*  0.5 -> 1 */
    CHECK(quant_rdivpot(-(1 << 30), 31) == -1);    /* -0.5 -> -1 */
    CHECK(quant_rdivpot((1 << 30) - 1, 31) == 0);
}

static void test_tflite_multiplier(void)
{
    /* QuantizeMultiplier: m = f 2^e; m0 = round_half_away(f 2^31), shift = -e */
    Requant r = quant_requant_make_gemmlowp(0.5);
    CHECK(r.m0 == 1 << 30 && r.shift == 0 && r.rule == QRQ_GEMMLOWP);
    r = quant_requant_make_gemmlowp(1.0);
    CHECK(r.m0 == 1 << 30 && r.shift == -1); /* TFLite's shift +1: a left shift */
    r = quant_requant_make_gemmlowp(3.0);    /* 0.75 2^2 */
    CHECK(r.m0 == 1610612736 && r.shift == -2);
    /* f 2^31 = 2^30 + 1/2 exactly: TFLite rounds away (up), qscope to even (down) */
    double tie = ldexp((1 << 30) + 0.5, -31);
    CHECK(quant_requant_make_gemmlowp(tie).m0 == (1 << 30) + 1);
    CHECK(quant_requant_make(tie).m0 == 1 << 30);
    /* f rounding up to 1: halved, e + 1 */
    r = quant_requant_make_gemmlowp(1.0 - 0x1p-40);
    CHECK(r.m0 == 1 << 30 && r.shift == -1);
    /* multipliers below 2^-31 are flushed to zero; 2^-32 = 0.5 2^-31 is the smallest kept */
    r = quant_requant_make_gemmlowp(0x1p-32);
    CHECK(r.m0 == 1 << 30 && r.shift == 31);
    r = quant_requant_make_gemmlowp(0x1p-33);
    CHECK(r.m0 == 0 && r.shift == 0);
    CHECK(quant_requant_rule(INT32_MAX, &r, 5, -128, 127) == 5);
    CHECK(quant_requant_make_gemmlowp(0.0).m0 == 0 && quant_requant_make_gemmlowp(-1.0).m0 == 0);
}

static void test_tflite_mul(void)
{
    const int32_t h = 1 << 30;
    /* m = 0.5, no shift: one rounding, ties up */
    CHECK(quant_mul_gemmlowp(5, h, 0) == 3);   /* 2.5: qscope 2 */
    CHECK(quant_mul_gemmlowp(-5, h, 0) == -2); /* -2.5: qscope -2 */
    CHECK(quant_mul_gemmlowp(-3, h, 0) == -1); /* -1.5: qscope -2 */
    /* m = 0.25 = 0.5 2^-1: the high multiply is exact, then a rounding divide (away) */
    CHECK(quant_mul_gemmlowp(10, h, -1) == 3);   /* 2.5 */
    CHECK(quant_mul_gemmlowp(-10, h, -1) == -3); /* -2.5: qscope -2 */
    /* double rounding: 1 * (0.25 + 2^-32): 0.50000000047 rounds to 1 first, then 0.5 -> 1,
     * where the exact 0.25 rounds to 0 */
    CHECK(quant_mul_gemmlowp(1, h + 1, -1) == 1);
    Requant q = { .m0 = h + 1, .shift = 1, .rule = QRQ_Q31_EVEN };
    CHECK(quant_requant_rule(1, &q, 0, -128, 127) == 0);
    /* multipliers >= 1: a left shift first. m = 3 (0.75 2^2) and m = 1.5 (0.75 2^1) */
    CHECK(quant_mul_gemmlowp(5, 1610612736, 2) == 15);
    CHECK(quant_mul_gemmlowp(-7, 1610612736, 2) == -21);
    CHECK(quant_mul_gemmlowp(1, 1610612736, 1) == 2);   /*  1.5 -> 2 */
    CHECK(quant_mul_gemmlowp(-1, 1610612736, 1) == -1); /* -1.5 -> -1: qscope -2 */
    /* the left shift wraps in int32 as on the device: 2^30 << 2 is 0 */
    CHECK(quant_mul_gemmlowp(1 << 30, h, 2) == 0);
    /* a right shift of 31: INT32_MAX * 0.75 2^-31 = 0.74999 -> 1 (twice rounded) */
    CHECK(quant_mul_gemmlowp(INT32_MAX, 1610612736, -31) == 1);
    CHECK(quant_mul_gemmlowp(INT32_MIN, 1610612736, -31) == -1);
    /* through quant_requant_rule: z added, then the clamp */
    Requant r = quant_requant_make_gemmlowp(0.5);
    CHECK(quant_requant_rule(5, &r, -100, -128, 127) == -97);
    CHECK(quant_requant_rule(1000, &r, 0, -128, 127) == 127);
    CHECK(quant_requant_rule(-1000, &r, 0, -128, 127) == -128);
}

static void test_fp32_rule(void)
{
    Requant r = quant_requant_make_fp32(0.5f);
    CHECK(quant_requant_rule(5, &r, 0, -128, 127) == 2);   /*  2.5 -> 2 (even) */
    CHECK(quant_requant_rule(7, &r, 0, -128, 127) == 4);   /*  3.5 -> 4 */
    CHECK(quant_requant_rule(-5, &r, 0, -128, 127) == -2); /* -2.5 -> -2 */
    CHECK(quant_requant_rule(-3, &r, 3, -128, 127) == 1);  /* -1.5 -> -2, + 3 */
    CHECK(quant_requant_rule(600, &r, 10, -128, 127) == 127);
    CHECK(quant_requant_rule(-600, &r, 10, -20, 127) == -20);
    /* the product is rounded to float first: with s = 0x1.2aaaaap+0 (1.1666666), 3 s is
     * 3.49999988 exactly, which rounds to 3, but in float it is 3.5, a tie going to 4 */
    Requant s = quant_requant_make_fp32(0x1.2aaaaap+0f);
    CHECK(3.0f * 0x1.2aaaaap+0f == 3.5f && 3.0 * (double)0x1.2aaaaap+0f < 3.5);
    CHECK(quant_requant_rule(3, &s, 0, -128, 127) == 4);
    CHECK(quant_round_fp32(2.5f, -128, 127) == 2 && quant_round_fp32(-0.5f, -128, 127) == 0);
    CHECK(quant_round_fp32(1e30f, -128, 127) == 127 && quant_round_fp32(-1e30f, -5, 5) == -5);
}

/* ---- Add, mean, average pool, clamp by hand ---------------------------------------------- */

static QParams qp(float s, int32_t z)
{
    return (QParams){ .scale = s, .zero_point = z, .qmin = -128, .qmax = 127 };
}

/* a (s 0.5) + b (s 0.25) -> out (s 1), zero points 0, b = 0: out = a / 2. Worked out:
 *   qscope  one rounding, ties to even:     1 -> 0, -1 -> 0, 3 -> 2, -3 -> -2
 *   xnnpack (2^20 a + 2^20) >> 21 (ties up): 1 -> 1, -1 -> 0, 3 -> 2, -3 -> -1
 *   tflm    a << 20 times 0.5 (exact), then 2^-20 as Q31 2^30 with a rounding divide by
 *           2^19 (ties away):               1 -> 1, -1 -> -1, 3 -> 2, -3 -> -2
 *   ort     fma(a, 0.5, 0), cvtps (even):    1 -> 0, -1 -> 0, 3 -> 2, -3 -> -2 */
static void test_add_rules(void)
{
    QsError err = { 0 };
    QParams a = qp(0.5f, 0), b = qp(0.25f, 0), o = qp(1.0f, 0);
    const int32_t in[4] = { 1, -1, 3, -3 };
    const int32_t want[QTGT_COUNT][4] = {
        [QTGT_QSCOPE] = { 0, 0, 2, -2 }, [QTGT_XNNPACK] = { 1, 0, 2, -1 },
        [QTGT_TFLM] = { 1, -1, 2, -2 }, [QTGT_ORT] = { 0, 0, 2, -2 },
    };
    for (int t = 0; t < QTGT_COUNT; t++) {
        TargetAdd p;
        if (!CHECK_OK(target_add_make(&target_table[t], &a, &b, &o, &p, "add", &err), &err))
            continue;
        for (int i = 0; i < 4; i++)
            if (!CHECK(target_add_apply(&p, in[i], 0) == want[t][i]))
                fprintf(stderr, "  %s: add(%d, 0) = %d, want %d\n", target_table[t].name, in[i],
                        target_add_apply(&p, in[i], 0), want[t][i]);
    }
    /* XNNPACK's parameters: ratios 0.5 and 0.25, exponent -1, shift 21, multipliers 2^20 and
     * 2^19; zero points go into the bias: 2^20 - 2^20 za - 2^19 zb */
    TargetAdd x;
    QParams az = qp(0.5f, 3), bz = qp(0.25f, -2);
    CHECK_OK(target_add_make(&target_table[QTGT_XNNPACK], &az, &bz, &o, &x, "add", &err), &err);
    CHECK(x.rule == TADD_XNNPACK && x.shift == 21 && x.xm[0] == 1 << 20 && x.xm[1] == 1 << 19);
    CHECK(x.xbias == (1 << 20) - 3 * (1 << 20) + 2 * (1 << 19));
    CHECK(target_add_apply(&x, 3 + 4, -2 + 4) == 3); /* 2 + 1 = 3 exactly */
    /* a ratio XNNPACK refuses (s_a / s_out = 2^-11): LiteRT's builtin ADD, TFLite's rule */
    QParams tiny = qp(0x1p-11f, 0);
    CHECK_OK(target_add_make(&target_table[QTGT_XNNPACK], &tiny, &o, &o, &x, "add", &err), &err);
    CHECK(x.rule == TADD_TFLITE);
    /* the three mixed zero points through TFLite: (a - 3) / 2 + (b + 2) / 4 with a = 9,
     * b = 2: 3 + 1 = 4, + z_out 5 = 9 */
    QParams oz = qp(1.0f, 5);
    CHECK_OK(target_add_make(&target_table[QTGT_TFLM], &az, &bz, &oz, &x, "add", &err), &err);
    CHECK(target_add_apply(&x, 9, 2) == 9);
}

/* GlobalAveragePool of n = 4 values, s_in = s_out = 1, zero points 0: raw sums 2 and -2
 * are averages of +-0.5, 6 of 1.5:
 *   qscope  even:                0, 0, 2
 *   tflm    multiplier 1 = (2^30, left 1), folded with 1/4: k = 2, m0 = 2^32 / 4 = 2^30,
 *           shift 1 - 2 = -1: srdhm(2, 2^30) = 1, then 1 / 2 away: 1; -2: -1, then -1;
 *           6: 3 / 2 -> 2                            1, -1, 2
 *   xnnpack 0.25 * sum + 0, nearbyint (even):         0, 0, 2
 *   ort     sum * (1 / (1 * 4)), even:                0, 0, 2
 * and with n = 3, tflm folds m0 = 2^31 / 3 = 715827882 (truncated), shift 0: a sum of 3
 * is 0.99999 * 3 / 2 -> 1. */
static void test_mean_rules(void)
{
    QsError err = { 0 };
    QParams p = qp(1.0f, 0);
    const int32_t sums[3] = { 2, -2, 6 };
    const int32_t want[QTGT_COUNT][3] = {
        [QTGT_QSCOPE] = { 0, 0, 2 }, [QTGT_XNNPACK] = { 0, 0, 2 },
        [QTGT_TFLM] = { 1, -1, 2 }, [QTGT_ORT] = { 0, 0, 2 },
    };
    for (int t = 0; t < QTGT_COUNT; t++) {
        TargetMean m;
        if (!CHECK_OK(target_mean_make(&target_table[t], &p, &p, 4, &m, "gap", &err), &err))
            continue;
        for (int i = 0; i < 3; i++)
            if (!CHECK(target_mean_apply(&m, sums[i]) == want[t][i]))
                fprintf(stderr, "  %s: mean(%d / 4) = %d, want %d\n", target_table[t].name,
                        sums[i], target_mean_apply(&m, sums[i]), want[t][i]);
    }
    TargetMean m3;
    CHECK_OK(target_mean_make(&target_table[QTGT_TFLM], &p, &p, 3, &m3, "gap", &err), &err);
    CHECK(m3.rq.m0 == 715827882 && m3.rq.shift == 0);
    CHECK(target_mean_apply(&m3, 3) == 1);
    /* zero points: raw codes -128..: n = 4 values of -127 with z_in = -128 average to 1
     * step, + z_out -10 */
    QParams pi = qp(1.0f, -128), po = qp(1.0f, -10);
    for (int t = 0; t < QTGT_COUNT; t++) {
        TargetMean m;
        CHECK_OK(target_mean_make(&target_table[t], &pi, &po, 4, &m, "gap", &err), &err);
        CHECK(target_mean_apply(&m, 4 * -127) == -9);
    }
}

static void test_avg_and_clamp(void)
{
    /* TFLite's average of raw codes: ties away from zero */
    CHECK(target_avg_tflite(2, 4) == 1 && target_avg_tflite(-2, 4) == -1);
    CHECK(target_avg_tflite(6, 4) == 2 && target_avg_tflite(-6, 4) == -2);
    CHECK(target_avg_tflite(5, 4) == 1 && target_avg_tflite(-5, 4) == -1);
    CHECK(target_avg_tflite(4, 3) == 1 && target_avg_tflite(5, 3) == 2);
    /* ONNX Runtime: nearbyint(avg / s + z): 1.25 / 0.5 + 0 = 2.5 -> 2 */
    CHECK(target_avg_ort(1.25f, 0.5f, 0, -128, 127) == 2);
    /* the zero point is added before rounding: 3.5 - 1 = 2.5 -> 2 (rounding 3.5 first to 4
     * would give 3) */
    CHECK(target_avg_ort(1.75f, 0.5f, -1, -128, 127) == 2);
    /* A ReLU6-like bound of 5 on a grid s = 2, z = 1: 5 / 2 = 2.5 exactly:
     *   qscope, ort: round_even(2.5) + 1 = 3;  tflm: round_away(2.5) + 1 = 4;
     *   xnnpack: lrintf(2.5 + 1) = 4 (3.5 to even) */
    QParams p = qp(2.0f, 1);
    const int32_t want_hi[QTGT_COUNT] = { [QTGT_QSCOPE] = 3, [QTGT_XNNPACK] = 4,
                                          [QTGT_TFLM] = 4, [QTGT_ORT] = 3 };
    for (int t = 0; t < QTGT_COUNT; t++) {
        int32_t lo, hi;
        target_clamp(&target_table[t], &p, 0.0f, 5.0f, &lo, &hi);
        CHECK(lo == 1 && hi == want_hi[t]);
    }
}

/* ---- a conv layer on every target --------------------------------------------------------- */

static void add_const(Graph *g, const char *name, Shape s, Rng *r, double amp)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(DT_F32, s, &err);
    QS_ASSERT(t);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)((2.0 * rng_uniform(r) - 1.0) * amp);
    CHECK_OK(graph_add_const(g, name, t, true, &err), &err);
}

/* x (N, 4, 10, 10) -> Conv 3x3 pad 1 -> y (N, 6, 10, 10) */
static Model *conv_model(Rng *r)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(3, (int64_t)4, (int64_t)10, (int64_t)10);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    add_const(g, "w", shape_of(4, (int64_t)6, (int64_t)4, (int64_t)3, (int64_t)3), r, 0.5);
    add_const(g, "b", shape_of(1, (int64_t)6), r, 0.3);
    const char *in[3] = { "x", "w", "b" };
    int64_t k[2] = { 3, 3 }, pads[4] = { 1, 1, 1, 1 };
    Attr a[2] = { attr_ints("kernel_shape", k, 2), attr_ints("pads", pads, 4) };
    CHECK_OK(graph_add_node(g, OP_CONV, "conv", in, 3, "y", a, 2, &err), &err);
    attr_release(&a[0]);
    attr_release(&a[1]);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    return m;
}

static Tensor *rand_input(const Graph *g, int64_t n, Rng *r)
{
    QsError err = { 0 };
    Shape s = g->values[g->inputs[0]].shape;
    s.dim[0] = n;
    Tensor *t = tensor_new(DT_F32, s, &err);
    QS_ASSERT(t);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = (float)(2.0 * rng_uniform(r) - 1.0);
    return t;
}

/* The int8 output codes of plan p (its target set) on x. */
static int32_t *run_codes(const Model *m, const Plan *p, const Calibration *cal, const Tensor *x,
                          QModel **qout)
{
    QsError err = { 0 };
    QModel *q = NULL;
    if (!CHECK_OK(qmodel_build(m, p, cal, &q, &err), &err))
        return NULL;
    Executor ex = qmodel_executor(q);
    const Tensor *in[1] = { x };
    const Tensor *outs[1];
    int32_t *codes = NULL;
    if (CHECK_OK(ex.forward(ex.self, in, outs, NULL, NULL, &err), &err)) {
        QStepView v = qmodel_step(q, 0);
        int64_t n = tensor_numel(outs[0]);
        codes = xmalloc((size_t)n * sizeof *codes);
        for (int64_t i = 0; i < n; i++)
            codes[i] = (int32_t)lrintf(tensor_f32(outs[0])[i] / v.out_qp.scale) +
                       v.out_qp.zero_point;
    }
    *qout = q;
    return codes;
}

/* Exact accumulators of the lowered conv (from the public view) on x: acc (N, OC, H, W). */
static int64_t *conv_acc(const QModel *q, const Tensor *x)
{
    QStepView v = qmodel_step(q, 0);
    const QLinearView *l = &v.lin;
    int64_t n = x->shape.dim[0], c = 4, h = 10, w = 10, oc = l->oc;
    int8_t *xq = xmalloc((size_t)tensor_numel(x));
    quant_array_i8(tensor_f32(x), tensor_numel(x), &l->in_qp, xq);
    int64_t *acc = xcalloc((size_t)(n * oc * h * w), sizeof *acc);
    for (int64_t b = 0; b < n; b++)
        for (int64_t o = 0; o < oc; o++)
            for (int64_t i = 0; i < h; i++)
                for (int64_t j = 0; j < w; j++) {
                    int64_t s = l->bq[o];
                    for (int64_t ci = 0; ci < c; ci++)
                        for (int64_t ki = 0; ki < 3; ki++)
                            for (int64_t kj = 0; kj < 3; kj++) {
                                int64_t ii = i + ki - 1, jj = j + kj - 1;
                                if (ii < 0 || ii >= h || jj < 0 || jj >= w)
                                    continue;
                                int64_t xv = xq[((b * c + ci) * h + ii) * w + jj] -
                                             l->in_qp.zero_point;
                                s += xv * l->wq[(o * c + ci) * 9 + ki * 3 + kj];
                            }
                    acc[((b * oc + o) * h + i) * w + j] = s;
                }
    free(xq);
    return acc;
}

/* Each target's codes against qscope's on a random conv: equal except next to a rounding
 * tie of the exact value v = acc s_in s_w / s_out, and then by one step. "Next to": within
 * 2 float32 ulps of v for the float rules (the float32 scale, product and (float)acc carry
 * at most that), and for TFLite's double rounding within 2^-(r+1) with r its right shift
 * (the high multiply rounds to 2^-r of an output step first), plus 2^-30 |v| for the Q31
 * multipliers. */
static void test_conv_targets(void)
{
    QsError err = { 0 };
    Rng r;
    rng_seed(&r, 15);
    Model *m = conv_model(&r);
    Tensor *x = rand_input(&m->graph, 64, &r);
    Dataset d = { .x = { x }, .n_x = 1 };
    Calibration cal;
    if (!CHECK_OK(calib_run(&m->graph, &d, 0, 16, 0.01, NULL, &cal, &err), &err))
        return;
    Plan p;
    plan_init(&p, m->graph.n_nodes);
    p.mode = PREC_INT8_STATIC;
    QModel *q0 = NULL;
    int32_t *ref = run_codes(m, &p, &cal, x, &q0);
    int64_t *acc = q0 ? conv_acc(q0, x) : NULL;
    QStepView v0 = q0 ? qmodel_step(q0, 0) : (QStepView){ 0 };
    int64_t n = tensor_numel(x) / 4 * 6, per = 100;
    /* qscope's own codes are the exact rule: round_half_even(v) + z, clamped */
    int bad_ref = 0;
    for (int64_t i = 0; ref && acc && i < n; i++) {
        int64_t o = (i / per) % 6;
        double vv = (double)acc[i] * ((double)v0.lin.in_qp.scale * v0.lin.ws[o]) /
                    v0.out_qp.scale;
        double rv = nearbyint(vv) + v0.out_qp.zero_point;
        rv = rv < -128 ? -128 : rv > 127 ? 127 : rv;
        bad_ref += fabs(rv - ref[i]) > 0 && fabs(fabs(vv - floor(vv)) - 0.5) > 1e-6;
    }
    CHECK(bad_ref == 0);
    for (int t = 1; t < QTGT_COUNT && ref && acc; t++) {
        p.q.target = t;
        QModel *qt = NULL;
        int32_t *got = run_codes(m, &p, &cal, x, &qt);
        int diff = 0, far = 0, wrong = 0;
        for (int64_t i = 0; got && i < n; i++) {
            /* the kernel's rows against the scalar rule on the exact accumulator */
            int64_t o = (i / per) % 6;
            Requant rq;
            CHECK_OK(target_requant_linear(&target_table[t], v0.lin.in_qp.scale, v0.lin.ws[o],
                                           v0.out_qp.scale, &rq, "conv", &err), &err);
            wrong += got[i] != quant_requant_rule((int32_t)acc[i], &rq, v0.out_qp.zero_point,
                                                  -128, 127);
            if (got[i] == ref[i])
                continue;
            diff++;
            double s_in = v0.lin.in_qp.scale, s_w = v0.lin.ws[o], s_out = v0.out_qp.scale;
            double vv = (double)acc[i] * (s_in * s_w) / s_out;
            double dist = fabs(fabs(vv - floor(vv)) - 0.5);
            double win = fabs(vv) * 0x1p-30;
            if (target_table[t].requant == QRQ_FP32) {
                int e;
                frexp(vv, &e);
                win += 2.0 * ldexp(1.0, e - 24);
            } else {
                Requant gq = quant_requant_make_gemmlowp(s_in * s_w / s_out);
                int right = gq.shift > 0 ? gq.shift : 0;
                win += ldexp(1.0, -(right + 1));
            }
            if (abs(got[i] - ref[i]) != 1 || dist > win) {
                if (far++ < 5)
                    fprintf(stderr, "  %s: element %lld: %d vs qscope %d, v = %.9f\n",
                            target_table[t].name, (long long)i, got[i], ref[i], vv);
            }
        }
        printf("conv, %s vs qscope: %d of %lld codes differ, all next to a tie: %s\n",
               target_table[t].name, diff, (long long)n, far ? "no" : "yes");
        CHECK(far == 0 && wrong == 0);
        /* TFLite's double rounding moves enough ties here to be seen (the test can fail) */
        if (t == QTGT_TFLM)
            CHECK(diff > 0);
        free(got);
        qmodel_free(qt);
    }
    free(ref);
    free(acc);
    qmodel_free(q0);
    plan_release(&p);
    calib_release(&cal);
    tensor_free(x);
    model_free(m);
}

/* ---- ties -------------------------------------------------------------------------------- */

/* x (4, 8, 8) -> 1x1 convs a (3 ch, weights x0.2) and b (5 ch, x2) -> Concat -> y (8 ch)
 * -> AveragePool 2x2 stride 2 -> z. The two branches have ranges about 10x apart. */
static Model *concat_model(Rng *r)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(3, (int64_t)4, (int64_t)8, (int64_t)8);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    add_const(g, "wa", shape_of(4, (int64_t)3, (int64_t)4, (int64_t)1, (int64_t)1), r, 0.2);
    add_const(g, "ba", shape_of(1, (int64_t)3), r, 0.1);
    add_const(g, "wb", shape_of(4, (int64_t)5, (int64_t)4, (int64_t)1, (int64_t)1), r, 2.0);
    add_const(g, "bb", shape_of(1, (int64_t)5), r, 0.1);
    int64_t k1[2] = { 1, 1 }, k2[2] = { 2, 2 }, axis = 1;
    Attr ak = attr_ints("kernel_shape", k1, 2);
    const char *ina[3] = { "x", "wa", "ba" }, *inb[3] = { "x", "wb", "bb" };
    CHECK_OK(graph_add_node(g, OP_CONV, "a", ina, 3, "ya", &ak, 1, &err), &err);
    CHECK_OK(graph_add_node(g, OP_CONV, "b", inb, 3, "yb", &ak, 1, &err), &err);
    attr_release(&ak);
    Attr ax = attr_int("axis", axis);
    const char *inc[2] = { "ya", "yb" };
    CHECK_OK(graph_add_node(g, OP_CONCAT, "cat", inc, 2, "y", &ax, 1, &err), &err);
    attr_release(&ax);
    Attr ap[2] = { attr_ints("kernel_shape", k2, 2), attr_ints("strides", k2, 2) };
    const char *inp[1] = { "y" };
    CHECK_OK(graph_add_node(g, OP_AVGPOOL, "pool", inp, 1, "z", ap, 2, &err), &err);
    attr_release(&ap[0]);
    attr_release(&ap[1]);
    CHECK_OK(graph_add_output(g, "z", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    return m;
}

static bool same_qp(const QParams *a, const QParams *b)
{
    return a->scale == b->scale && a->zero_point == b->zero_point;
}

static void test_ties(void)
{
    QsError err = { 0 };
    Rng r;
    rng_seed(&r, 7);
    Model *m = concat_model(&r);
    const Graph *g = &m->graph;
    Tensor *x = rand_input(g, 32, &r);
    Dataset d = { .x = { x }, .n_x = 1 };
    Calibration cal;
    if (!CHECK_OK(calib_run(g, &d, 0, 16, 0.01, NULL, &cal, &err), &err))
        return;
    int va = graph_find_value(g, "ya"), vb = graph_find_value(g, "yb");
    int vy = graph_find_value(g, "y"), vz = graph_find_value(g, "z");
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_STATIC;
    for (int t = 0; t < QTGT_COUNT; t++) {
        p.q.target = t;
        QModel *q = NULL;
        if (!CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err))
            continue;
        CHECK(qmodel_target(q) == &target_table[t]);
        QParams a, b, y, z;
        CHECK(qmodel_value_qparams(q, va, &a) && qmodel_value_qparams(q, vb, &b) &&
              qmodel_value_qparams(q, vy, &y) && qmodel_value_qparams(q, vz, &z));
        bool tied = same_qp(&a, &y) && same_qp(&b, &y);
        if (target_table[t].tie_concat) {
            /* TFLite's spec: the concat's inputs on its output's grid (the output's
             * calibrated range, which spans both), and the pool's output on its input's */
            CHECK(tied && same_qp(&z, &y));
            QParams want = quant_params((float)cal.stats[vy].min, (float)cal.stats[vy].max, 8,
                                        false);
            CHECK(same_qp(&y, &want));
        } else {
            CHECK(!tied && !same_qp(&a, &b));
        }
        Executor ex = qmodel_executor(q);
        const Tensor *in[1] = { x };
        const Tensor *outs[1];
        CHECK_OK(ex.forward(ex.self, in, outs, NULL, NULL, &err), &err);
        qmodel_free(q);
    }
    plan_release(&p);
    calib_release(&cal);
    tensor_free(x);
    model_free(m);
}

/* x (6) -> Softmax -> Relu (an int8 step reading it): on tflm and xnnpack the softmax
 * output has the spec's fixed 1/256, -128; on qscope its calibrated range's. */
static void test_prob_out(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(1, (int64_t)6);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    const char *in1[1] = { "x" }, *in2[1] = { "p" };
    CHECK_OK(graph_add_node(g, OP_SOFTMAX, "sm", in1, 1, "p", NULL, 0, &err), &err);
    CHECK_OK(graph_add_node(g, OP_RELU, "relu", in2, 1, "y", NULL, 0, &err), &err);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    Rng r;
    rng_seed(&r, 3);
    Tensor *x = tensor_new(DT_F32, shape_of(2, (int64_t)16, (int64_t)6), &err);
    for (int64_t i = 0; i < tensor_numel(x); i++)
        tensor_f32(x)[i] = (float)(4.0 * rng_uniform(&r));
    Dataset d = { .x = { x }, .n_x = 1 };
    Calibration cal;
    CHECK_OK(calib_run(g, &d, 0, 16, 0.01, NULL, &cal, &err), &err);
    Plan p;
    plan_init(&p, g->n_nodes);
    p.mode = PREC_INT8_STATIC;
    int vp = graph_find_value(g, "p");
    for (int t = 0; t < QTGT_COUNT; t++) {
        p.q.target = t;
        QModel *q = NULL;
        if (!CHECK_OK(qmodel_build(m, &p, &cal, &q, &err), &err))
            continue;
        QParams qp;
        QParams fixed = { .scale = 1.0f / 256.0f, .zero_point = -128 };
        CHECK(qmodel_value_qparams(q, vp, &qp));
        QStepView sv = qmodel_step(q, qmodel_step_of(q, 0));
        bool is_fixed = same_qp(&qp, &fixed) && same_qp(&sv.out_qp, &fixed);
        CHECK(is_fixed == (target_table[t].fixed_prob_out || target_table[t].fixed_softmax_out));
        qmodel_free(q);
    }
    plan_release(&p);
    calib_release(&cal);
    tensor_free(x);
    model_free(m);
}

static void test_table(void)
{
    CHECK(target_find("qscope") == QTGT_QSCOPE && target_find("xnnpack") == QTGT_XNNPACK);
    CHECK(target_find("tflm") == QTGT_TFLM && target_find("ort") == QTGT_ORT);
    CHECK(target_find("litert") == -1);
    CHECK(target_of(-1) == &target_table[QTGT_QSCOPE] && target_of(QTGT_COUNT) == target_of(0));
    /* the default plan computes qscope's arithmetic */
    Plan p;
    plan_init(&p, 1);
    CHECK(p.q.target == QTGT_QSCOPE && plan_target_name(&p) == NULL);
    p.mode = PREC_INT8_DYN; /* qscope's per-sample rule, as on ort: no label */
    CHECK(plan_target_name(&p) == NULL);
    p.q.target = QTGT_ORT;
    CHECK(plan_target_name(&p) == NULL);
    p.q.target = QTGT_XNNPACK; /* XNNPACK's own activation rule */
    CHECK(strcmp(plan_target_name(&p), "xnnpack") == 0);
    p.q.target = QTGT_QSCOPE;
    p.mode = PREC_INT8_STATIC;
    CHECK(strcmp(plan_target_name(&p), "qscope") == 0);
    Plan c;
    plan_copy(&c, &p);
    c.q.target = QTGT_TFLM;
    CHECK(!plan_equal(&p, &c));
    plan_release(&c);
    plan_release(&p);
}

/* ---- int8-dyn activation rules ---------------------------------------------------------- */

/* Hand-worked spans. x = {-1, 0, 0.5, 3}: range [-1, 3].
 * XNNPACK: inv = 255 / 4 = 63.75; rmin inv = -63.75, rmax inv = 191.25; (-128 - 63.75) +
 * (127 + 191.25) = 126.5 > 0, so zp = -128 + 63.75 = -64.25 -> lrintf -64; codes
 * round_even(x inv) + zp: -63.75 -> -64 - 64 = -128; 0 -> -64; 31.875 -> 32 - 64 = -32;
 * 191.25 -> 191 - 64 = 127. scale = 1 / 63.75.
 * TFLite: scale = 4 / 255 (double); zmin = -128 + 63.75 = -64.25 with error 128 + 63.75;
 * zmax = 127 - 191.25 = -64.25 with error 127 + 191.25: the first, round half away -> -64;
 * codes round_half_away(-64 + x 63.75): -127.75 -> -128, -64, -32.125 -> -32, 127.25 -> 127.
 * A tie: x = {0, 2}, inv = 127.5, zp from max (-128 - 0 + 127 + 255 > 0: from min, -128);
 * x = 1 gives 127.5: XNNPACK round_even(127.5) = 128 - 128 = 0; TFLite
 * round_half_away(-128 + 127.5) = round(-0.5) = -1. qscope's per-sample rule on [-1, 3]:
 * s = 4 / 255, z = -128 - round_even(-63.75) = -64. */
static void test_dyn_rules(void)
{
    const float x[4] = { -1.0f, 0.0f, 0.5f, 3.0f };
    int8_t q[4];
    TargetDyn d;
    target_dyn_params(TDYN_XNNPACK, x, 4, 8, &d);
    CHECK(d.rule == TDYN_XNNPACK && d.qp.zero_point == -64 && d.inv == 63.75f);
    CHECK(d.scale == 1.0f / 63.75f);
    target_dyn_quantize(&d, x, 4, q);
    CHECK(q[0] == -128 && q[1] == -64 && q[2] == -32 && q[3] == 127);
    target_dyn_params(TDYN_TFLITE, x, 4, 8, &d);
    CHECK(d.rule == TDYN_TFLITE && d.qp.zero_point == -64 && d.scale == (float)(4.0 / 255.0));
    target_dyn_quantize(&d, x, 4, q);
    CHECK(q[0] == -128 && q[1] == -64 && q[2] == -32 && q[3] == 127);
    target_dyn_params(TDYN_SAMPLE, x, 4, 8, &d);
    CHECK(d.rule == TDYN_SAMPLE && d.qp.zero_point == -64);
    const float t[3] = { 0.0f, 2.0f, 1.0f };
    target_dyn_params(TDYN_XNNPACK, t, 2, 8, &d);
    CHECK(d.qp.zero_point == -128 && d.inv == 127.5f);
    target_dyn_quantize(&d, t + 2, 1, q);
    CHECK(q[0] == 0); /* 127.5 to even: 128 */
    target_dyn_params(TDYN_TFLITE, t, 2, 8, &d);
    CHECK(d.qp.zero_point == -128);
    target_dyn_quantize(&d, t + 2, 1, q);
    CHECK(q[0] == -1); /* -0.5 away from zero */
    /* an all-zero span: codes 0 (TFLite), the zero point (XNNPACK: inv 1, zp 0 -> 0) */
    const float z[2] = { 0.0f, 0.0f };
    target_dyn_params(TDYN_TFLITE, z, 2, 8, &d);
    target_dyn_quantize(&d, z, 2, q);
    CHECK(q[0] == 0 && q[1] == 0);
    /* other widths keep the per-sample rule */
    target_dyn_params(TDYN_XNNPACK, x, 4, 4, &d);
    CHECK(d.rule == TDYN_SAMPLE);
    /* the output: ((float)acc s_x) s_w + b on the runtimes, (s_x s_w) acc + b on qscope */
    TargetDyn o = { .rule = TDYN_XNNPACK, .scale = 0.5f };
    CHECK(target_dyn_out(&o, 0.25f, 6, 1.0f) == 1.75f);
}

int main(void)
{
    test_srdhm();
    test_rdivpot();
    test_tflite_multiplier();
    test_tflite_mul();
    test_fp32_rule();
    test_add_rules();
    test_mean_rules();
    test_avg_and_clamp();
    test_conv_targets();
    test_ties();
    test_prob_out();
    test_table();
    test_dyn_rules();
    return test_summary("target");
}
