/* convergence: every layer's activation range against the number of calibration samples,
 * the samples that set each end, and what that suggests (quant/convergence.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "cmds/decide.h"
#include "ops/op.h"
#include "quant/convergence.h"

/* The split and sample count by default: the calibration's, when it came from a split
 * (a variant's own calibration names none). */
static QsStatus conv_split(const Session *s, const CmdArgs *a, int *split, int64_t *n,
                           QsError *err)
{
    bool from_split = s->q.calibrated && split_find(s->q.calib_split) >= 0;
    const char *def = from_split ? s->q.calib_split : split_name(SPLIT_CALIB);
    const char *name = arg_str(a, "split", def);
    *split = split_find(name);
    if (*split < 0 || !decide_split_usable(s, *split, false))
        return qs_fail(err, QS_EINVAL, "convergence: split '%s' is empty or unknown (use "
                       "'data calib X')", name);
    long v;
    bool calib_default = from_split && strcmp(name, s->q.calib_split) == 0;
    if (arg_int_range(a, "n", calib_default ? (long)s->q.calib.samples : 0, 0, 1L << 40, &v,
                      err))
        return err->code;
    *n = v;
    return QS_OK;
}

/* The track whose outlier end leads the other samples most; -1 when none. */
static int conv_outlier(const Convergence *cv, const bool *shown, bool *is_max)
{
    int best = -1;
    double lead = 0;
    for (int k = 0; k < cv->n_tracks; k++) {
        bool m;
        double l = shown[k] ? range_track_lead(&cv->t[k], CONV_OUTLIER_GAP, &m) : 0;
        if (l > lead) {
            lead = l;
            best = k;
            *is_max = m;
        }
    }
    return best;
}

static void conv_tables(const Graph *g, const Convergence *cv, const bool *shown, int obs,
                        double tol, Result *r)
{
    static const char *const cols[] = { "layer", "op", "range", "observed", "min_sample",
                                        "max_sample", "min_next", "max_next", "moved",
                                        "moving", "advice", NULL };
    static const char *const ccols[] = { "layer", "samples", "range", NULL };
    RTable *t = result_table(r, "layers", cols);
    int last = cv->n_points - 1;
    for (int k = 0; k < cv->n_tracks; k++) {
        const RangeTrack *tr = &cv->t[k];
        if (!shown[k])
            continue;
        const Node *nd = &g->nodes[tr->node];
        char advice[256];
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, nd->name);
        rtable_str(t, row, 1, op_table[nd->op]->name);
        rtable_range(t, row, 2, tr->lo[last], tr->hi[last]);
        rtable_range(t, row, 3, tr->min, tr->max);
        rtable_int(t, row, 4, tr->min_sample);
        rtable_int(t, row, 5, tr->max_sample);
        if (isfinite(tr->min_next))
            rtable_float(t, row, 6, tr->min_next, RS_PLAIN);
        if (isfinite(tr->max_next))
            rtable_float(t, row, 7, tr->max_next, RS_PLAIN);
        rtable_float(t, row, 8, tr->moved, RS_PCT);
        rtable_bool(t, row, 9, range_track_moving(tr, tol));
        rtable_str(t, row, 10, range_track_advice(tr, (ObserverKind)obs, cv->n, tol,
                                                  CONV_OUTLIER_GAP, advice, sizeof advice));
    }
    RTable *c = result_table(r, "curve", ccols); /* after: adding a table moves the others */
    for (int k = 0; k < cv->n_tracks; k++) {
        if (!shown[k])
            continue;
        const RangeTrack *tr = &cv->t[k];
        const Node *nd = &g->nodes[tr->node];
        for (int p = 0; p < cv->n_points; p++) {
            int cr = rtable_add_row(c);
            rtable_str(c, cr, 0, nd->name);
            rtable_int(c, cr, 1, cv->points[p]);
            if (!isnan(tr->lo[p]))
                rtable_range(c, cr, 2, tr->lo[p], tr->hi[p]);
        }
    }
}

