/* Playing a demo in the workbench: a step per Space, its caption above the console. A
 * demo starts from a clean session and an empty console view; Backspace replays from that
 * start up to the step before (a step at a time, the automatic figures between them) and
 * puts the console and the view back as they were before that step, so the screen is the
 * one the step left. */
#include "tui/tui_app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void tui_app_play_sync(Tui *t)
{
    TuiState *st = &t->st;
    st->playing = t->play.n > 0;
    st->play_step = t->play_next;
    st->play_steps = t->play.n;
    if (!st->playing) {
        st->play_caption = st->play_next = NULL;
        return;
    }
    const char *slash = strrchr(t->play.path, '/');
    snprintf(st->play_name, sizeof st->play_name, "%s", slash ? slash + 1 : t->play.path);
    if (t->play_next < t->play.n) {
        st->play_caption = t->play.steps[t->play_next].caption;
        st->play_next = t->play.steps[t->play_next].line;
    } else {
        st->play_caption = t->play.epilogue;
        st->play_next = NULL;
    }
    if (t->lay.w)
        tui_app_relayout(t, t->lay.w, t->lay.h);
}

void tui_app_play_stop(Tui *t)
{
    cmd_play_release(&t->play);
    free(t->play_views);
    t->play_views = NULL;
    t->play_next = 0;
    t->replay_to = -1;
    tui_app_play_sync(t);
}

static TuiPlayView view_now(const Tui *t)
{
    return (TuiPlayView){ .console = tui_pane_console_mark(t->panes[TUI_PANE_CONSOLE]),
                          .sel = t->st.sel,
                          .focus = t->st.focus,
                          .zoom = t->st.zoom,
                          .layers_scroll = t->panes[TUI_PANE_LAYERS]->scroll,
                          .metrics_scroll = t->panes[TUI_PANE_METRICS]->scroll,
                          .view = t->st.view };
}

/* The view as it was before step k (the console was put back when going back began). */
static void restore_view(Tui *t, int k)
{
    const TuiPlayView *v = &t->play_views[k];
    t->st.sel = v->sel < t->st.snap.n_layers ? v->sel : t->st.snap.n_layers - 1;
    t->st.focus = v->focus;
    t->st.zoom = v->zoom;
    t->st.view = v->view;
    t->panes[TUI_PANE_LAYERS]->scroll = v->layers_scroll;
    t->panes[TUI_PANE_METRICS]->scroll = v->metrics_scroll;
    t->dirty = true;
}

void tui_app_play_replayed(Tui *t, QsStatus status)
{
    if (status == QS_ECANCELLED && t->replay_to >= 0) {
        t->replay_to = -1;
        tui_app_msg(t, TS_WARN, "going back was cancelled: the session is where the replay "
                                "stopped (Esc ends the demo, Space goes on from there)");
    }
}

void tui_app_play_drive(Tui *t)
{
    if (t->replay_to < 0 || tui_exec_busy(&t->ex) || tui_app_auto_refresh(t))
        return;
    if (t->replay_at >= t->replay_to) {
        int k = t->replay_to;
        t->replay_to = -1;
        if (t->play_views && k <= t->play.n)
            restore_view(t, k);
        return;
    }
    t->auto_streak = 0; /* as a step played by hand */
    tui_app_run_line(t, t->play.steps[t->replay_at++].line, TUI_TASK_QUIET | TUI_TASK_REPLAY,
                     false);
}

void tui_app_play_start(Tui *t, const char *path)
{
    PlayScript ps;
    QsError err = { 0 };
    if (cmd_play_load(path, &ps, &err)) {
        cmd_play_release(&ps);
        tui_app_msg(t, TS_BAD, err.msg);
        return;
    }
    tui_app_play_stop(t);
    t->play = ps;
    t->play_views = xcalloc((size_t)ps.n + 1, sizeof *t->play_views);
    t->play_next = 0;
    /* the view a fresh workbench has, so a second play starts where the first did */
    t->st.focus = TUI_PANE_LAYERS;
    t->st.zoom = -1;
    t->st.view = TUI_VIEW_ACT;
    t->st.sel = 0;
    t->panes[TUI_PANE_LAYERS]->scroll = 0;
    t->panes[TUI_PANE_METRICS]->scroll = 0;
    tui_app_play_sync(t);
    /* As `play` in a script: the demo shows the same whatever ran before it. The warning
     * that this drops unsaved work goes above the demo's view (PgUp shows it), so a second
     * play's screens are the first play's. */
    if (t->st.snap.unsaved)
        tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_WARN,
                                 "the demo starts from a fresh session: the unsaved work "
                                 "before it is dropped ('session save FILE' first keeps it)");
    tui_app_run_line(t, "session new", TUI_TASK_QUIET, false);
    tui_pane_console_start_view(t->panes[TUI_PANE_CONSOLE]);
    tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_DIM,
                        "playing %s: %d steps, from a fresh session. Space runs the next step, "
                        "Backspace goes back one, z enlarges the console, Esc stops.",
                        path, ps.n);
}

void tui_app_play_step(Tui *t)
{
    if (t->play_next >= t->play.n) {
        tui_app_msg(t, TS_DIM, "end of the demo: Esc closes it");
        return;
    }
    if ((tui_exec_busy(&t->ex) && !(t->ex.cur.flags & TUI_TASK_AUTO)) || t->replay_to >= 0) {
        tui_app_msg(t, TS_WARN, "the step is still running (Esc cancels it)");
        return;
    }
    t->play_views[t->play_next] = view_now(t);
    const PlayStep *s = &t->play.steps[t->play_next++];
    const char *p = s->caption;
    while (*p) {
        size_t n = strcspn(p, "\n");
        tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_WARN, "# %.*s", (int)n, p);
        p += n + (p[n] == '\n');
    }
    tui_app_play_sync(t);
    tui_app_run_line(t, s->line, 0, true);
}

/* Back one step: the session from the demo's clean start through the steps before, one
 * step at a time with the automatic figures between them as when they were played (the
 * panes show what those figures left), then the view as it was. */
void tui_app_play_back(Tui *t)
{
    if (tui_exec_busy(&t->ex) || t->replay_to >= 0) {
        tui_app_msg(t, TS_WARN, "a job is running: wait for it (or Esc) before going back");
        return;
    }
    if (t->play_next == 0)
        return;
    int target = --t->play_next;
    tui_app_play_sync(t);
    /* the console as it was before that step at once */
    tui_pane_console_restore(t->panes[TUI_PANE_CONSOLE], &t->play_views[target].console);
    t->replay_at = 0;
    t->replay_to = target;
    /* replayed from the clean start, as the first play began */
    tui_app_run_line(t, "session new", TUI_TASK_QUIET | TUI_TASK_REPLAY, false);
    tui_app_play_drive(t);
}
