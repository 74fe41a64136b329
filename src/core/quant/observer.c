/* Activation statistics (min/max, moving averages, an adaptive histogram) and the observer
 * table that turns them into clipping ranges. The exact rules, and why, are in
 * docs/quantization.md, "Observers and calibration". */
#include "quant/observer.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/quant.h"
#include "kern/clamp.h"
#include "kern/fmath.h"
#include "quant/actscan.h"

#define HALF (HIST_BINS / 2)

_Static_assert(HIST_BINS % 4 == 0, "doubling merges bin pairs on each side of zero");

/* The range used while every finite value seen is exactly 0: "smallest power of two >= 0"
 * has no answer, and any positive range holds zeros in bin HALF. Such a histogram is
 * re-based (not merged) when the first nonzero value arrives, so it never costs
 * resolution. */
#define HIST_ZERO_RANGE 0x1p-20

/* ---- histogram --------------------------------------------------------------------------- */

static double hist_width(const Histogram *h) { return 2.0 * h->range / HIST_BINS; }

/* Smallest power of two >= a (a > 0, finite). */
static double pow2_ceil(double a)
{
    int e;
    double m = frexp(a, &e); /* a = m 2^e, m in [0.5, 1) */
    return m == 0.5 ? ldexp(1.0, e - 1) : ldexp(1.0, e);
}

/* Doubles the range once. Old bin i covers [-R + i w, -R + (i+1) w); measured in old
 * widths from the new lower edge -2R its left edge is HALF + i, so it lies inside new bin
 * (HALF + i) / 2 = HIST_BINS/4 + i/2: old pairs (2k, 2k+1) merge into new bin
 * HIST_BINS/4 + k, the old range fills the middle half, and zero (old edge HALF, even)
 * stays the edge between new bins HALF - 1 and HALF. */
static void hist_double(Histogram *h)
{
    int64_t nb[HIST_BINS] = { 0 };
    for (int i = 0; i < HIST_BINS; i++)
        nb[HIST_BINS / 4 + i / 2] += h->bins[i];
    memcpy(h->bins, nb, sizeof nb);
    h->range *= 2.0;
}

/* Makes the range cover maxabs (> 0 or == 0, finite). `only_zeros`: every value binned so
 * far is 0, so the histogram may be re-based at any range without merging. */
static void hist_cover(Histogram *h, double maxabs, bool only_zeros)
{
    if (h->range == 0.0 || (only_zeros && maxabs > 0.0)) {
        h->range = maxabs > 0.0 ? pow2_ceil(maxabs) : HIST_ZERO_RANGE;
        return; /* zeros (if any) sit in bin HALF at every range */
    }
    /* A range reached by doubling a power of two is the smallest power of two >= maxabs
     * too, and the bins at every range are unions of the final bins, so the histogram does
     * not depend on how the data was split into batches -- except for a value exactly at
     * an earlier +range: it was binned in that range's last bin and moves with it, one
     * final bin below the bin [R, R + w) it would get directly. */
    while (h->range < maxabs)
        hist_double(h);
}

/* The interval bin i's values can occupy: the bin clipped to [min, max]. A bin's values are
 * modelled as spread uniformly over it (a point mass when it is a single point), which
 * makes the clipped fraction of [min, max] exactly 0 and lets percentiles never leave
 * the observed range. */
static void hist_bin_span(const ActStats *s, int i, double *a, double *b)
{
    double w = hist_width(&s->hist);
    double lo = -s->hist.range + i * w, hi = lo + w;
    *a = lo > s->min ? lo : s->min;
    *b = hi < s->max ? hi : s->max;
    if (*b < *a)
        *b = *a; /* an empty bin: any point will do, its count is 0 */
}

/* Share of a bin spread over [a, b] that lies below t (strictly below for a point mass). */
static double span_below(double a, double b, double t)
{
    if (b <= a)
        return a < t ? 1.0 : 0.0;
    if (t <= a)
        return 0.0;
    if (t >= b)
        return 1.0;
    return (t - a) / (b - a);
}

/* Share of a bin spread over [a, b] that lies above t. */
static double span_above(double a, double b, double t)
{
    if (b <= a)
        return a > t ? 1.0 : 0.0;
    if (t >= b)
        return 0.0;
    if (t <= a)
        return 1.0;
    return (b - t) / (b - a);
}

/* ---- statistics -------------------------------------------------------------------------- */

void act_stats_init(ActStats *s)
{
    memset(s, 0, sizeof *s);
    s->min = s->ma_min = INFINITY;
    s->max = s->ma_max = -INFINITY;
}

/* Values scanned twice (range, then bins) while they are in L1: a batch is read from
 * memory once. */
#define OBSERVE_CHUNK 8192

