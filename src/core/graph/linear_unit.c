/* Linear units: grouping and folding (linear_unit.h). The attributes a unit depends on
 * (Conv's group, Gemm's alpha, beta, transA and transB, BatchNorm's epsilon) are read here
 * and nowhere else in the executor's lowering or QAT. */
#include "graph/linear_unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

static bool lu_is_const(const Graph *g, int v) { return v >= 0 && g->values[v].kind == VAL_CONST; }

static bool lu_is_const_f32(const Graph *g, int v)
{
    return lu_is_const(g, v) && g->values[v].data->dtype == DT_F32;
}

static const float *lu_f32(const Graph *g, int v) { return tensor_f32(g->values[v].data); }

/* An optional input: -1 when absent. */
static int lu_opt_in(const Node *n, int i) { return i < n->n_in ? n->in[i] : -1; }

static bool lu_gemm_trans_b(const Node *n) { return n->params.gemm.trans_b; }
static float lu_gemm_beta(const Node *n) { return n->params.gemm.beta; }

float linear_bn_epsilon(const Node *bn) { return bn->params.batchnorm.epsilon; }

/* Kind, OC and K of a head of row kind `lin` with weights shaped ws; false when the node
 * does not fit the kind's rules (linear_unit.h). */
static bool lu_shape(const Graph *g, const Node *n, OpLinear lin, const Shape *ws,
                     LinearUnit *u)
{
    int bias = lu_opt_in(n, 2);
    switch (lin) {
    case OPLIN_CONV:
        if (ws->ndim < 3 || ws->ndim > 4 || (bias >= 0 && !lu_is_const_f32(g, bias)))
            return false;
        u->kind = n->params.win.group > 1 && ws->dim[1] == 1 ? LU_DEPTHWISE : LU_CONV;
        u->oc = ws->dim[0];
        u->k = shape_span(ws, 1, ws->ndim);
        return true;
    case OPLIN_DENSE:
        if (ws->ndim != 2 || (bias >= 0 && !lu_is_const_f32(g, bias)))
            return false;
        u->kind = LU_DENSE;
        u->oc = ws->dim[0];
        u->k = ws->dim[1];
        return true;
    case OPLIN_GEMM: {
        if (ws->ndim != 2 || n->params.gemm.trans_a)
            return false;
        if (bias >= 0 && lu_gemm_beta(n) != 0.0f) {
            if (!lu_is_const_f32(g, bias))
                return false;
            /* C must be one value per output column (or a scalar), not per row */
            const Shape *cs = &g->values[bias].data->shape;
            if (cs->ndim > 2 || (cs->ndim == 2 && cs->dim[0] != 1))
                return false;
        }
        bool trans = lu_gemm_trans_b(n);
        u->kind = LU_GEMM;
        u->oc = trans ? ws->dim[0] : ws->dim[1];
        u->k = trans ? ws->dim[1] : ws->dim[0];
        return true;
    }
    case OPLIN_MATMUL:
        if (ws->ndim != 2 || g->values[n->in[0]].shape.ndim < 2 || n->n_in != 2)
            return false;
        u->kind = LU_MATMUL;
        u->oc = ws->dim[1];
        u->k = ws->dim[0];
        return true;
    default:
        return false;
    }
}

static void lu_none(LinearUnit *u)
{
    memset(u, 0, sizeof *u);
    u->head = u->bn = u->act = -1;
}

bool linear_head(const Graph *g, int node, LinearUnit *u)
{
    const Node *n = &g->nodes[node];
    lu_none(u);
    OpLinear lin = op_table[n->op]->int8.linear;
    if (lin == OPLIN_NONE || n->n_in < 2 || n->in[0] < 0 || lu_is_const(g, n->in[0]) ||
        !lu_is_const_f32(g, n->in[1]) ||
        !lu_shape(g, n, lin, &g->values[n->in[1]].data->shape, u))
        return false;
    u->head = node;
    return true;
}

bool linear_bn_folds(const Graph *g, const LinearUnit *u, int bn)
{
    const Node *b = &g->nodes[bn];
    int v = g->nodes[u->head].out;
    if (b->op != OP_BATCHNORM || b->n_in != 5 || b->in[0] != v)
        return false;
    for (int i = 1; i < 5; i++) {
        if (!lu_is_const_f32(g, b->in[i]))
            return false;
        const Shape *s = &g->values[b->in[i]].data->shape;
        if (s->ndim != 1 || s->dim[0] != u->oc)
            return false;
    }
    /* BatchNorm normalises axis 1: the output channels of a conv, or of a 2-D product */
    return u->kind == LU_CONV || u->kind == LU_DEPTHWISE || g->values[v].shape.ndim == 2;
}

/* Whether node act, reading v, is a clamp the unit fuses; sets its range. */
static bool lu_act_fuses(const Graph *g, LinearUnit *u, int v, int act)
{
    const Node *n = &g->nodes[act];
    return n->n_in == 1 && n->in[0] == v && op_clamp_range(n, &u->act_lo, &u->act_hi);
}

