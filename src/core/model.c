#include "model.h"

#include <stdlib.h>
#include <string.h>

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

QsStatus model_pack(Model *m, QsError *err)
{
    Graph *g = &m->graph;
    size_t total = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == VAL_CONST)
            total += (tensor_bytes(g->values[i].data) + 63) & ~(size_t)63;
    void *arena = NULL;
    if (posix_memalign(&arena, 64, total ? total : 64))
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes for the weights", total);
    memset(arena, 0, total ? total : 64); /* alignment padding too: arenas compare equal */
    size_t off = 0;
    for (int i = 0; i < g->n_values; i++) {
        Tensor *t = g->values[i].data;
        if (g->values[i].kind != VAL_CONST)
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
