/* The JSON readers' text checks (jsontext.h). */
#include "native/jsontext.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"

size_t json_nul_escape_at(const char *s, size_t n)
{
    /* A backslash only occurs inside strings, and "\\" is skipped whole, so every escape
     * is seen once. */
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\')
            continue;
        if (n - i >= 6 && memcmp(s + i, "\\u0000", 6) == 0)
            return i;
        i++;
    }
    return n;
}

/* j's members; text_values: its strings are text; text_key: the member of j whose strings
 * are text (only at the root). Recursion is bounded by cJSON's nesting limit. */
static QsStatus check_tree(const cJSON *j, const char *where, bool text_values,
                           const char *text_key, QsError *e)
{
    char what[200];
    for (const cJSON *it = j->child; it; it = it->next) {
        if (it->string) {
            snprintf(what, sizeof what, "a key in %s", where);
            if (utf8_check_name(it->string, what, e))
                return e->code;
            /* checked, so it may be quoted */
            snprintf(what, sizeof what, "the value of '%.60s' in %s", it->string, where);
        } else {
            snprintf(what, sizeof what, "an element in %s", where);
        }
        if (cJSON_IsString(it)) {
            bool text = text_values || (it->string && strcmp(it->string, "s") == 0);
            QsStatus st = text ? utf8_check_text(it->valuestring, strlen(it->valuestring),
                                                 what, e)
                               : utf8_check_name(it->valuestring, what, e);
            if (st)
                return st;
        } else if (it->child) {
            bool text = text_key && it->string && strcmp(it->string, text_key) == 0;
            char inner[160];
            if (it->string)
                snprintf(inner, sizeof inner, "'%.60s'", it->string);
            else
                snprintf(inner, sizeof inner, "an element in %.100s", where);
            if (check_tree(it, inner, text, NULL, e))
                return e->code;
        }
    }
    return QS_OK;
}

QsStatus json_check_names(const cJSON *root, const char *where, const char *text_key,
                          QsError *err)
{
    return check_tree(root, where, false, text_key, err);
}
