#include "tui/tui_line.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tui/tui_keys.h"
#include "tui/tui_screen.h"

#define CTRL(c) ((c) & 0x1f)

void tui_line_init(TuiLine *l)
{
    memset(l, 0, sizeof *l);
    l->cap = 64;
    l->buf = xcalloc(l->cap, 1);
    l->hist_pos = -1; /* not browsing: set properly on the first Up */
}

void tui_line_release(TuiLine *l)
{
    free(l->buf);
    free(l->draft);
    memset(l, 0, sizeof *l);
}

static void reserve(TuiLine *l, size_t need)
{
    if (need + 1 <= l->cap)
        return;
    while (l->cap < need + 1)
        l->cap *= 2;
    l->buf = xrealloc(l->buf, l->cap);
}

void tui_line_replace(TuiLine *l, size_t from, size_t to, const char *text)
{
    if (to > l->len)
        to = l->len;
    if (from > to)
        from = to;
    size_t n = strlen(text);
    reserve(l, l->len - (to - from) + n);
    memmove(l->buf + from + n, l->buf + to, l->len - to + 1);
    memcpy(l->buf + from, text, n);
    l->len = l->len - (to - from) + n;
    l->cur = from + n;
}

void tui_line_set(TuiLine *l, const char *text)
{
    tui_line_replace(l, 0, l->len, text);
}

void tui_line_insert(TuiLine *l, const char *text)
{
    tui_line_replace(l, l->cur, l->cur, text);
}

static size_t prev_cp(const TuiLine *l, size_t i)
{
    if (i == 0)
        return 0;
    i--;
    while (i > 0 && ((unsigned char)l->buf[i] & 0xc0) == 0x80)
        i--;
    return i;
}

static size_t next_cp(const TuiLine *l, size_t i)
{
    if (i >= l->len)
        return l->len;
    i++;
    while (i < l->len && ((unsigned char)l->buf[i] & 0xc0) == 0x80)
        i++;
    return i;
}

static void history_step(TuiLine *l, const TuiHistory *h, int dir)
{
    if (!h || h->n == 0)
        return;
    if (l->hist_pos < 0 || l->hist_pos > h->n) { /* start browsing from the newest */
        l->hist_pos = h->n;
        free(l->draft);
        l->draft = xstrdup(l->buf);
    }
    int pos = l->hist_pos + dir;
    if (pos < 0 || pos > h->n)
        return;
    l->hist_pos = pos;
    tui_line_set(l, pos == h->n ? (l->draft ? l->draft : "") : h->items[pos]);
}

TuiLineAction tui_line_key(TuiLine *l, int key, const TuiHistory *h)
{
    switch (key) {
    case TUI_KEY_ENTER:
    case '\n':
        l->hist_pos = -1;
        return TUI_LINE_SUBMIT;
    case TUI_KEY_LEFT:
    case CTRL('b'):
        l->cur = prev_cp(l, l->cur);
        return TUI_LINE_CHANGED;
    case TUI_KEY_RIGHT:
    case CTRL('f'):
        l->cur = next_cp(l, l->cur);
        return TUI_LINE_CHANGED;
    case TUI_KEY_HOME:
    case CTRL('a'):
        l->cur = 0;
        return TUI_LINE_CHANGED;
    case TUI_KEY_END:
    case CTRL('e'):
        l->cur = l->len;
        return TUI_LINE_CHANGED;
    case TUI_KEY_BACKSPACE:
    case CTRL('h'):
        if (l->cur > 0)
            tui_line_replace(l, prev_cp(l, l->cur), l->cur, "");
        return TUI_LINE_CHANGED;
    case TUI_KEY_DEL:
    case CTRL('d'):
        if (l->cur < l->len)
            tui_line_replace(l, l->cur, next_cp(l, l->cur), "");
        return TUI_LINE_CHANGED;
    case CTRL('u'):
        tui_line_replace(l, 0, l->cur, "");
        return TUI_LINE_CHANGED;
    case CTRL('k'):
        l->buf[l->cur] = '\0';
        l->len = l->cur;
        return TUI_LINE_CHANGED;
    case CTRL('w'): { /* the word before the cursor and the blanks after it */
        size_t i = l->cur;
        while (i > 0 && l->buf[i - 1] == ' ')
            i--;
        while (i > 0 && l->buf[i - 1] != ' ')
            i--;
        tui_line_replace(l, i, l->cur, "");
        return TUI_LINE_CHANGED;
    }
    case TUI_KEY_UP:
    case CTRL('p'):
        history_step(l, h, -1);
        return TUI_LINE_CHANGED;
    case TUI_KEY_DOWN:
    case CTRL('n'):
        history_step(l, h, +1);
        return TUI_LINE_CHANGED;
    default:
        break;
    }
    if (key >= 0x20 && key < 0x110000 && key != 0x7f) {
        char enc[5];
        tui_screen_utf8_encode((uint32_t)key, enc);
        tui_line_insert(l, enc);
        return TUI_LINE_CHANGED;
    }
    return TUI_LINE_IGNORED;
}

int tui_line_cursor_col(const TuiLine *l)
{
    int col = 0;
    for (size_t i = 0; i < l->cur; i = next_cp(l, i))
        col++;
    return col;
}
