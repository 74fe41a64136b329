/* ONNX BatchNormalization (https://onnx.ai/onnx/operators/onnx__BatchNormalization.html)
 * on (N, C), (N, C, L), (N, C, H, W) and higher ranks: per channel c,
 *   y = (x - mean_c) / sqrt(var_c + epsilon) * scale_c + B_c.
 * Inference uses the running mean/var inputs. In RunCtx.training mode the batch's own
 * mean and biased variance over N and the spatial axes replace them, as in PyTorch's
 * training forward; updating the running statistics is the training loop's job. The
 * ONNX attributes momentum and training_mode are not read: RunCtx decides the mode. */
#include <math.h>

#include "op.h"

static QsStatus bn_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    static const char *const names[5] = { "input", "scale", "B", "mean", "var" };
    const Shape *x = in[0];
    char buf[96], sx[96];
    if (op_expect_rank(n, x, 2, QS_MAX_DIMS, "input", err))
        return err->code;
    for (int i = 0; i < x->ndim; i++)
        if (x->dim[i] < 1)
            return qs_fail(err, QS_ESHAPE, "BatchNormalization '%s': input has shape %s with an empty dimension",
                           n->name, shape_format(x, sx, sizeof sx));
    int64_t c = x->dim[1];
    for (int i = 1; i < 5; i++) {
        const Shape *p = i < n->n_in ? in[i] : NULL;
        if (!p)
            return qs_fail(err, QS_EFORMAT, "BatchNormalization '%s': input %s is required",
                           n->name, names[i]);
        if (p->ndim != 1 || p->dim[0] != c)
            return qs_fail(err, QS_ESHAPE,
                           "BatchNormalization '%s': %s has shape %s, expected (%lld) for input %s",
                           n->name, names[i], shape_format(p, buf, sizeof buf), (long long)c,
                           shape_format(x, sx, sizeof sx));
    }
    float eps = node_attr_float(n, "epsilon", 1e-5f);
    if (!(eps >= 0.0f) || isinf(eps))
        return qs_fail(err, QS_EINVAL, "BatchNormalization '%s': epsilon = %g, must be finite and >= 0",
                       n->name, (double)eps);
    *out = *x;
    return QS_OK;
}

static void bn_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const Shape *s = &in[0]->shape;
    int64_t nb = s->dim[0], c = s->dim[1], len = shape_span(s, 2, s->ndim);
    const float *x = tensor_f32(in[0]);     /* (N, C, S) with S the spatial size */
    const float *scale = tensor_f32(in[1]); /* (C) */
    const float *bias = tensor_f32(in[2]);  /* (C) */
    const float *rmean = tensor_f32(in[3]); /* (C) */
    const float *rvar = tensor_f32(in[4]);  /* (C) */
    float *y = tensor_f32(out);             /* (N, C, S) */
    double eps = node_attr_float(n, "epsilon", 1e-5f);
    for (int64_t ch = 0; ch < c; ch++) {
        double mean = rmean[ch], var = rvar[ch];
        if (rc->training) {
            /* Two passes in double: the one-pass E[x^2] - E[x]^2 cancels badly. */
            double sum = 0.0, sq = 0.0, cnt = (double)(nb * len);
            for (int64_t b = 0; b < nb; b++)
                for (int64_t i = 0; i < len; i++)
                    sum += x[(b * c + ch) * len + i];
            mean = sum / cnt;
            for (int64_t b = 0; b < nb; b++)
                for (int64_t i = 0; i < len; i++) {
                    double d = x[(b * c + ch) * len + i] - mean;
                    sq += d * d;
                }
            var = sq / cnt;
        }
        /* Subtracting the mean before scaling: PyTorch folds it into x * a + (B - mean * a),
         * which cancels when |mean| is large against the spread. */
        float a = (float)(scale[ch] / sqrt(var + eps)), m = (float)mean, bt = bias[ch];
        for (int64_t b = 0; b < nb; b++) {
            const float *xp = x + (b * c + ch) * len;
            float *yp = y + (b * c + ch) * len;
            for (int64_t i = 0; i < len; i++)
                yp[i] = (xp[i] - m) * a + bt;
        }
    }
}

const OpDef op_batchnorm_def = {
    .name = "BatchNormalization", .min_in = 5, .max_in = 5, .infer = bn_infer, .forward = bn_forward,
};
