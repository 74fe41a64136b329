#include "device/devgraph.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "graph/linear_unit.h"
#include "ops/op.h"
#include "qexec/qexec.h"

/* How a node that heads no linear unit becomes TFLite ops. */
typedef enum {
    MAP_OPS = 0,   /* builtin, then builtin2 when set (reading the first's result) */
    MAP_ALIAS,     /* no op: its output is its first input (Identity, Dropout) */
    MAP_CLIP,      /* RELU, RELU6, RELU_N1_TO_1 or MAXIMUM then MINIMUM, by its range */
    MAP_NONE,      /* TFLite has no builtin for it */
} MapKind;

typedef struct OpMap {
    MapKind kind;
    const char *builtin, *builtin2;
    DevCostClass cost, cost2;
    bool second_reads_input;   /* builtin2 also reads the node's input (x * sigmoid(x)) */
} OpMap;

#define OPS(b, c) { MAP_OPS, b, NULL, c, c, false }
static const OpMap op_maps[OP_COUNT] = {
    [OP_GEMM] = OPS("FULLY_CONNECTED", DC_FC),
    [OP_DENSE] = OPS("FULLY_CONNECTED", DC_FC),
    [OP_MATMUL] = OPS("BATCH_MATMUL", DC_CONV),
    [OP_CONV] = OPS("CONV_2D", DC_CONV),
    [OP_BATCHNORM] = { MAP_OPS, "MUL", "ADD", DC_BINARY, DC_BINARY, false },
    [OP_RELU] = OPS("RELU", DC_ACT),
    [OP_CLIP] = { .kind = MAP_CLIP, .cost = DC_ACT, .cost2 = DC_ACT },
    [OP_LEAKYRELU] = OPS("LEAKY_RELU", DC_ACT),
    [OP_SIGMOID] = OPS("LOGISTIC", DC_TRANSC),
    [OP_TANH] = OPS("TANH", DC_TRANSC),
    [OP_GELU] = OPS("GELU", DC_TRANSC),
    [OP_HARDSWISH] = OPS("HARD_SWISH", DC_TRANSC),
    [OP_SILU] = { MAP_OPS, "LOGISTIC", "MUL", DC_TRANSC, DC_BINARY, true },
    [OP_SOFTMAX] = OPS("SOFTMAX", DC_TRANSC),
    [OP_LOGSOFTMAX] = OPS("LOG_SOFTMAX", DC_TRANSC),
    [OP_MAXPOOL] = OPS("MAX_POOL_2D", DC_POOL_MAX),
    [OP_AVGPOOL] = OPS("AVERAGE_POOL_2D", DC_POOL_AVG),
    [OP_GLOBALAVGPOOL] = OPS("MEAN", DC_POOL_AVG),
    [OP_FLATTEN] = OPS("RESHAPE", DC_MOVE),
    [OP_RESHAPE] = OPS("RESHAPE", DC_MOVE),
    [OP_TRANSPOSE] = OPS("TRANSPOSE", DC_MOVE),
    [OP_ADD] = OPS("ADD", DC_BINARY),
    [OP_MUL] = OPS("MUL", DC_BINARY),
    [OP_CONCAT] = OPS("CONCATENATION", DC_MOVE),
    [OP_REDUCEMEAN] = OPS("MEAN", DC_POOL_AVG),
    [OP_REDUCESUM] = OPS("SUM", DC_POOL_AVG),
    [OP_REDUCEMAX] = OPS("REDUCE_MAX", DC_POOL_MAX),
    [OP_IDENTITY] = { .kind = MAP_ALIAS },
    [OP_DROPOUT] = { .kind = MAP_ALIAS },
    [OP_FAKEQUANT] = { .kind = MAP_ALIAS }, /* a QAT graph marker; the plan carries it */
    [OP_SUB] = OPS("SUB", DC_BINARY),
    [OP_DIV] = OPS("DIV", DC_BINARY),
    [OP_POW] = OPS("POW", DC_TRANSC),
    [OP_SQRT] = OPS("SQRT", DC_TRANSC),
    [OP_ERF] = { .kind = MAP_NONE },
    [OP_PAD] = OPS("PAD", DC_MOVE),
    [OP_RESIZE] = OPS("RESIZE_NEAREST_NEIGHBOR", DC_MOVE),
    [OP_CONVTRANSPOSE] = OPS("TRANSPOSE_CONV", DC_CONV),
    [OP_LAYERNORM] = { .kind = MAP_NONE },
    [OP_SLICE] = OPS("STRIDED_SLICE", DC_MOVE),
    [OP_HARDSIGMOID] = { .kind = MAP_NONE },
    [OP_MOD] = OPS("FLOOR_MOD", DC_BINARY),
    [OP_EXPAND] = OPS("BROADCAST_TO", DC_MOVE),
    [OP_TOPK] = OPS("TOPK_V2", DC_POOL_MAX),
    [OP_GATHERELEMENTS] = OPS("GATHER_ND", DC_MOVE),
};
#undef OPS