/* Doubles h's range in the middle of a batch whose first `done` values are binned at the
 * old range R. Doubling moves each of them to the bin that binning at 2R gives directly
 * (hist_double), except a value exactly at +R: it is in the last bin (x == +range) and the
 * merge puts it one below [R, R + 2w), so it is moved up. (The earlier batches' values at
 * +R stay where the merge puts them: hist_cover's rule.) The values binned are x's, or
 * when `clamped` clamp_value(x, lo, hi)'s. */
static void hist_double_in_batch(Histogram *h, const float *x, int64_t done, bool clamped,
                                 float lo, float hi)
{
    float top = (float)h->range; /* < max |x| <= FLT_MAX, a power of two: exact */
    int64_t at_top = 0;
    for (int64_t i = 0; i < done; i++)
        at_top += (clamped ? clamp_value(x[i], lo, hi) : x[i]) == top;
    hist_double(h);
    h->bins[3 * HIST_BINS / 4 - 1] -= at_top;
    h->bins[3 * HIST_BINS / 4] += at_top;
}

/* One histogram's scan of a batch, chunk by chunk: h's range grown to cover each chunk as
 * hist_cover would for the whole batch, then the chunk binned. The bins come out as binning
 * the whole batch at its final range: the range only doubles (or is set on a histogram of
 * zeros, which any range holds in bin HALF), and hist_double_in_batch keeps the batch's
 * binned values where binning at the doubled range puts them. `unset` while the batch has
 * shown only zeros on a histogram without a range (hist_cover then picks it). */
typedef struct HistScan {
    Histogram *h;
    ActRange r;     /* the batch's range so far */
    bool unset;
    BinSink k;
} HistScan;

/* bins2, part: the sink's second table (or NULL) and its part of the thread's copies
 * (actscan.h). */
static void hist_scan_begin(HistScan *s, Histogram *h, int64_t n, bool only_zeros,
                            int64_t *bins2, int part)
{
    s->h = h;
    s->unset = h->range == 0.0 || only_zeros; /* the first nonzero value sets the range */
    s->r = (ActRange){ .min = INFINITY, .max = -INFINITY };
    bin_sink_init(&s->k, n, h->bins, bins2, part);
}

/* Whether a chunk of range rc makes s's histogram change its range. */
static bool hist_scan_regrows(const HistScan *s, const ActRange *rc)
{
    if (rc->finite == 0)
        return false;
    double maxabs = fmax(-(double)rc->min, (double)rc->max);
    return s->unset ? maxabs > 0.0 : maxabs > s->h->range;
}

/* Takes in the range rc of the chunk at x[done]: the batch's range, and h's range grown
 * (its sink settled first). `done` values of the batch, at x (or, when clamped, at
 * clamp_value(x, lo, hi)), are binned. */
static void hist_scan_grow(HistScan *s, const ActRange *rc, const float *x, int64_t done,
                           bool clamped, float lo, float hi)
{
    ActRange *r = &s->r;
    if (rc->finite == 0)
        return;
    if (rc->min < r->min) /* strict: an earlier chunk's zero keeps its sign */
        r->min = rc->min;
    if (rc->max > r->max)
        r->max = rc->max;
    r->finite += rc->finite;
    r->over += rc->over;
    double maxabs = fmax(-(double)rc->min, (double)rc->max);
    Histogram *h = s->h;
    if (maxabs > 0.0 && s->unset) {
        h->range = pow2_ceil(maxabs);
        s->unset = false;
    } else if (maxabs > h->range && !s->unset) {
        bin_sink_settle(&s->k);
        while (h->range < maxabs)
            hist_double_in_batch(h, x, done, clamped, lo, hi);
    }
}

/* 1 / (bin width) for the scan's binning; unset: any (the chunk holds only zeros). */
static double hist_scan_inv_w(const HistScan *s)
{
    return s->unset ? 1.0 : 1.0 / hist_width(s->h);
}

/* Bins one batch into h and returns its range in *r, reading it once (HistScan). */
static void hist_scan(Histogram *h, const float *x, int64_t n, bool only_zeros, ActRange *r)
{
    HistScan s;
    hist_scan_begin(&s, h, n, only_zeros, NULL, 0);
    for (int64_t c = 0; c < n; c += OBSERVE_CHUNK) {
        int64_t m = n - c < OBSERVE_CHUNK ? n - c : OBSERVE_CHUNK;
        ActRange rc;
        act_scan_range(x + c, m, &rc);
        if (rc.finite == 0)
            continue;
        hist_scan_grow(&s, &rc, x, c, false, 0.0f, 0.0f);
        act_scan_bins(&s.k, x + c, m, hist_scan_inv_w(&s));
    }
    bin_sink_release(&s.k);
    *r = s.r;
}

/* The batch's statistics beyond the histogram's bins, from its range r (hist_scan's).
 * `first`, `only_zeros`: as they were before the scan. */
