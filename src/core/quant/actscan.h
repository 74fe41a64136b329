/* The two scans act_stats_observe (observer.h) makes over a batch of activations, at every
 * SIMD level: the range (min, max and counts) and the histogram binning; and for
 * act_stats_observe_clamped, a Relu's or Clip's clamp and the binning of a value and its
 * clamp at once. All are exact:
 * the vector paths give the scalar rule's results bit for bit (the min and max included,
 * down to the sign of a zero), so calibration statistics do not depend on the SIMD level
 * (tests/unit/test_actscan.c). */
#ifndef QS_ACTSCAN_H
#define QS_ACTSCAN_H

#include <stdbool.h>
#include <stdint.h>

/* One batch's range. min and max are what a scan in order keeping the FIRST of equal
 * values finds (so +0 or -0 is whichever came first); +Inf / -Inf when no value is finite. */
typedef struct ActRange {
    float min, max;        /* over the finite values */
    int64_t finite;        /* finite values */
    int64_t over;          /* finite values with |x| > 65504 (the largest half) */
} ActRange;

void act_scan_range(const float *x, int64_t n, ActRange *r);

/* Where act_scan_bins counts: a histogram's bins[HIST_BINS] (and, for the shared counting
 * of act_scan_bins_clamped, a second table bins2[HIST_BINS] at indices HIST_BINS..),
 * reached through a buffer of bin indices and, for a large batch, SUB_COPIES interleaved
 * 32-bit copies of the tables. A conv output over an image's flat background repeats one
 * value for long runs, and back-to-back increments of one counter wait on each other; the
 * copies (those of a bin share a cache line) let four increments of one bin be under way
 * at once. The buffer then holds copy indices (SUB_COPIES bin + copy, the copy from the
 * vector lane), so a flush is one increment per value. Four copies measured best on
 * dwnet's calibration: fewer queue on repeated values, more leave L1 (2,500 bins in use). The copies live in per-thread memory kept across calls, all zero
 * between sinks (kern/thread_buffer.h), so a batch clears nothing it did not count in;
 * `part` (0 or 1) tells apart two sinks one caller fills at once. The tables hold every
 * count only after bin_sink_settle. */
#define BIN_BUF 1024
#define SUB_SHIFT 2
#define SUB_COPIES (1 << SUB_SHIFT)
typedef uint32_t SubCount;         /* one copy's count of one bin */
#define BIN_SUB_MIN 16384                        /* values worth the copies' merging */
#define BIN_SUB_FLUSH ((1u << 31) - BIN_BUF - 16) /* a copy's bin then cannot overflow */

typedef struct BinSink {
    int64_t *bins;
    int64_t *bins2;            /* indices HIST_BINS.. (act_scan_bins_clamped), or NULL */
    SubCount *sub;             /* [2 * HIST_BINS * SUB_COPIES], or NULL: counts go to bins */
    uint32_t taken;            /* values counted in sub since it was merged */
    int pos;
    int32_t buf[BIN_BUF + 16]; /* room for one more vector past BIN_BUF */
} BinSink;

/* n: about how many values will be counted (it chooses whether the copies pay); bins2 may
 * be NULL. */
void bin_sink_init(BinSink *k, int64_t n, int64_t *bins, int64_t *bins2, int part);
void bin_sink_settle(BinSink *k);  /* every count so far into bins (and bins2) */
void bin_sink_release(BinSink *k); /* settles, and gives the copies back */

/* Counts every finite x[i] into bin floor(x * inv_w) + HIST_BINS/2, computed exactly
 * (x * inv_w in double), clamped to [0, HIST_BINS - 1] (so x == +range lands in the last
 * bin). inv_w is 1 / (bin width), a power of two, and every finite x lies in
 * [-range, range]; non-finite values are skipped. */
void act_scan_bins(BinSink *k, const float *x, int64_t n, double inv_w);

/* y[i] = clamp_value(x[i], lo, hi) (kern/clamp.h) at every SIMD level: what a Relu or Clip
 * computes, so calibration can observe an activation's output while it observes its input. */
void act_clamp(const float *x, float *y, int64_t n, float lo, float hi);

/* x and y = act_clamp(x, 0, hi) (lo +0 or -0, hi >= 0), every x finite, binned at once for
 * two histograms of ranges rx >= ry >= max y (1 / width inv_wx, inv_wy), y never read: the
 * values x in (0, hi) below ry are y's own, so each is counted once, at y's width, into
 * kx's second table (bins2: the caller adds those counts to both histograms); every other
 * x goes to kx's first (x's histogram); y's other values are 0, hi or ry and are counted
 * into ybins (y's), all as act_scan_bins would. kx needs bins2. Returns false, counting
 * nothing, where it has no vector path (the scalar level, or a width not a float): the
 * caller then bins x and y with act_scan_bins. */
bool act_scan_bins_clamped(BinSink *kx, int64_t *ybins, const float *x, int64_t n,
                           double inv_wx, double inv_wy, float hi, float ry);

#endif
