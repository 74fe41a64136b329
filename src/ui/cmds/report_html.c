/* The HTML report (`report PATH.html`): the session as one self-contained page for a pull
 * request or a CI run. Every number on it is a command's result, run here quietly as the
 * JSON report runs them, and every table and figure names its command line; what a
 * session cannot show yet (no calibration, no labels) is one line saying why.
 * The page opens with what a reader of an accuracy drop asks first: FP32 against the
 * plan, the drop, and the layers to look at. docs/report.md describes each section. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmds/report.h"
#include "html/html_page.h"
#include "html/html_table.h"
#include "io/fileio.h"
#include "text/render.h"

/* The commands whose results the page shows, run once, in this order. */
enum { RUN_INFO, RUN_DATA, RUN_MODE, RUN_LAYERS, RUN_COMPARE, RUN_PICK, RUN_LOCAL, RUN_ACCUM,
       RUN_SENS, RUN_COUNT };

typedef struct Ran {
    const char *cmd;
    Result r;
    bool ok;
    char why[sizeof ((QsError *)0)->msg];
} Ran;

/* The result of `ran`, or NULL when its command failed. */
static const Result *ok_result(const Ran *ran) { return ran->ok ? &ran->r : NULL; }

/* "CMD could not run: WHY" as the page's one line for missing data. */
static void missing(StrBuf *b, const char *what, const Ran *ran)
{
    char why[sizeof ran->why + 64];
    snprintf(why, sizeof why, "`%s` could not run: %s", ran->cmd, ran->why);
    html_missing(b, what, why);
}

/* The row of compare's table whose `current` column is true, or -1. */
static int current_row(const RTable *t)
{
    int c = rtable_col(t, "current");
    for (int r = 0; t && c >= 0 && r < t->n_rows; r++) {
        const RValue *v = rtable_cell(t, r, c);
        if (v && v->type == RV_BOOL && v->i)
            return r;
    }
    return -1;
}

/* FP32's metric against the plan's and the drop, from compare's table. */
static void headline_metric(StrBuf *b, const Ran *cmp)
{
    const RTable *t = ok_result(cmp) ? result_find_table(&cmp->r, "variants") : NULL;
    int fp32 = html_row_with(t, "variant", "fp32"), cur = current_row(t);
    if (!t || fp32 < 0) {
        missing(b, "The metric", cmp);
        return;
    }
    char metric[64], split[64], n[32], f[64], q[64], d[64], name[256];
    render_value(result_get(&cmp->r, "metric"), metric, sizeof metric);
    render_value(result_get(&cmp->r, "split"), split, sizeof split);
    render_value(result_get(&cmp->r, "n"), n, sizeof n);
    render_value(rtable_cell(t, fp32, rtable_col(t, "metric")), f, sizeof f);
    if (cur < 0 || cur == fp32) {
        html_elemf(b, "p", "headline", "%s on %s (%s samples): FP32 %s. The plan is FP32: "
                   "nothing is quantized.", metric, split, n, f);
        return;
    }
    render_value(rtable_cell(t, cur, rtable_col(t, "variant")), name, sizeof name);
    render_value(rtable_cell(t, cur, rtable_col(t, "metric")), q, sizeof q);
    render_value(rtable_cell(t, cur, rtable_col(t, "drop")), d, sizeof d);
    html_elemf(b, "p", "headline", "%s on %s (%s samples): FP32 %s, %s %s: a drop of %s.",
               metric, split, n, f, name, q, d);
}

enum { WORST_LISTED = 3 };

/* <li>TEXT (from <code>CMD</code>)</li> */
static void li_from(StrBuf *b, const char *text, const char *cmd)
{
    strbuf_printf(b, "<li>");
    html_escape(b, text);
    strbuf_printf(b, " (from <code>");
    html_escape(b, cmd);
    strbuf_printf(b, "</code>)</li>\n");
}

