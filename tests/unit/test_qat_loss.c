/* The distillation losses (loss.c's kl_distill row, and mse on teacher logits) and QAT's
 * mix of task and distillation losses (qat_loss): exact hand values for how T and alpha
 * change the loss and its gradient, and central-difference checks of the gradients.
 *
 * Finite differences: the losses are computed in double from float logits, so the loss
 * itself is exact to ~1e-15; the perturbation eps = 1e-3 is applied to a float logit (the
 * applied step is measured), the truncation error of the central difference is eps^2/6
 * |L'''| < 1e-6 for these smooth losses, and the analytic gradient is rounded to float
 * once (relative 6e-8). Tolerance 1e-5 absolute + 1e-4 relative; a wrong factor of T or
 * alpha is off by 25 % or more. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/loss.h"
#include "qat/qat.h"
#include "test_util.h"

/* KL(p || q) of two distributions over n classes, in double. */
static double kl(const double *p, const double *q, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += p[i] * log(p[i] / q[i]);
    return s;
}

static void test_kl_hand(void)
{
    QsError err;
    /* one sample, two classes: z = [0, 0] (student), t = [ln 3, 0] (teacher) */
    float z[2] = { 0.0f, 0.0f }, t[2] = { (float)log(3.0), 0.0f }, d[2];
    double tt = (double)t[0];
    for (int k = 0; k < 3; k++) {
        double T = k == 0 ? 1.0 : k == 1 ? 2.0 : 4.0;
        LossArgs a = { .logits = z, .n = 1, .c = 2, .targets = t, .temperature = T };
        double L;
        if (!CHECK_OK(loss_compute(LOSS_KL_DISTILL, &a, &L, d, &err), &err))
            continue;
        /* p_t = softmax(t / T) = [e^(t0/T), 1] / (e^(t0/T) + 1); p_s = [1/2, 1/2] */
        double e = exp(tt / T), pt[2] = { e / (e + 1), 1 / (e + 1) }, ps[2] = { 0.5, 0.5 };
        double want = T * T * kl(pt, ps, 2);
        if (!CHECK(fabs(L - want) <= 1e-12 * want)) /* T^2 KL: the T^2 is there */
            fprintf(stderr, "  T=%g: L %.17g, want %.17g\n", T, L, want);
        /* dL/dz = T (p_s - p_t) / N */
        float wd[2] = { (float)(T * (ps[0] - pt[0])), (float)(T * (ps[1] - pt[1])) };
        expect_close("kl gradient", d, wd, 2, 0, 1e-6);
    }
    /* T = 1 by hand: 3/4 ln(3/2) + 1/4 ln(1/2) = 0.130812035941137... */
    LossArgs a = { .logits = z, .n = 1, .c = 2, .targets = t }; /* temperature 0 reads as 1 */
    double L;
    CHECK_OK(loss_compute(LOSS_KL_DISTILL, &a, &L, d, &err), &err);
    CHECK(fabs(L - (0.75 * log(1.5) + 0.25 * log(0.5))) < 1e-7);
    /* identical logits: loss 0, gradient 0 */
    LossArgs same = { .logits = t, .n = 1, .c = 2, .targets = t, .temperature = 4 };
    CHECK_OK(loss_compute(LOSS_KL_DISTILL, &same, &L, d, &err), &err);
    CHECK(fabs(L) < 1e-12 && fabsf(d[0]) < 1e-7f && fabsf(d[1]) < 1e-7f);
    /* errors */
    LossArgs neg = { .logits = z, .n = 1, .c = 2, .targets = t, .temperature = -1 };
    expect_error("T < 0", loss_compute(LOSS_KL_DISTILL, &neg, &L, d, &err), &err, QS_EINVAL,
                 "temperature -1 must be finite and > 0");
    float bad[2] = { NAN, 0 };
    LossArgs nan = { .logits = z, .n = 1, .c = 2, .targets = bad, .temperature = 2 };
    expect_error("NaN teacher", loss_compute(LOSS_KL_DISTILL, &nan, &L, d, &err), &err,
                 QS_EINVAL, "sample 0 teacher logit 0 is nan");
    CHECK(loss_find("kl_distill") == LOSS_KL_DISTILL);
}

static unsigned lcg = 99u;
static float rnd(float lo, float hi)
{
    lcg = lcg * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((lcg >> 8) & 0xffffff) / 16777216.0f;
}

/* Central differences of f(logits) against the analytic gradient. */
typedef double (*LossFn)(void *u, const float *z, float *dz);

static void fd_check(const char *label, LossFn f, void *u, float *z, int n)
{
    float *ana = xmalloc((size_t)n * sizeof *ana), *tmp = xmalloc((size_t)n * sizeof *tmp);
    f(u, z, ana);
    double worst = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        float keep = z[i];
        z[i] = keep + 1e-3f;
        double lp = f(u, z, tmp);
        z[i] = keep - 1e-3f;
        double lm = f(u, z, tmp);
        double h = (double)(keep + 1e-3f) - (double)(keep - 1e-3f);
        z[i] = keep;
        double num = (lp - lm) / h, d = fabs(num - ana[i]);
        if (!(d <= 1e-5 + 1e-4 * fabs(num))) {
            bad++;
            worst = fmax(worst, d);
        }
    }
    if (!CHECK(bad == 0))
        fprintf(stderr, "  %s: %d of %d off, worst %g\n", label, bad, n, worst);
    free(ana);
    free(tmp);
}