static void stats_take_batch(ActStats *s, int64_t n, const ActRange *r, bool first,
                             bool only_zeros, double ma_momentum)
{
    double bmin = r->min, bmax = r->max;
    s->batches++;
    s->count += n;
    s->nonfinite += n - r->finite;
    s->fp16_overflow += (double)r->over;
    if (r->finite == 0)
        return;

    if (first) {
        s->ma_min = bmin;
        s->ma_max = bmax;
    } else {
        s->ma_min = s->ma_min + ma_momentum * (bmin - s->ma_min);
        s->ma_max = s->ma_max + ma_momentum * (bmax - s->ma_max);
    }
    if (bmin < s->min)
        s->min = bmin;
    if (bmax > s->max)
        s->max = bmax;
    /* the range hist_scan reached; it picks one here only for a batch of zeros alone */
    hist_cover(&s->hist, fmax(-bmin, bmax), only_zeros);
    s->hist.total += r->finite;
}

/* Beyond the header: `batches` counts every call with n > 0, `count` every value
 * (finite or not); a batch without a finite value leaves min/max, the averages and the
 * histogram alone, so the averages start at the first batch that has one. A momentum
 * outside (0, 1] means PyTorch's default 0.01. */
void act_stats_observe(ActStats *s, const float *x, int64_t n, double ma_momentum)
{
    if (n <= 0)
        return;
    if (!(ma_momentum > 0.0 && ma_momentum <= 1.0))
        ma_momentum = 0.01; /* PyTorch's default averaging_constant */
    bool first = s->hist.total == 0;
    bool only_zeros = s->min == 0.0 && s->max == 0.0;
    ActRange r;
    hist_scan(&s->hist, x, n, only_zeros, &r);
    stats_take_batch(s, n, &r, first, only_zeros, ma_momentum);
}

/* ---- a value and its clamp at once -------------------------------------------------------- */

/* Chunks of x (and of its clamp where that must be made) held in L1 while scanned. */
#define CLAMP_CHUNK OBSERVE_CHUNK

/* Both scans of act_stats_observe_clamped, and the counts of the values they share: values
 * x in (0, hi) below y's range are y's own values, counted once at y's bin width in
 * `shared` (x's sink's second table) and added to both histograms (hist_pair_settle)
 * before either range changes. */
typedef struct HistPair {
    HistScan x, y;
    int64_t shared[HIST_BINS]; /* at y's bin width; only bins HALF.. are used */
    bool any;                  /* shared holds counts */
} HistPair;

/* shared's counts into both histograms. Both ranges are powers of two with rx >= ry, so
 * y's bin f >= HALF (of a value v in (0, ry)) lies inside x's bin
 * HALF + ((f - HALF) >> log2(rx / ry)): floor(floor(v / wy) / 2^k) = floor(v / (wy 2^k)). */
static void hist_pair_settle(HistPair *p)
{
    if (!p->any)
        return;
    bin_sink_settle(&p->x.k);
    int ex, ey;
    frexp(p->x.h->range, &ex);
    frexp(p->y.h->range, &ey);
    int k = ex - ey;
    for (int f = HALF; f < HIST_BINS; f++) {
        int64_t c = p->shared[f];
        if (!c)
            continue;
        p->y.h->bins[f] += c;
        p->x.h->bins[HALF + ((f - HALF) >> k)] += c;
    }
    memset(p->shared, 0, sizeof p->shared);
    p->any = false;
}

/* y's range from x's when every x is finite and at most FP16_MAX in magnitude, lo is a
 * zero and hi > 0 (else false): y = clamp_value(x) is monotone, its zeros are where
 * x <= 0 and its other values positive, so its min and max are the clamps of x's (a
 * positive one) or, when zero, the first zero in order, as act_scan_range finds them. */
static bool clamp_range(const float *x, int64_t m, const ActRange *rx, float lo, float hi,
                        ActRange *ry)
{
    if (!(rx->finite == m && rx->over == 0 && lo == 0.0f && hi > 0.0f && m > 0))
        return false;
    ry->finite = m;
    ry->over = 0; /* 0 <= y <= max(x, 0) */
    ry->max = clamp_value(rx->max > 0.0f ? rx->max : x[0], lo, hi);
    if (rx->min > 0.0f) {
        ry->min = clamp_value(rx->min, lo, hi);
    } else {
        int64_t j = 0;
        while (x[j] > 0.0f)
            j++; /* one exists: rx->min <= 0 */
        ry->min = clamp_value(x[j], lo, hi);
    }
    return true;
}

/* Bins one chunk of x and of y = its clamp: the shared counting when both histograms have
 * their range and the vector path applies (act_scan_bins_clamped), else each on its own,
 * y made in ybuf unless `have_y` says it is there. */
