/* Parameter ties of a deployment target (docs/quantization.md, "Ties"). TFLite's
 * quantization spec makes a concat's inputs and output share one scale and zero point, and
 * an average pool's output keep its input's; the converter picks them so that the kernels
 * copy instead of requantizing. Here the values so joined form a group (union-find over
 * the int8-static steps that would tie), and every value of a group quantizes with one
 * range: the hull of the calibrated ranges of the members that set their own parameters
 * (the concat output, whose calibrated range already spans its inputs', and each value
 * that is not the output of a pass-through or tied pool). Pass-through ops (MaxPool,
 * Relu/Clip, layout ops, Resize) keep their input's parameters on every target, so a
 * group without a tie is left to lowering as before. */
#include <stdlib.h>

#include "ops/op.h"
#include "quant/observer.h"
#include "qexec/qexec_internal.h"

static int ties_root(int *parent, int v)
{
    while (parent[v] != v) {
        parent[v] = parent[parent[v]];
        v = parent[v];
    }
    return v;
}

static void ties_join(int *parent, bool *tie_edge, int a, int b, bool tie)
{
    int ra = ties_root(parent, a), rb = ties_root(parent, b);
    bool t = tie || tie_edge[ra] || tie_edge[rb];
    if (ra != rb)
        parent[rb] = ra;
    tie_edge[ra] = t;
}

QsStatus qexec_ties_build(const QModel *q, const Calibration *cal, const int *head_of,
                          QexecTies *t, QsError *err)
{
    const Graph *g = q->g;
    const QTargetDef *T = target_of(q->plan.q.target);
    t->tied = NULL;
    t->lo = t->hi = NULL;
    if (!(T->tie_concat || T->tie_avgpool) || !cal)
        return QS_OK;
    int nv = g->n_values;
    int *parent = xmalloc((size_t)(nv ? nv : 1) * sizeof *parent);
    bool *tie_edge = xcalloc((size_t)(nv ? nv : 1), sizeof *tie_edge);
    bool *anchor = xmalloc((size_t)(nv ? nv : 1) * sizeof *anchor);
    for (int v = 0; v < nv; v++) {
        parent[v] = v;
        anchor[v] = true;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        int node = g->order[k];
        const Node *n = &g->nodes[node];
        if (head_of[node] != node || !precision_static_activations(plan_node_prec(&q->plan, node)))
            continue;
        StepKind kind = qexec_q_kind(g, n);
        const OpInt8 *rule = &op_table[n->op]->int8;
        if (kind == STEP_FLOAT || kind == STEP_LIN_Q)
            continue;
        if (rule->qp == OPQ_QP_INPUT || rule->qp == OPQ_QP_CLAMPED) {
            ties_join(parent, tie_edge, n->in[0], n->out, false);
            anchor[n->out] = false;
        } else if (kind == STEP_Q_AVGPOOL && rule->step == OPQ_AVGPOOL && T->tie_avgpool) {
            ties_join(parent, tie_edge, n->in[0], n->out, true);
            anchor[n->out] = false;
        } else if (kind == STEP_Q_CONCAT && T->tie_concat) {
            for (int i = 0; i < n->n_in; i++)
                ties_join(parent, tie_edge, n->out, n->in[i], true);
        }
    }
    t->tied = xcalloc((size_t)(nv ? nv : 1), sizeof *t->tied);
    t->lo = xmalloc((size_t)(nv ? nv : 1) * sizeof *t->lo);
    t->hi = xmalloc((size_t)(nv ? nv : 1) * sizeof *t->hi);
    for (int v = 0; v < nv; v++) {
        t->lo[v] = 0.0f;
        t->hi[v] = 0.0f;
    }
    const QuantOpts *o = &q->plan.q;
    ObserverOpts oo = { .pct = o->pct, .bits = o->bits, .symmetric = o->act_symmetric };
    QsStatus st = QS_OK;
    /* the hull of the anchors' ranges, kept at each root (quant_params widens to 0 anyway) */
    for (int v = 0; v < nv && !st; v++) {
        int r = ties_root(parent, v);
        if (!tie_edge[r] || !anchor[v])
            continue;
        float lo, hi;
        if (observer_table[o->observer].range(&cal->stats[v], &oo, &lo, &hi, err)) {
            qs_error_prefix(err, "value '%s' (%s observer)", g->values[v].name,
                            observer_table[o->observer].name);
            st = err->code;
            break;
        }
        t->lo[r] = lo < t->lo[r] ? lo : t->lo[r];
        t->hi[r] = hi > t->hi[r] ? hi : t->hi[r];
    }
    for (int v = 0; v < nv && !st; v++) {
        int r = ties_root(parent, v);
        if (!tie_edge[r])
            continue;
        t->tied[v] = true;
        t->lo[v] = t->lo[r];
        t->hi[v] = t->hi[r];
    }
    free(parent);
    free(tie_edge);
    free(anchor);
    if (st)
        qexec_ties_release(t);
    return st;
}

void qexec_ties_release(QexecTies *t)
{
    free(t->tied);
    free(t->lo);
    free(t->hi);
    t->tied = NULL;
    t->lo = t->hi = NULL;
}
