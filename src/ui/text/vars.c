#include "text/vars.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "text/strbuf.h"

void vars_release(VarTable *v)
{
    for (int i = 0; i < v->n; i++) {
        free(v->name[i]);
        free(v->value[i]);
    }
    free(v->name);
    free(v->value);
    memset(v, 0, sizeof *v);
}

static int vars_index(const VarTable *v, const char *name, size_t len)
{
    for (int i = 0; i < v->n; i++)
        if (strlen(v->name[i]) == len && strncmp(v->name[i], name, len) == 0)
            return i;
    return -1;
}

const char *vars_get(const VarTable *v, const char *name)
{
    int i = vars_index(v, name, strlen(name));
    return i >= 0 ? v->value[i] : NULL;
}

static bool vars_name_char(char c)
{
    /* no '-' or '+': `check f1 >= fp32.f1-0.005` reads an offset after the name */
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

QsStatus vars_set(VarTable *v, const char *name, const char *value, QsError *err)
{
    bool ok = name[0] && (isalpha((unsigned char)name[0]) || name[0] == '_');
    for (const char *p = name; ok && *p; p++)
        ok = vars_name_char(*p);
    if (!ok)
        return qs_fail(err, QS_EINVAL, "'%s' is not a variable name (letters, digits, _ and ., "
                       "starting with a letter or _)", name);
    int i = vars_index(v, name, strlen(name));
    size_t len = strlen(value), old = i >= 0 ? strlen(v->value[i]) : 0;
    if (len > VARS_MAX_VALUE)
        return qs_fail(err, QS_ENOMEM, "variable '%s': a value of %zu bytes is over the "
                       "limit of %zu bytes per variable", name, len, VARS_MAX_VALUE);
    if (v->total - old + len > VARS_MAX_TOTAL)
        return qs_fail(err, QS_ENOMEM, "variable '%s': %zu more bytes would put all variables "
                       "over their limit of %zu bytes together", name, len - old,
                       VARS_MAX_TOTAL);
    v->total = v->total - old + len;
    if (i >= 0) {
        free(v->value[i]);
        v->value[i] = xstrdup(value);
        return QS_OK;
    }
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        v->name = xrealloc(v->name, (size_t)v->cap * sizeof *v->name);
        v->value = xrealloc(v->value, (size_t)v->cap * sizeof *v->value);
    }
    v->name[v->n] = xstrdup(name);
    v->value[v->n++] = xstrdup(value);
    return QS_OK;
}

QsStatus vars_define(VarTable *v, const char *def, QsError *err)
{
    const char *eq = strchr(def, '=');
    if (!eq || eq == def)
        return qs_fail(err, QS_EINVAL, "-D %s: expected NAME=VALUE", def);
    char *name = xstrdup(def);
    name[eq - def] = '\0';
    QsStatus st = vars_set(v, name, eq + 1, err);
    free(name);
    return st;
}

QsStatus vars_expand(const VarTable *v, const char *text, char **out, QsError *err)
{
    *out = NULL;
    if (!strstr(text, "${")) {
        *out = xstrdup(text);
        return QS_OK;
    }
    StrBuf b = { 0 };
    for (const char *p = text; *p;) {
        if (p[0] != '$' || p[1] != '{') {
            strbuf_append(&b, p++, 1);
            continue;
        }
        const char *name = p + 2, *end = strchr(name, '}');
        if (!end) {
            strbuf_release(&b);
            return qs_fail(err, QS_EINVAL, "unterminated ${ in: %s", text);
        }
        int i = vars_index(v, name, (size_t)(end - name));
        if (i < 0) {
            strbuf_release(&b);
            return qs_fail(err, QS_EINVAL, "${%.*s} is not defined (define it with 'let %.*s=...' "
                           "or -D %.*s=...)", (int)(end - name), name, (int)(end - name), name,
                           (int)(end - name), name);
        }
        size_t vlen = strlen(v->value[i]);
        if (b.len + vlen > VARS_MAX_VALUE) {
            strbuf_release(&b);
            return qs_fail(err, QS_ENOMEM, "expanding ${%.*s}: the command would grow over "
                           "the limit of %zu bytes", (int)(end - name), name, VARS_MAX_VALUE);
        }
        strbuf_append(&b, v->value[i], vlen);
        p = end + 1;
    }
    *out = b.s ? strbuf_take(&b) : xstrdup("");
    return QS_OK;
}
