/* The two passes act_stats_observe (observer.h) makes over a batch of activations, at every
 * SIMD level: the batch's range (min, max and counts) and the histogram binning. Both are
 * exact: the vector paths give the scalar rule's results bit for bit (the min and max
 * included, down to the sign of a zero), so calibration statistics do not depend on the
 * SIMD level (tests/unit/test_actscan.c). */
#ifndef QS_ACTSCAN_H
#define QS_ACTSCAN_H

#include <stdint.h>

/* One batch's range. min and max are what a scan in order keeping the FIRST of equal
 * values finds (so +0 or -0 is whichever came first); +Inf / -Inf when no value is finite. */
typedef struct ActRange {
    float min, max;        /* over the finite values */
    int64_t finite;        /* finite values */
    int64_t over;          /* finite values with |x| > 65504 (the largest half) */
} ActRange;

void act_scan_range(const float *x, int64_t n, ActRange *r);

/* Adds every finite x[i] to bins[HIST_BINS] (observer.h): bin floor(x * inv_w) + HIST_BINS/2,
 * computed exactly (x * inv_w in double), clamped to [0, HIST_BINS - 1] (so x == +range
 * lands in the last bin). inv_w is 1 / (bin width), a power of two, and every finite x lies
 * in [-range, range]; non-finite values are skipped. */
void act_scan_bins(const float *x, int64_t n, double inv_w, int64_t *bins);

#endif
