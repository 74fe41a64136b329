/* Clamp ranges of the clamp ops (op.h, OpInt8.clamp): what an int8 clamp step, a fused
 * activation and the diagnostics read. */
#include <math.h>

#include "ops/op.h"

void op_relu_clamp(const Node *n, float *lo, float *hi)
{
    (void)n;
    *lo = 0.0f;
    *hi = INFINITY;
}

void op_clip_clamp(const Node *n, float *lo, float *hi)
{
    OpParams tmp;
    const ClipParams *c = &op_params(n, &tmp, NULL)->clip;
    *lo = c->min;
    *hi = c->max;
}

bool op_clamp_range(const Node *n, float *lo, float *hi)
{
    void (*clamp)(const Node *, float *, float *) = op_table[n->op]->int8.clamp;
    if (!clamp)
        return false;
    clamp(n, lo, hi);
    return true;
}
