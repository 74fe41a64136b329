/* The float training loop: seeded shuffling, mini-batches, training-mode forward, loss,
 * backward, optional gradient clipping, optimizer step, per-epoch learning-rate schedule,
 * validation after each epoch, best-weights snapshot, early stopping and cancellation.
 * The exact rules are in docs/training.md. */
#ifndef QS_TRAIN_H
#define QS_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "base/error.h"
#include "base/job.h"
#include "train/loss.h"
#include "eval/metrics.h"
#include "graph/model.h"
#include "train/optim.h"
#include "base/rng.h"

typedef struct TrainConfig {
    int epochs;                 /* >= 1 */
    int batch;                  /* samples per step (>= 1); an epoch's last batch may be
                                   smaller and is still used */
    int eval_batch;             /* batch of the validation pass; 0 = batch */
    int loss;                   /* LossKind, or -1 for the task's: classify ->
                                   cross_entropy, multilabel -> bce_logits, regress -> mse */
    OptimKind optim;
    OptimConfig opt;            /* lr is the schedule's base; start from
                                   optim_config_default(optim) when changing optim */
    SchedKind sched;
    int step_size;              /* step schedule: epochs per decay */
    double gamma;               /* step schedule: decay factor */
    double clip_norm;           /* > 0: clip the global gradient L2 norm to it; 0: off */
    int patience;               /* stop after this many epochs without improvement; 0: never */
    uint64_t seed;              /* shuffling (rng.h, so the same on every machine) */
    bool shuffle;               /* false: samples in data-set order every epoch */
    const float *class_weights; /* (n_class_weights) explicit class weights or NULL; not
                                   owned. n_class_weights must equal the output width C */
    int n_class_weights;
    bool auto_class_weights;    /* class_weights=auto: train_auto_class_weights */
    float label_smoothing;      /* cross_entropy only, [0, 1] */
} TrainConfig;

/* 10 epochs, batch 32, task's loss, Adam with torch's defaults (lr 1e-3), constant
 * schedule (step_size 10, gamma 0.1 when switched to step), no clipping, patience 0,
 * seed 0, shuffling on, no class weights, no smoothing. */
TrainConfig train_config_default(void);

/* One finished epoch, passed to the per-epoch callback. */
typedef struct TrainEpoch {
    int epoch;                  /* 1-based */
    int epochs;                 /* configured total */
    double train_loss;          /* mean loss over the epoch's samples (each batch's mean
                                   loss weighted by its size), training mode */
    double val_metric;          /* the selection metric, see TrainSummary.metric */
    double lr;                  /* learning rate used in this epoch */
    bool improved;              /* strictly better than every earlier epoch: snapshot taken */
    double seconds;             /* wall time of the epoch, validation included */
} TrainEpoch;

typedef void (*TrainEpochFn)(void *user, const TrainEpoch *e);

typedef struct TrainSummary {
    const char *metric;         /* "accuracy" (classify: top-1; multilabel: bit accuracy),
                                   "mse" (regress), or "train_loss" when there is no
                                   validation split. Static string. */
    bool higher_is_better;      /* true for accuracy; false for mse and train_loss */
    int epochs_run;             /* epochs completed */
    int best_epoch;             /* 1-based epoch whose weights the model holds; 0: none
                                   improved, the initial weights were kept */
    double best_metric;         /* metric of best_epoch (NaN when 0) */
    double last_train_loss;     /* train loss of the last completed epoch (NaN when none) */
    bool stopped_early;         /* patience ran out */
    int64_t steps;              /* optimizer steps taken */
    int64_t n_params;           /* trainable scalars */
    double seconds;
} TrainSummary;

/* Trains m's float weights in place on `train`, selecting by `val` (may be NULL: then the
 * epoch's train loss selects). The model must have one input; the loss reads output 0
 * viewed as (N, C) with C its per-sample width. Labels per task as in eval_labels: classify
 * (N,) i64 in [0, C), multilabel (N, C) f32 in [0, 1], regress (N, C) f32; all of them
 * (and val's shape) are checked before the first step.
 *
 * After every epoch the model holds that epoch's weights while `on_epoch` (may be NULL)
 * runs; at the end -- normal, early stop, cancellation or error -- it holds the best
 * epoch's parameters AND BatchNorm running statistics (or the initial ones when no epoch
 * improved). Cancellation through job (checked every batch and during validation) returns
 * QS_ECANCELLED with a message naming the epoch whose weights were kept. *out (may be
 * NULL) is filled in every case. Progress goes through job_progress with phase "train"
 * or "val". */
