/* Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
 * Equalization and Bias Correction", section 4.1): a float-model rewrite that moves range
 * between consecutive layers so their per-channel weight ranges become equal, which is what
 * per-tensor weight quantization needs.
 *
 * A pair is a Conv or Dense A, optionally followed by a BatchNormalization, then a Relu,
 * LeakyRelu or Clip(min = 0), then a Conv or Dense B, each the only reader of the value
 * before it (and none of those values a graph output), with f32 constant weights read by
 * that node alone. For output channel i of A (BN-folded weights, as quantization sees
 * them) with range r1_i = max |w| and input channel i of B (its own BN folded too) with
 * range r2_i,
 *     s_i = sqrt(r1_i / r2_i):  A's channel i / s_i  (the BN's scale and bias when A has a
 *                               BN, else A's weights and bias),  B's input channel i * s_i,
 * after which both ranges are sqrt(r1_i r2_i). Any group count works on either side (a
 * depthwise A scales its channel; a grouped B scales the weights that read channel i).
 *
 * Relu and LeakyRelu are positively homogeneous: f(z / s) s = f(z), exact for any s > 0.
 * A Clip(0, c) (ReLU6: c = 6) is not: c-clip(z / s) s = min(max(z, 0), c s). With M_i the
 * channel's largest pre-activation on the calibration data (one float pass, a tap on the
 * activation's input), a channel is scaled only when every calibrated value stays
 * unclipped before and after:   M_i <= c   and   M_i <= c s_i.
 * When the first holds and s_i is too small, s_i is raised to M_i / c (the channel is
 * "limited"); when M_i > c the channel is "left" alone. The function is then unchanged on
 * every calibration sample (and on any input that keeps the channel at or below M_i), not
 * for every possible input: docs/plans.md, "Fixing without training". */
#ifndef QS_CLE_H
#define QS_CLE_H

#include <stdint.h>

#include "data/dataset.h"
#include "base/error.h"
#include "base/job.h"
#include "graph/model.h"
#include "base/tensor.h"

/* The verification threshold: max |y_after - y_before| / max |y_before| over the graph
 * outputs on the data. */
#define CLE_TOLERANCE 1e-4

typedef struct ClePair {
    int first, second;         /* node indices (valid after the run: the graph keeps them) */
    int bn;                    /* the BatchNorm after `first`, -1 */
    int act;                   /* the activation node */
    double clip;               /* the activation's upper clip c (+Inf: none) */
    int64_t channels;
    int equalized;             /* channels scaled to r1 = r2 */
    int limited;               /* Clip channels scaled only as far as M_i <= c s_i allows */
    int left;                  /* Clip channels whose calibrated maximum exceeds c */
    int zero;                  /* channels with a zero range on either side: left alone */
    /* per-output-channel weight spread (largest folded channel range max - min over the
     * median one, as `layers` shows it) of each layer, before and after */
    double spread_first[2], spread_second[2];
} ClePair;

typedef struct CleReport {
    int n_pairs;
    ClePair *pairs;            /* [n_pairs], caller frees with free() */
    int sweeps;                /* sweeps over the pairs until no channel moved */
    double max_rel_diff;       /* the verification's figure (<= CLE_TOLERANCE) */
    int64_t samples;
} CleReport;

/* Equalizes every pair of m in place, in sweeps over the pairs in topological order until
 * no scale factor differs from 1 by more than 1e-6 or `iters` sweeps were made. x (N, ...)
 * supplies the calibration samples (the first n; n <= 0: all) used for the per-channel
 * pre-activation maxima of Clip pairs and for the verification: the float outputs before
 * and after must agree within CLE_TOLERANCE, otherwise every weight is restored and
 * QS_EINVAL is returned. A model without a pair is left as it was (n_pairs 0, QS_OK).
 * rep->pairs is allocated here. The caller drops whatever was derived from the old weights
 * (session_model_changed). */
QsStatus cle_run(Model *m, const Dataset *d, int64_t n, int batch, int iters, double headroom,
                 const JobCtx *job, CleReport *rep, QsError *err);

#endif
