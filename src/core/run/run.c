#include "run/run.h"

#include <stdlib.h>
#include <string.h>

#define RUN_ALIGN 64

void run_init(Run *r, const Graph *g)
{
    memset(r, 0, sizeof *r);
    r->g = g;
    r->shapes = xcalloc((size_t)g->n_values, sizeof *r->shapes);
    r->vals = xcalloc((size_t)g->n_values, sizeof *r->vals);
}

static void run_free_params(ParamList *p)
{
    free(p->value);
    free(p->param);
    free(p->grad);
    free(p->offset);
    free(p->buf);
    memset(p, 0, sizeof *p);
}

/* Drops everything run_enable_grads set up. */
static void run_free_grads(Run *r)
{
    free(r->needs_grad);
    free(r->grads);
    free(r->grad_arena);
    grad_layout_release(&r->grad_layout);
    run_free_params(&r->params);
    r->needs_grad = NULL;
    r->grads = NULL;
    r->grad_arena = NULL;
    r->grad_arena_bytes = 0;
    r->grad_arena_cap = 0;
    r->grad_batch = 0;
    r->grads_on = false;
    r->input_grads = false;
}

void run_release(Run *r)
{
    if (!r)
        return;
    run_free_grads(r);
    free(r->shapes);
    free(r->vals);
    free(r->arena);
    free(r->scratch);
    run_plan_release(&r->plan);
    run_pack_release(&r->pack);
    memset(r, 0, sizeof *r);
}

static size_t align_up(size_t n) { return (n + RUN_ALIGN - 1) & ~(size_t)(RUN_ALIGN - 1); }

static void *aligned_block(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, RUN_ALIGN, bytes ? bytes : RUN_ALIGN))
        return NULL;
    return p;
}

/* Makes *block at least `bytes` (contents dropped when it grows); false when out of memory,
 * with the block gone. */
static bool grow_block(void **block, size_t *cap, size_t bytes)
{
    if (*block && bytes <= *cap)
        return true;
    free(*block);
    *block = aligned_block(bytes);
    *cap = *block ? bytes : 0;
    return *block != NULL;
}

/* Lays out one gradient slot per graph input or node output that needs a gradient, for
 * the current batch size. Parameter gradients live in r->params.buf, which does not depend
 * on the batch. */
static QsStatus run_alloc_grads(Run *r, QsError *err)
{
    const Graph *g = r->g;
    size_t total = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (!r->needs_grad[v] || g->values[v].kind == VAL_CONST)
            continue;
        size_t bytes;
        if (shape_checked_bytes(&r->shapes[v], sizeof(float), &bytes, g->values[v].name, err))
            return err->code;
        if (__builtin_add_overflow(total, align_up(bytes), &total))
            return qs_fail(err, QS_ENOMEM, "gradients for batch %lld overflow",
                           (long long)r->batch);
    }
    r->grad_batch = 0;
    r->grad_arena_bytes = 0;
    total = grad_layout_place(&r->grad_layout, g, r->shapes, RUN_ALIGN); /* <= the sum */
    if (!grow_block(&r->grad_arena, &r->grad_arena_cap, total))
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes of gradients for batch %lld",
                       total, (long long)r->batch);
    for (int v = 0; v < g->n_values; v++) {
        if (!r->needs_grad[v] || g->values[v].kind == VAL_CONST)
            continue;
        r->grads[v] = tensor_view(DT_F32, r->shapes[v],
                                  (char *)r->grad_arena + r->grad_layout.off[v]);
    }
    r->grad_arena_bytes = total;
    r->grad_batch = r->batch;
    return QS_OK;
}

/* The arena offset of every node output in r->plan.off: the shared layout, or one slot
 * per node output in topological order. Returns the arena's bytes. */
static size_t run_layout(Run *r, bool shared)
{
    const Graph *g = r->g;
    if (shared)
        return run_plan_layout(&r->plan, g, r->shapes);
    size_t off = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        int v = g->nodes[g->order[k]].out;
        r->plan.off[v] = off;
        off += run_slot_bytes(&r->shapes[v]);
    }
    return off;
}

