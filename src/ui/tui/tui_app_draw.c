/* Drawing the whole workbench into a screen buffer. */
#include "tui/tui_app_internal.h"

#include <stdio.h>

#include "cmds/cmd_session.h"



/* The offer to save on quit (tui_app_dispatch.c answers it). */
static void draw_save_question(const Tui *t, TuiScreen *s)
{
    if (!t->confirm_save)
        return;
    s->cur_on = false;
    tui_layout_question(s, "Unsaved work. s: save (" CMD_SESSION_DEFAULT_FILE "), d: "
                           "discard, Esc: stay");
}

void tui_app_draw(Tui *t, TuiScreen *s)
{
    tui_app_relayout(t, s->w, s->h); /* zoom, caption and size may have changed */
    tui_screen_clear(s);
    t->dirty = false;
    if (t->lay.too_small) {
        tui_layout_too_small(s);
        draw_save_question(t, s);
        return;
    }
    tui_layout_status(s, t->lay.status, &t->st);
    for (int i = 0; i < TUI_PANE_COUNT; i++)
        if (t->lay.pane[i].h > 0) /* a zoomed pane leaves the others no room */
            t->panes[i]->cls->draw(t->panes[i], &t->st, s, t->lay.pane[i], t->st.focus == i);
    for (int y = t->lay.sep.y; y < t->lay.sep.y + t->lay.sep.h; y++)
        tui_screen_putc(s, t->lay.sep.x, y, tui_screen_glyph(s, TG_VLINE), TS_DIM);
    if (t->st.playing)
        tui_layout_caption(s, t->lay.caption, &t->st);
    tui_layout_hints(s, t->lay.hints, &t->st);
    if (t->help) {
        s->cur_on = false;
        tui_layout_help(s);
    }
    if (t->confirm_quit) {
        s->cur_on = false;
        char q[200];
        snprintf(q, sizeof q, "'%s' is running. Quit anyway (it is cancelled)? y/n",
                 t->ex.cur.line ? t->ex.cur.line : "a job");
        tui_layout_question(s, q);
    }
    draw_save_question(t, s);
}
