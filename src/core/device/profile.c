#include "device/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double device_op_cycles(const DevCost *c, const DevOp *op)
{
    bool int8 = op->type == DEV_INT8;
    double per = int8 ? c->int8[op->cost] : c->flt[op->cost];
    if (int8 && op->cost == DC_CONV && c->conv_tiers[0] > 0 && op->conv_cin > 0)
        per = c->conv_tiers[op->conv_cin < 16 ? 0 : op->conv_cin < 64 ? 1 : 2];
    bool per_mac = op->cost <= DC_POOL_AVG;
    return per * (double)(per_mac ? op->macs : op->elems);
}

/* Live steps: graph inputs from step 0, op i's output from step i + 1, each tensor to the
 * last op reading it, graph outputs to the last step (arena.h). */
static void plan_arena(DeviceProfile *pr)
{
    const DevGraph *g = &pr->g;
    pr->buf = xcalloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof *pr->buf);
    for (int t = 0; t < g->n_tensors; t++) {
        pr->buf[t].size = arena_align(g->tensors[t].bytes);
        pr->buf[t].first = pr->buf[t].last = g->tensors[t].graph_input ? 0 : -1;
    }
    for (int i = 0; i < g->n_ops; i++) {
        const DevOp *op = &g->ops[i];
        ArenaBuffer *o = &pr->buf[op->out];
        if (o->first < 0)
            o->first = i + 1;
        for (int k = 0; k < op->n_in; k++)
            pr->buf[g->ins[op->first_in + k]].last = i + 1;
        if (o->last < i + 1)
            o->last = i + 1;
    }
    pr->largest = -1;
    for (int t = 0; t < g->n_tensors; t++) {
        ArenaBuffer *b = &pr->buf[t];
        if (g->tensors[t].graph_output) {
            if (b->first < 0)
                b->first = g->n_ops;
            b->last = g->n_ops;
        }
        pr->tensor_bytes += b->size;
        if (pr->largest < 0 || b->size > pr->buf[pr->largest].size)
            pr->largest = t;
    }
    pr->arena_bytes = arena_plan(pr->buf, g->n_tensors);
}

/* Whether the runtime has op i; the TFLM runtimes also lack hybrid kernels and the
 * DEQUANTIZE of float16 (their DEQUANTIZE takes int8, int16 and uint8). */
static const char *op_missing(const DeviceTarget *t, const DevOp *op)
{
    if (!device_target_has_op(t, op->builtin))
        return t->runtime == DEV_RUNTIME_EDGETPU ? "not an Edge TPU op" : "no kernel";
    if (t->runtime == DEV_RUNTIME_EDGETPU)
        return op->type == DEV_INT8 ? NULL : "not int8";
    if (op->type == DEV_HYBRID)
        return "hybrid (int8 weights, float activations): no kernel";
    if (op->half_weights)
        return "float16 input: no kernel";
    return NULL;
}

static void check_ops(DeviceProfile *pr)
{
    const DeviceTarget *t = pr->target;
    const DevGraph *g = &pr->g;
    pr->first_host_op = -1;
    pr->full_integer = true;
    for (int i = 0; i < g->n_ops; i++) {
        const DevOp *op = &g->ops[i];
        DeviceOpCost *c = &pr->cost[i];
        c->why = op_missing(t, op);
        if (t->runtime == DEV_RUNTIME_EDGETPU && !c->why && pr->first_host_op >= 0)
            c->why = "after the first op left to the CPU";
        c->supported = !c->why;
        if (!c->supported) {
            pr->n_unsupported++;
            if (t->runtime == DEV_RUNTIME_EDGETPU && pr->first_host_op < 0)
                pr->first_host_op = i; /* the compiler maps one prefix: the rest runs here */
        }
        c->on_host = t->runtime == DEV_RUNTIME_EDGETPU && !c->supported;
        if ((op->type != DEV_INT8 && !op->edge) || op->half_weights)
            pr->full_integer = false;
    }
    pr->rank_ok = true;
    for (int k = 0; k < g->n_tensors; k++) {
        const Shape *s = &g->tensors[k].shape;
        for (int d = 0; d + 3 < s->ndim; d++)
            if (s->dim[d] > 1)
                pr->rank_ok = false;
    }
}

