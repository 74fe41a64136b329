#include <math.h>
#include <stdio.h>
#include <string.h>

#include "text/render.h"
#include "text/strbuf.h"

static void human_bytes(StrBuf *b, double x)
{
    static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
    int u = 0;
    while (x >= 1000.0 && u < 4) {
        x /= 1000.0;
        u++;
    }
    if (u == 0)
        strbuf_printf(b, "%.0f B", x);
    else
        strbuf_printf(b, "%.1f %s", x, units[u]);
}

void render_value_append(StrBuf *b, const RValue *v)
{
    if (!v) { /* a key a result does not hold reads as an absent value */
        strbuf_printf(b, "-");
        return;
    }
    switch (v->type) {
    case RV_NULL:
        strbuf_printf(b, "-");
        return;
    case RV_BOOL:
        strbuf_printf(b, "%s", v->i ? "yes" : "no");
        return;
    case RV_STR:
        strbuf_printf(b, "%s", v->s);
        return;
    case RV_INT:
        if (v->style == RS_BYTES)
            human_bytes(b, (double)v->i);
        else
            strbuf_printf(b, "%lld", (long long)v->i);
        return;
    case RV_RANGE:
        strbuf_printf(b, "[%.3g, %.3g]", v->f, v->hi);
        return;
    case RV_INTS:
        for (int k = 0; k < v->n_ints; k++)
            strbuf_printf(b, k ? ",%lld" : "%lld", (long long)v->ints[k]);
        return;
    case RV_FLOAT:
        break;
    }
    double f = v->f;
    if (isnan(f)) {
        strbuf_printf(b, "-");
        return;
    }
    switch (v->style) {
    case RS_PCT:
        strbuf_printf(b, "%.2f %%", 100.0 * f);
        break;
    case RS_DB:
        if (isinf(f))
            strbuf_printf(b, "%sinf dB", f < 0 ? "-" : "");
        else
            strbuf_printf(b, "%.2f dB", f);
        break;
    case RS_BYTES:
        human_bytes(b, f);
        break;
    case RS_MS:
        strbuf_printf(b, "%.3f ms", f);
        break;
    case RS_FIXED4:
        strbuf_printf(b, "%.4f", f);
        break;
    case RS_PLAIN:
    default:
        strbuf_printf(b, "%.6g", f);
        break;
    }
}

void render_value(const RValue *v, char *buf, size_t cap)
{
    StrBuf b = { 0 };
    render_value_append(&b, v);
    snprintf(buf, cap, "%s", strbuf_str(&b));
    strbuf_release(&b);
}

static int is_numeric(const RValue *v) { return v->type == RV_INT || v->type == RV_FLOAT; }

/* The text of a table's cell, in cell (emptied first). */
static const char *render_cell(StrBuf *cell, const RValue *v)
{
    strbuf_clear(cell);
    render_value_append(cell, v);
    return strbuf_str(cell);
}

static void render_table(StrBuf *b, const RTable *t)
{
    int width[64] = { 0 };
    int nc = t->n_cols < 64 ? t->n_cols : 64;
    StrBuf cell = { 0 };
    for (int c = 0; c < nc; c++)
        width[c] = (int)strlen(t->cols[c]);
    for (int r = 0; r < t->n_rows; r++)
        for (int c = 0; c < nc; c++) {
            int w = (int)strlen(render_cell(&cell, &t->cells[r * t->n_cols + c]));
            if (w > width[c])
                width[c] = w;
        }
    for (int c = 0; c < nc; c++)
        strbuf_printf(b, "%s%-*s", c ? "  " : "", c == nc - 1 ? 0 : width[c], t->cols[c]);
    strbuf_printf(b, "\n");
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < nc; c++) {
            const RValue *v = &t->cells[r * t->n_cols + c];
            const char *text = render_cell(&cell, v);
            int last = c == nc - 1;
            if (is_numeric(v))
                strbuf_printf(b, "%s%*s", c ? "  " : "", width[c], text);
            else
                strbuf_printf(b, "%s%-*s", c ? "  " : "", last ? 0 : width[c], text);
        }
        strbuf_printf(b, "\n");
    }
    strbuf_release(&cell);
}

char *render_text(const Result *r)
{
    StrBuf b = { 0 }, value = { 0 };
    int kw = 0;
    for (int i = 0; i < r->n_fields; i++) {
        int w = (int)strlen(r->fields[i].key);
        if (w > kw)
            kw = w;
    }
    for (int i = 0; i < r->n_fields; i++) {
        const char *key = r->fields[i].key;
        strbuf_printf(&b, "%s:", key);
        strbuf_pad(&b, ' ', kw + 1 - (int)strlen(key));
        strbuf_printf(&b, "%s\n", render_cell(&value, &r->fields[i].v));
    }
    strbuf_release(&value);
    for (int t = 0; t < r->n_tables; t++) {
        if (b.len)
            strbuf_printf(&b, "\n");
        if (r->n_tables > 1) /* several tables need their names to be told apart */
            strbuf_printf(&b, "%s:\n", r->tables[t].name);
        render_table(&b, &r->tables[t]);
    }
    for (int i = 0; i < r->n_text; i++)
        strbuf_printf(&b, "%s\n", r->text[i]);
    return strbuf_take(&b);
}
