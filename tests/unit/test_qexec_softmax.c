/* Softmax as an int8 step at int8-static (STEP_Q_SOFTMAX) on x (rows, L) -> Softmax -> p ->
 * Relu -> y (the Relu keeps p's codes and makes p an inner value; a Softmax whose output
 * is the graph's output stays float):
 *   - qscope's rule is the float op on the dequantized span, quantized once: the integer run
 *     equals the fake-quant run code for code;
 *   - the runtimes' rules (xnnpack: TFLite's table kernel; ort: QLinearSoftmax) use float
 *     exp tables and float sums, which move a value by a few float ulps; tflm's gemmlowp
 *     fixed point (a Q5.26 argument, a Q12.19 sum, a Newton-Raphson reciprocal) moves it by
 *     less than a step: each at most one code from the fake-quant run;
 *   - tflm's codes equal, exactly, those of an independent integer model of TFLM's kernel
 *     (scripts/fixtures/gen_softmax_tflm.py -> tests/fixtures/quant/softmax_tflm.txt), and
 *     so do its prepare-time parameters (input_multiplier, input_left_shift, diff_min);
 *   - hand-worked spans: equal codes give 1/L each; a dominant code (p within half a step
 *     of 1) saturates to 127 on every rule, in ONNX Runtime's 16-code blocks and past them
 *     (its source's scalar tail would wrap 128 to -128; onnxruntime-node 1.31.1 does not:
 *     tests/onnx/softmax_ort.sh);
 *   - the output parameters: 1/256 and qmin where the target fixes them (all but qscope). */
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

enum { ROWS = 48 };

typedef struct Case {
    Model *m;
    Calibration cal;
    Plan p;
    QModel *q;
    QParams px, pp;
} Case;

