#include "text/result.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void result_init(Result *r, const char *cmd)
{
    memset(r, 0, sizeof *r);
    r->cmd = xstrdup(cmd ? cmd : "");
}

static void value_release(RValue *v)
{
    if (v->type == RV_STR)
        free(v->s);
    if (v->type == RV_INTS)
        free(v->ints);
    memset(v, 0, sizeof *v);
}

void result_release(Result *r)
{
    if (!r)
        return;
    free(r->cmd);
    for (int i = 0; i < r->n_fields; i++) {
        free(r->fields[i].key);
        value_release(&r->fields[i].v);
    }
    free(r->fields);
    for (int t = 0; t < r->n_tables; t++) {
        RTable *tb = &r->tables[t];
        free(tb->name);
        for (int c = 0; c < tb->n_cols; c++)
            free(tb->cols[c]);
        free(tb->cols);
        for (int i = 0; i < tb->n_rows * tb->n_cols; i++)
            value_release(&tb->cells[i]);
        free(tb->cells);
    }
    free(r->tables);
    for (int i = 0; i < r->n_text; i++)
        free(r->text[i]);
    free(r->text);
    memset(r, 0, sizeof *r);
}

void result_reset(Result *r, const char *cmd)
{
    result_release(r);
    result_init(r, cmd);
}

/* The keys the JSON renderer writes itself, beside a result's fields and tables. */
static const char *const renderer_keys[] = { "cmd", "ok", "text", NULL };

static bool key_taken(const Result *r, const char *key)
{
    for (const char *const *k = renderer_keys; *k; k++)
        if (strcmp(*k, key) == 0)
            return true;
    for (int i = 0; i < r->n_fields; i++)
        if (strcmp(r->fields[i].key, key) == 0)
            return true;
    for (int t = 0; t < r->n_tables; t++)
        if (strcmp(r->tables[t].name, key) == 0)
            return true;
    return false;
}

/* A duplicate key is a handler's bug: stop with a message naming it (JSON readers would
 * silently keep one of the two values). */
static void assert_new_key(const Result *r, const char *key)
{
    if (!key_taken(r, key))
        return;
    char what[160];
    snprintf(what, sizeof what, "key '%.60s' is unique in the result of '%.60s'", key, r->cmd);
    qs_assert_fail(what, __FILE__, __LINE__);
}

static RValue *new_field(Result *r, const char *key)
{
    assert_new_key(r, key);
    r->fields = xrealloc(r->fields, (size_t)(r->n_fields + 1) * sizeof *r->fields);
    RField *f = &r->fields[r->n_fields++];
    f->key = xstrdup(key);
    memset(&f->v, 0, sizeof f->v);
    return &f->v;
}

void result_int(Result *r, const char *key, int64_t v)
{
    *new_field(r, key) = (RValue){ .type = RV_INT, .i = v };
}

void result_float(Result *r, const char *key, double v, RvStyle style)
{
    *new_field(r, key) = (RValue){ .type = RV_FLOAT, .f = v, .style = style };
}

void result_str(Result *r, const char *key, const char *v)
{
    RValue *f = new_field(r, key);
    if (v)
        *f = (RValue){ .type = RV_STR, .s = xstrdup(v) };
}

void result_bool(Result *r, const char *key, bool v)
{
    *new_field(r, key) = (RValue){ .type = RV_BOOL, .i = v };
}

void result_textf(Result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
    r->text = xrealloc(r->text, (size_t)(r->n_text + 1) * sizeof *r->text);
    r->text[r->n_text++] = s;
}

RTable *result_table(Result *r, const char *name, const char *const *cols)
{
    assert_new_key(r, name);
    r->tables = xrealloc(r->tables, (size_t)(r->n_tables + 1) * sizeof *r->tables);
    RTable *t = &r->tables[r->n_tables++];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    while (cols[t->n_cols])
        t->n_cols++;
    t->cols = xmalloc((size_t)t->n_cols * sizeof *t->cols);
    for (int c = 0; c < t->n_cols; c++) {
        for (int d = 0; d < c; d++)
            QS_ASSERT(strcmp(cols[d], cols[c]) != 0); /* a row object's keys are unique */
        t->cols[c] = xstrdup(cols[c]);
    }
    return t;
}

int rtable_add_row(RTable *t)
{
    if (t->n_rows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 16;
        t->cells = xrealloc(t->cells, (size_t)t->cap_rows * (size_t)t->n_cols * sizeof *t->cells);
    }
    memset(&t->cells[(size_t)t->n_rows * (size_t)t->n_cols], 0,
           (size_t)t->n_cols * sizeof *t->cells);
    return t->n_rows++;
}

