/* Writing a session file (sessionfile.h). */
#include "native/sessionfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/npz.h"
#include "eval/metrics.h"
#include "native/qsm.h"
#include "native/sessionfile_internal.h"
#include "native/variants.h"
#include "quant/observer.h"

/* The members being written: names and tensors, both owned. */
typedef struct Members {
    int n, cap;
    char **names;
    Tensor **tensors;
    bool *owned;
} Members;

static void members_add(Members *m, const char *name, Tensor *t, bool owned)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->names = xrealloc(m->names, (size_t)m->cap * sizeof *m->names);
        m->tensors = xrealloc(m->tensors, (size_t)m->cap * sizeof *m->tensors);
        m->owned = xrealloc(m->owned, (size_t)m->cap * sizeof *m->owned);
    }
    m->names[m->n] = xstrdup(name);
    m->tensors[m->n] = t;
    m->owned[m->n++] = owned;
}

static void members_release(Members *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->names[i]);
        if (m->owned[i])
            tensor_free(m->tensors[i]);
    }
    free(m->names);
    free(m->tensors);
    free(m->owned);
}

/* bytes as a 1-D u8 member */
static QsStatus add_bytes(Members *m, const char *name, const void *buf, size_t len,
                          QsError *err)
{
    int64_t n = (int64_t)len;
    Tensor *t = tensor_new(DT_U8, shape_make(1, &n), err);
    if (!t)
        return err->code;
    memcpy(t->data, buf, len);
    members_add(m, name, t, true);
    return QS_OK;
}

static QsStatus add_model(Members *m, const char *name, const Model *model, QsError *err)
{
    void *img;
    size_t len;
    if (qsm_serialize(model, &img, &len, err))
        return qs_error_prefix(err, "%s", name), err->code;
    QsStatus st = add_bytes(m, name, img, len, err);
    free(img);
    return st;
}

static cJSON *plan_json(const Graph *g, const Plan *p)
{
    cJSON *o = cJSON_CreateObject();
    plan_json_fill(o, g, p, "observer");
    return o;
}

static cJSON *corr_json(const Graph *g, const BiasCorr *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "plan", plan_json(g, &c->plan));
    cJSON_AddStringToObject(o, "split", c->split);
    cJSON_AddNumberToObject(o, "samples", (double)c->samples);
    cJSON_AddItemToObject(o, "layers", bias_corr_json(g, c));
    return o;
}

/* A split read from a large file is saved as its samples (read whole, within
 * max_memory). */
static QsStatus add_splits(cJSON *root, Members *m, const Session *s, QsError *err)
{
    cJSON *splits = cJSON_AddObjectToObject(root, "splits");
    for (int i = 0; i < SPLIT_COUNT; i++) {
        const Dataset *d = &s->splits[i];
        if (!d->n_x)
            continue;
        const char *name = split_name((SplitId)i);
        cJSON *o = cJSON_AddObjectToObject(splits, name);
        cJSON_AddNumberToObject(o, "inputs", d->n_x);
        cJSON_AddBoolToObject(o, "labels", d->y != NULL);
        cJSON_AddBoolToObject(o, "aux", d->aux != NULL);
        cJSON_AddStringToObject(o, "x_path", d->x_path ? d->x_path : "");
        cJSON_AddStringToObject(o, "y_path", d->y_path ? d->y_path : "");
        char mb[64];
        for (int k = 0; k < d->n_x; k++) {
            sessionfile_split_member(name, "x", k, mb, sizeof mb);
            Tensor *owned;
            const Tensor *x = dataset_input_tensor(d, k, &owned, err);
            if (!x) {
                qs_error_prefix(err, "split %s", name);
                return err->code;
            }
            members_add(m, mb, owned ? owned : d->x[k], owned != NULL);
        }
        if (d->y) {
            sessionfile_split_member(name, "y", -1, mb, sizeof mb);
            members_add(m, mb, d->y, false);
        }
        if (d->aux) {
            sessionfile_split_member(name, "aux", -1, mb, sizeof mb);
            members_add(m, mb, d->aux, false);
        }
    }
    return QS_OK;
}

static void add_member(void *ctx, const char *name, Tensor *t)
{
    members_add(ctx, name, t, true);
}

/* A calibration's JSON, with its imported parameters (their arrays as members named from
 * prefix); NULL with err set. */