int64_t devgraph_type_bytes(DevType t, int64_t elems)
{
    if (t != DEV_INT8 && elems > INT64_MAX / 4)
        return INT64_MAX; /* refused by devgraph_build */
    return t == DEV_INT8 ? elems : 4 * elems;
}

const char *devgraph_type_name(DevType t)
{
    static const char *const names[] = { "int8", "float32", "hybrid" };
    return names[t];
}

/* The builder's state: the graph being read and the op list being written. */
typedef struct Builder {
    const Graph *g;
    const Plan *p;
    Shape *shapes;           /* per value, batch 1 */
    LinearUnit *units;
    int *head_of;
    DevType *ctype;          /* per node: what its op computes on (heads and plain nodes) */
    int *native, *conv;      /* per value: its tensor as produced, its converted copy */
    DevGraph *out;
    int cap_t, cap_o, cap_i;
} Builder;

/* A tensor holding a value of shape s (the value's own, or a node output's for an op's
 * internal result). */
static int add_tensor(Builder *b, int value, DevType type, const Shape *s)
{
    Shape shape = *s; /* s may point into the tensors about to move */
    int64_t elems = shape_numel(&shape);
    DevGraph *d = b->out;
    if (d->n_tensors == b->cap_t) {
        b->cap_t = b->cap_t ? 2 * b->cap_t : 32;
        d->tensors = xrealloc(d->tensors, (size_t)b->cap_t * sizeof *d->tensors);
    }
    d->tensors[d->n_tensors] = (DevTensor){ .value = value, .type = type, .shape = shape,
                                            .elems = elems,
                                            .bytes = devgraph_type_bytes(type, elems) };
    return d->n_tensors++;
}

/* Appends an op reading tensors in[0..n_in) and writing tensor out_t. */
static DevOp *add_op(Builder *b, const char *builtin, int node, DevType type, DevCostClass cost,
                     const int *in, int n_in, int out_t)
{
    DevGraph *d = b->out;
    if (d->n_ops == b->cap_o) {
        b->cap_o = b->cap_o ? 2 * b->cap_o : 32;
        d->ops = xrealloc(d->ops, (size_t)b->cap_o * sizeof *d->ops);
    }
    if (d->n_ins + n_in > b->cap_i) {
        b->cap_i = 2 * (d->n_ins + n_in) + 32;
        d->ins = xrealloc(d->ins, (size_t)b->cap_i * sizeof *d->ins);
    }
    if (n_in)
        memcpy(d->ins + d->n_ins, in, (size_t)n_in * sizeof *in);
    DevOp *op = &d->ops[d->n_ops++];
    *op = (DevOp){ .builtin = builtin, .node = node, .type = type, .cost = cost,
                   .elems = d->tensors[out_t].elems, .first_in = d->n_ins, .n_in = n_in,
                   .out = out_t };
    d->n_ins += n_in;
    return op;
}

static bool is_input(const Graph *g, int v)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v)
            return true;
    return false;
}

/* Value v's tensor in type want, converting it once (QUANTIZE or DEQUANTIZE) when it was
 * produced in the other. */
static int tensor_as(Builder *b, int v, DevType want)
{
    int t = b->native[v];
    if (b->out->tensors[t].type == want)
        return t;
    if (b->conv[v] >= 0)
        return b->conv[v];
    int c = add_tensor(b, v, want, &b->out->tensors[t].shape);
    DevOp *op = add_op(b, want == DEV_INT8 ? "QUANTIZE" : "DEQUANTIZE", -1, want, DC_MOVE, &t,
                       1, c);
    op->edge = is_input(b->g, v);
    b->conv[v] = c;
    return c;
}

/* The tensors a node reads: its inputs that are not constants, in type want. */
static int node_inputs(Builder *b, const Node *n, DevType want, int *in, int cap)
{
    int k = 0;
    for (int i = 0; i < n->n_in && k < cap; i++) {
        int v = n->in[i];
        if (v >= 0 && b->g->values[v].kind != VAL_CONST)
            in[k++] = tensor_as(b, v, want);
    }
    return k;
}

static int64_t numel(const Builder *b, int v)
{
    return shape_numel(&b->shapes[v]);
}

