/* Reading a session file (sessionfile.h): a hostile file, checked before use. */
#include "native/sessionfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/npz.h"
#include "eval/metrics.h"
#include "native/jsontext.h"
#include "native/qsm.h"
#include "native/sessionfile_internal.h"
#include "native/variants.h"
#include "quant/observer.h"

typedef struct Reader {
    const char *path;
    Session *s;
    QsError *err;
} Reader;

static QsStatus bad(Reader *r, const char *what)
{
    return qs_fail(r->err, QS_EFORMAT, "%s: %s", r->path, what);
}

/* A member as a tensor of dtype want (or any when want < 0); NULL with err set. */
static Tensor *member(Reader *r, const char *name, int want)
{
    Tensor *t = npz_load_member(r->path, name, r->err);
    if (t && want >= 0 && t->dtype != (DType)want) {
        qs_fail(r->err, QS_EFORMAT, "%s: member '%s' has the wrong element type", r->path, name);
        tensor_free(t);
        return NULL;
    }
    return t;
}

/* A u8 member holding a .qsm image. */
static Model *member_model(Reader *r, const char *name)
{
    Tensor *t = member(r, name, DT_U8);
    if (!t)
        return NULL;
    char what[512];
    snprintf(what, sizeof what, "%s:%s", r->path, name);
    Model *m = qsm_parse(t->data, tensor_bytes(t), what, r->err);
    tensor_free(t);
    return m;
}

/* Weights of the session model's graph: the same nodes, ops and value shapes. */
static Model *member_weights(Reader *r, const char *name)
{
    Model *m = member_model(r, name);
    if (!m)
        return NULL;
    const Graph *a = &m->graph, *b = &r->s->model->graph;
    bool same = a->n_nodes == b->n_nodes && a->n_values == b->n_values &&
                a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs;
    for (int i = 0; same && i < a->n_nodes; i++)
        same = a->nodes[i].op == b->nodes[i].op && a->nodes[i].n_in == b->nodes[i].n_in;
    for (int i = 0; same && i < a->n_values; i++)
        same = a->values[i].kind == b->values[i].kind &&
               shape_equal(&a->values[i].shape, &b->values[i].shape);
    if (!same) {
        qs_fail(r->err, QS_EFORMAT, "%s: member '%s' is not weights of the session's model",
                r->path, name);
        model_free(m);
        return NULL;
    }
    return m;
}

static cJSON *read_json(Reader *r)
{
    Tensor *t = member(r, "session", DT_U8);
    if (!t)
        return NULL;
    const char *txt = (const char *)t->data;
    size_t n = tensor_bytes(t);
    cJSON *root = NULL;
    if (json_nul_escape_at(txt, n) != n || memchr(txt, 0, n))
        bad(r, "the session description holds a NUL character");
    else if (!(root = cJSON_ParseWithLength(txt, n)) || !cJSON_IsObject(root))
        bad(r, "the session description is not a JSON object");
    else if (json_check_names(root, r->path, NULL, r->err)) {
        cJSON_Delete(root);
        root = NULL;
    }
    tensor_free(t);
    return root;
}

static bool whole(const cJSON *j, double lo, double hi)
{
    return cJSON_IsNumber(j) && j->valuedouble >= lo && j->valuedouble <= hi &&
           j->valuedouble == floor(j->valuedouble);
}

static QsStatus read_options(Reader *r, const cJSON *o)
{
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(o, "batch");
    const cJSON *threads = cJSON_GetObjectItemCaseSensitive(o, "threads");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
    int t = cJSON_IsString(task) ? (strcmp(task->valuestring, "auto") ? task_find(task->valuestring)
                                                                      : -1)
                                 : -2;
    if (!whole(batch, 1, 65536) || !whole(threads, 1, 256) || t < -1 ||
        !whole(seed, -9007199254740992.0, 9007199254740992.0))
        return bad(r, "'options' needs batch (1-65536), threads (1-256), task and seed");
    r->s->opt.batch = (int)batch->valuedouble;
    r->s->opt.threads = (int)threads->valuedouble;
    r->s->opt.task = t;
    r->s->opt.seed = (long)seed->valuedouble;
    return QS_OK;
}

