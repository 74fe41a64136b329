/* Typed op parameters: what a node's string-named attributes (ops/node.h) say, parsed once
 * by the op's OpDef.parse when the node is made (graph_add_node). Shape inference, kernels,
 * lowering and the tools read these fields; the Attr list stays on the node only so that
 * writers (.qsm, ONNX) can serialize it.
 *
 * Every field has the attribute's ONNX default when the attribute is absent, and the value
 * node_attr_int/float/ints/str would give (an int attribute read as float and vice versa).
 * Lists whose valid length depends on the input's rank (strides, pads, perm, axes, ...) are
 * kept as given and checked by infer, which knows the rank. */
#ifndef QS_OP_PARAMS_H
#define QS_OP_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/tensor.h"

/* Room for the longest list an op reads (Pad's pads: 2 * rank). */
#define QS_PARAM_INTS (2 * QS_MAX_DIMS)

/* An ints attribute. n is the count given, -1 when absent or not ints; it may exceed
 * QS_PARAM_INTS, then only the first QS_PARAM_INTS values are kept (infer rejects it by
 * the count). given tells an absent attribute from one of the wrong type. */
typedef struct ParamInts {
    int n;
    bool given;
    int64_t v[QS_PARAM_INTS];
} ParamInts;

/* A floats attribute, as ParamInts (n is -1 when absent or not floats). */
typedef struct ParamFloats {
    int n;
    bool given;
    float v[QS_MAX_DIMS];
} ParamFloats;

typedef struct GemmParams {       /* Gemm */
    float alpha, beta;            /* 1, 1 */
    bool trans_a, trans_b;        /* transA, transB: 0 */
} GemmParams;

/* Conv, ConvTranspose, MaxPool, AveragePool: the sliding window (ops/geometry.h). */
typedef struct WindowParams {
    int64_t group;                /* 1 */
    ParamInts kernel_shape, strides, pads, dilations;
    ParamInts output_padding;     /* ConvTranspose */
    int64_t ceil_mode;            /* pools: 0 */
    int64_t count_include_pad;    /* AveragePool: 0 (always 0 for MaxPool) */
} WindowParams;

typedef struct BatchNormParams {
    float epsilon;                /* 1e-5 */
    float momentum;               /* 0.9 (ONNX's: the weight of the running value) */
} BatchNormParams;

typedef struct LayerNormParams {
    int64_t axis;                 /* -1 */
    float epsilon;                /* 1e-5 */
} LayerNormParams;

typedef struct ClipParams {
    float min, max;               /* -inf, +inf; not NaN, min <= max */
} ClipParams;

typedef struct LeakyReluParams {
    float alpha;                  /* 0.01 */
} LeakyReluParams;

typedef struct HardSigmoidParams {
    float alpha, beta;            /* 0.2, 0.5 */
} HardSigmoidParams;

typedef struct ModParams {
    bool fmod;                    /* fmod: 0 (the remainder takes the divisor's sign) */
} ModParams;

typedef struct TopKParams {
    int64_t k;                    /* required, >= 1 (ONNX takes it as a constant input) */
    int64_t axis;                 /* -1 */
    bool largest;                 /* 1 */
    bool indices;                 /* output: 0 the values, 1 their indices (as floats) */
} TopKParams;

typedef struct GeluParams {
    bool tanh;                    /* approximate="tanh" (else "none") */
} GeluParams;

typedef struct DropoutParams {
    float ratio;                  /* 0.5, in [0, 1) */
} DropoutParams;

/* Softmax and LogSoftmax (default -1), Flatten and Concat (default 1). */
typedef struct AxisParams {
    int64_t axis;
} AxisParams;

typedef struct ReshapeParams {
    ParamInts shape;              /* required, 1 to QS_MAX_DIMS values */
} ReshapeParams;

typedef struct TransposeParams {
    ParamInts perm;               /* absent: reverse all axes */
} TransposeParams;

typedef struct ReduceParams {     /* ReduceMean, ReduceSum, ReduceMax */
    ParamInts axes;
    bool keepdims;                /* 1 */
    bool noop_with_empty_axes;    /* 0 */
} ReduceParams;

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE } PadMode;

typedef struct PadParams {
    ParamInts pads;               /* all begins, then all ends */
    PadMode mode;                 /* "constant" */
    float value;                  /* 0 */
} PadParams;

typedef enum {
    RESIZE_HALF_PIXEL,
    RESIZE_PYTORCH_HALF_PIXEL,
    RESIZE_ALIGN_CORNERS,
    RESIZE_ASYMMETRIC,
    RESIZE_TF_HALF_PIXEL_FOR_NN
} ResizeCoord;

typedef enum {
    RESIZE_ROUND_PREFER_FLOOR,
    RESIZE_ROUND_PREFER_CEIL,
    RESIZE_FLOOR,
    RESIZE_CEIL
} ResizeNearest;

typedef struct ResizeParams {     /* mode is always "nearest" */
    ResizeCoord coord;            /* coordinate_transformation_mode: half_pixel */
    ResizeNearest nearest;        /* nearest_mode: round_prefer_floor */
    ParamFloats scales;           /* exactly one of scales and sizes is given */
    ParamInts sizes;
} ResizeParams;

typedef struct SliceParams {
    ParamInts starts, ends;       /* given, of one length */
    ParamInts axes, steps;        /* absent: 0, 1, ... and all 1 */
} SliceParams;

typedef struct ExpandParams {
    ParamInts shape;              /* required, 1 to QS_MAX_DIMS values >= 0 */
    ParamInts batch;              /* absent: all 0; dim i adds batch[i] * the batch size */
} ExpandParams;

typedef struct FakeQuantParams {
    int64_t axis;                 /* 1 */
    int32_t qmin, qmax;           /* -128, 127; qmin < qmax */
    float lsq_qmax;               /* 0, >= 0 */
    bool scale_grad;              /* 1 */
} FakeQuantParams;

/* One member per op family; which one is live follows from Node.op. */
typedef union OpParams {
    GemmParams gemm;
    WindowParams win;
    BatchNormParams batchnorm;
    LayerNormParams layernorm;
    ClipParams clip;
    LeakyReluParams leakyrelu;
    HardSigmoidParams hardsigmoid;
    ModParams mod;
    TopKParams topk;
    GeluParams gelu;
    DropoutParams dropout;
    AxisParams axis;
    ReshapeParams reshape;
    TransposeParams transpose;
    ReduceParams reduce;
    PadParams pad;
    ResizeParams resize;
    SliceParams slice;
    ExpandParams expand;
    FakeQuantParams fakequant;
} OpParams;

#endif
