#include "native/spec.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "graph/builder.h"
#include "io/fileio.h"
#include "native/jsontext.h"

#define SPEC_MAX_VALUES 4096

static const char *const top_keys[] = { "input", "inputs", "layers", "outputs", "seed", "task",
                                        "labels", "name", "source", "meta", "parts", NULL };
static const char *const layer_keys[] = { "kind", "name", "out", "kernel", "stride", "pad",
                                          "dilation", "groups", "depthwise", "bias", "alpha",
                                          "p", "axis", "values", "from", "axes", "keepdims",
                                          "scale", NULL };

#define SPEC_MAX_INPUTS 8
#define SPEC_MAX_NAME 63

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
    /* the builder keeps names in fixed buffers: a longer one would be cut, perhaps inside
     * a UTF-8 sequence */
    if (name && (!cJSON_IsString(name) || strlen(name->valuestring) > SPEC_MAX_NAME))
        return qs_fail(err, QS_EFORMAT, "%s: 'name' must be a string of at most %d bytes", where,
                       SPEC_MAX_NAME);
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
        get_float(j, "p", &ls->p, where, err) ||
        get_int(j, "scale", 1, 64, &ls->scale, where, err) ||
        get_bool(j, "keepdims", &ls->keepdims, where, err))
        return err->code;
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(j, "from");
    if (from) {
        if (cJSON_IsString(from)) {
            ls->from[0] = from->valuestring;
            ls->n_from = 1;
        } else {
            int n = cJSON_GetArraySize(from);
            if (!cJSON_IsArray(from) || n < 1 || n > BUILDER_MAX_FROM)
                return qs_fail(err, QS_EFORMAT, "%s: 'from' must be a value name or a list of 1 "
                               "to %d names", where, BUILDER_MAX_FROM);
            for (const cJSON *f = from->child; f; f = f->next) {
                if (!cJSON_IsString(f))
                    return qs_fail(err, QS_EFORMAT, "%s: 'from' must list names (strings)",
                                   where);
                ls->from[ls->n_from++] = f->valuestring;
            }
        }
    }
    const cJSON *axes = cJSON_GetObjectItemCaseSensitive(j, "axes");
    if (axes) {
        int n = cJSON_GetArraySize(axes);
        if (!cJSON_IsArray(axes) || n < 1 || n > QS_MAX_DIMS)
            return qs_fail(err, QS_EFORMAT, "%s: 'axes' must list 1 to %d axes", where,
                           QS_MAX_DIMS);
        for (const cJSON *a = axes->child; a; a = a->next) {
            double d = cJSON_IsNumber(a) ? a->valuedouble : NAN;
            if (!(d >= -QS_MAX_DIMS && d <= QS_MAX_DIMS - 1) || d != floor(d))
                return qs_fail(err, QS_EFORMAT, "%s: 'axes' entries must be integers from %d to "
                               "%d", where, -QS_MAX_DIMS, QS_MAX_DIMS - 1);
            ls->axes[ls->n_axes++] = (int64_t)d;
        }
    }
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

/* One input object {"name", "shape"}; `where` is "input" or "inputs[i]". */
static QsStatus parse_input(const cJSON *in, const char *where, char *name, size_t cap,
                            Shape *sample, QsError *err)
{
    static const char *const keys[] = { "name", "shape", NULL };
    if (!cJSON_IsObject(in))
        return qs_fail(err, QS_EFORMAT, "'%s' must be an object {\"name\", \"shape\"}", where);
    if (check_keys(in, keys, where, err))
        return err->code;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(in, "shape");
    if (n && (!cJSON_IsString(n) || !n->valuestring[0] || strlen(n->valuestring) >= cap))
        return qs_fail(err, QS_EFORMAT, "%s: 'name' must be a non-empty string of at most %zu "
                       "characters", where, cap - 1);
    snprintf(name, cap, "%s", n ? n->valuestring : "x");
    int nd = cJSON_GetArraySize(s);
    if (!cJSON_IsArray(s) || nd < 1 || nd > QS_MAX_DIMS - 1)
        return qs_fail(err, QS_EFORMAT, "%s: 'shape' must list 1 to %d per-sample dims", where,
                       QS_MAX_DIMS - 1);
    sample->ndim = nd;
    int i = 0;
    for (const cJSON *d = s->child; d; d = d->next, i++) {
        if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > (1 << 24) ||
            d->valuedouble != floor(d->valuedouble))
            return qs_fail(err, QS_EFORMAT, "%s: shape[%d] must be a positive integer", where,
                           i);
        sample->dim[i] = (int64_t)d->valuedouble;
    }
    return QS_OK;
}

