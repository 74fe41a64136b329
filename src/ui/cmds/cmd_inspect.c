/* error, hist: looking inside a quantized plan, layer by layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_handlers.h"
#include "ops/op.h"
#include "ptq/qerror.h"
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

/* Sums the histogram's mass falling in [lo, hi) (bins split proportionally). */
static double hist_mass(const Histogram *h, double lo, double hi)
{
    if (h->range <= 0 || hi <= lo)
        return 0;
    double w = 2.0 * h->range / HIST_BINS, mass = 0;
    int b0 = (int)floor((lo + h->range) / w), b1 = (int)floor((hi + h->range) / w);
    if (b0 < 0)
        b0 = 0;
    if (b1 > HIST_BINS - 1)
        b1 = HIST_BINS - 1;
    for (int b = b0; b <= b1; b++) {
        double blo = -h->range + b * w, bhi = blo + w;
        double ov = fmin(bhi, hi) - fmax(blo, lo);
        if (ov > 0)
            mass += (double)h->bins[b] * ov / w;
    }
    return mass;
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
        col[c] = log1p(hist_mass(h, xlo + c * cw, xlo + (c + 1) * cw));
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
        return qs_fail(err, QS_EUNSUPPORTED, "hist weights: not yet (use 'layers' for the "
                       "weight ranges and spread)");
    if (!s->q.calibrated)
        return qs_fail(err, QS_EINVAL, "hist: no activation statistics yet (run 'calibrate')");
    /* A layer heading a unit is quantized at the unit's output (after its folded BN and
     * fused activation): that is the histogram that matters. */
    int shown = node;
    QModel *q = qview_current(s, NULL, 0);
    if (q && qmodel_layer(q, node)->unit == node)
        shown = qmodel_unit_tail(q, node);
    const ActStats *st = &s->q.calib.stats[g->nodes[shown].out];
    if (st->count == 0 || st->hist.range <= 0)
        return qs_fail(err, QS_EINVAL, "hist: layer '%s' saw no finite values", a->pos[0]);
    QuantOpts qo = s->q.plan.q;
    ObserverOpts oo = { .pct = qo.pct, .bits = qo.bits, .symmetric = qo.act_symmetric };
    float lo, hi;
    if (observer_table[qo.observer].range(st, &oo, &lo, &hi, err))
        return err->code;
    QParams qp = quant_params(lo, hi, qo.bits, qo.act_symmetric);
    /* a fused ReLU/Clip narrows the range the same way the executor's clamp does */
    float al, ah;
    if (shown != node && op_clamp_range(&g->nodes[shown], &al, &ah)) {
        lo = fmaxf(lo, al);
        hi = fminf(hi, ah);
    }
    double xlo = fmin(fmin(st->min, lo), 0.0), xhi = fmax(fmax(st->max, hi), 0.0);
    if (xhi <= xlo)
        xhi = xlo + 1;
    result_str(r, "layer", a->pos[0]);
    result_str(r, "value", g->values[g->nodes[shown].out].name);
    result_str(r, "what", "act");
    result_str(r, "observer", observer_table[qo.observer].name);
    result_float(r, "min", st->min, RS_PLAIN);
    result_float(r, "max", st->max, RS_PLAIN);
    result_float(r, "clip_lo", lo, RS_PLAIN);
    result_float(r, "clip_hi", hi, RS_PLAIN);
    result_float(r, "scale", qp.scale, RS_PLAIN);
    result_int(r, "zero_point", qp.zero_point);
    result_float(r, "clipped", act_stats_clipped_fraction(st, lo, hi), RS_PCT);
    result_int(r, "values", st->count);
    draw_hist(r, &st->hist, xlo, xhi, lo, hi, &qp, (int)width, (int)height);
    return QS_OK;
}
