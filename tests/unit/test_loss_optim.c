/* Losses, optimizers, schedules and gradient clipping (src/core/train/loss.c, optim.c):
 * exact hand cases, finite-difference checks of every loss gradient, optimizer steps
 * against values torch gives for the same numbers, and every table row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/loss.h"
#include "train/optim.h"
#include "test_util.h"

#define LN2 0.69314718055994530942
#define LN3 1.09861228866810969140

static void expect_d(const char *label, double got, double want, double tol)
{
    bool ok = fabs(got - want) <= tol;
    test_check(ok, __FILE__, __LINE__, label);
    if (!ok)
        fprintf(stderr, "  %s: got %.12g, want %.12g\n", label, got, want);
}

/* ---- hand cases ---------------------------------------------------------------------- */

/* Two samples, C = 2: sample 0 logits (0, ln 3), so p = (1/4, 3/4), label 0; sample 1
 * logits (0, 0), p = (1/2, 1/2), label 1. Expected values are worked out in the comments;
 * torch.nn.functional.cross_entropy in float64 gives the same numbers. */
static const float ce_z[4] = { 0.0f, (float)LN3, 0.0f, 0.0f };
static const int64_t ce_y[2] = { 0, 1 };
static const float ce_w[2] = { 1.0f, 3.0f };

static void test_cross_entropy_hand(void)
{
    QsError err = { 0 };
    float d[4];
    double L;
    /* ln 3 is rounded to float, so p is 1/4 only to ~1e-7: tolerances 1e-6. */
    LossArgs a = { .logits = ce_z, .n = 2, .c = 2, .labels = ce_y };
    /* L = (-ln 1/4 - ln 1/2) / 2 = 1.5 ln 2; dz = (p - onehot) / 2 */
    CHECK_OK(loss_compute(LOSS_CROSS_ENTROPY, &a, &L, d, &err), &err);
    expect_d("ce plain loss", L, 1.5 * LN2, 1e-6);
    float want0[4] = { -0.375f, 0.375f, 0.25f, -0.25f };
    expect_close("ce plain grad", d, want0, 4, 1e-6, 0);

    /* weights (1, 3): L = (1 ln 4 + 3 ln 2) / (1 + 3) = 5/4 ln 2 */
    a.class_weights = ce_w;
    CHECK_OK(loss_compute(LOSS_CROSS_ENTROPY, &a, &L, d, &err), &err);
    expect_d("ce weighted loss", L, 1.25 * LN2, 1e-6);
    float want1[4] = { -0.1875f, 0.1875f, 0.375f, -0.375f };
    expect_close("ce weighted grad", d, want1, 4, 1e-6, 0);

    /* smoothing 0.2, no weights: target (1 - 0.2) onehot + 0.2 / 2;
     * L = mean_i [0.8 (-lp[y_i]) + 0.1 (-lp[0] - lp[1])]
     *   = (0.8 ln 4 + 0.1 (ln 4 + ln 4/3) + 0.8 ln 2 + 0.1 (2 ln 2)) / 2 */
    a.class_weights = NULL;
    a.label_smoothing = 0.2f;
    CHECK_OK(loss_compute(LOSS_CROSS_ENTROPY, &a, &L, d, &err), &err);
    double ln43 = 2 * LN2 - LN3;
    /* 0.2f is not 0.2: the float's own error (~3e-9) stays far below the tolerance */
    expect_d("ce smoothed loss", L, (0.8 * 2 * LN2 + 0.1 * (2 * LN2 + ln43) + 0.8 * LN2 + 0.2 * LN2) / 2,
             1e-6);
    float want2[4] = { -0.325f, 0.325f, 0.2f, -0.2f };
    expect_close("ce smoothed grad", d, want2, 4, 1e-6, 0);

    /* smoothing and weights together, torch's rule: both terms divided by sum_i w[y_i]:
     * L = [0.8 (1 ln 4 + 3 ln 2) + 0.1 ((1 ln 4 + 3 ln 4/3) + (1 ln 2 + 3 ln 2))] / 4
     *   = [4.6 ln 2 + 0.3 ln 4/3] / 4 = 0.81869541... */
    a.class_weights = ce_w;
    CHECK_OK(loss_compute(LOSS_CROSS_ENTROPY, &a, &L, d, &err), &err);
    expect_d("ce weighted+smoothed loss", L, (4.6 * LN2 + 0.3 * ln43) / 4, 1e-6);
    expect_d("ce weighted+smoothed vs torch", L, 0.8186954130778207, 1e-6);
    float want3[4] = { -0.15f, 0.15f, 0.325f, -0.325f };
    expect_close("ce weighted+smoothed grad", d, want3, 4, 1e-6, 0);

    /* Huge logits must not overflow: log-sum-exp subtracts the max. */
    float big[3] = { 1000.0f, -1000.0f, 0.0f };
    int64_t y1 = 1;
    LossArgs b = { .logits = big, .n = 1, .c = 3, .labels = &y1 };
    CHECK_OK(loss_compute(LOSS_CROSS_ENTROPY, &b, &L, d, &err), &err);
    expect_d("ce huge logits", L, 2000.0, 1e-9);
    CHECK(d[0] == 1.0f && d[1] == -1.0f && d[2] == 0.0f);

    /* All labels weighted 0: documented as loss 0, gradient 0 (torch: NaN). */
    float zw[2] = { 0.0f, 1.0f };
    int64_t y0[2] = { 0, 0 };
    LossArgs c = { .logits = ce_z, .n = 2, .c = 2, .labels = y0, .class_weights = zw };
    CHECK_OK(loss_compute(LOSS_CROSS_ENTROPY, &c, &L, d, &err), &err);
    CHECK(L == 0.0 && d[0] == 0.0f && d[3] == 0.0f);
}

