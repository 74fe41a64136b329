/* diagnose's collapse check: does the quantized classifier predict (nearly) one class, or
 * have its output distributions collapsed, where the float model's did not?
 *
 * Both models run over the same samples of the split diagnose measures on (its validation
 * split, never the reporting one). Per model: the share of the samples given the most
 * frequent top-1 class, and the mean per-sample entropy of the softmax of the outputs (of
 * the outputs themselves, normalised, when the graph ends in a Softmax). The quantized
 * model has collapsed when
 *  - one class: its top share is at least 50 % and at least 30 points above the float
 *    model's, or
 *  - entropy: its mean entropy is below half the float model's, by at least a tenth of
 *    ln(classes) nats.
 * The same pass counts, for every quantized unit output, the float values on the split that
 * fall more than half a step outside the unit's int8 grid (the range calibration chose):
 * what a calibration on too few or unrepresentative samples clips. */
#ifndef QS_DIAG_COLLAPSE_H
#define QS_DIAG_COLLAPSE_H

#include <stdbool.h>
#include <stdint.h>

#include "ptq/qerror.h"
#include "ptq/sensitivity.h"

#define COLLAPSE_TOP_SHARE 0.5
#define COLLAPSE_TOP_GAIN 0.3
#define COLLAPSE_ENTROPY_RATIO 0.5
#define COLLAPSE_ENTROPY_FLOOR 0.1 /* x ln(classes) */
#define COLLAPSE_CLIPPED 0.005     /* a share of a unit's values clipped worth naming */

typedef struct CollapseStats {
    bool checked;          /* a classifier was run on the split: the figures are set */
    bool collapsed;        /* one of the two rules holds */
    bool one_class, entropy_low; /* which */
    int n_classes;
    int64_t samples;
    int top_class_fp32, top_class;      /* the most frequent top-1 class (lowest on a tie) */
    double top_share_fp32, top_share;   /* its share of the samples */
    double entropy_fp32, entropy;       /* mean per-sample softmax entropy, nats */
    int explode_node;      /* the first unit head, in run order, whose unit's accumulated
                              SQNR falls below 10 dB from an input at or above it (+Inf for a
                              graph input); else the one with the largest fall; -1 without
                              error figures */
    double explode_in_db, explode_out_db;
    int clipped_node;      /* the quantized unit output clipped most on the split, -1 none */
    double clipped_share;  /* its share of float values beyond its int8 grid */
    float clip_lo, clip_hi; /* that grid's ends */
} CollapseStats;

/* Runs the check on c's split (first c->n samples) for the quantized model q of the judged
 * plan; acc (may be NULL) is qerror's accumulated error per node, for explode_node. A task
 * without class outputs, or a split without samples, leaves out->checked false. */
QsStatus diag_collapse_run(const SensContext *c, QModel *q, const LayerError *acc,
                           CollapseStats *out, QsError *err);

/* The collapse finding when s->collapsed (then true): on the layer whose error first
 * explodes (else the output's producer), the class the quantized model favours in
 * channels, the figures and what clipped most in the evidence. plan names the judged
 * plan's precision. */
struct Finding;
bool diag_collapse_finding(const Graph *g, const CollapseStats *s, const char *plan,
                           struct Finding *f);

#endif
