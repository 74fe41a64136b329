/* The calibration scans (quant/actscan.h) at every SIMD level against the rules written
 * out here independently (libm floor in double, an in-order min/max): the bins must be
 * equal count for count and the range bit for bit (the sign of a zero min or max
 * included), on NaN, +-Inf, +-0, subnormals, values at +-range and beyond the half range,
 * for ranges from 2^-140 (1 / w is no float: the rule's double path) to 2^128, and for
 * lengths that leave vector tails. And act_stats_observe end to end at each level against
 * the rule it was first written as (one range pass, then one binning pass at the batch's
 * final range): the same ActStats bytes, for batches scanned in many chunks whose range
 * grows inside the batch. And act_stats_observe_clamped against act_stats_observe of a
 * value and of its clamp. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/simd.h"
#include "quant/actscan.h"
#include "quant/observer.h"
#include "test_util.h"

#define NMAX 5003

static void rule_range(const float *x, int64_t n, ActRange *r)
{
    r->min = INFINITY;
    r->max = -INFINITY;
    r->finite = r->over = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        r->finite++;
        r->over += fabsf(x[i]) > 65504.0f;
        if (x[i] < r->min)
            r->min = x[i];
        if (x[i] > r->max)
            r->max = x[i];
    }
}

static void rule_bins(const float *x, int64_t n, double inv_w, int64_t *bins)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        double b = floor((double)x[i] * inv_w) + HIST_BINS / 2;
        bins[b < 0 ? 0 : b > HIST_BINS - 1 ? HIST_BINS - 1 : (int)b]++;
    }
}

/* Values in [-range, range]: a seeded spread, the ends, zeros of both signs (first a -0 or a
 * +0 by `zsign`), subnormals, NaN and Inf. */
static void fill(float *x, int64_t n, int e, unsigned seed, int zsign)
{
    static const float specials[] = { NAN, INFINITY, -INFINITY, 1e-45f, -1e-45f, 1e-40f,
                                      -3e-39f, 1.0f, -1.0f, 0.5f, -0.5f };
    unsigned s = seed;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        float u = (float)((int)(s >> 8) - (1 << 23)) / (float)(1 << 23); /* [-1, 1) */
        int k = (int)(s % 23);
        if (k < 5)
            u = 0.0f; /* many zeros, as after a ReLU */
        else if (k < 6)
            u = specials[(s >> 5) % 11];
        float v = ldexpf(u, e);
        if (k == 6 && e > -130) /* a subnormal, inside the range */
            v = u * 1e-42f;
        x[i] = isfinite(v) || !isfinite(u) ? v : u;
    }
    if (n > 0)
        x[0] = zsign ? -0.0f : 0.0f;
    if (n > 3) {
        x[1] = ldexpf(1.0f, e < 128 ? e : 127);
        x[2] = -x[1];
    }
}

static void test_level(const float *x, int64_t n, double inv_w, SimdLevel l, const char *what)
{
    ActRange want, got;
    static int64_t wb[HIST_BINS], gb[HIST_BINS];
    rule_range(x, n, &want);
    memset(wb, 0, sizeof wb);
    memset(gb, 0, sizeof gb);
    rule_bins(x, n, inv_w, wb);
    simd_cap(l);
    act_scan_range(x, n, &got);
    BinSink k;
    bin_sink_init(&k, n, gb, NULL, 0);
    act_scan_bins(&k, x, n, inv_w);
    bin_sink_release(&k);
    simd_cap(simd_detected());
    bool ok = memcmp(&got.min, &want.min, sizeof got.min) == 0 &&
              memcmp(&got.max, &want.max, sizeof got.max) == 0 &&
              got.finite == want.finite && got.over == want.over;
    if (!CHECK(ok))
        printf("  %s n %lld at %s: range [%g, %g] %lld %lld, want [%g, %g] %lld %lld\n", what,
               (long long)n, simd_name(l), got.min, got.max, (long long)got.finite,
               (long long)got.over, want.min, want.max, (long long)want.finite,
               (long long)want.over);
    if (!CHECK(memcmp(gb, wb, sizeof gb) == 0))
        printf("  %s n %lld at %s: bins differ\n", what, (long long)n, simd_name(l));
}

/* act_stats_observe as it was first written (one range pass, the histogram's range grown
 * by doubling, then one binning pass at the final range), the rule the chunked scan must
 * reproduce. */
static double ref_pow2_ceil(double a)
{
    int e;
    double m = frexp(a, &e);
    return m == 0.5 ? ldexp(1.0, e - 1) : ldexp(1.0, e);
}

