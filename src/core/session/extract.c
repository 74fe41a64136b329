#include "session/extract.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finds a value that may cut the graph (an input or a node output); `role` names it in
 * messages. */
static QsStatus extract_cut_value(const Graph *g, const char *name, const char *role, int *v,
                                  QsError *err)
{
    *v = graph_find_value(g, name);
    if (*v < 0)
        return qs_fail(err, QS_ENOTFOUND, "%s '%s': the model has no such value", role, name);
    if (g->values[*v].kind == VAL_CONST)
        return qs_fail(err, QS_EINVAL, "%s '%s' is a constant; name a graph input or a layer "
                       "output", role, name);
    return QS_OK;
}

/* Marks the nodes needed for value v (stopping at part inputs) in need[], and the part
 * inputs that are reached in used[]. Iterative over the topological order: a node is
 * needed when one of its outputs' readers is, so walking the order backwards visits each
 * node after every reader. */
static QsStatus extract_mark(const Graph *g, const bool *is_in, const bool *is_out, bool *need,
                             bool *used, QsError *err)
{
    bool *want = xcalloc((size_t)g->n_values, sizeof *want);
    for (int v = 0; v < g->n_values; v++)
        want[v] = is_out[v];
    QsStatus st = QS_OK;
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        int ni = g->order[k];
        const Node *n = &g->nodes[ni];
        if (!want[n->out] || is_in[n->out])
            continue;
        need[ni] = true;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0)
                want[n->in[i]] = true;
    }
    for (int v = 0; v < g->n_values && !st; v++) {
        if (!want[v])
            continue;
        if (is_in[v])
            used[v] = true;
        else if (g->values[v].kind == VAL_INPUT)
            st = qs_fail(err, QS_EINVAL, "the outputs need graph input '%s', which is not among "
                         "the part's inputs", g->values[v].name);
    }
    free(want);
    return st;
}

/* Per-sample shape (without the batch) of value v at batch 1. */
static Shape extract_sample(const Graph *g, int v)
{
    const Shape *s = &g->values[v].shape;
    Shape out = { .ndim = s->ndim - 1 };
    for (int i = 1; i < s->ndim; i++)
        out.dim[i - 1] = s->dim[i];
    return out;
}

static bool extract_same_outputs(const Graph *g, const int *outs, int n_out)
{
    if (n_out != g->n_outputs)
        return false;
    for (int i = 0; i < n_out; i++)
        if (outs[i] != g->outputs[i])
            return false;
    return true;
}

static QsStatus extract_build(const Model *m, const int *ins, int n_in, const int *outs,
                              int n_out, const bool *need, Extract *x, QsError *err)
{
    const Graph *g = &m->graph;
    Graph *ng = &x->m->graph;
    int *vmap = xmalloc((size_t)g->n_values * sizeof *vmap); /* source -> part, -1 */
    for (int v = 0; v < g->n_values; v++)
        vmap[v] = -1;
    x->value_from = xmalloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *x->value_from);
    x->node_from = xmalloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *x->node_from);
    QsStatus st = QS_OK;
    for (int i = 0; i < n_in && !st; i++) {
        Shape s = extract_sample(g, ins[i]);
        if (!(st = graph_add_input(ng, g->values[ins[i]].name, &s, err))) {
            vmap[ins[i]] = ng->n_values - 1;
            x->value_from[ng->n_values - 1] = ins[i];
        }
    }
    /* constants the needed nodes read, in source order */
    bool *cneed = xcalloc((size_t)g->n_values, sizeof *cneed);
    for (int ni = 0; ni < g->n_nodes; ni++)
        if (need[ni])
            for (int i = 0; i < g->nodes[ni].n_in; i++) {
                int v = g->nodes[ni].in[i];
                if (v >= 0 && g->values[v].kind == VAL_CONST)
                    cneed[v] = true;
            }
    for (int v = 0; v < g->n_values && !st; v++) {
        if (!cneed[v])
            continue;
        Tensor *t = tensor_clone(g->values[v].data, err);
        if (!t) {
            st = err->code;
            break;
        }
        if (!(st = graph_add_const(ng, g->values[v].name, t, g->values[v].is_param, err))) {
            vmap[v] = ng->n_values - 1;
            x->value_from[ng->n_values - 1] = v;
        }
    }
    free(cneed);
    for (int k = 0; k < g->n_nodes && !st; k++) {
        int ni = g->order[k];
        if (!need[ni])
            continue;
        const Node *n = &g->nodes[ni];
        const char *names[64];
        QS_ASSERT(n->n_in <= 64);
        for (int i = 0; i < n->n_in; i++)
            names[i] = n->in[i] >= 0 ? g->values[n->in[i]].name : "";
        if (!(st = graph_add_node(ng, n->op, n->name, names, n->n_in, g->values[n->out].name,
                                  n->attrs, n->n_attrs, err))) {
            x->node_from[ng->n_nodes - 1] = ni;
            vmap[n->out] = ng->n_values - 1;
            x->value_from[ng->n_values - 1] = n->out;
        }
    }
    for (int i = 0; i < n_out && !st; i++)
        st = graph_add_output(ng, g->values[outs[i]].name, err);
    if (!st)
        st = graph_finalize(ng, err);
    if (!st)
        st = model_pack(x->m, err);
    free(vmap);
    if (st)
        return st;
    /* graph_finalize keeps node and value indices (it only orders), so the maps hold */
    bool all = extract_same_outputs(g, outs, n_out);
    for (int i = 0; i < m->n_meta; i++) {
        const char *k = m->meta[i].key;
        if (strcmp(k, "parts") == 0 || strcmp(k, "variants") == 0 || strcmp(k, "picked") == 0 ||
            (!all && (strcmp(k, "task") == 0 || strcmp(k, "labels") == 0)))
            continue;
        model_meta_set(x->m, k, m->meta[i].value);
    }
    return QS_OK;
}

