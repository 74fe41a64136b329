#include "ops/op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const OpDef op_gemm_def, op_dense_def, op_matmul_def;
extern const OpDef op_conv_def;
extern const OpDef op_batchnorm_def;
extern const OpDef op_relu_def, op_clip_def, op_leakyrelu_def, op_sigmoid_def, op_tanh_def,
    op_gelu_def, op_hardswish_def, op_silu_def, op_identity_def, op_dropout_def;
extern const OpDef op_softmax_def, op_logsoftmax_def;
extern const OpDef op_maxpool_def, op_avgpool_def, op_globalavgpool_def;
extern const OpDef op_flatten_def, op_reshape_def, op_transpose_def, op_concat_def;
extern const OpDef op_add_def, op_mul_def;
extern const OpDef op_reducemean_def, op_reducesum_def, op_reducemax_def;
extern const OpDef op_fakequant_def;
extern const OpDef op_sub_def, op_div_def, op_pow_def, op_sqrt_def, op_erf_def,
    op_hardsigmoid_def, op_mod_def, op_expand_def, op_topk_def,
    op_gather_elements_def;
extern const OpDef op_pad_def, op_resize_def, op_convtranspose_def, op_layernorm_def,
    op_slice_def;

const OpDef *const op_table[OP_COUNT] = {
    [OP_GEMM] = &op_gemm_def,
    [OP_DENSE] = &op_dense_def,
    [OP_MATMUL] = &op_matmul_def,
    [OP_CONV] = &op_conv_def,
    [OP_BATCHNORM] = &op_batchnorm_def,
    [OP_RELU] = &op_relu_def,
    [OP_CLIP] = &op_clip_def,
    [OP_LEAKYRELU] = &op_leakyrelu_def,
    [OP_SIGMOID] = &op_sigmoid_def,
    [OP_TANH] = &op_tanh_def,
    [OP_GELU] = &op_gelu_def,
    [OP_HARDSWISH] = &op_hardswish_def,
    [OP_SILU] = &op_silu_def,
    [OP_SOFTMAX] = &op_softmax_def,
    [OP_LOGSOFTMAX] = &op_logsoftmax_def,
    [OP_MAXPOOL] = &op_maxpool_def,
    [OP_AVGPOOL] = &op_avgpool_def,
    [OP_GLOBALAVGPOOL] = &op_globalavgpool_def,
    [OP_FLATTEN] = &op_flatten_def,
    [OP_RESHAPE] = &op_reshape_def,
    [OP_TRANSPOSE] = &op_transpose_def,
    [OP_ADD] = &op_add_def,
    [OP_MUL] = &op_mul_def,
    [OP_CONCAT] = &op_concat_def,
    [OP_REDUCEMEAN] = &op_reducemean_def,
    [OP_REDUCESUM] = &op_reducesum_def,
    [OP_REDUCEMAX] = &op_reducemax_def,
    [OP_IDENTITY] = &op_identity_def,
    [OP_DROPOUT] = &op_dropout_def,
    [OP_FAKEQUANT] = &op_fakequant_def,
    [OP_SUB] = &op_sub_def,
    [OP_DIV] = &op_div_def,
    [OP_POW] = &op_pow_def,
    [OP_SQRT] = &op_sqrt_def,
    [OP_ERF] = &op_erf_def,
    [OP_PAD] = &op_pad_def,
    [OP_RESIZE] = &op_resize_def,
    [OP_CONVTRANSPOSE] = &op_convtranspose_def,
    [OP_LAYERNORM] = &op_layernorm_def,
    [OP_SLICE] = &op_slice_def,
    [OP_HARDSIGMOID] = &op_hardsigmoid_def,
    [OP_MOD] = &op_mod_def,
    [OP_EXPAND] = &op_expand_def,
    [OP_TOPK] = &op_topk_def,
    [OP_GATHERELEMENTS] = &op_gather_elements_def,
};

int op_find(const char *name)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (op_table[i] && strcmp(op_table[i]->name, name) == 0)
            return i;
    return -1;
}

QsStatus op_parse(const Node *n, OpParams *p, QsError *err)
{
    memset(p, 0, sizeof *p);
    const OpDef *def = op_table[n->op];
    return def->parse ? def->parse(n, p, err) : QS_OK;
}

