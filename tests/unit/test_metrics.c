/* Metrics against hand-computed values: a 3-class confusion matrix, precision/recall as
 * fractions, multi-label bit accuracy, MSE/MAE, run-to-run agreement, cosine, SQNR and
 * softmax KL in closed form. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval/metrics.h"
#include "test_util.h"

/* |got - want| <= rel |want|; NaN and infinities must match exactly. */
static bool near(const char *label, double got, double want, double rel)
{
    bool ok;
    if (isnan(want))
        ok = isnan(got);
    else if (isinf(want))
        ok = got == want;
    else
        ok = fabs(got - want) <= rel * fabs(want);
    if (!ok)
        fprintf(stderr, "  %s: got %.17g want %.17g\n", label, got, want);
    return test_check(ok, __FILE__, __LINE__, label);
}

/* Exact equality: for values that are a single correctly rounded division. */
#define EXACT(label, got, want) near(label, got, want, 0.0)

static void test_tasks(void)
{
    for (int t = 0; t < TASK_COUNT; t++) {
        CHECK(strcmp(task_name((TaskKind)t), "unknown") != 0);
        CHECK(task_find(task_name((TaskKind)t)) == t);
    }
    CHECK(task_find("classify") == TASK_CLASSIFY);
    CHECK(task_find("multilabel") == TASK_MULTILABEL);
    CHECK(task_find("regress") == TASK_REGRESS);
    CHECK(task_find("detect") == TASK_DETECT && task_find("policy") == TASK_POLICY);
    CHECK(task_find("Classify") == -1);
    CHECK(task_find("") == -1);
    CHECK(!task_table[TASK_REGRESS].higher_is_better && task_table[TASK_DETECT].higher_is_better);
    CHECK(task_table[TASK_POLICY].class_labels && task_table[TASK_POLICY].needs_aux);
    CHECK(!task_table[TASK_DETECT].class_labels && task_table[TASK_DETECT].needs_aux);
    CHECK(strcmp(task_table[TASK_DETECT].metric, "f1") == 0 &&
          strcmp(task_table[TASK_POLICY].metric, "success") == 0);
}

/* Policy: success is top-1 against the expert, collision the share of samples whose top-1
 * action the expert marks unsafe (whether or not it is the expert's). */
static void test_policy(void)
{
    QsError err = { 0 };
    LabelMetrics m;
    label_metrics_init(&m, TASK_POLICY, 3);
    static const float out[4 * 3] = { 2, 0, 0,  0, 3, 0,  0, 0, 1,  1, 5, 0 };
    static const int64_t labels[4] = { 0, 1, 0, 2 };
    static const float unsafe[4 * 3] = { 0, 1, 0,  0, 1, 0,  1, 0, 1,  0, 0, 1 };
    CHECK_OK(label_metrics_add(&m, out, 4, labels, NULL, 0, &err), &err);
    CHECK_OK(label_metrics_add_aux(&m, out, 4, unsafe, 3, &err), &err);
    /* right: samples 0, 1; unsafe chosen: sample 1 (action 1), sample 2 (action 2) */
    CHECK(label_metrics_headline(&m) == 0.5 && label_metrics_collision(&m) == 0.5);
    expect_error("aux width", label_metrics_add_aux(&m, out, 1, unsafe, 2, &err), &err, QS_ESHAPE,
                 "2 unsafe flags per sample for 3 actions");
    label_metrics_release(&m);
    label_metrics_init(&m, TASK_CLASSIFY, 3);
    CHECK(isnan(label_metrics_collision(&m)));
    CHECK_OK(label_metrics_add_aux(&m, out, 4, unsafe, 3, &err), &err); /* no aux: no-op */
    label_metrics_release(&m);
}

/* Detect: the heat map goes through detect_counts_add with the configured geometry. */
static void test_detect_task(void)
{
    QsError err = { 0 };
    LabelMetrics m;
    label_metrics_init(&m, TASK_DETECT, 16);
    DetectCfg cfg = detect_cfg_default(4, 4, 4);
    label_metrics_set_detect(&m, &cfg);
    float heat[16];
    for (int i = 0; i < 16; i++)
        heat[i] = -5.0f;
    heat[1 * 4 + 2] = 3.0f; /* cell (1, 2): pixel centre (2.5, 1.5) */
    /* one small object there, one large object far from any peak */
    static const float objs[2 * 3] = { 2.5f, 1.5f, 4.0f, 0.5f, 3.5f, 16.0f };
    CHECK_OK(label_metrics_add_aux(&m, heat, 1, objs, 6, &err), &err);
    CHECK(m.det.tp[DET_SMALL] == 1 && m.det.fn[DET_LARGE] == 1 && m.det.fp[0] + m.det.fp[1] == 0);
    CHECK(label_metrics_headline(&m) == detect_f1(&m.det, -1));
    expect_error("aux width", label_metrics_add_aux(&m, heat, 1, objs, 5, &err), &err, QS_ESHAPE,
                 "objects need 3 values each");
    label_metrics_release(&m);
}

