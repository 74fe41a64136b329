/* First fit by offset over the slots live at each step (grad_layout.h). */
#include "run/grad_layout.h"

#include <stdlib.h>
#include <string.h>

void grad_layout_init(GradLayout *l, const Graph *g, const bool *needs)
{
    memset(l, 0, sizeof *l);
    int nv = g->n_values, nn = g->n_nodes;
    l->first = xmalloc((size_t)(nv ? nv : 1) * sizeof *l->first);
    l->last = xmalloc((size_t)(nv ? nv : 1) * sizeof *l->last);
    l->off = xcalloc((size_t)(nv ? nv : 1), sizeof *l->off);
    for (int v = 0; v < nv; v++) {
        bool slot = needs[v] && g->values[v].kind != VAL_CONST;
        l->first[v] = slot ? nn : -1; /* lowered to the first writer below */
        l->last[v] = nn;
    }
    for (int k = 0; k < g->n_outputs; k++)
        if (l->first[g->outputs[k]] >= 0)
            l->first[g->outputs[k]] = 0;
    for (int k = 0; k < nn; k++) {
        const Node *n = &g->nodes[g->order[k]];
        int s = nn - 1 - k;
        if (l->first[n->out] >= 0)
            l->last[n->out] = s;
        if (!needs[n->out])
            continue; /* runs no backward: writes no gradient */
        for (int i = 0; i < n->n_in; i++) {
            int v = n->in[i];
            if (v >= 0 && l->first[v] > s)
                l->first[v] = s;
        }
    }
    for (int v = 0; v < nv; v++)
        if (l->first[v] >= 0 && g->values[v].kind == VAL_INPUT)
            l->first[v] = 0; /* whole backward: read after it */
    /* by_first: a counting sort over the steps 0..nn */
    int *count = xcalloc((size_t)nn + 2, sizeof *count);
    for (int v = 0; v < nv; v++)
        if (l->first[v] >= 0) {
            count[l->first[v] + 1]++;
            l->n++;
        }
    for (int s = 0; s <= nn; s++)
        count[s + 1] += count[s];
    l->by_first = xmalloc((size_t)(l->n ? l->n : 1) * sizeof *l->by_first);
    for (int v = 0; v < nv; v++)
        if (l->first[v] >= 0)
            l->by_first[count[l->first[v]]++] = v;
    free(count);
}

size_t grad_layout_place(GradLayout *l, const Graph *g, const Shape *shapes, size_t align)
{
    (void)g;
    int *live = xmalloc((size_t)(l->n ? l->n : 1) * sizeof *live); /* by offset */
    int n_live = 0;
    size_t total = 0;
    for (int j = 0; j < l->n; j++) {
        int v = l->by_first[j];
        size_t bytes = ((size_t)shape_numel(&shapes[v]) * sizeof(float) + align - 1) &
                       ~(align - 1);
        int kept = 0; /* drop the slots whose value died before this one is written */
        for (int i = 0; i < n_live; i++)
            if (l->last[live[i]] >= l->first[v])
                live[kept++] = live[i];
        n_live = kept;
        size_t at = 0;
        int pos = 0;
        for (; pos < n_live; pos++) {
            int u = live[pos];
            size_t ub = ((size_t)shape_numel(&shapes[u]) * sizeof(float) + align - 1) &
                        ~(align - 1);
            if (at + bytes <= l->off[u])
                break;
            if (l->off[u] + ub > at)
                at = l->off[u] + ub;
        }
        l->off[v] = at;
        memmove(live + pos + 1, live + pos, (size_t)(n_live - pos) * sizeof *live);
        live[pos] = v;
        n_live++;
        if (at + bytes > total)
            total = at + bytes;
    }
    free(live);
    return total;
}

void grad_layout_release(GradLayout *l)
{
    if (!l)
        return;
    free(l->by_first);
    free(l->first);
    free(l->last);
    free(l->off);
    memset(l, 0, sizeof *l);
}
