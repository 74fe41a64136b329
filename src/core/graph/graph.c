#include "graph/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/namemap.h"
#include "ops/op.h"

/* The name index: values[0 .. n_values) and nodes[0 .. n_nodes) are in the maps. */
struct GraphIndex {
    NameMap values, nodes;
    int n_values, n_nodes;
};

void graph_init(Graph *g) { memset(g, 0, sizeof *g); }

void graph_index_forget(Graph *g)
{
    if (!g->index)
        return;
    namemap_clear(&g->index->values);
    namemap_clear(&g->index->nodes);
    g->index->n_values = g->index->n_nodes = 0;
}

/* Brings the index up to the graph: appended values and nodes are added; fewer entries
 * than indexed means something was removed without graph_index_forget, so it starts over.
 * The index is a cache, so filling it through a const Graph does not change the graph. */
static struct GraphIndex *index_sync(const Graph *cg)
{
    Graph *g = (Graph *)cg;
    if (!g->index) {
        g->index = xcalloc(1, sizeof *g->index);
        namemap_init(&g->index->values);
        namemap_init(&g->index->nodes);
    }
    struct GraphIndex *ix = g->index;
    if (ix->n_values > g->n_values || ix->n_nodes > g->n_nodes)
        graph_index_forget(g);
    for (; ix->n_values < g->n_values; ix->n_values++)
        namemap_put(&ix->values, g->values[ix->n_values].name, ix->n_values);
    for (; ix->n_nodes < g->n_nodes; ix->n_nodes++)
        namemap_put(&ix->nodes, g->nodes[ix->n_nodes].name, ix->n_nodes);
    return ix;
}

void graph_release(Graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        free(n->name);
        free(n->in);
        for (int k = 0; k < n->n_attrs; k++)
            attr_release(&n->attrs[k]);
        free(n->attrs);
    }
    for (int i = 0; i < g->n_values; i++) {
        free(g->values[i].name);
        tensor_free(g->values[i].data);
    }
    free(g->nodes);
    free(g->values);
    free(g->inputs);
    free(g->outputs);
    free(g->order);
    if (g->index) {
        namemap_free(&g->index->values);
        namemap_free(&g->index->nodes);
        free(g->index);
    }
    memset(g, 0, sizeof *g);
}

void graph_index_build(const Graph *g) { index_sync(g); }

int graph_find_value(const Graph *g, const char *name)
{
    return namemap_get(&index_sync(g)->values, name);
}

int graph_find_node(const Graph *g, const char *name)
{
    return namemap_get(&index_sync(g)->nodes, name);
}

static QsStatus new_value(Graph *g, const char *name, ValueKind kind, int *idx, QsError *err)
{
    if (!name || !name[0])
        return qs_fail(err, QS_EFORMAT, "a value has an empty name");
    if (graph_find_value(g, name) >= 0)
        return qs_fail(err, QS_EFORMAT, "value '%s' is defined twice", name);
    if (g->n_values == g->cap_values) {
        g->cap_values = g->cap_values ? 2 * g->cap_values : 16;
        g->values = xrealloc(g->values, (size_t)g->cap_values * sizeof *g->values);
    }
    Value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = xstrdup(name);
    v->kind = kind;
    v->producer = -1;
    *idx = g->n_values++;
    g->finalized = false;
    return QS_OK;
}

QsStatus graph_add_input(Graph *g, const char *name, const Shape *sample, QsError *err)
{
    int idx;
    if (sample->ndim + 1 > QS_MAX_DIMS)
        return qs_fail(err, QS_ESHAPE, "input '%s': rank %d too large", name, sample->ndim + 1);
    /* each dim may be sane while their product is not (a file's 2^31 x 2^31 x 2^31) */
    char what[128];
    size_t bytes;
    snprintf(what, sizeof what, "input '%s'", name);
    if (shape_checked_bytes(sample, sizeof(float), &bytes, what, err))
        return err->code;
    if (new_value(g, name, VAL_INPUT, &idx, err))
        return err->code;
    Value *v = &g->values[idx];
    v->shape.ndim = sample->ndim + 1;
    v->shape.dim[0] = 0;
    for (int i = 0; i < sample->ndim; i++)
        v->shape.dim[i + 1] = sample->dim[i];
    g->inputs = xrealloc(g->inputs, (size_t)(g->n_inputs + 1) * sizeof *g->inputs);
    g->inputs[g->n_inputs++] = idx;
    return QS_OK;
}

QsStatus graph_add_const(Graph *g, const char *name, Tensor *t, bool is_param, QsError *err)
{
    int idx;
    if (new_value(g, name, VAL_CONST, &idx, err)) {
        tensor_free(t);
        return err->code;
    }
    Value *v = &g->values[idx];
    v->data = t;
    v->shape = t->shape;
    v->is_param = is_param;
    return QS_OK;
}