/* Writes one row of C logits whose argmax is `pred`. */
static void one_hot(float *row, int C, int pred)
{
    for (int j = 0; j < C; j++)
        row[j] = j == pred ? 1.0f : -1.0f;
}

static void test_confusion(void)
{
    /* (true, predicted); confusion (row = true):
     *   [2 1 0]
     *   [0 2 1]
     *   [0 1 3]
     * precision = (2/2, 2/4, 3/4), recall = (2/3, 2/3, 3/4), accuracy 7/10. */
    const int pairs[10][2] = { { 0, 0 }, { 0, 0 }, { 0, 1 }, { 1, 1 }, { 1, 2 },
                               { 1, 1 }, { 2, 2 }, { 2, 1 }, { 2, 2 }, { 2, 2 } };
    float out[10 * 3];
    int64_t labels[10];
    for (int i = 0; i < 10; i++) {
        one_hot(out + 3 * i, 3, pairs[i][1]);
        labels[i] = pairs[i][0];
    }
    LabelMetrics m;
    QsError err = { 0 };
    label_metrics_init(&m, TASK_CLASSIFY, 3);
    CHECK(isnan(label_metrics_accuracy(&m)));
    /* Streamed in two batches of 4 and 6. */
    CHECK_OK(label_metrics_add(&m, out, 4, labels, NULL, 0, &err), &err);
    CHECK_OK(label_metrics_add(&m, out + 12, 6, labels + 4, NULL, 4, &err), &err);
    CHECK(m.n == 10);
    const int64_t want[9] = { 2, 1, 0, 0, 2, 1, 0, 1, 3 };
    for (int k = 0; k < 9; k++)
        CHECK(m.confusion[k] == want[k]);
    EXACT("accuracy", label_metrics_accuracy(&m), 7.0 / 10.0);
    EXACT("precision0", label_metrics_precision(&m, 0), 1.0);
    EXACT("precision1", label_metrics_precision(&m, 1), 1.0 / 2.0);
    EXACT("precision2", label_metrics_precision(&m, 2), 3.0 / 4.0);
    EXACT("recall0", label_metrics_recall(&m, 0), 2.0 / 3.0);
    EXACT("recall1", label_metrics_recall(&m, 1), 2.0 / 3.0);
    EXACT("recall2", label_metrics_recall(&m, 2), 3.0 / 4.0);
    CHECK(isnan(label_metrics_precision(&m, 3)));
    CHECK(isnan(label_metrics_recall(&m, -1)));
    CHECK(isnan(label_metrics_mse(&m)));

    /* Out-of-range labels: QS_EINVAL naming the global sample index; nothing counted. */
    int64_t bad[3] = { 1, 3, 0 };
    expect_error("label too large", label_metrics_add(&m, out, 3, bad, NULL, 100, &err), &err,
                 QS_EINVAL, "sample 101: label 3 out of range [0, 3)");
    bad[1] = 1;
    bad[2] = -1;
    expect_error("negative label", label_metrics_add(&m, out, 3, bad, NULL, 7, &err), &err,
                 QS_EINVAL, "sample 9: label -1");
    CHECK(m.n == 10);
    for (int k = 0; k < 9; k++)
        CHECK(m.confusion[k] == want[k]);
    expect_error("no labels", label_metrics_add(&m, out, 1, NULL, NULL, 0, &err), &err,
                 QS_EINVAL, "labels");
    label_metrics_release(&m);
}

