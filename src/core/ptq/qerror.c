#include "ptq/qerror.h"
#include "eval/eval.h"
#include "eval/walk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern/fmath.h"
#include "run/run.h"

double layer_error_mse(const LayerError *e)
{
    return e->values ? e->sum_sq_err / (double)e->values : NAN;
}

double layer_error_sqnr_db(const LayerError *e)
{
    if (!e->values)
        return NAN;
    if (e->sum_sq_err == 0)
        return INFINITY;
    return 10.0 * fm_log10(e->sum_sq_ref / e->sum_sq_err);
}

double layer_error_cosine(const LayerError *e)
{
    if (!e->values)
        return NAN;
    if (e->norm_ref == 0 && e->norm_q == 0)
        return 1.0;
    if (e->norm_ref == 0 || e->norm_q == 0)
        return 0.0;
    return e->dot / (sqrt(e->norm_ref) * sqrt(e->norm_q));
}

double layer_error_rmse_steps(const LayerError *e)
{
    if (!e->values || e->step <= 0)
        return NAN;
    return sqrt(e->sum_sq_err / (double)e->values) / e->step;
}

static void accumulate(LayerError *e, const float *ref, const float *q, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double a = ref[i], b = q[i], d = b - a;
        if (!isfinite(a) || !isfinite(b))
            continue;
        e->sum_sq_err += d * d;
        e->sum_sq_ref += a * a;
        e->dot += a * b;
        e->norm_ref += a * a;
        e->norm_q += b * b;
        if (fabs(d) > e->max_abs)
            e->max_abs = fabs(d);
    }
    e->values += n;
    e->valid = true;
}

typedef struct {
    QModel *q;
    const Run *ref;          /* the float run of the same batch: every value is kept */
    LayerError *out;
} QErrorWalk;

static void accum_tap(void *user, int node, const Tensor *t)
{
    QErrorWalk *c = user;
    const Graph *g = c->ref->g;
    const Tensor *ref = &c->ref->vals[g->nodes[node].out];
    if (tensor_numel(ref) == tensor_numel(t))
        accumulate(&c->out[node], tensor_f32(ref), tensor_f32(t), tensor_numel(t));
}

static QsStatus local_batch(void *user, WalkBatch *b, QsError *err)
{
    (void)b;
    const QErrorWalk *c = user;
    QModel *q = c->q;
    const Run *ref = c->ref;
    LayerError *out = c->out;
    const Graph *g = ref->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const QLayerInfo *info = qmodel_layer(q, i);
        if (info->unit != i || info->absorbed)
            continue;
        const Node *n = &g->nodes[i];
        const Tensor *in[64];
        for (int k = 0; k < n->n_in; k++)
            in[k] = n->in[k] >= 0 ? &ref->vals[n->in[k]] : NULL;
        int tail = qmodel_unit_tail(q, i);
        const Tensor *want = &ref->vals[g->nodes[tail].out];
        Tensor got;
        if (tensor_init(&got, DT_F32, want->shape, err))
            return err->code;
        QsStatus st = qmodel_run_node_local(q, i, in, &got, err);
        if (!st)
            accumulate(&out[i], tensor_f32(want), tensor_f32(&got), tensor_numel(want));
        tensor_release(&got);
        if (st)
            return st;
    }
    return QS_OK;
}

QsStatus qerror_run(const Model *m, QModel *q, const Dataset *d, int64_t n, int batch,
                    bool local, const JobCtx *job, LayerError *out, QsError *err)
{
    const Graph *g = &m->graph;
    memset(out, 0, (size_t)g->n_nodes * sizeof *out);
    if (eval_check_inputs(g, d, err))
        return qs_error_prefix(err, "error"), err->code;
    FloatExec *f;
    Executor fx = exec_float_new(g, &f);
    Executor qx = qmodel_executor(q);
    QErrorWalk c = { .q = q, .ref = exec_float_run(f), .out = out };
    /* local: the float run alone, each unit then run on its float inputs; else the
     * quantized model after it, tapped layer by layer against the float values */
    Walk w = { .ex = &fx, .ex2 = local ? NULL : &qx, .tap2 = accum_tap, .tap2_user = &c,
               .batch = local ? local_batch : NULL, .user = &c, .job = job,
               .what = "error measurement", .phase = "error" };
    QsStatus st = walk_split(&w, d, n, batch, err);
    for (int i = 0; i < g->n_nodes; i++) {
        const QLayerInfo *info = qmodel_layer(q, i);
        if (info->has_act)
            out[i].step = info->act.scale;
    }
    exec_float_free(f);
    return st;
}