/* What node (a head, or a node in no unit) computes on under the plan. */
static DevType node_ctype(const Builder *b, int node)
{
    PrecKind k = plan_node_prec(b->p, node);
    bool unit = b->units[node].head == node;
    if (precision_static_activations(k) && (unit || qexec_node_integer(b->g, &b->g->nodes[node])))
        return DEV_INT8;
    if (precision_is_integer(k) && unit)
        return DEV_HYBRID;
    return DEV_FLOAT;
}

static void emit_unit(Builder *b, int node)
{
    const Graph *g = b->g;
    const LinearUnit *u = &b->units[node];
    const Node *head = &g->nodes[node];
    int tail = u->act >= 0 ? u->act : u->bn >= 0 ? u->bn : node;
    int v_out = g->nodes[tail].out;
    DevType ct = b->ctype[node];
    DevType io = ct == DEV_INT8 ? DEV_INT8 : DEV_FLOAT;
    PrecKind k = plan_node_prec(b->p, node);
    int in[16];
    int n_in = node_inputs(b, head, io, in, 8);
    if (precision_half_outputs(k) && !precision_is_integer(k)) {
        /* float16 weights and bias, each dequantized just before the op, which reads them */
        for (int i = 1; i < head->n_in && n_in < 16; i++) {
            int v = head->in[i];
            if (v < 0 || g->values[v].kind != VAL_CONST)
                continue;
            int t = add_tensor(b, -1, DEV_FLOAT, &g->values[v].shape);
            add_op(b, "DEQUANTIZE", node, DEV_FLOAT, DC_MOVE, NULL, 0, t)->half_weights = true;
            in[n_in++] = t;
        }
    }
    int t = add_tensor(b, v_out, io, &b->shapes[v_out]);
    const char *name = u->kind == LU_CONV ? "CONV_2D"
                       : u->kind == LU_DEPTHWISE ? "DEPTHWISE_CONV_2D" : "FULLY_CONNECTED";
    DevCostClass cost = u->kind == LU_CONV ? DC_CONV : u->kind == LU_DEPTHWISE ? DC_DEPTHWISE
                                                                              : DC_FC;
    DevOp *op = add_op(b, name, node, ct, cost, in, n_in, t);
    op->macs = numel(b, v_out) * u->k;
    if (u->kind == LU_CONV)
        op->conv_cin = g->values[head->in[1]].shape.dim[1];
    b->native[v_out] = t;
}

/* The window elements or reduced elements an op reads, for the pool classes. */
static int64_t node_reads(const Builder *b, const Node *n)
{
    switch (n->op) {
    case OP_MAXPOOL:
    case OP_AVGPOOL: {
        int64_t w = 1;
        const ParamInts *ks = &n->params.win.kernel_shape;
        for (int i = 0; i < ks->n && i < QS_PARAM_INTS; i++)
            w *= ks->v[i];
        return numel(b, n->out) * w;
    }
    case OP_GLOBALAVGPOOL:
    case OP_REDUCEMEAN:
    case OP_REDUCESUM:
    case OP_REDUCEMAX:
        return numel(b, n->in[0]);
    case OP_MATMUL:
    case OP_CONVTRANSPOSE:
    case OP_CONV:
    case OP_GEMM:
    case OP_DENSE: { /* not a unit (activation weights): K from the first input */
        const Shape *s = &b->shapes[n->in[0]];
        return numel(b, n->out) * (s->ndim ? s->dim[s->ndim - 1] : 1);
    }
    default:
        return 0;
    }
}

static QsStatus emit_node(Builder *b, int node, QsError *err)
{
    const Graph *g = b->g;
    const Node *n = &g->nodes[node];
    OpMap m = op_maps[n->op];
    if (m.kind == MAP_NONE)
        return qs_fail(err, QS_EUNSUPPORTED, "layer '%s': TFLite has no builtin op for %s",
                       n->name, op_table[n->op]->name);
    if (m.kind == MAP_ALIAS) {
        b->native[n->out] = b->native[n->in[0]];
        b->conv[n->out] = b->conv[n->in[0]];
        return QS_OK;
    }
    if (m.kind == MAP_CLIP) {
        float lo, hi;
        op_clamp_range(n, &lo, &hi);
        m.builtin = lo == 0.0f && hi == 6.0f ? "RELU6" : lo == 0.0f && hi > 3e38f ? "RELU"
                    : lo == -1.0f && hi == 1.0f ? "RELU_N1_TO_1" : "MAXIMUM";
        m.builtin2 = strcmp(m.builtin, "MAXIMUM") == 0 ? "MINIMUM" : NULL;
    }
    DevType ct = b->ctype[node];
    DevType io = ct == DEV_INT8 ? DEV_INT8 : DEV_FLOAT;
    int *in = xmalloc((size_t)(n->n_in + 1) * sizeof *in);
    int n_in = node_inputs(b, n, io, in, n->n_in);
    const Shape *s = &b->shapes[n->out];
    int t = add_tensor(b, m.builtin2 ? -1 : n->out, io, s);
    DevOp *op = add_op(b, m.builtin, node, ct, m.cost, in, n_in, t);
    op->macs = node_reads(b, n);
    if (m.builtin2) {
        int in2[2] = { t, n_in ? in[0] : t };
        int t2 = add_tensor(b, n->out, io, s);
        add_op(b, m.builtin2, node, ct, m.cost2, in2, m.second_reads_input ? 2 : 1, t2);
        t = t2;
    }
    free(in);
    b->native[n->out] = t;
    return QS_OK;
}

