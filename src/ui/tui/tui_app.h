/* The workbench without the terminal: panes, state, the job runner, key dispatch through
 * the key table, @actions, demo playing, and drawing into a screen buffer, one job per
 * file of tui_app*.c (tui_app_internal.h lists them). tui_main.c wires it to curses;
 * tests drive it directly (keys in, screen buffer out). */
#ifndef QS_TUI_APP_H
#define QS_TUI_APP_H

#include <stdbool.h>

#include "cmds/app.h"
#include "cmds/cmd_play.h"
#include "tui/tui_exec.h"
#include "tui/tui_history.h"
#include "tui/tui_layout.h"
#include "tui/tui_pane.h"
#include "tui/tui_screen.h"
#include "tui/tui_state.h"

/* What the screen showed before a demo step ran, so that going back restores it. */
typedef struct TuiPlayView {
    TuiConsoleMark console;
    int sel, focus, zoom, layers_scroll, metrics_scroll;
    TuiView view;
} TuiPlayView;

typedef struct Tui {
    App *app;
    TuiState st;
    TuiExec ex;
    TuiHistory hist;
    Pane *panes[TUI_PANE_COUNT];
    TuiLayout lay;
    bool help;               /* the ? overlay is up */
    bool confirm_quit;       /* "a job is running: quit?" */
    bool confirm_save;       /* "unsaved work: save, discard or stay?" */
    bool quit;
    bool dirty;              /* something changed since the last draw */
    int return_focus;        /* where Enter on the command line goes back to */
    /* a demo being played */
    PlayScript play;
    int play_next;           /* steps run so far */
    TuiPlayView *play_views; /* [play.n + 1]: the view before each step ran */
    /* going back: steps [replay_at, replay_to) still to replay, one at a time with the
     * automatic figures in between as when they were played; replay_to -1 when none */
    int replay_at, replay_to;
    /* automatic figures already tried for a key, so a failure is not retried forever */
    char *tried[64];
    int n_tried;
    /* the automatic figure in flight, and how many were asked for since the last key */
    char auto_what[16];
    char auto_key[TUI_KEY_LEN + 160];
    int auto_streak;
    /* the histogram request in flight */
    char hist_line[1024];
    char hist_key[TUI_KEY_LEN + 160];
} Tui;

/* A workbench on app (which it takes over: app->emit and the job callbacks). history_path
 * may be NULL (no history file). Touches no terminal. Free with tui_app_free. */
Tui *tui_app_new(App *app, const char *history_path);
void tui_app_free(Tui *t);

/* Loads the model and runs the init script (either may be NULL), showing their output in
 * the console. */
void tui_app_start(Tui *t, const char *model, const char *init);

/* Takes finished results and progress, updates panes and state, and starts whatever
 * figures the current view needs. Call before every draw. */
void tui_app_pump(Tui *t);
/* One key press (TUI_KEY_* or a code point). TUI_KEY_MOUSE reads st.mouse_x/y. */
void tui_app_key(Tui *t, int key);
/* Runs a command string as a key binding would: an @action or a qscope command. */
void tui_app_run(Tui *t, const char *cmd);
/* Draws everything into s (its size is the terminal's). */
void tui_app_draw(Tui *t, TuiScreen *s);

/* Nothing running or queued. */
bool tui_app_idle(const Tui *t);
/* Pumps until the workbench is idle and every automatic figure is in, or timeout_s
 * passes; returns true when idle. For tests and scripted runs. */
bool tui_app_settle(Tui *t, double timeout_s);
bool tui_app_quitting(const Tui *t);
/* Whether the screen must be redrawn although no key came (a job reports progress). */
bool tui_app_needs_redraw(const Tui *t);

#endif
