/* Playing a demo in the workbench: a step per Space, its caption above the console;
 * Backspace replays from the start up to the step before. */
#include "tui/tui_app_internal.h"

#include <stdio.h>
#include <string.h>

#include "quant/observer.h"
#include "quant/target.h"
#include "quant/plan.h"
#include "text/strbuf.h"

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
    t->play_next = 0;
    tui_app_play_sync(t);
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
    t->play_next = 0;
    t->st.focus = TUI_PANE_LAYERS;
    tui_app_play_sync(t);
    tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_DIM,
                        "playing %s: %d steps, from a fresh session. Space runs the next step, "
                        "Backspace goes back one (replaying from the start), Esc stops.",
                        path, ps.n);
    /* as `play` in a script: the demo shows the same whatever ran before it */
    if (t->st.snap.unsaved)
        tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_WARN,
                                 "the demo starts from a fresh session: the unsaved work "
                                 "before it is dropped ('session save FILE' first keeps it)");
    tui_app_run_line(t, "session new", TUI_TASK_QUIET, false);
}

void tui_app_play_step(Tui *t)
{
    if (t->play_next >= t->play.n) {
        tui_app_msg(t, TS_DIM, "end of the demo: Esc closes it");
        return;
    }
    if (tui_exec_busy(&t->ex) && !(t->ex.cur.flags & TUI_TASK_AUTO)) {
        tui_app_msg(t, TS_WARN, "the step is still running (Esc cancels it)");
        return;
    }
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

void tui_app_play_back(Tui *t)
{
    if (tui_exec_busy(&t->ex)) {
        tui_app_msg(t, TS_WARN, "a job is running: wait for it (or Esc) before going back");
        return;
    }
    if (t->play_next == 0)
        return;
    int target = --t->play_next;
    tui_app_play_sync(t);
    if (target == 0) {
        tui_app_msg(t, TS_DIM, "back at step 1 (nothing to replay: the session is as step 1 left it)");
        return;
    }
    StrBuf b = { 0 };
    /* `load` of a model with the same layers keeps the plan (mode, pins, options), so the
     * plan goes back to its defaults first: the replay then starts where the demo did */
    const TuiSnap *sn = &t->st.snap;
    if (sn->model) {
        for (int i = 0; i < sn->n_layers; i++)
            if (sn->pin[i] >= 0) {
                char q[512];
                tui_app_quote_arg(sn->layer[i], q, sizeof q);
                strbuf_printf(&b, "prec %s auto\n", q);
            }
        QuantOpts d = plan_default_opts();
        strbuf_printf(&b, "mode fp32\nquant wgran=%s observer=%s pct=%g bits=%d asym=%d "
                      "target=%s\n", quant_wgran_names[d.wgran_tensor],
                      observer_table[d.observer].name, d.pct, d.bits, !d.act_symmetric,
                      target_of(d.target)->name);
    }
    for (int i = 0; i < target; i++)
        strbuf_printf(&b, "%s\n", t->play.steps[i].line);
    tui_pane_console_message(t->panes[TUI_PANE_CONSOLE], TS_DIM,
                        "back to step %d: replaying steps 1-%d from the start", target + 1,
                        target);
    tui_app_run_line(t, b.s, TUI_TASK_QUIET, false);
    strbuf_release(&b);
}
