/* ONNX BatchNormalization (https://onnx.ai/onnx/operators/onnx__BatchNormalization.html)
 * on (N, C), (N, C, L), (N, C, H, W) and higher ranks: per channel c,
 *   y = (x - mean_c) / sqrt(var_c + epsilon) * scale_c + B_c.
 * Inference uses the running mean/var inputs. In RunCtx.training mode the batch's own
 * mean and biased variance over N and the spatial axes (M values per channel) replace
 * them, as in PyTorch's training forward, and the forward also updates the running
 * statistics in place (in[3], in[4]), as ONNX's training_mode and PyTorch do:
 *   running_mean = momentum * running_mean + (1 - momentum) * batch_mean
 *   running_var  = momentum * running_var  + (1 - momentum) * batch_var * M / (M - 1)
 * with ONNX's momentum attribute (default 0.9, which is PyTorch's momentum 0.1). The
 * running variance takes the unbiased batch variance, as PyTorch's does, while the
 * normalisation uses the biased one. With M = 1 there is no unbiased variance: the
 * running variance is left as it is (torch.batch_norm would store NaN). The ONNX
 * attribute training_mode is not read: RunCtx decides the mode.
 *
 * The backward recomputes the batch statistics from the input rather than keeping them
 * from the forward, so it depends on nothing but its arguments. */
#include <math.h>

#include "kern/clamp.h"
#include "ops/op.h"

static QsStatus bn_parse(const Node *n, OpParams *prm, QsError *err)
{
    float eps = node_attr_float(n, "epsilon", 1e-5f);
    if (!(eps >= 0.0f) || isinf(eps))
        return qs_fail(err, QS_EINVAL, "BatchNormalization '%s': epsilon = %g, must be finite and >= 0",
                       n->name, (double)eps);
    float momentum = node_attr_float(n, "momentum", 0.9f);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return qs_fail(err, QS_EINVAL, "BatchNormalization '%s': momentum = %g, must be in [0, 1]",
                       n->name, (double)momentum);
    prm->batchnorm.epsilon = eps;
    prm->batchnorm.momentum = momentum;
    return QS_OK;
}

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
    OpParams tmp;
    if (!op_params(n, &tmp, err))
        return err->code;
    *out = *x;
    return QS_OK;
}

/* Batch mean and biased variance of channel ch of x (N, C, S), in double. Two passes: the
 * one-pass E[x^2] - E[x]^2 cancels badly. Forward and backward both call it, so they see
 * the same statistics. */
static void bn_batch_stats(const float *x, int64_t nb, int64_t c, int64_t len, int64_t ch,
                           double *mean, double *var)
{
    double sum = 0.0, sq = 0.0, cnt = (double)(nb * len);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < len; i++)
            sum += x[(b * c + ch) * len + i];
    double m = sum / cnt;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < len; i++) {
            double d = x[(b * c + ch) * len + i] - m;
            sq += d * d;
        }
    *mean = m;
    *var = sq / cnt;
}

/* Channel ch's formula from its statistics, each coefficient rounded once to float. */
static void bn_coef(float scale, float bias, double mean, double var, double eps, float *sub,
                    float *mul, float *add)
{
    /* Subtracting the mean before scaling: PyTorch folds it into x * a + (B - mean * a),
     * which cancels when |mean| is large against the spread. */
    *mul = (float)(scale / sqrt(var + eps));
    *sub = (float)mean;
    *add = bias;
}

/* Channel ch of (nb, c, len): y = norm_affine(x) (kern/clamp.h), then a fused Relu or Clip
 * (inference only). y may be x. */
static void bn_channel(const float *x, float *y, int64_t nb, int64_t c, int64_t len,
                       int64_t ch, float m, float a, float bt, const RunCtx *rc)
{
    for (int64_t b = 0; b < nb; b++) {
        const float *xp = x + (b * c + ch) * len;
        float *yp = y + (b * c + ch) * len;
        norm_clamp_f32(xp, yp, len, m, a, bt, rc->clamp, rc->clamp_lo, rc->clamp_hi);
    }
}

void op_bn_coefs(const Node *n, const Tensor *const *in, float *sub, float *mul, float *add)
{
    const float *scale = tensor_f32(in[1]), *bias = tensor_f32(in[2]);
    const float *rmean = tensor_f32(in[3]), *rvar = tensor_f32(in[4]);
    OpParams tmp;
    double eps = op_params(n, &tmp, NULL)->batchnorm.epsilon;
    for (int64_t ch = 0; ch < in[1]->shape.dim[0]; ch++)
        bn_coef(scale[ch], bias[ch], rmean[ch], rvar[ch], eps, &sub[ch], &mul[ch], &add[ch]);
}

void op_bn_apply(const float *x, float *y, int64_t nb, int64_t c, int64_t len,
                 const float *sub, const float *mul, const float *add, const RunCtx *rc)
{
    for (int64_t ch = 0; ch < c; ch++)
        bn_channel(x, y, nb, c, len, ch, sub[ch], mul[ch], add[ch], rc);
}

