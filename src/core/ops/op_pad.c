/* ONNX Pad (https://onnx.ai/onnx/operators/onnx__Pad.html) with the pads as an attribute
 * (opset 2 style: ONNX >= 11 passes pads, constant_value and axes as inputs, which the
 * importer turns into attributes):
 *   pads  ints (2 * rank): all begins, then all ends; negative values crop;
 *   mode  "constant" (default), "reflect" or "edge";
 *   value float (0): the constant mode's fill.
 * The batch axis is never padded (its two pads must be 0). Backward routes each output
 * element's gradient to the input element it was read from (several for reflect/edge). */
#include <string.h>

#include "ops/op.h"

static QsStatus pad_parse(const Node *n, OpParams *prm, QsError *err)
{
    PadParams *p = &prm->pad;
    const char *m = node_attr_str(n, "mode", "constant");
    if (strcmp(m, "constant") == 0)
        p->mode = PAD_CONSTANT;
    else if (strcmp(m, "reflect") == 0)
        p->mode = PAD_REFLECT;
    else if (strcmp(m, "edge") == 0)
        p->mode = PAD_EDGE;
    else
        return qs_fail(err, QS_EUNSUPPORTED, "Pad '%s': mode '%s' is not supported "
                       "(constant, reflect, edge)", n->name, node_attr_str(n, "mode", ""));
    op_param_ints(n, "pads", &p->pads);
    p->value = node_attr_float(n, "value", 0.0f);
    return QS_OK;
}

static QsStatus pad_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    if (!in[0])
        return qs_fail(err, QS_ESHAPE, "Pad '%s': input is missing", n->name);
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err->code;
    const PadParams *pp = &prm->pad;
    const Shape *x = in[0];
    int r = x->ndim;
    const int64_t *p = pp->pads.v;
    int got = pp->pads.n;
    if (got != 2 * r)
        return qs_fail(err, QS_EINVAL, "Pad '%s': pads has %d values, expected %d (rank %d)",
                       n->name, got < 0 ? 0 : got, 2 * r, r);
    PadMode mode = pp->mode;
    if (r >= 1 && (p[0] != 0 || p[r] != 0))
        return qs_fail(err, QS_EINVAL, "Pad '%s': the batch axis 0 cannot be padded", n->name);
    *out = *x;
    for (int i = 0; i < r; i++) {
        if (p[i] < -x->dim[i] || p[i] > INT32_MAX || p[r + i] < -x->dim[i] ||
            p[r + i] > INT32_MAX)
            return qs_fail(err, QS_EINVAL, "Pad '%s': pads for axis %d out of range", n->name,
                           i);
        int64_t d = x->dim[i] + p[i] + p[r + i];
        if (d < 0)
            return qs_fail(err, QS_ESHAPE, "Pad '%s': axis %d would have %lld elements",
                           n->name, i, (long long)d);
        if (mode == PAD_REFLECT && (p[i] > x->dim[i] - 1 || p[r + i] > x->dim[i] - 1))
            return qs_fail(err, QS_EINVAL, "Pad '%s': reflect pads on axis %d must be below "
                           "its size %lld", n->name, i, (long long)x->dim[i]);
        if (mode == PAD_EDGE && x->dim[i] == 0 && d > 0)
            return qs_fail(err, QS_EINVAL, "Pad '%s': edge padding of an empty axis %d",
                           n->name, i);
        out->dim[i] = d;
    }
    return QS_OK;
}

/* Index read for output position o on an axis of length len with begin pad b, or -1 for
 * the constant fill. */
static int64_t pad_src(PadMode mode, int64_t o, int64_t b, int64_t len)
{
    int64_t i = o - b;
    if (i >= 0 && i < len)
        return i;
    if (mode == PAD_CONSTANT)
        return -1;
    if (mode == PAD_EDGE)
        return i < 0 ? 0 : len - 1;
    /* reflect, pads below len (checked by infer), so one bounce is enough */
    return i < 0 ? -i : 2 * (len - 1) - i;
}

/* Walks the output once: with dst it writes each element (its input element, or fill);
 * otherwise it adds dy into dsrc at the input element each output element came from. */
static void pad_walk(const PadParams *pp, const Shape *x, const Shape *y, float *dst,
                     const float *src, float fill, float *dsrc, const float *dy)
{
    int r = y->ndim;
    PadMode mode = pp->mode;
    const int64_t *p = pp->pads.v;
    int64_t xs[QS_MAX_DIMS], idx[QS_MAX_DIMS] = { 0 };
    int64_t run = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = run;
        run *= x->dim[i];
    }
    int64_t total = shape_numel(y);
    for (int64_t k = 0; k < total; k++) {
        int64_t off = 0;
        for (int i = 0; i < r && off >= 0; i++) {
            int64_t s = pad_src(mode, idx[i], p[i], x->dim[i]);
            off = s < 0 ? -1 : off + s * xs[i];
        }
        if (dst)
            dst[k] = off < 0 ? fill : src[off];
        else if (off >= 0)
            dsrc[off] += dy[k];
        for (int i = r - 1; i >= 0; i--) {
            if (++idx[i] < y->dim[i])
                break;
            idx[i] = 0;
        }
    }
}

static void pad_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    OpParams tmp;
    const PadParams *pp = &op_params(n, &tmp, NULL)->pad;
    pad_walk(pp, &in[0]->shape, &out->shape, tensor_f32(out), tensor_f32(in[0]), pp->value,
             NULL, NULL);
}

static void pad_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    OpParams tmp;
    pad_walk(&op_params(n, &tmp, NULL)->pad, &in[0]->shape, &dout->shape, NULL, NULL, 0.0f,
             tensor_f32(din[0]), tensor_f32(dout));
}

const OpDef op_pad_def = {
    .name = "Pad", .min_in = 1, .max_in = 1, .infer = pad_infer, .forward = pad_forward,
    .parse = pad_parse,
    .backward = pad_backward
};
