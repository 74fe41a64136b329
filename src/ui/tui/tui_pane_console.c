/* The console: a scrollback of command output (rendered with render_text, as the plain
 * REPL prints it) and a command line with history and Tab completion. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cmds/commands.h"
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

/* Lines are numbered from the first ever pushed (absolute numbers), so marks stay valid
 * while the ring drops its oldest lines. */
typedef struct ConsolePane {
    Pane base;
    Line lines[SCROLLBACK]; /* a ring */
    int first, n;
    long total;             /* lines ever pushed: the ring holds [total - n, total) */
    long anchor;            /* the first line of the latest command's output, or -1 */
    bool anchor_next;       /* the next line pushed becomes the anchor */
    long floor;             /* lines before it are scrollback only (a demo's start) */
    bool user;              /* scrolled by hand: show from user_top */
    long user_top;
    long shown_top;         /* the first line shown at the last draw, for scrolling */
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
    if (c->anchor_next) {
        c->anchor = c->total;
        c->anchor_next = false;
    }
    c->total++;
    c->user = false; /* new output brings the view back from the scrollback */
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

/* Output of a command (or a list of candidates): its first line is the new anchor. */
static void push_output(ConsolePane *c, const char *text, TuiStyle style)
{
    c->anchor_next = true;
    push_text(c, text, style);
    c->anchor_next = false;
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

/* The first line shown in `rows` rows: from the latest command's headline when what
 * follows it does not fit, else the newest lines; never above the floor or the oldest
 * line kept; where the user scrolled to when they did. */
static long view_top(const ConsolePane *c, int rows)
{
    long oldest = c->total - c->n, bottom = c->total - rows;
    long top = bottom;
    if (c->user)
        top = c->user_top > bottom ? bottom : c->user_top;
    else if (c->anchor >= 0 && c->anchor < bottom)
        top = c->anchor;
    if (!c->user && top < c->floor)
        top = c->floor;
    return top < oldest ? oldest : top;
}

void tui_pane_console_scroll(Pane *console, int n, bool page)
{
    ConsolePane *c = (ConsolePane *)console;
    int step = page ? (c->page > 1 ? c->page - 1 : 1) * n : n;
    c->user_top = c->shown_top + step;
    c->user = true;
}

TuiConsoleMark tui_pane_console_mark(const Pane *console)
{
    const ConsolePane *c = (const ConsolePane *)console;
    return (TuiConsoleMark){ c->total, c->anchor, c->floor };
}

void tui_pane_console_restore(Pane *console, const TuiConsoleMark *m)
{
    ConsolePane *c = (ConsolePane *)console;
    long drop = c->total - m->total;
    if (drop < 0)
        return; /* not a mark of this console's past */
    if (drop > c->n)
        drop = c->n;
    for (long i = 0; i < drop; i++)
        free(c->lines[(c->first + c->n - 1 - i) % SCROLLBACK].text);
    c->n -= (int)drop;
    c->total = m->total;
    c->anchor = m->anchor < c->total ? m->anchor : -1;
    c->floor = m->floor < c->total ? m->floor : c->total;
    c->anchor_next = c->user = false;
}

void tui_pane_console_start_view(Pane *console)
{
    ConsolePane *c = (ConsolePane *)console;
    c->floor = c->total;
    c->anchor = -1;
    c->user = false;
}

static void draw(Pane *p, const TuiState *st, TuiScreen *s, TuiRect r, bool focused)
{
    ConsolePane *c = (ConsolePane *)p;
    p->rect = r;
    int rows = r.h - 2;
    c->page = rows > 0 ? rows : 1;
    long top = view_top(c, c->page);
    c->shown_top = top;
    long below = c->total - (top + c->page);
    char right[96] = "";
    if (below > 0) /* a long output from its headline, or read back with PgUp */
        snprintf(right, sizeof right, "%ld more line%s  PgDn%s", below, below > 1 ? "s" : "",
                 st->zoom == TUI_PANE_CONSOLE ? "" : "  z enlarges");
    else if (focused)
        snprintf(right, sizeof right, "Tab completes  Up/Down history  Esc leaves");
    else if (st->zoom == TUI_PANE_CONSOLE)
        snprintf(right, sizeof right, "z or Esc: back");
    tui_pane_title(s, r, "Console", right, focused);
    for (int i = 0; i < rows; i++) {
        long idx = top + i;
        if (idx < c->total - c->n || idx >= c->total)
            continue;
        const Line *l = &c->lines[(c->first + (idx - (c->total - c->n))) % SCROLLBACK];
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
        c->anchor_next = true; /* the candidates are what to read now */
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
        c->anchor_next = false;
        strbuf_release(&b);
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
    c->user = false;
    return TUI_HANDLED | TUI_REDRAW | TUI_RUN_CMD;
}

/* A long output's figures on one line above it, so a small console still shows them: the
 * quality figures (percentages, decibels, four-decimal scores such as a class's recall;
 * not timings, which vary from run to run) and
 * the layer the command is about (its row's wb.follow: sensitivity's worst layer).
 * Empty when the result has none. */
static void headline(const Result *r, StrBuf *b)
{
    const CmdDef *def = cmd_find(r->cmd);
    const char *follow = def ? def->wb.follow : NULL;
    for (int i = 0; i < r->n_fields; i++) {
        const RField *f = &r->fields[i];
        bool timing = strstr(f->key, "second") != NULL; /* train's `seconds` is FIXED4 */
        bool figure = f->v.type == RV_FLOAT && !timing &&
                      (f->v.style == RS_PCT || f->v.style == RS_DB || f->v.style == RS_FIXED4);
        bool about = follow && f->v.type == RV_STR && !strcmp(f->key, follow);
        if (!figure && !about)
            continue;
        char val[64];
        render_value(&f->v, val, sizeof val);
        strbuf_printf(b, "%s%s %s", b->len ? "  " : "\xe2\x96\xb6 ", f->key, val);
    }
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
        StrBuf h = { 0 };
        int lines = 0;
        for (const char *q = text; *q; q++)
            lines += *q == '\n';
        if (lines > 4)
            headline(ev->r, &h);
        if (h.len) {
            push_output(c, h.s, TS_ACCENT);
            push_text(c, text, TS_NORMAL);
        } else {
            push_output(c, text, TS_NORMAL);
        }
        strbuf_release(&h);
        free(text);
        break;
    }
    case TUI_EV_ERROR:
        push_output(c, ev->text, TS_BAD);
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
    c->anchor = -1;
    tui_line_init(&c->edit);
    return &c->base;
}
