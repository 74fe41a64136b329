/* Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization", section 4.2,
 * empirical variant; AIMET's empirical bias correction): quantizing a layer's weights (and
 * its input) shifts the mean of its output. Over calibration samples, the per-output-channel
 * mean of (float pre-activation - quantized pre-activation) of every int8 linear unit is
 * measured and added to that unit's bias in the lowered model, so the quantized unit is
 * unbiased on that data. The float model is never changed: a correction is part of the
 * quantized state (qstate.h), tied to the plan it was measured for. Rules and figures:
 * docs/plans.md, "Fixing without training". */
#ifndef QS_BIASCORR_H
#define QS_BIASCORR_H

#include <stdbool.h>
#include <stdint.h>

#include "quant/calib.h"
#include "data/dataset.h"
#include "base/error.h"
#include "base/job.h"
#include "graph/model.h"
#include "quant/plan.h"
#include "base/tensor.h"

typedef struct BiasCorr {
    int n_nodes;          /* 0: no correction */
    float **v;            /* [n_nodes] per output channel of an int8 unit head, else NULL;
                             owned (each vector too) */
    int64_t *len;         /* [n_nodes] entries of v[i] (0 where NULL) */
    Plan plan;            /* the plan it was measured for: it applies to that plan only */
    uint64_t gen;         /* identity of the values, for qstate's lowering cache: equal gens
                             mean equal values (copies keep it; biascorr_next_gen) */
    char split[16];       /* the split it was measured on */
    int64_t samples;
} BiasCorr;

/* A new process-wide unique gen (never 0), for a correction whose values are new. */
uint64_t biascorr_next_gen(void);

/* The empty correction (nothing owned). */
BiasCorr biascorr_none(void);
bool biascorr_active(const BiasCorr *c);
void biascorr_release(BiasCorr *c);             /* leaves it empty; NULL-safe */
void biascorr_copy(BiasCorr *dst, const BiasCorr *src); /* dst initialised here; same gen */

/* What biascorr_run measured, per corrected unit (topological order). */
typedef struct BiasCorrUnit {
    int node;             /* the unit head */
    PrecKind prec;
    int64_t channels;
    double rms, max_abs;  /* of the correction over the channels */
    double rms_pre;       /* RMS of the float pre-activation, for scale */
} BiasCorrUnit;

typedef struct BiasCorrReport {
    int n_units;
    BiasCorrUnit *units;  /* [n_units], caller frees with free() */
    int64_t samples;
    /* SQNR of the graph outputs against the float model's on the same samples, before and
     * after the correction (dB; +Inf when identical) */
    double sqnr_before, sqnr_after;
} BiasCorrReport;

/* Measures the correction of every int8 linear unit (Conv, Dense, Gemm, MatMul heads at
 * int8-static or int8-dyn under plan p) on the first n samples of d (n <= 0: all), in
 * batches of `batch`, SEQUENTIALLY: unit k is measured on the inputs the quantized model
 * gives it with units 1..k-1 already corrected (AIMET's empirical bias correction), as
 *     corr_k[c] = mean over samples and positions of (z_float[c] - z_quant[c])
 * where z_float is the float model's pre-activation (the head's output, or its folded
 * BatchNorm's) on the float input and z_quant the unit's quantized pre-activation
 * (qmodel_unit_preact) on the quantized model's input. One pass over the samples per unit
 * plus one for the final SQNR. `cal` as for qmodel_build. *out is initialised here (its
 * plan a copy of p, split empty); rep may be NULL. QS_EINVAL when the plan has no int8
 * linear unit or the model has more than one input; QS_ECANCELLED through job. On failure
 * *out is left empty. */
QsStatus biascorr_run(const Model *m, const Plan *p, const Calibration *cal, const Dataset *d,
                      int64_t n, int batch, const JobCtx *job, BiasCorr *out,
                      BiasCorrReport *rep, QsError *err);

#endif
