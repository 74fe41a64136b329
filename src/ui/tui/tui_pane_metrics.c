/* Metrics side by side: FP32, FP16, INT8 dynamic and INT8 static (and the saved variants)
 * from the last `compare`, with the current precision highlighted. A precision measured by
 * `eval` under the current calibration and options fills its row even without `compare`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cmds/commands.h"
#include "quant/plan.h"
#include "tui/tui_pane.h"

typedef struct MetricsPane {
    Pane base;
    char shown_current[48]; /* the current row last brought into view */
} MetricsPane;

typedef struct Col {
    const char *title, *name; /* header, compare column */
    int width;
} Col;

static const Col all_cols[] = {
    { "variant", "variant", 18 }, { "metric", "metric", 8 },  { "drop", "drop", 8 },
    { "SQNR", "sqnr", 9 },        { "size", "bytes", 9 },      { "agree", "agreement", 8 },
    { "latency", "latency", 9 },  { "note", "note", 16 },
};
enum { N_COLS = sizeof all_cols / sizeof all_cols[0] };

/* The compare row named `name` when it still holds: a precision's row when measured under
 * what that precision depends on now (its mode key), a variant's under the same model and
 * data. Else -1. */
static int compare_row(const TuiState *st, const char *name, int mode)
{
    if (!st->have_compare)
        return -1;
    if (mode >= 0) {
        char key[TUI_KEY_LEN];
        tui_state_mode_key(&st->snap, mode, key, sizeof key);
        if (mode >= PREC_COUNT || strcmp(st->compare_mode_key[mode], key) != 0)
            return -1;
    } else if (strcmp(st->compare_mode_key[PREC_FP32], st->snap.fp32_key) != 0) {
        return -1;
    }
    const RTable *t = result_find_table(&st->compare, "variants");
    int cv = rtable_col(t, "variant");
    for (int row = 0; t && row < t->n_rows; row++) {
        const RValue *v = rtable_cell(t, row, cv);
        if (v && v->type == RV_STR && strcmp(v->s, name) == 0)
            return row;
    }
    return -1;
}

typedef struct Row {
    char name[48];
    int mode;            /* PrecKind, or -1 for a variant / the pinned plan */
    int crow;            /* compare row or -1 */
    bool have_metric;
    double metric;
    RvStyle style;
    bool pending, current;
} Row;

static int build_rows(const TuiState *st, Row *rows, int cap)
{
    const TuiSnap *sn = &st->snap;
    bool pinned = tui_state_pinned(sn);
    bool cmp_pending = st->pending_compare[0] && strcmp(st->pending_compare, sn->base_key) == 0;
    int n = 0;
    for (int k = 0; k < PREC_COUNT && n < cap; k++) {
        Row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", precision_table[k].name);
        r->mode = k;
        r->crow = compare_row(st, r->name, k);
        char key[TUI_KEY_LEN];
        tui_state_mode_key(sn, k, key, sizeof key);
        const char *mname;
        r->have_metric = tui_state_metric(st, key, &r->metric, &r->style, &mname);
        r->pending = !r->have_metric &&
                     (cmp_pending || (st->pending_eval[0] && !strcmp(st->pending_eval, key)));
        r->current = !pinned && k == sn->mode;
    }
    if (st->have_compare && !strcmp(st->compare_mode_key[PREC_FP32], sn->fp32_key)) {
        const RTable *t = result_find_table(&st->compare, "variants");
        int cv = rtable_col(t, "variant"), cm = rtable_col(t, "metric");
        for (int row = 0; t && row < t->n_rows && n < cap; row++) {
            const RValue *v = rtable_cell(t, row, cv);
            if (!v || v->type != RV_STR || precision_find(v->s) >= 0)
                continue;
            Row *r = &rows[n++];
            memset(r, 0, sizeof *r);
            snprintf(r->name, sizeof r->name, "%s", v->s);
            r->mode = -1;
            r->crow = row;
            const RValue *m = rtable_cell(t, row, cm);
            r->have_metric = m && m->type == RV_FLOAT;
            r->metric = r->have_metric ? m->f : 0;
            r->style = r->have_metric ? m->style : RS_PLAIN;
        }
    }
    if (pinned && n < cap) { /* the current mixed plan, measured by eval */
        Row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", sn->plan_label);
        r->mode = -1;
        r->crow = -1;
        const char *mname;
        r->have_metric = tui_state_metric(st, sn->key, &r->metric, &r->style, &mname);
        r->pending = !r->have_metric && st->pending_eval[0] && !strcmp(st->pending_eval, sn->key);
        r->current = true;
    }
    return n;
}