static void test_nan_precision_recall(void)
{
    /* 4 classes: class 2 is predicted once but never occurs; class 3 neither occurs nor is
     * predicted. A tie goes to the first index (row 2 ties classes 0 and 1). */
    float out[3 * 4] = { 5, 0, 0, 0, /* -> 0 */
                         0, 0, 5, 0, /* -> 2 */
                         1, 1, 0, 0 /* -> 0 */ };
    int64_t labels[3] = { 0, 1, 1 };
    LabelMetrics m;
    QsError err = { 0 };
    label_metrics_init(&m, TASK_CLASSIFY, 4);
    CHECK_OK(label_metrics_add(&m, out, 3, labels, NULL, 0, &err), &err);
    EXACT("accuracy", label_metrics_accuracy(&m), 1.0 / 3.0);
    EXACT("precision0", label_metrics_precision(&m, 0), 1.0 / 2.0);
    CHECK(isnan(label_metrics_precision(&m, 1))); /* never predicted */
    EXACT("recall1", label_metrics_recall(&m, 1), 0.0);
    EXACT("precision2", label_metrics_precision(&m, 2), 0.0);
    CHECK(isnan(label_metrics_recall(&m, 2)));    /* never occurs */
    CHECK(isnan(label_metrics_precision(&m, 3)));
    CHECK(isnan(label_metrics_recall(&m, 3)));
    label_metrics_release(&m);
}

static void test_multilabel(void)
{
    /* Bits: logit > 0 is 1, target >= 0.5 is 1.
     *   predicted [1 0 0] [0 1 1], targets [1 0 1] [0 0 1] -> 4 of 6 right. */
    const float out[6] = { 2, -1, 0, -3, 0.5f, 4 };
    const float tgt[6] = { 1, 0, 1, 0, 0, 1 };
    LabelMetrics m;
    QsError err = { 0 };
    label_metrics_init(&m, TASK_MULTILABEL, 3);
    CHECK_OK(label_metrics_add(&m, out, 2, NULL, tgt, 0, &err), &err);
    CHECK(m.bits_right == 4 && m.bits_total == 6);
    EXACT("bit accuracy", label_metrics_accuracy(&m), 4.0 / 6.0);
    expect_error("no targets", label_metrics_add(&m, out, 1, NULL, NULL, 0, &err), &err,
                 QS_EINVAL, "targets");
    label_metrics_release(&m);

    /* Probabilities: sigmoid(0) = 0.5 exactly, so every error is 0.5: MSE 1/4, MAE 1/2. */
    const float zero[4] = { 0, 0, 0, 0 }, t2[4] = { 1, 0, 0, 1 };
    label_metrics_init(&m, TASK_MULTILABEL, 2);
    CHECK_OK(label_metrics_add(&m, zero, 2, NULL, t2, 0, &err), &err);
    EXACT("multilabel mse", label_metrics_mse(&m), 0.25);
    EXACT("multilabel mae", label_metrics_mae(&m), 0.5);
    EXACT("all bits wrong", label_metrics_accuracy(&m), 0.5);
    label_metrics_release(&m);
}

static void test_regress(void)
{
    /* Differences 1, 0, 2, -2: MSE 9/4, MAE 5/4. */
    const float out[4] = { 1, 2, 3.5f, -1 }, tgt[4] = { 0, 2, 1.5f, 1 };
    LabelMetrics m;
    QsError err = { 0 };
    label_metrics_init(&m, TASK_REGRESS, 2);
    CHECK(isnan(label_metrics_mse(&m)));
    CHECK_OK(label_metrics_add(&m, out, 1, NULL, tgt, 0, &err), &err);
    CHECK_OK(label_metrics_add(&m, out + 2, 1, NULL, tgt + 2, 1, &err), &err);
    CHECK(m.n == 2 && m.values == 4);
    EXACT("mse", label_metrics_mse(&m), 9.0 / 4.0);
    EXACT("mae", label_metrics_mae(&m), 5.0 / 4.0);
    CHECK(isnan(label_metrics_accuracy(&m)));
    label_metrics_release(&m);
}

