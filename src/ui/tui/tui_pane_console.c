/* The console: a scrollback of command output (rendered with render_text, as the plain
 * REPL prints it) and a command line with history and Tab completion. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "text/render.h"
#include "text/strbuf.h"
#include "tui/tui_complete.h"
#include "tui/tui_keys.h"
#include "tui/tui_line.h"
#include "tui/tui_pane.h"

#define SCROLLBACK 2000

typedef struct Line {
    char *text;
    TuiStyle style;
} Line;

typedef struct ConsolePane {
    Pane base;
    Line lines[SCROLLBACK]; /* a ring */
    int first, n;
    int page;               /* rows shown at the last draw, for paging */
    TuiLine edit;
    TuiHistory *history;
    bool tab_again;         /* the previous key was a Tab that left the word ambiguous */
} ConsolePane;

static void push_line(ConsolePane *c, const char *text, size_t len, TuiStyle style)
{
    int slot;
    if (c->n < SCROLLBACK) {
        slot = (c->first + c->n++) % SCROLLBACK;
    } else {
        slot = c->first;
        free(c->lines[slot].text);
        c->first = (c->first + 1) % SCROLLBACK;
    }
    char *t = xmalloc(len + 1);
    memcpy(t, text, len);
    t[len] = '\0';
    for (char *p = t; *p; p++) /* tabs would confuse the column count */
        if (*p == '\t')
            *p = ' ';
    c->lines[slot] = (Line){ t, style };
    if (c->base.scroll > 0) /* someone reading back: keep their place */
        c->base.scroll++;
}

static void push_text(ConsolePane *c, const char *text, TuiStyle style)
{
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\n");
        push_line(c, p, n, style);
        p += n + (p[n] == '\n');
    }
}

void tui_pane_console_message(Pane *console, TuiStyle style, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    push_text((ConsolePane *)console, buf, style);
}

void tui_pane_console_scroll(Pane *console, int n, bool page)
{
    ConsolePane *c = (ConsolePane *)console;
    int step = page ? (c->page > 1 ? c->page - 1 : 1) * n : n;
    c->base.scroll -= step; /* scroll counts lines back from the newest */
    int max = c->n - c->page;
    if (c->base.scroll > max)
        c->base.scroll = max;
    if (c->base.scroll < 0)
        c->base.scroll = 0;
}

static void draw(Pane *p, const TuiState *st, TuiScreen *s, TuiRect r, bool focused)
{
    ConsolePane *c = (ConsolePane *)p;
    p->rect = r;
    char right[64] = "";
    if (p->scroll > 0)
        snprintf(right, sizeof right, "%d lines back  PgDn", p->scroll);
    else if (focused)
        snprintf(right, sizeof right, "Tab completes  Up/Down history  Esc leaves");
    tui_pane_title(s, r, "Console", right, focused);
    int rows = r.h - 2;
    c->page = rows > 0 ? rows : 1;
    for (int i = 0; i < rows; i++) {
        int idx = c->n - p->scroll - rows + i;
        if (idx < 0 || idx >= c->n)
            continue;
        const Line *l = &c->lines[(c->first + idx) % SCROLLBACK];
        tui_screen_put(s, r.x + 1, r.y + 1 + i, r.w - 2, l->text, l->style);
    }
    if (r.h < 2)
        return;
    int y = r.y + r.h - 1;
    static const char prompt[] = "qscope> ";
    int pw = (int)sizeof prompt - 1;
    tui_screen_put(s, r.x + 1, y, r.w - 2, prompt, focused ? TS_ACCENT : TS_DIM);
    if (!focused && c->edit.len == 0) {
        tui_screen_put(s, r.x + 1 + pw, y, r.w - 2 - pw,
                       st->playing ? "Space runs the next step, : types a command"
                                   : "press : to type a command, ? for the keys",
                       TS_DIM);
        return;
    }
    /* scroll the line horizontally so the cursor stays in view */
    int room = r.w - 3 - pw, col = tui_line_cursor_col(&c->edit), skip = 0;
    if (room < 1)
        return;
    if (col >= room)
        skip = col - room + 1;
    const char *text = c->edit.buf;
    for (int k = 0; k < skip && *text; k++)
        tui_screen_utf8_next(&text);
    tui_screen_put(s, r.x + 1 + pw, y, room + 1, text, TS_NORMAL);
    if (focused) {
        s->cur_on = true;
        s->cur_x = r.x + 1 + pw + col - skip;
        s->cur_y = y;
    }
}

