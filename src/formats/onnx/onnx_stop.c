#include "onnx/onnx_stop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "graph/model.h"

static bool is_nms(const OxNode *n)
{
    return strcmp(n->op, "NonMaxSuppression") == 0 &&
           (!n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0);
}

/* Marks in `after` every value computed from an NMS output; its first NMS in *first. */
static QsStatus mark_after(const OxGraph *g, Ox *after, int *first, QsError *err)
{
    *first = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const OxNode *n = &g->nodes[i];
        bool hit = is_nms(n);
        if (hit && *first < 0)
            *first = i;
        for (int k = 0; k < n->n_in && !hit; k++)
            hit = n->in[k][0] && ox_find(after, n->in[k]) >= 0;
        for (int k = 0; k < n->n_out && hit; k++) {
            OxVal *v;
            if (n->out[k][0] && ox_find(after, n->out[k]) < 0 &&
                ox_define(after, n->out[k], &v, err))
                return err->code;
        }
    }
    return QS_OK;
}

/* Appends output `name` unless it is there already. */
static void add_output(OxInfo *outs, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(outs[i].name, name) == 0)
            return;
    memset(&outs[*n], 0, sizeof outs[*n]);
    outs[(*n)++].name = xstrdup(name);
}

QsStatus ox_stop_before_nms(Ox *x, QsError *err)
{
    OxGraph *g = &x->f.g;
    Ox after;
    memset(&after, 0, sizeof after);
    int first;
    QsStatus st = mark_after(g, &after, &first, err);
    if (st || first < 0) {
        ox_values_release(&after);
        return st;
    }
    int n_nms = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n_nms += is_nms(&g->nodes[i]);
    int cap = g->n_outputs + 2 * n_nms, n = 0;
    OxInfo *outs = xcalloc((size_t)cap, sizeof *outs);
    for (int i = 0; i < g->n_outputs; i++)
        if (ox_find(&after, g->outputs[i].name) < 0)
            add_output(outs, &n, g->outputs[i].name);
    char added[512] = "";
    size_t at = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const OxNode *nd = &g->nodes[i];
        if (!is_nms(nd))
            continue;
        for (int k = 0; k < 2; k++) {
            if (nd->n_in <= k || !nd->in[k][0]) {
                st = qs_fail(err, QS_EFORMAT, "NonMaxSuppression '%s': input %d (%s) is missing",
                             ox_node_name(nd), k, k ? "scores" : "boxes");
                break;
            }
            if (at < sizeof added)
                at += (size_t)snprintf(added + at, sizeof added - at, "%s'%s'",
                                       at ? ", " : "", nd->in[k]);
            add_output(outs, &n, nd->in[k]);
        }
        if (st)
            break;
    }
    int dropped = g->n_outputs;
    for (int i = 0; i < g->n_outputs; i++)
        dropped -= ox_find(&after, g->outputs[i].name) < 0;
    ox_values_release(&after);
    if (st) {
        for (int i = 0; i < n; i++)
            free(outs[i].name);
        free(outs);
        return st;
    }
    for (int i = 0; i < g->n_outputs; i++)
        free(g->outputs[i].name);
    free(g->outputs);
    g->outputs = outs;
    g->n_outputs = g->cap_outputs = n;
    char msg[1024];
    snprintf(msg, sizeof msg, "NonMaxSuppression '%s'%s: qscope has no NMS; the model stops "
             "before it (%d graph output%s computed from it dropped) and outputs the boxes "
             "and scores it would filter: %s", ox_node_name(&g->nodes[first]),
             n_nms > 1 ? " and the other NMS nodes" : "", dropped, dropped == 1 ? "" : "s",
             added);
    model_meta_set(x->m, "onnx_stopped_before", msg);
    return QS_OK;
}