static void conv_summary(const Graph *g, const Convergence *cv, const bool *shown, int obs,
                         double tol, Result *r)
{
    int n_layers = 0, moving = 0, outliers = 0, worst = -1;
    for (int k = 0; k < cv->n_tracks; k++) {
        const RangeTrack *t = &cv->t[k];
        if (!shown[k])
            continue;
        n_layers++;
        moving += range_track_moving(t, tol);
        outliers += range_track_max_outlier(t, CONV_OUTLIER_GAP) ||
                    range_track_min_outlier(t, CONV_OUTLIER_GAP);
        if (range_track_moving(t, tol) && (worst < 0 || t->moved > cv->t[worst].moved))
            worst = k;
    }
    result_int(r, "n_layers", n_layers);
    result_int(r, "n_moving", moving);
    result_int(r, "n_outliers", outliers);
    result_str(r, "worst", worst >= 0 ? g->nodes[cv->t[worst].node].name : "");
    result_float(r, "worst_moved", worst >= 0 ? cv->t[worst].moved : 0.0, RS_PCT);
    bool is_max = false;
    int o = conv_outlier(cv, shown, &is_max);
    const RangeTrack *ot = o >= 0 ? &cv->t[o] : NULL;
    result_int(r, "outlier_sample", !ot ? -1 : is_max ? ot->max_sample : ot->min_sample);
    result_str(r, "outlier_layer", ot ? g->nodes[ot->node].name : "");
    result_str(r, "outlier_end", !ot ? "" : is_max ? "max" : "min");
    char advice[256];
    if (ot)
        range_track_advice(ot, (ObserverKind)obs, cv->n, tol, CONV_OUTLIER_GAP, advice,
                           sizeof advice);
    else if (worst >= 0)
        snprintf(advice, sizeof advice, "calibrate n=%lld", (long long)(2 * cv->n));
    else
        snprintf(advice, sizeof advice, "converged");
    result_str(r, "advice", advice);
}

QsStatus cmd_convergence(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const Graph *g = &qstate_model(&s->q, s->model)->graph;
    int split = 0;
    int64_t n = 0;
    long batch;
    double tol = CONV_MOVING_TOL;
    const char *tol_s = arg_str(a, "tol", NULL), *layer = arg_str(a, "layer", NULL);
    if (conv_split(s, a, &split, &n, err) ||
        arg_int_range(a, "batch", s->opt.batch, 1, 1 << 20, &batch, err))
        return err->code;
    if (tol_s && (!parse_number_pct(tol_s, &tol) || !(tol >= 0 && tol < INFINITY)))
        return qs_fail(err, QS_EINVAL, "tol=%s: give a fraction of the range's width, e.g. "
                       "0.05 or 5%%", tol_s);
    int only = layer ? graph_find_node(g, layer) : -1;
    if (layer && only < 0)
        return qs_fail(err, QS_ENOTFOUND, "convergence: no layer '%s'", layer);
    const Plan *p = &s->q.plan;
    ObserverOpts oo = { .pct = p->q.pct, .bits = p->q.bits, .symmetric = p->q.act_symmetric };
    Convergence cv;
    if (convergence_run(g, &s->splits[split], n, (int)batch, (ObserverKind)p->q.observer, &oo,
                        s->q.calibrated ? s->q.calib.ma_momentum : 0.01, &app->job, &cv, err))
        return err->code;
    bool *shown = xcalloc((size_t)(cv.n_tracks ? cv.n_tracks : 1), sizeof *shown);
    for (int k = 0; k < cv.n_tracks; k++)
        shown[k] = cv.t[k].valid && cv.t[k].max_sample >= 0 &&
                   (only < 0 || cv.t[k].node == only);
    result_str(r, "split", split_name((SplitId)split));
    result_int(r, "samples", cv.n);
    result_str(r, "observer", observer_table[p->q.observer].name);
    result_float(r, "tol", tol, RS_PCT);
    conv_summary(g, &cv, shown, p->q.observer, tol, r);
    conv_tables(g, &cv, shown, p->q.observer, tol, r);
    free(shown);
    convergence_release(&cv);
    return QS_OK;
}
