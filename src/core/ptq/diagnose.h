/* What a seasoned engineer would spot in a quantized plan, each finding with its evidence
 * and a suggested fix, worst first. */
#ifndef QS_DIAGNOSE_H
#define QS_DIAGNOSE_H

#include "data/dataset.h"
#include "base/error.h"
#include "base/job.h"
#include "graph/model.h"
#include "ptq/qstate.h"

typedef enum {
    DIAG_TENSOR_SCALE = 0,  /* a per-tensor weight scale set by one channel */
    DIAG_WIDE_RANGE,        /* an activation range far wider than the next clip lets through */
    DIAG_CLIPPED,           /* many calibrated values outside the clipping range */
    DIAG_ERROR_JUMP,        /* small local error, large jump in accumulated error */
    DIAG_FP16_OVERFLOW,     /* values beyond 65504 */
    DIAG_COUNT
} DiagKind;

typedef struct Finding {
    DiagKind kind;
    int node;               /* the layer it is about */
    double severity;        /* for ordering: larger is worse (roughly "share of damage") */
    char evidence[256];
    char fix[160];
} Finding;

extern const char *const diag_kind_names[DIAG_COUNT];

/* Examines model m under plan p with the session's calibration and (for the error check)
 * the first n samples of d. *out is new memory (free), sorted worst first. */
QsStatus diagnose_run(QuantState *qs, const Model *m, const Plan *p, const Dataset *d, int64_t n,
                      int batch, const JobCtx *job, Finding **out, int *n_out, QsError *err);

#endif
