/* An int8-static linear unit recomputed from given input codes, exactly, for questions the
 * executor's fast kernels do not answer: which output sits on a rounding tie, and what
 * another deployment target's rule would have made of the same int32 accumulator
 * (ptq/taps.h). The accumulators are those the unit's kernel requantizes (bias and zero
 * point included); the per-target rules are the unit's own scales and zero points put
 * through each row of target_table (quant/target.h), as lowering would under that target.
 * Slow reference loops: one multiply-add per tap, no packing. The other int8 steps whose
 * arithmetic differs between targets rerun on the executor's own kernels with another
 * row's parameters (qmodel_run_node_target). */
#ifndef QS_QEXEC_RERUN_H
#define QS_QEXEC_RERUN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/quant.h"
#include "quant/target.h"
#include "qexec/qexec.h"

/* The accumulators of the int8-static linear unit headed by `head` on int8 codes x of its
 * data input (shape xs) for its output shape ys: acc = bq[c] + sum_k (x_k - z_in) w[c][k],
 * one per output element, in the layout of the unit's output ((N, OC, ...) for a conv,
 * (rows, OC) for a product). Padding taps read the zero point (they contribute 0).
 * QS_EINVAL when `head` does not head an int8-static linear unit, QS_ESHAPE when xs and ys
 * do not fit its weights and geometry. */
QsStatus qmodel_unit_accumulators(const QModel *q, int head, const int8_t *x, const Shape *xs,
                                  const Shape *ys, int32_t *acc, QsError *err);

/* How every target would requantize the unit: per target row, its per-channel Requant and
 * its output clamp (the fused activation's bounds under the row's clamp rule). */
typedef struct QUnitRules {
    int64_t oc;              /* output channels */
    int64_t inner;           /* output elements per channel run: conv OH*OW (1-D: OW), 1 */
    bool per_row;            /* products: the channel is the last axis (index % oc) */
    int32_t z_out;
    bool ok[QTGT_COUNT];     /* false: the target cannot represent a multiplier */
    Requant *rq[QTGT_COUNT]; /* [oc] each (NULL when !ok) */
    int32_t lo[QTGT_COUNT], hi[QTGT_COUNT];
    int current;             /* the unit's own target (the plan's) */
} QUnitRules;

/* The rules of the unit headed by `head` at output shape ys (for its channel layout).
 * Release with qunit_rules_release. QS_EINVAL as qmodel_unit_accumulators. */
QsStatus qmodel_unit_rules(const QModel *q, int head, const Shape *ys, QUnitRules *r,
                           QsError *err);
void qunit_rules_release(QUnitRules *r);

/* ---- other int8 steps -------------------------------------------------------------- */

/* Node `node`'s step rerun as qmodel_run_node_local does (float inputs, quantized at the
 * step's input on its own parameters; float output, its codes dequantized), but with the
 * arithmetic of target row `target` (quant/target.h): the step's own scales and zero
 * points, the row's Add, Mul, MatMul requantization, Softmax, Concat requantization,
 * average pool, mean and clamp rules, as lowering would derive them under that target.
 * *has_rules false (out untouched) for a step whose arithmetic no target changes (copies,
 * MaxPool, tables, float steps) and for linear units (qmodel_unit_rules answers those).
 * QS_EINVAL when the row cannot represent the step's parameters (that target has no
 * candidate), as qmodel_run_node_local otherwise. */
QsStatus qmodel_run_node_target(QModel *q, int node, int target, const Tensor *const *inputs,
                                Tensor *out, bool *has_rules, QsError *err);

/* The channel of output element i. */
static inline int64_t qunit_channel(const QUnitRules *r, int64_t i)
{
    return r->per_row ? i % r->oc : i / r->inner % r->oc;
}
/* Output element i's code under target t from its accumulator. */
static inline int32_t qunit_code(const QUnitRules *r, int t, int64_t i, int32_t acc)
{
    return quant_requant_rule(acc, &r->rq[t][qunit_channel(r, i)], r->z_out, r->lo[t],
                              r->hi[t]);
}

#endif
