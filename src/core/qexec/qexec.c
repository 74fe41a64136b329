/* The quantized model and its executors (qexec.h). The lowering is in qexec_lower.c, the
 * kernels in qkernels.c; this file runs the steps.
 *
 * A value can be held in up to three representations during a forward: float (F), int8
 * (Q; in the fake-quant executor a float holding s (q - z)) and half-rounded float (H).
 * Each step declares which one it reads and which one it writes; a representation that
 * is missing is made on demand from the others (dequantize, quantize with the value's
 * calibrated QParams, round to half), which is how mixed plans convert at their borders
 * and how graph inputs get quantized at their first int8 consumer. Slots live in one arena
 * per executor, laid out per batch size and reused while the batch size stays the same. */
#include "qexec/qexec.h"

#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "base/memtrack.h"
#include "qexec/qexec_internal.h"
#include "qexec/qexec_rerun.h"

void *qexec_alloc(size_t bytes, const char *what, QsError *err)
{
    void *p = NULL;
    if (posix_memalign(&p, QX_ALIGN, bytes ? bytes : QX_ALIGN)) {
        qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes for '%s'", bytes, what);
        return NULL;
    }
    return p;
}

static size_t qexec_align(size_t n) { return (n + QX_ALIGN - 1) & ~(size_t)(QX_ALIGN - 1); }

/* ---- executor state ------------------------------------------------------------------ */

static void qexec_state_init(ExecState *st, QModel *q, bool fake, bool local)
{
    const Graph *g = q->g;
    size_t nv = (size_t)(g->n_values ? g->n_values : 1);
    memset(st, 0, sizeof *st);
    st->q = q;
    st->fake = fake;
    st->local = local;
    st->shapes = xcalloc(nv, sizeof *st->shapes);
    st->f = xcalloc(nv, sizeof *st->f);
    st->qv = xcalloc(nv, sizeof *st->qv);
    st->h = xcalloc(nv, sizeof *st->h);
    st->ok = xcalloc(nv, sizeof *st->ok);
    st->outs = xcalloc((size_t)(g->n_outputs ? g->n_outputs : 1), sizeof *st->outs);
}

static void qexec_state_release(ExecState *st)
{
    free(st->shapes);
    free(st->f);
    free(st->qv);
    free(st->h);
    free(st->ok);
    free(st->outs);
    memtrack_free(st->arena_bytes + st->scratch_bytes); /* 0 when never laid out */
    free(st->arena);
    free(st->scratch);
    memset(st, 0, sizeof *st);
}

static DType qexec_rep_dtype(const ExecState *st, int rep)
{
    return rep == REP_Q && !st->fake ? DT_I8 : DT_F32;
}

/* Scratch bytes of step s at the state's current shapes. */
static size_t qexec_step_scratch(const ExecState *st, const Step *s)
{
    const Graph *g = st->q->g;
    const Node *n = &g->nodes[s->head];
    Tensor tin[QX_MAX_IN];
    StepIO io;
    memset(&io, 0, sizeof io);
    io.g = g;
    io.shapes = st->shapes;
    io.fake = st->fake;
    io.bits = st->q->plan.q.bits;
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (v < 0) {
            io.in[i] = NULL;
        } else if (g->values[v].kind == VAL_CONST) {
            io.in[i] = g->values[v].data;
        } else {
            tin[i] = tensor_view(qexec_rep_dtype(st, s->in_rep), st->shapes[v], NULL);
            io.in[i] = &tin[i];
        }
    }
    io.out = tensor_view(qexec_rep_dtype(st, s->out_rep), st->shapes[s->out], NULL);
    return qkernels_step_table[s->kind].scratch(s, &io);
}

