/* @actions: what keys do to the view alone (selection, focus, view, scrolling, help,
 * cancel, quit, the demo player, refresh, automatic figures). */
#include "tui/tui_app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>



static int page_rows(const Tui *t)
{
    int h = t->lay.pane[TUI_PANE_LAYERS].h - 2;
    return h > 1 ? h : 1;
}

static void action_select(Tui *t, const char *arg)
{
    TuiState *st = &t->st;
    int n = st->snap.n_layers, sel = st->sel < 0 ? 0 : st->sel;
    if (n == 0)
        return;
    if (!strcmp(arg, "first"))
        sel = 0;
    else if (!strcmp(arg, "last"))
        sel = n - 1;
    else if (!strcmp(arg, "+page"))
        sel += page_rows(t);
    else if (!strcmp(arg, "-page"))
        sel -= page_rows(t);
    else if (arg[0] == '+' || arg[0] == '-')
        sel += atoi(arg);
    else if (arg[0] >= '0' && arg[0] <= '9')
        sel = atoi(arg);
    else {
        int k;
        for (k = 0; k < n && strcmp(st->snap.layer[k], arg) != 0; k++)
            ;
        if (k == n) {
            char m[200];
            snprintf(m, sizeof m, "@select: no layer named '%s'", arg);
            tui_app_msg(t, TS_BAD, m);
            return;
        }
        sel = k;
    }
    st->sel = sel < 0 ? 0 : sel >= n ? n - 1 : sel;
}

static void action_focus(Tui *t, const char *arg)
{
    int f = t->st.focus;
    if (!strcmp(arg, "next"))
        f = (f + 1) % TUI_PANE_COUNT;
    else if (!strcmp(arg, "prev"))
        f = (f + TUI_PANE_COUNT - 1) % TUI_PANE_COUNT;
    else
        for (int i = 0; i < TUI_PANE_COUNT; i++)
            if (!strcmp(arg, t->panes[i]->cls->name))
                f = i;
    if (f == TUI_PANE_CONSOLE && t->st.focus != TUI_PANE_CONSOLE)
        t->return_focus = t->st.focus;
    t->st.focus = f;
}

static void action_view(Tui *t, const char *arg)
{
    TuiState *st = &t->st;
    st->view = !strcmp(arg, "weights") ? TUI_VIEW_WEIGHTS
               : !strcmp(arg, "act")   ? TUI_VIEW_ACT
                                       : !st->view;
}

/* Scrolls the enlarged pane, else the focused one; the layer list and the detail pane
 * scroll by selecting. */
static void action_scroll(Tui *t, const char *arg)
{
    bool page = strstr(arg, "page") != NULL;
    int n = arg[0] == '-' ? -1 : 1;
    if (!page)
        n = atoi(arg);
    int pane = t->st.zoom >= 0 ? t->st.zoom : t->st.focus;
    if (pane == TUI_PANE_CONSOLE)
        tui_pane_console_scroll(t->panes[TUI_PANE_CONSOLE], n, page);
    else if (pane == TUI_PANE_METRICS)
        t->panes[TUI_PANE_METRICS]->scroll += n;
    else
        action_select(t, arg);
}

/* `@zoom PANE|focus`: that pane to the whole screen, or back to the layout when a pane
 * already has it (so z and Z both go back); `@zoom off`: back to the layout. */
static void action_zoom(Tui *t, const char *arg)
{
    int pane = -1;
    if (!strcmp(arg, "focus") || !arg[0])
        pane = t->st.focus;
    else
        for (int i = 0; i < TUI_PANE_COUNT; i++)
            if (!strcmp(arg, t->panes[i]->cls->name))
                pane = i;
    if (pane < 0 && strcmp(arg, "off") != 0) {
        char m[300];
        snprintf(m, sizeof m, "@zoom: no pane '%s' (layers, detail, metrics, console, focus, off)",
                 arg);
        tui_app_msg(t, TS_BAD, m);
        return;
    }
    t->st.zoom = t->st.zoom >= 0 ? -1 : pane;
}

static void action_help(Tui *t, const char *arg)
{
    (void)arg;
    t->help = true;
}

static void action_cancel(Tui *t, const char *arg)
{
    (void)arg;
    if (!tui_exec_running(&t->ex))
        return;
    char m[200];
    snprintf(m, sizeof m, "cancelling '%s'...", t->ex.cur.line);
    int dropped = tui_exec_cancel(&t->ex);
    tui_app_msg(t, TS_WARN, m);
    if (dropped) {
        snprintf(m, sizeof m, "dropped %d queued command%s", dropped, dropped > 1 ? "s" : "");
        tui_app_msg(t, TS_WARN, m);
    }
}

static void action_quit(Tui *t, const char *arg)
{
    bool idle = !tui_exec_running(&t->ex) || (t->ex.cur.flags & TUI_TASK_AUTO);
    if (!strcmp(arg, "now"))
        t->quit = true;
    else if (!idle)
        t->confirm_quit = true;
    else if (t->st.snap.unsaved) /* never lose calibration, variants or pins silently */
        t->confirm_save = true;
    else
        t->quit = true;
}

static void action_play(Tui *t, const char *arg)
{
    if (!t->play.n)
        tui_app_msg(t, TS_DIM, "no demo playing (play FILE.qs starts one)");
    else if (!strcmp(arg, "next"))
        tui_app_play_step(t);
    else if (!strcmp(arg, "back"))
        tui_app_play_back(t);
    else
        tui_app_play_stop(t);
}

static void action_refresh(Tui *t, const char *arg)
{
    (void)arg;
    TuiState *st = &t->st;
    tui_app_auto_forget(t);
    tui_state_cache_clear(&st->errors);
    tui_state_cache_clear(&st->evals);
    tui_state_cache_clear(&st->hists);
    st->have_layers = st->have_compare = false;
}

static void action_auto(Tui *t, const char *arg)
{
    TuiState *st = &t->st;
    st->auto_figures = !strcmp(arg, "on")    ? true
                       : !strcmp(arg, "off") ? false
                                             : !st->auto_figures;
    if (!st->auto_figures && tui_exec_running(&t->ex) && (t->ex.cur.flags & TUI_TASK_AUTO))
        tui_exec_cancel(&t->ex);
    tui_app_msg(t, TS_DIM, st->auto_figures ? "automatic figures on (error bars, compare)"
                                            : "automatic figures off: e, m and E compute them");
}

static const struct {
    const char *verb;
    void (*run)(Tui *t, const char *arg);
} actions[] = {
    { "select", action_select }, { "focus", action_focus },     { "view", action_view },
    { "scroll", action_scroll }, { "help", action_help },       { "cancel", action_cancel },
    { "quit", action_quit },     { "play", action_play },       { "refresh", action_refresh },
    { "auto", action_auto },     { "zoom", action_zoom },
};

void tui_app_action(Tui *t, const char *text)
{
    char verb[32] = "", arg[256] = "";
    sscanf(text, "%31s %255[^\n]", verb, arg);
    t->dirty = true;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(verb, actions[i].verb)) {
            actions[i].run(t, arg);
            return;
        }
    char m[300];
    snprintf(m, sizeof m, "unknown workbench action '@%s' (see ?)", text);
    tui_app_msg(t, TS_BAD, m);
}
