#include "tui/tui_wbars.h"

#include <stdio.h>

#include "tui/tui_state.h"

/* Columns one channel takes: a gap beside its bar when there is room, at most 4. */
static int channel_width(int n, int w)
{
    int cw = n > 0 ? w / n : 1;
    return cw < 1 ? 1 : cw > 4 ? 4 : cw;
}

static double row_num(const RTable *t, int row, const char *col)
{
    return rvalue_num(rtable_cell(t, row, rtable_col(t, col)));
}

static double row_range(const RTable *t, int row)
{
    return row_num(t, row, "max") - row_num(t, row, "min");
}

int tui_wbars_draw(TuiScreen *s, TuiRect r, const Result *h)
{
    const RTable *t = result_find_table(h, "by_channel");
    if (!t || t->n_rows == 0 || r.w < 4 || r.h < 3)
        return 0;
    int width = r.w - 2, bars_h = r.h - 2;
    int n = t->n_rows < width ? t->n_rows : width;
    int cw = channel_width(n, width), bw = cw > 1 ? cw - 1 : 1;
    double top = 0;
    for (int i = 0; i < n; i++)
        top = row_range(t, i) > top ? row_range(t, i) : top;
    int widest_x = -1, widest_ch = -1;
    for (int i = 0; i < n; i++) {
        double range = row_range(t, i);
        double v = top > 0 ? range / top * bars_h : 0;
        /* a nonzero channel keeps at least half a cell, so every channel is seen */
        if (range > 0 && v < 0.5)
            v = 0.5;
        TuiStyle st = row_num(t, i, "x_median") >= TUI_WBARS_WIDE_X ? TS_WARN : TS_HIST;
        int x = r.x + 1 + i * cw;
        if (widest_x < 0 && range >= top) {
            widest_x = x;
            widest_ch = (int)row_num(t, i, "channel");
        }
        for (int row = 1; row <= bars_h; row++) {
            uint32_t g = v >= row ? tui_screen_glyph(s, TG_FULL)
                         : v >= row - 0.5 ? tui_screen_glyph(s, TG_LOWER_HALF)
                                          : ' ';
            for (int b = 0; b < bw; b++)
                tui_screen_putc(s, x + b, r.y + bars_h - row, g, st);
        }
    }
    for (int y = r.y; y < r.y + bars_h; y++) {
        tui_screen_putc(s, r.x, y, tui_screen_glyph(s, TG_VLINE), TS_DIM);
        tui_screen_putc(s, r.x + 1 + n * cw, y, tui_screen_glyph(s, TG_VLINE), TS_DIM);
    }
    int axis = r.y + bars_h;
    tui_screen_putc(s, r.x, axis, tui_screen_glyph(s, TG_BL), TS_DIM);
    for (int c = 0; c < n * cw; c++)
        tui_screen_putc(s, r.x + 1 + c, axis, tui_screen_glyph(s, TG_HLINE), TS_DIM);
    tui_screen_putc(s, r.x + 1 + n * cw, axis, tui_screen_glyph(s, TG_BR), TS_DIM);
    if (widest_x >= 0) { /* the widest channel's number under its bar */
        char num[16];
        snprintf(num, sizeof num, "%d", widest_ch);
        tui_screen_put(s, widest_x, axis, r.x + r.w - widest_x, num, TS_MARK);
    }
    const RValue *widest = result_get(h, "widest"), *all = result_get(h, "channels");
    char line[320];
    int k = snprintf(line, sizeof line, "widest: %s",
                     widest && widest->type == RV_STR ? widest->s : "?");
    if (all && (int)rvalue_num(all) > n && k > 0 && (size_t)k < sizeof line)
        snprintf(line + k, sizeof line - (size_t)k, "; the %d widest of %d channels", n,
                 (int)rvalue_num(all));
    tui_screen_put(s, r.x, axis + 1, r.w, line, TS_DIM);
    return bars_h + 2;
}
