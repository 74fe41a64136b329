/* A read-only view of a lowered plan (QModel) for writers outside the executor, such as
 * the ONNX exporter: the model it was lowered onto, and per step what it computes and
 * with which numbers (kind, nodes, quantization parameters, int8 or half weights, int32
 * biases, clamps), so a writer hands another runtime exactly what qscope's executor uses
 * and derives nothing itself. Every pointer stays valid while the QModel lives; nothing
 * here may be written through. docs/quantization.md states what the numbers mean. */
#ifndef QS_QEXEC_VIEW_H
#define QS_QEXEC_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "base/quant.h"
#include "graph/model.h"
#include "quant/plan.h"
#include "quant/target.h"
#include "qexec/qexec.h"

typedef enum {
    QSTEP_FLOAT = 0,   /* one node's float forward (fp32, and float fallbacks of int8) */
    QSTEP_HALF,        /* one node at fp16: half-rounded constants, output rounded to half */
    QSTEP_LIN_HALF,    /* a linear unit with half weights and bias; output rounded to half */
    QSTEP_LIN_DYN,     /* a linear unit at int8-dyn (inputs quantized per sample) */
    QSTEP_LIN_INT8,    /* a linear unit at int8-static */
    QSTEP_INT8,        /* another int8-static kernel (Add, Concat, pools, Relu/Clip, layout) */
} QStepViewKind;

/* How a step reads its inputs and writes its output, as the executor converts a value at
 * the border between precisions (qexec.c, qexec_ensure). */
typedef enum {
    QREP_FLOAT = 0,    /* float, as its producer left it: an int8 value dequantized, an
                          fp16 step's output as rounded */
    QREP_INT8,         /* int8 with the value's qmodel_value_qparams: an int8 step's output
                          as written, any other value quantized */
    QREP_HALF,         /* float rounded to half: an fp16 step's output as written, any other
                          value rounded (an int8 value after dequantizing) */
} QRepView;

/* A linear unit (Conv, Dense, Gemm, MatMul with its BatchNorm folded and its activation
 * fused): weights are (OC, K) row-major, one row per output channel. */
typedef struct QLinearView {
    bool conv;               /* Conv (wshape is the weight's own shape) or a (OC, K) product */
    int64_t oc, k;           /* output channels (features) and products per output */
    Shape wshape;            /* conv: (OC, C/group, KH[, KW]); products: (OC, K) */
    /* int8 (QSTEP_LIN_DYN, QSTEP_LIN_INT8) */
    const int8_t *wq;        /* (OC, K) symmetric int8 weights */
    const float *ws;         /* [n_wscales] weight scales */
    int n_wscales;           /* OC (per channel) or 1 (per tensor) */
    /* int8-static (QSTEP_LIN_INT8) */
    QParams in_qp;           /* the data input's parameters */
    const int32_t *bq;       /* (OC) int32 bias; channel c has scale in_qp.scale * ws[c] */
    /* half (QSTEP_LIN_HALF) */
    const uint16_t *wh, *bh; /* (OC, K) weights and (OC) bias as IEEE half bits */
} QLinearView;

typedef struct QStepView {
    QStepViewKind kind;
    PrecKind prec;           /* the precision the plan gives its nodes */
    int head, last;          /* node indices: the first and the last node it runs */
    int out;                 /* the value it writes (the last node's output) */
    QRepView reads;          /* how the head's non-constant inputs are read (the unit's
                                other nodes read the head's output as it is) */
    QRepView writes;         /* how `out` is written: QREP_INT8 with out_qp, QREP_HALF
                                (QSTEP_HALF, QSTEP_LIN_HALF), else QREP_FLOAT */
    QLinearView lin;         /* QSTEP_LIN_*; zero otherwise */
    QParams out_qp;          /* int8-static steps: the output's parameters */
    int32_t lo, hi;          /* int8-static steps that clamp: the output clamp */
} QStepView;

/* The model and graph q was lowered onto, and its plan. */
const Model *qmodel_model(const QModel *q);
const Graph *qmodel_graph(const QModel *q);
const Plan *qmodel_plan(const QModel *q);
/* The deployment target whose arithmetic q's integer steps compute (quant/target.h: the
 * plan's QuantOpts.target row), for an export's metadata. Its ties are already in every
 * value's parameters below (qmodel_value_qparams, out_qp, in_qp): with tflm and xnnpack
 * a Concat's inputs and output, and an AveragePool's input and output, share one scale
 * and zero point, as TFLite's quantization spec requires. */
const QTargetDef *qmodel_target(const QModel *q);

int qmodel_n_steps(const QModel *q);
/* Step si (0 <= si < qmodel_n_steps), in run order. */
QStepView qmodel_step(const QModel *q, int si);
/* The step that runs node `node`. */
int qmodel_step_of(const QModel *q, int node);

/* Whether value v flows as int8 in some int8-static step; *qp then receives its
 * calibrated scale and zero point: those its int8 producer writes it with, or with which
 * every int8 reader quantizes it. */
bool qmodel_value_qparams(const QModel *q, int v, QParams *qp);
/* The half-rounded copy of graph constant v that fp16 steps read, or NULL. */
const Tensor *qmodel_half_const(const QModel *q, int v);

#endif
