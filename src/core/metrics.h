/* Metrics, accumulated batch by batch so that evaluation streams over a data set.
 * Against labels: top-1 accuracy, per-class precision/recall, confusion matrix,
 * multi-label bit accuracy, MSE/MAE. Between two runs on the same inputs: top-1
 * agreement, max abs difference, MSE, SQNR, cosine similarity, softmax KL divergence. */
#ifndef QS_METRICS_H
#define QS_METRICS_H

#include <stdint.h>

#include "error.h"

typedef enum { TASK_CLASSIFY = 0, TASK_MULTILABEL, TASK_REGRESS, TASK_COUNT } TaskKind;
const char *task_name(TaskKind t);
int task_find(const char *name); /* -1 when unknown */

typedef struct LabelMetrics {
    TaskKind task;
    int n_classes;          /* classify: C; multilabel: bits per sample; regress: values */
    int64_t n;              /* samples seen */
    int64_t *confusion;     /* classify: [C*C], row = true class, column = predicted */
    int64_t bits_right, bits_total;       /* multilabel: logit > 0 means 1 */
    double sum_sq, sum_abs; int64_t values; /* regress (and multilabel probabilities) */
} LabelMetrics;

/* n_classes is the model output's per-sample width. Caller releases. */
void label_metrics_init(LabelMetrics *m, TaskKind task, int n_classes);
void label_metrics_release(LabelMetrics *m);
/* out (n, C) f32. classify: labels (n,) i64, each in [0, C) or QS_EINVAL naming the
 * sample index (offset by first_index) and value. multilabel/regress: targets (n, C) f32. */
QsStatus label_metrics_add(LabelMetrics *m, const float *out, int64_t n, const int64_t *labels,
                           const float *targets, int64_t first_index, QsError *err);
double label_metrics_accuracy(const LabelMetrics *m);   /* classify top-1, multilabel bits */
double label_metrics_precision(const LabelMetrics *m, int cls); /* NaN when none predicted */
double label_metrics_recall(const LabelMetrics *m, int cls);    /* NaN when class absent */
double label_metrics_mse(const LabelMetrics *m);
double label_metrics_mae(const LabelMetrics *m);

typedef struct CompareMetrics {
    int64_t n;              /* samples */
    int64_t values;         /* elements */
    int64_t agree;          /* top-1 of a equals top-1 of b */
    double max_abs;
    double sum_sq_diff, sum_sq_ref;    /* ref = a */
    double dot, norm_a, norm_b;
    double kl_sum;          /* sum over samples of KL(softmax(a) || softmax(b)) */
} CompareMetrics;

void compare_metrics_init(CompareMetrics *c);
/* a is the reference run, b the other; both (n, C) f32. */
void compare_metrics_add(CompareMetrics *c, const float *a, const float *b, int64_t n, int C);
double compare_metrics_agreement(const CompareMetrics *c);
double compare_metrics_mse(const CompareMetrics *c);
/* 10 log10(sum a^2 / sum (a-b)^2); +Inf when identical. */
double compare_metrics_sqnr_db(const CompareMetrics *c);
double compare_metrics_cosine(const CompareMetrics *c);
double compare_metrics_kl(const CompareMetrics *c);     /* mean per sample, nats */

#endif