/* The first of the layers to look at: sensitivity's top ranks. */
static void worst_by_sensitivity(StrBuf *b, const Ran *sens)
{
    const RTable *t = ok_result(sens) ? result_find_table(&sens->r, "layers") : NULL;
    if (!t) {
        strbuf_printf(b, "<li>");
        missing(b, "Sensitivity", sens);
        strbuf_printf(b, "</li>\n");
        return;
    }
    int cd = rtable_col(t, "only_drop"), cl = rtable_col(t, "layer");
    StrBuf line = { 0 };
    if (!(rvalue_num(rtable_cell(t, 0, cd)) > 0)) { /* ranked first, and harmless */
        char split[64];
        render_value(result_get(&sens->r, "decided_on"), split, sizeof split);
        strbuf_printf(&line, "Quantized alone, no layer lowers the metric on %s", split);
    } else {
        strbuf_printf(&line, "Most sensitive, each quantized alone: ");
        for (int r = 0; r < t->n_rows && r < WORST_LISTED; r++) {
            char d[64];
            render_value(rtable_cell(t, r, cd), d, sizeof d);
            const char *name = rvalue_str(rtable_cell(t, r, cl));
            strbuf_printf(&line, "%s%s (drop %s)", r ? ", " : "", name ? name : "?", d);
        }
    }
    li_from(b, line.s, sens->cmd);
    strbuf_release(&line);
}

/* The row of the lowest finite SQNR among those not in taken[0, n_taken), or -1. */
static int lowest_sqnr(const RTable *e, int cs, const int *taken, int n_taken)
{
    int lo = -1;
    for (int r = 0; r < e->n_rows; r++) {
        bool skip = false;
        for (int k = 0; k < n_taken; k++)
            skip |= taken[k] == r;
        double q = rvalue_num(rtable_cell(e, r, cs));
        if (!skip && isfinite(q) && (lo < 0 || q < rvalue_num(rtable_cell(e, lo, cs))))
            lo = r;
    }
    return lo;
}

/* The second: the lowest SQNR of a layer's own (local error). */
static void worst_by_local_error(StrBuf *b, const Ran *local)
{
    const RTable *e = ok_result(local) ? result_find_table(&local->r, "layers") : NULL;
    if (!e) {
        strbuf_printf(b, "<li>");
        missing(b, "Local error", local);
        strbuf_printf(b, "</li>\n");
        return;
    }
    int cs = rtable_col(e, "sqnr"), cn = rtable_col(e, "name");
    int low[WORST_LISTED], n_low = 0;
    StrBuf line = { 0 };
    strbuf_printf(&line, "Lowest SQNR of their own (each fed the float input): ");
    for (; n_low < WORST_LISTED; n_low++) {
        int lo = lowest_sqnr(e, cs, low, n_low);
        if (lo < 0) /* the rest are exact: no error of their own */
            break;
        low[n_low] = lo;
        char q[64];
        render_value(rtable_cell(e, lo, cs), q, sizeof q);
        const char *name = rvalue_str(rtable_cell(e, lo, cn));
        strbuf_printf(&line, "%s%s (%s)", n_low ? ", " : "", name ? name : "?", q);
    }
    if (!n_low)
        strbuf_printf(&line, "none: every layer is exact");
    li_from(b, line.s, local->cmd);
    strbuf_release(&line);
}

/* A command's fields and tables (row `mark` of its first table highlighted) captioned with
 * its command line, or the line saying why it could not run. `fold`: tables longer than
 * this many rows go in a <details> (0: never). */
static void show(StrBuf *b, const char *what, const Ran *ran, int mark, int fold)
{
    if (!ran->ok) {
        missing(b, what, ran);
        return;
    }
    html_fields(b, &ran->r);
    for (int t = 0; t < ran->r.n_tables; t++) {
        const RTable *tb = &ran->r.tables[t];
        if (ran->r.n_tables > 1) /* several tables need their names, as in the console */
            html_elem(b, "h3", NULL, tb->name);
        bool folded = fold && tb->n_rows > fold;
        if (folded) {
            char summary[128];
            snprintf(summary, sizeof summary, "%s: %d rows", tb->name, tb->n_rows);
            html_details_begin(b, summary);
        }
        html_rtable(b, tb, t == 0 ? mark : -1);
        if (folded)
            html_details_end(b);
    }
    html_from(b, ran->cmd);
}

enum { FOLD_ROWS = 16 }; /* a longer table is folded away under its summary */

