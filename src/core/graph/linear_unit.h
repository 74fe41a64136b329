/* Linear units (docs/quantization.md, "The quantized executor"): a Conv, Dense, Gemm or
 * MatMul with constant float weights (the head), the BatchNormalization folded into it and
 * the activation fused as its output clamp. The executor's lowering (qexec) and QAT's
 * training graph (qat) group and fold through this one module, so QAT starts from the
 * executor's weights bit for bit.
 *
 * A node heads a unit when its op row names a linear kind (OpInt8.linear), its first input
 * is not a constant and its weights are f32 constants, and:
 *   Conv: (OC, C/group, KH[, KW]) weights, bias absent or an f32 constant;
 *   Dense: (OC, K) weights, bias absent or an f32 constant;
 *   Gemm: transA = 0, (K, OC) or with transB (OC, K) weights, and C (when beta != 0) an
 *         f32 constant holding one value per output column or a scalar;
 *   MatMul: exactly two inputs, a first of rank >= 2, a constant (K, OC) second.
 * It absorbs the BatchNormalization that alone reads its output (constant f32 statistics
 * over OC channels, normalising a conv's channels or a 2-D product's columns), then the
 * clamp op (OpInt8.clamp: Relu, Clip) that alone reads the result; a value read anywhere
 * else, or a graph output, ends the unit there (its last value may be a graph output). */
#ifndef QS_LINEAR_UNIT_H
#define QS_LINEAR_UNIT_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"

typedef enum {
    LU_CONV = 0,     /* Conv (grouped too) */
    LU_DEPTHWISE,    /* Conv with group > 1 and one input channel per group */
    LU_DENSE,
    LU_GEMM,
    LU_MATMUL,
} LinearKind;

typedef struct LinearUnit {
    int head;                /* the head node; -1: the node heads no unit */
    int bn;                  /* the BatchNormalization folded into it, -1 */
    int act;                 /* the clamp op fused after it, -1 */
    LinearKind kind;
    int64_t oc, k;           /* output channels (features) and products per output */
    float act_lo, act_hi;    /* act's clamp range (act >= 0) */
} LinearUnit;

/* Whether node can head a unit; fills u (bn = act = -1) when it can, else u->head = -1. */
bool linear_head(const Graph *g, int node, LinearUnit *u);

/* Whether node bn is a BatchNormalization that folds into unit u (reading the head's
 * output; whether it alone reads it is the caller's question). */
bool linear_bn_folds(const Graph *g, const LinearUnit *u, int bn);

/* Decides whether a node that can head a unit does (e.g. the executor refuses int8 heads
 * whose K its accumulator cannot hold); ctx is the caller's. */
typedef bool (*LinearAccept)(const LinearUnit *u, void *ctx);

/* Groups g's nodes into units in topological order: units[node] describes the unit node
 * heads (head -1 for every other node) and head_of[node] is the head of the unit that
 * absorbs node, or node itself. accept NULL: every node that can head a unit does. */
void linear_group(const Graph *g, LinearAccept accept, void *ctx, LinearUnit *units,
                  int *head_of);

/* The head's own W (OC, K) and b (OC), without the BatchNorm: Conv and Dense weights as
 * stored; Gemm's alpha times B, transposed unless transB; MatMul's B transposed; b the
 * bias input, or Gemm's beta times C (zeros when there is none). Returns whether the head
 * has a bias. */
bool linear_weights(const Graph *g, const LinearUnit *u, float *w, float *b);
/* Folds BatchNormalization node bn into (w, b) in place, in double, each rounded once:
 * a = gamma / sqrt(var + eps), W' = W a, b' = (b - mean) a + beta. */
void linear_fold_bn(const Graph *g, int bn, int64_t oc, int64_t k, float *w, float *b);
/* linear_weights, then linear_fold_bn with u's BatchNorm. Returns whether the folded unit
 * has a bias (always, with a BatchNorm). */
bool linear_fold(const Graph *g, const LinearUnit *u, float *w, float *b);

/* A BatchNormalization's epsilon. */
float linear_bn_epsilon(const Node *bn);

/* The head's bias input when it adds one value per output channel that linear_store_bias
 * can write back (Conv and Dense biases; Gemm's C with beta != 0 and OC values); -1 otherwise. */
int linear_bias_input(const Graph *g, const LinearUnit *u);

/* Writes folded weights W (OC, K) back into the head's weight constant in its own layout
 * (Gemm's alpha becomes 1): the inverse of linear_weights. */
void linear_store_weights(Graph *g, const LinearUnit *u, const float *w);
/* Writes b (OC) into linear_bias_input, which must exist (Gemm's beta becomes 1); b NULL:
 * zeroes the head's bias input, if it has one, whatever its shape. */
void linear_store_bias(Graph *g, const LinearUnit *u, const float *b);

#endif
