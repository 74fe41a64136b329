/* Calibration convergence: how each layer's activation range grows with the number of
 * calibration samples, and which samples set it.
 *
 * One float pass over the first n samples of a split, observing every node output as
 * calibration does (act_stats_observe) but stopping at the points ceil(n / 2^k) (..., n/4,
 * n/2, n: every step a doubling) to ask the observer for the range so far. Each sample's own
 * min and max are also kept, so the samples that set the range's ends are named together
 * with the most extreme value any OTHER sample reaches (an end set by one sample far from
 * the rest is an outlier the observer may be better off ignoring).
 *
 * With the min-max observer the range after n samples equals calibrate's on the same
 * samples bit for bit (min and max do not depend on the batching); observers that read the
 * histogram or the per-batch moving averages see the same values in batches cut at the
 * points as well, so their ranges may differ from calibrate's in the last digits. */
#ifndef QS_CONVERGENCE_H
#define QS_CONVERGENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/job.h"
#include "data/dataset.h"
#include "graph/graph.h"
#include "quant/observer.h"

/* Defaults of the judgements (docs/quantization.md, "Calibration convergence"). */
#define CONV_MOVING_TOL 0.05   /* an end moved by more than 5 % of the range in the last
                                  doubling: still moving */
#define CONV_OUTLIER_GAP 0.25  /* an end set by one sample beyond every other sample's by a
                                  quarter of the range or more: an outlier sample */

typedef struct RangeTrack {
    int node;                  /* the layer whose output this is */
    bool valid;                /* its output has one row per sample (not a shape
                                  computation): the figures below are meaningful */
    double min, max;           /* over all n samples (finite values) */
    int64_t min_sample, max_sample; /* index in the split of the sample that set each (the
                                  first one to reach it); -1 when no finite value */
    double min_next, max_next; /* the most extreme min / max of any other sample (+-Inf
                                  when there is no other sample with a finite value) */
    float *lo, *hi;            /* [n_points] the observer's range after points[k] samples
                                  (NaN when it has none yet) */
    double moved;              /* largest move of either end in the last doubling over the
                                  final range's width (0 when n_points < 2 or no width) */
} RangeTrack;

typedef struct Convergence {
    int64_t n;                 /* samples walked */
    int n_points;
    int64_t *points;           /* [n_points] ascending sample counts; the last is n */
    int n_tracks;
    RangeTrack *t;             /* one per node with a float output, in run order */
} Convergence;

/* Walks the first n samples of d (n <= 0: all) in batches of `batch` with the float model
 * and the observer obs (with opts o and the moving-average momentum, as calibration). */
QsStatus convergence_run(const Graph *g, const Dataset *d, int64_t n, int batch,
                         ObserverKind obs, const ObserverOpts *o, double ma_momentum,
                         const JobCtx *job, Convergence *out, QsError *err);
void convergence_release(Convergence *c);

/* Judgements on a track: its range is still moving (moved > tol); its max (or min) is
 * set by one sample beyond every other sample's by gap x the range or more. */
bool range_track_moving(const RangeTrack *t, double tol);
bool range_track_max_outlier(const RangeTrack *t, double gap);
bool range_track_min_outlier(const RangeTrack *t, double gap);
/* How far the outlier end (when one) leads every other sample's, over the width; 0 when
 * neither end is an outlier. *is_max: the end is the max (the larger lead of the two). */
double range_track_lead(const RangeTrack *t, double gap, bool *is_max);

/* What a track suggests, for people, into buf: an outlier end names its sample and, under
 * a min-max observer (obs), the observers that would ignore it; a moving range asks for
 * more samples (2n); else "converged". Returns buf. */
const char *range_track_advice(const RangeTrack *t, ObserverKind obs, int64_t n, double tol,
                               double gap, char *buf, size_t cap);

#endif
