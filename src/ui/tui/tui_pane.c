/* Helpers the panes share. */
#include "tui/tui_pane.h"

#include <math.h>
#include <stdio.h>

#include "text/render.h"

void tui_pane_free(Pane *p)
{
    if (p)
        p->cls->destroy(p);
}

void tui_pane_title(TuiScreen *s, TuiRect r, const char *title, const char *right, bool focused)
{
    TuiStyle st = focused ? TS_TITLE_FOCUS : TS_TITLE;
    tui_screen_fill(s, (TuiRect){ r.x, r.y, r.w, 1 }, ' ', st);
    int used = tui_screen_put(s, r.x + 1, r.y, r.w - 2, title, st);
    if (right && right[0]) {
        int rw = tui_screen_text_width(right);
        int room = r.w - used - 4;
        if (room > 0) {
            if (rw > room)
                rw = room;
            tui_screen_put(s, r.x + r.w - 1 - rw, r.y, rw, right, st);
        }
    }
}

void tui_pane_fmt_value(const RValue *v, char *buf, size_t cap)
{
    if (!v) {
        snprintf(buf, cap, "-");
        return;
    }
    render_value(v, buf, cap);
}

void tui_pane_bar(TuiScreen *s, int x, int y, int width, double frac, TuiStyle fill,
                  TuiStyle empty)
{
    if (width <= 0)
        return;
    if (!(frac >= 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    int full = (int)floor(frac * width + 1e-9);
    for (int i = 0; i < width; i++)
        tui_screen_putc(s, x + i, y, tui_screen_glyph(s, i < full ? TG_FULL : TG_LIGHT),
                        i < full ? fill : empty);
}
