/* ONNX export of float nodes: one export row per qscope op (ex_ops), naming the ONNX op it
 * becomes and, when attributes turn into inputs or the op is decomposed (SiLU, Gelu,
 * Dense on more than two dims), the function that writes it. */
#include "onnx/onnx_export_write.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "qexec/qexec_view.h"

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
    /* an infinite bound is an absent one (ClipParams) */
    const ClipParams *c = &a->n->params.clip;
    bool lo = isfinite(c->min), hi = isfinite(c->max);
    const char *ci[3] = { a->in[0], "", "" };
    if (lo)
        ci[1] = ex_scalar_f32(x, ex_str(x, "%s::min", a->name), c->min);
    if (hi)
        ci[2] = ex_scalar_f32(x, ex_str(x, "%s::max", a->name), c->max);
    ex_node(x, r->onnx, a->name, ci, hi ? 3 : lo ? 2 : 1, a->out, NULL);
}

/* Reshape: the shape attribute into an int64 input. */
static void ex_reshape(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const ParamInts *s = &a->n->params.reshape.shape;
    const char *ri[2] = { a->in[0],
                          ex_const_i64(x, ex_str(x, "%s::shape", a->name), s->v, s->n) };
    ex_node(x, r->onnx, a->name, ri, 2, a->out, a->attrs);
}

/* ReduceSum (opset 13): the axes attribute into an int64 input. */
static void ex_reduce_axes_input(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const ParamInts *ax = &a->n->params.reduce.axes;
    int na = ax->n;
    const char *ri[2] = { a->in[0], na > 0 ? ex_const_i64(x, ex_str(x, "%s::axes", a->name),
                                                          ax->v, na) : "" };
    at_copy(a->attrs, a->n, (const char *const[]){ "axes", NULL });
    ex_node(x, r->onnx, a->name, ri, na > 0 ? 2 : 1, a->out, a->attrs);
}

/* Pad: pads and value into inputs, mode stays an attribute. */
static void ex_pad(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    static const char *const modes[] = { [PAD_CONSTANT] = "constant", [PAD_REFLECT] = "reflect",
                                         [PAD_EDGE] = "edge" };
    const PadParams *pp = &a->n->params.pad;
    const char *pi[3] = { a->in[0],
                          ex_const_i64(x, ex_str(x, "%s::pads", a->name), pp->pads.v, pp->pads.n),
                          ex_scalar_f32(x, ex_str(x, "%s::value", a->name), pp->value) };
    at_str(a->attrs, "mode", modes[pp->mode]);
    ex_node(x, r->onnx, a->name, pi, 3, a->out, a->attrs);
}

/* Resize: scales (given, or from the inferred output shape when sizes were given) into
 * the third input. */
static void ex_resize(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const Node *n = a->n;
    const Shape *xs = &x->g->values[n->in[0]].shape, *ys = &x->g->values[n->out].shape;
    float sc[QS_MAX_DIMS];
    const ParamFloats *s = &n->params.resize.scales;
    for (int i = 0; i < xs->ndim; i++)
        sc[i] = i < s->n ? s->v[i]
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
    const SliceParams *sp = &a->n->params.slice;
    const ParamInts *lists[4] = { &sp->starts, &sp->ends, &sp->axes, &sp->steps };
    const char *si[5] = { a->in[0], "", "", "", "" };
    int last = 2;
    for (int k = 0; k < 4; k++) {
        if (lists[k]->n >= 0) {
            si[k + 1] = ex_const_i64(x, ex_str(x, "%s::%s", a->name, keys[k]), lists[k]->v,
                                     lists[k]->n);
            last = k + 2;
        }
    }
    ex_node(x, r->onnx, a->name, si, last, a->out, NULL);
}

/* Mod: ONNX takes fmod=0 on integers only, and qscope's values are floats. */
static void ex_mod(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    if (!a->n->params.mod.fmod) {
        ex_fail(x, QS_EUNSUPPORTED, "Mod '%s': fmod=0 on float values has no ONNX form "
                "(ONNX allows it on integers only)", a->name);
        return;
    }
    at_int(a->attrs, "fmod", 1);
    ex_node(x, r->onnx, a->name, a->in, 2, a->out, a->attrs);
}

/* TopK: K into an int64 input; both ONNX outputs are written, the one the node does not
 * carry under a name nobody reads; indices (int64 in ONNX) are cast to float. */
