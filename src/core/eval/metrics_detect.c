/* Detection metrics for heat-map detectors (metrics_detect.h states the rules).
 * Details the header leaves open, fixed here:
 *  - a NaN cell is never a peak and never stops a neighbour from being one;
 *  - a plateau is a connected (8-neighbour) set of cells that all pass the peak test (two
 *    adjacent cells that both pass are necessarily equal); its first cell in raster
 *    order is the peak;
 *  - peaks with equal logits are taken in raster order; a peak at exactly tol_px from an
 *    object matches it; among objects at equal distance the first in the list wins, for
 *    matching and for attributing a false positive;
 *  - F1 is 2 tp / (2 tp + fp + fn), which equals 2 P R / (P + R) where both exist and is
 *    0 rather than NaN when there are objects or peaks but no match. */
#include "eval/metrics_detect.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

DetectCfg detect_cfg_default(int out_h, int out_w, int in_w)
{
    DetectCfg c = { out_h, out_w, out_w > 0 ? (double)in_w / out_w : 1.0, 3.0, 0.0f, 15.0 };
    return c;
}

typedef struct Peak {
    float v;
    int idx;
} Peak;

static int detect_peak_cmp(const void *pa, const void *pb)
{
    const Peak *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Peaks of one heat map (h, w) into peaks, strongest first; returns their count.
 * cand, seen: (h * w) scratch; stack: (h * w) ints. */
static int detect_peaks(const float *heat, int h, int w, float thresh, uint8_t *cand,
                        uint8_t *seen, int *stack, Peak *peaks)
{
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float v = heat[i * w + j];
            bool ok = v > thresh;
            for (int di = -1; di <= 1 && ok; di++)
                for (int dj = -1; dj <= 1 && ok; dj++) {
                    int a = i + di, b = j + dj;
                    if ((di || dj) && a >= 0 && a < h && b >= 0 && b < w && heat[a * w + b] > v)
                        ok = false;
                }
            cand[i * w + j] = ok;
        }
    memset(seen, 0, (size_t)h * w);
    int np = 0;
    for (int idx = 0; idx < h * w; idx++) {
        if (!cand[idx] || seen[idx])
            continue;
        peaks[np++] = (Peak){ heat[idx], idx };
        /* mark the rest of its plateau, so that none of it counts again */
        int top = 0;
        stack[top++] = idx;
        seen[idx] = 1;
        while (top > 0) {
            int c = stack[--top], i = c / w, j = c % w;
            for (int di = -1; di <= 1; di++)
                for (int dj = -1; dj <= 1; dj++) {
                    int a = i + di, b = j + dj;
                    if (a < 0 || a >= h || b < 0 || b >= w || !cand[a * w + b] || seen[a * w + b])
                        continue;
                    seen[a * w + b] = 1;
                    stack[top++] = a * w + b;
                }
        }
    }
    qsort(peaks, (size_t)np, sizeof *peaks, detect_peak_cmp);
    return np;
}

static int detect_class(const DetectCfg *cfg, float d)
{
    return (double)d < cfg->small_px ? DET_SMALL : DET_LARGE;
}

void detect_counts_add(DetectCounts *c, const DetectCfg *cfg, const float *heat, int64_t n,
                       const float *objects, int k)
{
    int h = cfg->out_h, w = cfg->out_w;
    if (h <= 0 || w <= 0 || n <= 0)
        return;
    size_t hw = (size_t)h * (size_t)w;
    uint8_t *cand = xmalloc(hw), *seen = xmalloc(hw);
    int *stack = xmalloc(hw * sizeof *stack);
    Peak *peaks = xmalloc(hw * sizeof *peaks);
    bool *matched = xmalloc((size_t)(k > 0 ? k : 1) * sizeof *matched);
    double tol2 = cfg->tol_px * cfg->tol_px;
    for (int64_t s = 0; s < n; s++) {
        const float *ob = k > 0 ? objects + s * k * 3 : NULL;
        int np = detect_peaks(heat + s * (int64_t)hw, h, w, cfg->logit_thresh, cand, seen, stack,
                              peaks);
        for (int o = 0; o < k; o++)
            matched[o] = false;
        for (int p = 0; p < np; p++) {
            double px = (peaks[p].idx % w + 0.5) * cfg->stride;
            double py = (peaks[p].idx / w + 0.5) * cfg->stride;
            int best = -1, near = -1;
            double best_d2 = 0, near_d2 = 0;
            for (int o = 0; o < k; o++) {
                if (!(ob[3 * o + 2] > 0))
                    continue; /* padding */
                double dx = px - ob[3 * o], dy = py - ob[3 * o + 1], d2 = dx * dx + dy * dy;
                if (near < 0 || d2 < near_d2)
                    near = o, near_d2 = d2;
                if (!matched[o] && d2 <= tol2 && (best < 0 || d2 < best_d2))
                    best = o, best_d2 = d2;
            }
            if (best >= 0) {
                matched[best] = true;
                c->tp[detect_class(cfg, ob[3 * best + 2])]++;
            } else {
                c->fp[near >= 0 ? detect_class(cfg, ob[3 * near + 2]) : DET_LARGE]++;
            }
        }
        for (int o = 0; o < k; o++)
            if (ob[3 * o + 2] > 0 && !matched[o])
                c->fn[detect_class(cfg, ob[3 * o + 2])]++;
    }
    free(cand);
    free(seen);
    free(stack);
    free(peaks);
    free(matched);
}

/* tp, fn, fp of one class, or summed over both for cls -1. */
static void detect_sum(const DetectCounts *c, int cls, double *tp, double *fn, double *fp)
{
    *tp = *fn = *fp = 0;
    for (int k = 0; k < 2; k++)
        if (cls < 0 || cls == k) {
            *tp += (double)c->tp[k];
            *fn += (double)c->fn[k];
            *fp += (double)c->fp[k];
        }
}

double detect_recall(const DetectCounts *c, int cls)
{
    double tp, fn, fp;
    detect_sum(c, cls, &tp, &fn, &fp);
    return tp + fn > 0 ? tp / (tp + fn) : NAN;
}

double detect_precision(const DetectCounts *c, int cls)
{
    double tp, fn, fp;
    detect_sum(c, cls, &tp, &fn, &fp);
    return tp + fp > 0 ? tp / (tp + fp) : NAN;
}

double detect_f1(const DetectCounts *c, int cls)
{
    double tp, fn, fp;
    detect_sum(c, cls, &tp, &fn, &fp);
    return 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : NAN;
}