QsStatus extract_model(const Model *m, int n_in, const char *const *inputs, int n_out,
                       const char *const *outputs, Extract *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    const Graph *g = &m->graph;
    if (!g->finalized)
        return qs_fail(err, QS_EINVAL, "the model's graph is not finalized");
    if (n_in < 1 || n_out < 1 || n_in > EXTRACT_MAX_IO || n_out > EXTRACT_MAX_IO)
        return qs_fail(err, QS_EINVAL, "a part needs 1 to %d inputs and 1 to %d outputs "
                       "(got %d and %d)", EXTRACT_MAX_IO, EXTRACT_MAX_IO, n_in, n_out);
    int ins[EXTRACT_MAX_IO], outs[EXTRACT_MAX_IO];
    bool *is_in = xcalloc((size_t)g->n_values, sizeof *is_in);
    bool *is_out = xcalloc((size_t)g->n_values, sizeof *is_out);
    bool *used = xcalloc((size_t)g->n_values, sizeof *used);
    bool *need = xcalloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *need);
    QsStatus st = QS_OK;
    for (int i = 0; i < n_in && !st; i++) {
        if (!(st = extract_cut_value(g, inputs[i], "input", &ins[i], err)) && is_in[ins[i]])
            st = qs_fail(err, QS_EINVAL, "input '%s' is listed twice", inputs[i]);
        if (!st)
            is_in[ins[i]] = true;
    }
    for (int i = 0; i < n_out && !st; i++) {
        if (!(st = extract_cut_value(g, outputs[i], "output", &outs[i], err)) &&
            is_out[outs[i]])
            st = qs_fail(err, QS_EINVAL, "output '%s' is listed twice", outputs[i]);
        else if (!st && is_in[outs[i]])
            st = qs_fail(err, QS_EINVAL, "'%s' is both an input and an output of the part",
                         outputs[i]);
        if (!st)
            is_out[outs[i]] = true;
    }
    if (!st)
        st = extract_mark(g, is_in, is_out, need, used, err);
    for (int i = 0; i < n_in && !st; i++)
        if (!used[ins[i]])
            st = qs_fail(err, QS_EINVAL, "input '%s' is not needed by the outputs", inputs[i]);
    if (!st) {
        out->m = model_new();
        st = extract_build(m, ins, n_in, outs, n_out, need, out, err);
    }
    free(is_in);
    free(is_out);
    free(used);
    free(need);
    if (st)
        extract_release(out);
    return st;
}

void extract_release(Extract *x)
{
    if (!x)
        return;
    model_free(x->m);
    free(x->node_from);
    free(x->value_from);
    memset(x, 0, sizeof *x);
}

void extract_plan(const Extract *x, const Plan *src, Plan *dst)
{
    int n = x->m->graph.n_nodes;
    plan_init(dst, n);
    dst->mode = src->mode;
    dst->q = src->q;
    for (int i = 0; i < n; i++) {
        bool kept = x->node_from[i] < src->n_nodes;
        dst->pin[i] = kept ? src->pin[x->node_from[i]] : -1;
        dst->wgran[i] = kept ? src->wgran[x->node_from[i]] : -1;
    }
}

