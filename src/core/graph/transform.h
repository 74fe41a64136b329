/* Float-exact graph rewrites. */
#ifndef QS_TRANSFORM_H
#define QS_TRANSFORM_H

#include "base/error.h"
#include "graph/model.h"

/* Folds fixed per-channel scale layers (Mul by a non-trainable constant of shape (C, 1, ...)
 * along axis 1) into their neighbours, exactly in real arithmetic:
 *   - a scale right after a BatchNormalization that nothing else reads multiplies that
 *     BatchNorm's scale and bias;
 *   - a scale whose every reader is a Conv with group 1 or a Dense on (N, C) input is
 *     multiplied into those readers' input-channel weights.
 * The Mul nodes are then removed. *n_folded counts them. Scales that fit neither case stay
 * (counted in *n_left). This is how the doctored depthwise channel of mnist_dw gets its
 * large weights while the float function stays the same. */
QsStatus transform_absorb_scales(Model *m, int *n_folded, int *n_left, QsError *err);

#endif
