#include "tui/tui_screen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static const uint32_t glyph_utf8[TG_COUNT] = {
    [TG_HLINE] = 0x2500, [TG_VLINE] = 0x2502,      [TG_FULL] = 0x2588,  [TG_LOWER_HALF] = 0x2584,
    [TG_LIGHT] = 0x2591, [TG_ELLIPSIS] = 0x2026,   [TG_TICK] = 0x2534,  [TG_DOT] = 0x00B7,
    [TG_ARROW] = 0x25B6, [TG_TL] = 0x250C,         [TG_TR] = 0x2510,    [TG_BL] = 0x2514,
    [TG_BR] = 0x2518,
};
static const uint32_t glyph_ascii[TG_COUNT] = {
    [TG_HLINE] = '-', [TG_VLINE] = '|',    [TG_FULL] = '#', [TG_LOWER_HALF] = ':',
    [TG_LIGHT] = '.', [TG_ELLIPSIS] = '~', [TG_TICK] = '\'', [TG_DOT] = '.',
    [TG_ARROW] = '>', [TG_TL] = '+',       [TG_TR] = '+',   [TG_BL] = '+',
    [TG_BR] = '+',
};

void tui_screen_init(TuiScreen *s, int w, int h, bool utf8)
{
    memset(s, 0, sizeof *s);
    s->utf8 = utf8;
    tui_screen_resize(s, w, h);
}

void tui_screen_release(TuiScreen *s)
{
    free(s->cells);
    s->cells = NULL;
    s->w = s->h = 0;
}

void tui_screen_resize(TuiScreen *s, int w, int h)
{
    s->w = w < 1 ? 1 : w;
    s->h = h < 1 ? 1 : h;
    free(s->cells);
    s->cells = xcalloc((size_t)s->w * (size_t)s->h, sizeof *s->cells);
    tui_screen_clear(s);
}

void tui_screen_clear(TuiScreen *s)
{
    for (int i = 0; i < s->w * s->h; i++)
        s->cells[i] = (TuiCell){ ' ', TS_NORMAL };
    s->cur_on = false;
}

uint32_t tui_screen_glyph(const TuiScreen *s, TuiGlyph g)
{
    return s->utf8 ? glyph_utf8[g] : glyph_ascii[g];
}

void tui_screen_putc(TuiScreen *s, int x, int y, uint32_t ch, TuiStyle st)
{
    if (x < 0 || y < 0 || x >= s->w || y >= s->h)
        return;
    if (ch < 0x20 || ch == 0x7f)
        ch = ' ';
    else if (!s->utf8 && ch > 0x7e) { /* a glyph written as text gets its ASCII stand-in */
        uint32_t a = '?';
        for (int g = 0; g < TG_COUNT; g++)
            if (glyph_utf8[g] == ch)
                a = glyph_ascii[g];
        ch = a;
    }
    s->cells[y * s->w + x] = (TuiCell){ ch, (uint8_t)st };
}

void tui_screen_fill(TuiScreen *s, TuiRect r, uint32_t ch, TuiStyle st)
{
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++)
            tui_screen_putc(s, x, y, ch, st);
}

void tui_screen_restyle(TuiScreen *s, int x, int y, int w, TuiStyle st)
{
    if (y < 0 || y >= s->h)
        return;
    for (int i = x < 0 ? 0 : x; i < x + w && i < s->w; i++)
        s->cells[y * s->w + i].style = (uint8_t)st;
}

uint32_t tui_screen_utf8_next(const char **p)
{
    const unsigned char *u = (const unsigned char *)*p;
    uint32_t c = u[0];
    int n = c < 0x80             ? 0
            : (c & 0xe0) == 0xc0 ? 1
            : (c & 0xf0) == 0xe0 ? 2
            : (c & 0xf8) == 0xf0 ? 3
                                 : -1; /* continuation byte or 0xf8..0xff */
    if (n < 0) {
        (*p)++;
        return 0xfffd;
    }
    if (n == 0) {
        (*p)++;
        return c;
    }
    c &= 0x3fu >> n;
    for (int i = 1; i <= n; i++) {
        if ((u[i] & 0xc0) != 0x80) { /* truncated sequence: skip the lead byte only */
            (*p)++;
            return 0xfffd;
        }
        c = (c << 6) | (u[i] & 0x3f);
    }
    *p += n + 1;
    return c;
}