/* Lays out the slots for `batch` (nothing to do when already laid out for it). */
static QsStatus qexec_set_batch(ExecState *st, int64_t batch, QsError *err)
{
    const QModel *q = st->q;
    const Graph *g = q->g;
    if (batch < 1)
        return qs_fail(err, QS_EINVAL, "batch size %lld must be at least 1", (long long)batch);
    if (st->arena && st->batch == batch)
        return QS_OK;
    st->batch = 0;
    if (graph_infer_shapes(g, batch, st->shapes, err))
        return err->code;
    size_t total = 0, scratch = 0;
    size_t qsize = st->fake ? sizeof(float) : 1;
    for (int v = 0; v < g->n_values; v++) {
        const VInfo *vi = &q->vi[v];
        if (g->values[v].kind == VAL_CONST || !vi->reps)
            continue;
        size_t bytes, need = 0;
        if (shape_checked_bytes(&st->shapes[v], sizeof(float), &bytes, g->values[v].name, err))
            return err->code;
        size_t fb = qexec_align(bytes), qb = qexec_align(bytes / sizeof(float) * qsize);
        if ((vi->reps & REP_F) && g->values[v].kind == VAL_NODE)
            need += fb;
        if (vi->reps & REP_Q)
            need += qb;
        if ((vi->reps & REP_H) && (!vi->half_exact || st->local))
            need += fb;
        if (__builtin_add_overflow(total, need, &total))
            return qs_fail(err, QS_ENOMEM, "activations for batch %lld overflow",
                           (long long)batch);
    }
    for (int i = 0; i < q->n_steps; i++) {
        size_t s = qexec_step_scratch(st, &q->steps[i]);
        scratch = s > scratch ? s : scratch;
    }
    /* keep the blocks when they are big enough (a smaller last batch, or alternating
     * batch sizes, then costs no allocation) */
    if (!st->arena || total > st->arena_bytes || !st->scratch || scratch > st->scratch_bytes) {
        memtrack_free(st->arena_bytes + st->scratch_bytes);
        st->arena_bytes = st->scratch_bytes = 0;
        free(st->arena);
        free(st->scratch);
        QsError tmp;
        st->arena = qexec_alloc(total, "activations", &tmp);
        st->scratch = qexec_alloc(scratch, "scratch", &tmp);
        if (!st->arena || !st->scratch) {
            free(st->arena);
            free(st->scratch);
            st->arena = st->scratch = NULL;
            st->arena_bytes = st->scratch_bytes = 0;
            return qs_fail(err, QS_ENOMEM,
                           "cannot allocate %zu bytes of activations for batch %lld",
                           total + scratch, (long long)batch);
        }
        st->arena_bytes = total;
        st->scratch_bytes = scratch;
        memtrack_alloc(total + scratch);
    }
    char *cur = st->arena;
    for (int v = 0; v < g->n_values; v++) {
        const VInfo *vi = &q->vi[v];
        st->f[v] = NULL;
        st->qv[v] = NULL;
        st->h[v] = NULL;
        if (g->values[v].kind == VAL_CONST || !vi->reps)
            continue;
        size_t n = (size_t)shape_numel(&st->shapes[v]);
        if ((vi->reps & REP_F) && g->values[v].kind == VAL_NODE) {
            st->f[v] = (float *)cur;
            cur += qexec_align(n * sizeof(float));
        }
        if (vi->reps & REP_Q) {
            st->qv[v] = cur;
            cur += qexec_align(n * qsize);
        }
        if ((vi->reps & REP_H) && (!vi->half_exact || st->local)) {
            st->h[v] = (float *)cur;
            cur += qexec_align(n * sizeof(float));
        }
    }
    st->batch = batch;
    return QS_OK;
}

/* Makes value v available as `rep` (converting from what the forward has) and returns it. */
static void *qexec_ensure(ExecState *st, int v, int rep)
{
    const VInfo *vi = &st->q->vi[v];
    int64_t n = shape_numel(&st->shapes[v]);
    if (rep == REP_H && vi->half_exact && !st->local)
        rep = REP_F;
    switch (rep) {
    case REP_F:
        if (!(st->ok[v] & REP_F)) {
            QS_ASSERT((st->ok[v] & REP_Q) && st->f[v]);
            if (st->fake)
                memcpy(st->f[v], st->qv[v], (size_t)n * sizeof(float));
            else
                dequant_array_i8(st->qv[v], n, &vi->qp, st->f[v]);
            st->ok[v] |= REP_F;
        }
        return st->f[v];
    case REP_Q:
        if (!(st->ok[v] & REP_Q)) {
            const float *x = qexec_ensure(st, v, REP_F);
            QS_ASSERT(st->qv[v] && vi->has_qp);
            if (st->fake) {
                float *y = st->qv[v];
                for (int64_t i = 0; i < n; i++)
                    y[i] = quant_fake(x[i], &vi->qp);
            } else {
                quant_array_i8(x, n, &vi->qp, st->qv[v]);
            }
            st->ok[v] |= REP_Q;
        }
        return st->qv[v];
    default:
        if (!(st->ok[v] & REP_H)) {
            const float *x = qexec_ensure(st, v, REP_F);
            QS_ASSERT(st->h[v]);
            memcpy(st->h[v], x, (size_t)n * sizeof(float));
            half_round_array(st->h[v], n);
            st->ok[v] |= REP_H;
        }
        return st->h[v];
    }
}

