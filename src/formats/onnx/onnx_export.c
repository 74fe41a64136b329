/* ONNX export: the float graph, and a lowered plan as QDQ (int8-static) or half-weight
 * (fp16) ONNX. docs/onnx.md, "Export", states the layouts.
 *
 * Float nodes are written by the export rows (ex_ops): one row per qscope op, naming the
 * ONNX op it becomes and, when attributes turn into inputs or the op is decomposed, the
 * function that writes it. The quantized layouts read the lowered plan's own numbers
 * through the executor's read-only view (qexec_view.h: the steps, each unit's int8
 * weights, per-channel scales, int32 biases, and every value's calibrated QParams), so
 * ONNX Runtime is handed exactly what qscope's integer executor uses; nothing is
 * re-derived here. Every value that needs a post-op (QuantizeLinear/DequantizeLinear,
 * or the Cast pair that rounds to half) keeps its own name for its readers when it is a
 * graph output (the producer then writes NAME::pre); otherwise readers read NAME::dq. */
#include "onnx/onnx_export.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "graph/graph.h"
#include "base/half.h"
#include "ops/op.h"
#include "onnx/protobuf.h"
#include "qexec/qexec_view.h"

#define EX_OPSET 17
#define EX_IR 8

enum { EX_FLOAT = 0, EX_QDQ, EX_FP16 };
enum { POST_NONE = 0, POST_QDQ, POST_HALF };
/* ONNX TensorProto.DataType */
enum { T_FLOAT = 1, T_INT8 = 3, T_INT32 = 6, T_INT64 = 7, T_FLOAT16 = 10 };

typedef struct Ex {
    const Model *m;
    const Graph *g;
    const QModel *q;        /* NULL: float export */
    int mode;
    PbWriter graph;
    bool *init_done;        /* [n_values] constant written as an initializer */
    int *post;              /* [n_values] POST_* */
    bool *is_output;        /* [n_values] */
    char **pool;            /* generated strings, freed at the end */
    int n_pool, cap_pool;
    QsError *err;
    QsStatus st;            /* first failure */
} Ex;