static void hist_pair_bins(HistPair *p, const float *x, float *ybuf, bool have_y, int64_t m,
                           bool finite, float lo, float hi)
{
    HistScan *sx = &p->x, *sy = &p->y;
    if (finite && lo == 0.0f && hi >= 0.0f && !sx->unset && !sy->unset &&
        sx->h->range >= sy->h->range &&
        act_scan_bins_clamped(&sx->k, sy->h->bins, x, m, hist_scan_inv_w(sx),
                              hist_scan_inv_w(sy), hi, (float)sy->h->range)) {
        p->any = true;
        return;
    }
    if (!have_y)
        act_clamp(x, ybuf, m, lo, hi);
    act_scan_bins(&sx->k, x, m, hist_scan_inv_w(sx));
    act_scan_bins(&sy->k, ybuf, m, hist_scan_inv_w(sy));
}

void act_stats_observe_clamped(ActStats *sx, ActStats *sy, const float *x, int64_t n, float lo,
                               float hi, double ma_momentum)
{
    if (n <= 0)
        return;
    if (!(ma_momentum > 0.0 && ma_momentum <= 1.0))
        ma_momentum = 0.01;
    bool first_x = sx->hist.total == 0, zeros_x = sx->min == 0.0 && sx->max == 0.0;
    bool first_y = sy->hist.total == 0, zeros_y = sy->min == 0.0 && sy->max == 0.0;
    HistPair *p = xmalloc(sizeof *p);
    float *y = xmalloc(CLAMP_CHUNK * sizeof *y);
    memset(p->shared, 0, sizeof p->shared);
    hist_scan_begin(&p->x, &sx->hist, n, zeros_x, p->shared, 0);
    hist_scan_begin(&p->y, &sy->hist, n, zeros_y, NULL, 1);
    p->any = false;
    for (int64_t c = 0; c < n; c += CLAMP_CHUNK) {
        int64_t m = n - c < CLAMP_CHUNK ? n - c : CLAMP_CHUNK;
        ActRange rx, ry;
        act_scan_range(x + c, m, &rx);
        bool have_y = !clamp_range(x + c, m, &rx, lo, hi, &ry);
        if (have_y) {
            act_clamp(x + c, y, m, lo, hi);
            act_scan_range(y, m, &ry);
        }
        if (hist_scan_regrows(&p->x, &rx) || hist_scan_regrows(&p->y, &ry))
            hist_pair_settle(p);
        hist_scan_grow(&p->x, &rx, x, c, false, lo, hi);
        hist_scan_grow(&p->y, &ry, x, c, true, lo, hi);
        hist_pair_bins(p, x + c, y, have_y, m, rx.finite == m, lo, hi);
    }
    hist_pair_settle(p);
    bin_sink_release(&p->x.k);
    bin_sink_release(&p->y.k);
    stats_take_batch(sx, n, &p->x.r, first_x, zeros_x, ma_momentum);
    stats_take_batch(sy, n, &p->y.r, first_y, zeros_y, ma_momentum);
    free(p);
    free(y);
}

double act_stats_clipped_fraction(const ActStats *s, float lo, float hi)
{
    if (s->hist.total == 0)
        return 0.0;
    double out = 0.0;
    for (int i = 0; i < HIST_BINS; i++) {
        if (!s->hist.bins[i])
            continue;
        double a, b;
        hist_bin_span(s, i, &a, &b);
        out += (double)s->hist.bins[i] * (span_below(a, b, lo) + span_above(a, b, hi));
    }
    out /= (double)s->hist.total;
    return out < 1.0 ? out : 1.0; /* lo > hi would count some values twice */
}

double histogram_mass(const Histogram *h, double lo, double hi)
{
    if (h->range <= 0 || !(hi > lo))
        return 0;
    double w = hist_width(h), mass = 0;
    /* clamped as doubles: an edge far outside the histogram must not overflow an int */
    double f0 = fmax(floor((lo + h->range) / w), 0.0);
    double f1 = fmin(floor((hi + h->range) / w), HIST_BINS - 1.0);
    if (!(f0 <= f1))
        return 0;
    int b0 = (int)f0, b1 = (int)f1;
    for (int b = b0; b <= b1; b++) {
        double blo = -h->range + b * w, bhi = blo + w;
        double ov = fmin(bhi, hi) - fmax(blo, lo);
        if (ov > 0)
            mass += (double)h->bins[b] * ov / w;
    }
    return mass;
}

/* ---- observers --------------------------------------------------------------------------- */

static QsStatus obs_need_data(const ActStats *s, QsError *err)
{
    if (s->hist.total == 0)
        return qs_fail(err, QS_EINVAL, "no finite value was observed (%lld values, %lld NaN/Inf)",
                       (long long)s->count, (long long)s->nonfinite);
    return QS_OK;
}

