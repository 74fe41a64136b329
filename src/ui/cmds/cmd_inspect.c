/* error, hist: looking inside a quantized plan, layer by layer (`hist LAYER weights`: the
 * per-channel figures of ptq/wstats.h, as the executor quantizes the weights). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/fmath.h"
#include "cmds/cmd_handlers.h"
#include "ops/op.h"
#include "ptq/qerror.h"
#include "ptq/wstats.h"
#include "session/qview.h"

/* The split inspection commands read: eval when registered, else calib. */
static const Dataset *inspect_split(const Session *s, const CmdArgs *a, const char **name,
                                    QsError *err)
{
    const char *want = arg_str(a, "split", NULL);
    int id = want ? split_find(want) : s->splits[SPLIT_EVAL].n_x ? SPLIT_EVAL : SPLIT_CALIB;
    if (id < 0 || !s->splits[id].n_x) {
        qs_fail(err, QS_EINVAL, "no data to measure on: register a split with 'data eval X' "
                "or 'data calib X'%s%s", want ? ", or check split=" : "", want ? want : "");
        return NULL;
    }
    *name = split_name((SplitId)id);
    return &s->splits[id];
}

QsStatus cmd_error(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const char *mode = a->n_pos ? a->pos[0] : "accum";
    if (strcmp(mode, "accum") != 0 && strcmp(mode, "local") != 0)
        return qs_fail(err, QS_EINVAL, "error: expected accum or local, got '%s'", mode);
    long n;
    if (arg_int_range(a, "n", 256, 1, 1L << 40, &n, err))
        return err->code;
    const char *split;
    const Dataset *d = inspect_split(s, a, &split, err);
    if (!d)
        return err->code;
    QModel *q;
    if (qstate_qmodel(&s->q, s->model, &s->q.plan, NULL, &q, err))
        return err->code;
    const Graph *g = &s->model->graph;
    LayerError *le = xcalloc((size_t)g->n_nodes, sizeof *le);
    QsStatus st = qerror_run(qstate_model(&s->q, s->model), q, d, n, s->opt.batch, strcmp(mode, "local") == 0,
                             &app->job, le, err);
    if (!st) {
        result_str(r, "kind", mode);
        result_str(r, "precision", plan_label(&s->q.plan));
        result_plan_target(r, &s->q.plan);
        result_str(r, "split", split);
        result_int(r, "n", n < dataset_len(d) ? n : dataset_len(d));
        static const char *const cols[] = { "index", "name", "op", "prec", "mse", "sqnr",
                                            "cosine", "max_abs", "rmse_steps", NULL };
        RTable *t = result_table(r, "layers", cols);
        for (int k = 0; k < g->n_nodes; k++) {
            int i = g->order[k];
            const LayerError *e = &le[i];
            if (!e->valid)
                continue;
            int row = rtable_add_row(t);
            rtable_int(t, row, 0, k);
            rtable_str(t, row, 1, g->nodes[i].name);
            rtable_str(t, row, 2, op_table[g->nodes[i].op]->name);
            rtable_str(t, row, 3, precision_table[qmodel_layer(q, i)->prec].name);
            rtable_float(t, row, 4, layer_error_mse(e), RS_PLAIN);
            rtable_float(t, row, 5, layer_error_sqnr_db(e), RS_DB);
            rtable_float(t, row, 6, layer_error_cosine(e), RS_FIXED4);
            rtable_float(t, row, 7, e->max_abs, RS_PLAIN);
            rtable_float(t, row, 8, layer_error_rmse_steps(e), RS_PLAIN);
        }
    }
    free(le);
    return st;
}

/* Draws columns of '#' (log scale) over [xlo, xhi], then an axis line marking the clipping
 * range with [ ], zero with 0, and the quantization grid with ' when its points are farther
 * apart than a column. */
