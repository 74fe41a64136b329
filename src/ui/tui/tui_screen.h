/* The workbench's screen: a grid of cells (a code point and a style) that panes draw
 * into. Curses only copies the finished grid to the terminal (tui_term.c), so every pane
 * can be drawn and checked in a test without a terminal. */
#ifndef QS_TUI_SCREEN_H
#define QS_TUI_SCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a cell means; tui_term.c maps each style to colours and attributes for the
 * terminal at hand (256 colours, 8 colours, or none with NO_COLOR). */
typedef enum {
    TS_NORMAL = 0,
    TS_DIM,          /* secondary text, placeholders */
    TS_TITLE,        /* a pane's title bar */
    TS_TITLE_FOCUS,  /* the focused pane's title bar */
    TS_HEADER,       /* table column headers */
    TS_SELECTED,     /* the selected row */
    TS_CURRENT,      /* the current precision's row in the metrics pane */
    TS_GOOD,         /* small error, no drop */
    TS_WARN,         /* noticeable error */
    TS_BAD,          /* large error, failures */
    TS_ACCENT,       /* names and values worth the eye */
    TS_PENDING,      /* a figure being recomputed */
    TS_STATUS,       /* the status line */
    TS_STATUS_HI,    /* emphasised text on the status line */
    TS_KEY,          /* key names in the hint bar and help */
    TS_HIST,         /* histogram columns inside the clipping range */
    TS_CLIPPED,      /* histogram columns outside it */
    TS_MARK,         /* clipping-range and zero marks */
    TS_PROGRESS,     /* the done part of a progress bar */
    TS_COUNT
} TuiStyle;

/* Glyphs with an ASCII fallback for terminals whose locale is not UTF-8. */
typedef enum {
    TG_HLINE = 0,   /* ─ - */
    TG_VLINE,       /* │ | */
    TG_FULL,        /* █ # */
    TG_LOWER_HALF,  /* ▄ : */
    TG_LIGHT,       /* ░ . */
    TG_ELLIPSIS,    /* … ~ */
    TG_TICK,        /* ┴ ' */
    TG_DOT,         /* · . */
    TG_ARROW,       /* ▶ > */
    TG_TL, TG_TR, TG_BL, TG_BR, /* ┌ ┐ └ ┘ + */
    TG_COUNT
} TuiGlyph;

typedef struct TuiCell {
    uint32_t ch;    /* a Unicode code point; every cell is one column wide */
    uint8_t style;  /* TuiStyle */
} TuiCell;

typedef struct TuiRect {
    int x, y, w, h;
} TuiRect;

typedef struct TuiScreen {
    int w, h;
    TuiCell *cells;  /* h * w, row-major; owned */
    bool utf8;       /* false: ASCII glyphs only, and non-ASCII text shows as '?' */
    int cur_x, cur_y;
    bool cur_on;     /* show the text cursor at (cur_x, cur_y) */
} TuiScreen;

/* A blank w x h screen (sizes below 1 become 1). Release with tui_screen_release. */
void tui_screen_init(TuiScreen *s, int w, int h, bool utf8);
void tui_screen_release(TuiScreen *s);
/* Changes the size and blanks every cell. */
void tui_screen_resize(TuiScreen *s, int w, int h);
/* Blanks every cell and hides the cursor. */
void tui_screen_clear(TuiScreen *s);

/* The code point for a glyph on this screen (UTF-8 or ASCII). */
uint32_t tui_screen_glyph(const TuiScreen *s, TuiGlyph g);

/* One cell; outside the screen does nothing. */
void tui_screen_putc(TuiScreen *s, int x, int y, uint32_t ch, TuiStyle st);
/* Fills a rectangle (clipped to the screen). */
void tui_screen_fill(TuiScreen *s, TuiRect r, uint32_t ch, TuiStyle st);
/* Changes the style of w cells from (x, y), keeping their characters. */
void tui_screen_restyle(TuiScreen *s, int x, int y, int w, TuiStyle st);
/* Writes UTF-8 text from (x, y), at most maxw columns (and never past the screen edge);
 * a text that does not fit ends in an ellipsis. Control characters show as spaces.
 * Returns the number of columns written. */
int tui_screen_put(TuiScreen *s, int x, int y, int maxw, const char *text, TuiStyle st);
int tui_screen_putf(TuiScreen *s, int x, int y, int maxw, TuiStyle st, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The number of columns UTF-8 text takes (one per code point). */
int tui_screen_text_width(const char *text);

/* Writes a layer name from (x, y) in at most maxw columns. A name that does not fit keeps
 * its tail, the part that tells layers apart (ONNX names share their head:
 * "/features/features.3/Conv"), after an ellipsis, cut at a '/' when one leaves at least
 * half the room ("…/features.3/Conv"). Every pane that shows a layer name uses it.
 * Returns the number of columns written. */
int tui_screen_put_name(TuiScreen *s, int x, int y, int maxw, const char *name, TuiStyle st);

/* Word-wraps UTF-8 text to lines of at most `width` columns: newlines count as spaces
 * (a caption is a paragraph), a word longer than a line is split. Calls line(ctx, start,
 * bytes) for each line when line is not NULL; returns the number of lines (0 for blank
 * text). */
int tui_screen_wrap(const char *text, int width,
                    void (*line)(void *ctx, const char *start, size_t bytes), void *ctx);

/* Row y as UTF-8 with trailing blanks removed, for tests and screen dumps. */
void tui_screen_row(const TuiScreen *s, int y, char *buf, size_t cap);
/* The first row containing needle (UTF-8), or -1; *x gets its column when non-NULL. */
int tui_screen_find(const TuiScreen *s, const char *needle, int *x);
/* The style of the cell at (x, y) (TS_NORMAL outside). */
TuiStyle tui_screen_style_at(const TuiScreen *s, int x, int y);

/* Decodes one UTF-8 code point from *p and advances it; invalid bytes give U+FFFD. */
uint32_t tui_screen_utf8_next(const char **p);
/* Encodes c into buf (at least 5 bytes) with a terminating NUL; returns its length. */
int tui_screen_utf8_encode(uint32_t c, char *buf);

#endif