static void estimate(DeviceProfile *pr)
{
    const DeviceTarget *t = pr->target;
    for (int i = 0; i < pr->g.n_ops; i++) {
        const DevOp *op = &pr->g.ops[i];
        DeviceOpCost *c = &pr->cost[i];
        const DevCost *on = c->on_host ? t->host : t->cost;
        c->cycles = device_op_cycles(on, op);
        c->ms = 1e3 * c->cycles / on->clock_hz;
        pr->est_ms += c->ms;
        if (c->on_host)
            pr->est_ms_host += c->ms;
        if (op->cost <= DC_FC)
            pr->macs += op->macs;
    }
}

QsStatus device_profile(const Model *m, const Plan *p, const DeviceTarget *t, bool io_int8,
                        DeviceProfile *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    out->target = t;
    if (devgraph_build(m, p, io_int8, &out->g, err))
        return err->code;
    out->cost = xcalloc((size_t)(out->g.n_ops ? out->g.n_ops : 1), sizeof *out->cost);
    plan_arena(out);
    if (out->arena_bytes < 0) {
        device_profile_release(out);
        return qs_fail(err, QS_ENOMEM, "device: no memory to plan the arena");
    }
    check_ops(out);
    estimate(out);
    return QS_OK;
}

void device_profile_release(DeviceProfile *pr)
{
    devgraph_release(&pr->g);
    free(pr->cost);
    free(pr->buf);
    memset(pr, 0, sizeof *pr);
}

/* Whether op j is the first unsupported op of its builtin (i), or of its layer among them
 * (the list names each builtin once, each layer once). */
static bool first_of(const DeviceProfile *pr, int j, bool same_layer)
{
    const DevOp *op = &pr->g.ops[j];
    for (int i = 0; i < j; i++) {
        const DevOp *o = &pr->g.ops[i];
        if (!pr->cost[i].supported && strcmp(o->builtin, op->builtin) == 0 &&
            (!same_layer || o->node == op->node))
            return false;
    }
    return true;
}

void device_unsupported_list(const DeviceProfile *pr, const Model *m, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < pr->g.n_ops && used < cap; i++) {
        const DevOp *op = &pr->g.ops[i];
        if (pr->cost[i].supported || !first_of(pr, i, false))
            continue;
        used += (size_t)snprintf(buf + used, cap - used, "%s%s: %s (", used ? "; " : "",
                                 op->builtin, pr->cost[i].why);
        int named = 0;
        for (int j = i; j < pr->g.n_ops && used < cap; j++) {
            const DevOp *o = &pr->g.ops[j];
            if (pr->cost[j].supported || strcmp(o->builtin, op->builtin) != 0 ||
                !first_of(pr, j, true))
                continue;
            used += (size_t)snprintf(buf + used, cap - used, "%s%s", named++ ? ", " : "",
                                     o->node >= 0 ? m->graph.nodes[o->node].name : "io");
        }
        if (used < cap)
            used += (size_t)snprintf(buf + used, cap - used, ")");
    }
}

void device_unsupported_names(const DeviceProfile *pr, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < pr->g.n_ops && used < cap; i++) {
        const DevOp *op = &pr->g.ops[i];
        if (pr->cost[i].supported || !first_of(pr, i, false))
            continue;
        const char *kind = op->type == DEV_HYBRID ? "hybrid " : op->half_weights ? "float16 "
                                                                                  : "";
        used += (size_t)snprintf(buf + used, cap - used, "%s%s%s", used ? ", " : "", kind,
                                 op->builtin);
    }
}