QsStatus op_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    QsStatus st = op_table[n->op]->infer(n, in, out, err);
    if (st)
        return st;
    char what[160];
    snprintf(what, sizeof what, "node '%s' (%s) output", n->name ? n->name : "?",
             op_table[n->op]->name);
    size_t bytes;
    return shape_checked_bytes(out, sizeof(float), &bytes, what, err);
}

const OpParams *op_params(const Node *n, OpParams *tmp, QsError *err)
{
    if (n->parsed)
        return &n->params;
    QsStatus st = op_parse(n, tmp, err);
    QS_ASSERT(err || st == QS_OK);
    return st ? NULL : tmp;
}

QsStatus node_set_attr(Node *n, const Attr *a, QsError *err)
{
    int at = 0; /* the first of that name, the one node_attr reads */
    while (at < n->n_attrs && strcmp(n->attrs[at].name, a->name) != 0)
        at++;
    /* Parse a probe with the new list first, so a failure leaves n as it was. */
    Attr *probe_attrs = xmalloc((size_t)(n->n_attrs + 1) * sizeof *probe_attrs);
    memcpy(probe_attrs, n->attrs, (size_t)n->n_attrs * sizeof *probe_attrs);
    probe_attrs[at] = *a;
    Node probe = *n;
    probe.attrs = probe_attrs;
    probe.n_attrs = at == n->n_attrs ? n->n_attrs + 1 : n->n_attrs;
    OpParams p;
    QsStatus st = op_parse(&probe, &p, err);
    free(probe_attrs);
    if (st)
        return st;
    if (at == n->n_attrs)
        n->attrs = xrealloc(n->attrs, (size_t)(++n->n_attrs) * sizeof *n->attrs);
    else
        attr_release(&n->attrs[at]);
    n->attrs[at] = attr_copy(a);
    n->params = p;
    n->parsed = true;
    return QS_OK;
}

void op_param_ints(const Node *n, const char *name, ParamInts *out)
{
    out->n = node_attr_ints(n, name, out->v, QS_PARAM_INTS);
    out->given = node_attr(n, name) != NULL;
}

void op_param_floats(const Node *n, const char *name, ParamFloats *out)
{
    const Attr *a = node_attr(n, name);
    out->given = a != NULL;
    out->n = a && a->type == ATTR_FLOATS ? a->n : -1;
    for (int i = 0; i < out->n && i < QS_MAX_DIMS; i++)
        out->v[i] = a->floats[i];
}

QsStatus op_expect_rank(const Node *n, const Shape *s, int lo, int hi, const char *what,
                        QsError *err)
{
    if (s->ndim < lo || s->ndim > hi) {
        char buf[96];
        if (lo == hi)
            return qs_fail(err, QS_ESHAPE, "%s '%s': %s has shape %s, expected rank %d",
                           op_table[n->op]->name, n->name, what, shape_format(s, buf, sizeof buf),
                           lo);
        return qs_fail(err, QS_ESHAPE, "%s '%s': %s has shape %s, expected rank %d to %d",
                       op_table[n->op]->name, n->name, what, shape_format(s, buf, sizeof buf), lo,
                       hi);
    }
    return QS_OK;
}

QsStatus op_unary_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    OpParams tmp;
    if (!op_params(n, &tmp, err))
        return err->code;
    if (!in[0])
        return qs_fail(err, QS_ESHAPE, "%s '%s': input is missing", op_table[n->op]->name,
                       n->name);
    *out = *in[0];
    return QS_OK;
}

QsStatus op_broadcast(const Node *n, const Shape *a, const Shape *b, Shape *out, QsError *err)
{
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = r;
    for (int i = 0; i < r; i++) {
        int ia = a->ndim - r + i, ib = b->ndim - r + i;
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            return qs_fail(err, QS_ESHAPE, "%s '%s': shapes %s and %s do not broadcast",
                           op_table[n->op]->name, n->name, shape_format(a, sa, sizeof sa),
                           shape_format(b, sb, sizeof sb));
        }
        out->dim[i] = da == 1 ? db : da;
    }
    return QS_OK;
}

QsStatus op_axis(const Node *n, int64_t axis, int rank, int *out, QsError *err)
{
    if (axis < -rank || axis >= rank)
        return qs_fail(err, QS_ESHAPE, "%s '%s': axis %lld out of range for rank %d",
                       op_table[n->op]->name, n->name, (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return QS_OK;
}
