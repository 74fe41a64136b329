/* The epoch loop `train` and `qat` share: per epoch a seeded shuffle of the sample order,
 * the training batches (cancellation checked before each, progress after), validation,
 * the choice of the best epoch, patience and the per-epoch report. What a step, a
 * validation or a snapshot is, the caller's callbacks say. */
#ifndef QS_EPOCHS_H
#define QS_EPOCHS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/job.h"
#include "data/dataset.h"
#include "train/train.h"

typedef struct EpochLoop {
    /* ---- set by the caller */
    int epochs;                 /* >= 1 */
    int patience;               /* stop after this many epochs without improvement; 0: never */
    bool shuffle;               /* false: data-set order every epoch */
    uint64_t seed;              /* the shuffle's (train_shuffle) */
    bool higher_is_better;
    const Dataset *train;
    TrainBatch *tb;             /* train_batch_init'ed for train; perm is the order */
    double share;               /* part of an epoch's progress the batches take; validation
                                   gets the rest */
    const char *what;           /* names the work when cancelled: "training" */
    const char *phase;          /* progress label: "train" */
    void *user;
    /* Before the epoch's first batch (after the shuffle); may be NULL. */
    void (*begin)(void *user, int epoch);
    /* One step on the batch gathered into tb: samples order[first .. first + n). */
    QsStatus (*step)(void *user, int epoch, int64_t first, int64_t n, QsError *err);
    /* The epoch's selection metric; base and span place its progress in the job's. */
    QsStatus (*score)(void *user, int epoch, double base, double span, double *metric,
                      QsError *err);
    /* After the choice: take or drop a snapshot, report the epoch (seconds: its wall time,
     * validation included). */
    void (*end)(void *user, int epoch, bool improved, double metric, double seconds);
    /* ---- in: the metric to beat (NaN: any number beats it); out: the best epoch's */
    double best;
    /* ---- out, also after a failure */
    int epoch;                  /* the epoch running when the loop ended */
    int epochs_run;             /* epochs completed */
    int best_epoch;             /* 0: none beat the starting metric */
    int64_t steps;
    bool stopped_early;         /* patience ran out */
} EpochLoop;

/* Runs the epochs; the first failure of a callback, or QS_ECANCELLED (message "WHAT
 * cancelled"), ends it. An epoch improves when its metric is strictly better than the
 * best so far, or the best is NaN and it is not. */
QsStatus epoch_loop_run(EpochLoop *l, const JobCtx *job, QsError *err);

#endif
