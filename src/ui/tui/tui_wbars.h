/* The detail pane's weight view: one vertical bar per output channel, its height the
 * channel's weight range against the widest channel's, drawn from the `by_channel` table of
 * `hist LAYER weights` (ptq/wstats.h: after BatchNorm folding, as the executor quantizes).
 * A channel many times wider than the median stands out in height and colour. */
#ifndef QS_TUI_WBARS_H
#define QS_TUI_WBARS_H

#include "text/result.h"
#include "tui/tui_screen.h"

/* A channel this many times the median range is drawn in the warning colour. */
#define TUI_WBARS_WIDE_X 4.0

/* Draws into r (bars, an axis naming the widest channel, a line naming the widest ones);
 * returns the rows used (0 when h has no channels table). */
int tui_wbars_draw(TuiScreen *s, TuiRect r, const Result *h);

#endif
