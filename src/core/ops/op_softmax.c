/* Softmax and LogSoftmax along one axis (ONNX opset 13 semantics, not the opset < 13
 * "flatten to 2-D at axis" form). References: https://onnx.ai/onnx/operators/onnx__Softmax.html,
 * https://onnx.ai/onnx/operators/onnx__LogSoftmax.html
 *
 * Both subtract the maximum along the axis before exponentiating, so logits of any size
 * give finite results. The normaliser sum(exp(x - max)) and the final subtraction and
 * division are done in double and rounded once to float: the result is then within an
 * ulp or two of the exact value whatever the axis length. */
#include <math.h>

#include "ops/op.h"
#include "kern/fmath.h"
#include "ops/softmax.h"

static QsStatus softmax_parse(const Node *n, OpParams *prm, QsError *err)
{
    prm->axis.axis = node_attr_int(n, "axis", -1);
    (void)err;
    return QS_OK;
}

static QsStatus softmax_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    int axis;
    if (!in[0])
        return qs_fail(err, QS_ESHAPE, "%s '%s': input is missing", op_table[n->op]->name,
                       n->name);
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm || op_axis(n, prm->axis.axis, in[0]->ndim, &axis, err))
        return err->code;
    /* qscope runs are batched: normalising across axis 0 would mix samples, and a
     * sample's result would depend on what else is in its batch. */
    if (axis == 0)
        return qs_fail(err, QS_ESHAPE,
                       "%s '%s': axis 0 is the batch axis of %dD input; softmax across the "
                       "batch would make results depend on the batch",
                       op_table[n->op]->name, n->name, in[0]->ndim);
    *out = *in[0];
    return QS_OK;
}

void softmax_split(const Node *n, const Shape *s, int64_t *outer, int64_t *len,
                          int64_t *inner)
{
    OpParams tmp;
    int64_t a = op_params(n, &tmp, NULL)->axis.axis;
    int axis = (int)(a < 0 ? a + s->ndim : a); /* validated by infer */
    *outer = shape_span(s, 0, axis);
    *len = s->dim[axis];
    *inner = shape_span(s, axis + 1, s->ndim);
}

/* Maximum of len values at stride `step`, NaN if any value is NaN (as torch). */
static float softmax_max(const float *x, int64_t len, int64_t step)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < len; j++) {
        float v = x[j * step];
        if (v > m || isnan(v))
            m = v;
        if (isnan(m))
            break;
    }
    return m;
}

void softmax_span(const float *xs, float *ys, int64_t len, int64_t step, bool log_form)
{
    double m = softmax_max(xs, len, step), sum = 0.0;
    for (int64_t j = 0; j < len; j++)
        sum += fm_exp((double)xs[j * step] - m);
    if (log_form) {
        /* x - max - log(sum): never log(softmax), which underflows to -inf. */
        double ls = fm_log(sum);
        for (int64_t j = 0; j < len; j++)
            ys[j * step] = (float)(((double)xs[j * step] - m) - ls);
    } else {
        for (int64_t j = 0; j < len; j++)
            ys[j * step] = (float)(fm_exp((double)xs[j * step] - m) / sum);
    }
}

static void softmax_common(const Node *n, const Tensor *const *in, Tensor *out, bool log_form)
{
    const float *x = tensor_f32(in[0]); /* (..., len, ...) */
    float *y = tensor_f32(out);         /* same shape */
    int64_t outer, len, inner;
    softmax_split(n, &out->shape, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            softmax_span(x + o * len * inner + i, y + o * len * inner + i, len, inner,
                         log_form);
}

static void softmax_forward(const Node *n, const Tensor *const *in, Tensor *out,
                            const RunCtx *rc)
{
    softmax_common(n, in, out, false);
}

static void logsoftmax_forward(const Node *n, const Tensor *const *in, Tensor *out,
                               const RunCtx *rc)
{
    softmax_common(n, in, out, true);
}

/* Backward along the same lines as the forward, from the output y:
 *   Softmax:    dx_j = y_j (dy_j - sum_k dy_k y_k)
 *   LogSoftmax: dx_j = dy_j - exp(y_j) sum_k dy_k
 * The sum is accumulated in double, and each dx_j is computed in double and added to din
 * with one rounding. */
static void softmax_backward_common(const Node *n, const Tensor *out, const Tensor *dout,
                                    Tensor *din, bool log_form)
{
    const float *y = tensor_f32(out);   /* (..., len, ...) */
    const float *dy = tensor_f32(dout); /* same shape */
    float *dx = tensor_f32(din);        /* same shape */
    int64_t outer, len, inner;
    softmax_split(n, &out->shape, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            const float *ys = y + base, *dys = dy + base;
            float *dxs = dx + base;
            double sum = 0.0;
            if (log_form) {
                for (int64_t j = 0; j < len; j++)
                    sum += dys[j * inner];
                for (int64_t j = 0; j < len; j++) {
                    int64_t q = j * inner;
                    dxs[q] = (float)((double)dxs[q] + ((double)dys[q] -
                                                       fm_exp((double)ys[q]) * sum));
                }
            } else {
                for (int64_t j = 0; j < len; j++)
                    sum += (double)dys[j * inner] * ys[j * inner];
                for (int64_t j = 0; j < len; j++) {
                    int64_t q = j * inner;
                    dxs[q] = (float)((double)dxs[q] + (double)ys[q] * ((double)dys[q] - sum));
                }
            }
        }
    }
}

static void softmax_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                             const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (din[0])
        softmax_backward_common(n, out, dout, din[0], false);
}

static void logsoftmax_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                                const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (din[0])
        softmax_backward_common(n, out, dout, din[0], true);
}

const OpDef op_softmax_def = {
    .name = "Softmax", .min_in = 1, .max_in = 1, .infer = softmax_infer,
    .int8 = { .step = OPQ_SOFTMAX, .qp = OPQ_QP_OWN },
    .parse = softmax_parse,
    .forward = softmax_forward, .backward = softmax_backward
};
const OpDef op_logsoftmax_def = {
    .name = "LogSoftmax", .min_in = 1, .max_in = 1, .infer = softmax_infer,
    .parse = softmax_parse,
    .forward = logsoftmax_forward, .backward = logsoftmax_backward
};
