/* Inline SVG primitives for the HTML report: written as well-formed XML (quoted attributes,
 * closed elements, escaped text) so that a parser of either kind reads them, styled by
 * class from the page's style sheet (html_page.c), sized by viewBox. */
#ifndef QS_SVG_DRAW_H
#define QS_SVG_DRAW_H

#include "text/strbuf.h"

/* <svg class=CLS viewBox="0 0 W H" width=W height=H role="img"> with <title>LABEL</title>
 * (what a screen reader says); id may be NULL. */
void svg_begin(StrBuf *b, const char *id, const char *cls, int w, int h, const char *label);
void svg_end(StrBuf *b);

/* A rectangle; a negative width or height is drawn as 0. `title`: hover text, or NULL. */
void svg_rect(StrBuf *b, const char *cls, double x, double y, double w, double h,
              const char *title);
void svg_line(StrBuf *b, const char *cls, double x1, double y1, double x2, double y2);
/* Text at (x, y); anchor "start", "middle" or "end"; cls may be NULL. */
void svg_text(StrBuf *b, const char *cls, double x, double y, const char *anchor,
              const char *text);

/* A number for an axis label: %.4g, "-0" shown as "0". */
void svg_num(char *buf, size_t cap, double v);

/* s shortened to at most `max` characters from its start ("…" then the tail, cut on a
 * UTF-8 character boundary): the end of a long layer name is the part that tells layers
 * apart (/features/features.3/Conv). */
void svg_tail(char *buf, size_t cap, const char *s, int max);

#endif
