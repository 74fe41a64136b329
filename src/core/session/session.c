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

/* One input of a split against the model input it feeds. */
static QsStatus session_check_input(const Graph *g, int k, Tensor *x, const char *name,
                                    QsError *err)
{
    const Shape *want = &g->values[g->inputs[k]].shape; /* dim[0] is the batch placeholder */
    Shape *got = &x->shape;
    Shape want_sample = shape_make(want->ndim - 1, want->dim + 1);
    Shape got_sample = got->ndim > 0 ? shape_make(got->ndim - 1, got->dim + 1) : *got;
    if (got->ndim < 1 || shape_numel(&want_sample) != shape_numel(&got_sample)) {
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

QsStatus session_check_split(const Session *s, Dataset *d, const char *name, QsError *err)
{
    if (!s->model || d->n_x == 0)
        return QS_OK;
    const Graph *g = &s->model->graph;
    if (d->n_x != g->n_inputs)
        return qs_fail(err, QS_ESHAPE, "split '%s' holds %d input%s, the model takes %d", name,
                       d->n_x, d->n_x == 1 ? "" : "s", g->n_inputs);
    for (int k = 0; k < d->n_x; k++)
        if (session_check_input(g, k, d->x[k], name, err))
            return err->code;
    return QS_OK;
}

void session_set_model(Session *s, Model *m, const char *path, char *dropped, size_t cap)
{
    /* what was derived from the old model goes before the model itself */
    qstate_model_changed(&s->q, -1); /* drops variants too */
    model_free(s->model);
    free(s->model_path);
    s->model = m;
    s->model_path = path ? xstrdup(path) : NULL;
    session_model_changed(s);
    if (dropped && cap)
        dropped[0] = '\0';
    for (int i = 0; i < SPLIT_COUNT; i++) {
        if (s->splits[i].n_x == 0)
            continue;
        QsError ignore = { 0 }; /* a split that no longer fits is dropped and named below */
        if (session_check_split(s, &s->splits[i], split_name((SplitId)i), &ignore) != QS_OK) {
            dataset_release(&s->splits[i]);
            if (dropped && cap) {
                size_t used = strlen(dropped);
                snprintf(dropped + used, cap - used, "%s%s", used ? ", " : "",
                         split_name((SplitId)i));
            }
        }
    }
}

void session_model_changed(Session *s)
{
    qstate_model_changed(&s->q, s->model ? s->model->graph.n_nodes : 0);
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
