/* The HTML report's per-layer figures of `hist`: each layer's activation histogram with
 * its clipping range, and its weights' per-channel ranges. The numbers in the captions
 * are the `hist` command's result; the histogram's columns are the calibration histogram
 * resampled as `hist` resamples it (histogram_mass over qview_act's axis). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/report.h"
#include "html/html_page.h"
#include "html/svg_charts.h"
#include "quant/observer.h"
#include "session/qview.h"
#include "text/args.h"
#include "text/render.h"

enum { HIST_COLUMNS = 64 }; /* the columns of a histogram figure (hist's default width) */

/* The layers a section walks: every row of `layers` but those fused into their unit (whose
 * figures are their unit's), optionally only those with parameters. */
typedef struct LayerWalk {
    const RTable *t;
    int name, kernel, params;
} LayerWalk;

static bool walk_init(LayerWalk *w, const Result *layers)
{
    w->t = layers ? result_find_table(layers, "layers") : NULL;
    w->name = rtable_col(w->t, "name");
    w->kernel = rtable_col(w->t, "kernel");
    w->params = rtable_col(w->t, "params");
    return w->t && w->name >= 0;
}

/* Row r's layer name, or NULL when the walk skips it. */
static const char *walk_layer(const LayerWalk *w, int r, bool need_params)
{
    const char *kernel = rvalue_str(rtable_cell(w->t, r, w->kernel));
    if (kernel && strcmp(kernel, "fused") == 0)
        return NULL;
    if (need_params && !(rvalue_num(rtable_cell(w->t, r, w->params)) > 0))
        return NULL;
    return rvalue_str(rtable_cell(w->t, r, w->name));
}

/* "hist NAME WHAT[ top=N]" with the name quoted as the lexer needs. */
static char *hist_cmd(const char *name, const char *what, int64_t top)
{
    StrBuf c = { 0 };
    strbuf_printf(&c, "hist ");
    args_quote(&c, name);
    strbuf_printf(&c, " %s", what);
    if (top > 0)
        strbuf_printf(&c, " top=%lld", (long long)top);
    return strbuf_take(&c);
}

/* Names already shown (two layers may show one value, or one unit's weights). */
typedef struct Seen {
    char **s;
    int n;
} Seen;

static bool seen_add(Seen *seen, const char *s)
{
    for (int i = 0; i < seen->n; i++)
        if (strcmp(seen->s[i], s) == 0)
            return false;
    seen->s = xrealloc(seen->s, (size_t)(seen->n + 1) * sizeof *seen->s);
    seen->s[seen->n++] = xstrdup(s);
    return true;
}

static void seen_release(Seen *seen)
{
    for (int i = 0; i < seen->n; i++)
        free(seen->s[i]);
    free(seen->s);
}

/* One histogram figure: the columns from the session's calibration, the caption from the
 * `hist` result. */
static void act_figure(StrBuf *b, App *app, const char *name, const Result *r,
                       const char *cmd)
{
    Session *s = &app->session;
    QViewAct v;
    QsError e = { 0 };
    int node = graph_find_node(&s->model->graph, name);
    if (node < 0 || qview_act(s, node, &v, &e))
        return; /* hist ran, so this cannot fail */
    double mass[HIST_COLUMNS], cw = (v.xhi - v.xlo) / HIST_COLUMNS;
    for (int i = 0; i < HIST_COLUMNS; i++)
        mass[i] = histogram_mass(&v.st->hist, v.xlo + i * cw, v.xlo + (i + 1) * cw);
    char lo[32], hi[32], min[32], max[32], scale[32], zp[32], clipped[32];
    render_value(result_get(r, "clip_lo"), lo, sizeof lo);
    render_value(result_get(r, "clip_hi"), hi, sizeof hi);
    render_value(result_get(r, "min"), min, sizeof min);
    render_value(result_get(r, "max"), max, sizeof max);
    render_value(result_get(r, "scale"), scale, sizeof scale);
    render_value(result_get(r, "zero_point"), zp, sizeof zp);
    render_value(result_get(r, "clipped"), clipped, sizeof clipped);
    const char *value = rvalue_str(result_get(r, "value"));
    StrBuf label = { 0 };
    strbuf_printf(&label, "%s: histogram of %s", name, value ? value : name);
    strbuf_printf(b, "<figure class=\"small\">\n");
    svg_histogram(b, label.s, mass, HIST_COLUMNS, v.xlo, v.xhi, v.lo, v.hi);
    html_elemf(b, "figcaption", NULL, "%s (output %s): seen [%s, %s], clipping range [%s, %s] "
               "(shaded), scale %s, zero point %s, clipped %s; log scale", name,
               value ? value : name, min, max, lo, hi, scale, zp, clipped);
    html_from(b, cmd);
    strbuf_printf(b, "</figure>\n");
    strbuf_release(&label);
}

/* What one section shows: the figures of `hist LAYER WHAT` for the walked layers. */
typedef void (*FigureFn)(StrBuf *b, App *app, const char *name, const Result *r,
                         const char *cmd);
typedef struct HistKind {
    const char *title; /* the section's subject, for its one line when nothing shows */
    const char *what;  /* hist's second argument */
    bool need_params;  /* only layers with parameters */
    bool every_row;    /* rerun with top=N when the result lists only the widest rows */
    const char *dedupe; /* the result field naming what is drawn: drawn once */
    FigureFn figure;
} HistKind;

/* Runs the hist command of every walked layer and draws the ones that ran, once per
 * `dedupe` field value; a layer that could not be shown is one line, and a section where
 * none could is one line. */