void extract_calib(const Extract *x, const Calibration *src, Calibration *dst)
{
    int n = x->m->graph.n_values;
    *dst = *src;
    dst->imported = NULL; /* indexed by the source graph's values; not carried over */
    dst->n_values = n;
    dst->stats = xmalloc((size_t)(n ? n : 1) * sizeof *dst->stats);
    for (int v = 0; v < n; v++) {
        if (x->value_from[v] < src->n_values)
            dst->stats[v] = src->stats[x->value_from[v]];
        else
            act_stats_init(&dst->stats[v]);
    }
}

void extract_bias_corr(const Extract *x, const BiasCorr *src, BiasCorr *dst)
{
    *dst = biascorr_none();
    if (!biascorr_active(src))
        return;
    int n = x->m->graph.n_nodes;
    dst->n_nodes = n;
    dst->v = xcalloc((size_t)(n ? n : 1), sizeof *dst->v);
    dst->len = xcalloc((size_t)(n ? n : 1), sizeof *dst->len);
    for (int i = 0; i < n; i++) {
        int k = x->node_from[i];
        if (k >= src->n_nodes || !src->v[k])
            continue;
        dst->len[i] = src->len[k];
        dst->v[i] = xmalloc((size_t)(src->len[k] ? src->len[k] : 1) * sizeof *dst->v[i]);
        memcpy(dst->v[i], src->v[k], (size_t)src->len[k] * sizeof *dst->v[i]);
    }
    extract_plan(x, &src->plan, &dst->plan);
    dst->gen = biascorr_next_gen();
    memcpy(dst->split, src->split, sizeof dst->split);
    dst->samples = src->samples;
}

/* Splits a comma list into names[max]; returns the count or -1. */
static int extract_split_names(const char *s, size_t len, char names[][128], int max)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        size_t w = i - start;
        if (w == 0 || w >= 128 || n >= max)
            return -1;
        memcpy(names[n], s + start, w);
        names[n][w] = '\0';
        n++;
        start = i + 1;
    }
    return n;
}

int extract_parts(const Model *m, ExtractPart *parts, int max, QsError *err)
{
    const char *s = model_meta_get(m, "parts");
    if (!s || !s[0])
        return 0;
    int n = 0;
    while (*s) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len), *gt = eq ? memchr(eq, '>', len - (size_t)(eq - s))
                                                       : NULL;
        if (n >= max || !eq || !gt || eq == s || (size_t)(eq - s) >= sizeof parts[n].name) {
            qs_fail(err, QS_EFORMAT, "metadata 'parts': cannot read '%.*s' (expected "
                    "NAME=IN,IN>OUT,OUT; at most %d parts)", (int)len, s, max);
            return -1;
        }
        ExtractPart *p = &parts[n];
        memset(p, 0, sizeof *p);
        memcpy(p->name, s, (size_t)(eq - s));
        p->n_in = extract_split_names(eq + 1, (size_t)(gt - eq - 1), p->in, EXTRACT_MAX_IO);
        p->n_out = extract_split_names(gt + 1, len - (size_t)(gt + 1 - s), p->out,
                                       EXTRACT_MAX_IO);
        if (p->n_in < 1 || p->n_out < 1) {
            qs_fail(err, QS_EFORMAT, "metadata 'parts': part '%s' needs 1 to %d input and "
                    "output names", p->name, EXTRACT_MAX_IO);
            return -1;
        }
        n++;
        s = end ? end + 1 : s + len;
    }
    return n;
}

QsStatus extract_part(const Model *m, const char *name, Extract *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    ExtractPart parts[EXTRACT_MAX_PARTS];
    int n = extract_parts(m, parts, EXTRACT_MAX_PARTS, err);
    if (n < 0)
        return err->code;
    char names[256] = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(parts[i].name, name) == 0) {
            const char *in[EXTRACT_MAX_IO], *o[EXTRACT_MAX_IO];
            for (int k = 0; k < parts[i].n_in; k++)
                in[k] = parts[i].in[k];
            for (int k = 0; k < parts[i].n_out; k++)
                o[k] = parts[i].out[k];
            QsStatus st = extract_model(m, parts[i].n_in, in, parts[i].n_out, o, out, err);
            if (st)
                qs_error_prefix(err, "part '%s'", name);
            return st;
        }
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", parts[i].name);
    }
    return qs_fail(err, QS_ENOTFOUND, "no part '%s' (parts: %s)", name,
                   n ? names : "none; a model names its parts in its metadata 'parts'");
}