static void draw(Pane *p, const TuiState *st, TuiScreen *s, TuiRect r, bool focused)
{
    p->rect = r;
    const TuiSnap *sn = &st->snap;
    char right[96] = "";
    if (st->have_compare && !strcmp(st->compare_mode_key[PREC_FP32], sn->fp32_key)) {
        const RValue *split = result_get(&st->compare, "split"), *n = result_get(&st->compare, "n");
        snprintf(right, sizeof right, "compare %s n=%lld",
                 split && split->type == RV_STR ? split->s : "", n ? (long long)n->i : 0LL);
    } else if (st->pending_compare[0] && !strcmp(st->pending_compare, sn->base_key)) {
        snprintf(right, sizeof right, "compare…");
    } else if (sn->model) {
        snprintf(right, sizeof right, "m: compare");
    }
    tui_pane_title(s, r, "Metrics", right, focused);
    if (r.h < 3 || !sn->model)
        return;
    /* columns that fit, in order of importance */
    int widths[N_COLS] = { 0 }, used = 1;
    for (int c = 0; c < N_COLS; c++)
        if (used + all_cols[c].width + 1 <= r.w || c < 2) {
            widths[c] = all_cols[c].width;
            used += widths[c] + 1;
        }
    int y = r.y + 1, x = r.x + 1;
    tui_screen_fill(s, (TuiRect){ r.x, y, r.w, 1 }, ' ', TS_HEADER);
    for (int c = 0; c < N_COLS; c++)
        if (widths[c]) {
            tui_screen_put(s, x, y, widths[c], all_cols[c].title, TS_HEADER);
            x += widths[c] + 1;
        }
    Row rows[64];
    int n = build_rows(st, rows, 64);
    char fp32_key[TUI_KEY_LEN];
    tui_state_mode_key(sn, PREC_FP32, fp32_key, sizeof fp32_key);
    double ref;
    RvStyle ref_style;
    const char *mname;
    bool have_ref = tui_state_metric(st, fp32_key, &ref, &ref_style, &mname);
    int visible = r.h - 2;
    MetricsPane *mp = (MetricsPane *)p;
    for (int i = 0; i < n; i++)
        if (rows[i].current && strcmp(mp->shown_current, rows[i].name) != 0) {
            /* the plan changed: show its row (manual scrolling holds until it changes) */
            snprintf(mp->shown_current, sizeof mp->shown_current, "%.47s", rows[i].name);
            if (i < p->scroll)
                p->scroll = i;
            if (i >= p->scroll + visible)
                p->scroll = i - visible + 1;
        }
    if (p->scroll > n - visible)
        p->scroll = n - visible;
    if (p->scroll < 0)
        p->scroll = 0;
    const RTable *t = result_find_table(&st->compare, "variants");
    for (int i = 0; i < visible && p->scroll + i < n; i++) {
        const Row *row = &rows[p->scroll + i];
        y = r.y + 2 + i;
        TuiStyle base = row->current ? TS_CURRENT : TS_NORMAL;
        if (row->current)
            tui_screen_fill(s, (TuiRect){ r.x, y, r.w, 1 }, ' ', TS_CURRENT);
        x = r.x + 1;
        for (int c = 0; c < N_COLS; c++) {
            if (!widths[c])
                continue;
            char buf[64] = "";
            TuiStyle st_cell = base;
            if (c == 0) {
                snprintf(buf, sizeof buf, "%s%s", row->current ? "> " : "  ", row->name);
            } else if (c == 1 || c == 2) {
                if (row->have_metric) {
                    RValue v = { .type = RV_FLOAT, .style = row->style,
                                 .f = c == 1 ? row->metric : ref - row->metric };
                    if (c == 2 && !have_ref)
                        snprintf(buf, sizeof buf, "-");
                    else
                        tui_pane_fmt_value(&v, buf, sizeof buf);
                    if (c == 2 && have_ref && !row->current) {
                        /* mse: lower is better, so the sign of a drop flips */
                        double d = strcmp(mname, "mse") == 0 ? row->metric - ref
                                                             : ref - row->metric;
                        st_cell = d > 0.01 ? TS_BAD : d > 0.002 ? TS_WARN : TS_GOOD;
                    }
                } else if (row->pending) {
                    snprintf(buf, sizeof buf, "…");
                    st_cell = row->current ? base : TS_PENDING;
                } else {
                    snprintf(buf, sizeof buf, "-");
                    st_cell = row->current ? base : TS_DIM;
                }
            } else if (row->crow >= 0) {
                const RValue *v = rtable_cell(t, row->crow, rtable_col(t, all_cols[c].name));
                if (v && v->type != RV_NULL)
                    tui_pane_fmt_value(v, buf, sizeof buf);
            }
            tui_screen_put(s, x, y, widths[c], buf, st_cell);
            x += widths[c] + 1;
        }
    }
}

static unsigned on_key(Pane *p, TuiState *st, int key, char *cmd, size_t cap)
{
    (void)p;
    (void)st;
    (void)key;
    (void)cmd;
    (void)cap;
    return 0;
}

static void on_result(Pane *p, TuiState *st, const TuiEvent *ev)
{
    (void)st;
    const CmdDef *def = ev->kind == TUI_EV_RESULT && ev->r ? cmd_find(ev->r->cmd) : NULL;
    if (def && def->wb.feeds == CMD_FEEDS_COMPARE)
        p->scroll = 0;
}

static void destroy(Pane *p)
{
    free(p);
}

static const PaneClass metrics_class = {
    .name = "metrics", .draw = draw, .on_key = on_key, .on_result = on_result, .destroy = destroy,
};

Pane *tui_pane_metrics_new(void)
{
    MetricsPane *m = xcalloc(1, sizeof *m);
    m->base.cls = &metrics_class;
    return &m->base;
}