static QsStatus obs_need_bits(const ObserverOpts *o, QsError *err)
{
    if (o->bits < 2 || o->bits > 8)
        return qs_fail(err, QS_EINVAL, "bits=%d: must be 2..8", o->bits);
    return QS_OK;
}

static QsStatus obs_minmax(const ActStats *s, const ObserverOpts *o, float *lo, float *hi,
                           QsError *err)
{
    if (obs_need_data(s, err))
        return err->code;
    *lo = (float)s->min;
    *hi = (float)s->max;
    return QS_OK;
}

static QsStatus obs_ma_minmax(const ActStats *s, const ObserverOpts *o, float *lo, float *hi,
                              QsError *err)
{
    if (obs_need_data(s, err))
        return err->code;
    *lo = (float)s->ma_min;
    *hi = (float)s->ma_max;
    return QS_OK;
}

/* Signed quantile: the smallest t with (mass of x below t) >= q * total, bins spread over
 * their spans (hist_bin_span). */
static double hist_quantile(const ActStats *s, double q)
{
    double target = q * (double)s->hist.total, cum = 0.0;
    for (int i = 0; i < HIST_BINS; i++) {
        double c = (double)s->hist.bins[i];
        if (c == 0.0)
            continue;
        if (cum + c >= target) {
            double a, b;
            hist_bin_span(s, i, &a, &b);
            double f = (target - cum) / c;
            return a + (b - a) * (f < 0.0 ? 0.0 : f);
        }
        cum += c;
    }
    return s->max;
}

/* Mass of x in [-t, t] for t in |x| bin k, i.e. kw <= t <= (k+1)w; `below` is the mass of
 * |x| bins 0..k-1. */
static double hist_abs_mass(const ActStats *s, int k, double below, double t)
{
    double a, b, m = below;
    int pos = HALF + k, neg = HALF - 1 - k;
    hist_bin_span(s, pos, &a, &b);
    m += (double)s->hist.bins[pos] * (1.0 - span_above(a, b, t));
    hist_bin_span(s, neg, &a, &b);
    m += (double)s->hist.bins[neg] * (1.0 - span_below(a, b, -t));
    return m;
}

/* Quantile of |x|: the smallest t with (mass of |x| <= t) >= q * total. Inside the |x| bin
 * where the cumulative count crosses the target the mass is piecewise linear in t (the
 * two signed bins may be clipped at min/max differently), so t is found by bisection. */
static double hist_abs_quantile(const ActStats *s, double q)
{
    double target = q * (double)s->hist.total, cum = 0.0, w = hist_width(&s->hist);
    double maxabs = fmax(-s->min, s->max);
    for (int k = 0; k < HALF; k++) {
        double c = (double)(s->hist.bins[HALF + k] + s->hist.bins[HALF - 1 - k]);
        if (c == 0.0)
            continue;
        if (cum + c >= target) {
            double lo = k * w, hi = (k + 1) * w;
            if (hi > maxabs)
                hi = maxabs;
            for (int it = 0; it < 100 && lo < hi; it++) {
                double mid = 0.5 * (lo + hi);
                if (mid <= lo || mid >= hi)
                    break;
                if (hist_abs_mass(s, k, cum, mid) >= target)
                    hi = mid;
                else
                    lo = mid;
            }
            return hi;
        }
        cum += c;
    }
    return maxabs;
}

static QsStatus obs_percentile(const ActStats *s, const ObserverOpts *o, float *lo, float *hi,
                               QsError *err)
{
    if (obs_need_data(s, err))
        return err->code;
    if (!(o->pct >= 50.0 && o->pct <= 100.0))
        return qs_fail(err, QS_EINVAL, "pct=%g: must be in [50, 100]", o->pct);
    double q = o->pct / 100.0;
    if (o->symmetric) {
        double t = hist_abs_quantile(s, q);
        *lo = (float)-t;
        *hi = (float)t;
    } else {
        double l = hist_quantile(s, 1.0 - q), h = hist_quantile(s, q);
        *lo = (float)fmax(l, s->min);
        *hi = (float)fmin(h, s->max);
        if (*lo > *hi)
            *lo = *hi;
    }
    return QS_OK;
}

/* ---- entropy (KL) ------------------------------------------------------------------------ */

/* TensorRT's entropy calibration ("8-bit Inference with TensorRT", Migacz 2017, as NVIDIA's
 * pytorch-quantization toolkit states it in _compute_amax_entropy); docs/quantization.md,
 * "entropy", gives the rule and where qscope's arithmetic differs from the toolkit's. */

/* Prefix sums over a one-sided histogram h[0..n) so that each KL candidate costs
 * O(levels) instead of O(n): cnt[k] = sum of h[0..k), nz[k] = nonzero bins among them,
 * plogp[k] = sum of h log h over them. */
