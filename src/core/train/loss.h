/* Training losses, as a table. Each loss takes a batch of model outputs viewed as
 * (N, C) -- C the per-sample width -- and its targets, returns the MEAN loss in double and
 * writes dL/dlogits (N, C) for that mean. Sums are done in double; the gradient is rounded
 * to float32 once per element. Formulas and PyTorch equivalents: docs/training.md.
 *
 *   cross_entropy  softmax cross-entropy on class indices (torch.nn.CrossEntropyLoss with
 *                  weight=, label_smoothing=, reduction='mean')
 *   bce_logits     sigmoid binary cross-entropy per element, multi-label targets in [0, 1]
 *                  (torch.nn.BCEWithLogitsLoss with weight= broadcast per class)
 *   mse            mean squared error over all N*C elements (torch.nn.MSELoss)
 *   kl_distill     knowledge distillation: T^2 KL(softmax(t / T) || softmax(z / T)) with
 *                  the teacher's logits t as targets, summed over classes and averaged over
 *                  samples (T*T * F.kl_div(log_softmax(z/T), softmax(t/T), 'batchmean'));
 *                  `mse` with teacher logits as targets is logit matching
 */
#ifndef QS_LOSS_H
#define QS_LOSS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef enum {
    LOSS_CROSS_ENTROPY = 0,
    LOSS_BCE_LOGITS,
    LOSS_MSE,
    LOSS_KL_DISTILL,
    LOSS_COUNT
} LossKind;

typedef struct LossArgs {
    const float *logits;         /* (N, C) model outputs */
    int64_t n;                   /* N >= 1 */
    int c;                       /* C >= 1 (cross_entropy: the number of classes) */
    const int64_t *labels;       /* (N) class indices in [0, C): cross_entropy */
    const float *targets;        /* (N, C): bce_logits (each in [0, 1]), mse, kl_distill (the
                                    teacher's logits, finite) */
    const float *class_weights;  /* (C) or NULL (all 1): cross_entropy, bce_logits */
    float label_smoothing;       /* cross_entropy only, in [0, 1] */
    double temperature;          /* kl_distill only: T > 0; 0 is read as 1 */
} LossArgs;

typedef struct LossDef {
    const char *name;            /* "cross_entropy", "bce_logits", "mse", "kl_distill" */
    const char *short_name;      /* what train's loss= takes: "ce", "bce", "mse"; NULL for a
                                    loss only used inside (kl_distill, the last row) */
    bool class_labels;           /* targets are class indices (labels), else targets (N, C) */
    bool uses_class_weights;
    bool uses_label_smoothing;
    /* Sets *loss to the mean loss and, when dlogits is non-NULL, OVERWRITES dlogits (N, C)
     * with d(mean loss)/d(logits). Fails with QS_EINVAL naming the sample for a label out
     * of [0, C), a target outside [0, 1] (bce_logits), a non-finite target (mse,
     * kl_distill), a bad weight, smoothing or temperature value.
     * On failure *loss and dlogits are unspecified. */
    QsStatus (*compute)(const LossArgs *a, double *loss, float *dlogits, QsError *err);
} LossDef;

extern const LossDef loss_table[LOSS_COUNT];

/* Loss index by name, or -1. */
int loss_find(const char *name);

/* Runs loss `kind` (QS_EINVAL for an index out of the table). */
QsStatus loss_compute(LossKind kind, const LossArgs *a, double *loss, float *dlogits,
                      QsError *err);

#endif