static void test_bce_mse_hand(void)
{
    QsError err = { 0 };
    float d[4];
    double L;
    /* logits (0, ln 3), targets (1, 0): l = (ln 2, ln 3 + ln 4/3 = ln 4);
     * dl/dz = sigmoid(z) - t = (-1/2, 3/4), divided by N*C = 2 */
    float z[2] = { 0.0f, (float)LN3 }, t[2] = { 1.0f, 0.0f };
    LossArgs a = { .logits = z, .n = 1, .c = 2, .targets = t };
    CHECK_OK(loss_compute(LOSS_BCE_LOGITS, &a, &L, d, &err), &err);
    expect_d("bce loss", L, 1.5 * LN2, 1e-6);
    float want[2] = { -0.25f, 0.375f };
    expect_close("bce grad", d, want, 2, 1e-6, 0);
    /* torch weight= (2, 1) rescales each class, the mean still divides by N*C */
    float w[2] = { 2.0f, 1.0f };
    a.class_weights = w;
    CHECK_OK(loss_compute(LOSS_BCE_LOGITS, &a, &L, d, &err), &err);
    expect_d("bce weighted loss", L, 2.0 * LN2, 1e-6);
    float wantw[2] = { -0.5f, 0.375f };
    expect_close("bce weighted grad", d, wantw, 2, 1e-6, 0);
    /* +-100 on the wrong side: loss 100 each, without overflow in exp */
    float zb[2] = { 100.0f, -100.0f }, tb[2] = { 0.0f, 1.0f };
    LossArgs b = { .logits = zb, .n = 2, .c = 1, .targets = tb };
    CHECK_OK(loss_compute(LOSS_BCE_LOGITS, &b, &L, d, &err), &err);
    expect_d("bce saturated", L, 100.0, 1e-9);
    CHECK(d[0] == 0.5f && d[1] == -0.5f);

    /* MSE: diffs (1, 0, -2, 0): L = 5 / 4, dz = 2 d / 4 (exact in binary) */
    float zm[4] = { 1, 2, 3, 4 }, tm[4] = { 0, 2, 5, 4 };
    LossArgs m = { .logits = zm, .n = 2, .c = 2, .targets = tm };
    CHECK_OK(loss_compute(LOSS_MSE, &m, &L, d, &err), &err);
    CHECK(L == 1.25);
    float wantm[4] = { 0.5f, 0.0f, -1.0f, 0.0f };
    expect_close("mse grad", d, wantm, 4, 0, 0);
}