typedef struct {
    const float *t;
    const int64_t *y;
    int n, c;
    double T;
    const QatLossCfg *cfg;
} FdCtx;

static double kl_fn(void *u, const float *z, float *dz)
{
    FdCtx *c = u;
    LossArgs a = { .logits = z, .n = c->n, .c = c->c, .targets = c->t, .temperature = c->T };
    double L = NAN;
    QsError err;
    loss_compute(LOSS_KL_DISTILL, &a, &L, dz, &err);
    return L;
}

static double mix_fn(void *u, const float *z, float *dz)
{
    FdCtx *c = u;
    QatLossParts p;
    QsError err;
    if (qat_loss(c->cfg, z, c->t, c->y, NULL, c->n, c->c, dz, &p, &err))
        return NAN;
    return p.total;
}

static void test_gradients(void)
{
    enum { N = 4, C = 5 };
    float z[N * C], t[N * C];
    int64_t y[N] = { 0, 3, 4, 1 };
    for (int i = 0; i < N * C; i++) {
        z[i] = rnd(-3, 3);
        t[i] = rnd(-4, 4);
    }
    FdCtx c = { .t = t, .y = y, .n = N, .c = C };
    for (int k = 0; k < 3; k++) {
        c.T = k == 0 ? 1.0 : k == 1 ? 2.5 : 7.0;
        char label[64];
        snprintf(label, sizeof label, "kl_distill T=%g", c.T);
        fd_check(label, kl_fn, &c, z, N * C);
    }
    float w[C] = { 1, 2, 0.5f, 1, 3 };
    QatLossCfg mixes[] = {
        { .task = LOSS_CROSS_ENTROPY, .distill = QAT_DISTILL_KL, .temperature = 4, .alpha = 0.5 },
        { .task = LOSS_CROSS_ENTROPY, .distill = QAT_DISTILL_KL, .temperature = 2, .alpha = 0.0 },
        { .task = LOSS_CROSS_ENTROPY, .distill = QAT_DISTILL_MSE, .alpha = 0.3,
          .class_weights = w },
        { .task = LOSS_CROSS_ENTROPY, .distill = QAT_DISTILL_NONE, .alpha = 0.3 },
    };
    for (int k = 0; k < 4; k++) {
        c.cfg = &mixes[k];
        char label[64];
        snprintf(label, sizeof label, "qat_loss mix %d", k);
        fd_check(label, mix_fn, &c, z, N * C);
    }
}

/* alpha and T as documented: total = alpha CE + (1 - alpha) T^2 KL, by hand. */
static void test_mix_hand(void)
{
    QsError err;
    float z[2] = { 0.0f, 0.0f }, t[2] = { (float)log(3.0), 0.0f }, d[2];
    int64_t y[1] = { 0 };
    double e = exp((double)t[0] / 2), pt[2] = { e / (e + 1), 1 / (e + 1) }, ps[2] = { 0.5, 0.5 };
    double ce = log(2.0), klv = kl(pt, ps, 2);
    QatLossCfg c = { .task = LOSS_CROSS_ENTROPY, .distill = QAT_DISTILL_KL, .temperature = 2,
                     .alpha = 0.25 };
    QatLossParts p;
    CHECK_OK(qat_loss(&c, z, t, y, NULL, 1, 2, d, &p, &err), &err);
    CHECK(fabs(p.task - ce) < 1e-12);
    CHECK(fabs(p.distill - 4 * klv) < 1e-12);
    CHECK(fabs(p.total - (0.25 * ce + 0.75 * 4 * klv)) < 1e-12);
    /* d = alpha (softmax - onehot) + (1 - alpha) T (p_s - p_t) */
    float wd[2] = { (float)(0.25 * -0.5 + 0.75 * 2 * (0.5 - pt[0])),
                    (float)(0.25 * 0.5 + 0.75 * 2 * (0.5 - pt[1])) };
    expect_close("mix gradient", d, wd, 2, 1e-7, 1e-6);
    /* alpha = 1: the task alone; distill none: the task alone whatever alpha is */
    c.alpha = 1.0;
    CHECK_OK(qat_loss(&c, z, t, y, NULL, 1, 2, d, &p, &err), &err);
    CHECK(fabs(p.total - ce) < 1e-12);
    c.alpha = 0.25;
    c.distill = QAT_DISTILL_NONE;
    CHECK_OK(qat_loss(&c, z, NULL, y, NULL, 1, 2, d, &p, &err), &err);
    CHECK(fabs(p.total - ce) < 1e-12 && p.distill == 0.0);
    expect_close("none gradient", d, (float[]){ -0.5f, 0.5f }, 2, 0, 1e-7);
    /* distill mse: the logits' mean squared difference, (ln 3)^2 / 2 */
    c.distill = QAT_DISTILL_MSE;
    CHECK_OK(qat_loss(&c, z, t, y, NULL, 1, 2, d, &p, &err), &err);
    double mse = (double)t[0] * t[0] / 2;
    CHECK(fabs(p.distill - mse) < 1e-12);
    CHECK(fabs(p.total - (0.25 * ce + 0.75 * mse)) < 1e-12);
}

int main(void)
{
    test_kl_hand();
    test_gradients();
    test_mix_hand();
    return test_summary("qat_loss");
}