static QsStatus hist_section(App *app, StrBuf *b, const HistKind *k, const Result *layers,
                             QsError *err)
{
    LayerWalk w;
    if (!walk_init(&w, layers)) {
        html_missing(b, k->title, "`layers` could not run");
        return QS_OK;
    }
    Seen seen = { 0 };
    StrBuf notes = { 0 };
    int shown = 0, failed = 0;
    QsStatus st = QS_OK;
    Result r;
    result_init(&r, "");
    char why[sizeof err->msg], first_why[sizeof err->msg + 64] = "";
    for (int row = 0; row < w.t->n_rows && !st; row++) {
        const char *name = walk_layer(&w, row, k->need_params);
        if (!name)
            continue;
        char *cmd = hist_cmd(name, k->what, 0);
        bool ran;
        st = report_run(app, cmd, &r, &ran, why, sizeof why, err);
        if (!st && ran && k->every_row) {
            /* every channel in the figure: by default only the widest are listed */
            const char *listed = rvalue_str(result_get(&r, "listed"));
            double channels = rvalue_num(result_get(&r, "channels"));
            if (listed && strcmp(listed, "all") != 0 && channels > 0 &&
                channels <= (double)(1L << 30) /* hist's largest top= */) {
                free(cmd);
                cmd = hist_cmd(name, k->what, (int64_t)channels);
                st = report_run(app, cmd, &r, &ran, why, sizeof why, err);
            }
        }
        if (!st && !ran) {
            if (!failed++)
                snprintf(first_why, sizeof first_why, "`%s` could not run: %s", cmd, why);
            StrBuf line = { 0 };
            strbuf_printf(&line, "`%s` could not run", cmd);
            html_missing(&notes, line.s, why);
            strbuf_release(&line);
        } else if (!st) {
            const char *key = rvalue_str(result_get(&r, k->dedupe));
            if (seen_add(&seen, key ? key : name)) {
                k->figure(b, app, name, &r, cmd);
                shown++;
            }
        }
        free(cmd);
    }
    if (!st && !shown)
        html_missing(b, k->title, failed ? first_why : "no layer to show");
    else if (!st && notes.len)
        strbuf_append(b, notes.s, notes.len);
    result_release(&r);
    strbuf_release(&notes);
    seen_release(&seen);
    return st;
}

QsStatus report_act_section(App *app, StrBuf *b, const Result *layers, QsError *err)
{
    html_section_begin(b, "activations", "Activation histograms and clipping ranges");
    static const HistKind act = { .title = "Activation histograms", .what = "act",
                                  .dedupe = "value", .figure = act_figure };
    QsStatus st = hist_section(app, b, &act, layers, err);
    html_section_end(b);
    return st;
}

/* One per-channel range figure from a `hist LAYER weights` result listing every channel. */
static void weight_fig(StrBuf *b, App *app, const char *name, const Result *r, const char *cmd)
{
    (void)app;
    const RTable *t = result_find_table(r, "by_channel");
    int cc = rtable_col(t, "channel"), cl = rtable_col(t, "min"), ch = rtable_col(t, "max");
    if (!t || cc < 0 || t->n_rows < 1)
        return;
    int n = t->n_rows;
    double *lo = xcalloc((size_t)n, sizeof *lo), *hi = xcalloc((size_t)n, sizeof *hi);
    for (int i = 0; i < n; i++) {
        double c = rvalue_num(rtable_cell(t, i, cc));
        int k = c >= 0 && c < n ? (int)c : i; /* listed in channel order when all are */
        lo[k] = rvalue_num(rtable_cell(t, i, cl));
        hi[k] = rvalue_num(rtable_cell(t, i, ch));
    }
    double wc = rvalue_num(result_get(r, "widest_channel"));
    int widest = wc >= 0 && wc < n ? (int)wc : -1;
    char unit[256], widest_s[300], levels_lo[32], levels_hi[32], grid[32], zero[32], wgran[32];
    const char *u = rvalue_str(result_get(r, "unit"));
    snprintf(unit, sizeof unit, "%s", u ? u : name);
    const char *ws = rvalue_str(result_get(r, "widest"));
    snprintf(widest_s, sizeof widest_s, "%s", ws ? ws : "-");
    render_value(result_get(r, "levels_min"), levels_lo, sizeof levels_lo);
    render_value(result_get(r, "levels_max"), levels_hi, sizeof levels_hi);
    render_value(result_get(r, "grid_levels"), grid, sizeof grid);
    render_value(result_get(r, "zero_share"), zero, sizeof zero);
    render_value(result_get(r, "wgran"), wgran, sizeof wgran);
    StrBuf label = { 0 };
    strbuf_printf(&label, "%s: weight range of each of %d output channels", name, n);
    strbuf_printf(b, "<figure class=\"small\">\n");
    svg_channel_ranges(b, label.s, lo, hi, n, widest);
    html_elemf(b, "figcaption", NULL, "%s (unit %s, %s scales): %d channels; widest %s; "
               "%s to %s of %s integer levels used; %s of the nonzero weights round to 0",
               name, unit, wgran, n, widest_s, levels_lo, levels_hi, grid, zero);
    html_from(b, cmd);
    strbuf_printf(b, "</figure>\n");
    strbuf_release(&label);
    free(lo);
    free(hi);
}

QsStatus report_weight_section(App *app, StrBuf *b, const Result *layers, QsError *err)
{
    html_section_begin(b, "weights", "Per-channel weight ranges");
    static const HistKind weights = { .title = "Weight ranges", .what = "weights",
                                      .need_params = true, .every_row = true,
                                      .dedupe = "unit", .figure = weight_fig };
    QsStatus st = hist_section(app, b, &weights, layers, err);
    html_section_end(b);
    return st;
}
