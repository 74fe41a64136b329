/* diagnose's calibration checks (diag_calib.h). */
#include "ptq/diag_calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qexec/qexec_view.h"
#include "quant/convergence.h"

bool diag_quantized_output(const QModel *q, const Graph *g, int i)
{
    const QLayerInfo *L = qmodel_layer(q, i);
    QParams qp;
    return L->unit >= 0 && qmodel_layer(q, L->unit)->has_act &&
           qmodel_unit_tail(q, L->unit) == i && qmodel_value_qparams(q, g->nodes[i].out, &qp);
}

static Finding *push(Finding **fs, int *n, DiagKind kind, int node, double severity)
{
    *fs = xrealloc(*fs, (size_t)(*n + 1) * sizeof **fs);
    Finding *f = &(*fs)[(*n)++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->node = node;
    f->severity = severity;
    return f;
}

/* The tracks judged: quantized outputs whose pass agrees with the calibration. NULL when
 * one disagrees (the split changed since calibrate). */
static bool *judged_tracks(const Graph *g, QModel *q, const Calibration *cal,
                           const Convergence *cv)
{
    bool *use = xcalloc((size_t)(cv->n_tracks ? cv->n_tracks : 1), sizeof *use);
    for (int k = 0; k < cv->n_tracks; k++) {
        const RangeTrack *t = &cv->t[k];
        if (!t->valid || t->max_sample < 0 || !diag_quantized_output(q, g, t->node))
            continue;
        const ActStats *s = &cal->stats[g->nodes[t->node].out];
        if (s->min != t->min || s->max != t->max) {
            free(use);
            return NULL;
        }
        use[k] = true;
    }
    return use;
}

static void moving_finding(const Convergence *cv, const bool *use,
                           const Dataset *d, const char *split, Finding **fs, int *n)
{
    int worst = -1, moving = 0, judged = 0;
    for (int k = 0; k < cv->n_tracks; k++) {
        judged += use[k];
        if (!use[k] || !range_track_moving(&cv->t[k], CONV_MOVING_TOL))
            continue;
        moving++;
        if (worst < 0 || cv->t[k].moved > cv->t[worst].moved)
            worst = k;
    }
    if (worst < 0)
        return;
    const RangeTrack *t = &cv->t[worst];
    int p = cv->n_points - 1;
    Finding *f = push(fs, n, DIAG_RANGE_MOVING, t->node, t->moved);
    snprintf(f->evidence, sizeof f->evidence,
             "%d of %d quantized ranges still move by more than %.0f%% of their width from "
             "%lld to %lld calibration samples (split %s); this one most, by %.0f%%: [%.4g, "
             "%.4g] then [%.4g, %.4g] ('convergence' shows every range)",
             moving, judged, 100 * CONV_MOVING_TOL, (long long)cv->points[p - 1],
             (long long)cv->n, split, 100 * t->moved, t->lo[p - 1], t->hi[p - 1], t->lo[p],
             t->hi[p]);
    if (dataset_len(d) >= 2 * cv->n)
        snprintf(f->fix, sizeof f->fix, "calibrate n=%lld", (long long)(2 * cv->n));
    else
        snprintf(f->fix, sizeof f->fix, "register more calibration samples (data calib ...), "
                 "then calibrate n=%lld", (long long)(2 * cv->n));
}

/* The lead of sample s over every other sample at track t's outlier end, as a share of
 * the width (0 when s sets no outlier end). */
static double sample_lead(const RangeTrack *t, int64_t s, bool *is_max)
{
    double lead = range_track_lead(t, CONV_OUTLIER_GAP, is_max);
    return (*is_max ? t->max_sample : t->min_sample) == s ? lead : 0.0;
}

static void outlier_findings(const Convergence *cv, const bool *use,
                             const Plan *pq, const char *split, Finding **fs, int *n)
{
    int64_t done[DIAG_CALIB_MAX_OUTLIERS];
    int n_done = 0;
    bool minmax = pq->q.observer == OBS_MINMAX || pq->q.observer == OBS_MA_MINMAX;
    while (minmax && n_done < DIAG_CALIB_MAX_OUTLIERS) {
        /* the sample with the largest lead over the others not reported yet */
        int64_t best = -1;
        int best_k = -1;
        double best_lead = 0;
        for (int k = 0; k < cv->n_tracks; k++) {
            const RangeTrack *t = &cv->t[k];
            int64_t cand[2] = { t->max_sample, t->min_sample };
            for (int e = 0; e < 2 && use[k]; e++) {
                bool seen = false, is_max;
                for (int j = 0; j < n_done; j++)
                    seen |= done[j] == cand[e];
                double lead = seen ? 0 : sample_lead(t, cand[e], &is_max);
                if (lead > best_lead) {
                    best = cand[e];
                    best_k = k;
                    best_lead = lead;
                }
            }
        }
        if (best < 0)
            return;
        done[n_done++] = best;
        int others = 0;
        bool is_max;
        for (int k = 0; k < cv->n_tracks; k++)
            others += k != best_k && use[k] && sample_lead(&cv->t[k], best, &is_max) > 0;
        const RangeTrack *t = &cv->t[best_k];
        sample_lead(t, best, &is_max);
        Finding *f = push(fs, n, DIAG_OUTLIER_SAMPLE, t->node, best_lead);
        snprintf(f->evidence, sizeof f->evidence,
                 "sample #%lld of split %s alone sets the %s of its range, %.4g, where every "
                 "other sample stays %s %.4g: %.0f%% of the range [%.4g, %.4g] serves that "
                 "one sample; it sets an end of %d other quantized range%s alone",
                 (long long)best, split, is_max ? "max" : "min", is_max ? t->max : t->min,
                 is_max ? "below" : "above", is_max ? t->max_next : t->min_next,
                 100 * best_lead, t->min, t->max, others, others == 1 ? "" : "s");
        snprintf(f->fix, sizeof f->fix, "quant observer=percentile (or mse), or look at "
                 "sample #%lld of %s", (long long)best, split);
    }
}

QsStatus diag_calib_run(const Graph *g, QModel *q, const Plan *pq, const Calibration *cal,
                        const Dataset *d, const char *split, int batch, const JobCtx *job,
                        Finding **out, int *n_out, QsError *err)
{
    *out = NULL;
    *n_out = 0;
    if (!d || cal->samples < 1 || dataset_len(d) < cal->samples)
        return QS_OK; /* the calibration's samples are not there any more */
    ObserverOpts oo = { .pct = pq->q.pct, .bits = pq->q.bits,
                        .symmetric = pq->q.act_symmetric };
    Convergence cv;
    if (convergence_run(g, d, cal->samples, batch, (ObserverKind)pq->q.observer, &oo,
                        cal->ma_momentum, job, &cv, err))
        return err->code;
    bool *use = judged_tracks(g, q, cal, &cv);
    if (use) {
        moving_finding(&cv, use, d, split, out, n_out);
        outlier_findings(&cv, use, pq, split, out, n_out);
    }
    free(use);
    convergence_release(&cv);
    return QS_OK;
}
