#include <math.h>
#include <stdio.h>
#include <string.h>

#include "text/render.h"
#include "text/strbuf.h"

static void human_bytes(double b, char *buf, size_t cap)
{
    static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
    int u = 0;
    while (b >= 1000.0 && u < 4) {
        b /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f B", b);
    else
        snprintf(buf, cap, "%.1f %s", b, units[u]);
}

void render_value(const RValue *v, char *buf, size_t cap)
{
    switch (v->type) {
    case RV_NULL:
        snprintf(buf, cap, "-");
        return;
    case RV_BOOL:
        snprintf(buf, cap, "%s", v->i ? "yes" : "no");
        return;
    case RV_STR:
        snprintf(buf, cap, "%s", v->s);
        return;
    case RV_INT:
        if (v->style == RS_BYTES)
            human_bytes((double)v->i, buf, cap);
        else
            snprintf(buf, cap, "%lld", (long long)v->i);
        return;
    case RV_RANGE:
        snprintf(buf, cap, "[%.3g, %.3g]", v->f, v->hi);
        return;
    case RV_INTS:
        buf[0] = '\0';
        for (size_t k = 0, len = 0; k < (size_t)v->n_ints && len < cap; k++)
            len += (size_t)snprintf(buf + len, cap - len, k ? ",%lld" : "%lld",
                                    (long long)v->ints[k]);
        return;
    case RV_FLOAT:
        break;
    }
    double f = v->f;
    if (isnan(f)) {
        snprintf(buf, cap, "-");
        return;
    }
    switch (v->style) {
    case RS_PCT:
        snprintf(buf, cap, "%.2f %%", 100.0 * f);
        break;
    case RS_DB:
        if (isinf(f))
            snprintf(buf, cap, "%sinf dB", f < 0 ? "-" : "");
        else
            snprintf(buf, cap, "%.2f dB", f);
        break;
    case RS_BYTES:
        human_bytes(f, buf, cap);
        break;
    case RS_MS:
        snprintf(buf, cap, "%.3f ms", f);
        break;
    case RS_FIXED4:
        snprintf(buf, cap, "%.4f", f);
        break;
    case RS_PLAIN:
    default:
        snprintf(buf, cap, "%.6g", f);
        break;
    }
}

static int is_numeric(const RValue *v) { return v->type == RV_INT || v->type == RV_FLOAT; }

static void render_table(StrBuf *b, const RTable *t)
{
    enum { CELL = 256 };
    int width[64] = { 0 };
    int nc = t->n_cols < 64 ? t->n_cols : 64;
    char cellbuf[CELL];
    for (int c = 0; c < nc; c++)
        width[c] = (int)strlen(t->cols[c]);
    for (int r = 0; r < t->n_rows; r++)
        for (int c = 0; c < nc; c++) {
            render_value(&t->cells[r * t->n_cols + c], cellbuf, sizeof cellbuf);
            int w = (int)strlen(cellbuf);
            if (w > width[c])
                width[c] = w;
        }
    for (int c = 0; c < nc; c++)
        strbuf_printf(b, "%s%-*s", c ? "  " : "", c == nc - 1 ? 0 : width[c], t->cols[c]);
    strbuf_printf(b, "\n");
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < nc; c++) {
            const RValue *v = &t->cells[r * t->n_cols + c];
            render_value(v, cellbuf, sizeof cellbuf);
            int last = c == nc - 1;
            if (is_numeric(v))
                strbuf_printf(b, "%s%*s", c ? "  " : "", width[c], cellbuf);
            else
                strbuf_printf(b, "%s%-*s", c ? "  " : "", last ? 0 : width[c], cellbuf);
        }
        strbuf_printf(b, "\n");
    }
}

char *render_text(const Result *r)
{
    StrBuf b = { 0 };
    int kw = 0;
    char buf[256];
    for (int i = 0; i < r->n_fields; i++) {
        int w = (int)strlen(r->fields[i].key);
        if (w > kw)
            kw = w;
    }
    for (int i = 0; i < r->n_fields; i++) {
        char key[128];
        snprintf(key, sizeof key, "%s:", r->fields[i].key);
        render_value(&r->fields[i].v, buf, sizeof buf);
        strbuf_printf(&b, "%-*s %s\n", kw + 1, key, buf);
    }
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
