/* Panes are objects in the manner of htop's panels: draw into the screen buffer from the
 * workbench state; on_key returns flags and never draws (it may hand back a command
 * string to run); on_result sees every finished command. One loop (tui_app.c) draws. */
#ifndef QS_TUI_PANE_H
#define QS_TUI_PANE_H

#include <stdbool.h>
#include <stddef.h>

#include "text/result.h"
#include "tui/tui_history.h"
#include "tui/tui_screen.h"
#include "tui/tui_state.h"

typedef enum {
    TUI_PANE_LAYERS = 0,
    TUI_PANE_DETAIL,
    TUI_PANE_METRICS,
    TUI_PANE_CONSOLE,
    TUI_PANE_COUNT
} TuiPaneId;

/* on_key flags */
enum {
    TUI_HANDLED = 1u << 0,
    TUI_REDRAW = 1u << 1,
    TUI_RUN_CMD = 1u << 2, /* run the command string left in cmd */
    TUI_QUIT = 1u << 3,
};

typedef enum {
    TUI_EV_RESULT = 0, /* a command's result (r) */
    TUI_EV_ERROR,      /* a command failed (text) */
    TUI_EV_ECHO,       /* a command is about to run (text: the line) */
    TUI_EV_INFO,       /* a message from the workbench (text) */
} TuiEventKind;

typedef struct TuiEvent {
    TuiEventKind kind;
    const Result *r;
    const char *text;
    bool quiet;        /* started by the workbench: not for the console */
} TuiEvent;

typedef struct Pane Pane;

typedef struct PaneClass {
    const char *name;
    /* Draws into r (the title bar is its first row); focused panes stand out. */
    void (*draw)(Pane *p, const TuiState *st, TuiScreen *s, TuiRect r, bool focused);
    /* Returns TUI_* flags; 0 means the key goes on to the key table. */
    unsigned (*on_key)(Pane *p, TuiState *st, int key, char *cmd, size_t cap);
    void (*on_result)(Pane *p, TuiState *st, const TuiEvent *ev);
    void (*destroy)(Pane *p);
} PaneClass;

struct Pane {
    const PaneClass *cls;
    TuiRect rect;      /* where it was last drawn (for mouse clicks) */
    int scroll;        /* first row shown */
};

Pane *tui_pane_layers_new(void);
Pane *tui_pane_detail_new(void);
Pane *tui_pane_metrics_new(void);
/* The console keeps its scrollback and the command line; history may be NULL. */
Pane *tui_pane_console_new(TuiHistory *history);
void tui_pane_free(Pane *p);

/* Console helpers used by the workbench. */
void tui_pane_console_message(Pane *console, TuiStyle style, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Scrolls the scrollback by n lines (negative: back), or by pages when page is set, until
 * new output comes (which brings the view back). Without scrolling the console shows the
 * latest command's output from its first line (its headline figures) when the rest does
 * not fit, and the newest lines otherwise. */
void tui_pane_console_scroll(Pane *console, int n, bool page);
/* Where the console is (its lines, the latest output's headline, where its view starts),
 * to go back to: restoring drops every line pushed since the mark. The demo player marks
 * before each step, so stepping back shows what the console showed then. */
typedef struct TuiConsoleMark {
    long total, anchor, floor;
} TuiConsoleMark;
TuiConsoleMark tui_pane_console_mark(const Pane *console);
void tui_pane_console_restore(Pane *console, const TuiConsoleMark *m);
/* The view starts empty from here (a demo's start); older lines stay in the scrollback. */
void tui_pane_console_start_view(Pane *console);

/* Shared drawing helpers. */
/* The pane's title bar across the first row of r. */
void tui_pane_title(TuiScreen *s, TuiRect r, const char *title, const char *right, bool focused);
/* A value as the text renderer shows it, into buf. */
void tui_pane_fmt_value(const RValue *v, char *buf, size_t cap);
/* A bar of `width` cells, `frac` of it filled. */
void tui_pane_bar(TuiScreen *s, int x, int y, int width, double frac, TuiStyle fill,
                  TuiStyle empty);

/* The layer pane's row for a click at screen row y, or -1. */
int tui_pane_layers_row_at(const Pane *p, const TuiState *st, int y);

#endif
