/* taps_capture: every step's output over a split's first samples (taps.h). */
#include "ptq/taps.h"

#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "eval/walk.h"
#include "qexec/qexec_view.h"

typedef struct CapWalk {
    const Graph *g;
    TapSet *set;
    int *slot;               /* [n_values] index into set, -1 */
    int64_t *per;            /* [n_values] elements per sample */
    QParams *qp;             /* [n_values] for code taps */
    int64_t first;           /* samples done before the current batch */
} CapWalk;

/* Stores a batch of value v (float) at sample c->first. */
static void cap_store(CapWalk *c, int v, const Tensor *t)
{
    int k = c->slot[v];
    if (k < 0)
        return;
    Tensor *dst = &c->set->t[k];
    int64_t n = tensor_numel(t), at = c->first * c->per[v];
    if (at + n > tensor_numel(dst))
        return; /* cannot happen: shapes come from the same inference */
    const float *x = tensor_f32(t);
    if (dst->dtype == DT_I8) {
        int8_t *q = (int8_t *)dst->data + at;
        for (int64_t i = 0; i < n; i++) /* x = s (q - z): quantizing it gives q back */
            q[i] = (int8_t)quant_q(x[i], &c->qp[v]);
    } else {
        memcpy(tensor_f32(dst) + at, x, (size_t)n * sizeof(float));
    }
}

static void cap_tap(void *user, int node, const Tensor *out)
{
    CapWalk *c = user;
    cap_store(c, c->g->nodes[node].out, out);
}

static QsStatus cap_batch(void *user, WalkBatch *b, QsError *err)
{
    (void)err;
    CapWalk *c = user;
    for (int i = 0; i < c->g->n_inputs; i++)
        cap_store(c, c->g->inputs[i], b->inputs[i]);
    c->first += b->n;
    return QS_OK;
}

/* Registers value v as a tap at `samples`: codes when `codes`. */
static QsStatus cap_add(CapWalk *c, int v, bool codes, const Shape *s1, int64_t samples,
                        QsError *err)
{
    TapSet *set = c->set;
    Shape sh = s1[v];
    if (sh.ndim < 1)
        return qs_fail(err, QS_ESHAPE, "value '%s' has no batch axis", c->g->values[v].name);
    c->per[v] = shape_numel(&sh); /* at batch 1 */
    sh.dim[0] *= samples;
    int k = set->n;
    if (tensor_init(&set->t[k], codes ? DT_I8 : DT_F32, sh, err))
        return qs_error_prefix(err, "taps of '%s'", c->g->values[v].name), err->code;
    set->value[k] = v;
    c->slot[v] = k;
    set->n++;
    return QS_OK;
}

QsStatus taps_capture(QModel *q, const Dataset *d, int64_t n, int batch, const JobCtx *job,
                      const bool *want, TapSet *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    const Graph *g = qmodel_graph(q);
    if (eval_check_inputs(g, d, err))
        return qs_error_prefix(err, "taps"), err->code;
    int64_t len = dataset_len(d);
    int64_t samples = n > 0 && n < len ? n : len;
    int nv = g->n_values, ns = qmodel_n_steps(q);
    CapWalk c = { .g = g, .set = out };
    c.slot = xmalloc((size_t)nv * sizeof *c.slot);
    c.per = xcalloc((size_t)nv, sizeof *c.per);
    c.qp = xcalloc((size_t)nv, sizeof *c.qp);
    Shape *s1 = xmalloc((size_t)nv * sizeof *s1);
    for (int v = 0; v < nv; v++)
        c.slot[v] = -1;
    out->value = xmalloc((size_t)(g->n_inputs + ns) * sizeof *out->value);
    out->t = xcalloc((size_t)(g->n_inputs + ns), sizeof *out->t);
    out->samples = samples;
    QsStatus st = graph_infer_shapes(g, 1, s1, err);
    for (int i = 0; i < g->n_inputs && !st; i++)
        if (!want || want[g->inputs[i]])
            st = cap_add(&c, g->inputs[i], false, s1, samples, err);
    for (int si = 0; si < ns && !st; si++) {
        QStepView sv = qmodel_step(q, si);
        if ((want && !want[sv.out]) || c.slot[sv.out] >= 0)
            continue;
        bool codes = sv.writes == QREP_INT8 && qmodel_value_qparams(q, sv.out, &c.qp[sv.out]);
        st = cap_add(&c, sv.out, codes, s1, samples, err);
    }
    if (!st) {
        Executor ex = qmodel_executor(q);
        Walk w = { .ex = &ex, .tap = cap_tap, .tap_user = &c, .batch = cap_batch, .user = &c,
                   .job = job, .what = "taps", .phase = "taps" };
        st = walk_split(&w, d, samples, batch, err);
    }
    free(c.slot);
    free(c.per);
    free(c.qp);
    free(s1);
    if (st)
        tapset_release(out);
    return st;
}

void tapset_release(TapSet *s)
{
    for (int i = 0; i < s->n; i++)
        tensor_release(&s->t[i]);
    free(s->t);
    free(s->value);
    memset(s, 0, sizeof *s);
}

const Tensor *tapset_find(const TapSet *s, int v)
{
    for (int i = 0; i < s->n; i++)
        if (s->value[i] == v)
            return &s->t[i];
    return NULL;
}

const Tensor *taps_codes(const QModel *q, int v, const Tensor *t, Tensor **owned)
{
    *owned = NULL;
    QParams qp;
    if (!t || t->dtype == DT_I8)
        return t;
    if (t->dtype != DT_F32 || !qmodel_value_qparams(q, v, &qp))
        return NULL;
    if (!(*owned = tensor_new(DT_I8, t->shape, NULL)))
        return NULL;
    int8_t *c = (*owned)->data;
    for (int64_t i = 0; i < tensor_numel(t); i++)
        c[i] = (int8_t)quant_q(tensor_f32(t)[i], &qp);
    return *owned;
}

Tensor *taps_float(const QModel *q, int v, const Tensor *t)
{
    if (!t)
        return NULL;
    Tensor *f = tensor_new(DT_F32, t->shape, NULL);
    if (!f)
        return NULL;
    int64_t n = tensor_numel(t);
    if (t->dtype == DT_I8) {
        QParams qp;
        qmodel_value_qparams(q, v, &qp);
        for (int64_t i = 0; i < n; i++)
            tensor_f32(f)[i] = quant_dq(((const int8_t *)t->data)[i], &qp);
    } else {
        memcpy(f->data, t->data, (size_t)n * sizeof(float));
    }
    return f;
}

int taps_key_value(const Graph *g, const char *key)
{
    if (key[0] == '#' && key[1]) {
        char *end;
        long v = strtol(key + 1, &end, 10);
        return !*end && v >= 0 && v < g->n_values ? (int)v : -1;
    }
    return graph_find_value(g, key);
}
