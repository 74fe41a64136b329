/* Tab completion for the command line: command names, then what the command's row in the
 * command table says it takes: option names, and values by kind (optkind.h): a choice's
 * names from its core table, layer and variant names from the session, file paths. */
#ifndef QS_TUI_COMPLETE_H
#define QS_TUI_COMPLETE_H

#include <stddef.h>

typedef struct TuiCompletion {
    size_t start;   /* byte offset where the word being completed begins */
    int n;
    char **items;   /* whole replacements for the word, sorted, unique; owned */
} TuiCompletion;

/* The session's names that values of kind layer and variant complete from. */
typedef struct TuiCompleteNames {
    const char *const *layers;
    int n_layers;
    const char *const *variants;
    int n_variants;
} TuiCompleteNames;

/* Candidates for the word that ends at byte `cur` of `line`; names may be NULL (no layers
 * or variants known). Directories end in '/', option names in '='. Release with
 * tui_complete_release. */
void tui_complete(const char *line, size_t cur, const TuiCompleteNames *names,
                  TuiCompletion *out);
void tui_complete_release(TuiCompletion *c);

/* The longest prefix every candidate shares (n > 0). Caller frees with free. */
char *tui_complete_common(const TuiCompletion *c);

#endif
