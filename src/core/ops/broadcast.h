/* The numpy-broadcast walk over an output shared by elementwise kernels (op_arith.c, the
 * int8 Mul step qkernels_mul.c). */
#ifndef QS_OPS_BROADCAST_H
#define QS_OPS_BROADCAST_H

#include "base/tensor.h"

/* Runs the statement(s) given last for every output element i of shape o, with the
 * operands' offsets ia and ib from their strides sa and sb (shape_broadcast_strides: 0 on
 * broadcast axes). */
#define BCAST_WALK(o, sa, sb, ...)                                                        \
    do {                                                                                  \
        int64_t idx_[QS_MAX_DIMS] = { 0 }, ia = 0, ib = 0;                                \
        int64_t total_ = shape_numel(o);                                                  \
        for (int64_t i = 0; i < total_; i++) {                                            \
            __VA_ARGS__;                                                                  \
            for (int d_ = (o)->ndim - 1; d_ >= 0; d_--) {                                 \
                ia += (sa)[d_];                                                           \
                ib += (sb)[d_];                                                           \
                if (++idx_[d_] < (o)->dim[d_])                                            \
                    break;                                                                \
                ia -= (sa)[d_] * (o)->dim[d_];                                            \
                ib -= (sb)[d_] * (o)->dim[d_];                                            \
                idx_[d_] = 0;                                                             \
            }                                                                             \
        }                                                                                 \
    } while (0)

#endif
