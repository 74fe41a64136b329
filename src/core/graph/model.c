#include "graph/model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

Model *model_new(void)
{
    Model *m = xcalloc(1, sizeof *m);
    graph_init(&m->graph);
    return m;
}

void model_free(Model *m)
{
    if (!m)
        return;
    graph_release(&m->graph);
    free(m->arena);
    for (int i = 0; i < m->n_maps; i++)
        munmap(m->maps[i].addr, m->maps[i].bytes);
    free(m->maps);
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta[i].key);
        free(m->meta[i].value);
    }
    free(m->meta);
    free(m);
}

const char *model_meta_get(const Model *m, const char *key)
{
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta[i].key, key) == 0)
            return m->meta[i].value;
    return NULL;
}

void model_meta_set(Model *m, const char *key, const char *value)
{
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta[i].key, key) == 0) {
            free(m->meta[i].value);
            m->meta[i].value = xstrdup(value);
            return;
        }
    m->meta = xrealloc(m->meta, (size_t)(m->n_meta + 1) * sizeof *m->meta);
    m->meta[m->n_meta].key = xstrdup(key);
    m->meta[m->n_meta].value = xstrdup(value);
    m->n_meta++;
}

void model_meta_remove(Model *m, const char *key)
{
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta[i].key, key) == 0) {
            free(m->meta[i].key);
            free(m->meta[i].value);
            memmove(&m->meta[i], &m->meta[i + 1], (size_t)(m->n_meta - i - 1) * sizeof *m->meta);
            m->n_meta--;
            return;
        }
}

void model_adopt_mapping(Model *m, void *addr, size_t bytes)
{
    if (!bytes)
        return;
    m->maps = xrealloc(m->maps, (size_t)(m->n_maps + 1) * sizeof *m->maps);
    m->maps[m->n_maps].addr = addr;
    m->maps[m->n_maps].bytes = bytes;
    m->n_maps++;
}

bool model_maps(const Model *m, const void *p)
{
    for (int i = 0; i < m->n_maps; i++) {
        uintptr_t a = (uintptr_t)m->maps[i].addr, q = (uintptr_t)p;
        if (q >= a && q - a < m->maps[i].bytes)
            return true;
    }
    return false;
}

/* A constant that model_pack leaves where it is. */
static bool stays_mapped(const Model *m, const Value *v)
{
    return v->kind == VAL_CONST && !v->data->owns_data && tensor_bytes(v->data) &&
           model_maps(m, v->data->data);
}

size_t model_mapped_bytes(const Model *m)
{
    size_t n = 0;
    for (int i = 0; m->n_maps && i < m->graph.n_values; i++)
        if (stays_mapped(m, &m->graph.values[i]))
            n += tensor_bytes(m->graph.values[i].data);
    return n;
}

QsStatus model_pack(Model *m, QsError *err)
{
    Graph *g = &m->graph;
    size_t total = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == VAL_CONST && !stays_mapped(m, &g->values[i]))
            total += (tensor_bytes(g->values[i].data) + 63) & ~(size_t)63;
    void *arena = NULL;
    if (posix_memalign(&arena, 64, total ? total : 64))
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes for the weights", total);
    memset(arena, 0, total ? total : 64); /* alignment padding too: arenas compare equal */
    size_t off = 0;
    for (int i = 0; i < g->n_values; i++) {
        Tensor *t = g->values[i].data;
        if (g->values[i].kind != VAL_CONST || stays_mapped(m, &g->values[i]))
            continue;
        size_t bytes = tensor_bytes(t);
        memcpy((char *)arena + off, t->data, bytes);
        tensor_release(t);
        t->data = (char *)arena + off;
        t->owns_data = false;
        off += (bytes + 63) & ~(size_t)63;
    }
    free(m->arena);
    m->arena = arena;
    m->arena_bytes = total;
    return QS_OK;
}

Model *model_clone(const Model *m, QsError *err)
{
    const Graph *g = &m->graph;
    Model *c = model_new();
    Graph *h = &c->graph;
    /* field by field, so every index stays where it is */
    h->n_values = h->cap_values = g->n_values;
    h->values = xcalloc((size_t)(g->n_values ? g->n_values : 1), sizeof *h->values);
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = &g->values[i];
        Value *w = &h->values[i];
        *w = *v;
        w->name = xstrdup(v->name);
        w->data = NULL;
        if (v->data && !(w->data = tensor_clone(v->data, err))) {
            free(w->name);
            h->n_values = i; /* model_free frees the values before i */
            model_free(c);
            return NULL;
        }
    }
    h->n_nodes = h->cap_nodes = g->n_nodes;
    h->nodes = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *h->nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        Node *d = &h->nodes[i];
        *d = *n;
        d->name = xstrdup(n->name);
        d->in = xmalloc((size_t)(n->n_in ? n->n_in : 1) * sizeof *d->in);
        memcpy(d->in, n->in, (size_t)n->n_in * sizeof *d->in);
        d->attrs = xcalloc((size_t)(n->n_attrs ? n->n_attrs : 1), sizeof *d->attrs);
        for (int k = 0; k < n->n_attrs; k++)
            d->attrs[k] = attr_copy(&n->attrs[k]);
    }
    h->n_inputs = g->n_inputs;
    h->inputs = xmalloc((size_t)(g->n_inputs ? g->n_inputs : 1) * sizeof *h->inputs);
    memcpy(h->inputs, g->inputs, (size_t)g->n_inputs * sizeof *h->inputs);
    h->n_outputs = g->n_outputs;
    h->outputs = xmalloc((size_t)(g->n_outputs ? g->n_outputs : 1) * sizeof *h->outputs);
    memcpy(h->outputs, g->outputs, (size_t)g->n_outputs * sizeof *h->outputs);
    if (g->order) {
        h->order = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *h->order);
        memcpy(h->order, g->order, (size_t)g->n_nodes * sizeof *h->order);
    }
    h->finalized = g->finalized;
    graph_index_build(h); /* filled directly above: index it before anyone shares it */
    for (int i = 0; i < m->n_meta; i++)
        model_meta_set(c, m->meta[i].key, m->meta[i].value);
    if (model_pack(c, err)) {
        model_free(c);
        return NULL;
    }
    return c;
}
