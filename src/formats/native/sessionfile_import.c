/* Imported quantization parameters in a session file (quant/qimport.h): a quantized file's
 * own scales, zero points, int8 weight codes and int32 biases, so a resumed session runs on
 * them exactly as the session that loaded the file. The JSON holds the values' parameters;
 * each unit's arrays are members of the archive. */
#include "native/sessionfile_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *exact_float(float v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.9g", (double)v); /* 9 digits: the float exactly */
    return cJSON_CreateRaw(buf);
}

static Tensor *vector_of(DType dt, int64_t n, const void *src, size_t elem, QsError *err)
{
    Tensor *t = tensor_new(dt, shape_make(1, &n), err);
    if (t)
        memcpy(t->data, src, (size_t)n * elem);
    return t;
}

static void unit_member(const char *prefix, int j, const char *part, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s_unit%d_%s", prefix, j, part);
}

cJSON *sessionfile_import_json(const Graph *g, const QImport *q, const char *prefix,
                               SfAddMember add, void *ctx, QsError *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", q->source);
    cJSON *vals = cJSON_AddObjectToObject(o, "values");
    for (int v = 0; v < q->n_values && v < g->n_values; v++) {
        if (!q->has_qp[v])
            continue;
        const QParams *p = &q->qp[v];
        cJSON *a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, exact_float(p->scale));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(p->zero_point));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(p->qmin));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(p->qmax));
        cJSON_AddItemToObject(vals, g->values[v].name, a);
    }
    cJSON *units = cJSON_AddArrayToObject(o, "units");
    bool failed = false;
    for (int i = 0, j = 0; i < q->n_nodes && i < g->n_nodes; i++) {
        const QImportUnit *u = q->unit[i];
        if (!u)
            continue;
        cJSON *uo = cJSON_CreateObject();
        cJSON_AddItemToArray(units, uo);
        cJSON_AddStringToObject(uo, "node", g->nodes[i].name);
        cJSON_AddNumberToObject(uo, "oc", (double)u->oc);
        char mb[200];
        Tensor *t = vector_of(DT_I8, u->oc * u->k, u->codes, 1, err);
        if ((failed = !t))
            break;
        unit_member(prefix, j, "codes", mb, sizeof mb);
        add(ctx, mb, t);
        if ((failed = !(t = vector_of(DT_F32, u->n_scales, u->scales, sizeof *u->scales, err))))
            break;
        unit_member(prefix, j, "scales", mb, sizeof mb);
        add(ctx, mb, t);
        cJSON_AddBoolToObject(uo, "bias", u->bias != NULL);
        if (u->bias) {
            if ((failed = !(t = vector_of(DT_I32, u->oc, u->bias, sizeof *u->bias, err))))
                break;
            unit_member(prefix, j, "bias", mb, sizeof mb);
            add(ctx, mb, t);
        }
        j++;
    }
    if (failed) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool whole_in(const cJSON *j, double lo, double hi)
{
    return cJSON_IsNumber(j) && j->valuedouble >= lo && j->valuedouble <= hi &&
           j->valuedouble == floor(j->valuedouble);
}

/* Value parameters: [scale, zero point, qmin, qmax] on an int8 grid. */
static QsStatus read_values(const cJSON *vals, const char *where, const Graph *g, QImport *q,
                            QsError *err)
{
    for (const cJSON *it = vals->child; it; it = it->next) {
        int v = graph_find_value(g, it->string);
        const cJSON *s = cJSON_GetArrayItem(it, 0), *z = cJSON_GetArrayItem(it, 1);
        const cJSON *lo = cJSON_GetArrayItem(it, 2), *hi = cJSON_GetArrayItem(it, 3);
        if (v < 0 || q->has_qp[v])
            return qs_fail(err, QS_EFORMAT, "%s: imported value '%.200s' names no value of "
                           "the model, or twice", where, it->string);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 4 || !cJSON_IsNumber(s) ||
            !(s->valuedouble > 0 && s->valuedouble < 3.4e38) || !whole_in(lo, -128, 127) ||
            !whole_in(hi, lo->valuedouble, 127) ||
            !whole_in(z, lo->valuedouble, hi->valuedouble))
            return qs_fail(err, QS_EFORMAT, "%s: imported value '%.200s' needs [scale > 0, "
                           "zero point, qmin, qmax] with -128 <= qmin <= zero point <= qmax "
                           "<= 127", where, it->string);
        q->has_qp[v] = true;
        q->qp[v] = (QParams){ .scale = (float)s->valuedouble, .zero_point = (int32_t)z->valuedouble,
                              .qmin = (int32_t)lo->valuedouble, .qmax = (int32_t)hi->valuedouble };
    }
    return QS_OK;
}

