/* GatherElements (https://onnx.ai/onnx/operators/onnx__GatherElements.html), torch.gather:
 * out[..i..] = data[..i.. with axis i replaced by indices[..i..]], the output of the
 * indices' shape. The indices come as floats holding integers (TopK's indices, op_topk.c);
 * a negative one counts from the end. Each is rounded to the nearest integer first, so
 * indices that went through an int8 grid (a quantized Cast between TopK and here) still
 * read the right element. One out of range (or NaN) cannot fail a forward: its output is
 * NaN (documented in docs/ops.md). Backward adds each
 * output's gradient into the data element it was read from; the indices have none. */
#include <math.h>

#include "ops/op.h"

static QsStatus ge_parse(const Node *n, OpParams *prm, QsError *err)
{
    prm->axis.axis = node_attr_int(n, "axis", 0);
    return QS_OK;
}

static QsStatus ge_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err->code;
    const Shape *d = in[0], *ix = in[1];
    int ax;
    QsStatus st = op_axis(n, prm->axis.axis, d->ndim, &ax, err);
    if (st)
        return st;
    if (ax == 0)
        return qs_fail(err, QS_EUNSUPPORTED, "GatherElements '%s': the batch axis is not "
                       "supported", n->name);
    if (ix->ndim != d->ndim)
        return qs_fail(err, QS_ESHAPE, "GatherElements '%s': indices of rank %d for data of "
                       "rank %d", n->name, ix->ndim, d->ndim);
    for (int i = 0; i < d->ndim; i++)
        if (i != ax && (i == 0 ? ix->dim[i] != d->dim[i] : ix->dim[i] > d->dim[i]))
            return qs_fail(err, QS_ESHAPE, "GatherElements '%s': indices dim %d (%lld) "
                           "exceeds the data's (%lld)", n->name, i, (long long)ix->dim[i],
                           (long long)d->dim[i]);
    *out = *ix;
    return QS_OK;
}

/* Calls body(o, src) for each output element o with src its data offset, or -1 for an
 * index that does not round to one in range. */
#define GE_WALK(n, d_shape, ix_shape, ixv, body)                                         \
    do {                                                                                 \
        OpParams tmp_;                                                                   \
        int ax_;                                                                         \
        op_axis(n, op_params(n, &tmp_, NULL)->axis.axis, (d_shape)->ndim, &ax_, NULL);   \
        int64_t dst_[QS_MAX_DIMS], idx_[QS_MAX_DIMS] = { 0 }, base_ = 0;                 \
        int nd_ = (d_shape)->ndim;                                                       \
        dst_[nd_ - 1] = 1;                                                               \
        for (int i_ = nd_ - 2; i_ >= 0; i_--)                                            \
            dst_[i_] = dst_[i_ + 1] * (d_shape)->dim[i_ + 1];                            \
        int64_t dim_ = (d_shape)->dim[ax_], total_ = shape_numel(ix_shape);              \
        for (int64_t o = 0; o < total_; o++) {                                           \
            float v_ = nearbyintf((ixv)[o]);                                             \
            int64_t src = -1;                                                            \
            if (v_ >= -(float)dim_ && v_ < (float)dim_) {                                \
                int64_t r_ = (int64_t)v_;                                                \
                src = base_ + (r_ < 0 ? r_ + dim_ : r_) * dst_[ax_];                     \
            }                                                                            \
            body;                                                                        \
            for (int i_ = nd_ - 1; i_ >= 0; i_--) {                                      \
                if (i_ != ax_)                                                           \
                    base_ += dst_[i_];                                                   \
                if (++idx_[i_] < (ix_shape)->dim[i_])                                    \
                    break;                                                               \
                if (i_ != ax_)                                                           \
                    base_ -= dst_[i_] * (ix_shape)->dim[i_];                             \
                idx_[i_] = 0;                                                            \
            }                                                                            \
        }                                                                                \
    } while (0)

static void ge_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]), *ix = tensor_f32(in[1]);
    float *y = tensor_f32(out);
    GE_WALK(n, &in[0]->shape, &in[1]->shape, ix, y[o] = src < 0 ? NAN : x[src]);
}

static void ge_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                        const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *ix = tensor_f32(in[1]), *dy = tensor_f32(dout);
    float *dx = tensor_f32(din[0]);
    GE_WALK(n, &in[0]->shape, &in[1]->shape, ix, if (src >= 0) dx[src] += dy[o]);
}

const OpDef op_gather_elements_def = {
    .name = "GatherElements", .min_in = 2, .max_in = 2, .parse = ge_parse, .infer = ge_infer,
    .forward = ge_forward, .backward = ge_backward,
};