static RValue *cell(RTable *t, int row, int col)
{
    QS_ASSERT(row >= 0 && row < t->n_rows && col >= 0 && col < t->n_cols);
    RValue *v = &t->cells[(size_t)row * (size_t)t->n_cols + (size_t)col];
    value_release(v);
    return v;
}

void rtable_int(RTable *t, int row, int col, int64_t v)
{
    *cell(t, row, col) = (RValue){ .type = RV_INT, .i = v };
}

void rtable_float(RTable *t, int row, int col, double v, RvStyle style)
{
    *cell(t, row, col) = (RValue){ .type = RV_FLOAT, .f = v, .style = style };
}

void rtable_str(RTable *t, int row, int col, const char *v)
{
    RValue *c = cell(t, row, col);
    if (v)
        *c = (RValue){ .type = RV_STR, .s = xstrdup(v) };
}

void rtable_bool(RTable *t, int row, int col, bool v)
{
    *cell(t, row, col) = (RValue){ .type = RV_BOOL, .i = v };
}

void rtable_range(RTable *t, int row, int col, double lo, double hi)
{
    *cell(t, row, col) = (RValue){ .type = RV_RANGE, .f = lo, .hi = hi };
}

void rtable_ints(RTable *t, int row, int col, const int *v, int n)
{
    RValue *c = cell(t, row, col);
    *c = (RValue){ .type = RV_INTS, .ints = xmalloc((size_t)(n > 0 ? n : 0) * sizeof *c->ints),
                   .n_ints = n > 0 ? n : 0 };
    for (int k = 0; k < c->n_ints; k++)
        c->ints[k] = v[k];
}

/* v's owned parts (text, lists) copied, so that the copy is released on its own. */
static void value_copy(RValue *dst, const RValue *src)
{
    *dst = *src;
    if (src->type == RV_STR)
        dst->s = xstrdup(src->s ? src->s : "");
    if (src->type == RV_INTS) {
        dst->ints = xmalloc((size_t)src->n_ints * sizeof *dst->ints);
        memcpy(dst->ints, src->ints, (size_t)src->n_ints * sizeof *dst->ints);
    }
}

void result_copy(Result *dst, const Result *src)
{
    result_init(dst, src->cmd);
    for (int i = 0; i < src->n_fields; i++)
        value_copy(new_field(dst, src->fields[i].key), &src->fields[i].v);
    for (int t = 0; t < src->n_tables; t++) {
        const RTable *st = &src->tables[t];
        const char **cols = xcalloc((size_t)st->n_cols + 1, sizeof *cols);
        for (int c = 0; c < st->n_cols; c++)
            cols[c] = st->cols[c];
        RTable *dt = result_table(dst, st->name, cols);
        free(cols);
        for (int r = 0; r < st->n_rows; r++) {
            int row = rtable_add_row(dt);
            for (int c = 0; c < st->n_cols; c++)
                value_copy(&dt->cells[row * dt->n_cols + c], &st->cells[r * st->n_cols + c]);
        }
    }
    for (int i = 0; i < src->n_text; i++)
        result_textf(dst, "%s", src->text[i]);
}

const RValue *result_get(const Result *r, const char *key)
{
    for (int i = 0; i < r->n_fields; i++)
        if (strcmp(r->fields[i].key, key) == 0)
            return &r->fields[i].v;
    return NULL;
}

const RTable *result_find_table(const Result *r, const char *name)
{
    for (int t = 0; t < r->n_tables; t++)
        if (strcmp(r->tables[t].name, name) == 0)
            return &r->tables[t];
    return NULL;
}

int rtable_col(const RTable *t, const char *col)
{
    if (!t)
        return -1;
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->cols[c], col) == 0)
            return c;
    return -1;
}

const RValue *rtable_cell(const RTable *t, int row, int col)
{
    if (!t || col < 0 || col >= t->n_cols || row < 0 || row >= t->n_rows)
        return NULL;
    return &t->cells[row * t->n_cols + col];
}

double rvalue_num(const RValue *v)
{
    if (!v)
        return NAN;
    switch (v->type) {
    case RV_FLOAT:
        return v->f;
    case RV_INT:
    case RV_BOOL:
        return (double)v->i;
    default:
        return NAN;
    }
}

const char *rvalue_str(const RValue *v)
{
    return v && v->type == RV_STR ? v->s : NULL;
}