QsStatus train_run(Model *m, const Dataset *train, const Dataset *val, TaskKind task,
                   const TrainConfig *cfg, const JobCtx *job, TrainEpochFn on_epoch,
                   void *user, TrainSummary *out, QsError *err);

/* class_weights=auto: w[c] proportional to 1 / count[c] over the labels (N,) i64, scaled
 * so the mean over the classes present is 1 (w[c] = (P / count[c]) / sum_k (1 / count[k])
 * over the P present classes). Absent classes get 1 (they are never a target; the value
 * only enters label smoothing). QS_EINVAL for a label outside [0, C). */
QsStatus train_auto_class_weights(const Tensor *labels, int n_classes, float *w /* (C) */,
                                  QsError *err);

/* ---- pieces shared with the QAT loop (qat_run.c) -----------------------------------------
 * train_run (train_run.c) is built from these and from the epoch loop (epochs.h); qat_run
 * uses the same ones, so both loops shuffle, batch, weigh classes, check data and choose
 * their epoch identically. */

/* The loss a task trains with: classify cross_entropy, multilabel bce_logits, regress mse. */
LossKind train_task_loss(TaskKind task);
/* The loss's class count C: the per-sample width of the first graph output (1 to INT_MAX). */
QsStatus train_output_width(const Graph *g, int *C, QsError *err);

/* The split d fits graph g (one input) and loss `loss` with C outputs per sample: sample
 * shape, label kind and count, class labels in [0, C), bce targets in [0, 1], finite
 * regression targets. `name` names the split in messages. */
QsStatus train_check_split(const Graph *g, const Dataset *d, const char *name, TaskKind task,
                           int C, const LossDef *loss, QsError *err);

/* Class weights into w (C): a copy of `given` (n_given must be C) or, with autow,
 * train_auto_class_weights over train's labels; every weight finite and >= 0. */
QsStatus train_class_weights(const float *given, int n_given, bool autow, const Dataset *train,
                             int C, float *w, QsError *err);

/* A fresh Fisher-Yates permutation of [0, n) from r (docs/training.md, "Shuffling"). */
void train_shuffle(Rng *r, int64_t *perm, int64_t n);

/* The buffers of one training step, shared by `train` and `qat`: the inputs of up to B
 * samples, their class labels or float targets (C per sample), dL/dlogits, and the
 * sample order of the whole split. */
typedef struct TrainBatch {
    int64_t cap;        /* B */
    int C;
    DataBatch x;
    int64_t *labels;    /* (B) when the loss takes class labels, else NULL */
    float *targets;     /* (B, C) otherwise */
    float *dlogits;     /* (B, C) */
    int64_t *perm;      /* (N) */
} TrainBatch;

/* malloc of count x elem bytes sized from data, checked: NULL and QS_ENOMEM naming what
 * it was for when it overflows or fails. */
void *train_alloc(int64_t count, size_t elem, const char *what, QsError *err);

/* Buffers for batches of min(batch, len(d)) samples of d; QS_ENOMEM names the size. */
QsStatus train_batch_init(TrainBatch *b, const Dataset *d, int64_t batch, int C,
                          bool class_labels, QsError *err);
void train_batch_release(TrainBatch *b);
/* Copies samples perm[first .. first + n) of d into b: every input, and their labels or
 * targets. QS_EIO when an input read from its file cannot be read. */
QsStatus train_gather(const Dataset *d, int64_t first, int64_t n, TrainBatch *b, QsError *err);

/* A monotonic clock in seconds. */
double train_now(void);

/* A job context for a validation pass whose own progress [0, 1] maps onto [base, base +
 * span] of `outer` with phase "val" (cancellation is outer's). sub must outlive the pass. */
typedef struct TrainSubJob {
    const JobCtx *outer;
    double base, span;
} TrainSubJob;
JobCtx train_sub_job(TrainSubJob *sub, const JobCtx *outer, double base, double span);

#endif
