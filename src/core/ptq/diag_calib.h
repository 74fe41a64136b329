/* diagnose's calibration checks, from the convergence of the ranges (quant/convergence.h)
 * over the samples the calibration was made from:
 *  - range-moving: quantized unit outputs whose range still moves by more than
 *    CONV_MOVING_TOL of its width in the last doubling of the sample count (one finding,
 *    on the layer that moves most, counting the others). Fix: calibrate on twice the
 *    samples.
 *  - outlier-sample: under a min-max observer, a sample that alone sets an end of a
 *    quantized range, beyond every other sample's by CONV_OUTLIER_GAP of the width or more
 *    (one finding per such sample, at most DIAG_CALIB_MAX_OUTLIERS, on the layer where its
 *    lead is largest). Fix: a percentile or MSE observer, or look at the sample.
 * The check is skipped (no finding) when the split no longer holds the calibration's
 * samples: the pass's min and max must equal the calibration's for every range. */
#ifndef QS_DIAG_CALIB_H
#define QS_DIAG_CALIB_H

#include "ptq/diagnose.h"
#include "quant/calib.h"

#define DIAG_CALIB_MAX_OUTLIERS 3

/* Findings (new memory, *n_out of them; free) for the quantized model q of plan pq whose
 * calibration cal was made on the first cal->samples samples of d (named split). */
QsStatus diag_calib_run(const Graph *g, QModel *q, const Plan *pq, const Calibration *cal,
                        const Dataset *d, const char *split, int batch, const JobCtx *job,
                        Finding **out, int *n_out, QsError *err);

/* True when node i's output is a quantized unit's (the unit's last node, the head holding
 * an int8 activation range): the ranges the checks judge. */
bool diag_quantized_output(const QModel *q, const Graph *g, int i);

#endif