/* Appends `names` (a non-empty array of value names of m) to buf, comma separated. */
static QsStatus parts_names(const Model *m, const cJSON *names, const char *where, char *buf,
                            size_t cap, QsError *err)
{
    if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) < 1)
        return qs_fail(err, QS_EFORMAT, "%s must list value names", where);
    int first = 1;
    for (const cJSON *it = names->child; it; it = it->next, first = 0) {
        if (!cJSON_IsString(it) || graph_find_value(&m->graph, it->valuestring) < 0)
            return qs_fail(err, QS_EFORMAT, "%s: '%s' is not a value of the model", where,
                           cJSON_IsString(it) ? it->valuestring : "?");
        if (strpbrk(it->valuestring, ",;=>"))
            return qs_fail(err, QS_EFORMAT, "%s: '%s' contains one of , ; = >", where,
                           it->valuestring);
        size_t used = strlen(buf);
        if ((size_t)snprintf(buf + used, cap - used, "%s%s", first ? "" : ",",
                             it->valuestring) >= cap - used)
            return qs_fail(err, QS_EFORMAT, "%s: too many names", where);
    }
    return QS_OK;
}

/* "parts": {"encoder": {"inputs": [..], "outputs": [..]}, ...} becomes the model meta
 * "parts" = "encoder=peers>pool;head=pool,ego>logits" (the form extract.h reads). */