static void ex_topk(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const TopKParams *p = &a->n->params.topk;
    const char *in[2] = { a->in[0], ex_const_i64(x, ex_str(x, "%s::k", a->name), &p->k, 1) };
    const char *outs[2] = { p->indices ? ex_str(x, "%s::values", a->name) : a->out,
                            ex_str(x, "%s::indices", a->name) };
    at_int(a->attrs, "axis", p->axis);
    at_int(a->attrs, "largest", p->largest);
    at_int(a->attrs, "sorted", 1);
    ex_node_outs(x, r->onnx, a->name, in, 2, outs, 2, a->attrs);
    if (p->indices)
        ex_cast(x, ex_str(x, "%s::cast", a->name), outs[1], a->out, T_FLOAT);
}

/* GatherElements: the float indices cast to int64, as ONNX takes them. */
static void ex_gather_elements(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const char *in[2] = { a->in[0], ex_str(x, "%s::indices", a->name) };
    ex_cast(x, ex_str(x, "%s::cast", a->name), a->in[1], in[1], T_INT64);
    at_int(a->attrs, "axis", a->n->params.axis.axis);
    ex_node(x, r->onnx, a->name, in, 2, a->out, a->attrs);
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
    if (a->n->params.gelu.tanh) {
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

/* Expand: the target shape as an int64 input; dims that grow with the batch computed
 * from Shape(like)[0:1] * batch + shape, so the export keeps its dynamic batch. */
static void ex_expand(Ex *x, const ExOpRow *r, const ExArgs *a)
{
    const ExpandParams *p = &a->n->params.expand;
    const char *shape = ex_const_i64(x, ex_str(x, "%s::shape", a->name), p->shape.v, p->shape.n);
    if (p->batch.n > 0 && a->n_in > 1 && a->in[1][0]) {
        static const int64_t zero = 0, one = 1;
        const char *sh = ex_str(x, "%s::like_shape", a->name);
        const char *b = ex_str(x, "%s::batch_size", a->name);
        const char *m = ex_str(x, "%s::batch_dims", a->name);
        const char *t = ex_str(x, "%s::target", a->name);
        ex_node(x, "Shape", sh, &a->in[1], 1, sh, NULL);
        const char *si[4] = { sh, ex_const_i64(x, ex_str(x, "%s::b0", a->name), &zero, 1),
                              ex_const_i64(x, ex_str(x, "%s::b1", a->name), &one, 1),
                              ex_const_i64(x, ex_str(x, "%s::b_axis", a->name), &zero, 1) };
        ex_node(x, "Slice", b, si, 4, b, NULL);
        const char *mi[2] = { b, ex_const_i64(x, ex_str(x, "%s::batch", a->name), p->batch.v,
                                              p->batch.n) };
        ex_node(x, "Mul", m, mi, 2, m, NULL);
        const char *ai[2] = { m, shape };
        ex_node(x, "Add", t, ai, 2, t, NULL);
        shape = t;
    }
    const char *ei[2] = { a->in[0], shape };
    ex_node(x, r->onnx, a->name, ei, 2, a->out, NULL);
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
    [OP_MOD] = { "Mod", ex_mod, NULL },
    [OP_EXPAND] = { "Expand", ex_expand, NULL },
    [OP_TOPK] = { "TopK", ex_topk, NULL },
    [OP_GATHERELEMENTS] = { "GatherElements", ex_gather_elements, NULL },
};

const char *onnx_export_op(int op, const char **why_not)
{
    const ExOpRow *r = op >= 0 && op < OP_COUNT ? &ex_ops[op] : NULL;
    if (why_not)
        *why_not = r ? r->not_exportable : "not a qscope op";
    return r ? r->onnx : NULL;
}

void ex_float_node(Ex *x, int ni, bool half_consts)
{
    const Node *n = &x->g->nodes[ni];
    const ExOpRow *r = &ex_ops[n->op];
    PbWriter attrs;
    pb_writer_init(&attrs);
    ExArgs a = { .n = n, .name = n->name, .out = prod_name(x, n->out), .n_in = n->n_in,
                 .half_consts = half_consts, .attrs = &attrs };
    a.in = xmalloc((size_t)(n->n_in ? n->n_in : 1) * sizeof *a.in);
    for (int i = 0; i < n->n_in; i++)
        a.in[i] = in_name(x, ni, i, half_consts);
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
