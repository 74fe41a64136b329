/* The workbench's key codes and its one key table: every binding is a command string,
 * either a qscope command (run through cmd_exec like a typed line) or an @action that
 * only changes the view (selection, focus, overlays). */
#ifndef QS_TUI_KEYS_H
#define QS_TUI_KEYS_H

#include <stddef.h>

/* Keys: printable keys are their Unicode code points, control keys their ASCII codes
 * (Ctrl-C is 3), and the others lie above the Unicode range. */
enum {
    TUI_KEY_NONE = -1,
    TUI_KEY_CTRL_C = 3,
    TUI_KEY_TAB = 9,
    TUI_KEY_ENTER = 13,
    TUI_KEY_ESC = 27,
    TUI_KEY_BACKSPACE = 127,
    TUI_KEY_UP = 0x110000,
    TUI_KEY_DOWN,
    TUI_KEY_LEFT,
    TUI_KEY_RIGHT,
    TUI_KEY_HOME,
    TUI_KEY_END,
    TUI_KEY_PGUP,
    TUI_KEY_PGDN,
    TUI_KEY_DEL,
    TUI_KEY_BTAB,   /* Shift-Tab */
    TUI_KEY_F1,
    TUI_KEY_RESIZE, /* the terminal changed size */
    TUI_KEY_MOUSE,  /* a click; the position is in TuiState.mouse_x/y */
};

/* Where a binding applies: any of its pane bits, and every condition bit it names. */
enum {
    TUI_IN_LAYERS = 1u << 0,
    TUI_IN_DETAIL = 1u << 1,
    TUI_IN_METRICS = 1u << 2,
    TUI_IN_CONSOLE = 1u << 3,  /* the command line has the focus: printable keys type */
    TUI_IN_PANES = TUI_IN_LAYERS | TUI_IN_DETAIL | TUI_IN_METRICS,
    TUI_IN_ALL = TUI_IN_PANES | TUI_IN_CONSOLE,
    TUI_IN_PLAY = 1u << 4,     /* condition: a demo is being played */
    TUI_IN_JOB = 1u << 5,      /* condition: a job the user started is running */
    TUI_IN_IDLE = 1u << 6,     /* condition: none is (automatic figures may be computed) */
    TUI_IN_ZOOM = 1u << 7,     /* condition: a pane is enlarged to the whole screen */
};

typedef struct TuiBinding {
    int key;
    unsigned scope;     /* TUI_IN_* */
    const char *cmd;    /* "mode fp16", "prec {layer} {nextpin}", "@select +1" */
    const char *help;   /* shown by the ? overlay */
} TuiBinding;

extern const TuiBinding tui_keys_table[];
extern const int tui_keys_count;

/* The first binding of `key` that applies where `where` (pane bit | condition bits) says,
 * or NULL. */
const TuiBinding *tui_keys_lookup(int key, unsigned where);

/* A key's name as the help shows it ("j", "Up", "Ctrl-C", "Space"). Returns buf. */
const char *tui_keys_name(int key, char *buf, size_t cap);

#endif