static QsStatus read_split(Reader *r, SplitId id, const cJSON *o)
{
    const char *name = split_name(id);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(o, "inputs");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(o, "labels");
    const cJSON *aux = cJSON_GetObjectItemCaseSensitive(o, "aux");
    const cJSON *xp = cJSON_GetObjectItemCaseSensitive(o, "x_path");
    const cJSON *yp = cJSON_GetObjectItemCaseSensitive(o, "y_path");
    if (!whole(inputs, 1, DATA_MAX_INPUTS) || !cJSON_IsBool(labels) || !cJSON_IsBool(aux) ||
        !cJSON_IsString(xp) || !cJSON_IsString(yp))
        return qs_fail(r->err, QS_EFORMAT, "%s: split '%s' needs inputs (1-%d), labels, aux, "
                       "x_path and y_path", r->path, name, DATA_MAX_INPUTS);
    Dataset d = { .n_x = (int)inputs->valuedouble };
    char mb[64];
    QsStatus st = QS_OK;
    for (int k = 0; k < d.n_x && !st; k++) {
        sessionfile_split_member(name, "x", k, mb, sizeof mb);
        if (!(d.x[k] = member(r, mb, DT_F32)))
            st = r->err->code;
    }
    if (!st && cJSON_IsTrue(labels)) {
        sessionfile_split_member(name, "y", -1, mb, sizeof mb);
        if (!(d.y = member(r, mb, -1)))
            st = r->err->code;
        else if (d.y->dtype != DT_I64 && d.y->dtype != DT_F32)
            st = qs_fail(r->err, QS_EFORMAT, "%s: member '%s' must hold i64 or f32", r->path, mb);
    }
    if (!st && cJSON_IsTrue(aux)) {
        sessionfile_split_member(name, "aux", -1, mb, sizeof mb);
        if (!(d.aux = member(r, mb, DT_F32)))
            st = r->err->code;
    }
    if (st) {
        dataset_release(&d); /* the inputs not read yet are NULL */
        return st;
    }
    d.x_path = xstrdup(xp->valuestring);
    d.y_path = yp->valuestring[0] ? xstrdup(yp->valuestring) : NULL;
    if (session_set_split(r->s, id, &d, r->err)) /* counts and shapes against the model */
        return qs_error_prefix(r->err, "%s", r->path), r->err->code;
    return QS_OK;
}

/* A plan with its observer. */
static QsStatus read_plan(Reader *r, const cJSON *o, const char *where, Plan *p)
{
    char w[300];
    snprintf(w, sizeof w, "%s: %s", r->path, where);
    if (!cJSON_IsObject(o))
        return qs_fail(r->err, QS_EFORMAT, "%s must be an object", w);
    const cJSON *obs = cJSON_GetObjectItemCaseSensitive(o, "observer");
    int k = cJSON_IsString(obs) ? observer_find(obs->valuestring) : -1;
    if (k < 0)
        return qs_fail(r->err, QS_EFORMAT, "%s: 'observer' must name an observer", w);
    if (plan_from_json(o, w, &r->s->model->graph, p, r->err))
        return r->err->code;
    p->q.observer = k;
    return QS_OK;
}

static Tensor *get_member(void *ctx, const char *name, int dtype)
{
    return member(ctx, name, dtype);
}

/* A calibration and its imported parameters (their arrays in members named from prefix). */
static QsStatus read_calib(Reader *r, const cJSON *o, const char *where, const char *prefix,
                           Calibration *c)
{
    char w[300];
    snprintf(w, sizeof w, "%s: %s", r->path, where);
    const Graph *g = &r->s->model->graph;
    if (sessionfile_calib_from_json(o, w, g, c, r->err))
        return r->err->code;
    const cJSON *imp = cJSON_GetObjectItemCaseSensitive(o, "imported");
    if (imp && sessionfile_import_from_json(imp, w, prefix, g, get_member, r, &c->imported,
                                            r->err)) {
        calib_release(c);
        return r->err->code;
    }
    return QS_OK;
}

static QsStatus read_corr(Reader *r, const cJSON *o, const char *where, BiasCorr *c)
{
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(o, "split");
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(o, "samples");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(o, "layers");
    char w[300];
    snprintf(w, sizeof w, "%s: %s", r->path, where);
    if (!cJSON_IsObject(o) || !cJSON_IsString(split) || strlen(split->valuestring) >= 16 ||
        !whole(samples, 0, 9007199254740992.0) || !cJSON_IsObject(layers))
        return qs_fail(r->err, QS_EFORMAT, "%s needs plan, split, samples and layers", w);
    Plan p;
    if (read_plan(r, cJSON_GetObjectItemCaseSensitive(o, "plan"), "bias_corr plan", &p))
        return r->err->code;
    QsStatus st = bias_corr_from_json(layers, w, &r->s->model->graph, &p, c, r->err);
    plan_release(&p);
    if (!st) {
        snprintf(c->split, sizeof c->split, "%s", split->valuestring);
        c->samples = (int64_t)samples->valuedouble;
    }
    return st;
}