/* One unit's arrays from its members, checked against each other. */
static QsStatus read_unit(const cJSON *uo, int j, const char *prefix, const char *where,
                          const Graph *g, SfGetMember get, void *ctx, QImport *q, QsError *err)
{
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(uo, "node");
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(uo, "bias");
    const cJSON *ocj = cJSON_GetObjectItemCaseSensitive(uo, "oc");
    int n = cJSON_IsString(node) ? graph_find_node(g, node->valuestring) : -1;
    if (n < 0 || q->unit[n] || !cJSON_IsBool(bias) || !whole_in(ocj, 1, INT32_MAX))
        return qs_fail(err, QS_EFORMAT, "%s: imported unit %d needs a node of the model (once), "
                       "the boolean bias and oc (output channels)", where, j);
    int64_t oc = (int64_t)ocj->valuedouble;
    char mb[200];
    Tensor *t[3] = { NULL, NULL, NULL };
    static const char *const parts[3] = { "codes", "scales", "bias" };
    static const DType dts[3] = { DT_I8, DT_F32, DT_I32 };
    QsStatus st = QS_OK;
    for (int p = 0; p < (cJSON_IsTrue(bias) ? 3 : 2) && !st; p++) {
        unit_member(prefix, j, parts[p], mb, sizeof mb);
        if (!(t[p] = get(ctx, mb, dts[p])))
            st = err->code ? err->code : QS_EFORMAT;
        else if (t[p]->shape.ndim != 1 || t[p]->shape.dim[0] < 1)
            st = qs_fail(err, QS_EFORMAT, "%s: member '%s' must be a non-empty vector", where, mb);
    }
    int64_t nc = st ? 0 : t[0]->shape.dim[0], ns = st ? 0 : t[1]->shape.dim[0];
    const float *sc = st ? NULL : (const float *)t[1]->data;
    for (int64_t i = 0; i < ns && !st; i++)
        if (!(sc[i] > 0 && isfinite(sc[i])))
            st = qs_fail(err, QS_EFORMAT, "%s: imported unit %d: weight scales must be finite "
                         "and positive", where, j);
    if (!st && (nc % oc || (ns != 1 && ns != oc) || (t[2] && t[2]->shape.dim[0] != oc)))
        st = qs_fail(err, QS_EFORMAT, "%s: imported unit %d: %lld codes, %lld scales and "
                     "%lld biases do not fit %lld output channels", where, j, (long long)nc,
                     (long long)ns, (long long)(t[2] ? t[2]->shape.dim[0] : 0), (long long)oc);
    if (!st) {
        QImportUnit *u = xcalloc(1, sizeof *u);
        u->oc = oc;
        u->k = nc / oc;
        u->n_scales = (int)ns;
        u->codes = xmalloc((size_t)nc);
        memcpy(u->codes, t[0]->data, (size_t)nc);
        u->scales = xmalloc((size_t)ns * sizeof *u->scales);
        memcpy(u->scales, sc, (size_t)ns * sizeof *u->scales);
        if (t[2]) {
            u->bias = xmalloc((size_t)oc * sizeof *u->bias);
            memcpy(u->bias, t[2]->data, (size_t)oc * sizeof *u->bias);
        }
        q->unit[n] = u;
    }
    for (int p = 0; p < 3; p++)
        tensor_free(t[p]);
    return st;
}

QsStatus sessionfile_import_from_json(const cJSON *o, const char *where, const char *prefix,
                                      const Graph *g, SfGetMember get, void *ctx,
                                      QImport **out, QsError *err)
{
    *out = NULL;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(o, "values");
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(o, "units");
    if (!cJSON_IsObject(o) || !cJSON_IsString(src) || !cJSON_IsObject(vals) ||
        !cJSON_IsArray(units) || cJSON_GetArraySize(units) > g->n_nodes)
        return qs_fail(err, QS_EFORMAT, "%s: imported parameters need source, the object "
                       "values and the array units (at most one per node)", where);
    QImport *q = qimport_new(g->n_values, g->n_nodes);
    snprintf(q->source, sizeof q->source, "%s", src->valuestring);
    QsStatus st = read_values(vals, where, g, q, err);
    int j = 0;
    for (const cJSON *uo = units->child; uo && !st; uo = uo->next, j++)
        st = read_unit(uo, j, prefix, where, g, get, ctx, q, err);
    if (st) {
        qimport_unref(q);
        return st;
    }
    *out = q;
    return QS_OK;
}
