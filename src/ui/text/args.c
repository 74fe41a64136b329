#include "text/args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "text/strbuf.h"

QsStatus args_split_line(const char *line, char ***cmds, int *n, QsError *err)
{
    *cmds = NULL;
    *n = 0;
    /* scripts, -c and typed lines alike: UTF-8 without escape sequences (base/utf8.h) */
    if (utf8_check_text(line, strlen(line), "the line", err))
        return err->code;
    StrBuf cur = { 0 };
    char quote = 0;
    for (const char *p = line;; p++) {
        char c = *p;
        if (quote) {
            if (c == '\0' || c == '\n') {
                strbuf_release(&cur);
                args_free_split(*cmds, *n);
                *cmds = NULL;
                *n = 0;
                return qs_fail(err, QS_EINVAL, "unterminated %c quote", quote);
            }
            if (c == '\\' && quote == '"' && p[1]) {
                strbuf_append(&cur, p, 2);
                p++;
                continue;
            }
            if (c == quote)
                quote = 0;
            strbuf_append(&cur, p, 1);
            continue;
        }
        if (c == '#') { /* a comment runs to the end of its line */
            while (p[1] && p[1] != '\n')
                p++;
            continue;
        }
        /* ';' and newlines both end a command, so -c strings may span lines */
        if (c == '\0' || c == '\n' || c == ';') {
            char *text = strbuf_take(&cur);
            const char *s = text;
            while (isspace((unsigned char)*s))
                s++;
            if (*s) {
                *cmds = xrealloc(*cmds, (size_t)(*n + 1) * sizeof **cmds);
                (*cmds)[(*n)++] = xstrdup(s);
            }
            free(text);
            if (c == '\0')
                break;
            continue;
        }
        if (c == '"' || c == '\'')
            quote = c;
        strbuf_append(&cur, p, 1);
    }
    return QS_OK;
}

void args_free_split(char **cmds, int n)
{
    for (int i = 0; i < n; i++)
        free(cmds[i]);
    free(cmds);
}

void args_release(CmdArgs *a)
{
    free(a->name);
    for (int i = 0; i < a->n_pos; i++)
        free(a->pos[i]);
    for (int i = 0; i < a->n_kv; i++) {
        free(a->keys[i]);
        free(a->vals[i]);
    }
    free(a->pos);
    free(a->keys);
    free(a->vals);
    memset(a, 0, sizeof *a);
}

/* Reads one token starting at *pp into out (unquoted); returns the length of the part of
 * the raw token before any quote, which decides whether it names an option. */
static QsStatus next_token(const char **pp, StrBuf *out, size_t *eq_at, QsError *err)
{
    const char *p = *pp;
    char quote = 0;
    *eq_at = (size_t)-1;
    bool quoted_seen = false;
    for (; *p && (quote || !isspace((unsigned char)*p)); p++) {
        if (quote) {
            if (*p == quote) {
                quote = 0;
                continue;
            }
            if (quote == '"' && *p == '\\' && p[1]) {
                p++;
                char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                strbuf_append(out, &c, 1);
                continue;
            }
            strbuf_append(out, p, 1);
            continue;
        }
        if (*p == '"' || *p == '\'') {
            quote = *p;
            quoted_seen = true;
            continue;
        }
        if (*p == '=' && *eq_at == (size_t)-1 && !quoted_seen)
            *eq_at = out->len;
        strbuf_append(out, p, 1);
    }
    if (quote)
        return qs_fail(err, QS_EINVAL, "unterminated %c quote", quote);
    *pp = p;
    return QS_OK;
}

static bool is_key(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

QsStatus args_parse(const char *text, CmdArgs *a, QsError *err)
{
    memset(a, 0, sizeof *a);
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        StrBuf tok = { 0 };
        size_t eq;
        if (next_token(&p, &tok, &eq, err)) {
            strbuf_release(&tok);
            args_release(a);
            return err->code;
        }
        char *t = strbuf_take(&tok);
        if (!a->name) {
            a->name = t;
        } else if (eq != (size_t)-1 && is_key(t, eq) && t[eq + 1] != '=') {
            /* "a==b" is a comparison (for `check`), not the option a with value "=b" */
            a->keys = xrealloc(a->keys, (size_t)(a->n_kv + 1) * sizeof *a->keys);
            a->vals = xrealloc(a->vals, (size_t)(a->n_kv + 1) * sizeof *a->vals);
            t[eq] = '\0';
            a->keys[a->n_kv] = xstrdup(t);
            a->vals[a->n_kv] = xstrdup(t + eq + 1);
            a->n_kv++;
            free(t);
        } else {
            a->pos = xrealloc(a->pos, (size_t)(a->n_pos + 1) * sizeof *a->pos);
            a->pos[a->n_pos++] = t;
        }
    }
    if (!a->name)
        return qs_fail(err, QS_EINVAL, "empty command");
    return QS_OK;
}

