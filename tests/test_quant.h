/* Helpers for tests of quantized and executor runs. */
#ifndef QS_TEST_QUANT_H
#define QS_TEST_QUANT_H

#include "graph/graph.h"
#include "qexec/qexec.h"
#include "quant/calib.h"
#include "quant/plan.h"
#include "quant/target.h"
#include "run/exec.h"

/* A calibration whose min/max for each listed value vals[i] is exactly ranges[i]; the
 * other values have empty statistics. Caller releases it as any calibration. */
void tu_hand_calibration(const Graph *g, Calibration *cal, const int *vals,
                         const float (*ranges)[2], int n);
/* An int8-static plan under `target` (QTargetKind) initialised into p, and the model built
 * on m with cal into *q: the status of qmodel_build. Caller releases p (and *q). */
QsStatus tu_int8_build(const Model *m, const Calibration *cal, int target, Plan *p, QModel **q,
                       QsError *err);
/* Runs ex on x (taps through fn/user when fn is set); a copy of output 0, or NULL after a
 * counted failure. */
Tensor *tu_run_exec(Executor ex, const Tensor *x, RunTapFn fn, void *user);
/* tu_run_exec without taps. */
Tensor *tu_run(Executor ex, const Tensor *x);

#endif
