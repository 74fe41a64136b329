#include "graph/transform.h"

#include "ops/op.h"

/* The per-channel factors of a scale layer, or NULL when node n is not one. */
static const float *scale_factors(const Graph *g, const Node *n, int64_t *C)
{
    if (n->op != OP_MUL || n->n_in != 2 || n->in[1] < 0)
        return NULL;
    const Value *f = &g->values[n->in[1]];
    const Shape *x = &g->values[n->in[0]].shape;
    if (f->kind != VAL_CONST || f->is_param || x->ndim < 2 || f->shape.ndim != x->ndim - 1)
        return NULL;
    if (f->shape.dim[0] != x->dim[1] || shape_numel(&f->shape) != x->dim[1])
        return NULL;
    *C = x->dim[1];
    return tensor_f32(f->data);
}

static int readers(const Graph *g, int v, int *first)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == v) {
                if (count++ == 0 && first)
                    *first = i;
            }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            count += 1000; /* a graph output is read by the outside world */
    return count;
}

static bool fold_into_batchnorm(Graph *g, const Node *mul, const float *f, int64_t C)
{
    int p = g->values[mul->in[0]].producer;
    if (p < 0 || g->nodes[p].op != OP_BATCHNORM || readers(g, mul->in[0], NULL) != 1)
        return false;
    const Node *bn = &g->nodes[p];
    float *scale = tensor_f32(g->values[bn->in[1]].data);
    float *bias = tensor_f32(g->values[bn->in[2]].data);
    if (readers(g, bn->in[1], NULL) != 1 || readers(g, bn->in[2], NULL) != 1)
        return false;
    for (int64_t c = 0; c < C; c++) {
        scale[c] *= f[c];
        bias[c] *= f[c];
    }
    return true;
}

/* Every reader must be a group-1 Conv or a Dense on (N, C); checked before changing any. */
static bool fold_into_readers(Graph *g, const Node *mul, const float *f, int64_t C)
{
    const Shape *x = &g->values[mul->out].shape;
    int n_readers = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] != mul->out)
                continue;
            bool ok = k == 0 && ((n->op == OP_CONV && n->params.win.group == 1) ||
                                 (n->op == OP_DENSE && x->ndim == 2));
            if (!ok || readers(g, n->in[1], NULL) != 1)
                return false;
            n_readers++;
        }
    }
    if (n_readers == 0 || readers(g, mul->out, NULL) >= 1000)
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->in[0] != mul->out)
            continue;
        Tensor *w = g->values[n->in[1]].data; /* (OC, C, ...) or (OUT, C) */
        int64_t oc = w->shape.dim[0], inner = shape_span(&w->shape, 2, w->shape.ndim);
        float *wv = tensor_f32(w);
        for (int64_t o = 0; o < oc; o++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t j = 0; j < inner; j++)
                    wv[(o * C + c) * inner + j] *= f[c];
    }
    return true;
}

QsStatus transform_absorb_scales(Model *m, int *n_folded, int *n_left, QsError *err)
{
    Graph *g = &m->graph;
    *n_folded = *n_left = 0;
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < g->n_nodes && !changed; i++) {
            int64_t C;
            const float *f = scale_factors(g, &g->nodes[i], &C);
            if (!f)
                continue;
            if (fold_into_batchnorm(g, &g->nodes[i], f, C) ||
                fold_into_readers(g, &g->nodes[i], f, C)) {
                if (graph_bypass_node(g, i, err))
                    return err->code;
                (*n_folded)++;
                changed = true;
            }
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        int64_t C;
        if (scale_factors(g, &g->nodes[i], &C))
            (*n_left)++;
    }
    return model_pack(m, err);
}