static bool case_build(Case *c, int64_t len, int target)
{
    QsError err = { 0 };
    memset(c, 0, sizeof *c);
    c->m = model_new();
    Graph *g = &c->m->graph;
    Shape xs = shape_of(1, len);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    const char *in1[1] = { "x" }, *in2[1] = { "p" };
    CHECK_OK(graph_add_node(g, OP_SOFTMAX, "sm", in1, 1, "p", NULL, 0, &err), &err);
    CHECK_OK(graph_add_node(g, OP_RELU, "relu", in2, 1, "y", NULL, 0, &err), &err);
    CHECK_OK(graph_add_output(g, "y", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    int vals[3] = { graph_find_value(g, "x"), graph_find_value(g, "p"),
                    graph_find_value(g, "y") };
    const float ranges[3][2] = { { -6.0f, 6.0f }, { 0.0f, 1.0f }, { 0.0f, 1.0f } };
    tu_hand_calibration(g, &c->cal, vals, ranges, 3);
    if (!CHECK_OK(tu_int8_build(c->m, &c->cal, target, &c->p, &c->q, &err), &err))
        return false;
    const QLayerInfo *li = qmodel_layer(c->q, 0);
    CHECK(li->integer && !li->fallback);
    CHECK(qmodel_value_qparams(c->q, vals[0], &c->px));
    CHECK(qmodel_value_qparams(c->q, vals[1], &c->pp));
    const QTargetDef *t = &target_table[target];
    bool fixed = c->pp.scale == 1.0f / 256.0f && c->pp.zero_point == -128;
    CHECK(fixed == (t->fixed_prob_out || t->fixed_softmax_out));
    return true;
}

static void case_free(Case *c)
{
    qmodel_free(c->q);
    plan_release(&c->p);
    calib_release(&c->cal);
    model_free(c->m);
}

/* The codes of p for input codes xc (rows x len), integer and fake-quant runs. */
static bool case_run(Case *c, const int32_t *xc, int64_t len, int64_t rows, int32_t *got,
                     int32_t *fake)
{
    QsError err = { 0 };
    Tensor *x = tensor_new(DT_F32, shape_of(2, rows, len), &err);
    for (int64_t i = 0; i < rows * len; i++)
        tensor_f32(x)[i] = quant_dq(xc[i], &c->px);
    Tensor *yi = tu_run(qmodel_executor(c->q), x), *yq = tu_run(qmodel_fake_executor(c->q), x);
    bool ok = yi && yq;
    for (int64_t i = 0; ok && i < rows * len; i++) {
        got[i] = quant_q(tensor_f32(yi)[i], &c->pp);
        fake[i] = quant_q(tensor_f32(yq)[i], &c->pp);
    }
    tensor_free(x);
    tensor_free(yi);
    tensor_free(yq);
    return ok;
}

/* Seeded codes in [-64, 64] (spans of at most 6 in value: no code dominates). */
static void random_rows(int32_t *xc, int64_t n, unsigned seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        xc[i] = (int32_t)((seed >> 16) % 129) - 64;
    }
}

static void check_random(int target, int64_t len)
{
    Case c;
    if (!case_build(&c, len, target)) {
        case_free(&c);
        return;
    }
    int64_t n = ROWS * len;
    int32_t *xc = xmalloc((size_t)n * sizeof *xc), *got = xmalloc((size_t)n * sizeof *got);
    int32_t *fake = xmalloc((size_t)n * sizeof *fake);
    random_rows(xc, n, (unsigned)(len * 7 + target));
    if (case_run(&c, xc, len, ROWS, got, fake)) {
        char l[64];
        snprintf(l, sizeof l, "softmax %s L=%d, integer vs fake", target_table[target].name,
                 (int)len);
        if (target == QTGT_QSCOPE) {
            expect_equal_i32(l, got, fake, (size_t)n);
        } else {
            int64_t moved = 0, far = 0;
            for (int64_t i = 0; i < n; i++) {
                moved += got[i] != fake[i];
                far += abs(got[i] - fake[i]) > 1;
            }
            CHECK(far == 0);
            fprintf(stderr, "%s: %lld of %lld codes one step from the fake-quant run\n", l,
                    (long long)moved, (long long)n);
        }
        /* the spans are not trivially flat */
        int32_t lo = got[0], hi = got[0];
        for (int64_t i = 1; i < n; i++) {
            lo = got[i] < lo ? got[i] : lo;
            hi = got[i] > hi ? got[i] : hi;
        }
        CHECK(hi - lo >= 15); /* 19 measured at L = 100 */
        if (hi - lo < 15)
            fprintf(stderr, "%s: codes %d to %d\n", l, (int)lo, (int)hi);
    }
    free(xc);
    free(got);
    free(fake);
    case_free(&c);
}

/* Hand-worked spans of L = 40 (two 16-code blocks, then 8 codes): equal codes, and one
 * dominant code at j = 3 (in a block) and at j = 35 (past the blocks). */
static void check_hand(int target)
{
    enum { L = 40 };
    Case c;
    if (!case_build(&c, L, target)) {
        case_free(&c);
        return;
    }
    int32_t xc[3 * L], got[3 * L], fake[3 * L];
    for (int j = 0; j < L; j++) {
        xc[j] = 5;
        xc[L + j] = xc[2 * L + j] = -128;
    }
    xc[L + 3] = 127;
    xc[2 * L + 35] = 127;
    if (case_run(&c, xc, L, 3, got, fake)) {
        bool fixed = c.pp.scale == 1.0f / 256.0f;
        /* 1/40 on 1/256 steps: 6.4 -> 6; on qscope's calibrated 1/255: 6.375 -> 6 */
        int32_t flat = -128 + 6;
        bool ok = true;
        for (int j = 0; j < L; j++)
            ok = ok && got[j] == flat;
        CHECK(ok);
        /* exp(-12) 39 / (1 + exp(-12) 39) = 2.4e-4: the dominant code is within half a
         * step of 1, the others 0 */
        CHECK(got[L + 3] == 127 && got[L] == -128);
        CHECK(got[2 * L + 35] == 127 && got[2 * L + 34] == -128);
        if (target == QTGT_QSCOPE)
            CHECK(!fixed && got[L + 3] == fake[L + 3]);
    }
    case_free(&c);
}

/* One line of softmax_tflm.txt: "SCALEHEX MULT LSHIFT DIFF_MIN | codes | codes". */
static bool tflm_line(char *line, int64_t *n, int32_t *xc, int32_t *want, QParams *in,
                      int32_t par[3])
{
    unsigned bits;
    int used = 0;
    if (sscanf(line, "%x %d %d %d |%n", &bits, &par[0], &par[1], &par[2], &used) != 4)
        return false;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    *in = (QParams){ .scale = scale, .zero_point = 0, .qmin = -128, .qmax = 127 };
    char *at = line + used, *bar = strchr(at, '|');
    if (!bar)
        return false;
    *n = 0;
    for (char *e; at < bar && *n < 64; at = e) {
        long v = strtol(at, &e, 10);
        if (e == at)
            break;
        xc[(*n)++] = (int32_t)v;
    }
    at = bar + 1;
    for (int64_t j = 0; j < *n; j++) {
        char *e;
        want[j] = (int32_t)strtol(at, &e, 10);
        if (e == at)
            return false;
        at = e;
    }
    return true;
}

static void check_tflm_fixture(void)
{
    FILE *f = fopen("tests/fixtures/quant/softmax_tflm.txt", "r");
    CHECK(f != NULL);
    if (!f)
        return;
    char line[2048];
    int cases = 0;
    QParams out = target_prob_qparams(-128, 127);
    while (fgets(line, sizeof line, f)) {
        int64_t n;
        int32_t xc[64], want[64], got[64], par[3];
        QParams in;
        if (!CHECK(tflm_line(line, &n, xc, want, &in, par)))
            break;
        TargetSoftmax p;
        target_softmax_make(&target_table[QTGT_TFLM], &in, &out, n, &p);
        CHECK(p.rule == TSM_TFLM && p.mult == par[0] && p.lshift == par[1] &&
              p.diff_min == par[2]);
        int8_t x8[64], y8[64];
        float tmp[64];
        for (int64_t j = 0; j < n; j++)
            x8[j] = (int8_t)xc[j];
        target_softmax_span(&p, x8, y8, n, 1, tmp);
        for (int64_t j = 0; j < n; j++)
            got[j] = y8[j];
        char l[64];
        snprintf(l, sizeof l, "tflm softmax fixture case %d", cases);
        expect_equal_i32(l, got, want, (size_t)n);
        cases++;
    }
    fclose(f);
    CHECK(cases == 33);
}

/* TFLM's fixed point against TFLite's float table (what LiteRT runs for both tflite
 * targets) on seeded spans: at most one step apart; the share that moves is printed. */
static void check_tflm_vs_table(void)
{
    enum { SPANS = 4000, MAXL = 64 };
    QParams out = target_prob_qparams(-128, 127);
    unsigned seed = 20261208u;
    int64_t n = 0, moved = 0, far = 0;
    for (int s = 0; s < SPANS; s++) {
        seed = seed * 1103515245u + 12345u;
        QParams in = { .scale = 0.01f + 0.3f * (float)((seed >> 8) % 1000) / 1000.0f,
                       .zero_point = 0, .qmin = -128, .qmax = 127 };
        int64_t len = 2 + (int64_t)((seed >> 20) % (MAXL - 1));
        int8_t x[MAXL], a[MAXL], b[MAXL];
        float tmp[MAXL];
        for (int64_t j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            x[j] = (int8_t)((int)((seed >> 16) % 256) - 128);
        }
        TargetSoftmax pm, pt;
        target_softmax_make(&target_table[QTGT_TFLM], &in, &out, len, &pm);
        target_softmax_make(&target_table[QTGT_XNNPACK], &in, &out, len, &pt);
        target_softmax_span(&pm, x, a, len, 1, tmp);
        target_softmax_span(&pt, x, b, len, 1, tmp);
        for (int64_t j = 0; j < len; j++) {
            moved += a[j] != b[j];
            far += abs(a[j] - b[j]) > 1;
        }
        n += len;
    }
    CHECK(far == 0);
    fprintf(stderr, "softmax tflm vs xnnpack (TFLite's table): %lld of %lld codes one step "
            "apart\n", (long long)moved, (long long)n);
}

int main(void)
{
    check_tflm_fixture();
    check_tflm_vs_table();
    for (int t = 0; t < QTGT_COUNT; t++) {
        check_random(t, 17);  /* vit's spans: no block, all in order */
        check_random(t, 40);  /* a 32-code block and a tail */
        check_random(t, 100); /* several blocks */
        check_hand(t);
    }
    return test_summary("qexec_softmax");
}
