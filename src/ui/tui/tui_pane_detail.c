/* The selected layer in detail: weight and activation ranges, per-channel spread, scale
 * and zero point, clipped fraction; in the activation view the histogram of `hist LAYER
 * act` drawn with block characters, the clipping range [ ] and the quantization grid
 * marked; in the weight view the per-channel bars of `hist LAYER weights` (tui_wbars.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "quant/plan.h"
#include "tui/tui_pane.h"
#include "tui/tui_wbars.h"

typedef struct DetailPane {
    Pane base;
} DetailPane;

static const RValue *layer_cell(const TuiState *st, const char *col)
{
    if (!st->have_layers || st->sel < 0 || st->sel >= st->snap.n_layers)
        return NULL;
    const RTable *t = result_find_table(&st->layers, "layers");
    const RValue *name = rtable_cell(t, st->sel, rtable_col(t, "name"));
    if (!name || name->type != RV_STR || strcmp(name->s, st->snap.layer[st->sel]) != 0)
        return NULL;
    const RValue *v = rtable_cell(t, st->sel, rtable_col(t, col));
    return v && v->type != RV_NULL ? v : NULL;
}

/* "label value" pairs across a line; returns the next column. */
static int pair(TuiScreen *s, int x, int y, int xmax, const char *label, const RValue *v)
{
    if (!v || x >= xmax)
        return x;
    char buf[64];
    tui_pane_fmt_value(v, buf, sizeof buf);
    int need = tui_screen_text_width(label) + 1 + tui_screen_text_width(buf) + 2;
    if (x + need > xmax && x > 0)
        return x; /* does not fit: leave it out rather than cut a number */
    x += tui_screen_put(s, x, y, xmax - x, label, TS_DIM);
    x += 1;
    x += tui_screen_put(s, x, y, xmax - x, buf, TS_ACCENT);
    return x + 2;
}

/* Columns of the histogram inside the clipping range, from the axis line's [ ] marks. */
static void clip_columns(const char *axis, int width, int *a, int *b)
{
    *a = 0;
    *b = width - 1;
    for (int c = 0; c < width && axis[c]; c++) {
        if (axis[c] == '[')
            *a = c;
        else if (axis[c] == ']')
            *b = c;
    }
}

/* The hist result's text: `height` rows "|...|", an axis "+...+" and a labels line. */
static void draw_hist(TuiScreen *s, TuiRect r, int y, const Result *h)
{
    int first = -1, axis = -1;
    for (int i = 0; i < h->n_text; i++) {
        const char *t = h->text[i];
        size_t n = strlen(t);
        if (n >= 2 && t[0] == '|' && t[n - 1] == '|' && first < 0)
            first = i;
        if (n >= 2 && t[0] == '+' && t[n - 1] == '+') {
            axis = i;
            break;
        }
    }
    if (first < 0 || axis < 0)
        return;
    const char *ax = h->text[axis] + 1;
    int width = (int)strlen(ax) - 1;
    int a, b;
    clip_columns(ax, width, &a, &b);
    for (int i = first; i < axis && y < r.y + r.h; i++, y++) {
        const char *t = h->text[i] + 1;
        tui_screen_putc(s, r.x, y, tui_screen_glyph(s, TG_VLINE), TS_DIM);
        for (int c = 0; c < width && c < r.w - 2; c++) {
            TuiStyle st = c >= a && c <= b ? TS_HIST : TS_CLIPPED;
            uint32_t g = t[c] == '#' ? tui_screen_glyph(s, TG_FULL)
                         : t[c] == ':' ? tui_screen_glyph(s, TG_LOWER_HALF)
                                       : ' ';
            tui_screen_putc(s, r.x + 1 + c, y, g, st);
        }
        tui_screen_putc(s, r.x + 1 + width, y, tui_screen_glyph(s, TG_VLINE), TS_DIM);
    }
    if (y >= r.y + r.h)
        return;
    tui_screen_putc(s, r.x, y, tui_screen_glyph(s, TG_BL), TS_DIM);
    for (int c = 0; c < width && c < r.w - 2; c++) {
        char m = ax[c];
        uint32_t g = m == '-' ? tui_screen_glyph(s, TG_HLINE)
                     : m == '\'' ? tui_screen_glyph(s, TG_TICK)
                                 : (uint32_t)(unsigned char)m;
        tui_screen_putc(s, r.x + 1 + c, y, g, m == '-' ? TS_DIM : m == '\'' ? TS_NORMAL : TS_MARK);
    }
    tui_screen_putc(s, r.x + 1 + width, y, tui_screen_glyph(s, TG_BR), TS_DIM);
    y++;
    if (axis + 1 < h->n_text && y < r.y + r.h)
        tui_screen_put(s, r.x, y, r.w, h->text[axis + 1], TS_DIM);
}

