/* Metrics, accumulated batch by batch so that evaluation streams over a data set.
 * Against labels: top-1 accuracy, per-class precision/recall, confusion matrix,
 * multi-label bit accuracy, MSE/MAE. Between two runs on the same inputs: top-1
 * agreement, max abs difference, MSE, SQNR, cosine similarity, softmax KL divergence. */
#ifndef QS_METRICS_H
#define QS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "eval/metrics_detect.h"

typedef enum {
    TASK_CLASSIFY = 0,
    TASK_MULTILABEL,
    TASK_REGRESS,
    TASK_DETECT,    /* heat-map detector: peaks matched to object centres (metrics_detect.h) */
    TASK_POLICY,    /* classify against an expert's action, plus unsafe actions chosen */
    TASK_COUNT
} TaskKind;

/* What each task needs and reports; every task-dependent choice reads this row. */
typedef struct TaskDef {
    const char *name;           /* "classify", ... */
    const char *metric;         /* the headline metric's name: "accuracy", "mse", "f1", ... */
    bool higher_is_better;      /* of the headline metric */
    bool class_labels;          /* y holds class indices (i64), else float targets */
    bool needs_aux;             /* the metric needs Dataset.aux (dataset.h) */
} TaskDef;

extern const TaskDef task_table[TASK_COUNT];
const char *task_name(TaskKind t);
int task_find(const char *name); /* -1 when unknown */

typedef struct LabelMetrics {
    TaskKind task;
    int n_classes;          /* classify: C; multilabel: bits per sample; regress: values */
    int64_t n;              /* samples seen */
    int64_t *confusion;     /* classify: [C*C], row = true class, column = predicted */
    int64_t bits_right, bits_total;       /* multilabel: logit > 0 means 1 */
    double sum_sq, sum_abs; int64_t values; /* regress (and multilabel probabilities) */
    int64_t unsafe;         /* policy: samples whose top-1 action is marked unsafe */
    DetectCfg det_cfg;      /* detect: set by label_metrics_set_detect */
    DetectCounts det;
} LabelMetrics;

/* n_classes is the model output's per-sample width (detect: the heat-map cells; set the
 * geometry with label_metrics_set_detect). Caller releases. */
void label_metrics_init(LabelMetrics *m, TaskKind task, int n_classes);
void label_metrics_release(LabelMetrics *m);
/* out (n, C) f32. classify: labels (n,) i64, each in [0, C) or QS_EINVAL naming the
 * sample index (offset by first_index) and value. multilabel/regress: targets (n, C) f32. */
QsStatus label_metrics_add(LabelMetrics *m, const float *out, int64_t n, const int64_t *labels,
                           const float *targets, int64_t first_index, QsError *err);
/* Task extras for the same n samples (after label_metrics_add): policy aux (n, C) unsafe
 * mask; detect aux (n, k, 3) objects with k = aux_width / 3. QS_ESHAPE when the width
 * does not fit; a no-op for tasks without aux. */
QsStatus label_metrics_add_aux(LabelMetrics *m, const float *out, int64_t n, const float *aux,
                               int64_t aux_width, QsError *err);
void label_metrics_set_detect(LabelMetrics *m, const DetectCfg *cfg);
/* The headline metric of the task (task_table[task].metric). */
double label_metrics_headline(const LabelMetrics *m);
/* Share of samples whose top-1 action is unsafe (policy), NaN otherwise. */
double label_metrics_collision(const LabelMetrics *m);
double label_metrics_accuracy(const LabelMetrics *m);   /* classify/policy top-1, multilabel bits */
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
