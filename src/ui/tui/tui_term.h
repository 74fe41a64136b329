/* The terminal, through curses: the one file that includes <curses.h>. It copies screen
 * buffers out, reads keys, and restores the terminal on every way out (normal exit,
 * Ctrl-C, SIGTERM/SIGHUP, crash signals, QS_ASSERT). While curses is up, stderr goes to a
 * temporary file that is replayed once the terminal is back. */
#ifndef QS_TUI_TERM_H
#define QS_TUI_TERM_H

#include <stdbool.h>
#include <stddef.h>

#include "tui/tui_screen.h"

typedef struct TuiTermInfo {
    bool utf8;     /* the locale's codeset is UTF-8: block and box glyphs */
    int colors;    /* 256, 8, or 0 (NO_COLOR set, or a monochrome terminal) */
} TuiTermInfo;

/* Sets the locale from the environment (numbers stay in the C locale), starts curses on
 * stdin/stdout, and installs the signal handlers and the abort hook. Returns false with
 * a reason in why, leaving the terminal untouched, when curses cannot start. */
bool tui_term_begin(TuiTermInfo *info, char *why, size_t cap);
/* Restores the terminal and stderr (replaying what was written to it meanwhile). Safe to
 * call more than once, and from the abort hook. */
void tui_term_end(void);

void tui_term_size(int *w, int *h);
/* Waits up to timeout_ms for a key; TUI_KEY_NONE on timeout. For TUI_KEY_MOUSE the click
 * position goes to *mx, *my. */
int tui_term_key(int timeout_ms, int *mx, int *my);
/* Copies the screen buffer to the terminal (only when it changed since the last copy). */
void tui_term_blit(const TuiScreen *s);
/* A termination signal that arrived (SIGINT, SIGTERM, SIGHUP), cleared when read; 0 if
 * none. The caller closes the workbench, then re-raises SIGTERM and SIGHUP (their default
 * action is back after tui_term_end), so the process ends with 128+N. Every other signal
 * whose default action terminates restores the terminal in its handler and re-raises at
 * once (docs/workbench.md, "Signals"). */
int tui_term_signal(void);

#endif