int tui_screen_utf8_encode(uint32_t c, char *buf)
{
    int n;
    if (c < 0x80) {
        buf[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        buf[0] = (char)(0xc0 | (c >> 6));
        buf[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        buf[0] = (char)(0xe0 | (c >> 12));
        buf[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        buf[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        buf[0] = (char)(0xf0 | (c >> 18));
        buf[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        buf[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        buf[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    buf[n] = '\0';
    return n;
}

int tui_screen_text_width(const char *text)
{
    int n = 0;
    while (*text) {
        tui_screen_utf8_next(&text);
        n++;
    }
    return n;
}

int tui_screen_put(TuiScreen *s, int x, int y, int maxw, const char *text, TuiStyle st)
{
    if (x < 0) { /* callers clip on the right; a negative start only drops columns */
        maxw += x;
        x = 0;
    }
    if (maxw > s->w - x)
        maxw = s->w - x;
    if (maxw <= 0 || y < 0 || y >= s->h)
        return 0;
    int width = tui_screen_text_width(text), col = 0;
    bool cut = width > maxw;
    int room = cut ? maxw - 1 : maxw;
    const char *p = text;
    while (*p && col < room)
        tui_screen_putc(s, x + col++, y, tui_screen_utf8_next(&p), st);
    if (cut)
        tui_screen_putc(s, x + col++, y, tui_screen_glyph(s, TG_ELLIPSIS), st);
    return col;
}

int tui_screen_put_name(TuiScreen *s, int x, int y, int maxw, const char *name, TuiStyle st)
{
    int width = tui_screen_text_width(name);
    if (width <= maxw || maxw < 2)
        return tui_screen_put(s, x, y, maxw, name, st);
    /* the shortest tail that fits in maxw - 1 columns, then a later '/' if it is not
     * too short */
    const char *tail = name;
    for (int skip = width - (maxw - 1); skip > 0; skip--)
        tui_screen_utf8_next(&tail);
    const char *slash = strchr(tail, '/');
    if (slash && tui_screen_text_width(slash) * 2 >= maxw - 1)
        tail = slash;
    tui_screen_putc(s, x, y, tui_screen_glyph(s, TG_ELLIPSIS), st);
    return 1 + tui_screen_put(s, x + 1, y, maxw - 1, tail, st);
}

int tui_screen_wrap(const char *text, int width,
                    void (*line)(void *ctx, const char *start, size_t bytes), void *ctx)
{
    if (width < 1)
        width = 1;
    int lines = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (!*p)
            return lines;
        /* take words while they fit; end is the end of the last word taken */
        const char *q = p, *end = NULL;
        int col = 0;
        while (*q) {
            const char *w = q;
            int ww = 0;
            while (*w && *w != ' ' && *w != '\n' && *w != '\t') {
                tui_screen_utf8_next(&w);
                ww++;
            }
            if (col + (end ? 1 : 0) + ww > width)
                break;
            col += (end ? 1 : 0) + ww;
            end = w;
            q = w;
            while (*q == ' ' || *q == '\n' || *q == '\t')
                q++;
        }
        if (!end) { /* one word wider than the line: split it */
            end = p;
            for (int k = 0; k < width && *end; k++)
                tui_screen_utf8_next(&end);
        }
        if (line) {
            /* newlines inside the line become spaces when drawn (control characters) */
            line(ctx, p, (size_t)(end - p));
        }
        lines++;
        p = end;
    }
}

int tui_screen_putf(TuiScreen *s, int x, int y, int maxw, TuiStyle st, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return tui_screen_put(s, x, y, maxw, buf, st);
}

void tui_screen_row(const TuiScreen *s, int y, char *buf, size_t cap)
{
    size_t used = 0, keep = 0;
    if (cap == 0)
        return;
    buf[0] = '\0';
    if (y < 0 || y >= s->h)
        return;
    for (int x = 0; x < s->w; x++) {
        char enc[5];
        int n = tui_screen_utf8_encode(s->cells[y * s->w + x].ch, enc);
        if (used + (size_t)n + 1 > cap)
            break;
        memcpy(buf + used, enc, (size_t)n);
        used += (size_t)n;
        if (s->cells[y * s->w + x].ch != ' ')
            keep = used;
    }
    buf[keep] = '\0';
}

int tui_screen_find(const TuiScreen *s, const char *needle, int *x)
{
    size_t cap = (size_t)s->w * 4 + 1;
    char *row = xmalloc(cap);
    int found = -1;
    for (int y = 0; y < s->h && found < 0; y++) {
        tui_screen_row(s, y, row, cap);
        const char *hit = strstr(row, needle);
        if (!hit)
            continue;
        found = y;
        if (x) { /* columns, not bytes */
            int col = 0;
            for (const char *p = row; p < hit; col++)
                tui_screen_utf8_next(&p);
            *x = col;
        }
    }
    free(row);
    return found;
}

TuiStyle tui_screen_style_at(const TuiScreen *s, int x, int y)
{
    if (x < 0 || y < 0 || x >= s->w || y >= s->h)
        return TS_NORMAL;
    return (TuiStyle)s->cells[y * s->w + x].style;
}