static const char *ex_str(Ex *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *ex_str(Ex *x, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (x->n_pool == x->cap_pool) {
        x->cap_pool = x->cap_pool ? 2 * x->cap_pool : 64;
        x->pool = xrealloc(x->pool, (size_t)x->cap_pool * sizeof *x->pool);
    }
    return x->pool[x->n_pool++] = xstrdup(buf);
}

static QsStatus ex_fail(Ex *x, QsStatus code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static QsStatus ex_fail(Ex *x, QsStatus code, const char *fmt, ...)
{
    if (x->st)
        return x->st;
    char buf[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    x->st = qs_fail(x->err, code, "%s", buf);
    return x->st;
}

/* ---- attributes (each an AttributeProto appended to a node's attribute list) */

static void at_begin(PbWriter *a, const char *name, int type)
{
    pb_writer_init(a);
    pb_put_string(a, 1, name);
    pb_put_varint(a, 20, (uint64_t)type);
}

static void at_int(PbWriter *list, const char *name, int64_t v)
{
    PbWriter a;
    at_begin(&a, name, 2);
    pb_put_int64(&a, 3, v);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

static void at_float(PbWriter *list, const char *name, float v)
{
    PbWriter a;
    at_begin(&a, name, 1);
    pb_put_float(&a, 2, v);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

static void at_str(PbWriter *list, const char *name, const char *v)
{
    PbWriter a;
    at_begin(&a, name, 3);
    pb_put_string(&a, 4, v);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

static void at_ints(PbWriter *list, const char *name, const int64_t *v, int n)
{
    PbWriter a;
    at_begin(&a, name, 7);
    pb_put_packed_int64(&a, 8, v, n);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

static void at_floats(PbWriter *list, const char *name, const float *v, int n)
{
    PbWriter a;
    at_begin(&a, name, 6);
    pb_put_packed_float(&a, 7, v, n);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

/* Copies node attributes, except those named in skip (NULL-terminated). */
static void at_copy(PbWriter *list, const Node *n, const char *const *skip)
{
    for (int i = 0; i < n->n_attrs; i++) {
        const Attr *a = &n->attrs[i];
        bool skipped = false;
        for (int k = 0; skip && skip[k]; k++)
            skipped |= strcmp(skip[k], a->name) == 0;
        if (skipped)
            continue;
        switch (a->type) {
        case ATTR_INT: at_int(list, a->name, a->i); break;
        case ATTR_FLOAT: at_float(list, a->name, a->f); break;
        case ATTR_INTS: at_ints(list, a->name, a->ints, a->n); break;
        case ATTR_FLOATS: at_floats(list, a->name, a->floats, a->n); break;
        case ATTR_STRING: at_str(list, a->name, a->s); break;
        }
    }
}

/* ---- nodes and initializers */

static void ex_node(Ex *x, const char *op, const char *name, const char *const *in, int n_in,
                    const char *out, const PbWriter *attrs)
{
    PbWriter n;
    pb_writer_init(&n);
    for (int i = 0; i < n_in; i++)
        pb_put_string(&n, 1, in[i] ? in[i] : "");
    pb_put_string(&n, 2, out);
    pb_put_string(&n, 3, name);
    pb_put_string(&n, 4, op);
    if (attrs && attrs->len) /* a list of field-5 AttributeProto messages */
        pb_put_raw(&n, attrs->buf, attrs->len);
    if (attrs && attrs->oom)
        n.oom = true;
    pb_put_message(&x->graph, 1, &n);
    pb_writer_release(&n);
}

static void ex_init(Ex *x, const char *name, int type, const int64_t *dims, int nd,
                    const void *data, size_t bytes)
{
    PbWriter t;
    pb_writer_init(&t);
    pb_put_packed_int64(&t, 1, dims, nd);
    pb_put_varint(&t, 2, (uint64_t)type);
    pb_put_string(&t, 8, name);
    pb_put_bytes(&t, 9, data, bytes);
    pb_put_message(&x->graph, 5, &t);
    pb_writer_release(&t);
}

static const char *ex_const_f32(Ex *x, const char *name, const int64_t *dims, int nd,
                                const float *v, int64_t n)
{
    ex_init(x, name, T_FLOAT, dims, nd, v, (size_t)n * sizeof(float));
    return name;
}

static const char *ex_const_i64(Ex *x, const char *name, const int64_t *v, int n)
{
    int64_t d = n;
    ex_init(x, name, T_INT64, &d, 1, v, (size_t)n * sizeof(int64_t));
    return name;
}

static const char *ex_scalar_f32(Ex *x, const char *name, float v)
{
    ex_init(x, name, T_FLOAT, NULL, 0, &v, sizeof v);
    return name;
}

static void ex_cast(Ex *x, const char *name, const char *in, const char *out, int to)
{
    PbWriter a;
    pb_writer_init(&a);
    at_int(&a, "to", to);
    ex_node(x, "Cast", name, &in, 1, out, &a);
    pb_writer_release(&a);
}

/* ---- value names */

static bool is_const(const Ex *x, int v) { return x->g->values[v].kind == VAL_CONST; }

static const char *vname(const Ex *x, int v) { return x->g->values[v].name; }

/* The name a value's producer writes. */
static const char *prod_name(Ex *x, int v)
{
    if (x->post[v] != POST_NONE && x->is_output[v])
        return ex_str(x, "%s::pre", vname(x, v));
    return vname(x, v);
}

/* The name readers read (after the value's post-op). */
static const char *read_name(Ex *x, int v)
{
    if (x->post[v] == POST_NONE || x->is_output[v])
        return vname(x, v);
    return ex_str(x, "%s::dq", vname(x, v));
}

/* A graph constant as a float initializer (written once); `h` gives half-rounded data
 * instead of the graph's (fp16 nodes), under another name. */
static const char *const_name(Ex *x, int v, const Tensor *h)
{
    const Tensor *t = h ? h : x->g->values[v].data;
    const char *name = h ? ex_str(x, "%s::h", vname(x, v)) : vname(x, v);
    if (!h && x->init_done[v])
        return name;
    if (t->dtype != DT_F32) {
        ex_fail(x, QS_EUNSUPPORTED, "constant '%s' is %s; export writes float constants",
                vname(x, v), dtype_name(t->dtype));
        return name;
    }
    ex_const_f32(x, name, t->shape.dim, t->shape.ndim, tensor_f32(t), tensor_numel(t));
    if (!h)
        x->init_done[v] = true;
    return name;
}

/* Input i of node n as the exported graph reads it. */
static const char *in_name(Ex *x, const Node *n, int i, bool half_consts)
{
    int v = n->in[i];
    if (v < 0)
        return "";
    if (is_const(x, v)) {
        const Tensor *h = half_consts && x->q ? qmodel_half_const(x->q, v) : NULL;
        return const_name(x, v, h);
    }
    return read_name(x, v);
}

/* The post-op of value v: QuantizeLinear + DequantizeLinear with its calibrated
 * parameters, or a Cast pair that rounds it to half. */
static void ex_post(Ex *x, int v)
{
    const char *pre = prod_name(x, v), *out = read_name(x, v);
    if (x->post[v] == POST_QDQ) {
        QParams qp;
        qmodel_value_qparams(x->q, v, &qp);
        const char *s = ex_scalar_f32(x, ex_str(x, "%s::scale", vname(x, v)), qp.scale);
        int8_t z = (int8_t)qp.zero_point;
        const char *zn = ex_str(x, "%s::zp", vname(x, v));
        ex_init(x, zn, T_INT8, NULL, 0, &z, 1);
        const char *q = ex_str(x, "%s::int8", vname(x, v));
        const char *qin[3] = { pre, s, zn }, *dqin[3] = { q, s, zn };
        ex_node(x, "QuantizeLinear", ex_str(x, "%s::quantize", vname(x, v)), qin, 3, q, NULL);
        ex_node(x, "DequantizeLinear", ex_str(x, "%s::dequantize", vname(x, v)), dqin, 3, out,
                NULL);
    } else if (x->post[v] == POST_HALF) {
        const char *h = ex_str(x, "%s::f16", vname(x, v));
        ex_cast(x, ex_str(x, "%s::to_f16", vname(x, v)), pre, h, T_FLOAT16);
        ex_cast(x, ex_str(x, "%s::to_f32", vname(x, v)), h, out, T_FLOAT);
    }
}

/* ---- float nodes: one export row per qscope op */

static int value_rank(const Ex *x, int v) { return x->g->values[v].shape.ndim; }

/* One float node being written: its inputs as the exported graph reads them, the name its
 * output is written under, and its attribute list. */
typedef struct ExArgs {
    const Node *n;
    const char *name, *out;
    const char **in;         /* [n->n_in] */
    int n_in;
    bool half_consts;        /* constants read as their half-rounded copies (fp16 node) */
    PbWriter *attrs;
} ExArgs;

typedef struct ExOpRow ExOpRow;

struct ExOpRow {
    const char *onnx;        /* the ONNX op written (for a decomposition, its last node) */
    /* Writes the node; NULL: one node of op `onnx` with the inputs and attributes as
     * they are. */
    void (*write)(Ex *x, const ExOpRow *r, const ExArgs *a);
    const char *not_exportable; /* why the op has no ONNX form (onnx is NULL then) */
};

/* Dense: Gemm with transB on 2-D inputs; otherwise MatMul by the transposed weight (an
 * initializer), then Add of the bias. */
static void ex_dense(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const Node *n = a->n;
    if (value_rank(x, n->in[0]) == 2) {
        at_int(a->attrs, "transB", 1);
        ex_node(x, r->onnx, a->name, a->in, a->n_in, a->out, a->attrs);
        return;
    }
    const Tensor *w = x->g->values[n->in[1]].data; /* (OUT, IN) */
    const Tensor *wh = a->half_consts && x->q ? qmodel_half_const(x->q, n->in[1]) : NULL;
    if (wh)
        w = wh;
    int64_t o = w->shape.dim[0], k = w->shape.dim[1];
    float *wt = xmalloc((size_t)(o * k) * sizeof *wt);
    for (int64_t row = 0; row < o; row++)
        for (int64_t c = 0; c < k; c++)
            wt[c * o + row] = tensor_f32(w)[row * k + c];
    const int64_t d[2] = { k, o };
    const char *wn = ex_const_f32(x, ex_str(x, "%s::weight_t", a->name), d, 2, wt, o * k);
    free(wt);
    const char *mm[2] = { a->in[0], wn };
    if (a->n_in > 2 && a->in[2][0]) {
        const char *h = ex_str(x, "%s::matmul", a->name), *ad[2] = { h, a->in[2] };
        ex_node(x, "MatMul", ex_str(x, "%s::matmul", a->name), mm, 2, h, NULL);
        ex_node(x, "Add", a->name, ad, 2, a->out, NULL);
    } else {
        ex_node(x, "MatMul", a->name, mm, 2, a->out, NULL);
    }
}

/* Clip: min and max attributes into the optional scalar inputs. */
static void ex_clip(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const Attr *lo = node_attr(a->n, "min"), *hi = node_attr(a->n, "max");
    const char *ci[3] = { a->in[0], "", "" };
    if (lo)
        ci[1] = ex_scalar_f32(x, ex_str(x, "%s::min", a->name), lo->f);
    if (hi)
        ci[2] = ex_scalar_f32(x, ex_str(x, "%s::max", a->name), hi->f);
    ex_node(x, r->onnx, a->name, ci, hi ? 3 : lo ? 2 : 1, a->out, NULL);
}

/* Reshape: the shape attribute into an int64 input. */
static void ex_reshape(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    int64_t s[QS_MAX_DIMS];
    int ns = node_attr_ints(a->n, "shape", s, QS_MAX_DIMS);
    const char *ri[2] = { a->in[0], ex_const_i64(x, ex_str(x, "%s::shape", a->name), s, ns) };
    if (node_attr_int(a->n, "allowzero", 0))
        at_int(a->attrs, "allowzero", 1);
    ex_node(x, r->onnx, a->name, ri, 2, a->out, a->attrs);
}

/* ReduceSum (opset 13): the axes attribute into an int64 input. */
static void ex_reduce_axes_input(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    int64_t ax[QS_MAX_DIMS];
    int na = node_attr_ints(a->n, "axes", ax, QS_MAX_DIMS);
    const char *ri[2] = { a->in[0], na > 0 ? ex_const_i64(x, ex_str(x, "%s::axes", a->name),
                                                          ax, na) : "" };
    at_copy(a->attrs, a->n, (const char *const[]){ "axes", NULL });
    ex_node(x, r->onnx, a->name, ri, na > 0 ? 2 : 1, a->out, a->attrs);
}

/* Pad: pads and value into inputs, mode stays an attribute. */
static void ex_pad(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    int64_t p[2 * QS_MAX_DIMS];
    int np = node_attr_ints(a->n, "pads", p, 2 * QS_MAX_DIMS);
    const char *pi[3] = { a->in[0], ex_const_i64(x, ex_str(x, "%s::pads", a->name), p, np),
                          ex_scalar_f32(x, ex_str(x, "%s::value", a->name),
                                        node_attr_float(a->n, "value", 0.0f)) };
    at_str(a->attrs, "mode", node_attr_str(a->n, "mode", "constant"));
    ex_node(x, r->onnx, a->name, pi, 3, a->out, a->attrs);
}

/* Resize: scales (given, or from the inferred output shape when sizes were given) into
 * the third input. */
static void ex_resize(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const Node *n = a->n;
    const Shape *xs = &x->g->values[n->in[0]].shape, *ys = &x->g->values[n->out].shape;
    float sc[QS_MAX_DIMS];
    const Attr *s = node_attr(n, "scales");
    for (int i = 0; i < xs->ndim; i++)
        sc[i] = s && s->type == ATTR_FLOATS && i < s->n ? s->floats[i]
                : i == 0 ? 1.0f : (float)((double)ys->dim[i] / (double)xs->dim[i]);
    const int64_t d = xs->ndim;
    const char *ri[3] = { a->in[0], "",
                          ex_const_f32(x, ex_str(x, "%s::scales", a->name), &d, 1, sc, d) };
    at_copy(a->attrs, n, (const char *const[]){ "scales", "sizes", NULL });
    ex_node(x, r->onnx, a->name, ri, 3, a->out, a->attrs);
}

/* Slice: starts, ends, axes and steps into int64 inputs. */
static void ex_slice(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    static const char *const keys[4] = { "starts", "ends", "axes", "steps" };
    const char *si[5] = { a->in[0], "", "", "", "" };
    int last = 2;
    for (int k = 0; k < 4; k++) {
        int64_t v[QS_MAX_DIMS];
        int nv = node_attr_ints(a->n, keys[k], v, QS_MAX_DIMS);
        if (nv >= 0) {
            si[k + 1] = ex_const_i64(x, ex_str(x, "%s::%s", a->name, keys[k]), v, nv);
            last = k + 2;
        }
    }
    ex_node(x, r->onnx, a->name, si, last, a->out, NULL);
}

/* SiLU: Mul(x, Sigmoid(x)). */
static void ex_silu(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const char *s = ex_str(x, "%s::sigmoid", a->name), *mi[2] = { a->in[0], s };
    ex_node(x, "Sigmoid", s, a->in, 1, s, NULL);
    ex_node(x, r->onnx, a->name, mi, 2, a->out, NULL);
}

/* Gelu (exact) in torch's exported form: x * 0.5 * (1 + erf(x / sqrt 2)). */
static void ex_gelu(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const char *name = a->name, *in0 = a->in[0];
    if (strcmp(node_attr_str(a->n, "approximate", "none"), "none") != 0) {
        ex_fail(x, QS_EUNSUPPORTED, "Gelu '%s': approximate=tanh has no export yet", name);
        return;
    }
    const char *r2 = ex_scalar_f32(x, ex_str(x, "%s::sqrt2", name), 1.41421354f);
    const char *one = ex_scalar_f32(x, ex_str(x, "%s::one", name), 1.0f);
    const char *half = ex_scalar_f32(x, ex_str(x, "%s::half", name), 0.5f);
    const char *d = ex_str(x, "%s::div", name), *e = ex_str(x, "%s::erf", name);
    const char *p = ex_str(x, "%s::add", name), *m = ex_str(x, "%s::mul", name);
    ex_node(x, "Div", d, (const char *[]){ in0, r2 }, 2, d, NULL);
    ex_node(x, "Erf", e, &d, 1, e, NULL);
    ex_node(x, "Add", p, (const char *[]){ e, one }, 2, p, NULL);
    ex_node(x, "Mul", m, (const char *[]){ in0, p }, 2, m, NULL);
    ex_node(x, r->onnx, name, (const char *[]){ m, half }, 2, a->out, NULL);
}

/* Dropout: the data input only, no attributes (inference). */
static void ex_dropout(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    ex_node(x, r->onnx, a->name, a->in, 1, a->out, NULL);
}

/* Every qscope op, indexed by OpType (onnx_export_op reads it). */
static const ExOpRow ex_ops[OP_COUNT] = {
    [OP_GEMM] = { "Gemm", NULL, NULL },
    [OP_DENSE] = { "Gemm", ex_dense, NULL },
    [OP_MATMUL] = { "MatMul", NULL, NULL },
    [OP_CONV] = { "Conv", NULL, NULL },
    [OP_BATCHNORM] = { "BatchNormalization", NULL, NULL },
    [OP_RELU] = { "Relu", NULL, NULL },
    [OP_CLIP] = { "Clip", ex_clip, NULL },
    [OP_LEAKYRELU] = { "LeakyRelu", NULL, NULL },
    [OP_SIGMOID] = { "Sigmoid", NULL, NULL },
    [OP_TANH] = { "Tanh", NULL, NULL },
    [OP_GELU] = { "Mul", ex_gelu, NULL },
    [OP_HARDSWISH] = { "HardSwish", NULL, NULL },
    [OP_SILU] = { "Mul", ex_silu, NULL },
    [OP_SOFTMAX] = { "Softmax", NULL, NULL },
    [OP_LOGSOFTMAX] = { "LogSoftmax", NULL, NULL },
    [OP_MAXPOOL] = { "MaxPool", NULL, NULL },
    [OP_AVGPOOL] = { "AveragePool", NULL, NULL },
    [OP_GLOBALAVGPOOL] = { "GlobalAveragePool", NULL, NULL },
    [OP_FLATTEN] = { "Flatten", NULL, NULL },
    [OP_RESHAPE] = { "Reshape", ex_reshape, NULL },
    [OP_TRANSPOSE] = { "Transpose", NULL, NULL },
    [OP_ADD] = { "Add", NULL, NULL },
    [OP_MUL] = { "Mul", NULL, NULL },
    [OP_CONCAT] = { "Concat", NULL, NULL },
    [OP_REDUCEMEAN] = { "ReduceMean", NULL, NULL },
    [OP_REDUCESUM] = { "ReduceSum", ex_reduce_axes_input, NULL },
    [OP_REDUCEMAX] = { "ReduceMax", NULL, NULL },
    [OP_IDENTITY] = { "Identity", NULL, NULL },
    [OP_DROPOUT] = { "Dropout", ex_dropout, NULL },
    [OP_FAKEQUANT] = { NULL, NULL, "a training-time op; export the QAT variant (its plan) "
                                   "instead of the QAT graph" },
    [OP_SUB] = { "Sub", NULL, NULL },
    [OP_DIV] = { "Div", NULL, NULL },
    [OP_POW] = { "Pow", NULL, NULL },
    [OP_SQRT] = { "Sqrt", NULL, NULL },
    [OP_ERF] = { "Erf", NULL, NULL },
    [OP_PAD] = { "Pad", ex_pad, NULL },
    [OP_RESIZE] = { "Resize", ex_resize, NULL },
    [OP_CONVTRANSPOSE] = { "ConvTranspose", NULL, NULL },
    [OP_LAYERNORM] = { "LayerNormalization", NULL, NULL },
    [OP_SLICE] = { "Slice", ex_slice, NULL },
    [OP_HARDSIGMOID] = { "HardSigmoid", NULL, NULL },
};

const char *onnx_export_op(int op, const char **why_not)
{
    const ExOpRow *r = op >= 0 && op < OP_COUNT ? &ex_ops[op] : NULL;
    if (why_not)
        *why_not = r ? r->not_exportable : "not a qscope op";
    return r ? r->onnx : NULL;
}

static void ex_float_node(Ex *x, int ni, bool half_consts)
{
    const Node *n = &x->g->nodes[ni];
    const ExOpRow *r = &ex_ops[n->op];
    PbWriter attrs;
    pb_writer_init(&attrs);
    ExArgs a = { .n = n, .name = n->name, .out = prod_name(x, n->out), .n_in = n->n_in,
                 .half_consts = half_consts, .attrs = &attrs };
    a.in = xmalloc((size_t)(n->n_in ? n->n_in : 1) * sizeof *a.in);
    for (int i = 0; i < n->n_in; i++)
        a.in[i] = in_name(x, n, i, half_consts);
    if (!r->onnx) {
        ex_fail(x, QS_EUNSUPPORTED, "%s '%s' is %s", op_table[n->op]->name, n->name,
                r->not_exportable);
    } else if (r->write) {
        r->write(x, r, &a);
    } else {
        at_copy(&attrs, n, NULL);
        ex_node(x, r->onnx, a.name, a.in, a.n_in, a.out, &attrs);
    }
    free(a.in);
    pb_writer_release(&attrs);
}

/* The value a unit head's export writes: its absorbed BatchNormalization's output (the BN
 * is folded into the weights and not exported), or the head's own. */
static int unit_out(const Ex *x, int head)
{
    int out = x->g->nodes[head].out;
    for (int k = 0; k < x->g->n_nodes; k++) {
        const QLayerInfo *li = qmodel_layer(x->q, k);
        if (li->unit == head && li->absorbed && x->g->nodes[k].op == OP_BATCHNORM)
            out = x->g->nodes[k].out;
    }
    return out;
}

/* (OC, K) row-major weights of es bytes each, copied as written: as they are, or
 * transposed to (K, OC) for a MatMul. */
static void *ex_weight_layout(const void *src, size_t es, int64_t oc, int64_t k,
                              bool transposed)
{
    char *dst = xmalloc((size_t)(oc * k) * es);
    for (int64_t r = 0; r < oc; r++)
        for (int64_t c = 0; c < k; c++)
            memcpy(dst + (size_t)(transposed ? c * oc + r : r * k + c) * es,
                   (const char *)src + (size_t)(r * k + c) * es, es);
    return dst;
}

/* The int8 weights behind a (per-channel) DequantizeLinear and the int32 bias behind one
 * of scale s_in * s_w: *w and *b receive the float values' names. */
static void ex_unit_int8(Ex *x, const char *name, const QLinearView *l, const int64_t *wd,
                         int wnd, bool transposed, const char **w, const char **b)
{
    int64_t oc = l->oc, k = l->k;
    int8_t *wq = ex_weight_layout(l->wq, 1, oc, k, transposed);
    const char *wqn = ex_str(x, "%s::weight_int8", name);
    ex_init(x, wqn, T_INT8, wd, wnd, wq, (size_t)(oc * k));
    free(wq);
    bool per_ch = l->n_wscales > 1;
    int64_t nsc = per_ch ? oc : 1;
    float *bs = xmalloc((size_t)oc * sizeof *bs);
    int8_t *z8 = xcalloc((size_t)oc, 1);
    int32_t *z32 = xcalloc((size_t)oc, sizeof *z32);
    for (int64_t c = 0; c < oc; c++)
        bs[c] = l->in_qp.scale * l->ws[per_ch ? c : 0];
    const char *wsn = ex_str(x, "%s::weight_scale", name);
    const char *wzn = ex_str(x, "%s::weight_zp", name);
    ex_init(x, wsn, T_FLOAT, &nsc, per_ch ? 1 : 0, l->ws, (size_t)nsc * sizeof(float));
    ex_init(x, wzn, T_INT8, &nsc, per_ch ? 1 : 0, z8, (size_t)nsc);
    PbWriter ax;
    pb_writer_init(&ax);
    if (per_ch)
        at_int(&ax, "axis", transposed ? 1 : 0);
    *w = ex_str(x, "%s::weight", name);
    ex_node(x, "DequantizeLinear", ex_str(x, "%s::weight_dequantize", name),
            (const char *[]){ wqn, wsn, wzn }, 3, *w, &ax);
    pb_writer_release(&ax);
    const char *bqn = ex_str(x, "%s::bias_int32", name);
    const char *bsn = ex_str(x, "%s::bias_scale", name);
    const char *bzn = ex_str(x, "%s::bias_zp", name);
    ex_init(x, bqn, T_INT32, &oc, 1, l->bq, (size_t)oc * sizeof(int32_t));
    ex_init(x, bsn, T_FLOAT, &oc, 1, bs, (size_t)oc * sizeof(float));
    ex_init(x, bzn, T_INT32, &oc, 1, z32, (size_t)oc * sizeof(int32_t));
    pb_writer_init(&ax);
    at_int(&ax, "axis", 0);
    *b = ex_str(x, "%s::bias", name);
    ex_node(x, "DequantizeLinear", ex_str(x, "%s::bias_dequantize", name),
            (const char *[]){ bqn, bsn, bzn }, 3, *b, &ax);
    pb_writer_release(&ax);
    free(bs);
    free(z8);
    free(z32);
}

/* The half weights and bias behind a Cast to float: *w and *b receive the float names. */
static void ex_unit_half(Ex *x, const char *name, const QLinearView *l, const int64_t *wd,
                         int wnd, bool transposed, const char **w, const char **b)
{
    int64_t oc = l->oc, k = l->k;
    uint16_t *wh = ex_weight_layout(l->wh, sizeof *wh, oc, k, transposed);
    const char *whn = ex_str(x, "%s::weight_f16", name);
    ex_init(x, whn, T_FLOAT16, wd, wnd, wh, (size_t)(oc * k) * 2);
    free(wh);
    const char *bhn = ex_str(x, "%s::bias_f16", name);
    ex_init(x, bhn, T_FLOAT16, &oc, 1, l->bh, (size_t)oc * 2);
    *w = ex_str(x, "%s::weight", name);
    *b = ex_str(x, "%s::bias", name);
    ex_cast(x, ex_str(x, "%s::weight_cast", name), whn, *w, T_FLOAT);
    ex_cast(x, ex_str(x, "%s::bias_cast", name), bhn, *b, T_FLOAT);
}

/* A linear unit head with its folded weights: int8 + per-channel DequantizeLinear and an
 * int32 bias (QSTEP_LIN_INT8), or FLOAT16 + Cast (QSTEP_LIN_HALF). */
static void ex_unit(Ex *x, const QStepView *s)
{
    const QLinearView *l = &s->lin;
    const Node *n = &x->g->nodes[s->head];
    const char *name = n->name, *out = prod_name(x, unit_out(x, s->head));
    int64_t oc = l->oc, k = l->k;
    bool conv = l->conv, rank2 = value_rank(x, n->in[0]) == 2;
    bool transposed = !conv && !rank2; /* MatMul with W^T (K, OC), channels on axis 1 */
    int64_t wd[QS_MAX_DIMS];
    int wnd;
    if (conv) {
        wnd = l->wshape.ndim;
        memcpy(wd, l->wshape.dim, (size_t)wnd * sizeof *wd);
    } else if (transposed) {
        wnd = 2, wd[0] = k, wd[1] = oc;
    } else {
        wnd = 2, wd[0] = oc, wd[1] = k;
    }
    const char *w, *b;
    if (s->kind == QSTEP_LIN_INT8)
        ex_unit_int8(x, name, l, wd, wnd, transposed, &w, &b);
    else
        ex_unit_half(x, name, l, wd, wnd, transposed, &w, &b);
    const char *xin = in_name(x, n, 0, false);
    PbWriter a;
    pb_writer_init(&a);
    if (conv) {
        at_copy(&a, n, NULL);
        ex_node(x, "Conv", name, (const char *[]){ xin, w, b }, 3, out, &a);
    } else if (!transposed) {
        at_int(&a, "transB", 1);
        ex_node(x, "Gemm", name, (const char *[]){ xin, w, b }, 3, out, &a);
    } else {
        const char *h = ex_str(x, "%s::matmul", name);
        ex_node(x, "MatMul", h, (const char *[]){ xin, w }, 2, h, NULL);
        ex_node(x, "Add", name, (const char *[]){ h, b }, 2, out, NULL);
    }
    pb_writer_release(&a);
}

/* ---- the model */

static void ex_value_info(PbWriter *list, uint32_t field, const char *name, const Shape *s)
{
    PbWriter vi, tp, tt, sh;
    pb_writer_init(&sh);
    for (int i = 0; i < s->ndim; i++) {
        PbWriter d;
        pb_writer_init(&d);
        if (i == 0)
            pb_put_string(&d, 2, "N");
        else
            pb_put_int64(&d, 1, s->dim[i]);
        pb_put_message(&sh, 1, &d);
        pb_writer_release(&d);
    }
    pb_writer_init(&tt);
    pb_put_varint(&tt, 1, T_FLOAT);
    pb_put_message(&tt, 2, &sh);
    pb_writer_init(&tp);
    pb_put_message(&tp, 1, &tt);
    pb_writer_init(&vi);
    pb_put_string(&vi, 1, name);
    pb_put_message(&vi, 2, &tp);
    pb_put_message(list, field, &vi);
    pb_writer_release(&vi);
    pb_writer_release(&tp);
    pb_writer_release(&tt);
    pb_writer_release(&sh);
}

/* Which values get a post-op: QDQ on every value the plan holds as int8 (int8-static), a
 * half rounding on the outputs of fp16 steps and on graph inputs they read. */
static void ex_mark_posts(Ex *x)
{
    const Graph *g = x->g;
    QParams qp;
    for (int v = 0; v < g->n_values; v++)
        if (x->mode == EX_QDQ && qmodel_value_qparams(x->q, v, &qp))
            x->post[v] = POST_QDQ;
    for (int si = 0; si < qmodel_n_steps(x->q); si++) {
        QStepView s = qmodel_step(x->q, si);
        if (!s.rounds_half)
            continue;
        x->post[s.out] = POST_HALF;
        const Node *h = &g->nodes[s.head];
        for (int i = 0; i < h->n_in; i++)
            if (h->in[i] >= 0 && g->values[h->in[i]].kind == VAL_INPUT)
                x->post[h->in[i]] = POST_HALF;
    }
}

/* Node ni as its plan step runs it: part of a linear unit (written by its head), or one
 * float node; then the post-op of what it wrote. */
static void ex_plan_node(Ex *x, int ni)
{
    const Node *n = &x->g->nodes[ni];
    const QLayerInfo *li = qmodel_layer(x->q, ni);
    QStepView s = qmodel_step(x->q, qmodel_step_of(x->q, ni));
    bool lin = s.kind == QSTEP_LIN_INT8 || s.kind == QSTEP_LIN_HALF;
    if (lin && li->absorbed && n->op == OP_BATCHNORM)
        return; /* folded into the head's weights */
    if (lin && s.head == ni) {
        ex_unit(x, &s);
        int uo = unit_out(x, ni);
        if (x->post[uo])
            ex_post(x, uo);
        return;
    }
    ex_float_node(x, ni, s.kind == QSTEP_HALF);
    if (x->post[n->out])
        ex_post(x, n->out);
}

/* The ModelProto around the finished graph. */
static QsStatus ex_model(Ex *x, void **out, size_t *out_len)
{
    PbWriter model, os;
    pb_writer_init(&model);
    pb_put_varint(&model, 1, EX_IR);
    pb_put_string(&model, 2, "qscope");
    pb_put_string(&model, 3, "0.1");
    pb_put_message(&model, 7, &x->graph);
    pb_writer_init(&os);
    pb_put_string(&os, 1, "");
    pb_put_varint(&os, 2, EX_OPSET);
    pb_put_message(&model, 8, &os);
    pb_writer_release(&os);
    for (int i = 0; i < x->m->n_meta; i++) {
        PbWriter kv;
        pb_writer_init(&kv);
        pb_put_string(&kv, 1, x->m->meta[i].key);
        pb_put_string(&kv, 2, x->m->meta[i].value);
        pb_put_message(&model, 14, &kv);
        pb_writer_release(&kv);
    }
    if (pb_writer_status(&model, x->err)) {
        pb_writer_release(&model);
        return x->err->code;
    }
    *out = model.buf;
    *out_len = model.len;
    return QS_OK;
}

static QsStatus ex_run(Ex *x, void **out, size_t *out_len)
{
    const Graph *g = x->g;
    int nv = g->n_values;
    x->init_done = xcalloc((size_t)nv, sizeof *x->init_done);
    x->post = xcalloc((size_t)nv, sizeof *x->post);
    x->is_output = xcalloc((size_t)nv, sizeof *x->is_output);
    pb_writer_init(&x->graph);
    for (int i = 0; i < g->n_outputs; i++)
        x->is_output[g->outputs[i]] = true;
    if (x->q)
        ex_mark_posts(x);
    pb_put_string(&x->graph, 2, "qscope");
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        ex_value_info(&x->graph, 11, vname(x, v), &g->values[v].shape);
        if (x->post[v])
            ex_post(x, v);
    }
    for (int k = 0; k < g->n_nodes && !x->st; k++) {
        if (x->q)
            ex_plan_node(x, g->order[k]);
        else
            ex_float_node(x, g->order[k], false);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        ex_value_info(&x->graph, 12, vname(x, v), &g->values[v].shape);
    }
    if (x->st)
        return x->st;
    return ex_model(x, out, out_len);
}

static void ex_release(Ex *x)
{
    pb_writer_release(&x->graph);
    free(x->init_done);
    free(x->post);
    free(x->is_output);
    for (int i = 0; i < x->n_pool; i++)
        free(x->pool[i]);
    free(x->pool);
}

QsStatus onnx_serialize(const Model *m, void **out, size_t *out_len, QsError *err)
{
    Ex x;
    memset(&x, 0, sizeof x);
    x.m = m;
    x.g = &m->graph;
    x.err = err;
    QsStatus st = ex_run(&x, out, out_len);
    ex_release(&x);
    return st;
}

QsStatus onnx_serialize_plan(const QModel *q, void **out, size_t *out_len, QsError *err)
{
    Ex x;
    memset(&x, 0, sizeof x);
    x.m = qmodel_model(q);
    x.g = qmodel_graph(q);
    x.err = err;
    const Plan *p = qmodel_plan(q);
    bool any[PREC_COUNT] = { false };
    for (int i = 0; i < p->n_nodes; i++)
        any[plan_node_prec(p, i)] = true;
    if (any[PREC_INT8_DYN])
        return qs_fail(err, QS_EUNSUPPORTED, "int8-dyn layers have no ONNX layout here "
                       "(export fp32, fp16 or int8-static)");
    if (any[PREC_INT8_STATIC] && p->q.bits != 8)
        return qs_fail(err, QS_EUNSUPPORTED, "%d-bit quantization has no ONNX QDQ layout "
                       "(ONNX int8 covers 8 bits only)", p->q.bits);
    if (any[PREC_INT8_STATIC])
        x.mode = EX_QDQ;
    else if (any[PREC_FP16])
        x.mode = EX_FP16;
    else
        x.mode = EX_FLOAT;
    /* Mixed fp16 and int8 plans use both post-ops; mode only names the main one. */
    x.q = x.mode == EX_FLOAT ? NULL : q;
    QsStatus st = ex_run(&x, out, out_len);
    ex_release(&x);
    return st;
}

static QsStatus ex_write(const char *path, QsStatus st, void *buf, size_t len, QsError *err)
{
    if (!st)
        st = fileio_write_atomic(path, buf, len, err);
    free(buf);
    return st;
}

QsStatus onnx_save(const char *path, const Model *m, QsError *err)
{
    void *buf = NULL;
    size_t len = 0;
    QsStatus st = onnx_serialize(m, &buf, &len, err);
    return ex_write(path, st, buf, len, err);
}

QsStatus onnx_save_plan(const char *path, const QModel *q, QsError *err)
{
    void *buf = NULL;
    size_t len = 0;
    QsStatus st = onnx_serialize_plan(q, &buf, &len, err);
    return ex_write(path, st, buf, len, err);
}