const char *arg_str(const CmdArgs *a, const char *key, const char *def)
{
    /* the last occurrence wins, as on most command lines */
    for (int i = a->n_kv - 1; i >= 0; i--)
        if (strcmp(a->keys[i], key) == 0)
            return a->vals[i];
    return def;
}

bool arg_has(const CmdArgs *a, const char *key) { return arg_str(a, key, NULL) != NULL; }

QsStatus parse_long(const char *key, const char *s, long *out, QsError *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno)
        return qs_fail(err, QS_EINVAL, "%s=%s: expected an integer", key, s);
    *out = v;
    return QS_OK;
}

QsStatus parse_double(const char *key, const char *s, double *out, QsError *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return qs_fail(err, QS_EINVAL, "%s=%s: expected a finite number", key, s);
    *out = v;
    return QS_OK;
}

QsStatus parse_choice(const char *key, const char *s, const char *const *choices, int *out,
                      QsError *err)
{
    StrBuf list = { 0 };
    for (int i = 0; choices[i]; i++) {
        if (strcmp(choices[i], s) == 0) {
            *out = i;
            strbuf_release(&list);
            return QS_OK;
        }
        strbuf_printf(&list, "%s%s", i ? "|" : "", choices[i]);
    }
    qs_fail(err, QS_EINVAL, "%s=%s: expected one of %s", key, s, list.s ? list.s : "");
    strbuf_release(&list);
    return QS_EINVAL;
}

QsStatus arg_int(const CmdArgs *a, const char *key, long def, long *out, QsError *err)
{
    const char *s = arg_str(a, key, NULL);
    if (!s) {
        *out = def;
        return QS_OK;
    }
    return parse_long(key, s, out, err);
}

QsStatus arg_int_range(const CmdArgs *a, const char *key, long def, long lo, long hi, long *out,
                       QsError *err)
{
    if (arg_int(a, key, def, out, err))
        return err->code;
    if (*out < lo || *out > hi)
        return qs_fail(err, QS_EINVAL, "%s=%ld: expected %ld to %ld", key, *out, lo, hi);
    return QS_OK;
}

QsStatus arg_float(const CmdArgs *a, const char *key, double def, double *out, QsError *err)
{
    const char *s = arg_str(a, key, NULL);
    if (!s) {
        *out = def;
        return QS_OK;
    }
    return parse_double(key, s, out, err);
}

QsStatus parse_bool(const char *key, const char *s, bool *out, QsError *err)
{
    static const char *const words[] = { "0", "1", "no", "yes", "off", "on", "false", "true",
                                         NULL };
    int k;
    if (parse_choice(key, s, words, &k, err))
        return err->code;
    *out = k % 2 == 1;
    return QS_OK;
}

QsStatus arg_bool(const CmdArgs *a, const char *key, bool def, bool *out, QsError *err)
{
    const char *s = arg_str(a, key, NULL);
    if (!s) {
        *out = def;
        return QS_OK;
    }
    return parse_bool(key, s, out, err);
}

QsStatus arg_choice(const CmdArgs *a, const char *key, const char *const *choices, int def,
                    int *out, QsError *err)
{
    const char *s = arg_str(a, key, NULL);
    if (!s) {
        *out = def;
        return QS_OK;
    }
    return parse_choice(key, s, choices, out, err);
}

void args_quote(StrBuf *b, const char *s)
{
    /* '=' after a key would make an option of it; "drop<=1%" stays as it is */
    const char *eq = strchr(s, '=');
    bool plain = s[0] != '\0' && !strpbrk(s, " \"';#\\\t\n\r\v\f") &&
                 !(eq && is_key(s, (size_t)(eq - s)));
    if (plain) {
        strbuf_append(b, s, strlen(s));
        return;
    }
    strbuf_append(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            strbuf_append(b, "\\", 1);
        strbuf_append(b, p, 1);
    }
    strbuf_append(b, "\"", 1);
}