static QsStatus parse_parts(Model *m, const cJSON *parts, QsError *err)
{
    static const char *const keys[] = { "inputs", "outputs", NULL };
    if (!parts)
        return QS_OK;
    if (!cJSON_IsObject(parts) || !parts->child)
        return qs_fail(err, QS_EFORMAT, "spec: 'parts' must be an object of named parts");
    char buf[2048] = "";
    for (const cJSON *p = parts->child; p; p = p->next) {
        char where[96];
        snprintf(where, sizeof where, "part '%.60s'", p->string);
        if (!cJSON_IsObject(p))
            return qs_fail(err, QS_EFORMAT, "%s must be an object {\"inputs\", \"outputs\"}",
                           where);
        if (check_keys(p, keys, where, err))
            return err->code;
        if (!p->string[0] || strpbrk(p->string, ",;=>"))
            return qs_fail(err, QS_EFORMAT, "%s: a part name must be non-empty without , ; = >",
                           where);
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used, "%s%s=", used ? ";" : "", p->string);
        if (parts_names(m, cJSON_GetObjectItemCaseSensitive(p, "inputs"), where, buf,
                        sizeof buf, err))
            return err->code;
        used = strlen(buf);
        snprintf(buf + used, sizeof buf - used, ">");
        if (parts_names(m, cJSON_GetObjectItemCaseSensitive(p, "outputs"), where, buf,
                        sizeof buf, err))
            return err->code;
    }
    model_meta_set(m, "parts", buf);
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
    /* text from a file: UTF-8 (utf8.h), no escaped NUL; names are checked on the tree */
    size_t len = strlen(json), nul = json_nul_escape_at(json, len);
    if (utf8_check_text(json, len, "the file", err) ||
        (nul < len && qs_fail(err, QS_EFORMAT, "escaped NUL (\\u0000) at byte %zu", nul))) {
        qs_error_prefix(err, "%s", what);
        return NULL;
    }
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
    if ((st = check_keys(root, top_keys, "spec", err)) ||
        (st = json_check_names(root, "spec", "meta", err)))
        goto cleanup;
    int64_t spec_seed = 1;
    if ((st = get_int(root, "seed", 0, INT64_C(1) << 53, &spec_seed, "spec", err)))
        goto cleanup;
    if (seed >= 0)
        spec_seed = seed;
    /* "inputs" lists several named inputs; "input" is the one-input shorthand. */
    char inames[SPEC_MAX_INPUTS][64];
    const char *inptr[SPEC_MAX_INPUTS];
    Shape samples[SPEC_MAX_INPUTS];
    int n_inputs = 0;
    const cJSON *in1 = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if ((in1 != NULL) == (ins != NULL)) {
        st = qs_fail(err, QS_EFORMAT, "spec: give exactly one of 'input' and 'inputs'");
        goto cleanup;
    }
    if (in1) {
        if ((st = parse_input(in1, "input", inames[0], sizeof inames[0], &samples[0], err)))
            goto cleanup;
        n_inputs = 1;
    } else {
        int n = cJSON_GetArraySize(ins);
        if (!cJSON_IsArray(ins) || n < 1 || n > SPEC_MAX_INPUTS) {
            st = qs_fail(err, QS_EFORMAT, "spec: 'inputs' must list 1 to %d inputs",
                         SPEC_MAX_INPUTS);
            goto cleanup;
        }
        for (const cJSON *it = ins->child; it; it = it->next, n_inputs++) {
            char where[32];
            snprintf(where, sizeof where, "inputs[%d]", n_inputs);
            if ((st = parse_input(it, where, inames[n_inputs], sizeof inames[0],
                                  &samples[n_inputs], err)))
                goto cleanup;
            if (!cJSON_GetObjectItemCaseSensitive(it, "name")) {
                st = qs_fail(err, QS_EFORMAT, "%s: 'name' is required when there are several "
                             "inputs", where);
                goto cleanup;
            }
        }
    }
    for (int i = 0; i < n_inputs; i++)
        inptr[i] = inames[i];
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) == 0) {
        st = qs_fail(err, QS_EFORMAT, "spec: 'layers' must be a non-empty array");
        goto cleanup;
    }
    m = model_new();
    Builder b;
    if ((st = builder_begin_inputs(&b, m, n_inputs, inptr, samples, (uint64_t)spec_seed, err)))
        goto cleanup;
    /* a spec asks for weights it does not hold: the budget of its own size */
    b.budget = budget_for_file((int64_t)strlen(json));
    values = xmalloc(SPEC_MAX_VALUES * sizeof *values);
    int i = 0;
    for (const cJSON *l = layers->child; l; l = l->next, i++) {
        LayerSpec ls;
        if ((st = parse_layer(l, i, &ls, values, err)) || (st = builder_add(&b, &ls, err)))
            goto cleanup;
    }
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (outs) {
        const char *onames[SPEC_MAX_INPUTS];
        int n_out = 0;
        if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) < 1 ||
            cJSON_GetArraySize(outs) > SPEC_MAX_INPUTS) {
            st = qs_fail(err, QS_EFORMAT, "spec: 'outputs' must list 1 to %d value names",
                         SPEC_MAX_INPUTS);
            goto cleanup;
        }
        for (const cJSON *o = outs->child; o; o = o->next) {
            if (!cJSON_IsString(o)) {
                st = qs_fail(err, QS_EFORMAT, "spec: 'outputs' must list names (strings)");
                goto cleanup;
            }
            onames[n_out++] = o->valuestring;
        }
        st = builder_finish_outputs(&b, n_out, onames, err);
    } else {
        st = builder_finish(&b, err);
    }
    if (st)
        goto cleanup;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
    if (meta) {
        if (!cJSON_IsObject(meta)) {
            st = qs_fail(err, QS_EFORMAT, "spec: 'meta' must be an object of strings");
            goto cleanup;
        }
        for (const cJSON *it = meta->child; it; it = it->next) {
            if (!cJSON_IsString(it)) {
                st = qs_fail(err, QS_EFORMAT, "spec: meta '%s' must be a string", it->string);
                goto cleanup;
            }
            model_meta_set(m, it->string, it->valuestring);
        }
    }
    copy_meta(m, root, "task");
    copy_meta(m, root, "labels");
    copy_meta(m, root, "name");
    copy_meta(m, root, "source");
    if ((st = parse_parts(m, cJSON_GetObjectItemCaseSensitive(root, "parts"), err)))
        goto cleanup;
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
