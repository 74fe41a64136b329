#include "tui/tui_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "text/args.h"
#include "text/strbuf.h"
#include "tui/tui_app_internal.h"

/* ---- helpers the parts share (tui_app_internal.h) ---- */

void tui_app_msg(Tui *t, TuiStyle style, const char *text)
{
    tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], style, "%s", text);
    t->dirty = true;
}

/* An argument as the command lexer reads it back: quoted when it has to be. */
void tui_app_quote_arg(const char *s, char *buf, size_t cap)
{
    StrBuf b = { 0 };
    args_quote(&b, s);
    snprintf(buf, cap, "%s", b.s ? b.s : "");
    strbuf_release(&b);
}

void tui_app_first_word(const char *line, char *buf, size_t cap)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t n = strcspn(line, " \t;\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, line, n);
    buf[n] = '\0';
}

void tui_app_event(Tui *t, TuiEventKind kind, const Result *r, const char *text, bool quiet)
{
    TuiEvent ev = { .kind = kind, .r = r, .text = text, .quiet = quiet };
    for (int i = 0; i < TUI_PANE_COUNT; i++)
        t->panes[i]->cls->on_result(t->panes[i], &t->st, &ev);
    t->dirty = true;
}

void tui_app_relayout(Tui *t, int w, int h)
{
    tui_layout_compute(&t->lay, w, h, tui_layout_caption_rows(&t->st, w), t->st.zoom);
    tui_layout_hist_size(&t->lay, &t->st.hist_w, &t->st.hist_h);
}

/* ---- life cycle ---- */

/* ---- life cycle ---- */

Tui *tui_app_new(App *app, const char *history_path)
{
    Tui *t = xcalloc(1, sizeof *t);
    t->app = app;
    tui_state_init(&t->st);
    tui_history_init(&t->hist, history_path, 1000);
    tui_exec_init(&t->ex, app);
    t->panes[TUI_PANE_LAYERS] = tui_pane_layers_new();
    t->panes[TUI_PANE_DETAIL] = tui_pane_detail_new();
    t->panes[TUI_PANE_METRICS] = tui_pane_metrics_new();
    t->panes[TUI_PANE_CONSOLE] = tui_pane_console_new(&t->hist);
    t->st.focus = t->return_focus = TUI_PANE_LAYERS;
    t->replay_to = -1;
    tui_app_relayout(t, 80, 24);
    tui_exec_snapshot(&t->ex);
    tui_exec_take_snap(&t->ex, &t->st.snap);
    t->dirty = true;
    return t;
}

void tui_app_free(Tui *t)
{
    if (!t)
        return;
    tui_exec_release(&t->ex);
    for (int i = 0; i < TUI_PANE_COUNT; i++)
        tui_pane_free(t->panes[i]);
    cmd_play_release(&t->play);
    free(t->play_views);
    tui_app_auto_forget(t);
    tui_history_release(&t->hist);
    tui_state_release(&t->st);
    free(t);
}

void tui_app_start(Tui *t, const char *model, const char *init)
{
    char q[2048], line[2100];
    if (t->hist.save_failed)
        tui_app_msg(t, TS_DIM, "(command history is not saved: its file cannot be written)");
    if (model) {
        tui_app_quote_arg(model, q, sizeof q);
        snprintf(line, sizeof line, "load %s", q);
        tui_app_run_line(t, line, TUI_TASK_LITERAL, true);
    }
    if (init) {
        tui_app_quote_arg(init, q, sizeof q);
        snprintf(line, sizeof line, "source %s", q);
        tui_app_run_line(t, line, TUI_TASK_LITERAL, true);
    }
    if (!model && !init)
        tui_app_msg(t, TS_DIM, "qscope workbench: ':load PATH.qsm' loads a model; '?' lists the keys");
}

bool tui_app_idle(const Tui *t)
{
    return !tui_exec_busy(&t->ex) && t->replay_to < 0;
}

bool tui_app_settle(Tui *t, double timeout_s)
{
    double end = tui_exec_now() + timeout_s;
    for (;;) {
        tui_app_pump(t);
        if (tui_app_idle(t))
            return true;
        if (tui_exec_now() > end)
            return false;
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

bool tui_app_quitting(const Tui *t)
{
    return t->quit;
}

bool tui_app_needs_redraw(const Tui *t)
{
    return t->dirty || tui_exec_running(&t->ex);
}