static void draw_hist(Result *r, const Histogram *h, double xlo, double xhi, double clo,
                      double chi, const QParams *qp, int width, int height)
{
    double *col = xcalloc((size_t)width, sizeof *col), top = 0;
    double cw = (xhi - xlo) / width;
    for (int c = 0; c < width; c++) {
        col[c] = fm_log1p(histogram_mass(h, xlo + c * cw, xlo + (c + 1) * cw));
        top = fmax(top, col[c]);
    }
    char *line = xmalloc((size_t)width + 1);
    for (int row = height; row >= 1; row--) {
        for (int c = 0; c < width; c++) {
            double v = top > 0 ? col[c] / top * height : 0;
            line[c] = v >= row ? '#' : v >= row - 0.5 ? ':' : ' ';
        }
        line[width] = '\0';
        result_textf(r, "|%s|", line);
    }
    memset(line, '-', (size_t)width);
    if (qp && qp->scale / cw > 1.0)
        for (int q = qp->qmin; q <= qp->qmax; q++) {
            int c = (int)floor((quant_dq(q, qp) - xlo) / cw);
            if (c >= 0 && c < width)
                line[c] = '\'';
        }
    int z = (int)floor((0.0 - xlo) / cw), a = (int)floor((clo - xlo) / cw),
        b = (int)floor((chi - xlo) / cw);
    if (z >= 0 && z < width)
        line[z] = '0';
    if (a >= 0 && a < width)
        line[a] = '[';
    if (b == width) /* the top of the range sits on the right edge */
        b = width - 1;
    if (b >= 0 && b < width)
        line[b] = ']';
    result_textf(r, "+%s+", line);
    result_textf(r, "%-*.4g%*.4g", width / 2 + 1, xlo, width - width / 2 + 1, xhi);
    free(line);
    free(col);
}

enum { HIST_WIDEST_NAMED = 3 }; /* channels the `widest` line names */

static double channel_range(const WChannelStats *c)
{
    return (double)c->max - (double)c->min;
}

/* The median channel range (the mean of the middle two for an even count), as `layers`
 * computes its spread; by_range is sorted widest first, so the middle is the median. */
static double median_range(const WStats *ws)
{
    return 0.5 * (channel_range(&ws->ch[ws->by_range[(ws->oc - 1) / 2]]) +
                  channel_range(&ws->ch[ws->by_range[ws->oc / 2]]));
}

/* How many times the median range channel c spans (inf when the median is 0). */
static double range_times(const WChannelStats *c, double med)
{
    double r = channel_range(c);
    return med > 0 ? r / med : r > 0 ? INFINITY : 1.0;
}

static void weights_channel_row(RTable *t, const WStats *ws, int c, double med)
{
    const WChannelStats *ch = &ws->ch[c];
    int row = rtable_add_row(t);
    rtable_int(t, row, 0, c);
    rtable_float(t, row, 1, ch->min, RS_PLAIN);
    rtable_float(t, row, 2, ch->max, RS_PLAIN);
    rtable_float(t, row, 3, range_times(ch, med), RS_PLAIN);
    rtable_float(t, row, 4, ch->scale, RS_PLAIN);
    rtable_int(t, row, 5, ch->levels);
    rtable_int(t, row, 6, ch->zeroed);
    rtable_float(t, row, 7, wstats_zero_share(ch), RS_PCT);
}

/* `hist LAYER weights`: the unit's folded weights per output channel under the plan's
 * scale; the table lists every channel when there are at most `top`, else the `top`
 * widest, widest first. */
