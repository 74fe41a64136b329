/* Softmax's arithmetic (op_softmax.c), shared with the int8 executor's Softmax step, which
 * computes qscope's rule on dequantized spans with the same code. */
#ifndef QS_OPS_SOFTMAX_H
#define QS_OPS_SOFTMAX_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/op.h"

/* Splits a Softmax node's output shape s around its axis: (outer, len, inner). */
void softmax_split(const Node *n, const Shape *s, int64_t *outer, int64_t *len,
                   int64_t *inner);
/* One span of len values at stride `step`: the maximum taken out, the normaliser summed in
 * double with fmath's exp, each result rounded once to float (log_form: LogSoftmax).
 * ys may be xs. */
void softmax_span(const float *xs, float *ys, int64_t len, int64_t step, bool log_form);

#endif
