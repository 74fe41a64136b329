/* The command line's history, kept in memory and appended to a file (~/.qscope_history)
 * when one can be written. A missing or read-only HOME only means no file. */
#ifndef QS_TUI_HISTORY_H
#define QS_TUI_HISTORY_H

#include <stdbool.h>

typedef struct TuiHistory {
    int n, cap, max;
    char **items;    /* oldest first; owned */
    char *path;      /* NULL: memory only; owned */
    bool save_failed; /* a write failed once; later writes are not tried */
} TuiHistory;

/* Loads the last `max` lines of path (NULL or unreadable: starts empty). The file is
 * only appended to, and rewritten with the last `max` lines (to path.tmp, then renamed)
 * when it has grown past twice that. */
void tui_history_init(TuiHistory *h, const char *path, int max);
void tui_history_release(TuiHistory *h);

/* Adds a line (not an empty one, nor a repeat of the last) and appends it to the file. */
void tui_history_add(TuiHistory *h, const char *line);

/* $HOME/.qscope_history, or NULL when HOME is unset or empty. Caller frees with free. */
char *tui_history_default_path(void);

#endif