static void bn_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const Shape *s = &in[0]->shape;
    int64_t nb = s->dim[0], c = s->dim[1], len = shape_span(s, 2, s->ndim);
    const float *x = tensor_f32(in[0]);     /* (N, C, S) with S the spatial size */
    const float *scale = tensor_f32(in[1]); /* (C) */
    const float *bias = tensor_f32(in[2]);  /* (C) */
    float *rmean = tensor_f32(in[3]);       /* (C), updated in training mode */
    float *rvar = tensor_f32(in[4]);        /* (C), updated in training mode */
    float *y = tensor_f32(out);             /* (N, C, S) */
    OpParams tmp;
    const BatchNormParams *p = &op_params(n, &tmp, NULL)->batchnorm;
    double eps = p->epsilon;
    double mom = p->momentum;
    int64_t cnt = nb * len;
    for (int64_t ch = 0; ch < c; ch++) {
        double mean = rmean[ch], var = rvar[ch];
        if (rc->training) {
            bn_batch_stats(x, nb, c, len, ch, &mean, &var);
            /* In double, rounded once. */
            rmean[ch] = (float)(mom * rmean[ch] + (1.0 - mom) * mean);
            if (cnt > 1)
                rvar[ch] = (float)(mom * rvar[ch] +
                                   (1.0 - mom) * var * (double)cnt / (double)(cnt - 1));
        }
        float m, a, bt;
        bn_coef(scale[ch], bias[ch], mean, var, eps, &m, &a, &bt);
        bn_channel(x, y, nb, c, len, ch, m, a, bt, rc);
    }
}

/* With r = 1 / sqrt(var + eps), xhat = (x - mean) r, sums over the channel's M values:
 *   dB = sum dY, dscale = sum dY xhat.
 * Inference (mean and var are constants):
 *   dX = dY scale r, dmean = -scale r sum dY, dvar = -scale r^3 / 2 sum dY (x - mean).
 * Training (mean and var are the batch's, functions of X):
 *   dX = scale r (dY - sum dY / M - xhat sum(dY xhat) / M),
 * and the running statistics get no gradient (the output does not depend on them).
 * Sums and the per-element formula in double, rounded once. */
static void bn_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                        const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    const Shape *s = &in[0]->shape;
    int64_t nb = s->dim[0], c = s->dim[1], len = shape_span(s, 2, s->ndim);
    const float *x = tensor_f32(in[0]);     /* (N, C, S) */
    const float *scale = tensor_f32(in[1]); /* (C) */
    const float *rmean = tensor_f32(in[3]); /* (C) */
    const float *rvar = tensor_f32(in[4]);  /* (C) */
    const float *dy = tensor_f32(dout);     /* (N, C, S) */
    float *dx = din[0] ? tensor_f32(din[0]) : NULL;     /* (N, C, S) */
    float *dscale = din[1] ? tensor_f32(din[1]) : NULL; /* (C) */
    float *dbias = din[2] ? tensor_f32(din[2]) : NULL;  /* (C) */
    float *dmean = din[3] && !rc->training ? tensor_f32(din[3]) : NULL; /* (C) */
    float *dvar = din[4] && !rc->training ? tensor_f32(din[4]) : NULL;  /* (C) */
    OpParams tmp;
    double eps = op_params(n, &tmp, NULL)->batchnorm.epsilon;
    double cnt = (double)(nb * len);
    for (int64_t ch = 0; ch < c; ch++) {
        double mean = rmean[ch], var = rvar[ch];
        if (rc->training)
            bn_batch_stats(x, nb, c, len, ch, &mean, &var);
        double r = 1.0 / sqrt(var + eps), sc = scale[ch];
        double sdy = 0.0, sdyx = 0.0; /* sum dY, sum dY (x - mean) */
        for (int64_t b = 0; b < nb; b++) {
            const float *xp = x + (b * c + ch) * len, *dyp = dy + (b * c + ch) * len;
            for (int64_t i = 0; i < len; i++) {
                sdy += dyp[i];
                sdyx += dyp[i] * (xp[i] - mean);
            }
        }
        if (dbias)
            dbias[ch] = (float)(dbias[ch] + sdy);
        if (dscale)
            dscale[ch] = (float)(dscale[ch] + sdyx * r);
        if (dmean)
            dmean[ch] = (float)(dmean[ch] - sc * r * sdy);
        if (dvar)
            dvar[ch] = (float)(dvar[ch] - 0.5 * sc * r * r * r * sdyx);
        if (!dx)
            continue;
        /* Inference: dX = dY scale r. Training: subtract the mean of dY and the part of
         * dY along xhat, both carried by the batch statistics. */
        double k0 = rc->training ? sdy / cnt : 0.0;
        double k1 = rc->training ? sdyx * r * r / cnt : 0.0; /* times (x - mean) */
        for (int64_t b = 0; b < nb; b++) {
            const float *xp = x + (b * c + ch) * len, *dyp = dy + (b * c + ch) * len;
            float *dxp = dx + (b * c + ch) * len;
            for (int64_t i = 0; i < len; i++)
                dxp[i] = (float)(dxp[i] + sc * r * (dyp[i] - k0 - k1 * (xp[i] - mean)));
        }
    }
    (void)out;
}

const OpDef op_batchnorm_def = {
    .name = "BatchNormalization", .min_in = 5, .max_in = 5, .infer = bn_infer, .forward = bn_forward,
    .fuses_clamp = true,
    .parse = bn_parse,
    .backward = bn_backward,
};
