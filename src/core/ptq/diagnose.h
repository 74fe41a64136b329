/* What a seasoned engineer would spot in a quantized plan, each finding naming the layer
 * (and the channels, for weights), its evidence, the command that fixes it and, where the
 * fix is a plan change, the metric the fixed plan reaches on the validation split.
 *
 * Rules (docs/plans.md, "diagnose", states the thresholds):
 *  - weight-levels: output channels whose range covers few integer levels under their
 *    scale (ptq/wstats.h); under a per-tensor scale, the wide channels that set it are
 *    named. Fix: per-channel weights on that layer, else the layer at fp16.
 *  - local-error: a layer's own RMSE in output steps (qerror.h, local) far above the
 *    rounding floor 1/sqrt(12). Fix: per-channel weights when per-tensor, else fp16.
 *  - wide-range, clipped, error-jump, fp16-overflow: as the kinds' comments say.
 *  - collapse: the quantized classifier predicts nearly one class, or its output entropy
 *    collapses, on the measuring split (ptq/diag_collapse.h).
 *  - range-moving, outlier-sample: the calibration's ranges have not settled, or one
 *    sample sets one (ptq/diag_calib.h; needs SensContext.calib_d).
 * Measured findings whose fix gains come first, largest gain first; then the others by
 * severity. */
#ifndef QS_DIAGNOSE_H
#define QS_DIAGNOSE_H

#include <stdbool.h>

#include "base/error.h"
#include "ptq/diag_collapse.h"
#include "ptq/sensitivity.h"

typedef enum {
    DIAG_WEIGHT_LEVELS = 0, /* output channels whose weights use few integer levels */
    DIAG_LOCAL_ERROR,       /* a layer's own error far above the output rounding floor */
    DIAG_WIDE_RANGE,        /* an activation range far wider than the next clip lets through */
    DIAG_CLIPPED,           /* many calibrated values outside the clipping range */
    DIAG_ERROR_JUMP,        /* small local error, large jump in accumulated error */
    DIAG_FP16_OVERFLOW,     /* values beyond 65504 */
    DIAG_COLLAPSE,          /* the quantized classifier predicts one class / its entropy
                               collapses (channels: the class it favours) */
    DIAG_RANGE_MOVING,      /* calibration ranges still moving with more samples */
    DIAG_OUTLIER_SAMPLE,    /* one calibration sample sets a range's end far beyond the
                               others */
    DIAG_COUNT
} DiagKind;

#define DIAG_MAX_CHANNELS 8

typedef struct Finding {
    DiagKind kind;
    int node;               /* the layer it is about */
    int n_channels;         /* output channels named (weight-levels), worst first */
    int channels[DIAG_MAX_CHANNELS];
    double severity;        /* for ordering unmeasured findings: larger is worse */
    char evidence[480];
    char fix[160];          /* the command that applies the fix, or advice */
    bool measured;          /* the fix is a plan change and was scored */
    double metric;          /* measured: the fixed plan's metric on the split */
    double gain;            /* measured: how much better than the plan (sens_drop's sign
                               reversed: positive = better) */
} Finding;

extern const char *const diag_kind_names[DIAG_COUNT];

typedef struct DiagReport {
    Finding *f;             /* n, in order */
    int n;
    Plan judged;            /* the plan judged: p, or p at int8-static when p runs all in
                               fp32 (what there is to find is about quantizing it) */
    bool scored;            /* c->d is labelled: base_metric and fixes were measured */
    double base_metric;     /* the judged plan's metric on the split */
    double fp32_metric;     /* the float model's */
    CollapseStats collapse; /* the collapse check's figures (collapse.checked: it ran) */
} DiagReport;

/* Examines plan p with the session's calibration (QS_EINVAL without one). c->d (may be
 * NULL) feeds the error rules and the collapse check (its first c->n samples, all when
 * n <= 0) and, when it is labelled, the measurement of every fix; c->calib_d (may be NULL)
 * the calibration checks. The caller releases *out with diagnose_release. */
QsStatus diagnose_run(const SensContext *c, const Plan *p, DiagReport *out, QsError *err);
void diagnose_release(DiagReport *r);

#endif
