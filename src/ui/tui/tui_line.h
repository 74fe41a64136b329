/* The console's line editor: a UTF-8 buffer with a cursor, Emacs-style editing keys
 * and history browsing with Up/Down. */
#ifndef QS_TUI_LINE_H
#define QS_TUI_LINE_H

#include <stddef.h>

#include "tui/tui_history.h"

typedef struct TuiLine {
    char *buf;          /* NUL-terminated UTF-8; owned */
    size_t len, cap;
    size_t cur;         /* cursor, a byte offset on a code point boundary */
    int hist_pos;       /* index into the history while browsing; -1 when not */
    char *draft;        /* the line being typed before browsing began; owned */
} TuiLine;

typedef enum {
    TUI_LINE_IGNORED = 0, /* not an editing key */
    TUI_LINE_CHANGED,     /* the text or the cursor moved */
    TUI_LINE_SUBMIT,      /* Enter */
} TuiLineAction;

void tui_line_init(TuiLine *l);
void tui_line_release(TuiLine *l);
/* Replaces the text; the cursor goes to the end. */
void tui_line_set(TuiLine *l, const char *text);
/* Inserts UTF-8 text at the cursor. */
void tui_line_insert(TuiLine *l, const char *text);
/* Replaces bytes [from, to) with text and puts the cursor after it. */
void tui_line_replace(TuiLine *l, size_t from, size_t to, const char *text);
/* Handles one key (TUI_KEY_* or a code point); h may be NULL (no history). */
TuiLineAction tui_line_key(TuiLine *l, int key, const TuiHistory *h);
/* The cursor's column (code points before it). */
int tui_line_cursor_col(const TuiLine *l);

#endif