static void qexec_run_step(ExecState *st, const Step *s)
{
    const Graph *g = st->q->g;
    const Node *n = &g->nodes[s->head];
    Tensor tin[QX_MAX_IN];
    StepIO io;
    io.g = g;
    io.shapes = st->shapes;
    io.scratch = st->scratch;
    io.scratch_bytes = st->scratch_bytes;
    io.fake = st->fake;
    io.bits = st->q->plan.q.bits;
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (v < 0) {
            io.in[i] = NULL;
        } else if (g->values[v].kind == VAL_CONST) {
            io.in[i] = s->hconst && s->hconst[i] ? s->hconst[i] : g->values[v].data;
        } else {
            void *d = qexec_ensure(st, v, s->in_rep);
            tin[i] = tensor_view(qexec_rep_dtype(st, s->in_rep), st->shapes[v], d);
            io.in[i] = &tin[i];
        }
    }
    void *od = s->out_rep == REP_Q ? st->qv[s->out] : (void *)st->f[s->out];
    io.out = tensor_view(qexec_rep_dtype(st, s->out_rep), st->shapes[s->out], od);
    qkernels_step_table[s->kind].run(s, &io);
    st->ok[s->out] = (uint8_t)s->out_rep;
}

static QsStatus qexec_check_input(const ExecState *st, int v, const Tensor *t, QsError *err)
{
    const Graph *g = st->q->g;
    if (!t || t->dtype != DT_F32 || !shape_equal(&t->shape, &st->shapes[v])) {
        char a[96] = "(none)", b[96];
        if (t)
            shape_format(&t->shape, a, sizeof a);
        return qs_fail(err, QS_ESHAPE, "input '%s': got %s %s, expected f32 %s",
                       g->values[v].name, t ? dtype_name(t->dtype) : "nothing", a,
                       shape_format(&st->shapes[v], b, sizeof b));
    }
    return QS_OK;
}

static QsStatus qexec_forward(void *self, const Tensor *const *inputs, const Tensor **outputs,
                              RunTapFn tap, void *tap_user, QsError *err)
{
    ExecState *st = self;
    const QModel *q = st->q;
    const Graph *g = q->g;
    if (g->n_inputs < 1)
        return qs_fail(err, QS_EINVAL, "the graph has no inputs");
    if (!inputs[0] || inputs[0]->shape.ndim < 1)
        return qs_fail(err, QS_ESHAPE, "input '%s': expected a batch", g->values[g->inputs[0]].name);
    if (qexec_set_batch(st, inputs[0]->shape.dim[0], err))
        return err->code;
    memset(st->ok, 0, (size_t)g->n_values);
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (qexec_check_input(st, v, inputs[i], err))
            return err->code;
        st->f[v] = tensor_f32(inputs[i]); /* only read */
        st->ok[v] = REP_F;
    }
    for (int i = 0; i < q->n_steps; i++) {
        const Step *s = &q->steps[i];
        qexec_run_step(st, s);
        if (tap) {
            Tensor t = tensor_view(DT_F32, st->shapes[s->out], qexec_ensure(st, s->out, REP_F));
            tap(tap_user, s->last, &t);
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        st->outs[k] = tensor_view(DT_F32, st->shapes[v], qexec_ensure(st, v, REP_F));
        outputs[k] = &st->outs[k];
    }
    return QS_OK;
}

/* ---- public API ---------------------------------------------------------------------- */

QsStatus qmodel_build(const Model *m, const Plan *p, const Calibration *cal, QModel **out,
                      QsError *err)
{
    return qmodel_build_ex(m, p, cal, NULL, out, err);
}

QsStatus qmodel_build_ex(const Model *m, const Plan *p, const Calibration *cal,
                         const float *const *bias_corr, QModel **out, QsError *err)
{
    *out = NULL;
    if (!m->graph.finalized)
        return qs_fail(err, QS_EINVAL, "the model's graph is not finalized");
    QModel *q = xcalloc(1, sizeof *q);
    q->m = m;
    q->g = &m->graph;
    q->n_values = m->graph.n_values;
    plan_copy(&q->plan, p);
    qexec_state_init(&q->st_int, q, false, false);
    qexec_state_init(&q->st_fake, q, true, false);
    qexec_state_init(&q->st_local, q, false, true);
    if (qexec_lower(q, cal, bias_corr, err)) {
        qmodel_free(q);
        return err->code;
    }
    *out = q;
    return QS_OK;
}

