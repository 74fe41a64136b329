/* One self-contained HTML page written into a StrBuf: inline CSS, no script, no external
 * resource of any kind (no URL, no font, no image file), so the file reads the same
 * attached to a pull request, opened offline or printed.
 *
 * Every text that may come from a file (layer names, paths, messages quoting them) goes
 * through html_escape; the writers below escape what they are given. */
#ifndef QS_HTML_PAGE_H
#define QS_HTML_PAGE_H

#include "text/strbuf.h"

/* Appends s with & < > " ' as character references: safe as element text and as a
 * double-quoted attribute value, in HTML and in inline SVG alike. A byte that is not part
 * of valid UTF-8, and a control character, becomes '?' (utf8_make_safe). */
void html_escape(StrBuf *b, const char *s);

/* <!DOCTYPE html> up to <body>, with the page's style sheet; title is escaped. */
void html_page_begin(StrBuf *b, const char *title);
void html_page_end(StrBuf *b);

/* <section id=ID><h2>TITLE</h2> ... </section>; id is a fixed word chosen by the caller. */
void html_section_begin(StrBuf *b, const char *id, const char *title);
void html_section_end(StrBuf *b);

/* <TAG class="CLS">text</TAG> with the text escaped; cls may be NULL. */
void html_elem(StrBuf *b, const char *tag, const char *cls, const char *text);
/* The same with printf formatting; the formatted text is escaped. */
void html_elemf(StrBuf *b, const char *tag, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The caption naming the command line that made the figure or table above it:
 * "from `CMD`". */
void html_from(StrBuf *b, const char *cmd);

/* One line standing for data that does not exist yet: "WHAT: WHY". */
void html_missing(StrBuf *b, const char *what, const char *why);

/* <details><summary>SUMMARY</summary> ... </details>: a long table folded away, opened
 * without script. */
void html_details_begin(StrBuf *b, const char *summary);
void html_details_end(StrBuf *b);

#endif
