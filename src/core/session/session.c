#include "session/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void session_init(Session *s)
{
    memset(s, 0, sizeof *s);
    s->opt.batch = 256;
    s->opt.threads = 1;
    s->opt.task = -1;
    s->opt.seed = 1;
    qstate_init(&s->q, 0);
    session_mark_saved(s);
}

void session_release(Session *s)
{
    model_free(s->model);
    free(s->model_path);
    for (int i = 0; i < SPLIT_COUNT; i++)
        dataset_release(&s->splits[i]);
    qstate_release(&s->q);
    memset(s, 0, sizeof *s);
}

/* One input of a split against the model input it feeds; `exact`: the sample shape must
 * be the input's, else only the element count (and the split is reshaped). */
static QsStatus session_check_input(const Graph *g, int k, Tensor *x, const char *name,
                                    bool exact, QsError *err)
{
    const Shape *want = &g->values[g->inputs[k]].shape; /* dim[0] is the batch placeholder */
    Shape *got = &x->shape;
    Shape want_sample = shape_make(want->ndim - 1, want->dim + 1);
    Shape got_sample = got->ndim > 0 ? shape_make(got->ndim - 1, got->dim + 1) : *got;
    if (got->ndim < 1 || shape_numel(&want_sample) != shape_numel(&got_sample) ||
        (exact && !shape_equal(&want_sample, &got_sample))) {
        char a[96], b[96];
        return qs_fail(err, QS_ESHAPE, "split '%s': samples have shape %s, model input '%s' "
                       "expects %s", name, shape_format(&got_sample, a, sizeof a),
                       g->values[g->inputs[k]].name, shape_format(&want_sample, b, sizeof b));
    }
    if (!shape_equal(&want_sample, &got_sample)) {
        int64_t n = got->dim[0];
        *got = *want;
        got->dim[0] = n;
    }
    return QS_OK;
}

static QsStatus check_split(const Session *s, Dataset *d, const char *name, bool exact,
                            QsError *err)
{
    if (!s->model || d->n_x == 0)
        return QS_OK;
    const Graph *g = &s->model->graph;
    if (d->n_x != g->n_inputs)
        return qs_fail(err, QS_ESHAPE, "split '%s' holds %d input%s, the model takes %d", name,
                       d->n_x, d->n_x == 1 ? "" : "s", g->n_inputs);
    for (int k = 0; k < d->n_x; k++)
        if (session_check_input(g, k, d->x[k], name, exact, err))
            return err->code;
    return QS_OK;
}

QsStatus session_check_split(const Session *s, Dataset *d, const char *name, QsError *err)
{
    return check_split(s, d, name, false, err);
}

void session_set_model(Session *s, Model *m, const char *path, char *dropped, size_t cap)
{
    /* what was derived from the old model goes before the model itself: a new model
     * starts from a fresh plan, whatever the old one was */
    qstate_reset(&s->q, m ? m->graph.n_nodes : 0);
    model_free(s->model);
    free(s->model_path);
    s->model = m;
    s->model_path = path ? xstrdup(path) : NULL;
    s->model_edits++;
    if (dropped && cap)
        dropped[0] = '\0';
    for (int i = 0; i < SPLIT_COUNT; i++) {
        if (s->splits[i].n_x == 0)
            continue;
        /* a split was shaped for the model it was loaded with: it stays only when its
         * samples are exactly the new inputs (no reshaping by element count, which would
         * pass an (N, 28, 28, 1) layout to a (1, 28, 28) input) */
        QsError ignore = { 0 }; /* a split that does not fit is dropped and named below */
        if (check_split(s, &s->splits[i], split_name((SplitId)i), true, &ignore) != QS_OK) {
            dataset_release(&s->splits[i]);
            if (dropped && cap) {
                size_t used = strlen(dropped);
                snprintf(dropped + used, cap - used, "%s%s", used ? ", " : "",
                         split_name((SplitId)i));
            }
        }
    }
    session_mark_saved(s);
}

void session_model_changed(Session *s)
{
    qstate_model_changed(&s->q, s->model ? s->model->graph.n_nodes : 0);
    s->model_edits++;
}

void session_reset(Session *s)
{
    const bool weights_unsaved = s->model_edits != s->saved_edits;
    qstate_reset(&s->q, s->model ? s->model->graph.n_nodes : 0);
    if (!weights_unsaved)
        session_mark_saved(s);
}

void session_clear(Session *s)
{
    SessionOptions keep = s->opt;
    unsigned edits = s->model_edits;
    session_release(s);
    session_init(s);
    s->opt = keep;
    s->model_edits = edits + 1;
    session_mark_saved(s);
}

void session_split_names(const Session *s, char *buf, size_t cap)
{
    if (!cap)
        return;
    buf[0] = '\0';
    for (int i = 0; i < SPLIT_COUNT; i++)
        if (s->splits[i].n_x) {
            size_t used = strlen(buf);
            snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", split_name((SplitId)i));
        }
}

/* FNV-1a over a few words: enough to tell one state of the work from another. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

uint64_t session_work(const Session *s)
{
    const QuantState *q = &s->q;
    uint64_t h = 14695981039346656037ull;
    const void *model = s->model;
    h = fnv(h, &model, sizeof model);
    h = fnv(h, &s->model_edits, sizeof s->model_edits);
    h = fnv(h, &q->calib_gen, sizeof q->calib_gen);
    h = fnv(h, &q->calibrated, sizeof q->calibrated);
    h = fnv(h, &q->variants_gen, sizeof q->variants_gen);
    h = fnv(h, &q->n_variants, sizeof q->n_variants);
    h = fnv(h, &q->corr.gen, sizeof q->corr.gen);
    if (q->plan.n_nodes > 0) {
        h = fnv(h, q->plan.pin, (size_t)q->plan.n_nodes);
        h = fnv(h, q->plan.wgran, (size_t)q->plan.n_nodes);
    }
    return h;
}

void session_mark_saved(Session *s)
{
    s->saved_work = session_work(s);
    s->saved_edits = s->model_edits;
}

bool session_unsaved(const Session *s)
{
    return s->model && session_work(s) != s->saved_work;
}

QsStatus session_set_split(Session *s, SplitId id, Dataset *d, QsError *err)
{
    for (int k = 0; k < d->n_x; k++)
        QS_ASSERT(d->x[k] && d->x[k]->dtype == DT_F32);
    QsStatus st = dataset_check(d, err);
    if (st)
        qs_error_prefix(err, "split '%s'", split_name(id));
    else
        st = session_check_split(s, d, split_name(id), err);
    if (st) {
        dataset_release(d);
        return st;
    }
    dataset_release(&s->splits[id]);
    s->splits[id] = *d;
    memset(d, 0, sizeof *d);
    return QS_OK;
}

static bool all_binary(const Tensor *y)
{
    const float *v = tensor_f32(y);
    for (int64_t i = 0; i < tensor_numel(y); i++)
        if (v[i] != 0.0f && v[i] != 1.0f)
            return false;
    return true;
}

TaskKind session_task(const Session *s, const Dataset *d)
{
    if (s->opt.task >= 0)
        return (TaskKind)s->opt.task;
    const char *t = s->model ? model_meta_get(s->model, "task") : NULL;
    if (t && task_find(t) >= 0)
        return (TaskKind)task_find(t);
    if (!d->y || d->y->dtype == DT_I64)
        return d->aux ? TASK_POLICY : TASK_CLASSIFY;
    return all_binary(d->y) ? TASK_MULTILABEL : TASK_REGRESS;
}