QsStatus run_set_batch(Run *r, int64_t batch, QsError *err)
{
    const Graph *g = r->g;
    QS_ASSERT(g->finalized);
    if (batch < 1)
        return qs_fail(err, QS_EINVAL, "batch size %lld must be at least 1", (long long)batch);
    bool shared = r->outputs_only && !r->grads_on;
    if (r->batch == batch && r->shared == shared)
        return r->grads_on && r->grad_batch != batch ? run_alloc_grads(r, err) : QS_OK;
    r->forward_done = false;
    r->batch = 0; /* not laid out until this succeeds */
    if (!r->planned) {
        run_plan_init(&r->plan, g);
        r->planned = true;
    }
    if (graph_infer_shapes(g, batch, r->shapes, err))
        return err->code;
    size_t sum = 0, scratch = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        size_t bytes;
        if (shape_checked_bytes(&r->shapes[n->out], sizeof(float), &bytes, n->name, err))
            return err->code;
        if (__builtin_add_overflow(sum, align_up(bytes), &sum))
            return qs_fail(err, QS_ENOMEM, "activations for batch %lld overflow",
                           (long long)batch);
        const OpDef *def = op_table[n->op];
        if (def->scratch) {
            const Shape *in[64];
            for (int i = 0; i < n->n_in; i++)
                in[i] = n->in[i] >= 0 ? &r->shapes[n->in[i]] : NULL;
            size_t s = def->scratch(n, in, &r->shapes[n->out]);
            if (s > scratch)
                scratch = s;
        }
    }
    /* Every slot was checked above, and a layout is never larger than their sum. */
    size_t total = run_layout(r, shared);
    if (!grow_block(&r->arena, &r->arena_cap, total) ||
        !grow_block(&r->scratch, &r->scratch_cap, scratch))
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes of activations for batch %lld",
                       total + scratch, (long long)batch);
    r->scratch_bytes = scratch;
    r->batch = batch;
    r->shared = shared;
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = &g->values[i];
        if (v->kind == VAL_CONST)
            r->vals[i] = *v->data, r->vals[i].owns_data = false;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        int v = g->nodes[g->order[k]].out, slot = shared ? r->plan.slot_of[v] : v;
        r->vals[v] = tensor_view(DT_F32, r->shapes[v], (char *)r->arena + r->plan.off[slot]);
    }
    r->arena_bytes = total;
    if (r->grads_on)
        return run_alloc_grads(r, err);
    return QS_OK;
}

QsStatus run_forward(Run *r, const Tensor *const *inputs, RunTapFn tap, void *tap_user,
                     QsError *err)
{
    const Graph *g = r->g;
    if (g->n_inputs < 1)
        return qs_fail(err, QS_EINVAL, "the graph has no inputs");
    if (run_set_batch(r, inputs[0]->shape.dim[0], err))
        return err->code;
    r->forward_done = false;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        const Tensor *t = inputs[i];
        if (t->dtype != DT_F32 || !shape_equal(&t->shape, &r->shapes[v])) {
            char a[96], b[96];
            return qs_fail(err, QS_ESHAPE, "input '%s': got %s %s, expected f32 %s",
                           g->values[v].name, dtype_name(t->dtype),
                           shape_format(&t->shape, a, sizeof a),
                           shape_format(&r->shapes[v], b, sizeof b));
        }
        r->vals[v] = tensor_view(DT_F32, t->shape, t->data);
    }
    RunCtx rc = { .scratch = r->scratch, .scratch_bytes = r->scratch_bytes,
                  .training = r->training };
    const RunPlan *p = &r->plan;
    bool fuse = r->shared && !tap && !r->training && p->n_fused > 0;
    bool packs = r->pack_weights && !r->training && !r->grads_on;
    if (packs)
        run_pack_build(&r->pack, g, r->shapes);
    for (int k = 0; k < g->n_nodes; k++) {
        int id = g->order[k];
        const Node *n = &g->nodes[id];
        if (fuse && p->fused_away[id])
            continue;
        const Tensor *in[64];
        for (int i = 0; i < n->n_in; i++)
            in[i] = n->in[i] >= 0 ? &r->vals[n->in[i]] : NULL;
        rc.clamp = fuse && p->fused_act[id] >= 0;
        rc.clamp_lo = p->clamp_lo[id];
        rc.clamp_hi = p->clamp_hi[id];
        const Tensor *bn_in[5];
        rc.bn = NULL;
        if (fuse && p->fused_bn[id] >= 0) {
            rc.bn = &g->nodes[p->fused_bn[id]];
            for (int i = 0; i < 5; i++)
                bn_in[i] = &r->vals[rc.bn->in[i]];
            rc.bn_in = bn_in;
        }
        rc.packed = packs ? r->pack.buf[id] : NULL;
        op_table[n->op]->forward(n, in, &r->vals[n->out], &rc);
        if (tap)
            tap(tap_user, id, &r->vals[n->out]);
    }
    r->forward_done = true;
    return QS_OK;
}