void linear_group(const Graph *g, LinearAccept accept, void *ctx, LinearUnit *units,
                  int *head_of)
{
    int nv = g->n_values;
    int *readers = xcalloc((size_t)(nv ? nv : 1), sizeof *readers); /* node inputs reading v */
    int *reader = xcalloc((size_t)(nv ? nv : 1), sizeof *reader);   /* the last of them */
    for (int i = 0; i < g->n_nodes; i++) {
        head_of[i] = -1;
        const Node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) {
                readers[n->in[j]]++;
                reader[n->in[j]] = i;
            }
    }
    for (int k = 0; k < g->n_outputs; k++)
        readers[g->outputs[k]] = -1; /* a graph output has readers outside */
    for (int k = 0; k < g->n_nodes; k++) {
        int node = g->order[k];
        LinearUnit *u = &units[node];
        if (head_of[node] >= 0) {
            lu_none(u); /* absorbed */
            continue;
        }
        head_of[node] = node;
        if (!linear_head(g, node, u) || (accept && !accept(u, ctx))) {
            lu_none(u);
            continue;
        }
        int v = g->nodes[node].out, r = readers[v] == 1 ? reader[v] : -1;
        if (r >= 0 && head_of[r] < 0 && linear_bn_folds(g, u, r)) {
            u->bn = r;
            head_of[r] = node;
            v = g->nodes[r].out;
            r = readers[v] == 1 ? reader[v] : -1;
        }
        if (r >= 0 && head_of[r] < 0 && lu_act_fuses(g, u, v, r)) {
            u->act = r;
            head_of[r] = node;
        }
    }
    free(readers);
    free(reader);
}

bool linear_weights(const Graph *g, const LinearUnit *u, float *wf, float *bf)
{
    const Node *n = &g->nodes[u->head];
    const float *w = lu_f32(g, n->in[1]);
    int64_t oc = u->oc, k = u->k;
    int bias = lu_opt_in(n, 2);
    memset(bf, 0, (size_t)oc * sizeof *bf);
    if (u->kind == LU_GEMM || u->kind == LU_MATMUL) {
        bool gemm = u->kind == LU_GEMM;
        bool trans = gemm && lu_gemm_trans_b(n);
        double alpha = gemm ? n->params.gemm.alpha : 1.0;
        for (int64_t c = 0; c < oc; c++)
            for (int64_t i = 0; i < k; i++)
                wf[c * k + i] = (float)(alpha * (trans ? w[c * k + i] : w[i * oc + c]));
        float beta = lu_gemm_beta(n);
        if (!gemm || bias < 0 || beta == 0.0f)
            return false;
        const float *cv = lu_f32(g, bias);
        int64_t cn = tensor_numel(g->values[bias].data);
        for (int64_t c = 0; c < oc; c++)
            bf[c] = (float)((double)beta * cv[cn == 1 ? 0 : c]);
        return true;
    }
    memcpy(wf, w, (size_t)(oc * k) * sizeof *wf);
    if (bias < 0)
        return false;
    memcpy(bf, lu_f32(g, bias), (size_t)oc * sizeof *bf);
    return true;
}

void linear_fold_bn(const Graph *g, int bn, int64_t oc, int64_t k, float *wf, float *bf)
{
    const Node *b = &g->nodes[bn];
    const float *gamma = lu_f32(g, b->in[1]), *beta = lu_f32(g, b->in[2]);
    const float *mean = lu_f32(g, b->in[3]), *var = lu_f32(g, b->in[4]);
    double eps = linear_bn_epsilon(b);
    for (int64_t c = 0; c < oc; c++) {
        double a = gamma[c] / sqrt((double)var[c] + eps);
        for (int64_t i = 0; i < k; i++)
            wf[c * k + i] = (float)(wf[c * k + i] * a);
        bf[c] = (float)(((double)bf[c] - mean[c]) * a + beta[c]);
    }
}

bool linear_fold(const Graph *g, const LinearUnit *u, float *w, float *b)
{
    bool has_bias = linear_weights(g, u, w, b);
    if (u->bn < 0)
        return has_bias;
    linear_fold_bn(g, u->bn, u->oc, u->k, w, b);
    return true;
}

int linear_bias_input(const Graph *g, const LinearUnit *u)
{
    const Node *n = &g->nodes[u->head];
    int bias = lu_opt_in(n, 2);
    if (bias < 0 || u->kind == LU_MATMUL)
        return -1;
    if (u->kind != LU_GEMM)
        return bias;
    return lu_gemm_beta(n) != 0.0f && tensor_numel(g->values[bias].data) == u->oc ? bias : -1;
}

/* Sets a float attribute the node has, and parses the node again so that its params
 * follow; an absent one keeps its default, which is what the callers want (alpha and beta
 * default to 1, and an export must not gain attributes the model did not have). Setting a
 * finite alpha or beta on a Gemm cannot fail to parse. */
static void lu_set_attr_float(Node *n, const char *name, float v)
{
    if (!node_attr(n, name))
        return;
    Attr a = attr_float(name, v);
    node_set_attr(n, &a, NULL);
    attr_release(&a);
}

void linear_store_weights(Graph *g, const LinearUnit *u, const float *w)
{
    Node *n = &g->nodes[u->head];
    float *mw = tensor_f32(g->values[n->in[1]].data);
    int64_t oc = u->oc, k = u->k;
    if (u->kind != LU_GEMM && u->kind != LU_MATMUL) {
        memcpy(mw, w, (size_t)(oc * k) * sizeof *w);
        return;
    }
    bool trans = u->kind == LU_GEMM && lu_gemm_trans_b(n);
    if (u->kind == LU_GEMM)
        lu_set_attr_float(n, "alpha", 1.0f);
    for (int64_t c = 0; c < oc; c++)
        for (int64_t j = 0; j < k; j++)
            mw[trans ? c * k + j : j * oc + c] = w[c * k + j];
}

void linear_store_bias(Graph *g, const LinearUnit *u, const float *b)
{
    Node *n = &g->nodes[u->head];
    if (!b) {
        int bias = lu_opt_in(n, 2);
        if (bias >= 0)
            memset(g->values[bias].data->data, 0, tensor_bytes(g->values[bias].data));
        return;
    }
    int bias = linear_bias_input(g, u);
    QS_ASSERT(bias >= 0);
    memcpy(g->values[bias].data->data, b, (size_t)u->oc * sizeof *b);
    if (u->kind == LU_GEMM)
        lu_set_attr_float(n, "beta", 1.0f);
}