QsStatus graph_add_node(Graph *g, int op, const char *name, const char *const *inputs,
                        int n_in, const char *output, const Attr *attrs, int n_attrs,
                        QsError *err)
{
    if (op < 0 || op >= OP_COUNT || !op_table[op])
        return qs_fail(err, QS_EUNSUPPORTED, "node '%s': unknown op %d", name, op);
    const OpDef *def = op_table[op];
    if (!name || !name[0])
        return qs_fail(err, QS_EFORMAT, "a %s node has an empty name", def->name);
    if (graph_find_node(g, name) >= 0)
        return qs_fail(err, QS_EFORMAT, "node name '%s' is used twice", name);
    if (n_in < def->min_in || n_in > def->max_in)
        return qs_fail(err, QS_EFORMAT, "%s '%s': %d inputs, expected %d to %d", def->name, name,
                       n_in, def->min_in, def->max_in);
    int *in = xmalloc((size_t)(n_in ? n_in : 1) * sizeof *in);
    for (int i = 0; i < n_in; i++) {
        if (!inputs[i] || !inputs[i][0]) {
            in[i] = -1;
            continue;
        }
        in[i] = graph_find_value(g, inputs[i]);
        if (in[i] < 0) {
            free(in);
            return qs_fail(err, QS_EFORMAT, "%s '%s': input '%s' is not defined before it",
                           def->name, name, inputs[i]);
        }
    }
    if (def->min_in > 0 && in[0] < 0) {
        free(in);
        return qs_fail(err, QS_EFORMAT, "%s '%s': first input is required", def->name, name);
    }
    int out;
    if (new_value(g, output, VAL_NODE, &out, err)) {
        free(in);
        return err->code;
    }
    /* Parsed last, so that errors in the name, inputs and output come first. */
    OpParams params;
    const Node probe = { .op = op, .name = (char *)name, .n_in = n_in, .in = in,
                         .n_attrs = n_attrs, .attrs = (Attr *)attrs };
    if (op_parse(&probe, &params, err)) {
        free(in);
        graph_index_forget(g); /* it may hold the name freed next */
        free(g->values[--g->n_values].name); /* the output value new_value just added */
        return err->code;
    }
    if (g->n_nodes == g->cap_nodes) {
        g->cap_nodes = g->cap_nodes ? 2 * g->cap_nodes : 16;
        g->nodes = xrealloc(g->nodes, (size_t)g->cap_nodes * sizeof *g->nodes);
    }
    Node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = xstrdup(name);
    n->n_in = n_in;
    n->in = in;
    n->out = out;
    n->n_attrs = n_attrs;
    n->attrs = xcalloc((size_t)(n_attrs ? n_attrs : 1), sizeof *n->attrs);
    for (int i = 0; i < n_attrs; i++)
        n->attrs[i] = attr_copy(&attrs[i]);
    n->params = params;
    n->parsed = true;
    g->values[out].producer = g->n_nodes;
    g->n_nodes++;
    return QS_OK;
}

QsStatus graph_add_output(Graph *g, const char *name, QsError *err)
{
    int v = graph_find_value(g, name);
    if (v < 0)
        return qs_fail(err, QS_EFORMAT, "graph output '%s' is not defined", name);
    if (g->values[v].kind == VAL_CONST)
        return qs_fail(err, QS_EFORMAT, "graph output '%s' is a constant", name);
    g->outputs = xrealloc(g->outputs, (size_t)(g->n_outputs + 1) * sizeof *g->outputs);
    g->outputs[g->n_outputs++] = v;
    g->finalized = false;
    return QS_OK;
}

/* Depth-first topological sort from `root`, with an explicit stack (a chain of a million
 * nodes would overflow the C stack); state 1 = on the stack, 2 = done; next[k] is the next
 * input of stack[k] to visit. Nodes that no output depends on are still ordered (they are
 * inspected as layers). */
static QsStatus visit(const Graph *g, int root, char *state, int *stack, int *next, int *order,
                      int *n_order, QsError *err)
{
    if (state[root] == 2)
        return QS_OK;
    int depth = 0;
    stack[depth] = root;
    next[depth++] = 0;
    state[root] = 1;
    while (depth > 0) {
        const Node *n = &g->nodes[stack[depth - 1]];
        int p = -1;
        while (p < 0 && next[depth - 1] < n->n_in) {
            int v = n->in[next[depth - 1]++];
            p = v >= 0 ? g->values[v].producer : -1;
            if (p >= 0 && state[p] == 2)
                p = -1;
        }
        if (p < 0) {
            state[stack[depth - 1]] = 2;
            order[(*n_order)++] = stack[--depth];
            continue;
        }
        if (state[p] == 1)
            return qs_fail(err, QS_EFORMAT, "the graph has a cycle through node '%s'",
                           g->nodes[p].name);
        state[p] = 1;
        stack[depth] = p;
        next[depth++] = 0;
    }
    return QS_OK;
}

