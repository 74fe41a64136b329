/* A key press or mouse click: to the overlays, then the focused pane, then the key table
 * (tui_keys.h) for the focus and for whether a job runs. */
#include "tui/tui_app_internal.h"

#include "cmds/cmd_session.h"
#include "tui/tui_keys.h"

static int pane_at(const Tui *t, int x, int y)
{
    for (int i = 0; i < TUI_PANE_COUNT; i++) {
        TuiRect r = t->lay.pane[i];
        if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h)
            return i;
    }
    return -1;
}

void tui_app_key(Tui *t, int key)
{
    t->dirty = true;
    t->auto_streak = 0;
    if (key == TUI_KEY_RESIZE || key == TUI_KEY_NONE)
        return;
    if (t->confirm_quit) {
        t->confirm_quit = false;
        if (key == 'y' || key == 'Y') {
            tui_exec_cancel(&t->ex);
            t->quit = true;
        } else {
            tui_app_msg(t, TS_DIM, "not quitting");
        }
        return;
    }
    if (t->confirm_save) {
        t->confirm_save = false;
        if (key == 's' || key == 'S') /* `quit` runs only when the save succeeded */
            tui_app_run_line(t, "session save " CMD_SESSION_DEFAULT_FILE "; quit", 0, true);
        else if (key == 'd' || key == 'D' || key == TUI_KEY_CTRL_C)
            t->quit = true;
        else
            tui_app_msg(t, TS_DIM, "not quitting");
        return;
    }
    if (t->help) {
        if (key != TUI_KEY_MOUSE)
            t->help = false;
        return;
    }
    if (t->lay.too_small) {
        if (key == 'q' || key == TUI_KEY_CTRL_C)
            tui_app_action(t, "quit");
        return;
    }
    if (key == TUI_KEY_MOUSE) {
        int p = pane_at(t, t->st.mouse_x, t->st.mouse_y);
        if (p < 0)
            return;
        t->st.focus = p;
    }
    Pane *p = t->panes[t->st.focus];
    char cmd[2048] = "";
    unsigned f = p->cls->on_key(p, &t->st, key, cmd, sizeof cmd);
    if ((f & TUI_RUN_CMD) && t->st.focus == TUI_PANE_CONSOLE)
        t->st.focus = t->return_focus; /* as in vi: ':' types one command, Enter goes back */
    if (f & TUI_RUN_CMD)
        tui_app_run(t, cmd);
    if (f & TUI_QUIT)
        t->quit = true;
    if (f & TUI_HANDLED)
        return;
    /* automatic figures are not "a job" for the keys: Esc keeps its other meanings, and
     * any command pre-empts them anyway */
    bool user_job = tui_exec_running(&t->ex) && !(t->ex.cur.flags & TUI_TASK_AUTO);
    unsigned where = (1u << t->st.focus) | (t->st.playing ? TUI_IN_PLAY : 0) |
                     (user_job ? TUI_IN_JOB : TUI_IN_IDLE) | (t->st.zoom >= 0 ? TUI_IN_ZOOM : 0);
    const TuiBinding *b = tui_keys_lookup(key, where);
    if (b)
        tui_app_run(t, b->cmd);
}