typedef struct {
    double cnt[HALF + 1], plogp[HALF + 1];
    int nz[HALF + 1];
} KlPrefix;

static void kl_prefix(KlPrefix *kp, const int64_t *h, int n)
{
    kp->cnt[0] = kp->plogp[0] = 0.0;
    kp->nz[0] = 0;
    for (int k = 0; k < n; k++) {
        double c = (double)h[k];
        kp->cnt[k + 1] = kp->cnt[k] + c;
        kp->plogp[k + 1] = kp->plogp[k] + (c > 0.0 ? c * fm_log(c) : 0.0);
        kp->nz[k + 1] = kp->nz[k] + (c > 0.0);
    }
}

/* First bin of bucket j when bins 0..i-1 are split evenly into `levels` buckets: bin k
 * belongs to bucket floor(k levels / i), so bucket j starts at ceil(j i / levels). The
 * search keeps i >= levels, so every bucket holds one bin or more. */
static int kl_bucket_start(int j, int i, int levels)
{
    return (int)(((int64_t)j * i + levels - 1) / levels);
}

/* KL(P || Q) for the candidate threshold of `i` bins of the one-sided histogram h[0..n):
 * P = h[0..i) with the outliers h[i..n) added to P[i-1]; Q = the unclipped h[0..i) in
 * `levels` even buckets (kl_bucket_start), each bucket's count spread evenly over its bins
 * where h is nonzero (zero bins of h stay zero in Q); both normalised. +Inf when P[i-1]
 * holds only outliers (Q is 0 there and no smoothing is applied: that candidate is never
 * chosen; the candidate that clips nothing is always finite).
 *
 * Q is constant (q_j) over the nonzero bins of bucket j, so with P = total mass,
 * Qt = mass of h[0..i) and S_j = P mass of bucket j:
 *   KL = (1/P) sum_k p_k log p_k - log P - sum_j (S_j / P) log(q_j / Qt),
 * the first sum taken from the prefix (with P[i-1]'s term replaced). Accumulated in
 * double. */
static double kl_candidate(const KlPrefix *kp, int n, int i, int levels)
{
    double P = kp->cnt[n], Qt = kp->cnt[i], outliers = P - Qt;
    double h_last = kp->cnt[i] - kp->cnt[i - 1], p_last = h_last + outliers;
    if (Qt <= 0.0 || (h_last == 0.0 && outliers > 0.0))
        return INFINITY;
    double sum_plogp = kp->plogp[i] - (h_last > 0.0 ? h_last * fm_log(h_last) : 0.0) +
                       (p_last > 0.0 ? p_last * fm_log(p_last) : 0.0);
    double cross = 0.0;
    int start = 0;
    for (int j = 0; j < levels && start < i; j++) {
        int stop = kl_bucket_start(j + 1, i, levels);
        double sum = kp->cnt[stop] - kp->cnt[start];
        if (sum > 0.0) {
            double mass = sum + (stop == i ? outliers : 0.0); /* the bucket of P[i-1] */
            cross += mass * fm_log((sum / (kp->nz[stop] - kp->nz[start])) / Qt);
        }
        start = stop;
    }
    return sum_plogp / P - fm_log(P) - cross / P;
}

/* The candidate i (threshold i * w) minimising the KL over i = `levels` .. last nonzero
 * bin + 1 (the last clips nothing); ties go to the larger threshold, as the toolkit's
 * last argmin. Returns -1 when the data occupies at most `levels` bins: every level then
 * has its own bin and nothing is clipped.
 * h[0] is replaced by h[1] first (the zero-spike rule, docs), so h is a scratch copy. */
static int kl_search(int64_t *h, int n, int levels)
{
    int last = -1;
    for (int k = n - 1; k >= 0; k--)
        if (h[k]) {
            last = k;
            break;
        }
    if (last + 1 <= levels)
        return -1;
    h[0] = h[1];
    KlPrefix *kp = xmalloc(sizeof *kp);
    kl_prefix(kp, h, n);
    int best = last + 1;
    double best_kl = INFINITY;
    for (int i = levels; i <= last + 1; i++) {
        double kl = kl_candidate(kp, n, i, levels);
        if (kl <= best_kl) {
            best_kl = kl;
            best = i;
        }
    }
    free(kp);
    return best;
}

/* One side of the distribution as |x| bins: side[k] counts |x| in bin k of width w. */
enum { SIDE_ABS, SIDE_POS, SIDE_NEG };

static void hist_side(const Histogram *h, int which, int64_t *side)
{
    for (int k = 0; k < HALF; k++) {
        int64_t p = h->bins[HALF + k], m = h->bins[HALF - 1 - k];
        side[k] = which == SIDE_ABS ? p + m : which == SIDE_POS ? p : m;
    }
}

