#include "spec.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "fileio.h"

#define SPEC_MAX_VALUES 4096

static const char *const top_keys[] = { "input", "layers", "seed", "task", "labels", "name",
                                        "source", NULL };
static const char *const layer_keys[] = { "kind", "name", "out", "kernel", "stride", "pad",
                                          "dilation", "groups", "depthwise", "bias", "alpha",
                                          "p", "axis", "values", NULL };

static QsStatus check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                           QsError *err)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            ok |= strcmp(allowed[i], it->string) == 0;
        if (!ok)
            return qs_fail(err, QS_EFORMAT, "%s: unknown key '%s'", where, it->string);
    }
    return QS_OK;
}

static QsStatus get_int(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out,
                        const char *where, QsError *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j)
        return QS_OK;
    double d = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return qs_fail(err, QS_EFORMAT, "%s: '%s' must be an integer from %lld to %lld", where,
                       key, (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return QS_OK;
}

static QsStatus get_float(const cJSON *obj, const char *key, float *out, const char *where,
                          QsError *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j)
        return QS_OK;
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
        return qs_fail(err, QS_EFORMAT, "%s: '%s' must be a number", where, key);
    *out = (float)j->valuedouble;
    return QS_OK;
}

static QsStatus get_bool(const cJSON *obj, const char *key, int *out, const char *where,
                         QsError *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j)
        return QS_OK;
    if (!cJSON_IsBool(j))
        return qs_fail(err, QS_EFORMAT, "%s: '%s' must be true or false", where, key);
    *out = cJSON_IsTrue(j);
    return QS_OK;
}

static QsStatus parse_layer(const cJSON *j, int index, LayerSpec *ls, float *values,
                            QsError *err)
{
    char where[64];
    snprintf(where, sizeof where, "layer %d", index + 1);
    if (!cJSON_IsObject(j))
        return qs_fail(err, QS_EFORMAT, "%s: expected an object", where);
    if (check_keys(j, layer_keys, where, err))
        return err->code;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    if (!cJSON_IsString(kind))
        return qs_fail(err, QS_EFORMAT, "%s: 'kind' (a string) is required", where);
    *ls = layer_spec_default(kind->valuestring);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    if (name && !cJSON_IsString(name))
        return qs_fail(err, QS_EFORMAT, "%s: 'name' must be a string", where);
    ls->name = name ? name->valuestring : NULL;
    const int64_t big = 1 << 20;
    if (get_int(j, "out", 1, big, &ls->out, where, err) ||
        get_int(j, "kernel", 1, 64, &ls->kernel, where, err) ||
        get_int(j, "stride", 1, 64, &ls->stride, where, err) ||
        get_int(j, "pad", 0, 64, &ls->pad, where, err) ||
        get_int(j, "dilation", 1, 64, &ls->dilation, where, err) ||
        get_int(j, "groups", 1, big, &ls->groups, where, err) ||
        get_int(j, "axis", -QS_MAX_DIMS, QS_MAX_DIMS - 1, &ls->axis, where, err) ||
        get_bool(j, "depthwise", &ls->depthwise, where, err) ||
        get_bool(j, "bias", &ls->bias, where, err) || get_float(j, "alpha", &ls->alpha, where, err) ||
        get_float(j, "p", &ls->p, where, err))
        return err->code;
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(j, "values");
    if (vals) {
        int n = cJSON_GetArraySize(vals);
        if (!cJSON_IsArray(vals) || n > SPEC_MAX_VALUES)
            return qs_fail(err, QS_EFORMAT, "%s: 'values' must be an array of at most %d numbers",
                           where, SPEC_MAX_VALUES);
        int i = 0;
        for (const cJSON *v = vals->child; v; v = v->next, i++) {
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                return qs_fail(err, QS_EFORMAT, "%s: values[%d] is not a number", where, i);
            values[i] = (float)v->valuedouble;
        }
        ls->values = values;
        ls->n_values = n;
    }
    return QS_OK;
}