const Tensor *run_output(const Run *r, int k)
{
    QS_ASSERT(k >= 0 && k < r->g->n_outputs);
    return &r->vals[r->g->outputs[k]];
}

/* ---- gradients ------------------------------------------------------------------------ */

/* needs_grad[v] = v depends on a gradient source (a parameter, or an input when
 * input_grads) AND some graph output depends on v. Both are one sweep over the
 * topological order, forward for the first and backward for the second. */
static void run_mark_needed(const Graph *g, bool input_grads, bool *needs)
{
    int nv = g->n_values;
    bool *from = xcalloc((size_t)nv, sizeof *from), *to = xcalloc((size_t)nv, sizeof *to);
    for (int v = 0; v < nv; v++) {
        const Value *val = &g->values[v];
        from[v] = (val->kind == VAL_CONST && val->is_param) ||
                  (val->kind == VAL_INPUT && input_grads);
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && from[n->in[i]])
                from[n->out] = true;
    }
    for (int k = 0; k < g->n_outputs; k++)
        to[g->outputs[k]] = true;
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        const Node *n = &g->nodes[g->order[k]];
        if (!to[n->out])
            continue;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0)
                to[n->in[i]] = true;
    }
    for (int v = 0; v < nv; v++)
        needs[v] = from[v] && to[v];
    free(from);
    free(to);
}

QsStatus run_enable_grads(Run *r, bool input_grads, QsError *err)
{
    const Graph *g = r->g;
    QS_ASSERT(g->finalized);
    run_free_grads(r);
    bool *needs = xcalloc((size_t)g->n_values, sizeof *needs);
    run_mark_needed(g, input_grads, needs);
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        if (needs[n->out] && !op_table[n->op]->backward) {
            free(needs);
            return qs_fail(err, QS_EUNSUPPORTED, "training through %s '%s' is not supported",
                           op_table[n->op]->name, n->name);
        }
    }
    ParamList *p = &r->params;
    int count = 0;
    int64_t numel = 0;
    for (int v = 0; v < g->n_values; v++) {
        const Value *val = &g->values[v];
        if (!needs[v] || val->kind != VAL_CONST)
            continue;
        if (val->data->dtype != DT_F32) {
            free(needs);
            return qs_fail(err, QS_EUNSUPPORTED, "parameter '%s' is %s; training needs f32",
                           val->name, dtype_name(val->data->dtype));
        }
        int64_t ne = tensor_numel(val->data);
        if (__builtin_add_overflow(numel, ne, &numel)) {
            free(needs);
            return qs_fail(err, QS_ENOMEM, "parameter count overflows at '%s'", val->name);
        }
        count++;
    }
    size_t bytes;
    if (__builtin_mul_overflow((size_t)numel, sizeof(float), &bytes) ||
        !(p->buf = aligned_block(bytes))) {
        free(needs);
        return qs_fail(err, QS_ENOMEM, "cannot allocate %lld parameter gradients",
                       (long long)numel);
    }
    memset(p->buf, 0, bytes);
    p->n = count;
    p->numel = numel;
    p->value = xmalloc((size_t)(count ? count : 1) * sizeof *p->value);
    p->param = xmalloc((size_t)(count ? count : 1) * sizeof *p->param);
    p->grad = xmalloc((size_t)(count ? count : 1) * sizeof *p->grad);
    p->offset = xmalloc((size_t)(count ? count : 1) * sizeof *p->offset);
    r->needs_grad = needs;
    grad_layout_init(&r->grad_layout, g, needs);
    r->grads = xcalloc((size_t)g->n_values, sizeof *r->grads);
    int i = 0;
    int64_t off = 0;
    for (int v = 0; v < g->n_values; v++) {
        const Value *val = &g->values[v];
        if (!needs[v] || val->kind != VAL_CONST)
            continue;
        p->value[i] = v;
        p->param[i] = tensor_view(DT_F32, val->data->shape, val->data->data);
        p->grad[i] = tensor_view(DT_F32, val->data->shape, p->buf + off);
        p->offset[i] = off;
        r->grads[v] = p->grad[i];
        off += tensor_numel(val->data);
        i++;
    }
    r->grads_on = true;
    r->input_grads = input_grads;
    if (r->shared)
        r->forward_done = false; /* its inner values are gone: backward needs a new forward */
    if (r->batch)
        return run_alloc_grads(r, err);
    return QS_OK;
}

