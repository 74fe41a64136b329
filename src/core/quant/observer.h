/* Activation statistics and the observers that turn them into a clipping range.
 *
 * Calibration keeps ONE ActStats per value (min/max, moving-average min/max, and a
 * histogram); every observer derives its range from those, so switching observer after
 * calibration needs no second pass over the data. That is why the observer table rows hold
 * only a name and a `range` function rather than per-observer state. */
#ifndef QS_OBSERVER_H
#define QS_OBSERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define HIST_BINS 4096

/* A histogram of values over [-range, range] with HIST_BINS equal bins. The range starts
 * at the first batch's max |x| rounded up to a power of two and doubles (merging adjacent
 * bin pairs, so no count is lost or moved across zero) whenever a larger |x| arrives. */
typedef struct Histogram {
    double range;              /* 0 until the first finite value */
    int64_t bins[HIST_BINS];   /* bin i covers [-range + i w, -range + (i + 1) w), w = 2 range / HIST_BINS */
    int64_t total;
} Histogram;

typedef struct ActStats {
    double min, max;           /* over everything seen (+Inf/-Inf before any value) */
    double ma_min, ma_max;     /* moving averages of per-batch min/max (see ma_momentum) */
    int64_t batches;
    int64_t count;             /* values seen */
    int64_t nonfinite;         /* NaN/Inf values seen (ignored by the statistics) */
    double fp16_overflow;      /* values with |x| > 65504, the largest half: FP16 cannot
                                  hold them (from 65520 up they become Inf) */
    Histogram hist;
} ActStats;

void act_stats_init(ActStats *s);
/* Adds one batch of n values. ma_momentum: the weight of the new batch in the moving
 * average (PyTorch MovingAverageMinMaxObserver's averaging_constant, default 0.01); the
 * first batch initialises the averages. */
void act_stats_observe(ActStats *s, const float *x, int64_t n, double ma_momentum);

/* act_stats_observe(sx, x) and act_stats_observe(sy, y) with y[i] = clamp_value(x[i], lo,
 * hi) (kern/clamp.h: what a Relu or Clip makes of x), the same bytes in both, read at once:
 * x is read from memory once, y never exists whole, and with lo == 0 a value inside
 * (0, hi) is counted once for both histograms (act_scan_bins_clamped). */
void act_stats_observe_clamped(ActStats *sx, ActStats *sy, const float *x, int64_t n, float lo,
                               float hi, double ma_momentum);

typedef enum {
    OBS_MINMAX = 0,
    OBS_MA_MINMAX,
    OBS_PERCENTILE,
    OBS_ENTROPY,     /* KL divergence over the histogram, TensorRT's rule (the zero bin
                        weighs like its neighbour; docs/quantization.md) */
    OBS_MSE,         /* the clipping range minimising the expected quantization MSE */
    OBS_COUNT
} ObserverKind;

typedef struct ObserverOpts {
    double pct;      /* percentile: the share of |x| (or of x on each side when asymmetric)
                        kept inside the range, e.g. 99.99 */
    int bits;        /* 2..8 */
    bool symmetric;  /* the range will be quantized symmetrically */
} ObserverOpts;

typedef struct ObserverDef {
    const char *name;  /* "minmax", "ma-minmax", "percentile", "entropy", "mse" */
    /* Sets [*lo, *hi] (lo <= 0 <= hi is NOT required here; quant_params widens) from the
     * statistics. Fails with QS_EINVAL when s saw no finite value. */
    QsStatus (*range)(const ActStats *s, const ObserverOpts *o, float *lo, float *hi,
                      QsError *err);
} ObserverDef;

extern const ObserverDef observer_table[OBS_COUNT];
int observer_find(const char *name); /* -1 when unknown */

/* Share of the observed values (from the histogram) outside [lo, hi]: the clipped
 * fraction `layers` reports. */
double act_stats_clipped_fraction(const ActStats *s, float lo, float hi);

/* The histogram's mass falling in [lo, hi), a bin straddling an edge counted in proportion
 * to its overlap: the column heights of `hist LAYER act` and of the HTML report's
 * histograms. */
double histogram_mass(const Histogram *h, double lo, double hi);

#endif