void qmodel_free(QModel *q)
{
    if (!q)
        return;
    qexec_state_release(&q->st_int);
    qexec_state_release(&q->st_fake);
    qexec_state_release(&q->st_local);
    qexec_lower_release(q);
    plan_release(&q->plan);
    free(q);
}

Executor qmodel_executor(QModel *q)
{
    return (Executor){ .self = &q->st_int, .graph = q->g, .forward = qexec_forward };
}

Executor qmodel_fake_executor(QModel *q)
{
    return (Executor){ .self = &q->st_fake, .graph = q->g, .forward = qexec_forward };
}

/* Whether int8 step s has parameters that depend on the target (qexec_step_rules). */
static bool step_has_rules(const Step *s)
{
    switch (s->kind) {
    case STEP_Q_ADD: case STEP_Q_MUL: case STEP_Q_MATMUL: case STEP_Q_SOFTMAX:
    case STEP_Q_CONCAT: case STEP_Q_AVGPOOL: case STEP_Q_CLAMP:
        return true;
    default:
        return false;
    }
}

/* Runs step s under target row T (NULL: as lowered) on st: a copy with T's parameters. */
static QsStatus run_step_as(ExecState *st, const Step *s, const QTargetDef *T, QsError *err)
{
    if (!T) {
        qexec_run_step(st, s);
        return QS_OK;
    }
    Step c = *s;
    c.same = NULL;
    c.rq_in = NULL;
    c.rq_count = NULL;
    c.softmax = NULL;
    QsStatus rc = qexec_step_rules(st->q->g, &c, T, err);
    if (!rc)
        qexec_run_step(st, &c);
    qexec_step_rules_release(&c);
    return rc;
}

static QsStatus run_node_local(QModel *q, int node, const QTargetDef *T,
                               const Tensor *const *inputs, Tensor *out, QsError *err)
{
    const Graph *g = q->g;
    if (node < 0 || node >= g->n_nodes)
        return qs_fail(err, QS_ENOTFOUND, "layer %d does not exist (the model has %d)", node,
                       g->n_nodes);
    int head = q->info[node].unit;
    const Node *hn = &g->nodes[head];
    int first = q->step_of[head], end = first;
    while (end < q->n_steps && q->info[q->steps[end].head].unit == head)
        end++;
    int vout = q->steps[end - 1].out;
    int64_t batch = 0;
    for (int i = 0; i < hn->n_in && !batch; i++) {
        int v = hn->in[i];
        if (v >= 0 && g->values[v].kind != VAL_CONST && inputs[i] && inputs[i]->shape.ndim > 0) {
            /* dim 0 is the batch times dim 0 at batch 1 where a Reshape folded another axis
             * into the batch (attention heads: (N heads, T, D)); the input check below
             * refuses a batch this gets wrong */
            int64_t d0 = inputs[i]->shape.dim[0], d1 = 1;
            if (g->values[v].kind == VAL_NODE && g->values[v].shape.ndim > 0)
                d1 = g->values[v].shape.dim[0];
            batch = d1 > 1 && d0 % d1 == 0 ? d0 / d1 : d0;
        }
    }
    ExecState *st = &q->st_local;
    if (qexec_set_batch(st, batch, err)) {
        qs_error_prefix(err, "layer '%s'", hn->name);
        return err->code;
    }
    for (int i = 0; i < hn->n_in; i++) {
        int v = hn->in[i];
        if (v >= 0 && g->values[v].kind != VAL_CONST && qexec_check_input(st, v, inputs[i], err)) {
            qs_error_prefix(err, "layer '%s'", hn->name);
            return err->code;
        }
    }
    if (out->dtype != DT_F32 || !shape_equal(&out->shape, &st->shapes[vout])) {
        char a[96], b[96];
        return qs_fail(err, QS_ESHAPE, "layer '%s': output is %s %s, expected f32 %s", hn->name,
                       dtype_name(out->dtype), shape_format(&out->shape, a, sizeof a),
                       shape_format(&st->shapes[vout], b, sizeof b));
    }
    memset(st->ok, 0, (size_t)g->n_values);
    float *saved[QX_MAX_IN];
    for (int i = 0; i < hn->n_in; i++) {
        int v = hn->in[i];
        if (v < 0 || g->values[v].kind == VAL_CONST)
            continue;
        saved[i] = st->f[v];
        st->f[v] = tensor_f32(inputs[i]); /* only read */
        st->ok[v] = REP_F;
    }
    QsStatus rc = QS_OK;
    for (int i = first; i < end && !rc; i++)
        rc = run_step_as(st, &q->steps[i], T, err);
    if (!rc)
        memcpy(out->data, qexec_ensure(st, vout, REP_F),
               (size_t)shape_numel(&out->shape) * sizeof(float));
    for (int i = hn->n_in - 1; i >= 0; i--) {
        int v = hn->in[i];
        if (v >= 0 && g->values[v].kind != VAL_CONST)
            st->f[v] = saved[i];
    }
    return rc;
}

