/* A precision plan lowered onto a model: the derived weights (half, int8 + scales, int32
 * biases, requantization multipliers) and an executor that runs the plan with real integer
 * kernels where it says int8. The float model is only read. Rules: docs/quantization.md.
 *
 * Lowering groups nodes into units: a Conv, Dense, Gemm or MatMul (constant B) absorbs a
 * following BatchNormalization (folded into its weights and bias) and then a following
 * Relu or Clip (fused into the requantization clamp) when each is the only reader of the
 * previous output. A unit's output value is its last absorbed node's output, and in
 * int8-static its quantization parameters come from that value's calibrated range.
 *
 *  - fp32: the float forward.
 *  - fp16: weights stored as IEEE half and used as float32; arithmetic in float32; every
 *    unit's output rounded to half.
 *  - int8-dyn: Conv/Dense/Gemm/MatMul units quantize their input per sample (asymmetric,
 *    from the sample's own min/max), multiply int8 x int8 into int32 with int8 weights,
 *    and produce float; every other op runs in float.
 *  - int8-static: values flow as int8 with calibrated (scale, zero point); Conv (depthwise
 *    included), Dense/Gemm/MatMul, Add, Concat, MaxPool, AveragePool, GlobalAveragePool,
 *    Relu/Clip and the layout ops (Flatten, Reshape, Identity, Dropout) have integer
 *    kernels; any other op runs in float between a dequantize and a quantize. Graph
 *    outputs are dequantized to float.
 * Layers pinned to another precision run at that precision, converting at the borders. */
#ifndef QS_QEXEC_H
#define QS_QEXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "quant/calib.h"
#include "base/error.h"
#include "run/exec.h"
#include "graph/model.h"
#include "quant/plan.h"
#include "base/quant.h"

/* What inspection shows for one node under a plan. */
typedef struct QLayerInfo {
    PrecKind prec;           /* the precision it runs at */
    bool integer;            /* runs an integer kernel (false: float, or float fallback) */
    bool fallback;           /* int8 was asked but the op has no integer kernel */
    int unit;                /* node index of the unit's head (itself when it heads one) */
    bool absorbed;           /* folded or fused into the unit head (BN, Relu/Clip) */
    /* Weights (unit heads with a weight, after BatchNorm folding); n_wscales 0 otherwise. */
    float w_min, w_max;
    double w_channel_spread; /* largest per-channel range / median per-channel range */
    double w_zero_fraction;  /* share of nonzero float weights that quantize to 0 */
    int n_wscales;
    const float *wscales;    /* [n_wscales] weight scales (1 when per-tensor) */
    /* Output activation (int8-static units). */
    bool has_act;
    bool act_observed;       /* a calibration saw this output */
    float act_min, act_max;  /* observed over calibration; an imported value not observed
                                yet: the range the file's grid spans (act_from_file) */
    float clip_lo, clip_hi;  /* the clipping range the observer chose (imported: the grid) */
    QParams act;             /* scale and zero point of the output */
    bool act_from_file;      /* act is an imported file's (quant/qimport.h), not derived */
    double clipped;          /* share of calibration values outside [clip_lo, clip_hi] */
} QLayerInfo;

typedef struct QModel QModel;

/* Lowers plan p onto m. `cal` must be a calibration of m when any node runs int8-static
 * (QS_EINVAL "run 'calibrate' first" otherwise); it is only read here. Caller frees with
 * qmodel_free. */
QsStatus qmodel_build(const Model *m, const Plan *p, const Calibration *cal, QModel **out,
                      QsError *err);
/* qmodel_build with per-unit bias corrections (biascorr.h): bias_corr[n_nodes] (NULL: none)
 * holds, for a unit head, NULL or OC floats added to the unit's folded float bias b' before
 * anything is derived from it when the unit runs at int8 (int8-static: b' + corr is then
 * quantized to int32; int8-dyn: added in float); units at fp32 or fp16 ignore it. Each
 * vector must have the head's OC entries (output channels, or features of a Dense/Gemm/
 * MatMul). Only read here; the float model is not changed. */
QsStatus qmodel_build_ex(const Model *m, const Plan *p, const Calibration *cal,
                         const float *const *bias_corr, QModel **out, QsError *err);
/* Does not read m, so it may be called after m was freed. */
void qmodel_free(QModel *q);

/* An Executor running the plan: integer kernels where it says int8. Valid while q lives. */
Executor qmodel_executor(QModel *q);
/* An Executor for the fake-quantization simulation of the same plan: float arithmetic
 * with every quantization point (weights, biases, unit outputs, fused clamps) applied as
 * quantize-dequantize. Agrees with the integer run exactly or within one output step
 * (docs/quantization.md says where and why). */
Executor qmodel_fake_executor(QModel *q);

/* The layer alone, fed float inputs (the float model's inputs to it): writes its float
 * output (the unit's quantized result dequantized) into out, allocated by the caller with
 * the node output's shape. For `error local`. The unit is the one `node` belongs to:
 * `inputs` are its HEAD's inputs (indexed like the head's in[]; constants may be NULL) and
 * `out` receives the unit's last value, i.e. the float model's output of its last node.
 * The batch is the first non-constant input's dim 0 over that value's dim 0 at batch 1
 * (a value with heads folded into its batch, (N heads, T, D), gives N). */
QsStatus qmodel_run_node_local(QModel *q, int node, const Tensor *const *inputs, Tensor *out,
                               QsError *err);

/* The pre-activation of the int8 linear unit headed by `head`, as its kernel computes it
 * before the fused activation and the output rounding: x (the head's data input, float,
 * as the quantized model feeds it) quantized as the unit quantizes it (int8-static: with
 * the input's calibrated parameters; int8-dyn: per sample from its own range), times the
 * int8 weights (dequantized), plus the unit's bias (int8-static: the int32 bias
 * dequantized), in float32 (the fake-quant twin's arithmetic, docs/quantization.md).
 * out (f32, the head output's shape) is allocated by the caller. QS_EINVAL when `head` does
 * not head an int8 linear unit; QS_ESHAPE on a shape mismatch. For bias correction. */
QsStatus qmodel_unit_preact(QModel *q, int head, const Tensor *x, Tensor *out, QsError *err);

const QLayerInfo *qmodel_layer(const QModel *q, int node);
/* The last node (in run order) of the unit headed by `head`: where its output lives. */
int qmodel_unit_tail(const QModel *q, int head);
/* Bytes a deployment stores: weights at their precision, plus scales and zero points and
 * int32 biases for int8 layers, float32 for parameters of float layers. */
int64_t qmodel_deployed_bytes(const QModel *q);

/* Whether int8-static runs node n, when it heads no linear unit, as an integer step (its
 * op row's int8 lowering, when the node fits it) rather than a float fallback. */
bool qexec_node_integer(const Graph *g, const Node *n);

#endif
