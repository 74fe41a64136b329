#include "run/run_plan.h"

#include <stdlib.h>

#include "ops/op.h"

#define PLAN_ALIGN 64

size_t run_slot_bytes(const Shape *s)
{
    size_t bytes = (size_t)shape_numel(s) * sizeof(float);
    return (bytes + PLAN_ALIGN - 1) & ~(size_t)(PLAN_ALIGN - 1);
}

/* How many times each value is read: node inputs (a node reading v twice counts twice)
 * and graph outputs. */
static int *plan_reads(const Graph *g)
{
    int *reads = xcalloc((size_t)g->n_values, sizeof *reads);
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] >= 0)
                reads[g->nodes[i].in[j]]++;
    for (int k = 0; k < g->n_outputs; k++)
        reads[g->outputs[k]]++;
    return reads;
}

/* Marks every BatchNormalization that fuses into the conv before it, taking over the
 * activation fused into it (run_plan.h). After the activations: Conv -> BN -> Relu has
 * the Relu fused into the BN by then. */
/* Its scale, bias, mean and variance are constants: the producer reads them before the
 * BatchNormalization's own step, when a node's output might not be computed yet. */
static bool bn_params_const(const Graph *g, const Node *bn)
{
    for (int i = 1; i < bn->n_in; i++)
        if (bn->in[i] < 0 || g->values[bn->in[i]].kind != VAL_CONST)
            return false;
    return true;
}

static void plan_fuse_bn(RunPlan *p, const Graph *g, const int *reads)
{
    for (int b = 0; b < g->n_nodes; b++) {
        const Node *bn = &g->nodes[b];
        if (bn->op != OP_BATCHNORM || bn->in[0] < 0 || !bn_params_const(g, bn))
            continue;
        const Value *val = &g->values[bn->in[0]];
        if (val->kind != VAL_NODE || reads[bn->in[0]] != 1)
            continue;
        int prod = val->producer;
        if (!op_table[g->nodes[prod].op]->fuses_bn || p->fused_bn[prod] >= 0 ||
            p->fused_act[prod] >= 0)
            continue;
        p->fused_bn[prod] = b;
        p->fused_away[b] = true;
        p->fused_act[prod] = p->fused_act[b];
        p->clamp_lo[prod] = p->clamp_lo[b];
        p->clamp_hi[prod] = p->clamp_hi[b];
        p->n_fused++;
    }
}

/* Marks every activation that fuses into its producer (run_plan.h). */
static void plan_fusion(RunPlan *p, const Graph *g)
{
    int *reads = plan_reads(g);
    for (int i = 0; i < g->n_nodes; i++)
        p->fused_act[i] = p->fused_bn[i] = -1;
    for (int a = 0; a < g->n_nodes; a++) {
        const Node *act = &g->nodes[a];
        float lo, hi;
        if (act->n_in != 1 || act->in[0] < 0 || !op_clamp_range(act, &lo, &hi))
            continue;
        int v = act->in[0];
        const Value *val = &g->values[v];
        /* One read in all means this activation is the only reader and v is no output. */
        if (val->kind != VAL_NODE || reads[v] != 1)
            continue;
        int prod = val->producer;
        if (!op_table[g->nodes[prod].op]->fuses_clamp || p->fused_act[prod] >= 0)
            continue;
        p->fused_act[prod] = a;
        p->fused_away[a] = true;
        p->clamp_lo[prod] = lo;
        p->clamp_hi[prod] = hi;
        p->n_fused++;
    }
    plan_fuse_bn(p, g, reads);
    free(reads);
}

/* Slot owners and their live steps, in topological order. */
static void plan_lifetimes(RunPlan *p, const Graph *g)
{
    for (int v = 0; v < g->n_values; v++)
        p->slot_of[v] = -1;
    for (int k = 0; k < g->n_nodes; k++) {
        int id = g->order[k];
        const Node *n = &g->nodes[id];
        for (int j = 0; j < n->n_in; j++) {
            int s = n->in[j] >= 0 ? p->slot_of[n->in[j]] : -1;
            if (s >= 0 && p->last[s] < k)
                p->last[s] = k;
        }
        if (p->fused_away[id]) {
            p->slot_of[n->out] = p->slot_of[n->in[0]];
            continue;
        }
        p->slot_of[n->out] = n->out;
        p->first[n->out] = p->last[n->out] = k;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int s = p->slot_of[g->outputs[k]];
        if (s >= 0)
            p->last[s] = g->n_nodes;
    }
}