QsStatus graph_finalize(Graph *g, QsError *err)
{
    if (g->n_inputs == 0)
        return qs_fail(err, QS_EFORMAT, "the graph has no inputs");
    if (g->n_outputs == 0)
        return qs_fail(err, QS_EFORMAT, "the graph has no outputs");
    free(g->order);
    g->order = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *g->order);
    size_t n = (size_t)(g->n_nodes ? g->n_nodes : 1);
    char *state = xcalloc(n, 1);
    int *stack = xmalloc(n * sizeof *stack), *next = xmalloc(n * sizeof *next);
    int n_order = 0;
    QsStatus st = QS_OK;
    /* Nodes are added only after their inputs exist, so the graph is acyclic by
     * construction; the sort still checks, because loaders may build it another way. */
    for (int i = 0; i < g->n_nodes && !st; i++)
        st = visit(g, i, state, stack, next, g->order, &n_order, err);
    free(state);
    free(stack);
    free(next);
    if (!st)
        index_sync(g); /* so that lookups on the finalized graph only read */
    if (st)
        return st;
    Shape *shapes = xmalloc((size_t)g->n_values * sizeof *shapes);
    st = graph_infer_shapes(g, 1, shapes, err);
    if (!st)
        for (int i = 0; i < g->n_values; i++)
            if (g->values[i].kind == VAL_NODE)
                g->values[i].shape = shapes[i];
    free(shapes);
    if (!st)
        g->finalized = true;
    return st;
}

QsStatus graph_infer_shapes(const Graph *g, int64_t batch, Shape *shapes, QsError *err)
{
    for (int i = 0; i < g->n_values; i++) {
        shapes[i] = g->values[i].shape;
        if (g->values[i].kind == VAL_INPUT)
            shapes[i].dim[0] = batch;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = &g->nodes[g->order[k]];
        const Shape *in[64];
        if (n->n_in > 64)
            return qs_fail(err, QS_EFORMAT, "node '%s' has %d inputs (at most 64)", n->name,
                           n->n_in);
        for (int i = 0; i < n->n_in; i++)
            in[i] = n->in[i] >= 0 ? &shapes[n->in[i]] : NULL;
        Shape out = { 0 };
        if (op_infer(n, in, &out, err))
            return err->code;
        shapes[n->out] = out;
    }
    return QS_OK;
}

int64_t graph_param_count(const Graph *g)
{
    int64_t n = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == VAL_CONST)
            n += shape_numel(&g->values[i].shape);
    return n;
}

size_t graph_param_bytes(const Graph *g)
{
    size_t n = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == VAL_CONST)
            n += tensor_bytes(g->values[i].data);
    return n;
}

/* Drops value v (which nothing may reference any more) and renumbers the rest. */
static void drop_value(Graph *g, int v)
{
    graph_index_forget(g);
    free(g->values[v].name);
    tensor_free(g->values[v].data);
    memmove(&g->values[v], &g->values[v + 1], (size_t)(g->n_values - v - 1) * sizeof *g->values);
    g->n_values--;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] > v)
                n->in[k]--;
        if (n->out > v)
            n->out--;
    }
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] > v)
            g->inputs[i]--;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] > v)
            g->outputs[i]--;
}

static bool value_used(const Graph *g, int v)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == v)
                return true;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v)
            return true;
    return false;
}

QsStatus graph_bypass_node(Graph *g, int node, QsError *err)
{
    QS_ASSERT(node >= 0 && node < g->n_nodes);
    Node *n = &g->nodes[node];
    int src = n->in[0], out = n->out;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == out && g->values[src].kind != VAL_NODE)
            return qs_fail(err, QS_EINVAL, "node '%s' cannot be removed: the graph output would "
                           "become an input or constant", n->name);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == out)
                g->nodes[i].in[k] = src;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == out)
            g->outputs[i] = src;
    /* the node's other inputs: constants only it used go too */
    int n_in = n->n_in;
    int *ins = xmalloc((size_t)n_in * sizeof *ins);
    memcpy(ins, n->in, (size_t)n_in * sizeof *ins);
    graph_index_forget(g);
    free(n->name);
    free(n->in);
    for (int k = 0; k < n->n_attrs; k++)
        attr_release(&n->attrs[k]);
    free(n->attrs);
    memmove(&g->nodes[node], &g->nodes[node + 1], (size_t)(g->n_nodes - node - 1) * sizeof *g->nodes);
    g->n_nodes--;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].producer > node)
            g->values[i].producer--;
    drop_value(g, out);
    for (int k = 0; k < n_in; k++)
        if (ins[k] > out)
            ins[k]--;
    for (int k = n_in - 1; k >= 1; k--) {
        int v = ins[k];
        if (v < 0 || g->values[v].kind != VAL_CONST || value_used(g, v))
            continue;
        drop_value(g, v);
        for (int j = 0; j < k; j++)
            if (ins[j] > v)
                ins[j]--;
    }
    free(ins);
    g->finalized = false;
    return graph_finalize(g, err);
}
