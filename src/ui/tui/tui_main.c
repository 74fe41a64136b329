/* The workbench's loop: pump results, draw when something changed, wait up to 50 ms for a
 * key. Jobs run on a worker thread, so the loop keeps repainting their progress. */
#include "tui/tui_main.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "tui/tui_app.h"
#include "tui/tui_keys.h"
#include "tui/tui_term.h"

#define TICK_MS 50

int tui_main(App *app, const char *model, const char *init)
{
    TuiTermInfo info;
    char why[256];
    if (!tui_term_begin(&info, why, sizeof why)) {
        fprintf(stderr, "qscope: the workbench cannot start (%s); using the plain REPL.\n", why);
        return -1;
    }
    char *hist = tui_history_default_path();
    Tui *t = tui_app_new(app, hist);
    free(hist);
    int w, h;
    tui_term_size(&w, &h);
    TuiScreen s;
    tui_screen_init(&s, w, h, info.utf8);
    /* the first frame goes out before the model loads, so the terminal never sits blank */
    tui_app_draw(t, &s);
    tui_term_blit(&s);
    tui_app_start(t, model, init);
    int ended_by = 0; /* the termination signal that closed the workbench */
    while (!tui_app_quitting(t)) {
        tui_app_pump(t);
        if (tui_app_quitting(t))
            break;
        if (tui_app_needs_redraw(t)) {
            tui_app_draw(t, &s);
            tui_term_blit(&s);
        }
        int mx = 0, my = 0;
        int key = tui_term_key(TICK_MS, &mx, &my);
        int sig = tui_term_signal();
        if (sig == SIGINT)
            key = TUI_KEY_CTRL_C; /* kill -INT: as the key (cancel a job, or quit) */
        else if (sig) {
            tui_app_run(t, "@quit now");
            ended_by = sig;
            break;
        }
        if (key == TUI_KEY_RESIZE) {
            tui_term_size(&w, &h);
            tui_screen_resize(&s, w, h);
        }
        if (key == TUI_KEY_MOUSE) {
            t->st.mouse_x = mx;
            t->st.mouse_y = my;
        }
        if (key != TUI_KEY_NONE)
            tui_app_key(t, key);
    }
    tui_app_free(t); /* cancels and joins a running job first */
    tui_term_end(); /* the signals' default actions are back */
    tui_screen_release(&s);
    if (ended_by) /* SIGTERM, SIGHUP: closed cleanly, now die of it so the parent sees it */
        raise(ended_by);
    return 0;
}