/* Zeroes the gradient slots that become live at backward step `step`, from position
 * `from` of the layout's first-step order; returns the position after them. */
static int run_zero_grads(Run *r, int from, int step)
{
    const GradLayout *l = &r->grad_layout;
    for (; from < l->n && l->first[l->by_first[from]] <= step; from++) {
        Tensor *t = &r->grads[l->by_first[from]];
        memset(t->data, 0, (size_t)tensor_numel(t) * sizeof(float));
    }
    return from;
}

QsStatus run_backward(Run *r, const Tensor *const *dout, QsError *err)
{
    const Graph *g = r->g;
    if (!r->grads_on)
        return qs_fail(err, QS_EINVAL, "backward: gradients are not enabled on this run");
    if (!r->forward_done || r->grad_batch != r->batch)
        return qs_fail(err, QS_EINVAL, "backward: no forward pass to back-propagate");
    for (int k = 0; k < g->n_outputs; k++) {
        const Tensor *d = dout[k];
        int v = g->outputs[k];
        if (d && (d->dtype != DT_F32 || !shape_equal(&d->shape, &r->shapes[v]))) {
            char a[96], b[96];
            return qs_fail(err, QS_ESHAPE, "backward: gradient of output '%s' is %s %s, expected f32 %s",
                           g->values[v].name, dtype_name(d->dtype),
                           shape_format(&d->shape, a, sizeof a),
                           shape_format(&r->shapes[v], b, sizeof b));
        }
    }
    memset(r->params.buf, 0, (size_t)r->params.numel * sizeof(float));
    int zeroed = run_zero_grads(r, 0, 0);
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (!dout[k] || !r->needs_grad[v])
            continue;
        float *gv = tensor_f32(&r->grads[v]);
        const float *dv = tensor_f32(dout[k]);
        for (int64_t j = 0; j < shape_numel(&r->shapes[v]); j++)
            gv[j] += dv[j];
    }
    RunCtx rc = { .scratch = r->scratch, .scratch_bytes = r->scratch_bytes,
                  .training = r->training };
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        const Node *n = &g->nodes[g->order[k]];
        zeroed = run_zero_grads(r, zeroed, g->n_nodes - 1 - k);
        if (!r->needs_grad[n->out])
            continue;
        const Tensor *in[64];
        Tensor *din[64];
        for (int i = 0; i < n->n_in; i++) {
            int v = n->in[i];
            in[i] = v >= 0 ? &r->vals[v] : NULL;
            din[i] = v >= 0 && r->needs_grad[v] ? &r->grads[v] : NULL;
        }
        op_table[n->op]->backward(n, in, &r->vals[n->out], &r->grads[n->out], din, &rc);
    }
    return QS_OK;
}

const Tensor *run_grad(const Run *r, int v)
{
    QS_ASSERT(v >= 0 && v < r->g->n_values);
    if (!r->grads_on || !r->needs_grad[v] || !r->grads[v].data)
        return NULL;
    return &r->grads[v];
}

const Tensor *run_input_grad(const Run *r, int k)
{
    QS_ASSERT(k >= 0 && k < r->g->n_inputs);
    return run_grad(r, r->g->inputs[k]);
}

const ParamList *run_params(const Run *r) { return &r->params; }
