/* Detection metrics for heat-map detectors: peaks of the predicted heat map are matched
 * to ground-truth object centres within a distance tolerance, and recall and precision
 * are counted separately for small and large objects. Rules (docs/quantization.md,
 * "Detection metrics"):
 *  - A peak is a heat-map cell whose logit exceeds `logit_thresh` and is >= its 8
 *    neighbours (on a plateau only the first cell in raster order counts).
 *  - Cell (i, j) maps to input pixel ((j + 0.5) * stride, (i + 0.5) * stride).
 *  - Peaks are matched greedily, strongest first, to the nearest unmatched object whose
 *    centre lies within `tol_px` input pixels; a match is a true positive of the
 *    object's size class, an unmatched object a false negative of its class, an
 *    unmatched peak a false positive of the class of the nearest object in its image
 *    (large when the image has none).
 *  - An object is small when its diameter < small_px. */
#ifndef QS_METRICS_DETECT_H
#define QS_METRICS_DETECT_H

#include <stdint.h>

typedef struct DetectCfg {
    int out_h, out_w;       /* heat-map size per sample (output (N, 1, out_h, out_w)) */
    double stride;          /* input pixels per heat-map cell */
    double tol_px;          /* match radius in input pixels */
    float logit_thresh;     /* peak threshold on the logit */
    double small_px;        /* diameter below which an object is small */
} DetectCfg;

enum { DET_SMALL = 0, DET_LARGE = 1 };

typedef struct DetectCounts {
    int64_t tp[2], fn[2], fp[2];  /* [DET_SMALL], [DET_LARGE] */
} DetectCounts;

/* Defaults: stride 1 for a heat map the size of the input, tol 3 px, threshold 0 (p=0.5),
 * small below 15 px. */
DetectCfg detect_cfg_default(int out_h, int out_w, int in_w);
/* heat (n, out_h * out_w) logits; objects (n, k, 3) as dataset.h describes. */
void detect_counts_add(DetectCounts *c, const DetectCfg *cfg, const float *heat, int64_t n,
                       const float *objects, int k);
/* cls DET_SMALL, DET_LARGE or -1 for all; NaN when the denominator is 0. */
double detect_recall(const DetectCounts *c, int cls);
double detect_precision(const DetectCounts *c, int cls);
double detect_f1(const DetectCounts *c, int cls);

#endif
