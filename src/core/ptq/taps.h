/* Taps: every layer's output of a quantized plan over the first samples of a split, and
 * their comparison with another runtime's dump of the same model, layer by layer.
 *
 * A tap is one value of the graph: a graph input, or the output of an executor step (a
 * unit's last node: a conv with its folded BatchNorm and fused ReLU is one tap, named by
 * that last node's output value). Int8-static steps are tapped as their int8 codes, every
 * other step as float (docs/formats.md, "Taps").
 *
 * The comparison (taps_compare) classifies each layer of the file against qscope's run:
 *  - identical:   every element equals qscope's own run;
 *  - propagated:  it differs from qscope's run, but qscope's rerun of the layer fed the
 *                 FILE's inputs reproduces it exactly (an earlier layer's difference);
 *  - ties:        the rerun on the file's inputs differs, every difference is one step and
 *                 some target's rule (quant/target.h) reproduces it: from the same int32
 *                 accumulator for int8-static linear units, from the same input codes for
 *                 the other int8 steps whose arithmetic differs between targets (the step
 *                 rerun under each row: qmodel_run_node_target; qexec/qexec_rerun.h);
 *  - float:       a float layer within TAPS_FLOAT_REL of the rerun (summation order);
 *  - divergence:  anything else;
 *  - missing:     no usable array in the file (qscope's own values feed the next layers).
 * The first divergence in run order is where a real difference starts. */
#ifndef QS_TAPS_H
#define QS_TAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/job.h"
#include "base/tensor.h"
#include "data/dataset.h"
#include "qexec/qexec.h"
#include "quant/target.h"

/* A float layer's rerun may differ by its summation order: at most this much relative to
 * the layer's largest magnitude counts as `float`, more as a divergence. */
#define TAPS_FLOAT_REL 1e-4

/* The tapped values of one run: arrays (samples, ...) in the model's own layout. */
typedef struct TapSet {
    int n;
    int *value;              /* [n] graph value index, in run order (inputs first) */
    Tensor *t;               /* [n] DT_I8 codes (int8-static steps) or DT_F32 */
    int64_t samples;
} TapSet;

/* Runs q over the first n samples of d (batches of `batch`) and keeps every tap (want
 * NULL) or those whose want[value] is set. */
QsStatus taps_capture(QModel *q, const Dataset *d, int64_t n, int batch, const JobCtx *job,
                      const bool *want, TapSet *out, QsError *err);
void tapset_release(TapSet *s);
/* The tap of value v in s, or NULL. */
const Tensor *tapset_find(const TapSet *s, int v);

/* The int8 codes of value v held as t: t itself when it holds codes, a new tensor of t
 * quantized with v's parameters when t is float and v flows as int8 (the executor quantizes
 * it so at its first int8 reader; *owned set), else NULL. */
const Tensor *taps_codes(const QModel *q, int v, const Tensor *t, Tensor **owned);

/* Value v held as t (its int8 codes, or float) as a new float tensor: codes dequantized
 * with v's parameters. NULL when t is NULL or memory runs out. */
Tensor *taps_float(const QModel *q, int v, const Tensor *t);

/* The graph value a dump's key names: a value name, or "#K" for value index K; -1 when
 * neither. */
int taps_key_value(const Graph *g, const char *key);

typedef enum {
    TAPC_IDENTICAL = 0,
    TAPC_PROPAGATED,
    TAPC_TIES,
    TAPC_FLOAT,
    TAPC_DIVERGENCE,
    TAPC_MISSING,
    TAPC_COUNT
} TapClass;
extern const char *const tap_class_names[TAPC_COUNT];

typedef struct TapLayer {
    int value;               /* the tapped value */
    int head;                /* the node heading its step */
    int file;                /* the file array used, -1 when none */
    TapClass cls;
    bool codes;              /* compared as int8 codes (else float) */
    int64_t n;               /* elements compared */
    int64_t differ;          /* elements unlike qscope's own run */
    double max_diff;         /* largest |file - qscope| (codes: steps) */
    int64_t local_differ;    /* elements unlike the rerun on the file's inputs */
    double max_local;        /* largest |file - rerun| */
    int64_t ties;            /* local differences one step apart that some target's rule
                                reproduces */
    int64_t divergent;       /* local differences nothing here reproduces */
    bool rules;              /* every target's rule was evaluated on this layer */
    unsigned reproduced_by;  /* rules: bit t set when target t's rule gives every element */
    bool inputs_from_file;   /* every non-constant input was the file's */
    char why[160];           /* missing: why the array could not be used */
} TapLayer;

