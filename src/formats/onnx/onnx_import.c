/* ONNX import: the driver. docs/onnx.md states the rules; the work is done in two phases.
 *
 * Phase one (onnx_wire.h) reads the protobuf bytes into plain structs. Phase two walks the
 * live nodes (those a graph output depends on) in topological order and imports each by
 * its row in the op table (onnx_ops.h): constants are evaluated at import (onnx_fold.h,
 * or qscope's own op through ox_emit), run-time nodes become qscope nodes with their
 * constant "parameter" inputs turned into attributes (onnx_values.h holds the values). */
#include "onnx/onnx_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/fileio.h"
#include "onnx/onnx_ops.h"
#include "onnx/onnx_stop.h"
#include "onnx/onnx_view.h"
#include "onnx/onnx_values.h"
#include "onnx/onnx_wire.h"
#include "ops/op.h"

static void ox_release(Ox *x)
{
    ox_graph_free(&x->f.g);
    ox_values_release(x);
}

/* Initializers become constant values; the other graph inputs become qscope graph inputs
 * (FLOAT, every dim but the batch fixed). */
static QsStatus ox_inputs(Ox *x, QsError *err)
{
    const OxGraph *g = &x->f.g;
    for (int i = 0; i < g->n_inits; i++) {
        OxVal *v;
        if (ox_define(x, g->inits[i].name, &v, err))
            return err->code;
        v->is_const = true;
        v->from_init = true;
        v->k = g->inits[i].t;
        g->inits[i].t = NULL; /* moved */
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const OxInfo *in = &g->inputs[i];
        OxVal *v = ox_val(x, in->name);
        if (v) /* IR < 4: initializers are listed as inputs too */
            continue;
        if (in->elem != OT_FLOAT)
            return qs_fail(err, QS_EUNSUPPORTED, "input '%s': element type %s, qscope takes "
                           "FLOAT inputs", in->name, ox_type_name(in->elem));
        if (!in->has_shape || in->ndim < 1)
            return qs_fail(err, QS_EUNSUPPORTED, "input '%s': no shape; qscope needs every "
                           "dim but the batch", in->name);
        if (in->known[0] && in->dim[0] != 1)
            return qs_fail(err, QS_EUNSUPPORTED, "input '%s': batch dim is fixed at %lld; "
                           "qscope accepts 1 or a symbolic (dynamic) batch", in->name,
                           (long long)in->dim[0]);
        if (in->known[0])
            x->batch_fixed1 = true;
        Shape sample = { .ndim = in->ndim - 1 };
        for (int d = 1; d < in->ndim; d++) {
            if (!in->known[d] || in->dim[d] < 1 || in->dim[d] > INT32_MAX)
                return qs_fail(err, QS_EUNSUPPORTED, "input '%s': dim %d is %s; qscope needs "
                               "fixed sizes for every dim but the batch", in->name, d,
                               in->known[d] ? "out of range" : "symbolic");
            sample.dim[d - 1] = in->dim[d];
        }
        if (graph_add_input(x->g, in->name, &sample, err))
            return err->code;
        if (ox_define(x, in->name, &v, err))
            return err->code;
        v->shape = shape_make(in->ndim, in->dim);
        v->shape.dim[0] = 1;
        v->shape2 = v->shape;
        v->shape2.dim[0] = 2;
        v->in_graph = true;
        v->qname = xstrdup(in->name);
    }
    if (x->g->n_inputs == 0)
        return qs_fail(err, QS_EUNSUPPORTED, "the graph has no inputs (only constants)");
    return QS_OK;
}

/* Who writes each node output: a value table of every node output name (tab), and
 * prod[q], the node that writes tab's value q. */
typedef struct OxProducers {
    Ox tab;
    int *prod;
    int n;
} OxProducers;

static void producers_release(OxProducers *p)
{
    free(p->tab.vals);
    free(p->tab.table);
    free(p->prod);
}

static QsStatus ox_producers(Ox *x, OxProducers *p, QsError *err)
{
    const OxGraph *g = &x->f.g;
    memset(p, 0, sizeof *p);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            const char *o = g->nodes[i].out[k];
            if (!o[0])
                continue;
            if (ox_val(x, o))
                return qs_fail(err, QS_EFORMAT, "%s '%s': output '%s' is also a graph input "
                               "or initializer", g->nodes[i].op, ox_node_name(&g->nodes[i]), o);
            OxVal *v;
            if (ox_define(&p->tab, o, &v, err))
                return err->code;
            p->prod = xrealloc(p->prod, (size_t)(p->n + 1) * sizeof *p->prod);
            p->prod[p->n++] = i;
        }
    return QS_OK;
}

