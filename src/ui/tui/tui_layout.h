/* Where the panes go for a terminal size, and the chrome around them: the status line,
 * the key hints, the demo caption, the help overlay and the quit question. */
#ifndef QS_TUI_LAYOUT_H
#define QS_TUI_LAYOUT_H

#include <stdbool.h>

#include "tui/tui_pane.h"
#include "tui/tui_screen.h"
#include "tui/tui_state.h"

typedef struct TuiLayout {
    int w, h;
    bool too_small;               /* below 50 x 14 only a message fits */
    TuiRect status, hints, caption, sep;
    TuiRect pane[TUI_PANE_COUNT];
} TuiLayout;

/* The layout for a w x h terminal. caption_rows: the rows the demo's caption box asks for
 * (0: no demo; tui_layout_caption_rows), given whole unless the panes would get fewer
 * than 3 rows. zoom: a TuiPaneId that takes the whole screen between the status line (and
 * the caption) and the hints, the other panes getting no room; -1 for none. */
void tui_layout_compute(TuiLayout *l, int w, int h, int caption_rows, int zoom);
/* The rows the caption box needs at width w to show the whole caption, word-wrapped,
 * under its title row (and the next command when the title row cannot hold it); 0 when
 * no demo plays. */
int tui_layout_caption_rows(const TuiState *st, int w);

/* The histogram size (columns, rows) the detail pane has room for. */
void tui_layout_hist_size(const TuiLayout *l, int *hw, int *hh);

/* The status line: model, data splits, precision, metric and drop, job progress. */
void tui_layout_status(TuiScreen *s, TuiRect r, const TuiState *st);
/* The key hints across the bottom row. */
void tui_layout_hints(TuiScreen *s, TuiRect r, const TuiState *st);
/* The caption of the next demo step, word-wrapped (never cut when r has the rows
 * tui_layout_caption_rows asked for). */
void tui_layout_caption(TuiScreen *s, TuiRect r, const TuiState *st);
/* The ? overlay: every binding of the key table with its command. */
void tui_layout_help(TuiScreen *s);
/* A centred one-line question box. */
void tui_layout_question(TuiScreen *s, const char *text);
/* The whole screen when it is too small for the panes. */
void tui_layout_too_small(TuiScreen *s);

/* "12s", "3m05s", "1h02m". */
void tui_layout_duration(double seconds, char *buf, int cap);

#endif