static void test_compare(void)
{
    CompareMetrics c;
    compare_metrics_init(&c);
    CHECK(isnan(compare_metrics_agreement(&c)));
    CHECK(isnan(compare_metrics_sqnr_db(&c)));

    /* Agreement: rows 0, 1, 3 have the same argmax, row 2 does not -> 3/4. */
    const float a[8] = { 1, 0, 0, 1, 2, 1, 5, 6 }, b[8] = { 3, 2, 1, 9, 0, 1, 5, 7 };
    compare_metrics_add(&c, a, b, 4, 2);
    EXACT("agreement", compare_metrics_agreement(&c), 3.0 / 4.0);
    /* Differences -2 -2 -1 -8 2 0 0 -1: max 8, MSE 78/8. */
    EXACT("max abs", c.max_abs, 8.0);
    EXACT("compare mse", compare_metrics_mse(&c), 78.0 / 8.0);

    /* Cosine of (3, 4) and (4, 3) is 24/25. */
    const float u[2] = { 3, 4 }, v[2] = { 4, 3 };
    compare_metrics_init(&c);
    compare_metrics_add(&c, u, v, 1, 2);
    EXACT("cosine", compare_metrics_cosine(&c), 24.0 / 25.0);
    compare_metrics_init(&c);
    compare_metrics_add(&c, u, u, 1, 2);
    near("cosine self", compare_metrics_cosine(&c), 1.0, 1e-15);
    CHECK(compare_metrics_sqnr_db(&c) == INFINITY);
    CHECK(compare_metrics_kl(&c) == 0.0);
    EXACT("identical mse", compare_metrics_mse(&c), 0.0);

    /* SQNR: signal 1, 2, 3, 4 (energy 30), noise +-0.5 (energy 1): 10 log10(30) dB. */
    const float s[4] = { 1, 2, 3, 4 }, sn[4] = { 1.5f, 1.5f, 3.5f, 3.5f };
    compare_metrics_init(&c);
    compare_metrics_add(&c, s, sn, 2, 2);
    near("sqnr", compare_metrics_sqnr_db(&c), 14.771212547196624, 1e-12);
    EXACT("max abs noise", c.max_abs, 0.5);

    /* Zero outputs: both zero -> cosine 1, one zero -> 0. */
    const float z[2] = { 0, 0 };
    compare_metrics_init(&c);
    compare_metrics_add(&c, z, z, 1, 2);
    EXACT("cosine zero/zero", compare_metrics_cosine(&c), 1.0);
    compare_metrics_init(&c);
    compare_metrics_add(&c, z, u, 1, 2);
    EXACT("cosine zero/u", compare_metrics_cosine(&c), 0.0);
}

static void test_kl(void)
{
    const double e = exp(1.0), e2 = exp(2.0);
    CompareMetrics c;

    /* a = (1, 0, 0), b = (0, 1, 0): p = (e, 1, 1)/(e+2), q = (1, e, 1)/(e+2),
     * KL = p0 (1 - 0) + p1 (0 - 1) = (e - 1)/(e + 2). */
    const float a1[3] = { 1, 0, 0 }, b1[3] = { 0, 1, 0 };
    compare_metrics_init(&c);
    compare_metrics_add(&c, a1, b1, 1, 3);
    double kl1 = (e - 1) / (e + 2);
    near("kl (e-1)/(e+2)", compare_metrics_kl(&c), kl1, 1e-12);

    /* a = (2, 0), b = (0, 0): p = (e^2, 1)/(e^2+1), q = (1/2, 1/2),
     * KL = 2 e^2/(e^2+1) - log((e^2+1)/2). */
    const float a2[2] = { 2, 0 }, b2[2] = { 0, 0 };
    compare_metrics_init(&c);
    compare_metrics_add(&c, a2, b2, 1, 2);
    double kl2 = 2 * e2 / (e2 + 1) - log((e2 + 1) / 2);
    near("kl two-class", compare_metrics_kl(&c), kl2, 1e-12);

    /* The mean over samples: a batch holding both rows of case 2 and a shifted copy of
     * case 2 (softmax ignores a constant shift) gives kl2. Large logits test stability. */
    const float a3[4] = { 2, 0, 1002, 1000 }, b3[4] = { 0, 0, -500, -500 };
    compare_metrics_init(&c);
    compare_metrics_add(&c, a3, b3, 2, 2);
    near("kl shifted mean", compare_metrics_kl(&c), kl2, 1e-12);

    /* The floor: b = (0, -40) gives q1 = e^-40/(1+e^-40) ~ 4e-18, floored to 1e-12, and
     * q0 rounds to 1 in double. p = (1/2, 1/2):
     * KL = 1/2 (log 1/2 - 0) + 1/2 (log 1/2 - log 1e-12) = log(1/2) + 6 log 10. */
    const float a4[2] = { 0, 0 }, b4[2] = { 0, -40 };
    compare_metrics_init(&c);
    compare_metrics_add(&c, a4, b4, 1, 2);
    near("kl floored", compare_metrics_kl(&c), log(0.5) + 6 * log(10.0), 1e-12);

    /* Samples from separate add() calls are averaged together. */
    compare_metrics_init(&c);
    compare_metrics_add(&c, a2, b2, 1, 2);
    compare_metrics_add(&c, a4, b4, 1, 2);
    near("kl mean over calls", compare_metrics_kl(&c),
         (kl2 + log(0.5) + 6 * log(10.0)) / 2, 1e-12);
}

int main(void)
{
    test_policy();
    test_detect_task();
    test_tasks();
    test_confusion();
    test_nan_precision_recall();
    test_multilabel();
    test_regress();
    test_compare();
    test_kl();
    return test_summary("metrics");
}
