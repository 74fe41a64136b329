/* The op list a .tflite file of a plan holds, as a device profile counts it (docs/devices.md,
 * "The deployed graph"): TFLite builtin ops in execution order over tensors at batch 1, with
 * each op's MAC and element counts. It is derived from the float graph and the plan alone
 * (no calibration needed), by these rules:
 *  - a linear unit (graph/linear_unit.h: Conv, Dense, Gemm, MatMul with its BatchNorm folded
 *    and its Relu/Clip fused) is one op: CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED;
 *  - every other node is the builtin(s) of its row in devgraph.c (two for Sigmoid-times-x,
 *    an unfolded BatchNorm, a Clip that is not ReLU6); Identity and Dropout are no op;
 *  - the precision of a layer decides its tensors: int8-static ops with an integer kernel
 *    (op.h OpInt8) compute on int8 tensors (1 byte), every other op on float32 (4 bytes);
 *    int8-dyn units are hybrid (int8 weights, float tensors); fp16 units read float16
 *    weights through a DEQUANTIZE each (weights and bias) just before them;
 *  - a value read in the other type is converted once (QUANTIZE or DEQUANTIZE), before its
 *    first such reader; graph inputs are float (io=int8: int8 when an int8 op reads them)
 *    and int8 graph outputs are dequantized (io=int8: kept).
 * Weights are not tensors here: they live in the file, not in the arena. */
#ifndef QS_DEVGRAPH_H
#define QS_DEVGRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "device/devtarget.h"
#include "graph/model.h"
#include "quant/plan.h"

typedef enum { DEV_INT8 = 0, DEV_FLOAT, DEV_HYBRID } DevType; /* DEV_HYBRID: ops only */

typedef struct DevTensor {
    int value;               /* the graph value it holds, -1 for an op's internal result */
    DevType type;            /* DEV_INT8 or DEV_FLOAT */
    Shape shape;             /* at batch 1, as the float graph lays it out (NCHW) */
    int64_t elems, bytes;    /* at batch 1; bytes unaligned */
    bool graph_input, graph_output;
} DevTensor;

typedef struct DevOp {
    const char *builtin;     /* TFLite builtin name: "CONV_2D" */
    int node;                /* the graph node it runs (a unit's head), -1 for a conversion
                                at a precision border */
    DevType type;            /* what it computes on */
    bool half_weights;       /* a DEQUANTIZE of float16 weights */
    bool edge;               /* a QUANTIZE of a graph input or DEQUANTIZE of an output */
    DevCostClass cost;
    int64_t macs;            /* MACs (conv, fc), window elements read (pools, reductions) */
    int64_t elems;           /* output elements */
    int64_t conv_cin;        /* CONV_2D: input channels per group (cost tiers), else 0 */
    int first_in, n_in;      /* its tensor inputs: DevGraph.ins[first_in ..] */
    int out;                 /* its output tensor */
} DevOp;

typedef struct DevGraph {
    int n_tensors, n_ops, n_ins;
    DevTensor *tensors;      /* owned */
    DevOp *ops;              /* owned, in execution order */
    int *ins;                /* owned */
} DevGraph;

/* The largest tensor a profile takes (1 TiB): the arena's sums stay far from overflow. */
#define DEVGRAPH_MAX_TENSOR ((int64_t)1 << 40)

/* Builds the deployed op list of plan p on model m; io_int8 as `io=int8`. QS_EUNSUPPORTED
 * names the layer when an op has no TFLite builtin (Erf, LayerNorm, HardSigmoid); QS_EINVAL
 * when a tensor exceeds DEVGRAPH_MAX_TENSOR. */
QsStatus devgraph_build(const Model *m, const Plan *p, bool io_int8, DevGraph *out,
                        QsError *err);
void devgraph_release(DevGraph *g);

/* The bytes a tensor of `elems` elements of type t takes. */
int64_t devgraph_type_bytes(DevType t, int64_t elems);
const char *devgraph_type_name(DevType t); /* "int8", "float32", "hybrid" */

#endif