/* Graph inputs: float, or int8 under io=int8 when an int8 op reads them. */
static void add_graph_inputs(Builder *b, bool io_int8)
{
    const Graph *g = b->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        DevType type = DEV_FLOAT;
        for (int k = 0; io_int8 && k < g->n_nodes; k++) {
            const Node *n = &g->nodes[k];
            if (b->head_of[k] != k || b->ctype[k] != DEV_INT8)
                continue;
            for (int j = 0; j < n->n_in; j++)
                if (n->in[j] == v)
                    type = DEV_INT8;
        }
        int t = add_tensor(b, v, type, &b->shapes[v]);
        b->out->tensors[t].graph_input = true;
        b->native[v] = t;
    }
}

static void add_graph_outputs(Builder *b, bool io_int8)
{
    for (int i = 0; i < b->g->n_outputs; i++) {
        int v = b->g->outputs[i];
        int t = b->native[v];
        if (b->out->tensors[t].type == DEV_INT8 && !io_int8) {
            t = tensor_as(b, v, DEV_FLOAT); /* made now, or before for a float reader */
            for (int k = 0; k < b->out->n_ops; k++)
                if (b->out->ops[k].out == t)
                    b->out->ops[k].edge = true;
        }
        b->out->tensors[t].graph_output = true;
    }
}

QsStatus devgraph_build(const Model *m, const Plan *p, bool io_int8, DevGraph *out,
                        QsError *err)
{
    const Graph *g = &m->graph;
    memset(out, 0, sizeof *out);
    Builder b = { .g = g, .p = p, .out = out };
    b.shapes = xmalloc((size_t)g->n_values * sizeof *b.shapes);
    b.units = xmalloc((size_t)g->n_nodes * sizeof *b.units);
    b.head_of = xmalloc((size_t)g->n_nodes * sizeof *b.head_of);
    b.ctype = xmalloc((size_t)g->n_nodes * sizeof *b.ctype);
    b.native = xmalloc((size_t)g->n_values * sizeof *b.native);
    b.conv = xmalloc((size_t)g->n_values * sizeof *b.conv);
    for (int v = 0; v < g->n_values; v++)
        b.native[v] = b.conv[v] = -1;
    QsStatus st = graph_infer_shapes(g, 1, b.shapes, err);
    if (!st) {
        linear_group(g, NULL, NULL, b.units, b.head_of);
        for (int k = 0; k < g->n_nodes; k++)
            b.ctype[k] = node_ctype(&b, k);
        add_graph_inputs(&b, io_int8);
        for (int i = 0; i < g->n_nodes && !st; i++) {
            int node = g->order[i];
            if (b.head_of[node] != node)
                continue; /* folded or fused into its unit */
            if (b.units[node].head == node)
                emit_unit(&b, node);
            else
                st = emit_node(&b, node, err);
        }
        if (!st)
            add_graph_outputs(&b, io_int8);
        for (int t = 0; !st && t < out->n_tensors; t++)
            if (out->tensors[t].bytes > DEVGRAPH_MAX_TENSOR)
                st = qs_fail(err, QS_EINVAL, "a tensor of %" PRId64 " bytes at batch 1 is "
                             "beyond any device", out->tensors[t].bytes);
    }
    free(b.shapes);
    free(b.units);
    free(b.head_of);
    free(b.ctype);
    free(b.native);
    free(b.conv);
    if (st)
        devgraph_release(out);
    return st;
}

void devgraph_release(DevGraph *g)
{
    free(g->tensors);
    free(g->ops);
    free(g->ins);
    memset(g, 0, sizeof *g);
}