static void draw(Pane *p, const TuiState *st, TuiScreen *s, TuiRect r, bool focused)
{
    p->rect = r;
    const TuiSnap *sn = &st->snap;
    bool weights = st->view == TUI_VIEW_WEIGHTS;
    bool have = sn->model && st->sel >= 0 && st->sel < sn->n_layers;
    const char *right = weights ? "weights  a:act" : "act  w:weights";
    tui_pane_title(s, r, have ? "Detail:" : "Detail", right, focused);
    if (have) /* the name's tail where it is long (ONNX names share their head) */
        tui_screen_put_name(s, r.x + 9, r.y, r.w - 9 - tui_screen_text_width(right) - 3,
                            sn->layer[st->sel], focused ? TS_TITLE_FOCUS : TS_TITLE);
    if (!have) {
        tui_screen_put(s, r.x + 1, r.y + 2, r.w - 2, sn->model ? "select a layer (j/k)" : "",
                       TS_DIM);
        return;
    }
    int xmax = r.x + r.w - 1, y = r.y + 1, x;
    /* what the layer is and how it runs */
    int prec = sn->pin[st->sel] >= 0 ? sn->pin[st->sel] : sn->mode;
    x = r.x + 1;
    const RValue *op = layer_cell(st, "op"), *shape = layer_cell(st, "shape");
    x += tui_screen_put(s, x, y, xmax - x, precision_table[prec].name, TS_ACCENT);
    if (sn->pin[st->sel] >= 0)
        x += tui_screen_put(s, x, y, xmax - x, " (pinned)", TS_WARN);
    x += 2;
    if (op && op->type == RV_STR)
        x += tui_screen_put(s, x, y, xmax - x, op->s, TS_NORMAL) + 1;
    if (shape && shape->type == RV_STR)
        x += tui_screen_put(s, x, y, xmax - x, shape->s, TS_DIM) + 2;
    x = pair(s, x, y, xmax, "kernel", layer_cell(st, "kernel"));
    y++;
    /* the numbers */
    char hkey[TUI_KEY_LEN + 160];
    tui_state_hist_key(st, sn->layer[st->sel], st->view, hkey, sizeof hkey);
    const Result *h = tui_state_cache_peek(&st->hists, hkey);
    const RValue *herr = h ? result_get(h, "error") : NULL;
    if (herr)
        h = NULL;
    x = r.x + 1;
    if (weights) {
        x = pair(s, x, y, xmax, "range", layer_cell(st, "w_range"));
        x = pair(s, x, y, xmax, "channel spread", layer_cell(st, "w_spread"));
        if (h) {
            char lv[64];
            snprintf(lv, sizeof lv, "%.0f-%.0f of %.0f",
                     rvalue_num(result_get(h, "levels_min")),
                     rvalue_num(result_get(h, "levels_max")),
                     rvalue_num(result_get(h, "grid_levels")));
            RValue rv = { .type = RV_STR, .s = lv };
            x = pair(s, x, y, xmax, "levels", &rv);
            x = pair(s, x, y, xmax, "to zero", result_get(h, "zero_share"));
            x = pair(s, x, y, xmax, "per", result_get(h, "wgran"));
        }
        if (x == r.x + 1)
            tui_screen_put(s, x, y, xmax - x,
                           st->have_layers ? "no weights quantized here (fp32 plan or no weights)"
                                           : "",
                           TS_DIM);
        y++;
    } else {
        if (h) {
            char range[96];
            snprintf(range, sizeof range, "[%.3g,%.3g]", rvalue_num(result_get(h, "min")),
                     rvalue_num(result_get(h, "max")));
            RValue rv = { .type = RV_STR, .s = range };
            x = pair(s, x, y, xmax, "range", &rv);
            snprintf(range, sizeof range, "[%.3g,%.3g]", rvalue_num(result_get(h, "clip_lo")),
                     rvalue_num(result_get(h, "clip_hi")));
            x = pair(s, x, y, xmax, "clip", &rv);
            x = pair(s, x, y, xmax, "observer", result_get(h, "observer"));
            y++;
            x = r.x + 1;
            x = pair(s, x, y, xmax, "scale", result_get(h, "scale"));
            x = pair(s, x, y, xmax, "zero point", result_get(h, "zero_point"));
            x = pair(s, x, y, xmax, "clipped", result_get(h, "clipped"));
            x = pair(s, x, y, xmax, "w", layer_cell(st, "w_range"));
            x = pair(s, x, y, xmax, "spread", layer_cell(st, "w_spread"));
        } else {
            x = pair(s, x, y, xmax, "range", layer_cell(st, "act_range"));
            x = pair(s, x, y, xmax, "clip", layer_cell(st, "clip"));
            x = pair(s, x, y, xmax, "scale", layer_cell(st, "scale"));
            x = pair(s, x, y, xmax, "zp", layer_cell(st, "zp"));
            x = pair(s, x, y, xmax, "clipped", layer_cell(st, "clipped"));
            y++;
            x = r.x + 1;
            x = pair(s, x, y, xmax, "w", layer_cell(st, "w_range"));
            x = pair(s, x, y, xmax, "spread", layer_cell(st, "w_spread"));
        }
        y++;
    }
    /* the histogram */
    TuiRect hr = { r.x + 1, y, r.w - 1, r.y + r.h - y };
    if (h && weights) {
        if (!tui_wbars_draw(s, hr, h))
            tui_screen_put(s, hr.x, y, hr.w - 1, "no channels to draw", TS_DIM);
    } else if (h) {
        draw_hist(s, hr, y, h);
    } else if (herr && herr->type == RV_STR) {
        tui_screen_put(s, hr.x, y, hr.w - 1, herr->s, TS_DIM);
        if (!sn->calibrated && !weights && y + 1 < r.y + r.h)
            tui_screen_put(s, hr.x, y + 1, hr.w - 1, "not calibrated yet: press c", TS_DIM);
    } else if (st->hist_h < 3 || st->hist_w < 16) {
        tui_screen_put(s, hr.x, y, hr.w - 1, "(a larger terminal shows the histogram)", TS_DIM);
    } else if (st->job.running) {
        tui_screen_put(s, hr.x, y, hr.w - 1, "histogram: after the running job", TS_PENDING);
    } else if (!sn->calibrated && !weights) {
        tui_screen_put(s, hr.x, y, hr.w - 1, "not calibrated yet: press c", TS_DIM);
    } else {
        tui_screen_put(s, hr.x, y, hr.w - 1, "histogram…", TS_PENDING);
    }
}

static unsigned on_key(Pane *p, TuiState *st, int key, char *cmd, size_t cap)
{
    (void)p;
    (void)st;
    (void)key;
    (void)cmd;
    (void)cap;
    return 0; /* its keys (w, a, j, k) are in the key table */
}

static void on_result(Pane *p, TuiState *st, const TuiEvent *ev)
{
    (void)p;
    (void)st;
    (void)ev;
}

static void destroy(Pane *p)
{
    free(p);
}

static const PaneClass detail_class = {
    .name = "detail", .draw = draw, .on_key = on_key, .on_result = on_result, .destroy = destroy,
};

Pane *tui_pane_detail_new(void)
{
    DetailPane *d = xcalloc(1, sizeof *d);
    d->base.cls = &detail_class;
    return &d->base;
}
