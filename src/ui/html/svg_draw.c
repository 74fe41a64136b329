#include "html/svg_draw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "html/html_page.h"

/* A coordinate the SVG parser accepts: a non-finite one (which would be a console error
 * and no shape) becomes 0. */
static double fin(double v)
{
    return isfinite(v) ? v : 0.0;
}

void svg_begin(StrBuf *b, const char *id, const char *cls, int w, int h, const char *label)
{
    strbuf_printf(b, "<svg");
    if (id)
        strbuf_printf(b, " id=\"%s\"", id);
    strbuf_printf(b, " class=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                     "role=\"img\">\n", cls, w, h, w, h);
    html_elem(b, "title", NULL, label);
}

void svg_end(StrBuf *b)
{
    strbuf_printf(b, "</svg>\n");
}

void svg_rect(StrBuf *b, const char *cls, double x, double y, double w, double h,
              const char *title)
{
    strbuf_printf(b, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"",
                  cls, fin(x), fin(y), w > 0 ? fin(w) : 0, h > 0 ? fin(h) : 0);
    if (!title) {
        strbuf_printf(b, "/>\n");
        return;
    }
    strbuf_printf(b, "><title>");
    html_escape(b, title);
    strbuf_printf(b, "</title></rect>\n");
}

void svg_line(StrBuf *b, const char *cls, double x1, double y1, double x2, double y2)
{
    strbuf_printf(b, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                  cls, fin(x1), fin(y1), fin(x2), fin(y2));
}

void svg_text(StrBuf *b, const char *cls, double x, double y, const char *anchor,
              const char *text)
{
    strbuf_printf(b, "<text");
    if (cls)
        strbuf_printf(b, " class=\"%s\"", cls);
    strbuf_printf(b, " x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", fin(x), fin(y), anchor);
    html_escape(b, text);
    strbuf_printf(b, "</text>\n");
}

void svg_num(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.4g", v == 0 ? 0.0 : v);
}

void svg_tail(char *buf, size_t cap, const char *s, int max)
{
    size_t len = strlen(s);
    int chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    if (chars <= max || max < 2) {
        snprintf(buf, cap, "%s", s);
        return;
    }
    /* keep the last max - 1 characters: walk back to the start of that many */
    const char *p = s + len;
    for (int kept = 0; kept < max - 1 && p > s;) {
        p--;
        kept += ((unsigned char)*p & 0xC0) != 0x80;
    }
    snprintf(buf, cap, "\u2026%s", p);
}