QsStatus qmodel_run_node_local(QModel *q, int node, const Tensor *const *inputs, Tensor *out,
                               QsError *err)
{
    return run_node_local(q, node, NULL, inputs, out, err);
}

QsStatus qmodel_run_node_target(QModel *q, int node, int target, const Tensor *const *inputs,
                                Tensor *out, bool *has_rules, QsError *err)
{
    *has_rules = false;
    if (node < 0 || node >= q->g->n_nodes || target < 0 || target >= QTGT_COUNT)
        return qs_fail(err, QS_ENOTFOUND, "layer %d or target %d does not exist", node,
                       target);
    const Step *s = &q->steps[q->step_of[q->info[node].unit]];
    if (s->kind == STEP_LIN_Q || s->prec != PREC_INT8_STATIC || !step_has_rules(s))
        return QS_OK;
    *has_rules = true;
    return run_node_local(q, node, &target_table[target], inputs, out, err);
}

QsStatus qmodel_unit_preact(QModel *q, int head, const Tensor *x, Tensor *out, QsError *err)
{
    const Graph *g = q->g;
    if (head < 0 || head >= g->n_nodes)
        return qs_fail(err, QS_ENOTFOUND, "layer %d does not exist (the model has %d)", head,
                       g->n_nodes);
    const Node *hn = &g->nodes[head];
    const Step *s = &q->steps[q->step_of[head]];
    if (s->head != head || !s->lin || (s->kind != STEP_LIN_Q && s->kind != STEP_LIN_DYN))
        return qs_fail(err, QS_EINVAL, "layer '%s' does not head an int8 linear unit",
                       hn->name);
    if (!x || x->dtype != DT_F32 || x->shape.ndim < 1 || x->shape.dim[0] < 1)
        return qs_fail(err, QS_ESHAPE, "layer '%s': expected an f32 batch as input", hn->name);
    Shape *shapes = xmalloc((size_t)g->n_values * sizeof *shapes);
    QsStatus st = graph_infer_shapes(g, x->shape.dim[0], shapes, err);
    int vin = hn->in[0];
    char a[96], b[96];
    if (!st && !shape_equal(&x->shape, &shapes[vin]))
        st = qs_fail(err, QS_ESHAPE, "layer '%s': input is %s, expected %s", hn->name,
                     shape_format(&x->shape, a, sizeof a), shape_format(&shapes[vin], b, sizeof b));
    if (!st && (out->dtype != DT_F32 || !shape_equal(&out->shape, &shapes[hn->out])))
        st = qs_fail(err, QS_ESHAPE, "layer '%s': output is %s %s, expected f32 %s", hn->name,
                     dtype_name(out->dtype), shape_format(&out->shape, a, sizeof a),
                     shape_format(&shapes[hn->out], b, sizeof b));
    free(shapes);
    if (st)
        return st;
    size_t bytes = qkernels_preact_scratch(s, &x->shape, &out->shape);
    void *scratch = qexec_alloc(bytes, "pre-activation scratch", err);
    if (!scratch)
        return err->code;
    memtrack_alloc(bytes);
    qkernels_preact(s, x, out, scratch, bytes, q->plan.q.bits);
    memtrack_free(bytes);
    free(scratch);
    return QS_OK;
}

const QLayerInfo *qmodel_layer(const QModel *q, int node)
{
    return node >= 0 && node < q->g->n_nodes ? &q->info[node] : NULL;
}

int qmodel_unit_tail(const QModel *q, int head)
{
    const Graph *g = q->g;
    int tail = head;
    for (int k = 0; k < g->n_nodes; k++)
        if (q->info[g->order[k]].unit == head)
            tail = g->order[k];
    return tail;
}

int64_t qmodel_deployed_bytes(const QModel *q) { return q->deployed_bytes; }
