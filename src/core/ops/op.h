/* The op table: one row per op, holding its ONNX name, its int8 lowering (the kind of
 * integer step; the steps themselves live in qexec/), arity, attribute parser, shape
 * inference, scratch size, float forward and backward.
 * Op semantics follow ONNX (https://onnx.ai/onnx/operators/) unless a row says otherwise;
 * every value's shape includes the leading batch dimension. */
#ifndef QS_OP_H
#define QS_OP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "ops/node.h"
#include "base/tensor.h"

typedef enum {
    OP_GEMM = 0,   /* ONNX Gemm: Y = alpha A' B' + beta C, 2-D A */
    OP_DENSE,      /* torch Linear: Y = X W^T + b over the last axis, any leading dims */
    OP_MATMUL,     /* ONNX MatMul with numpy broadcasting */
    OP_CONV,       /* ONNX Conv, 1-D (N,C,L) or 2-D (N,C,H,W) */
    OP_BATCHNORM,  /* ONNX BatchNormalization, inference */
    OP_RELU,
    OP_CLIP,       /* attrs min/max (ReLU6 is Clip 0..6) */
    OP_LEAKYRELU,
    OP_SIGMOID,
    OP_TANH,
    OP_GELU,       /* exact (erf) unless attr approximate="tanh" */
    OP_HARDSWISH,
    OP_SILU,       /* x * sigmoid(x); not an ONNX op, exported as Mul(x, Sigmoid(x)) */
    OP_SOFTMAX,
    OP_LOGSOFTMAX,
    OP_MAXPOOL,
    OP_AVGPOOL,
    OP_GLOBALAVGPOOL,
    OP_FLATTEN,
    OP_RESHAPE,    /* attr "shape" (ONNX takes it as a constant input) */
    OP_TRANSPOSE,
    OP_ADD,
    OP_MUL,
    OP_CONCAT,
    OP_REDUCEMEAN, /* attr "axes" (ONNX >= 18 takes them as an input), "keepdims" */
    OP_REDUCESUM,
    OP_REDUCEMAX,
    OP_IDENTITY,
    OP_DROPOUT,    /* identity at inference */
    OP_FAKEQUANT,  /* qscope's quantize-dequantize with an STE gradient (QAT graphs) */
    OP_SUB,        /* ONNX Sub, Div, Pow with numpy broadcasting (op_arith.c) */
    OP_DIV,
    OP_POW,
    OP_SQRT,
    OP_ERF,
    OP_PAD,        /* attrs pads, mode, value (ONNX >= 11 takes them as inputs) */
    OP_RESIZE,     /* nearest only; attrs scales or sizes (ONNX takes them as inputs) */
    OP_CONVTRANSPOSE,
    OP_LAYERNORM,  /* ONNX LayerNormalization (opset 17) */
    OP_SLICE,      /* attrs starts, ends, axes, steps (ONNX takes them as inputs) */
    OP_HARDSIGMOID,
    OP_MOD,        /* ONNX Mod: fmod=0 floors (sign of the divisor), fmod=1 truncates */
    OP_EXPAND,     /* attrs shape, batch: shape[i] + batch[i] * (input 1's dim 0) */
    OP_TOPK,       /* ONNX TopK, one output per node: attrs k, axis, largest, and
                      indices=0 for Values, 1 for Indices (exact small integers as floats) */
    OP_GATHERELEMENTS, /* ONNX GatherElements (torch.gather), indices as floats; attr axis */
    OP_COUNT
} OpType;

typedef struct RunCtx {
    void *scratch;          /* workspace of at least OpDef.scratch() bytes, 64-byte aligned */
    size_t scratch_bytes;
    bool training;          /* batch statistics in BatchNorm (which then also updates its
                               running mean/var inputs in place), active Dropout */
    /* A Relu or Clip the run fused into this node (inference only): an op whose row sets
     * OpDef.fuses_clamp clamps its output, v < lo ? lo : v > hi ? hi : v, in its epilogue,
     * the same values the separate node gives. */
    bool clamp;
    float clamp_lo, clamp_hi;
    /* A BatchNormalization the run fused into this node (inference only, an op whose row
     * sets OpDef.fuses_bn): its node and its five inputs. The op passes its output
     * through the normalization's formula (op_bn_coefs, kern/clamp.h's norm_affine) before
     * the clamp above, the same values the separate node gives. NULL: none. */
    const Node *bn;
    const Tensor *const *bn_in;
    /* The run's cache of this node's packed weights (run.h: inference runs whose graph
     * constants stay fixed while they live): OpDef.packed_bytes() bytes, 64-byte aligned,
     * of which the first OP_PACKED_FLAGS are zero when the run allocates it. The op keeps
     * there flags of what it has packed, packs each part on the first forward that needs
     * it (from in[1], which the run only caches when it is a graph constant) and reads it
     * in every later one. NULL: none, the op packs into scratch per call. Never set in
     * training or in a backward. */
    void *packed;
} RunCtx;