typedef struct TapReport {
    TapLayer *l;             /* one per step with a tap, in run order */
    int n;
    int first_divergence;    /* index into l, -1 when none */
    int64_t samples;
    int n_ties, n_divergent, n_propagated, n_identical, n_missing;
    /* targets whose rule reproduces every layer whose rerun differs (bit t); all bits when
       no layer needs a rule */
    unsigned reproduced_by;
    int n_unmatched;         /* file arrays that name no tap */
} TapReport;

/* The file's arrays, as read from a dump: key and tensor (i8, u8 or f32; any other dtype
 * is reported as missing). */
typedef struct TapFile {
    int n;
    char **key;
    Tensor **t;
} TapFile;

/* Compares the file's arrays with `mine` (taps_capture of q on the same samples: the file's
 * first `mine->samples` samples are used; fewer is QS_ESHAPE). */
QsStatus taps_compare(QModel *q, const TapSet *mine, const TapFile *file, TapReport *out,
                      QsError *err);
void tapreport_release(TapReport *r);

/* ---- the ties question ------------------------------------------------------------- */

/* One int8-static linear unit's outputs against every target's rule (exact integer
 * arithmetic from its int32 accumulators, on qscope's own inputs to it). */
typedef struct TieStats {
    int head;
    int64_t n;               /* outputs */
    bool acc;                /* a linear unit (int32 accumulators): on_tie and near_tie are
                                counted; false for the other int8 steps (taps_step_pairs),
                                where both are -1 */
    int64_t on_tie;          /* what the plan's own rule rounds last is exactly k + 1/2 */
    int64_t near_tie;        /* within some target rule's resolution of k + 1/2 (taps_tie_of;
                                on_tie included): only these can round apart */
    bool ok[QTGT_COUNT];     /* the target can represent every multiplier of the unit */
    int64_t differ[QTGT_COUNT][QTGT_COUNT]; /* outputs targets a and b round differently */
} TieStats;

/* The ties of the unit headed by `head` over x (its input codes, shape xs) at output shape
 * ys. QS_EINVAL when head is not an int8-static linear unit's. */
QsStatus taps_ties(const QModel *q, int head, const int8_t *x, const Shape *xs,
                   const Shape *ys, TieStats *out, QsError *err);

/* Any other int8 step whose arithmetic differs between targets (Add, Mul, the MatMul of
 * two activations, Softmax, Concat requantization, average pools, clamps): its outputs
 * under every target's rule (qmodel_run_node_target) on the float inputs `in` (one per
 * head input, NULL for constants: the step quantizes them on its own parameters), counted
 * by pairs; out->acc false. *has false (out untouched) for a step no target changes. */
QsStatus taps_step_pairs(QModel *q, int head, const Tensor *const *in, const Shape *ys,
                         TieStats *out, bool *has, QsError *err);

/* Whether acc requantized by r sits on a rounding tie: *on when the value r's rule rounds
 * last is exactly k + 1/2 (the rule's tie-breaking decides it); *near when the exact value
 * acc m (m as r holds it: m0 2^-(31 + shift), or the float32 scale) lies within the rule's
 * resolution of k + 1/2: |acc| units of m's last place, and also, for TFLite's rule, half a
 * unit of its first rounding (2^-(shift + 1) of a step), for the float rule 2^-23 of the
 * value (the float product's rounding). Both false where either code around the value
 * (k + z_out, k + 1 + z_out) lies outside [lo, hi]: the clamp decides there. */
void taps_tie_of(int32_t acc, const Requant *r, int32_t z_out, int32_t lo, int32_t hi,
                 bool *on, bool *near);

#endif