static QsStatus read_variant(Reader *r, const cJSON *o, int i)
{
    char where[48];
    snprintf(where, sizeof where, "variants[%d]", i);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(o, "calibration");
    const cJSON *corr = cJSON_GetObjectItemCaseSensitive(o, "bias_corr");
    const cJSON *weights = cJSON_GetObjectItemCaseSensitive(o, "weights");
    char want[64];
    snprintf(want, sizeof want, "variant%d_model", i);
    if (!cJSON_IsObject(o) || !cJSON_IsString(name) || !name->valuestring[0] ||
        precision_find(name->valuestring) >= 0 || qstate_variant_find(&r->s->q, name->valuestring) ||
        (weights && (!cJSON_IsString(weights) || strcmp(weights->valuestring, want))))
        return qs_fail(r->err, QS_EFORMAT, "%s: %s needs a new name that is no precision, and "
                       "weights only as \"%s\"", r->path, where, want);
    Plan p;
    if (read_plan(r, cJSON_GetObjectItemCaseSensitive(o, "plan"), where, &p))
        return r->err->code;
    Calibration c = { 0 };
    BiasCorr bc = biascorr_none();
    Model *m = NULL;
    char pre[64];
    snprintf(pre, sizeof pre, "variant%d_import", i);
    QsStatus st = cal ? read_calib(r, cal, where, pre, &c) : QS_OK;
    if (!st && corr)
        st = read_corr(r, corr, where, &bc);
    if (!st && weights && !(m = member_weights(r, want)))
        st = r->err->code;
    if (st) {
        plan_release(&p);
        calib_release(&c);
        biascorr_release(&bc);
        return st;
    }
    qstate_variant_add(&r->s->q, name->valuestring, &p, cal ? &c : NULL, &bc, m);
    return QS_OK;
}

static QsStatus read_state(Reader *r, const cJSON *root)
{
    Session *s = r->s;
    const cJSON *splits = cJSON_GetObjectItemCaseSensitive(root, "splits");
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(root, "calibration");
    const cJSON *corr = cJSON_GetObjectItemCaseSensitive(root, "bias_corr");
    const cJSON *active = cJSON_GetObjectItemCaseSensitive(root, "active_weights");
    const cJSON *variants = cJSON_GetObjectItemCaseSensitive(root, "variants");
    if (!cJSON_IsObject(splits) || !cJSON_IsArray(variants) ||
        cJSON_GetArraySize(variants) > SESSIONFILE_MAX_VARIANTS ||
        (active && (!cJSON_IsString(active) || strcmp(active->valuestring, "active_model"))))
        return bad(r, "needs the object 'splits', the array 'variants' (at most 1024) and "
                      "'active_weights' only as \"active_model\"");
    if (read_options(r, cJSON_GetObjectItemCaseSensitive(root, "options")))
        return r->err->code;
    for (const cJSON *it = splits->child; it; it = it->next) {
        int id = split_find(it->string);
        if (id < 0)
            return qs_fail(r->err, QS_EFORMAT, "%s: no split '%s' (calib, eval, train)", r->path,
                           it->string);
        if (read_split(r, (SplitId)id, it))
            return r->err->code;
    }
    Plan p;
    if (read_plan(r, cJSON_GetObjectItemCaseSensitive(root, "plan"), "plan", &p))
        return r->err->code;
    plan_release(&s->q.plan);
    s->q.plan = p;
    if (cal) {
        const cJSON *split = cJSON_GetObjectItemCaseSensitive(cal, "split");
        if (!cJSON_IsString(split) || strlen(split->valuestring) >= 16)
            return bad(r, "the calibration needs a split name");
        Calibration c;
        if (read_calib(r, cal, "calibration", "calib_import", &c))
            return r->err->code;
        qstate_set_calibration(&s->q, &c, split->valuestring);
    }
    if (corr) {
        BiasCorr bc;
        if (read_corr(r, corr, "bias_corr", &bc))
            return r->err->code;
        qstate_set_bias_corr(&s->q, &bc);
    }
    int i = 0;
    for (const cJSON *it = variants->child; it; it = it->next, i++)
        if (read_variant(r, it, i))
            return r->err->code;
    if (active) {
        Model *m = member_weights(r, "active_model");
        if (!m)
            return r->err->code;
        qstate_set_active_model(&s->q, m);
    }
    return QS_OK;
}

QsStatus sessionfile_load(const char *path, Session *out, QsError *err)
{
    session_init(out);
    Reader r = { .path = path, .s = out, .err = err };
    cJSON *root = read_json(&r);
    if (!root)
        return err->code;
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *mpath = cJSON_GetObjectItemCaseSensitive(root, "model_path");
    QsStatus st = QS_OK;
    if (!cJSON_IsString(format) || strcmp(format->valuestring, SESSIONFILE_FORMAT) ||
        !cJSON_IsNumber(version) || version->valuedouble != SESSIONFILE_VERSION ||
        !cJSON_IsString(mpath))
        st = bad(&r, "not a qscope session file of version 1 (format, version, model_path)");
    Model *m = st ? NULL : member_model(&r, "model");
    if (!st && !m)
        st = err->code;
    if (!st) {
        session_set_model(out, m, mpath->valuestring[0] ? mpath->valuestring : NULL, NULL, 0);
        st = read_state(&r, root);
    }
    cJSON_Delete(root);
    if (!st)
        session_mark_saved(out); /* what the file holds is saved */
    return st;
}