static void test_loss_errors(void)
{
    QsError err = { 0 };
    double L;
    float d[4];
    int64_t bad[2] = { 0, 2 };
    LossArgs a = { .logits = ce_z, .n = 2, .c = 2, .labels = bad };
    expect_error("label out of range", loss_compute(LOSS_CROSS_ENTROPY, &a, &L, d, &err), &err,
                 QS_EINVAL, "sample 1 has label 2");
    a.labels = ce_y;
    a.label_smoothing = 1.5f;
    expect_error("smoothing range", loss_compute(LOSS_CROSS_ENTROPY, &a, &L, d, &err), &err,
                 QS_EINVAL, "label_smoothing=1.5");
    a.label_smoothing = 0.0f;
    float negw[2] = { 1.0f, -1.0f };
    a.class_weights = negw;
    expect_error("negative weight", loss_compute(LOSS_CROSS_ENTROPY, &a, &L, d, &err), &err,
                 QS_EINVAL, "class weight 1 is -1");
    float t[4] = { 0.0f, 1.0f, 2.0f, 0.0f };
    LossArgs b = { .logits = ce_z, .n = 2, .c = 2, .targets = t };
    expect_error("bce target range", loss_compute(LOSS_BCE_LOGITS, &b, &L, d, &err), &err,
                 QS_EINVAL, "sample 1 target 0 is 2");
    b.class_weights = ce_w;
    expect_error("mse takes no weights", loss_compute(LOSS_MSE, &b, &L, d, &err), &err,
                 QS_EINVAL, "mse does not take class weights");
    LossArgs c = { .logits = ce_z, .n = 2, .c = 2, .targets = t };
    expect_error("ce needs labels", loss_compute(LOSS_CROSS_ENTROPY, &c, &L, d, &err), &err,
                 QS_EINVAL, "integer class labels");
    expect_error("bad kind", loss_compute(LOSS_COUNT, &c, &L, d, &err), &err, QS_EINVAL,
                 "not in the loss table");
}

/* ---- finite differences ------------------------------------------------------------------
 * The losses sum in double, so the central difference on a float logit moved by h ~ 1e-3 is
 * accurate to ~1e-12 / h plus O(h^2) curvature (~1e-7); the analytic gradient is rounded to
 * float32 (~6e-8 relative). Tolerance 1e-6 absolute + 1e-4 relative leaves margin. */

static unsigned fd_seed = 777u;

static double fd_rand(void)
{
    fd_seed = fd_seed * 1103515245u + 12345u;
    return (double)((fd_seed >> 8) & 0xffffff) / 8388608.0 - 1.0;
}

static void fd_check(const char *label, LossKind kind, LossArgs a)
{
    QsError err = { 0 };
    int64_t n = a.n * a.c;
    float *z = (float *)a.logits; /* the test owns the buffer */
    float *ana = xmalloc((size_t)n * sizeof *ana), *num = xmalloc((size_t)n * sizeof *num);
    double L;
    CHECK_OK(loss_compute(kind, &a, &L, ana, &err), &err);
    for (int64_t k = 0; k < n; k++) {
        float keep = z[k];
        float hp = keep + 1e-3f, hm = keep - 1e-3f;
        double lp, lm;
        z[k] = hp;
        loss_compute(kind, &a, &lp, NULL, &err);
        z[k] = hm;
        loss_compute(kind, &a, &lm, NULL, &err);
        z[k] = keep;
        num[k] = (float)((lp - lm) / ((double)hp - (double)hm));
    }
    expect_close(label, ana, num, (size_t)n, 1e-6, 1e-4);
    free(ana);
    free(num);
}

