/* Tab completion for the command line: command names, option names (from the command
 * table), option values, precision and observer names, layer names and file paths. */
#ifndef QS_TUI_COMPLETE_H
#define QS_TUI_COMPLETE_H

#include <stddef.h>

typedef struct TuiCompletion {
    size_t start;   /* byte offset where the word being completed begins */
    int n;
    char **items;   /* whole replacements for the word, sorted, unique; owned */
} TuiCompletion;

/* Candidates for the word that ends at byte `cur` of `line`. Layer names come from
 * layers[0..n_layers) (may be NULL). Directories end in '/', option names in '='.
 * Release with tui_complete_release. */
void tui_complete(const char *line, size_t cur, const char *const *layers, int n_layers,
                  TuiCompletion *out);
void tui_complete_release(TuiCompletion *c);

/* The longest prefix every candidate shares (n > 0). Caller frees with free. */
char *tui_complete_common(const TuiCompletion *c);

#endif
