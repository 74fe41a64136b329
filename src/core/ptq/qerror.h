/* Per-layer error of a quantized plan against the float model on the same inputs:
 *  - accumulated: the quantized model runs whole; each layer's output is compared with
 *    the float model's output of that layer (errors of earlier layers included);
 *  - local: each layer (unit) runs alone at its precision, fed the float model's inputs to
 *    it, and is compared with the float output: only its own error.
 * Layers absorbed into a unit (a folded BatchNorm, a fused ReLU) are measured at the
 * unit's output under local, and at their own output under accumulated. */
#ifndef QS_QERROR_H
#define QS_QERROR_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "base/error.h"
#include "base/job.h"
#include "graph/model.h"
#include "qexec/qexec.h"

typedef struct LayerError {
    bool valid;              /* measured (local: unit heads only) */
    int64_t values;
    double sum_sq_err, sum_sq_ref, dot, norm_ref, norm_q, max_abs;
    double step;             /* the output's quantization step (int8-static), else 0 */
} LayerError;

double layer_error_mse(const LayerError *e);
double layer_error_sqnr_db(const LayerError *e);      /* +Inf when identical */
double layer_error_cosine(const LayerError *e);
double layer_error_rmse_steps(const LayerError *e);   /* RMSE / step; NaN without a step */

/* Measures every node over the first n samples of d in batches. out has
 * m->graph.n_nodes entries, indexed by node. */
QsStatus qerror_run(const Model *m, QModel *q, const Dataset *d, int64_t n, int batch,
                    bool local, const JobCtx *job, LayerError *out, QsError *err);

#endif
