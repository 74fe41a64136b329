/* The layer list: index, name, op, output shape, precision and a small error bar. The
 * precision comes from the plan snapshot, so it changes the moment a key switches it;
 * op and shape come from the last `layers` result, the error from `error` (its SQNR). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "quant/plan.h"
#include "tui/tui_keys.h"
#include "tui/tui_pane.h"

typedef struct LayersPane {
    Pane base;
} LayersPane;

static const char *short_prec(int k)
{
    return k >= 0 && k < PREC_COUNT ? precision_table[k].short_name : "?";
}

/* The `layers` row for layer k when the last result lists the same layers, else -1. */
static int layers_row(const TuiState *st, int k, const RTable **t)
{
    *t = st->have_layers ? result_find_table(&st->layers, "layers") : NULL;
    if (!*t || k >= (*t)->n_rows)
        return -1;
    const RValue *name = rtable_cell(*t, k, rtable_col(*t, "name"));
    return name && name->type == RV_STR && strcmp(name->s, st->snap.layer[k]) == 0 ? k : -1;
}

/* SQNR of a layer from the `error` result of the current plan: NAN when not there. */
static double layer_sqnr(const RTable *et, const char *name, int *hint)
{
    if (!et)
        return NAN;
    int cn = rtable_col(et, "name"), cs = rtable_col(et, "sqnr");
    for (int i = 0; i < et->n_rows; i++) {
        int row = (*hint + i) % et->n_rows; /* rows come in layer order: start near the last */
        const RValue *v = rtable_cell(et, row, cn);
        if (v && v->type == RV_STR && strcmp(v->s, name) == 0) {
            *hint = row + 1;
            return rvalue_num(rtable_cell(et, row, cs));
        }
    }
    return NAN;
}

typedef struct Cols {
    int idx, name, op, shape, prec, bar, db;
    bool long_prec;
} Cols;

/* Index, name, precision and the error bar always; then, as the width allows, the SQNR
 * figure, the op, the long precision names and the shape; the name gets what is left. */
static Cols plan_columns(int w, int max_name)
{
    Cols c = { .idx = 3, .prec = 5, .bar = 6, .name = 8 };
    int used = c.idx + 1 + c.name + 1 + c.prec + 1 + c.bar;
    if (used + 6 <= w) {
        c.db = 5;
        used += 6;
    }
    if (used + 8 <= w) {
        c.op = 7;
        used += 8;
    }
    if (used + 6 <= w) {
        c.prec = 11;
        c.long_prec = true;
        used += 6;
    }
    if (used + 17 <= w) {
        c.shape = 16;
        used += 17;
    }
    if (c.shape && used + 5 <= w) { /* room to spare: whole op names */
        c.op += 5;
        used += 5;
    }
    int extra = w - used;
    int want = max_name > c.name ? max_name - c.name : 0;
    c.name += extra < want ? extra : want;
    used += extra < want ? extra : want;
    if (w - used >= 1 && c.bar < 10) { /* what is left makes the bar longer */
        int more = w - used < 4 ? w - used : 4;
        c.bar += more;
    }
    return c;
}

static TuiStyle sqnr_style(double db)
{
    return db >= 30 ? TS_GOOD : db >= 20 ? TS_WARN : TS_BAD;
}

