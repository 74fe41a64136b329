#include "run/run_pack.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ops/op.h"

/* The packed size of node n's constant weights; 0 when it has none to cache. */
static size_t node_packed_bytes(const Graph *g, const Node *n, const Shape *shapes)
{
    const OpDef *def = op_table[n->op];
    if (!def->packed_bytes || n->n_in < 2 || n->n_in > 64 || n->in[1] < 0 ||
        g->values[n->in[1]].kind != VAL_CONST)
        return 0;
    const Shape *in[64];
    for (int i = 0; i < n->n_in; i++)
        in[i] = n->in[i] >= 0 ? &shapes[n->in[i]] : NULL;
    return def->packed_bytes(n, in);
}

void run_pack_build(RunPack *pk, const Graph *g, const Shape *shapes)
{
    if (pk->built)
        return;
    pk->built = true;
    pk->n = g->n_nodes;
    pk->buf = xcalloc((size_t)g->n_nodes, sizeof *pk->buf);
    for (int k = 0; k < g->n_nodes; k++) {
        int id = g->order[k];
        size_t b = node_packed_bytes(g, &g->nodes[id], shapes);
        if (b <= OP_PACKED_FLAGS || b > RUN_PACK_CAP - pk->bytes)
            continue;
        void *p = NULL;
        if (posix_memalign(&p, 64, b))
            continue;
        memset(p, 0, OP_PACKED_FLAGS); /* nothing packed yet (RunCtx.packed) */
        pk->buf[id] = p;
        pk->bytes += b;
    }
}

void run_pack_release(RunPack *pk)
{
    for (int i = 0; i < pk->n; i++)
        free(pk->buf[i]);
    free(pk->buf);
    memset(pk, 0, sizeof *pk);
}