static void ref_observe(ActStats *s, const float *x, int64_t n, double mom)
{
    ActRange r;
    rule_range(x, n, &r);
    s->batches++;
    s->count += n;
    s->nonfinite += n - r.finite;
    s->fp16_overflow += (double)r.over;
    if (r.finite == 0)
        return;
    bool first = s->hist.total == 0, only_zeros = s->min == 0.0 && s->max == 0.0;
    s->ma_min = first ? r.min : s->ma_min + mom * (r.min - s->ma_min);
    s->ma_max = first ? r.max : s->ma_max + mom * (r.max - s->ma_max);
    s->min = r.min < s->min ? r.min : s->min;
    s->max = r.max > s->max ? r.max : s->max;
    double maxabs = fmax(-(double)r.min, (double)r.max);
    Histogram *h = &s->hist;
    if (h->range == 0.0 || (only_zeros && maxabs > 0.0))
        h->range = maxabs > 0.0 ? ref_pow2_ceil(maxabs) : 0x1p-20;
    while (h->range < maxabs) {
        int64_t nb[HIST_BINS] = { 0 };
        for (int i = 0; i < HIST_BINS; i++)
            nb[HIST_BINS / 4 + i / 2] += h->bins[i];
        memcpy(h->bins, nb, sizeof nb);
        h->range *= 2.0;
    }
    rule_bins(x, n, HIST_BINS / (2.0 * h->range), h->bins);
    h->total += r.finite;
}

/* Batches of `len` values from x, observed by act_stats_observe at each level and by
 * ref_observe: the same ActStats bytes. */
static void test_observe(const float *x, int64_t n, int64_t len, const char *what)
{
    static ActStats want, got;
    act_stats_init(&want);
    for (int64_t b = 0; b < n; b += len)
        ref_observe(&want, x + b, n - b < len ? n - b : len, 0.1);
    for (int l = 0; l <= (int)simd_detected(); l++) {
        simd_cap((SimdLevel)l);
        act_stats_init(&got);
        for (int64_t b = 0; b < n; b += len)
            act_stats_observe(&got, x + b, n - b < len ? n - b : len, 0.1);
        simd_cap(simd_detected());
        if (!CHECK(memcmp(&got, &want, sizeof got) == 0))
            printf("  %s, batches of %lld at %s: act_stats_observe differs from the rule\n",
                   what, (long long)len, simd_name((SimdLevel)l));
    }
}

/* Batches long enough to be scanned in several chunks, with the range growing inside a
 * batch (the values of a later chunk larger), values exactly at each power of two that
 * the range passes through (they sit in the last bin until the range doubles), batches of
 * zeros alone before the first nonzero, and non-finite values. */
static void test_observe_chunks(void)
{
    int64_t n = 200000;
    float *x = malloc((size_t)n * sizeof *x);
    for (int shape = 0; shape < 4; shape++) {
        fill(x, n, -3, 900u + (unsigned)shape, shape & 1);
        for (int64_t i = 0; i < n; i++) {
            float grow = ldexpf(1.0f, (int)(i / 9000) % 7); /* x2 every 9000 values */
            x[i] = shape == 3 && i < 30000 ? 0.0f : x[i] * grow;
            if (i % 997 == 5)
                x[i] = ldexpf(1.0f, (int)(i / 9000) % 7 - 3); /* exactly at +range */
            if (shape == 2 && i % 4 == 0)
                x[i] = 1.5f; /* a long-running value */
        }
        char what[32];
        snprintf(what, sizeof what, "chunked shape %d", shape);
        static const int64_t lens[] = { 200000, 70001, 16384, 8191, 3 };
        for (int li = 0; li < 5; li++)
            test_observe(x, n, lens[li], what);
    }
    free(x);
}

/* act_stats_observe_clamped(sx, sy, x) against act_stats_observe(x) and
 * act_stats_observe(clamp_value(x)) at each level: the same bytes in both. */
static void test_clamped(const float *x, int64_t n, int64_t len, float lo, float hi,
                         const char *what)
{
    static ActStats wx, wy, gx, gy;
    float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i]; /* Relu's and Clip's rule */
    act_stats_init(&wx);
    act_stats_init(&wy);
    for (int64_t b = 0; b < n; b += len) {
        act_stats_observe(&wx, x + b, n - b < len ? n - b : len, 0.1);
        act_stats_observe(&wy, y + b, n - b < len ? n - b : len, 0.1);
    }
    for (int l = 0; l <= (int)simd_detected(); l++) {
        simd_cap((SimdLevel)l);
        act_stats_init(&gx);
        act_stats_init(&gy);
        for (int64_t b = 0; b < n; b += len)
            act_stats_observe_clamped(&gx, &gy, x + b, n - b < len ? n - b : len, lo, hi, 0.1);
        simd_cap(simd_detected());
        if (!CHECK(memcmp(&gx, &wx, sizeof gx) == 0))
            printf("  %s [%g, %g], batches of %lld at %s: the input's statistics differ\n",
                   what, lo, hi, (long long)len, simd_name((SimdLevel)l));
        if (!CHECK(memcmp(&gy, &wy, sizeof gy) == 0))
            printf("  %s [%g, %g], batches of %lld at %s: the clamp's statistics differ\n",
                   what, lo, hi, (long long)len, simd_name((SimdLevel)l));
    }
    free(y);
}