static void test_loss_gradients(void)
{
    enum { N = 5, C = 4 };
    float z[N * C], t[N * C], w[C];
    int64_t y[N];
    for (int k = 0; k < N * C; k++) {
        z[k] = (float)(2.0 * fd_rand());
        t[k] = (float)(0.5 + 0.5 * fd_rand());
    }
    for (int i = 0; i < N; i++)
        y[i] = (i * 3 + 1) % C;
    for (int c = 0; c < C; c++)
        w[c] = (float)(1.0 + 0.8 * fd_rand());
    LossArgs ce = { .logits = z, .n = N, .c = C, .labels = y };
    fd_check("fd ce", LOSS_CROSS_ENTROPY, ce);
    ce.class_weights = w;
    fd_check("fd ce weighted", LOSS_CROSS_ENTROPY, ce);
    ce.label_smoothing = 0.1f;
    fd_check("fd ce weighted smoothed", LOSS_CROSS_ENTROPY, ce);
    ce.class_weights = NULL;
    fd_check("fd ce smoothed", LOSS_CROSS_ENTROPY, ce);
    LossArgs bce = { .logits = z, .n = N, .c = C, .targets = t };
    fd_check("fd bce", LOSS_BCE_LOGITS, bce);
    bce.class_weights = w;
    fd_check("fd bce weighted", LOSS_BCE_LOGITS, bce);
    LossArgs mse = { .logits = z, .n = N, .c = C, .targets = t };
    fd_check("fd mse", LOSS_MSE, mse);
}

/* ---- optimizers ------------------------------------------------------------------------ */

/* A two-parameter list (scalars a and b as two tensors) over caller arrays. */
typedef struct {
    ParamList p;
    Tensor param[2], grad[2];
    int value[2];
    int64_t offset[2];
} TwoParams;

static void two_params(TwoParams *t, float *w /* (2) */, float *g /* (2) */)
{
    memset(t, 0, sizeof *t);
    Shape s = shape_of(1, (int64_t)1);
    for (int i = 0; i < 2; i++) {
        t->param[i] = tensor_view(DT_F32, s, w + i);
        t->grad[i] = tensor_view(DT_F32, s, g + i);
        t->value[i] = i;
        t->offset[i] = i;
    }
    t->p = (ParamList){ .n = 2, .value = t->value, .param = t->param, .grad = t->grad,
                        .offset = t->offset, .buf = g, .numel = 2 };
}

/* Steps kind from w = (1, -2) with the given gradients; compares after each step with the
 * values torch.optim gives for the same numbers (float32 parameters, recorded by running
 * torch 2.x on this machine). Our per-element math is in double with one rounding per
 * stored value, torch's in float32 with a few roundings: 2e-7 relative covers that. */
static void opt_case(const char *label, OptimKind kind, OptimConfig cfg, const float g1[2],
                     const float g2[2], const float want1[2], const float want2[2])
{
    QsError err = { 0 };
    float w[2] = { 1.0f, -2.0f }, g[2];
    TwoParams tp;
    two_params(&tp, w, g);
    Optim o;
    CHECK_OK(optim_init(&o, kind, &cfg, 2, &err), &err);
    memcpy(g, g1, sizeof g);
    optim_step(&o, &tp.p, cfg.lr);
    expect_close(label, w, want1, 2, 0, 2e-7);
    memcpy(g, g2, sizeof g);
    optim_step(&o, &tp.p, cfg.lr);
    expect_close(label, w, want2, 2, 0, 2e-7);
    CHECK(o.t == 2);
    optim_release(&o);
}