static cJSON *calib_json(const Graph *g, const Calibration *c, const char *prefix, Members *m,
                         QsError *err)
{
    cJSON *o = sessionfile_calib_json(g, c);
    if (c->imported) {
        cJSON *i = sessionfile_import_json(g, c->imported, prefix, add_member, m, err);
        if (!i) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToObject(o, "imported", i);
    }
    return o;
}

/* The variants; those with their own weights get a member each. */
static QsStatus add_variants(cJSON *root, Members *m, const Session *s, QsError *err)
{
    const Graph *g = &s->model->graph;
    const QuantState *q = &s->q;
    cJSON *arr = cJSON_AddArrayToObject(root, "variants");
    for (int i = 0; i < q->n_variants; i++) {
        const Variant *v = &q->variants[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", v->name);
        cJSON_AddItemToObject(o, "plan", plan_json(g, &v->plan));
        if (v->calibrated) {
            char pre[64];
            snprintf(pre, sizeof pre, "variant%d_import", i);
            cJSON *c = calib_json(g, &v->calib, pre, m, err);
            if (!c)
                return err->code;
            cJSON_AddItemToObject(o, "calibration", c);
        }
        if (biascorr_active(&v->corr))
            cJSON_AddItemToObject(o, "bias_corr", corr_json(g, &v->corr));
        if (v->model) {
            char mb[64];
            snprintf(mb, sizeof mb, "variant%d_model", i);
            cJSON_AddStringToObject(o, "weights", mb);
            if (add_model(m, mb, v->model, err))
                return err->code;
        }
    }
    return QS_OK;
}

static cJSON *options_json(const SessionOptions *o)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "batch", o->batch);
    cJSON_AddNumberToObject(j, "threads", o->threads);
    cJSON_AddStringToObject(j, "task", o->task < 0 ? "auto" : task_name((TaskKind)o->task));
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    return j;
}

/* Everything but the "session" member; fills root with what describes them. */
static QsStatus build(cJSON *root, Members *m, const Session *s, QsError *err)
{
    const Graph *g = &s->model->graph;
    const QuantState *q = &s->q;
    cJSON_AddStringToObject(root, "format", SESSIONFILE_FORMAT);
    cJSON_AddNumberToObject(root, "version", SESSIONFILE_VERSION);
    cJSON_AddStringToObject(root, "model_path", s->model_path ? s->model_path : "");
    cJSON_AddItemToObject(root, "options", options_json(&s->opt));
    if (add_model(m, "model", s->model, err))
        return err->code;
    if (add_splits(root, m, s, err))
        return err->code;
    cJSON_AddItemToObject(root, "plan", plan_json(g, &q->plan));
    if (q->calibrated) {
        cJSON *c = calib_json(g, &q->calib, "calib_import", m, err);
        if (!c)
            return err->code;
        cJSON_AddStringToObject(c, "split", q->calib_split);
        cJSON_AddItemToObject(root, "calibration", c);
    }
    if (biascorr_active(&q->corr))
        cJSON_AddItemToObject(root, "bias_corr", corr_json(g, &q->corr));
    if (q->model) {
        cJSON_AddStringToObject(root, "active_weights", "active_model");
        if (add_model(m, "active_model", q->model, err))
            return err->code;
    }
    return add_variants(root, m, s, err);
}

QsStatus sessionfile_save(const char *path, const Session *s, QsError *err)
{
    if (!s->model)
        return qs_fail(err, QS_EINVAL, "no model to save: 'load' one first");
    if (s->q.n_variants > SESSIONFILE_MAX_VARIANTS)
        return qs_fail(err, QS_EUNSUPPORTED, "%d variants: a session file holds at most %d",
                       s->q.n_variants, SESSIONFILE_MAX_VARIANTS);
    Members m = { 0 };
    cJSON *root = cJSON_CreateObject();
    QsStatus st = build(root, &m, s, err);
    char *json = st ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!st && !json)
        st = qs_fail(err, QS_ENOMEM, "cannot serialise the session");
    if (!st)
        st = add_bytes(&m, "session", json, strlen(json), err);
    cJSON_free(json);
    if (!st)
        st = npz_save(path, (const char *const *)m.names, (const Tensor *const *)m.tensors, m.n,
                      err);
    members_release(&m);
    return st;
}
