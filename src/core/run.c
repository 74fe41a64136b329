#include "run.h"

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

void run_release(Run *r)
{
    if (!r)
        return;
    free(r->shapes);
    free(r->vals);
    free(r->arena);
    free(r->scratch);
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

QsStatus run_set_batch(Run *r, int64_t batch, QsError *err)
{
    const Graph *g = r->g;
    QS_ASSERT(g->finalized);
    if (batch < 1)
        return qs_fail(err, QS_EINVAL, "batch size %lld must be at least 1", (long long)batch);
    if (r->arena && r->batch == batch)
        return QS_OK;
    if (graph_infer_shapes(g, batch, r->shapes, err))
        return err->code;
    size_t total = 0, scratch = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        size_t bytes;
        if (shape_checked_bytes(&r->shapes[n->out], sizeof(float), &bytes, n->name, err))
            return err->code;
        if (__builtin_add_overflow(total, align_up(bytes), &total))
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
    free(r->arena);
    free(r->scratch);
    r->arena = aligned_block(total);
    r->scratch = aligned_block(scratch);
    if (!r->arena || !r->scratch) {
        free(r->arena);
        free(r->scratch);
        r->arena = r->scratch = NULL;
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes of activations for batch %lld",
                       total + scratch, (long long)batch);
    }
    r->arena_bytes = total;
    r->scratch_bytes = scratch;
    r->batch = batch;
    size_t off = 0;
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = &g->values[i];
        if (v->kind == VAL_CONST)
            r->vals[i] = *v->data, r->vals[i].owns_data = false;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        r->vals[n->out] = tensor_view(DT_F32, r->shapes[n->out], (char *)r->arena + off);
        off += align_up((size_t)shape_numel(&r->shapes[n->out]) * sizeof(float));
    }
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
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        const Tensor *in[64];
        for (int i = 0; i < n->n_in; i++)
            in[i] = n->in[i] >= 0 ? &r->vals[n->in[i]] : NULL;
        op_table[n->op]->forward(n, in, &r->vals[n->out], &rc);
        if (tap)
            tap(tap_user, g->order[k], &r->vals[n->out]);
    }
    return QS_OK;
}

const Tensor *run_output(const Run *r, int k)
{
    QS_ASSERT(k >= 0 && k < r->g->n_outputs);
    return &r->vals[r->g->outputs[k]];
}