static void test_optimizers(void)
{
    /* SGD, lr 0.1, momentum 0.9, weight decay 0.01, by hand for the first parameter:
     * step 1: g = 0.5 + 0.01 * 1 = 0.51, buf = 0.51, w = 1 - 0.051 = 0.949
     * step 2: g = 0.5 + 0.01 * 0.949 = 0.50949, buf = 0.9 * 0.51 + 0.50949 = 0.96849,
     *         w = 0.949 - 0.096849 = 0.852151 */
    OptimConfig sgd = optim_config_default(OPTIM_SGD);
    sgd.lr = 0.1;
    sgd.momentum = 0.9;
    sgd.weight_decay = 0.01;
    const float sg1[2] = { 0.5f, -0.25f }, sg2[2] = { 0.5f, 0.75f };
    const float sw1[2] = { 0.949f, -1.973f }, sw2[2] = { 0.852151f, -2.021727085f };
    opt_case("sgd momentum", OPTIM_SGD, sgd, sg1, sg2, sw1, sw2);

    /* Adam, lr 0.1, betas (0.9, 0.999), eps 1e-8, by hand for the first parameter:
     * step 1: m = 0.05, v = 2.5e-4, m^ = 0.5, sqrt(v^) = 0.5, w = 1 - 0.1 * 0.5 / 0.5 = 0.9
     * step 2 (g = -0.25): m = 0.02, v = 3.1225e-4, bias corrections 0.19 and 0.001999:
     *         w = 0.9 - 0.1 * (0.02 / 0.19) / sqrt(3.1225e-4 / 0.001999) = 0.873366... */
    OptimConfig adam = optim_config_default(OPTIM_ADAM);
    adam.lr = 0.1;
    const float ag1[2] = { 0.5f, -0.25f }, ag2[2] = { -0.25f, 1e-3f };
    const float aw1[2] = { 0.9f, -1.9f }, aw2[2] = { 0.8733663559f, -1.8332924843f };
    opt_case("adam", OPTIM_ADAM, adam, ag1, ag2, aw1, aw2);
    /* Adam's weight decay is L2 through the gradient (torch.optim.Adam weight_decay=0.1) */
    adam.weight_decay = 0.1;
    const float awd2[2] = { 0.8544414043f, -1.8093987703f };
    opt_case("adam L2", OPTIM_ADAM, adam, ag1, ag2, aw1, awd2);
    /* AdamW decays the weight itself first: w = 1 * (1 - 0.1 * 0.1) - 0.1 = 0.89 */
    OptimConfig adamw = optim_config_default(OPTIM_ADAMW);
    adamw.lr = 0.1;
    adamw.weight_decay = 0.1;
    const float ww1[2] = { 0.89f, -1.88f }, ww2[2] = { 0.8544663787f, -1.7944924831f };
    opt_case("adamw", OPTIM_ADAMW, adamw, ag1, ag2, ww1, ww2);

    /* Plain SGD: w -= lr g exactly as float arithmetic would give. */
    QsError err = { 0 };
    float w[2] = { 1.0f, -2.0f }, g[2] = { 0.5f, 0.25f };
    TwoParams tp;
    two_params(&tp, w, g);
    Optim o;
    OptimConfig plain = optim_config_default(OPTIM_SGD);
    plain.lr = 0.5;
    CHECK_OK(optim_init(&o, OPTIM_SGD, &plain, 2, &err), &err);
    CHECK(o.state[0] == NULL);
    optim_step(&o, &tp.p, 0.5);
    CHECK(w[0] == 0.75f && w[1] == -2.125f);
    optim_release(&o);

    OptimConfig bad = optim_config_default(OPTIM_ADAM);
    bad.beta2 = 1.0;
    expect_error("beta2 range", optim_init(&o, OPTIM_ADAM, &bad, 2, &err), &err, QS_EINVAL,
                 "beta2=1");
    bad = optim_config_default(OPTIM_SGD);
    bad.lr = 0.0;
    expect_error("lr range", optim_check_config(&bad, &err), &err, QS_EINVAL, "lr=0");
    bad.lr = 0.1;
    bad.momentum = -0.5;
    expect_error("momentum range", optim_check_config(&bad, &err), &err, QS_EINVAL,
                 "momentum=-0.5");
}