static void write_page(StrBuf *b, App *app, const char *title_cmd, Ran *run)
{
    char title[600];
    snprintf(title, sizeof title, "qscope report: %s",
             app->session.model_path ? app->session.model_path : "model");
    html_page_begin(b, title);
    html_elem(b, "h1", NULL, title);
    strbuf_printf(b, "<p class=\"from\">written by <code>");
    html_escape(b, title_cmd);
    strbuf_printf(b, "</code>; every table and figure names the command that made it "
                     "(docs/report.md)</p>\n");

    html_section_begin(b, "summary", "Summary");
    headline_metric(b, &run[RUN_COMPARE]);
    strbuf_printf(b, "<ul class=\"worst\">\n");
    worst_by_sensitivity(b, &run[RUN_SENS]);
    worst_by_local_error(b, &run[RUN_LOCAL]);
    strbuf_printf(b, "</ul>\n");
    html_section_end(b);

    html_section_begin(b, "model", "Model and data");
    show(b, "The model", &run[RUN_INFO], -1, 0);
    show(b, "The data", &run[RUN_DATA], -1, 0);
    html_section_end(b);

    html_section_begin(b, "plan", "Plan");
    show(b, "The plan", &run[RUN_MODE], -1, 0);
    show(b, "The layers", &run[RUN_LAYERS], -1, FOLD_ROWS);
    html_section_end(b);

    html_section_begin(b, "compare", "Precisions and variants compared");
    const RTable *ct = ok_result(&run[RUN_COMPARE])
                           ? result_find_table(&run[RUN_COMPARE].r, "variants") : NULL;
    show(b, "The comparison", &run[RUN_COMPARE], current_row(ct), 0);
    html_section_end(b);

    html_section_begin(b, "pick", "Pick");
    const RTable *pt = ok_result(&run[RUN_PICK])
                           ? result_find_table(&run[RUN_PICK].r, "variants") : NULL;
    show(b, "The pick", &run[RUN_PICK], html_row_with(pt, "verdict", "winner"), 0);
    html_section_end(b);

    html_section_begin(b, "error", "Per-layer error against FP32");
    report_error_figure(b, ok_result(&run[RUN_LAYERS]), ok_result(&run[RUN_LOCAL]),
                        ok_result(&run[RUN_ACCUM]));
    show(b, "Local error", &run[RUN_LOCAL], -1, 1);
    show(b, "Accumulated error", &run[RUN_ACCUM], -1, 1);
    html_section_end(b);

    html_section_begin(b, "sensitivity", "Sensitivity ranking");
    show(b, "The sensitivity ranking", &run[RUN_SENS], -1, FOLD_ROWS);
    html_section_end(b);
}

QsStatus report_html(App *app, const char *path, const char *title_cmd, const char *pick,
                     QsError *err)
{
    Ran run[RUN_COUNT] = {
        [RUN_INFO] = { .cmd = "info" },       [RUN_DATA] = { .cmd = "data" },
        [RUN_MODE] = { .cmd = "mode" },       [RUN_LAYERS] = { .cmd = "layers" },
        [RUN_COMPARE] = { .cmd = "compare" }, [RUN_PICK] = { .cmd = pick },
        [RUN_LOCAL] = { .cmd = "error local" }, [RUN_ACCUM] = { .cmd = "error accum" },
        [RUN_SENS] = { .cmd = "sensitivity" },
    };
    QsStatus st = QS_OK;
    for (int i = 0; i < RUN_COUNT; i++)
        result_init(&run[i].r, "");
    for (int i = 0; i < RUN_COUNT && !st; i++)
        st = report_run(app, run[i].cmd, &run[i].r, &run[i].ok, run[i].why,
                        sizeof run[i].why, err);
    StrBuf b = { 0 };
    if (!st) {
        write_page(&b, app, title_cmd, run);
        st = report_act_section(app, &b, ok_result(&run[RUN_LAYERS]), err);
    }
    if (!st)
        st = report_weight_section(app, &b, ok_result(&run[RUN_LAYERS]), err);
    if (!st) {
        html_page_end(&b);
        st = fileio_write_atomic(path, b.s, b.len, err);
    }
    strbuf_release(&b);
    for (int i = 0; i < RUN_COUNT; i++)
        result_release(&run[i].r);
    return st;
}
