/* Precisions and precision plans. The precision table is the one home of what a precision
 * does: its names, how it prepares weights, how the executor runs its layers, whether it
 * needs calibration, how it exports. Code asks a precision's behaviour through the
 * predicates below (never by comparing PrecKind values), so a new precision is a new row.
 * A plan gives every layer a precision (the whole-model mode, or a per-layer pin for
 * fallbacks) and the quantization options. The float model is never changed by a plan:
 * qexec.h derives what a plan needs. */
#ifndef QS_PLAN_H
#define QS_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef enum { PREC_FP32 = 0, PREC_FP16, PREC_INT8_DYN, PREC_INT8_STATIC, PREC_COUNT } PrecKind;

/* How a precision prepares a layer's weights (after BatchNorm folding). */
typedef enum {
    WPREP_FLOAT = 0,  /* the float weights as they are */
    WPREP_HALF,       /* rounded to IEEE half, used as float32 */
    WPREP_INT8,       /* symmetric integers of QuantOpts.bits with float scales, one per
                         output channel or one per tensor as QuantOpts.wgran_tensor says */
} WeightPrep;

/* How the executor runs a layer at a precision (the kind of step lowering makes). */
typedef enum {
    PRUN_FLOAT = 0,   /* the op's float forward on float values */
    PRUN_HALF,        /* float32 arithmetic on half-rounded inputs and constants */
    PRUN_INT8_DYN,    /* int8 GEMM: the input quantized per sample from its own range,
                         int32 accumulation, float output */
    PRUN_INT8_STATIC, /* integer kernel on int8 values with calibrated (scale, zero point);
                         an op without one runs in float between dequantize and quantize */
} PrecRun;

/* How a precision's layers are written to ONNX, in order of precedence: a plan exports in
 * the highest layout among its layers (fp16 layers of a QDQ file keep their fp16 casts),
 * and a layer with no layout (PONNX_NONE) stops the export. */
typedef enum { PONNX_FLOAT = 0, PONNX_FP16, PONNX_QDQ, PONNX_NONE } PrecOnnx;

typedef struct PrecisionDef {
    const char *name;          /* in commands, files and results: "int8-dyn" */
    const char *field;         /* the one-word form in result field names: "int8_dyn" */
    const char *short_name;    /* for narrow columns: "i8dyn" */
    const char *pinned_label;  /* plan_label of a plan in this mode with pinned layers */
    const char *weights;       /* how weights are stored, for `help` and docs */
    const char *activations;   /* how activations are treated */
    int weight_bits;           /* bits per stored weight; 0: QuantOpts.bits */
    WeightPrep weight_prep;
    PrecRun linear_run;        /* Conv, Dense, Gemm and MatMul units */
    PrecRun other_run;         /* every other op */
    bool half_outputs;         /* every layer output rounded to half */
    bool needs_calibration;    /* activation ranges come from calibration */
    PrecOnnx onnx;
    const char *onnx_none;     /* PONNX_NONE: why, as the export's error says it */
} PrecisionDef;

extern const PrecisionDef precision_table[PREC_COUNT];
int precision_find(const char *name); /* -1 when unknown */

/* The questions code asks of a precision, each answered from its table row.
 * Runs the float model unchanged: float weights, float steps, nothing rounded (fp32). */
bool precision_is_float(PrecKind k);
/* Stores integer weights and runs its linear layers on integer kernels (the int8 rows). */
bool precision_is_integer(PrecKind k);
/* Values flow between layers as integers with calibrated parameters (int8-static). */
bool precision_static_activations(PrecKind k);
/* Every layer output is rounded to half (fp16). */
bool precision_half_outputs(PrecKind k);
/* Needs a calibration before it can run. */
bool precision_needs_calibration(PrecKind k);

/* A PrecOnnx layout's name in export results: "fp32", "fp16", "qdq-int8" (NULL for none). */
const char *prec_onnx_name(PrecOnnx o);

typedef struct QuantOpts {
    bool wgran_tensor;   /* false (default): one weight scale per output channel */
    int observer;        /* ObserverKind for activation ranges (default OBS_MINMAX) */
    double pct;          /* percentile observer: 99.99 by default */
    int bits;            /* 2..8 (default 8), for weights and activations */
    bool act_symmetric;  /* false (default): asymmetric activations */
    int target;          /* QTargetKind (quant/target.h): whose integer arithmetic the
                            executor computes; QTGT_QSCOPE (default) is qscope's own */
} QuantOpts;

QuantOpts plan_default_opts(void);
/* QuantOpts.wgran_tensor as a name: [0] "channel", [1] "tensor". */
extern const char *const quant_wgran_names[2];

/* Bits per stored weight at precision k under options q (32, 16, or q->bits). */
int precision_weight_bits(PrecKind k, const QuantOpts *q);

typedef struct Plan {
    PrecKind mode;       /* the whole model's precision */
    int n_nodes;
    int8_t *pin;         /* [n_nodes] -1: follows mode; else a PrecKind pinned to that node */
    int8_t *wgran;       /* [n_nodes] -1: follows q.wgran_tensor; else the weight granularity
                            pinned to that node (a unit head): 0 channel, 1 tensor */
    QuantOpts q;
} Plan;

/* A plan for a graph of n_nodes nodes in mode fp32 with default options, no pins. */
void plan_init(Plan *p, int n_nodes);
void plan_release(Plan *p);
void plan_copy(Plan *dst, const Plan *src); /* dst is initialised here */
bool plan_equal(const Plan *a, const Plan *b);
/* The mode's name, or "<mode>+pins" when layers are pinned (a precision, or a weight
 * granularity other than q.wgran_tensor); a static string. */
const char *plan_label(const Plan *p);

/* The precision node `node` runs at. */
PrecKind plan_node_prec(const Plan *p, int node);
/* Whether node `node`'s integer weights have one scale for the tensor (true) or one per
 * output channel (false): its wgran pin, else q.wgran_tensor. */
bool plan_node_wgran_tensor(const Plan *p, int node);

/* The name of the deployment target (quant/target.h) whose arithmetic the plan's integer
 * kernels compute, or NULL when no layer runs at a static-activation precision, nor at
 * int8-dyn on a target with its own run-time activation rule (xnnpack, tflm; on qscope
 * and ort int8-dyn computes the same): what every INT8 figure is labelled with. */
const char *plan_target_name(const Plan *p);

/* Some layer runs at a precision that needs calibration. */
bool plan_needs_calibration(const Plan *p);
/* The ONNX layout the plan exports in: the highest of its layers' (PrecOnnx). On
 * PONNX_NONE, *blocker (when not NULL) is set to a precision that has no layout. */
PrecOnnx plan_onnx_layout(const Plan *p, PrecKind *blocker);

#endif