static void draw(Pane *p, const TuiState *st, TuiScreen *s, TuiRect r, bool focused)
{
    p->rect = r;
    const TuiSnap *sn = &st->snap;
    const Result *err = sn->model ? tui_state_cache_peek(&st->errors, sn->key) : NULL;
    const RTable *et = err ? result_find_table(err, "layers") : NULL;
    bool float_plan = precision_is_float(sn->mode) && !tui_state_pinned(sn);
    bool pending = !err && st->pending_error[0] && strcmp(st->pending_error, sn->key) == 0;
    char right[96] = "";
    if (sn->model) {
        const RValue *kind = err ? result_get(err, "kind") : NULL;
        snprintf(right, sizeof right, "%d  %s%s%s", sn->n_layers, sn->plan_label,
                 err ? "  error " : pending ? "  error…" : "",
                 kind && kind->type == RV_STR ? kind->s : "");
        if (err && tui_screen_text_width(right) > r.w - 11) /* cut, it would read "error…" */
            snprintf(right, sizeof right, "%d  %s  error", sn->n_layers, sn->plan_label);
    }
    tui_pane_title(s, r, "Layers", right, focused);
    if (r.h < 3)
        return;
    if (!sn->model) {
        tui_screen_put(s, r.x + 1, r.y + 2, r.w - 2, "no model: type ':load PATH.qsm'", TS_DIM);
        return;
    }
    int max_name = 4;
    for (int k = 0; k < sn->n_layers; k++) {
        int n = tui_screen_text_width(sn->layer[k]);
        max_name = n > max_name ? n : max_name;
    }
    Cols c = plan_columns(r.w - 1, max_name);
    int x0 = r.x + 1, y = r.y + 1;
    /* header */
    int x = x0;
    tui_screen_fill(s, (TuiRect){ r.x, y, r.w, 1 }, ' ', TS_HEADER);
    tui_screen_put(s, x, y, c.idx, "  #", TS_HEADER);
    x += c.idx + 1;
    tui_screen_put(s, x, y, c.name, "name", TS_HEADER);
    x += c.name + 1;
    if (c.op) {
        tui_screen_put(s, x, y, c.op, "op", TS_HEADER);
        x += c.op + 1;
    }
    if (c.shape) {
        tui_screen_put(s, x, y, c.shape, "shape", TS_HEADER);
        x += c.shape + 1;
    }
    tui_screen_put(s, x, y, c.prec, "prec", TS_HEADER);
    x += c.prec + 1;
    tui_screen_put(s, x, y, c.bar + (c.db ? c.db + 1 : 0), c.db ? "error (SQNR)" : "error",
                   TS_HEADER);
    /* rows */
    int rows = r.h - 2;
    if (st->sel >= 0 && st->sel < p->scroll)
        p->scroll = st->sel;
    if (st->sel >= p->scroll + rows)
        p->scroll = st->sel - rows + 1;
    if (p->scroll > sn->n_layers - rows)
        p->scroll = sn->n_layers - rows;
    if (p->scroll < 0)
        p->scroll = 0;
    int hint = 0;
    for (int i = 0; i < rows; i++) {
        int k = p->scroll + i;
        if (k >= sn->n_layers)
            break;
        y = r.y + 2 + i;
        bool sel = k == st->sel;
        TuiStyle base = sel ? TS_SELECTED : TS_NORMAL;
        if (sel)
            tui_screen_fill(s, (TuiRect){ r.x, y, r.w, 1 }, ' ', TS_SELECTED);
        const RTable *lt;
        int lr = layers_row(st, k, &lt);
        x = x0;
        tui_screen_putf(s, x, y, c.idx, sel ? base : TS_DIM, "%3d", k);
        x += c.idx + 1;
        tui_screen_put_name(s, x, y, c.name, sn->layer[k], sel ? base : TS_ACCENT);
        x += c.name + 1;
        if (c.op) {
            const RValue *v = lr >= 0 ? rtable_cell(lt, lr, rtable_col(lt, "op")) : NULL;
            if (v && v->type == RV_STR)
                tui_screen_put(s, x, y, c.op, v->s, base);
            x += c.op + 1;
        }
        if (c.shape) {
            const RValue *v = lr >= 0 ? rtable_cell(lt, lr, rtable_col(lt, "shape")) : NULL;
            if (v && v->type == RV_STR)
                tui_screen_put(s, x, y, c.shape, v->s, sel ? base : TS_DIM);
            x += c.shape + 1;
        }
        int prec = sn->pin[k] >= 0 ? sn->pin[k] : sn->mode;
        char pbuf[16];
        snprintf(pbuf, sizeof pbuf, "%s%s", sn->pin[k] >= 0 ? "*" : "",
                 c.long_prec ? precision_table[prec].name : short_prec(prec));
        tui_screen_put(s, x, y, c.prec, pbuf, sel ? base : sn->pin[k] >= 0 ? TS_WARN : TS_NORMAL);
        x += c.prec + 1;
        double db = layer_sqnr(et, sn->layer[k], &hint);
        if (!isnan(db)) {
            /* longer bar = more error: 50 dB and up is no bar, 0 dB or less fills it */
            double frac = isinf(db) ? (db > 0 ? 0 : 1) : (50.0 - db) / 50.0;
            frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
            int n = (int)lround(frac * c.bar);
            if (n == 0 && frac > 0)
                n = 1;
            for (int b = 0; b < c.bar; b++)
                tui_screen_putc(s, x + b, y, tui_screen_glyph(s, b < n ? TG_FULL : TG_LIGHT),
                                b < n ? sqnr_style(db) : TS_DIM);
            if (c.db) {
                if (isinf(db))
                    tui_screen_put(s, x + c.bar + 1, y, c.db, db > 0 ? "exact" : "-inf",
                                   sel ? base : TS_DIM);
                else
                    tui_screen_putf(s, x + c.bar + 1, y, c.db, sel ? base : sqnr_style(db),
                                    "%5.1f", db);
            }
        } else if (et && !precision_is_float(prec)) {
            /* no output of its own in the quantized run (folded into or fused with the
             * layer after it): its error shows there */
            tui_screen_put(s, x, y, c.bar, "fused", sel ? base : TS_DIM);
        } else if (pending) {
            tui_screen_putc(s, x, y, tui_screen_glyph(s, TG_ELLIPSIS), TS_PENDING);
        } else if (float_plan || precision_is_float(prec)) {
            tui_screen_put(s, x, y, c.bar, "exact", sel ? base : TS_DIM);
        } else {
            tui_screen_put(s, x, y, c.bar, "-", TS_DIM);
        }
    }
}

static unsigned on_key(Pane *p, TuiState *st, int key, char *cmd, size_t cap)
{
    if (key != TUI_KEY_MOUSE)
        return 0;
    int row = tui_pane_layers_row_at(p, st, st->mouse_y);
    if (row < 0)
        return TUI_HANDLED;
    snprintf(cmd, cap, "@select %d", row);
    return TUI_HANDLED | TUI_RUN_CMD | TUI_REDRAW;
}

int tui_pane_layers_row_at(const Pane *p, const TuiState *st, int y)
{
    int row = y - (p->rect.y + 2);
    if (row < 0 || row >= p->rect.h - 2)
        return -1;
    row += p->scroll;
    return row < st->snap.n_layers ? row : -1;
}

static void on_result(Pane *p, TuiState *st, const TuiEvent *ev)
{
    (void)p;
    (void)st;
    (void)ev; /* everything it shows lives in the shared state */
}

static void destroy(Pane *p)
{
    free(p);
}

static const PaneClass layers_class = {
    .name = "layers", .draw = draw, .on_key = on_key, .on_result = on_result, .destroy = destroy,
};

Pane *tui_pane_layers_new(void)
{
    LayersPane *lp = xcalloc(1, sizeof *lp);
    lp->base.cls = &layers_class;
    return &lp->base;
}