/* How the int8-static executor lowers an op (qexec_lower.c, docs/quantization.md). The
 * steps themselves live in the qexec wing; a row names the kind. Zero: runs in float. */
typedef enum {
    OPQ_FLOAT = 0,  /* no integer kernel: a float fallback between int8 neighbours */
    OPQ_UNIT,       /* heads a linear unit (graph/linear_unit.h): integer gemm or conv */
    OPQ_ADD,        /* two int8 inputs of one sample shape, rescaled onto the output grid */
    OPQ_CONCAT,     /* int8 inputs, each copied or requantized onto the output grid */
    OPQ_MAXPOOL,    /* the max of codes */
    OPQ_AVGPOOL,    /* int32 sums over each window, requantized per window count */
    OPQ_GLOBALPOOL, /* int32 sums over each plane, requantized (GlobalAveragePool) */
    OPQ_CLAMP,      /* codes clamped to the op's clamp range (Relu, Clip) */
    OPQ_LAYOUT,     /* codes moved unchanged (Flatten, Reshape, Identity, Dropout) */
    OPQ_GATHER,     /* codes gathered through an index map (Resize, nearest) */
    OPQ_TABLE,      /* a unary op as a table of its float forward over the input's codes */
    OPQ_SOFTMAX,    /* Softmax of codes along its axis, by the target's rule */
    OPQ_MUL,        /* the product of two int8 inputs (numpy broadcasting), requantized */
    OPQ_SCALAR,     /* an elementwise op of an int8 input and a constant scalar: a table (as
                       OPQ_TABLE); Add and Mul take this form too when their second
                       operand is a constant scalar */
    OPQ_STEP_COUNT
} OpQStep;

/* Where an op's int8 output takes its quantization parameters from. */
typedef enum {
    OPQ_QP_NONE = 0, /* it has no int8 output */
    OPQ_QP_OWN,      /* its own calibrated range */
    OPQ_QP_INPUT,    /* its first input's: every output code is one of the input's codes */
    OPQ_QP_CLAMPED,  /* its first input's, clamped to bounds that may fall between codes */
} OpQParams;

/* Which linear unit an op can head (graph/linear_unit.h). */
typedef enum { OPLIN_NONE = 0, OPLIN_CONV, OPLIN_DENSE, OPLIN_GEMM, OPLIN_MATMUL } OpLinear;

typedef struct OpInt8 {
    OpQStep step;
    OpQParams qp;
    /* The float range [lo, hi] the op clamps its input to; NULL: the op is not a clamp.
     * A unit fuses an activation that has one (graph/linear_unit.h). */
    void (*clamp)(const Node *n, float *lo, float *hi);
    OpLinear linear;        /* OPQ_UNIT rows */
} OpInt8;

typedef struct OpDef {
    const char *name;       /* ONNX op_type, e.g. "Conv" */
    OpInt8 int8;            /* its int8 lowering; zero for float-only ops */
    int min_in, max_in;     /* input arity, optional inputs included in max_in */
    /* Fills *p from n's attributes (node_attr_*), checking what the attributes alone
     * decide; called once when the node is made (op_parse). NULL: the op has none. */
    QsStatus (*parse)(const Node *n, OpParams *p, QsError *err);
    /* in[i] is NULL for an omitted optional input; all shapes include the batch dim. */
    QsStatus (*infer)(const Node *n, const Shape *const *in, Shape *out, QsError *err);
    /* Scratch bytes the forward needs; NULL means none. */
    size_t (*scratch)(const Node *n, const Shape *const *in, const Shape *out);
    /* Float forward; in[i] NULL for omitted inputs; out is allocated with the inferred
     * shape. Must not fail: everything that can fail is checked by infer. */
    void (*forward)(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc);
    /* Backward: given the forward's inputs `in` and output `out` (kept by the run) and
     * dout = dL/d(out) (out's shape), ACCUMULATES (+=) dL/d(in[i]) into din[i] for every
     * non-NULL din[i] (NULL: that gradient is not needed). With rc->training the forward
     * was run in training mode (BatchNorm batch statistics). Scratch: OpDef.scratch must
     * cover the backward's needs too. NULL: the op has no gradient (training through it
     * fails with a clear message). */
    void (*backward)(const Node *n, const Tensor *const *in, const Tensor *out,
                     const Tensor *dout, Tensor *const *din, const RunCtx *rc);
    /* The forward honours RunCtx.clamp (a following Relu or Clip may be fused into it). */
    bool fuses_clamp;
    /* The forward honours RunCtx.bn (a following BatchNormalization may be fused into it). */
    bool fuses_bn;
    /* Bytes of the op's weights, in[1], packed for its forward, OP_PACKED_FLAGS included
     * (RunCtx.packed), from the input shapes; the run caches them only when in[1] is a
     * graph constant. NULL or 0: the op packs nothing worth caching. */
    size_t (*packed_bytes)(const Node *n, const Shape *const *in);
} OpDef;