/* Which node outputs are read by a node or the graph (for the extra-output check), as
 * used[node * OX_MAX_NODE_IO + k]. */
static bool *ox_used_outputs(const OxGraph *g, const OxProducers *p)
{
    bool *used = xcalloc((size_t)(p->n ? p->n : 1), sizeof *used);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int q = g->nodes[i].in[k][0] ? ox_find(&p->tab, g->nodes[i].in[k]) : -1;
            if (q >= 0)
                used[q] = true;
        }
    for (int i = 0; i < g->n_outputs; i++) {
        int q = ox_find(&p->tab, g->outputs[i].name);
        if (q >= 0)
            used[q] = true;
    }
    bool *used_nk = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * OX_MAX_NODE_IO,
                            sizeof *used_nk);
    for (int q = 0; q < p->n; q++) {
        int ni = p->prod[q];
        const char *name = p->tab.vals[q].name;
        for (int k = 0; k < g->nodes[ni].n_out; k++)
            if (strcmp(g->nodes[ni].out[k], name) == 0)
                used_nk[(size_t)ni * OX_MAX_NODE_IO + k] = used[q];
    }
    free(used);
    return used_nk;
}

/* Iterative DFS from every graph output: post-order gives producers first. Appends the
 * live nodes to order (room for every node). */
static QsStatus ox_walk(Ox *x, const OxProducers *p, int *order, int *n_order, QsError *err)
{
    const OxGraph *g = &x->f.g;
    int nn = g->n_nodes;
    bool *live = xcalloc((size_t)(nn ? nn : 1), sizeof *live);
    bool *done = xcalloc((size_t)(nn ? nn : 1), sizeof *done);
    int *stack = xmalloc((size_t)(2 * nn + 2) * sizeof *stack);
    QsStatus st = QS_OK;
    for (int oi = 0; oi < g->n_outputs && !st; oi++) {
        int q0 = ox_find(&p->tab, g->outputs[oi].name);
        if (q0 < 0) {
            if (!ox_val(x, g->outputs[oi].name))
                st = qs_fail(err, QS_EFORMAT, "graph output '%s' is produced by no node",
                             g->outputs[oi].name);
            continue;
        }
        int sp = 0;
        if (!live[p->prod[q0]]) {
            stack[sp++] = p->prod[q0];
            live[p->prod[q0]] = true;
        }
        while (sp > 0 && !st) {
            int ni = stack[sp - 1];
            const OxNode *nd = &g->nodes[ni];
            bool pushed = false;
            for (int k = 0; k < nd->n_in && !pushed; k++) {
                const char *in = nd->in[k];
                if (!in[0])
                    continue;
                int q = ox_find(&p->tab, in);
                if (q < 0) {
                    if (!ox_val(x, in))
                        st = qs_fail(err, QS_EFORMAT, "%s '%s': input '%s' is not defined",
                                     nd->op, ox_node_name(nd), in);
                    continue;
                }
                int pn = p->prod[q];
                if (!live[pn]) {
                    live[pn] = true;
                    stack[sp++] = pn;
                    pushed = true;
                } else if (!done[pn]) {
                    st = qs_fail(err, QS_EFORMAT, "%s '%s': the graph has a cycle through "
                                 "'%s'", nd->op, ox_node_name(nd), in);
                }
            }
            if (!pushed && !st) {
                done[ni] = true;
                order[(*n_order)++] = ni;
                sp--;
            }
        }
    }
    free(live);
    free(done);
    free(stack);
    return st;
}

/* Live nodes: those a graph output depends on, in an order where producers come first.
 * ONNX requires topological order in the file, but it is recomputed here (and cycles and
 * missing producers reported) rather than trusted. */
static QsStatus ox_order(Ox *x, int **order_out, int *n_out, bool **used_out, QsError *err)
{
    const OxGraph *g = &x->f.g;
    OxProducers p;
    QsStatus st = ox_producers(x, &p, err);
    if (st) {
        producers_release(&p);
        return st;
    }
    bool *used = ox_used_outputs(g, &p);
    int *order = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *order);
    int n_order = 0;
    st = ox_walk(x, &p, order, &n_order, err);
    producers_release(&p);
    if (st) {
        free(order);
        free(used);
        return st;
    }
    *order_out = order;
    *n_out = n_order;
    *used_out = used;
    return QS_OK;
}

