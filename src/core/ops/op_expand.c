/* Expand (https://onnx.ai/onnx/operators/onnx__Expand.html) with the target shape as
 * attributes: dim i of the target is shape[i] + batch[i] * N, N the batch size read from
 * the optional second input's dim 0 ("like": any value whose axis 0 is the batch). The
 * input is broadcast against the target both ways, as numpy does. Importers emit it for a
 * constant expanded to the batch (ViT's class token, class_token.expand(n, -1, -1)): each
 * output sample is a copy of the input, whatever the other samples hold. Backward adds
 * dout into the input elements each output element was copied from, in output order. */
#include <string.h>

#include "ops/op.h"

static QsStatus expand_parse(const Node *n, OpParams *prm, QsError *err)
{
    ExpandParams *p = &prm->expand;
    op_param_ints(n, "shape", &p->shape);
    op_param_ints(n, "batch", &p->batch);
    if (p->shape.n < 1 || p->shape.n > QS_MAX_DIMS)
        return qs_fail(err, QS_EINVAL, "Expand '%s': attribute 'shape' must list 1 to %d dims",
                       n->name, QS_MAX_DIMS);
    if (p->batch.n >= 0 && p->batch.n != p->shape.n)
        return qs_fail(err, QS_EINVAL, "Expand '%s': 'batch' must have one entry per dim",
                       n->name);
    for (int i = 0; i < p->shape.n; i++)
        if (p->shape.v[i] < 0 || (p->batch.n > 0 && (p->batch.v[i] < 0 ||
                                                    p->batch.v[i] > INT32_MAX)))
            return qs_fail(err, QS_EINVAL, "Expand '%s': negative dim", n->name);
    return QS_OK;
}

static QsStatus expand_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err->code;
    const ExpandParams *p = &prm->expand;
    const Shape *like = n->n_in > 1 ? in[1] : NULL;
    bool uses_batch = false;
    for (int i = 0; i < p->batch.n; i++)
        uses_batch |= p->batch.v[i] != 0;
    if (!in[0] || (uses_batch && !like))
        return qs_fail(err, QS_ESHAPE, "Expand '%s': input%s missing", n->name,
                       in[0] ? " 'like' (the batch size)" : "");
    Shape t = { .ndim = p->shape.n };
    for (int i = 0; i < t.ndim; i++) {
        int64_t b = p->batch.n > 0 ? p->batch.v[i] : 0, d = p->shape.v[i];
        if (b && (__builtin_mul_overflow(b, like->dim[0], &b) ||
                  __builtin_add_overflow(d, b, &d)))
            return qs_fail(err, QS_ESHAPE, "Expand '%s': size overflows", n->name);
        t.dim[i] = d;
    }
    const Shape *x = in[0];
    out->ndim = x->ndim > t.ndim ? x->ndim : t.ndim;
    for (int i = 0; i < out->ndim; i++) {
        int xi = x->ndim - out->ndim + i, ti = t.ndim - out->ndim + i;
        int64_t a = xi >= 0 ? x->dim[xi] : 1, b = ti >= 0 ? t.dim[ti] : 1;
        if (a != b && a != 1 && b != 1) {
            char s1[96], s2[96];
            return qs_fail(err, QS_ESHAPE, "Expand '%s': input %s does not broadcast to %s",
                           n->name, shape_format(x, s1, sizeof s1), shape_format(&t, s2, sizeof s2));
        }
        out->dim[i] = a == 1 ? b : a;
    }
    return QS_OK;
}

/* Calls body(i, off) for each output element i in order with its input offset. */
#define EXPAND_WALK(o, st, body)                                                          \
    do {                                                                                  \
        int64_t idx_[QS_MAX_DIMS] = { 0 }, off = 0, total_ = shape_numel(o);              \
        for (int64_t i = 0; i < total_; i++) {                                            \
            body;                                                                         \
            for (int d_ = (o)->ndim - 1; d_ >= 0; d_--) {                                 \
                off += (st)[d_];                                                          \
                if (++idx_[d_] < (o)->dim[d_])                                            \
                    break;                                                                \
                off -= (st)[d_] * (o)->dim[d_];                                           \
                idx_[d_] = 0;                                                             \
            }                                                                             \
        }                                                                                 \
    } while (0)

static void expand_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    int64_t st[QS_MAX_DIMS];
    shape_broadcast_strides(&in[0]->shape, &out->shape, st);
    const float *x = tensor_f32(in[0]);
    float *y = tensor_f32(out);
    EXPAND_WALK(&out->shape, st, y[i] = x[off]);
}

static void expand_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                            const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    int64_t st[QS_MAX_DIMS];
    shape_broadcast_strides(&in[0]->shape, &out->shape, st);
    const float *dy = tensor_f32(dout);
    float *dx = tensor_f32(din[0]);
    EXPAND_WALK(&out->shape, st, dx[off] += dy[i]);
}

const OpDef op_expand_def = {
    .name = "Expand", .min_in = 1, .max_in = 2, .parse = expand_parse, .infer = expand_infer,
    .forward = expand_forward, .backward = expand_backward,
};