/* KL threshold of one side whose largest |x| is `side_max`; `levels` integer codes cover
 * it. The search starts at `levels` bins (TensorRT's 128 for signed int8), so that every
 * candidate models the rounding: below it Q equals P bin for bin and a candidate pays
 * only for what it clips, which a spike in its last bin absorbs almost for free. */
static double entropy_side(const ActStats *s, int64_t *side, int levels, double side_max)
{
    int i = kl_search(side, HALF, levels);
    if (i < 0)
        return side_max;
    double t = i * hist_width(&s->hist);
    return t < side_max ? t : side_max;
}

static QsStatus obs_entropy(const ActStats *s, const ObserverOpts *o, float *lo, float *hi,
                            QsError *err)
{
    if (obs_need_data(s, err) || obs_need_bits(o, err))
        return err->code;
    int64_t side[HALF];
    int half_levels = 1 << (o->bits - 1), all_levels = 1 << o->bits;
    if (o->symmetric) {
        /* the restricted grid has 2^(bits-1) codes on each side of zero, one-sided data
         * included */
        hist_side(&s->hist, SIDE_ABS, side);
        double t = entropy_side(s, side, half_levels, fmax(-s->min, s->max));
        *lo = (float)-t;
        *hi = (float)t;
    } else if (s->min >= 0.0) {
        /* all 2^bits codes of the asymmetric grid cover [0, T] */
        hist_side(&s->hist, SIDE_POS, side);
        *lo = (float)s->min;
        *hi = (float)entropy_side(s, side, all_levels, s->max);
    } else if (s->max <= 0.0) {
        hist_side(&s->hist, SIDE_NEG, side);
        side[0] += s->hist.bins[HALF]; /* exact zeros sit in the first positive bin */
        *lo = (float)-entropy_side(s, side, all_levels, -s->min);
        *hi = (float)s->max;
    } else {
        /* mixed signs: each side searched on its own with half of the codes */
        hist_side(&s->hist, SIDE_NEG, side);
        *lo = (float)-entropy_side(s, side, half_levels, -s->min);
        hist_side(&s->hist, SIDE_POS, side);
        *hi = (float)entropy_side(s, side, half_levels, s->max);
    }
    return QS_OK;
}

/* ---- MSE --------------------------------------------------------------------------------- */

/* G(u) = integral over [-1/2, u] of (t - round(t))^2 dt, for the rounding error on a grid
 * of step 1 whose points are the integers: n full cells of 1/12 plus the partial one. */
static double round_err_integral(double u)
{
    double n = floor(u + 0.5), r = u - n;
    return n / 12.0 + (r * r * r + 0.125) / 3.0;
}

/* Integral over [a, b] of (x - c)^2. */
static double sq_integral(double a, double b, double c)
{
    double u = a - c, v = b - c;
    return (v * v * v - u * u * u) / 3.0;
}

/* The histogram as the MSE search reads it: nonzero bins with their spans. */
typedef struct {
    int n;
    double a[HIST_BINS], b[HIST_BINS], c[HIST_BINS];
} MseBins;

/* Expected squared error of quantize-dequantize on the grid p, with each bin's values
 * spread uniformly over its span (hist_bin_span), summed over the histogram (not divided
 * by the total). Outside [L, H] (the dequantized ends of the grid) a value is clamped to
 * the end; inside it rounds to the nearest grid point, integrated exactly per bin. */
static double mse_of_grid(const MseBins *mb, const QParams *p)
{
    double sc = p->scale;
    double L = sc * (double)(p->qmin - p->zero_point), H = sc * (double)(p->qmax - p->zero_point);
    double total = 0.0;
    for (int i = 0; i < mb->n; i++) {
        double a = mb->a[i], b = mb->b[i], c = mb->c[i], e = 0.0;
        if (b <= a) { /* point mass */
            double y = a < L ? L : a > H ? H : L + sc * nearbyint((a - L) / sc);
            total += c * (a - y) * (a - y);
            continue;
        }
        if (a < L)
            e += sq_integral(a, fmin(b, L), L);
        if (b > H)
            e += sq_integral(fmax(a, H), b, H);
        double ia = fmax(a, L), ib = fmin(b, H);
        if (ib > ia)
            e += sc * sc * sc *
                 (round_err_integral((ib - L) / sc) - round_err_integral((ia - L) / sc));
        total += c * e / (b - a);
    }
    return total;
}

/* One line search: the clipping range is [flo * lo0, fhi * hi0] where the factor being
 * searched (`which`: both, lo only, hi only) takes the value a and the other keeps its
 * current value. */
enum { MSE_BOTH, MSE_LO, MSE_HI };

typedef struct {
    const MseBins *mb;
    const ObserverOpts *o;
    double lo0, hi0;
} MseProblem;

