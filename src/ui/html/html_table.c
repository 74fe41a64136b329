#include "html/html_table.h"

#include <string.h>

#include "html/html_page.h"
#include "text/render.h"

/* A value as the text renderer shows it; a string whole (render_value's buffer would cut a
 * long name, perhaps inside a UTF-8 sequence). */
static void value_html(StrBuf *b, const RValue *v)
{
    if (v->type == RV_STR) {
        html_escape(b, v->s);
        return;
    }
    char cell[64];
    render_value(v, cell, sizeof cell);
    html_escape(b, cell);
}

void html_fields(StrBuf *b, const Result *r)
{
    if (!r->n_fields)
        return;
    strbuf_printf(b, "<dl class=\"fields\">\n");
    for (int i = 0; i < r->n_fields; i++) {
        html_elem(b, "dt", NULL, r->fields[i].key);
        strbuf_printf(b, "<dd>");
        value_html(b, &r->fields[i].v);
        strbuf_printf(b, "</dd>\n");
    }
    strbuf_printf(b, "</dl>\n");
}

void html_rtable(StrBuf *b, const RTable *t, int mark)
{
    strbuf_printf(b, "<table class=\"result\" data-table=\"");
    html_escape(b, t->name);
    strbuf_printf(b, "\">\n<thead><tr>");
    for (int c = 0; c < t->n_cols; c++) {
        strbuf_printf(b, "<th>");
        html_escape(b, t->cols[c]);
        strbuf_printf(b, "</th>");
    }
    strbuf_printf(b, "</tr></thead>\n<tbody>\n");
    for (int r = 0; r < t->n_rows; r++) {
        strbuf_printf(b, r == mark ? "<tr class=\"mark\">" : "<tr>");
        for (int c = 0; c < t->n_cols; c++) {
            const RValue *v = &t->cells[r * t->n_cols + c];
            bool num = v->type == RV_INT || v->type == RV_FLOAT;
            strbuf_printf(b, num ? "<td class=\"num\">" : "<td>");
            value_html(b, v);
            strbuf_printf(b, "</td>");
        }
        strbuf_printf(b, "</tr>\n");
    }
    strbuf_printf(b, "</tbody>\n</table>\n");
}

int html_row_with(const RTable *t, const char *col, const char *val)
{
    int c = rtable_col(t, col);
    for (int r = 0; t && c >= 0 && r < t->n_rows; r++) {
        const char *s = rvalue_str(rtable_cell(t, r, c));
        if (s && strcmp(s, val) == 0)
            return r;
    }
    return -1;
}
