/* ONNX LayerNormalization (opset 17, https://onnx.ai/onnx/operators/onnx__LayerNormalization.html):
 * X (N, ...), Scale and optional B with the normalized shape X.shape[axis:] (leading 1s
 * allowed); attributes axis (-1), epsilon (1e-5); stash_type is ignored (statistics are
 * always computed in double). Only the Y output. axis must not include the batch (axis 0).
 *
 * Per row of D = prod(X.shape[axis:]) values: mean and biased variance in double (two
 * passes), y = (x - mean) / sqrt(var + eps) * scale + b, rounded once to float.
 * Backward, with xh = (x - mean) r, r = 1/sqrt(var + eps), g = dy * scale:
 *   dx = r (g - mean(g) - xh mean(g xh)), dscale += sum_rows dy xh, dB += sum_rows dy,
 * all in double (scale and bias sums in scratch, added once). */
#include <math.h>
#include <string.h>

#include "ops/op.h"

static QsStatus ln_parse(const Node *n, OpParams *prm, QsError *err)
{
    float eps = node_attr_float(n, "epsilon", 1e-5f);
    if (!(eps >= 0.0f) || isinf(eps))
        return qs_fail(err, QS_EINVAL, "LayerNormalization '%s': epsilon %g must be finite and "
                       ">= 0", n->name, (double)eps);
    prm->layernorm.epsilon = eps;
    prm->layernorm.axis = node_attr_int(n, "axis", -1);
    return QS_OK;
}

static QsStatus ln_axis(const LayerNormParams *p, const Node *n, const Shape *x, int *axis,
                        int64_t *d, QsError *err)
{
    if (op_axis(n, p->axis, x->ndim, axis, err))
        return QS_ESHAPE;
    if (*axis == 0)
        return qs_fail(err, QS_EINVAL, "LayerNormalization '%s': axis 0 would normalise across "
                       "the batch", n->name);
    *d = shape_span(x, *axis, x->ndim);
    return QS_OK;
}

static QsStatus ln_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    if (!in[0] || !in[1])
        return qs_fail(err, QS_EFORMAT, "LayerNormalization '%s': inputs X and Scale are "
                       "required", n->name);
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    int axis;
    int64_t d;
    if (!prm || ln_axis(&prm->layernorm, n, in[0], &axis, &d, err))
        return err->code;
    for (int k = 1; k < 3; k++) {
        const Shape *p = n->n_in > k ? in[k] : NULL;
        if (!p)
            continue;
        /* p must be X.shape[axis:] with optional leading 1s. */
        int tail = in[0]->ndim - axis;
        bool ok = p->ndim >= tail && shape_numel(p) == d;
        for (int i = 0; ok && i < p->ndim; i++) {
            int j = i - (p->ndim - tail);
            ok = j < 0 ? p->dim[i] == 1 : p->dim[i] == in[0]->dim[axis + j];
        }
        if (!ok) {
            char sp[96], sx[96];
            return qs_fail(err, QS_ESHAPE, "LayerNormalization '%s': %s has shape %s, expected "
                           "the normalized shape of %s from axis %d", n->name,
                           k == 1 ? "Scale" : "B", shape_format(p, sp, sizeof sp),
                           shape_format(in[0], sx, sizeof sx), axis);
        }
    }
    *out = *in[0];
    return QS_OK;
}

static size_t ln_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    OpParams tmp;
    int axis;
    int64_t d;
    if (ln_axis(&op_params(n, &tmp, NULL)->layernorm, n, in[0], &axis, &d, NULL))
        return 0;
    return (size_t)(2 * d) * sizeof(double);
}

/* Mean and 1/sqrt(var + eps) of one row. */
static void ln_stats(const float *x, int64_t d, float eps, double *mean, double *r)
{
    double s = 0.0;
    for (int64_t i = 0; i < d; i++)
        s += x[i];
    double m = d ? s / (double)d : 0.0, v = 0.0;
    for (int64_t i = 0; i < d; i++)
        v += ((double)x[i] - m) * ((double)x[i] - m);
    v = d ? v / (double)d : 0.0;
    *mean = m;
    *r = 1.0 / sqrt(v + (double)eps);
}

static void ln_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    OpParams tmp;
    const LayerNormParams *p = &op_params(n, &tmp, NULL)->layernorm;
    int axis;
    int64_t d;
    ln_axis(p, n, &in[0]->shape, &axis, &d, NULL);
    float eps = p->epsilon;
    const float *x = tensor_f32(in[0]);                               /* (rows, D) */
    const float *sc = tensor_f32(in[1]);                              /* (D) */
    const float *b = n->n_in > 2 && in[2] ? tensor_f32(in[2]) : NULL; /* (D) */
    float *y = tensor_f32(out);                                       /* (rows, D) */
    int64_t rows = d ? tensor_numel(out) / d : 0;
    for (int64_t r = 0; r < rows; r++, x += d, y += d) {
        double m, rs;
        ln_stats(x, d, eps, &m, &rs);
        for (int64_t i = 0; i < d; i++)
            y[i] = (float)(((double)x[i] - m) * rs * sc[i] + (b ? b[i] : 0.0));
    }
}

static void ln_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                        const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    OpParams tmp;
    const LayerNormParams *p = &op_params(n, &tmp, NULL)->layernorm;
    int axis;
    int64_t d;
    ln_axis(p, n, &in[0]->shape, &axis, &d, NULL);
    float eps = p->epsilon;
    const float *x = tensor_f32(in[0]);   /* (rows, D) */
    const float *sc = tensor_f32(in[1]);  /* (D) */
    const float *dy = tensor_f32(dout);   /* (rows, D) */
    float *dx = din[0] ? tensor_f32(din[0]) : NULL;
    Tensor *dsc = din[1], *db = n->n_in > 2 ? din[2] : NULL;
    QS_ASSERT((size_t)(2 * d) * sizeof(double) <= rc->scratch_bytes);
    double *gs = rc->scratch, *gb = gs + d;
    memset(gs, 0, (size_t)(2 * d) * sizeof(double));
    int64_t rows = d ? tensor_numel(dout) / d : 0;
    for (int64_t r = 0; r < rows; r++, x += d, dy += d) {
        double m, rs;
        ln_stats(x, d, eps, &m, &rs);
        double sg = 0.0, sgx = 0.0;
        for (int64_t i = 0; i < d; i++) {
            double xh = ((double)x[i] - m) * rs, g = (double)dy[i] * sc[i];
            sg += g;
            sgx += g * xh;
            gs[i] += dy[i] * xh;
            gb[i] += dy[i];
        }
        if (dx) {
            for (int64_t i = 0; i < d; i++) {
                double xh = ((double)x[i] - m) * rs, g = (double)dy[i] * sc[i];
                dx[i] = (float)(dx[i] + rs * (g - sg / (double)d - xh * sgx / (double)d));
            }
            dx += d;
        }
    }
    for (int64_t i = 0; i < d; i++) {
        if (dsc)
            tensor_f32(dsc)[i] = (float)(tensor_f32(dsc)[i] + gs[i]);
        if (db)
            tensor_f32(db)[i] = (float)(tensor_f32(db)[i] + gb[i]);
    }
}

const OpDef op_layernorm_def = {
    .name = "LayerNormalization", .min_in = 2, .max_in = 3, .infer = ln_infer,
    .parse = ln_parse,
    .scratch = ln_scratch, .forward = ln_forward, .backward = ln_backward
};