/* Tab: complete the word at the cursor; a second Tab that adds nothing lists the choices. */
static void complete(ConsolePane *c, const TuiState *st)
{
    TuiCompletion comp;
    TuiCompleteNames names = { .layers = (const char *const *)st->snap.layer,
                               .n_layers = st->snap.n_layers,
                               .variants = (const char *const *)st->snap.variant,
                               .n_variants = st->snap.n_variants };
    tui_complete(c->edit.buf, c->edit.cur, &names, &comp);
    if (comp.n == 0) {
        tui_complete_release(&comp);
        c->tab_again = false;
        return;
    }
    char *common = tui_complete_common(&comp);
    size_t word_len = c->edit.cur - comp.start;
    if (comp.n == 1) {
        size_t n = strlen(common);
        bool open = n && (common[n - 1] == '/' || common[n - 1] == '=');
        StrBuf b = { 0 };
        strbuf_printf(&b, "%s%s", common, open ? "" : " ");
        tui_line_replace(&c->edit, comp.start, c->edit.cur, b.s);
        strbuf_release(&b);
        c->tab_again = false;
    } else if (strlen(common) > word_len) {
        tui_line_replace(&c->edit, comp.start, c->edit.cur, common);
        c->tab_again = true; /* still ambiguous: the next Tab lists the choices */
    } else if (!c->tab_again) {
        c->tab_again = true;
    } else {
        StrBuf b = { 0 };
        for (int i = 0; i < comp.n; i++) {
            if (b.len > 0 && b.len + strlen(comp.items[i]) + 2 > 100) {
                push_text(c, b.s, TS_DIM);
                strbuf_release(&b);
                memset(&b, 0, sizeof b);
            }
            strbuf_printf(&b, "%s%s", b.len ? "  " : "", comp.items[i]);
        }
        if (b.len)
            push_text(c, b.s, TS_DIM);
        strbuf_release(&b);
        c->base.scroll = 0;
    }
    free(common);
    tui_complete_release(&comp);
}

static unsigned on_key(Pane *p, TuiState *st, int key, char *cmd, size_t cap)
{
    ConsolePane *c = (ConsolePane *)p;
    if (key == TUI_KEY_TAB) {
        complete(c, st);
        return TUI_HANDLED | TUI_REDRAW;
    }
    c->tab_again = false;
    if (key == TUI_KEY_MOUSE)
        return TUI_HANDLED;
    if (key == ':' && c->edit.len == 0)
        return TUI_HANDLED; /* ':' is how one gets here; no command starts with it */
    TuiLineAction a = tui_line_key(&c->edit, key, c->history);
    if (a == TUI_LINE_IGNORED)
        return 0;
    if (a == TUI_LINE_CHANGED)
        return TUI_HANDLED | TUI_REDRAW;
    /* submit */
    const char *line = c->edit.buf;
    while (*line == ' ')
        line++;
    if (!*line) {
        tui_line_set(&c->edit, "");
        return TUI_HANDLED | TUI_REDRAW;
    }
    if (c->history)
        tui_history_add(c->history, line);
    snprintf(cmd, cap, "%s", line);
    tui_line_set(&c->edit, "");
    p->scroll = 0;
    return TUI_HANDLED | TUI_REDRAW | TUI_RUN_CMD;
}

static void on_result(Pane *p, TuiState *st, const TuiEvent *ev)
{
    ConsolePane *c = (ConsolePane *)p;
    (void)st;
    if (ev->quiet)
        return;
    switch (ev->kind) {
    case TUI_EV_RESULT: {
        char *text = render_text(ev->r);
        push_text(c, text, TS_NORMAL);
        free(text);
        break;
    }
    case TUI_EV_ERROR:
        push_text(c, ev->text, TS_BAD);
        break;
    case TUI_EV_ECHO: {
        StrBuf b = { 0 };
        strbuf_printf(&b, "qscope> %s", ev->text);
        push_text(c, b.s, TS_ACCENT);
        strbuf_release(&b);
        break;
    }
    case TUI_EV_INFO:
        push_text(c, ev->text, TS_DIM);
        break;
    }
}

static void destroy(Pane *p)
{
    ConsolePane *c = (ConsolePane *)p;
    for (int i = 0; i < c->n; i++)
        free(c->lines[(c->first + i) % SCROLLBACK].text);
    tui_line_release(&c->edit);
    free(c);
}

static const PaneClass console_class = {
    .name = "console", .draw = draw, .on_key = on_key, .on_result = on_result, .destroy = destroy,
};

Pane *tui_pane_console_new(TuiHistory *history)
{
    ConsolePane *c = xcalloc(1, sizeof *c);
    c->base.cls = &console_class;
    c->history = history;
    tui_line_init(&c->edit);
    return &c->base;
}
