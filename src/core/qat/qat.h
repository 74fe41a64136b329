/* Quantization-aware training (docs/qat.md): fine-tunes a copy of a model's weights through
 * the fake-quantized training graph of a plan (qat_graph.h) with the straight-through
 * estimator, moving-average or learned (LSQ) activation ranges, BatchNorm folded into the
 * weights, and a loss that mixes the task loss with distillation from the frozen FP32
 * teacher. After every epoch the fake-quantized model and its real integer conversion are
 * scored on a validation split; the epoch with the best INT8 metric is the result. */
#ifndef QS_QAT_H
#define QS_QAT_H

#include <stdbool.h>
#include <stdint.h>

#include "quant/calib.h"
#include "data/dataset.h"
#include "base/error.h"
#include "base/job.h"
#include "train/loss.h"
#include "eval/metrics.h"
#include "graph/model.h"
#include "train/optim.h"
#include "quant/plan.h"
#include "qat/qat_graph.h"

typedef enum { QAT_DISTILL_NONE = 0, QAT_DISTILL_KL, QAT_DISTILL_MSE, QAT_DISTILL_COUNT } QatDistill;

extern const char *const qat_distill_names[QAT_DISTILL_COUNT]; /* "none", "kl", "mse" */

typedef struct QatConfig {
    int epochs;                 /* >= 1 */
    int batch;                  /* samples per step (>= 1); the last smaller batch is used */
    int eval_batch;             /* batch of the validation passes; 0 = batch */
    OptimKind optim;
    OptimConfig opt;            /* constant learning rate opt.lr */
    int distill;                /* QatDistill, or -1: kl for classify, mse otherwise */
    double temperature;         /* kl: T > 0 */
    double alpha;               /* weight of the task loss, [0, 1]; 1 - alpha weighs the
                                   distillation loss (ignored with distill none) */
    const int *features;        /* model nodes whose outputs are matched to the teacher's
                                   with MSE (weight 1 each); not owned */
    int n_features;
    int freeze_bn_after;        /* epochs in which BatchNorms use batch statistics and update
                                   their running statistics; 0: frozen from the start */
    int observer_freeze_after;  /* epochs in which activation ranges move; 0: never frozen */
    int patience;               /* stop after this many epochs without an INT8 improvement;
                                   0: never */
    const float *class_weights; /* (n_class_weights) task-loss class weights or NULL */
    int n_class_weights;
    bool auto_class_weights;    /* as train's class_weights=auto */
    uint64_t seed;              /* shuffling */
    QatScales scales;
    double ma_momentum;         /* QAT_SCALES_EMA: weight of each batch's min/max, (0, 1] */
} QatConfig;

/* 3 epochs, batch 32, Adam at lr 1e-4 (ten times below train's default, as is usual for
 * fine-tuning), distill -1 (kl for classify), T = 4, alpha = 0.5, no features, BatchNorm
 * frozen from the start, ranges never frozen, patience 0, seed 0, moving-average ranges
 * with momentum 0.01 (PyTorch's MovingAverageMinMaxObserver). */
QatConfig qat_config_default(void);

/* ---- the loss ---------------------------------------------------------------------------- */

typedef struct QatLossCfg {
    LossKind task;              /* the task loss */
    const float *class_weights; /* (C) or NULL */
    int distill;                /* QatDistill */
    double temperature, alpha;
} QatLossCfg;

typedef struct QatLossParts {
    double task;                /* mean task loss */
    double distill;             /* mean distillation loss (kl: T^2 KL; mse: logit MSE); 0 with none */
    double total;               /* alpha task + (1 - alpha) distill; task alone with none */
} QatLossParts;

/* The loss of one batch of logits (N, C) against labels (N) (class tasks) or targets (N, C),
 * and the teacher's logits (N, C) (unused with distill none). Overwrites dlogits (N, C) with
 * d total / d logits. Fails as loss_compute. */
QsStatus qat_loss(const QatLossCfg *c, const float *logits, const float *teacher,
                  const int64_t *labels, const float *targets, int64_t n, int C,
                  float *dlogits, QatLossParts *out, QsError *err);

/* ---- the loop ---------------------------------------------------------------------------- */

typedef struct QatEpoch {
    int epoch, epochs;          /* 1-based; configured total */
    double task_loss;           /* means over the epoch's samples, training mode */
    double distill_loss;
    double feature_loss;        /* sum of the feature MSEs (0 without features) */
    double fake_metric;         /* validation metric of the fake-quantized training graph */
    double int8_metric;         /* ... of its integer conversion (the selection metric) */
    double lr;
    bool improved;              /* strictly better INT8 metric than every earlier epoch */
    bool bn_frozen, ranges_frozen; /* state after this epoch */
    double seconds;
} QatEpoch;

typedef void (*QatEpochFn)(void *user, const QatEpoch *e);

typedef struct QatSummary {
    const char *metric;         /* "accuracy" (classify top-1, multilabel bits) or "mse" */
    bool higher_is_better;
    double ptq_metric;          /* INT8 metric of the starting point (epoch 0: the PTQ plan) */
    double ptq_fake_metric;     /* and of its fake-quantized training graph */
    int epochs_run;
    int best_epoch;             /* the epoch the result holds; 0: the starting point */
    double best_metric;         /* its INT8 metric */
    double best_fake_metric;    /* its fake-quantized metric */
    bool stopped_early;
    int64_t steps;
    int64_t n_params;           /* trainable scalars (folded weights, biases, other layers'
                                   parameters, learned scales) */
    int n_act;                  /* activation quantization points */
    int n_units;                /* int8 linear units (weights fake-quantized) */
    int distill;                /* the QatDistill used */
    double seconds;
} QatSummary;

/* The result: a model with the source's graph structure holding the fine-tuned weights, the
 * calibration made from the ranges it ended with, and its plan (the source plan with the
 * min-max observer, which gives back exactly those ranges). */
typedef struct QatResult {
    Model *model;               /* owned; NULL when there is no result */
    Calibration cal;
    Plan plan;
} QatResult;

void qat_result_release(QatResult *r);

/* Fine-tunes `student` (not changed: the training graph holds copies) under plan p from
 * calibration cal, with `teacher` (same graph structure; not changed) as the frozen FP32
 * reference. train and val are labelled splits (val is required: it selects the epoch and
 * drives early stopping, so it should be a validation split, not the test split).
 * Epoch 0 (before any step) is scored first and is the result when no epoch beats it:
 * then the result is the PTQ model (sum->best_epoch == 0), which callers must say.
 *
 * *res (initialised here) receives the best epoch's model in every case where an epoch
 * was scored -- normal end, early stop, cancellation (QS_ECANCELLED with a message naming
 * the epoch kept) or a later failure -- and stays empty otherwise. *sum (may be NULL) is
 * filled in every case. Progress through job with phases "qat" and "val". */
QsStatus qat_run(const Model *student, const Model *teacher, const Plan *p,
                 const Calibration *cal, const Dataset *train, const Dataset *val,
                 TaskKind task, const QatConfig *cfg, const JobCtx *job, QatEpochFn on_epoch,
                 void *user, QatResult *res, QatSummary *sum, QsError *err);

#endif