void run_plan_init(RunPlan *p, const Graph *g)
{
    size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1), nv = (size_t)(g->n_values ? g->n_values : 1);
    p->fused_act = xmalloc(nn * sizeof *p->fused_act);
    p->fused_bn = xmalloc(nn * sizeof *p->fused_bn);
    p->fused_away = xcalloc(nn, sizeof *p->fused_away);
    p->clamp_lo = xcalloc(nn, sizeof *p->clamp_lo);
    p->clamp_hi = xcalloc(nn, sizeof *p->clamp_hi);
    p->n_fused = 0;
    p->slot_of = xmalloc(nv * sizeof *p->slot_of);
    p->first = xcalloc(nv, sizeof *p->first);
    p->last = xcalloc(nv, sizeof *p->last);
    p->order = xmalloc(nv * sizeof *p->order);
    p->placed = xmalloc(nv * sizeof *p->placed);
    p->off = xcalloc(nv, sizeof *p->off);
    p->bytes = xcalloc(nv, sizeof *p->bytes);
    plan_fusion(p, g);
    plan_lifetimes(p, g);
}

void run_plan_release(RunPlan *p)
{
    free(p->fused_act);
    free(p->fused_bn);
    free(p->fused_away);
    free(p->clamp_lo);
    free(p->clamp_hi);
    free(p->slot_of);
    free(p->first);
    free(p->last);
    free(p->order);
    free(p->placed);
    free(p->off);
    free(p->bytes);
    *p = (RunPlan){ 0 };
}

/* Sorts slot owners largest first, then by first step and index, so the layout is the
 * same on every machine. Insertion sort: it runs per batch size and must not allocate,
 * and qsort's comparator would need the sizes through a global. */
static void plan_sort(const RunPlan *p, int *ord, int n)
{
    for (int i = 1; i < n; i++) {
        int v = ord[i], j = i - 1;
        while (j >= 0) {
            int u = ord[j];
            bool after = p->bytes[u] < p->bytes[v] ||
                         (p->bytes[u] == p->bytes[v] &&
                          (p->first[u] > p->first[v] || (p->first[u] == p->first[v] && u > v)));
            if (!after)
                break;
            ord[j + 1] = u;
            j--;
        }
        ord[j + 1] = v;
    }
}

size_t run_plan_layout(RunPlan *p, const Graph *g, const Shape *shapes)
{
    int n = 0;
    for (int v = 0; v < g->n_values; v++)
        if (p->slot_of[v] == v) {
            p->bytes[v] = run_slot_bytes(&shapes[v]);
            p->order[n++] = v;
        }
    plan_sort(p, p->order, n);
    size_t total = 0;
    int n_placed = 0;
    for (int i = 0; i < n; i++) {
        int v = p->order[i];
        size_t off = 0;
        for (int j = 0; j < n_placed; j++) { /* `placed` is sorted by offset */
            int u = p->placed[j];
            if (p->first[u] > p->last[v] || p->first[v] > p->last[u])
                continue; /* never live at the same time */
            if (off + p->bytes[v] <= p->off[u])
                break;    /* fits in the gap before u */
            if (p->off[u] + p->bytes[u] > off)
                off = p->off[u] + p->bytes[u];
        }
        int at = 0;
        while (at < n_placed && p->off[p->placed[at]] <= off)
            at++;
        for (int j = n_placed; j > at; j--)
            p->placed[j] = p->placed[j - 1];
        p->placed[at] = v;
        n_placed++;
        p->off[v] = off;
        if (off + p->bytes[v] > total)
            total = off + p->bytes[v];
    }
    return total;
}