static double mse_eval(const MseProblem *pr, double flo, double fhi)
{
    QParams p = quant_params((float)(flo * pr->lo0), (float)(fhi * pr->hi0), pr->o->bits,
                                 pr->o->symmetric);
    return mse_of_grid(pr->mb, &p);
}

/* Factors tried: a coarse log grid 2^(-k/16), k = 0..176 (1 down to 2^-11, about one
 * histogram bin of the full range), then 32 evenly spaced points between the best coarse
 * factor's two neighbours. Ties keep the larger factor (the wider range). Updates *flo /
 * *fhi and *best only on a strict improvement. */
#define MSE_COARSE 176
#define MSE_FINE 32

static void mse_line(const MseProblem *pr, int which, double *flo, double *fhi, double *best)
{
    double cur_best = INFINITY, best_a = 1.0;
    int best_k = 0;
    for (int k = 0; k <= MSE_COARSE; k++) {
        double a = fm_exp2(-k / 16.0);
        double e = mse_eval(pr, which == MSE_HI ? *flo : a, which == MSE_LO ? *fhi : a);
        if (e < cur_best) {
            cur_best = e;
            best_k = k;
            best_a = a;
        }
    }
    double a0 = fm_exp2(-(best_k + 1) / 16.0), a1 = best_k > 0 ? fm_exp2(-(best_k - 1) / 16.0) : 1.0;
    for (int j = MSE_FINE; j >= 0; j--) {
        double a = a0 + (a1 - a0) * j / MSE_FINE;
        double e = mse_eval(pr, which == MSE_HI ? *flo : a, which == MSE_LO ? *fhi : a);
        if (e < cur_best) {
            cur_best = e;
            best_a = a;
        }
    }
    if (cur_best < *best) {
        *best = cur_best;
        if (which != MSE_HI)
            *flo = best_a;
        if (which != MSE_LO)
            *fhi = best_a;
    }
}

/* Symmetric: one factor scales [-M, M], M = max|x|. Asymmetric: [min(0, min), max(0, max)]
 * is first scaled by one common factor, then each end by its own factor in turn
 * (coordinate descent, at most MSE_ROUNDS rounds, stopping when a round gains nothing),
 * as PyTorch's HistogramObserver moves each end of its range separately. */
#define MSE_ROUNDS 4

static QsStatus obs_mse(const ActStats *s, const ObserverOpts *o, float *lo, float *hi,
                        QsError *err)
{
    if (obs_need_data(s, err) || obs_need_bits(o, err))
        return err->code;
    double lo0 = fmin(0.0, s->min), hi0 = fmax(0.0, s->max);
    if (o->symmetric) {
        double m = fmax(-lo0, hi0);
        lo0 = -m;
        hi0 = m;
    }
    if (lo0 == hi0) { /* all zeros */
        *lo = *hi = 0.0f;
        return QS_OK;
    }
    MseBins *mb = xmalloc(sizeof *mb);
    mb->n = 0;
    for (int i = 0; i < HIST_BINS; i++) {
        if (!s->hist.bins[i])
            continue;
        hist_bin_span(s, i, &mb->a[mb->n], &mb->b[mb->n]);
        mb->c[mb->n++] = (double)s->hist.bins[i];
    }
    MseProblem pr = { .mb = mb, .o = o, .lo0 = lo0, .hi0 = hi0 };
    double flo = 1.0, fhi = 1.0, best = mse_eval(&pr, 1.0, 1.0);
    mse_line(&pr, MSE_BOTH, &flo, &fhi, &best);
    if (!o->symmetric && lo0 < 0.0 && hi0 > 0.0) {
        for (int round = 0; round < MSE_ROUNDS; round++) {
            double before = best;
            mse_line(&pr, MSE_HI, &flo, &fhi, &best);
            mse_line(&pr, MSE_LO, &flo, &fhi, &best);
            if (!(best < before))
                break;
        }
    }
    free(mb);
    *lo = (float)(flo * lo0);
    *hi = (float)(fhi * hi0);
    return QS_OK;
}

/* ---- table ------------------------------------------------------------------------------- */

const ObserverDef observer_table[OBS_COUNT] = {
    [OBS_MINMAX] = { .name = "minmax", .range = obs_minmax },
    [OBS_MA_MINMAX] = { .name = "ma-minmax", .range = obs_ma_minmax },
    [OBS_PERCENTILE] = { .name = "percentile", .range = obs_percentile },
    [OBS_ENTROPY] = { .name = "entropy", .range = obs_entropy },
    [OBS_MSE] = { .name = "mse", .range = obs_mse },
};

int observer_find(const char *name)
{
    for (int i = 0; i < OBS_COUNT; i++)
        if (name && strcmp(observer_table[i].name, name) == 0)
            return i;
    return -1;
}