static void test_schedules(void)
{
    SchedConfig c = { .base_lr = 0.1, .epochs = 4, .step_size = 3, .gamma = 0.5 };
    CHECK(optim_sched_lr(SCHED_CONSTANT, &c, 0) == 0.1 && optim_sched_lr(SCHED_CONSTANT, &c, 3) == 0.1);
    /* StepLR: 0.1 for epochs 0..2, 0.05 for 3..5, 0.025 from 6 */
    expect_d("step e0", optim_sched_lr(SCHED_STEP, &c, 0), 0.1, 0);
    expect_d("step e2", optim_sched_lr(SCHED_STEP, &c, 2), 0.1, 0);
    expect_d("step e3", optim_sched_lr(SCHED_STEP, &c, 3), 0.05, 0);
    expect_d("step e6", optim_sched_lr(SCHED_STEP, &c, 6), 0.025, 1e-18);
    /* Cosine over 4 epochs: 0.1, 0.1 (1 + cos(pi/4)) / 2, 0.05, 0.1 (1 - cos(pi/4)) / 2, then 0 */
    expect_d("cos e0", optim_sched_lr(SCHED_COSINE, &c, 0), 0.1, 1e-17);
    expect_d("cos e1", optim_sched_lr(SCHED_COSINE, &c, 1), 0.1 * (1 + sqrt(0.5)) / 2, 1e-16);
    expect_d("cos e2", optim_sched_lr(SCHED_COSINE, &c, 2), 0.05, 1e-16);
    expect_d("cos e3", optim_sched_lr(SCHED_COSINE, &c, 3), 0.1 * (1 - sqrt(0.5)) / 2, 1e-16);
    expect_d("cos e4", optim_sched_lr(SCHED_COSINE, &c, 4), 0.0, 1e-17);
    QsError err = { 0 };
    c.step_size = 0;
    expect_error("step_size", optim_sched_check(SCHED_STEP, &c, &err), &err, QS_EINVAL,
                 "step_size=0");
    CHECK_OK(optim_sched_check(SCHED_COSINE, &c, &err), &err);
}

static void test_clipping(void)
{
    /* grads (3, 4): global norm 5 */
    float w[2] = { 0, 0 }, g[2] = { 3.0f, 4.0f };
    TwoParams tp;
    two_params(&tp, w, g);
    double n = optim_clip_grad_norm(&tp.p, 10.0);
    CHECK(n == 5.0);
    CHECK(g[0] == 3.0f && g[1] == 4.0f); /* under the limit: untouched */
    n = optim_clip_grad_norm(&tp.p, 1.0);
    CHECK(n == 5.0);
    /* torch: coef = 1 / (5 + 1e-6) */
    float want[2] = { (float)(3.0 / (5.0 + 1e-6)), (float)(4.0 / (5.0 + 1e-6)) };
    expect_close("clipped", g, want, 2, 0, 1e-7);
    expect_d("clipped norm", sqrt((double)g[0] * g[0] + (double)g[1] * g[1]), 1.0, 1e-6);
}

static void test_tables(void)
{
    for (int k = 0; k < LOSS_COUNT; k++) {
        CHECK(loss_table[k].name && loss_table[k].compute);
        CHECK(loss_find(loss_table[k].name) == k);
    }
    for (int k = 0; k < OPTIM_COUNT; k++) {
        CHECK(optim_table[k].name && optim_table[k].step && optim_table[k].n_state >= 1);
        CHECK(optim_find(optim_table[k].name) == k);
        OptimConfig c = optim_config_default((OptimKind)k);
        QsError err = { 0 };
        CHECK_OK(optim_check_config(&c, &err), &err);
    }
    for (int k = 0; k < SCHED_COUNT; k++) {
        CHECK(optim_sched_table[k].name && optim_sched_table[k].lr);
        CHECK(optim_sched_find(optim_sched_table[k].name) == k);
    }
    CHECK(loss_find("nope") < 0 && optim_find("nope") < 0 && optim_sched_find("nope") < 0);
}

int main(void)
{
    test_cross_entropy_hand();
    test_bce_mse_hand();
    test_loss_errors();
    test_loss_gradients();
    test_optimizers();
    test_schedules();
    test_clipping();
    test_tables();
    return test_summary("loss_optim");
}