static QsStatus parse_input(const cJSON *in, char *name, size_t cap, Shape *sample, QsError *err)
{
    static const char *const keys[] = { "name", "shape", NULL };
    if (!cJSON_IsObject(in))
        return qs_fail(err, QS_EFORMAT, "'input' must be an object {\"name\", \"shape\"}");
    if (check_keys(in, keys, "input", err))
        return err->code;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(in, "shape");
    snprintf(name, cap, "%s", cJSON_IsString(n) ? n->valuestring : "x");
    int nd = cJSON_GetArraySize(s);
    if (!cJSON_IsArray(s) || nd < 1 || nd > QS_MAX_DIMS - 1)
        return qs_fail(err, QS_EFORMAT, "input: 'shape' must list 1 to %d per-sample dims",
                       QS_MAX_DIMS - 1);
    sample->ndim = nd;
    int i = 0;
    for (const cJSON *d = s->child; d; d = d->next, i++) {
        if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > (1 << 24) ||
            d->valuedouble != floor(d->valuedouble))
            return qs_fail(err, QS_EFORMAT, "input: shape[%d] must be a positive integer", i);
        sample->dim[i] = (int64_t)d->valuedouble;
    }
    return QS_OK;
}

static void copy_meta(Model *m, const cJSON *root, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsString(j))
        model_meta_set(m, key, j->valuestring);
}

Model *spec_parse(const char *json, const char *what, int64_t seed, QsError *err)
{
    cJSON *root = cJSON_Parse(json);
    Model *m = NULL;
    float *values = NULL;
    QsStatus st = QS_OK;
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        qs_fail(err, QS_EFORMAT, "%s: invalid JSON near byte %ld", what,
                at ? (long)(at - json) : -1L);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        st = qs_fail(err, QS_EFORMAT, "spec: expected a JSON object");
        goto cleanup;
    }
    if ((st = check_keys(root, top_keys, "spec", err)))
        goto cleanup;
    int64_t spec_seed = 1;
    if ((st = get_int(root, "seed", 0, INT64_C(1) << 53, &spec_seed, "spec", err)))
        goto cleanup;
    if (seed >= 0)
        spec_seed = seed;
    char input[64];
    Shape sample;
    if ((st = parse_input(cJSON_GetObjectItemCaseSensitive(root, "input"), input, sizeof input,
                          &sample, err)))
        goto cleanup;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) == 0) {
        st = qs_fail(err, QS_EFORMAT, "spec: 'layers' must be a non-empty array");
        goto cleanup;
    }
    m = model_new();
    Builder b;
    if ((st = builder_begin(&b, m, input, &sample, (uint64_t)spec_seed, err)))
        goto cleanup;
    values = xmalloc(SPEC_MAX_VALUES * sizeof *values);
    int i = 0;
    for (const cJSON *l = layers->child; l; l = l->next, i++) {
        LayerSpec ls;
        if ((st = parse_layer(l, i, &ls, values, err)) || (st = builder_add(&b, &ls, err)))
            goto cleanup;
    }
    if ((st = builder_finish(&b, err)))
        goto cleanup;
    copy_meta(m, root, "task");
    copy_meta(m, root, "labels");
    copy_meta(m, root, "name");
    copy_meta(m, root, "source");
    char seedbuf[32];
    snprintf(seedbuf, sizeof seedbuf, "%lld", (long long)spec_seed);
    model_meta_set(m, "init_seed", seedbuf);
cleanup:
    free(values);
    cJSON_Delete(root);
    if (st) {
        qs_error_prefix(err, "%s", what);
        model_free(m);
        return NULL;
    }
    return m;
}

Model *spec_load(const char *path, int64_t seed, QsError *err)
{
    void *buf;
    size_t len;
    if (fileio_read(path, &buf, &len, err))
        return NULL;
    Model *m = spec_parse(buf, path, seed, err);
    free(buf);
    return m;
}