/* A Relu's or Clip's input: mostly finite with a range growing inside batches, values exactly
 * at hi, at each power of two the ranges pass through and at 0 of both signs, long runs of
 * one value (a conv over a flat background), batches of zeros or of negatives alone, and
 * NaN and Inf in one shape; clamps from 0 (+0 and -0) to 6, 1, 0 and Inf, and two that do
 * not start at 0 (observed each on its own inside). */
static void test_observe_clamped(void)
{
    int64_t n = 120000;
    float *x = malloc((size_t)n * sizeof *x);
    static const float his[] = { 6.0f, 1.0f, INFINITY, 0.0f, 0.375f };
    for (int shape = 0; shape < 5; shape++) {
        fill(x, n, 2, 300u + (unsigned)shape, shape & 1);
        for (int64_t i = 0; i < n; i++) {
            float grow = ldexpf(1.0f, (int)(i / 9000) % 5 - 1);
            if (shape != 4 && !isfinite(x[i]))
                x[i] = 0.5f; /* finite but for shape 4 */
            x[i] *= grow;
            if (i % 991 == 7)
                x[i] = ldexpf(1.0f, (int)(i / 9000) % 5 - 1); /* at a power of two */
            if (i % 613 == 3)
                x[i] = 6.0f;
            if (i % 389 == 1)
                x[i] = i % 2 ? -0.0f : 0.0f;
            if (shape == 2 && (i / 500) % 3 == 0)
                x[i] = (i / 1500) % 2 ? 0.8125f : -1.25f; /* long runs */
            if (shape == 3 && i < 20000)
                x[i] = i < 10000 ? -fabsf(x[i]) - 0.5f : 0.0f; /* negatives, then zeros */
        }
        char what[32];
        snprintf(what, sizeof what, "clamped shape %d", shape);
        static const int64_t lens[] = { 120000, 30001, 8192, 777 };
        for (int li = 0; li < 4; li++) {
            for (int hi = 0; hi < 5; hi++)
                test_clamped(x, n, lens[li], shape == 1 ? -0.0f : 0.0f, his[hi], what);
            test_clamped(x, n, lens[li], -1.0f, 2.0f, what);
            test_clamped(x, n, lens[li], 0.5f, 6.0f, what);
        }
    }
    free(x);
}

int main(void)
{
    static const int exps[] = { 0, 3, -20, -100, -116, -117, -140, 20, 127, 128 };
    static const int64_t lengths[] = { 0, 1, 2, 5, 15, 16, 17, 31, 32, 33, 1000, 3333, NMAX };
    float *x = malloc(NMAX * sizeof *x);
    for (int ei = 0; ei < 10; ei++)
        for (int zs = 0; zs < 2; zs++) {
            int e = exps[ei];
            fill(x, NMAX, e, 77u + (unsigned)ei, zs);
            double inv_w = ldexp(1.0, 11 - e); /* HIST_BINS / (2 range) with range 2^e */
            char what[64];
            snprintf(what, sizeof what, "range 2^%d, first zero %s", e, zs ? "-0" : "+0");
            for (int li = 0; li < 13; li++)
                for (int l = 0; l <= (int)simd_detected(); l++)
                    test_level(x, lengths[li], inv_w, (SimdLevel)l, what);
        }
    /* no zero at all, and only zeros: the min and max without the first-zero search */
    for (int64_t i = 0; i < NMAX; i++)
        x[i] = (float)(i % 7 + 1) * (i % 2 ? -0.25f : 0.75f);
    for (int l = 0; l <= (int)simd_detected(); l++)
        test_level(x, NMAX, 512.0, (SimdLevel)l, "no zeros");
    for (int64_t i = 0; i < NMAX; i++)
        x[i] = i % 3 ? 0.0f : -0.0f;
    for (int l = 0; l <= (int)simd_detected(); l++)
        test_level(x, NMAX, 512.0, (SimdLevel)l, "zeros only");
    for (int zs = 0; zs < 2; zs++) { /* a ReLU's output: min 0, its first zero late */
        for (int64_t i = 0; i < NMAX; i++)
            x[i] = i < 37 ? (float)(i + 1) : i % 2 ? 0.0f : 3.0f;
        x[37] = zs ? -0.0f : 0.0f;
        for (int l = 0; l <= (int)simd_detected(); l++)
            test_level(x, NMAX, 4.0, (SimdLevel)l, zs ? "relu, first zero -0" : "relu");
    }
    fill(x, NMAX, 0, 5u, 1);
    for (int64_t i = 2001; i < NMAX; i++)
        x[i] *= 4.0f; /* the third batch doubles the range twice */
    test_observe(x, NMAX, 1000, "small batches");
    test_observe_chunks();
    test_observe_clamped();
    free(x);
    return test_summary("actscan");
}