static QsStatus hist_weights(App *app, int node, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    long top;
    if (arg_int_range(a, "top", 32, 1, 1L << 30, &top, err))
        return err->code;
    const Graph *g = &qstate_model(&s->q, s->model)->graph;
    WStats ws;
    if (wstats_for_plan(g, &s->q.plan, node, &ws, err)) {
        qs_error_prefix(err, "hist weights");
        return err->code;
    }
    const char *prec = precision_table[plan_node_prec(&s->q.plan, ws.node)].name;
    double med = median_range(&ws);
    float wmin = ws.ch[0].min, wmax = ws.ch[0].max;
    int lmin = ws.ch[0].levels, lmax = ws.ch[0].levels;
    for (int64_t c = 1; c < ws.oc; c++) {
        wmin = fminf(wmin, ws.ch[c].min);
        wmax = fmaxf(wmax, ws.ch[c].max);
        lmin = ws.ch[c].levels < lmin ? ws.ch[c].levels : lmin;
        lmax = ws.ch[c].levels > lmax ? ws.ch[c].levels : lmax;
    }
    char widest[256] = "";
    size_t used = 0;
    for (int j = 0; j < HIST_WIDEST_NAMED && j < ws.oc && used < sizeof widest; j++) {
        int c = ws.by_range[j];
        used += (size_t)snprintf(widest + used, sizeof widest - used, "%sch %d (%.1fx%s)",
                                 j ? ", " : "", c, range_times(&ws.ch[c], med),
                                 j ? "" : " the median range");
    }
    result_str(r, "layer", a->pos[0]);
    result_str(r, "unit", g->nodes[ws.node].name);
    result_str(r, "what", "weights");
    result_str(r, "precision", prec);
    result_bool(r, "quantized", ws.integer);
    if (!ws.integer)
        result_str(r, "note", "the plan runs this layer in float: the figures say what its "
                   "integer weights would be at these bits and granularity");
    result_int(r, "bits", ws.bits);
    result_str(r, "wgran", ws.per_tensor ? "tensor" : "channel");
    result_int(r, "channels", ws.oc);
    result_int(r, "per_channel", ws.k);
    result_float(r, "min", wmin, RS_PLAIN);
    result_float(r, "max", wmax, RS_PLAIN);
    result_float(r, "median_range", med, RS_PLAIN);
    result_str(r, "widest", widest);
    result_int(r, "widest_channel", ws.by_range[0]);
    result_float(r, "widest_x", range_times(&ws.ch[ws.by_range[0]], med), RS_PLAIN);
    result_int(r, "grid_levels", ws.max_levels);
    result_int(r, "levels_min", lmin);
    result_int(r, "levels_max", lmax);
    result_int(r, "nonzero", ws.nonzero);
    result_int(r, "zeroed", ws.zeroed);
    result_float(r, "zero_share", ws.nonzero ? (double)ws.zeroed / (double)ws.nonzero : 0.0,
                 RS_PCT);
    bool all = ws.oc <= top;
    result_str(r, "listed", all ? "all" : "widest");
    static const char *const cols[] = { "channel", "min", "max", "x_median", "scale",
                                        "levels", "zeroed", "zero_share", NULL };
    RTable *t = result_table(r, "by_channel", cols);
    for (int64_t j = 0; j < (all ? ws.oc : top); j++)
        weights_channel_row(t, &ws, all ? (int)j : ws.by_range[j], med);
    wstats_release(&ws);
    return QS_OK;
}

QsStatus cmd_hist(App *app, const CmdArgs *a, Result *r, QsError *err)
{
    Session *s = &app->session;
    const Graph *g = &s->model->graph;
    int node = graph_find_node(g, a->pos[0]);
    if (node < 0)
        return qs_fail(err, QS_ENOTFOUND, "hist: no layer named '%s' (see 'layers')", a->pos[0]);
    const char *what = a->n_pos > 1 ? a->pos[1] : "act";
    long width, height;
    if (arg_int_range(a, "width", 64, 16, 400, &width, err) ||
        arg_int_range(a, "height", 10, 3, 100, &height, err))
        return err->code;
    if (strcmp(what, "act") != 0 && strcmp(what, "weights") != 0)
        return qs_fail(err, QS_EINVAL, "hist: expected act or weights, got '%s'", what);
    if (strcmp(what, "weights") == 0)
        return hist_weights(app, node, a, r, err);
    QViewAct v;
    if (qview_act(s, node, &v, err)) {
        qs_error_prefix(err, "hist");
        return err->code;
    }
    const ActStats *st = v.st;
    float lo = v.lo, hi = v.hi;
    result_str(r, "layer", a->pos[0]);
    result_str(r, "value", g->values[g->nodes[v.shown].out].name);
    result_str(r, "what", "act");
    result_str(r, "observer", observer_table[s->q.plan.q.observer].name);
    result_float(r, "min", st->min, RS_PLAIN);
    result_float(r, "max", st->max, RS_PLAIN);
    result_float(r, "clip_lo", lo, RS_PLAIN);
    result_float(r, "clip_hi", hi, RS_PLAIN);
    result_float(r, "scale", v.qp.scale, RS_PLAIN);
    result_int(r, "zero_point", v.qp.zero_point);
    result_float(r, "clipped", act_stats_clipped_fraction(st, lo, hi), RS_PCT);
    result_int(r, "values", st->count);
    draw_hist(r, &st->hist, v.xlo, v.xhi, lo, hi, &v.qp, (int)width, (int)height);
    return QS_OK;
}