/* The flag bytes at the start of RunCtx.packed. */
#define OP_PACKED_FLAGS 64

/* Rows are pointers so that each op family keeps its definitions in its own file. */
extern const OpDef *const op_table[OP_COUNT];

/* Op index by ONNX name, or -1. */
int op_find(const char *name);

/* Parses n's attributes into *p with its op's OpDef.parse (zeroes *p when it has none). */
QsStatus op_parse(const Node *n, OpParams *p, QsError *err);
/* The op's output shape from its input shapes, refused (QS_ESHAPE naming the node) when a
 * dimension is negative or the element count does not fit: shapes come from files, and every
 * later size computation assumes they are sane. Use this, not the row's infer. */
QsStatus op_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err);
/* The parameters the op functions read: n->params once parsed (every node a graph holds
 * is), else parsed now into *tmp (a Node filled in by hand: the ONNX importer's folding
 * probe, op tests). NULL with err set when they do not parse; with err NULL the caller
 * knows they do (infer accepted the node), so the result is never NULL. */
const OpParams *op_params(const Node *n, OpParams *tmp, QsError *err);
/* Sets attribute a on n (replacing one of the same name, else appending a copy) and
 * parses again; on failure n is unchanged. For code that edits a made node's attributes. */
QsStatus node_set_attr(Node *n, const Attr *a, QsError *err);

/* Helpers for parse functions: the ints or floats attribute `name` as given. */
void op_param_ints(const Node *n, const char *name, ParamInts *out);
void op_param_floats(const Node *n, const char *name, ParamFloats *out);

/* The clamp range of node n (OpInt8.clamp); false (lo, hi untouched) when its op is not a
 * clamp. The one place Relu's and Clip's bounds are read (op_clamp.c). */
bool op_clamp_range(const Node *n, float *lo, float *hi);
/* The rows' clamp functions: Relu [0, inf), Clip [min, max] (absent bounds: infinite). */
void op_relu_clamp(const Node *n, float *lo, float *hi);
void op_clip_clamp(const Node *n, float *lo, float *hi);
/* BatchNormalization n's inference formula per channel (its inputs in): channel c's value
 * v becomes norm_affine(v, sub[c], mul[c], add[c]) (kern/clamp.h). */
void op_bn_coefs(const Node *n, const Tensor *const *in, float *sub, float *mul, float *add);
/* That formula over (nb, c, len), then rc's clamp when set: what the op computes. y may be
 * x. */
void op_bn_apply(const float *x, float *y, int64_t nb, int64_t c, int64_t len,
                 const float *sub, const float *mul, const float *add, const RunCtx *rc);

/* Mod with fmod=0 on floats: a mod b with the divisor's sign (floored division). fmodf is
 * exact, and adding b to a remainder of the other sign is the one rounding step (as
 * torch.remainder). Shared by the op and the ONNX importer's constant folding. */
float op_mod_floor(float a, float b);

/* Shared shape helpers for infer functions. */
QsStatus op_expect_rank(const Node *n, const Shape *s, int lo, int hi, const char *what,
                        QsError *err);
/* Same-shape infer for elementwise unary ops: out = in[0]'s shape (after parsing a
 * hand-made node's attributes, as every infer does). */
QsStatus op_unary_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err);
/* Numpy-style broadcast of a and b into out. */
QsStatus op_broadcast(const Node *n, const Shape *a, const Shape *b, Shape *out, QsError *err);
/* Normalises a possibly negative axis against rank; fails when out of range. */
QsStatus op_axis(const Node *n, int64_t axis, int rank, int *out, QsError *err);

#endif