/* HardSwish as exported below opset 14: Mul(x, HardSigmoid(x; alpha 1/6, beta 1/2)) where
 * the HardSigmoid feeds only that Mul. fuse[i] = -2 marks such a HardSigmoid (skipped);
 * fuse[mul] = the HardSigmoid's node index (the Mul becomes HardSwish under its own name);
 * -1 elsewhere. */
static void ox_fusions(const OxGraph *g, const int *order, int n_order, int *fuse)
{
    for (int i = 0; i < g->n_nodes; i++)
        fuse[i] = -1;
    for (int k = 0; k < n_order; k++) {
        const OxNode *h = &g->nodes[order[k]];
        const OxAttr *a = ox_attr_get(h, "alpha"), *b = ox_attr_get(h, "beta");
        if (strcmp(h->op, "HardSigmoid") != 0 || h->n_in != 1 || h->n_out != 1 || !a || !b ||
            a->type != OA_FLOAT || b->type != OA_FLOAT || fabsf(a->f - 1.0f / 6.0f) > 1e-6f ||
            b->f != 0.5f)
            continue;
        int users = 0, mul = -1;
        for (int j = 0; j < n_order; j++) {
            const OxNode *u = &g->nodes[order[j]];
            for (int q = 0; q < u->n_in; q++)
                if (strcmp(u->in[q], h->out[0]) == 0) {
                    users++;
                    if (strcmp(u->op, "Mul") == 0 && u->n_in == 2 &&
                        strcmp(u->in[1 - q], h->in[0]) == 0)
                        mul = order[j];
                }
        }
        for (int o = 0; o < g->n_outputs; o++)
            users += strcmp(g->outputs[o].name, h->out[0]) == 0;
        if (users == 1 && mul >= 0) {
            fuse[order[k]] = -2;
            fuse[mul] = order[k];
        }
    }
}

/* A unique layer name for node i: its own when it has one and it is free. */
static char *ox_layer_name(Ox *x, const OxNode *n, int i)
{
    char buf[OX_MAX_NAME + 32];
    if (n->name && n->name[0] && graph_find_node(x->g, n->name) < 0)
        return xstrdup(n->name);
    const char *base = n->name && n->name[0] ? n->name : n->op;
    snprintf(buf, sizeof buf, "%s_%d", base, i);
    for (int k = 1; graph_find_node(x->g, buf) >= 0 && k < 1000; k++)
        snprintf(buf, sizeof buf, "%s_%d_%d", base, i, k);
    return xstrdup(buf);
}

/* The op-table row of every live node (rows[node]), or one message listing every
 * unsupported live node. */
static QsStatus ox_rows(const OxGraph *g, const int *order, int n_order, const OxOpRow **rows,
                        QsError *err)
{
    char list[400] = "";
    size_t at = 0;
    int n_bad = 0;
    for (int k = 0; k < n_order; k++) {
        const OxNode *n = &g->nodes[order[k]];
        rows[order[k]] = ox_op_find(n);
        if (rows[order[k]])
            continue;
        if (n_bad++ < 12 && at < sizeof list)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s%s%s (%s)",
                                   n_bad > 1 ? ", " : "", n->domain && n->domain[0] ? n->domain : "",
                                   n->domain && n->domain[0] ? "::" : "", n->op, ox_node_name(n));
    }
    if (n_bad)
        return qs_fail(err, QS_EUNSUPPORTED, "%d unsupported node%s: %s%s", n_bad,
                       n_bad > 1 ? "s" : "", list, n_bad > 12 ? ", ..." : "");
    return QS_OK;
}

/* Imports node i (fuse: ox_fusions; used: [n_out] which outputs are read). */
static QsStatus ox_node_import(Ox *x, int i, const OxOpRow *row, const int *fuse,
                               const bool *used, QsError *err)
{
    const OxGraph *g = &x->f.g;
    const OxNode *n = &g->nodes[i];
    OxCtx c = { .x = x, .n = n, .err = err };
    bool all_const = true;
    for (int j = 0; j < n->n_in; j++) {
        c.in[j] = ox_val(x, n->in[j]);
        if (n->in[j][0] && !c.in[j])
            return qs_fail(err, QS_EFORMAT, "%s '%s': input '%s' is not defined", n->op,
                           ox_node_name(n), n->in[j]);
        if (c.in[j] && !c.in[j]->is_const)
            all_const = false;
    }
    if (n->n_out < 1 || !n->out[0][0])
        return qs_fail(err, QS_EFORMAT, "%s '%s': no output", n->op, ox_node_name(n));
    char *lname = ox_layer_name(x, n, i);
    c.name = lname;
    QsStatus st;
    if (fuse[i] >= 0) {
        OxVal *hx = ox_val(x, g->nodes[fuse[i]].in[0]);
        st = hx ? ox_emit(&c, OP_HARDSWISH, &hx, 1, NULL, 0)
                : ox_nfail(&c, QS_EFORMAT, "HardSigmoid input is not defined");
    } else {
        bool done = false;
        st = all_const ? QS_OK : ox_view_import(&c, &done);
        if (!st && !done)
            st = ox_op_import(&c, row, all_const, used);
    }
    free(lname);
    return st;
}

