/* Calibration: the float model runs over a split with taps that feed every value's
 * ActStats. The float model is not changed. */
#ifndef QS_CALIB_H
#define QS_CALIB_H

#include "data/dataset.h"
#include "base/error.h"
#include "graph/graph.h"
#include "base/job.h"
#include "quant/observer.h"
#include "quant/qimport.h"

typedef struct Calibration {
    int n_values;       /* the graph's value count when made */
    ActStats *stats;    /* [n_values]; meaningful for graph inputs and node outputs; owned */
    int64_t samples;    /* samples seen */
    double ma_momentum;
    QImport *imported;  /* parameters imported from a deployed file (qimport.h), which
                           lowering takes over the ranges; one reference owned; NULL: none */
} Calibration;

/* Runs g on the first n samples of d (n <= 0: all) in batches of `batch` and fills *out
 * (initialised here). On failure or cancellation *out is left empty (released) and the
 * caller's previous calibration is untouched because it is a different object. */
QsStatus calib_run(const Graph *g, const Dataset *d, int64_t n, int batch, double ma_momentum,
                   const JobCtx *job, Calibration *out, QsError *err);
void calib_release(Calibration *c);

#endif
