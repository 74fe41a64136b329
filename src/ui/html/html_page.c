#include "html/html_page.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/utf8.h"

void html_escape(StrBuf *b, const char *s)
{
    /* the last line of defence for a well-formed page (and valid XML in the SVG): text from
     * files is checked when read, but a path or a message may hold anything */
    char *safe = xstrdup(s);
    utf8_make_safe(safe, true);
    const char *run = safe;
    for (const char *p = safe; *p; p++) {
        const char *ref = NULL;
        switch (*p) {
        case '&': ref = "&amp;"; break;
        case '<': ref = "&lt;"; break;
        case '>': ref = "&gt;"; break;
        case '"': ref = "&quot;"; break;
        case '\'': ref = "&#39;"; break;
        default: continue;
        }
        strbuf_append(b, run, (size_t)(p - run));
        strbuf_append(b, ref, strlen(ref));
        run = p + 1;
    }
    strbuf_append(b, run, strlen(run));
    free(safe);
}

/* Print-friendly and readable in dark and light viewers alike: dark text on white, the
 * two series of the per-layer figure in colours that survive grey-scale printing. */
static const char style_sheet[] =
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;"
    "color:#1b1b1b;background:#fff;line-height:1.4}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;margin-top:2em}"
    "h3{font-size:1em;margin:1.2em 0 .3em}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
    "th,td{border:1px solid #ddd;padding:.15em .5em;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.mark td{background:#fff4c2;font-weight:600}"
    "code{background:#f3f3f3;padding:0 .25em;border-radius:3px}"
    "p.from{color:#555;font-size:.85em;margin:.2em 0 1em}"
    "p.missing{color:#8a4b00;background:#fff7ec;border-left:3px solid #e0a040;padding:.3em .6em}"
    "p.headline{font-size:1.25em}span.bad{color:#b00020;font-weight:600}"
    "span.good{color:#17602b;font-weight:600}"
    "figure{margin:.5em 0 1em}figure.small{display:inline-block;vertical-align:top;"
    "margin-right:1em;width:22em}figcaption{font-size:.85em;color:#333}"
    "svg{display:block;max-width:100%;height:auto}svg text{font-size:11px;fill:#1b1b1b}"
    "svg text.val{font-size:9px}"
    "svg .axis{stroke:#888;stroke-width:1}svg .grid{stroke:#e4e4e4;stroke-width:1}"
    "svg .local{fill:#4477aa}svg .accum{fill:#ee8866}svg .col{fill:#5a7fa8}"
    "svg .clip{fill:#f6d36b;fill-opacity:.35;stroke:#c79a00}"
    "svg .range{fill:#5a7fa8}svg .widest{fill:#b00020}svg .zero{stroke:#444;stroke-dasharray:3 2}"
    "dl.fields{display:grid;grid-template-columns:max-content auto;gap:0 1em;font-size:.9em}"
    "dl.fields dt{color:#555}dl.fields dd{margin:0}"
    "details{margin:.3em 0}summary{cursor:pointer;color:#333}";

void html_page_begin(StrBuf *b, const char *title)
{
    strbuf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>");
    html_escape(b, title);
    strbuf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n", style_sheet);
}

void html_page_end(StrBuf *b)
{
    strbuf_printf(b, "</body>\n</html>\n");
}

void html_section_begin(StrBuf *b, const char *id, const char *title)
{
    strbuf_printf(b, "<section id=\"%s\">\n", id);
    html_elem(b, "h2", NULL, title);
}

void html_section_end(StrBuf *b)
{
    strbuf_printf(b, "</section>\n");
}

void html_elem(StrBuf *b, const char *tag, const char *cls, const char *text)
{
    if (cls)
        strbuf_printf(b, "<%s class=\"%s\">", tag, cls);
    else
        strbuf_printf(b, "<%s>", tag);
    html_escape(b, text);
    strbuf_printf(b, "</%s>\n", tag);
}

void html_elemf(StrBuf *b, const char *tag, const char *cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    text[0] = '\0';
    if (n > 0) {
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    html_elem(b, tag, cls, text);
    free(text);
}

void html_from(StrBuf *b, const char *cmd)
{
    strbuf_printf(b, "<p class=\"from\">from <code>");
    html_escape(b, cmd);
    strbuf_printf(b, "</code></p>\n");
}

void html_missing(StrBuf *b, const char *what, const char *why)
{
    strbuf_printf(b, "<p class=\"missing\">");
    html_escape(b, what);
    strbuf_printf(b, ": ");
    html_escape(b, why);
    strbuf_printf(b, "</p>\n");
}

void html_details_begin(StrBuf *b, const char *summary)
{
    strbuf_printf(b, "<details>\n<summary>");
    html_escape(b, summary);
    strbuf_printf(b, "</summary>\n");
}

void html_details_end(StrBuf *b)
{
    strbuf_printf(b, "</details>\n");
}
