#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/utf8.h"
#include "text/render.h"

/* JSON has no NaN or Inf: a figure that does not exist is null, an infinite SQNR
 * (identical outputs) is the string "inf" so it is not mistaken for missing. */
static cJSON *number_json(double f)
{
    if (isnan(f))
        return cJSON_CreateNull();
    if (isinf(f))
        return cJSON_CreateString(f > 0 ? "inf" : "-inf");
    return cJSON_CreateNumber(f);
}

static cJSON *value_json(const RValue *v)
{
    switch (v->type) {
    case RV_INT:
        return cJSON_CreateNumber((double)v->i);
    case RV_FLOAT:
        return number_json(v->f);
    case RV_INTS: {
        cJSON *a = cJSON_CreateArray();
        for (int k = 0; k < v->n_ints; k++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v->ints[k]));
        return a;
    }
    case RV_RANGE: {
        cJSON *a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, number_json(v->f));
        cJSON_AddItemToArray(a, number_json(v->hi));
        return a;
    }
    case RV_STR:
        return cJSON_CreateString(v->s);
    case RV_BOOL:
        return cJSON_CreateBool((int)v->i);
    case RV_NULL:
    default:
        return cJSON_CreateNull();
    }
}

char *render_json_print(const cJSON *o, bool formatted)
{
    char *s = formatted ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
    QS_ASSERT(s);
    size_t n = strlen(s);
    char *line = xmalloc(n + 2);
    memcpy(line, s, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    cJSON_free(s);
    /* cJSON copies string bytes as they are: outside strings its output is ASCII, so
     * replacing invalid bytes keeps the document's structure */
    utf8_make_safe(line, false);
    return line;
}

static char *print_line(cJSON *o)
{
    char *line = render_json_print(o, false);
    cJSON_Delete(o);
    return line;
}

cJSON *render_json_object(const Result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cmd", r->cmd);
    cJSON_AddBoolToObject(o, "ok", 1);
    for (int i = 0; i < r->n_fields; i++)
        cJSON_AddItemToObject(o, r->fields[i].key, value_json(&r->fields[i].v));
    for (int t = 0; t < r->n_tables; t++) {
        const RTable *tb = &r->tables[t];
        cJSON *arr = cJSON_CreateArray();
        for (int row = 0; row < tb->n_rows; row++) {
            cJSON *ro = cJSON_CreateObject();
            for (int c = 0; c < tb->n_cols; c++)
                cJSON_AddItemToObject(ro, tb->cols[c], value_json(&tb->cells[row * tb->n_cols + c]));
            cJSON_AddItemToArray(arr, ro);
        }
        cJSON_AddItemToObject(o, tb->name, arr);
    }
    if (r->n_text) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < r->n_text; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(r->text[i]));
        cJSON_AddItemToObject(o, "text", arr);
    }
    return o;
}

char *render_json(const Result *r) { return print_line(render_json_object(r)); }

char *render_json_error(const char *cmd, const char *code, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cmd", cmd ? cmd : "");
    cJSON_AddBoolToObject(o, "ok", 0);
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddStringToObject(o, "code", code);
    return print_line(o);
}