/* The graph outputs, then the finished graph and model. */
static QsStatus ox_outputs(Ox *x, QsError *err)
{
    const OxGraph *g = &x->f.g;
    for (int i = 0; i < g->n_outputs; i++) {
        OxVal *v = ox_val(x, g->outputs[i].name);
        if (!v)
            return qs_fail(err, QS_EFORMAT, "graph output '%s' is not defined",
                           g->outputs[i].name);
        if (v->is_const)
            return qs_fail(err, QS_EUNSUPPORTED, "graph output '%s' is a constant (it does not "
                           "depend on any input)", g->outputs[i].name);
        if (graph_add_output(x->g, v->qname, err))
            return err->code;
    }
    if (g->n_outputs == 0)
        return qs_fail(err, QS_EFORMAT, "the graph has no outputs");
    QsStatus st = graph_finalize(x->g, err);
    return st ? st : model_pack(x->m, err);
}

static QsStatus ox_build(Ox *x, QsError *err)
{
    const OxGraph *g = &x->f.g;
    QsStatus st = ox_inputs(x, err);
    if (!st)
        st = ox_stop_before_nms(x, err);
    if (st)
        return st;
    int *order = NULL, n_order = 0;
    bool *used = NULL;
    if ((st = ox_order(x, &order, &n_order, &used, err)))
        return st;
    size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1);
    const OxOpRow **rows = xcalloc(nn, sizeof *rows);
    int *fuse = xmalloc(nn * sizeof *fuse);
    st = ox_rows(g, order, n_order, rows, err);
    if (!st)
        ox_fusions(g, order, n_order, fuse);
    for (int k = 0; k < n_order && !st; k++) {
        int i = order[k];
        if (fuse[i] != -2) /* a HardSigmoid fused into its Mul */
            st = ox_node_import(x, i, rows[i], fuse, used + (size_t)i * OX_MAX_NODE_IO, err);
    }
    free(order);
    free(used);
    free(rows);
    free(fuse);
    return st ? st : ox_outputs(x, err);
}

/* The model's size for the budget: the file, or its initializers when they are larger
 * (external data counts as part of the model). */
static int64_t ox_file_bytes(const OxFile *f, size_t len)
{
    int64_t init = 0;
    for (int i = 0; i < f->g.n_inits; i++)
        init += (int64_t)tensor_bytes(f->g.inits[i].t);
    return init > (int64_t)len ? init : (int64_t)len;
}

Model *onnx_parse(const void *buf, size_t len, const char *dir, const char *what,
                  QsError *err)
{
    QsError e = { 0 };
    Ox x;
    memset(&x, 0, sizeof x);
    OxMaps maps = { 0 };
    x.f.dir = dir;
    x.f.maps = &maps;
    QsStatus st = ox_read_model(&x.f, buf, len, &e);
    if (!st) {
        x.opset = x.f.opset;
        x.budget = budget_for_file(ox_file_bytes(&x.f, len));
        x.m = model_new();
        ox_maps_give(&maps, x.m); /* constants may view external data: before model_pack */
        x.g = &x.m->graph;
        st = ox_build(&x, &e);
    }
    Model *m = x.m;
    if (st) {
        model_free(m);
        m = NULL;
        qs_error_prefix(&e, "%s", what ? what : "onnx");
        if (err)
            *err = e;
    } else {
        model_meta_set(m, "source", "onnx");
        char op[16];
        snprintf(op, sizeof op, "%d", x.opset);
        model_meta_set(m, "onnx_opset", op);
    }
    ox_release(&x);
    ox_maps_release(&maps); /* only when reading failed before the model existed */
    return m;
}

Model *onnx_load(const char *path, QsError *err)
{
    void *buf;
    size_t len;
    if (fileio_read(path, &buf, &len, err))
        return NULL;
    /* External data lives beside the model file. */
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    Model *m = onnx_parse(buf, len, dir, path, err);
    free(dir);
    free(buf);
    return m;
}
