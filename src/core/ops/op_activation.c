/* Element-wise activations and the pass-through ops Identity and Dropout: one input, an
 * output of the same shape, float forward and backward. Where PyTorch picks a value for the
 * gradient at a kink, the backward picks the same (see each backward).
 * References: ONNX Relu, Clip, LeakyRelu, Sigmoid, Tanh, Gelu, HardSwish, Identity,
 * Dropout (https://onnx.ai/onnx/operators/); SiLU follows torch.nn.SiLU. */
#include <math.h>
#include <string.h>

#include "kern/backward.h"
#include "kern/clamp.h"
#include "kern/fmath.h"
#include "ops/op.h"

/* Relu. `x < 0 ? 0 : x` rather than `x > 0 ? x : 0` so that NaN propagates as in torch. */
static void relu_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    /* the clamp to [0, inf): x < 0 ? 0 : x, so -0 and NaN pass as they are */
    clamp_f32(x, y, tensor_numel(out), 0.0f, INFINITY);
    (void)rc;
}

/* PyTorch's threshold_backward: 0 where x <= 0 (x == 0 included), dout elsewhere; that
 * includes NaN inputs, which pass the gradient through as in PyTorch. */
static void relu_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    backward_relu_f32(x, dy, dx, tensor_numel(dout));
}

/* Clip with attributes (ONNX opset 6 style; opset >= 11 takes min/max as inputs, which
 * an importer turns into these attributes). Defaults are -inf/+inf. */
static QsStatus clip_parse(const Node *n, OpParams *prm, QsError *err)
{
    float lo = node_attr_float(n, "min", -INFINITY), hi = node_attr_float(n, "max", INFINITY);
    if (isnan(lo) || isnan(hi))
        return qs_fail(err, QS_EINVAL, "Clip '%s': min and max must not be NaN", n->name);
    /* ONNX gives max everywhere when min > max; that is almost surely a mistake in the
     * model, so it is rejected here rather than silently producing a constant. */
    if (lo > hi)
        return qs_fail(err, QS_EINVAL, "Clip '%s': min %g is greater than max %g", n->name,
                       (double)lo, (double)hi);
    prm->clip.min = lo;
    prm->clip.max = hi;
    return QS_OK;
}

static void clip_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    OpParams tmp;
    const ClipParams *p = &op_params(n, &tmp, NULL)->clip;
    /* comparisons (not fminf/fmaxf), so NaN propagates as torch.clamp does */
    clamp_f32(x, y, tensor_numel(out), p->min, p->max);
    (void)rc;
}

/* torch.clamp's rule (clamp_backward): the gradient passes where min <= x <= max, bounds
 * included, and is 0 outside and for NaN. (torch.nn.ReLU6/Hardtanh block it AT the bounds
 * instead; Clip is ONNX's clamp, so clamp's rule is the one to match.) */
static void clip_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    OpParams tmp;
    const ClipParams *p = &op_params(n, &tmp, NULL)->clip;
    backward_clip_f32(x, dy, dx, tensor_numel(dout), p->min, p->max);
}

static QsStatus leakyrelu_parse(const Node *n, OpParams *prm, QsError *err)
{
    float alpha = node_attr_float(n, "alpha", 0.01f);
    if (!isfinite(alpha))
        return qs_fail(err, QS_EINVAL, "LeakyRelu '%s': alpha %g is not finite", n->name,
                       (double)alpha);
    prm->leakyrelu.alpha = alpha;
    return QS_OK;
}

static void leakyrelu_forward(const Node *n, const Tensor *const *in, Tensor *out,
                              const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    OpParams tmp;
    float alpha = op_params(n, &tmp, NULL)->leakyrelu.alpha;
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = x[i] < 0.0f ? alpha * x[i] : x[i];
}

/* PyTorch's leaky_relu_backward: 1 for x > 0, alpha for x <= 0 (x == 0 included). */
static void leakyrelu_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                               const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    OpParams tmp;
    float alpha = op_params(n, &tmp, NULL)->leakyrelu.alpha;
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++)
        dx[i] += x[i] > 0.0f ? dy[i] : alpha * dy[i];
}

/* Logistic function without overflow: fm_expf is only ever called on a non-positive
 * argument, so a large |x| gives exactly 0 or 1 instead of inf/inf = NaN. */
static inline float act_sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + fm_expf(-x));
    float e = fm_expf(x);
    return e / (1.0f + e);
}

static void sigmoid_forward(const Node *n, const Tensor *const *in, Tensor *out,
                            const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = act_sigmoid(x[i]);
}

/* From the output: d/dx = y (1 - y). */
static void sigmoid_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                             const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *y = tensor_f32(out);    /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++)
        dx[i] += dy[i] * (y[i] * (1.0f - y[i]));
}

static void tanh_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = fm_tanhf(x[i]);
}

/* From the output: d/dx = 1 - y^2. */
static void tanh_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *y = tensor_f32(out);    /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++)
        dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

static QsStatus gelu_parse(const Node *n, OpParams *prm, QsError *err)
{
    const char *mode = node_attr_str(n, "approximate", "none");
    if (strcmp(mode, "none") != 0 && strcmp(mode, "tanh") != 0)
        return qs_fail(err, QS_EINVAL, "Gelu '%s': approximate=\"%s\", expected \"none\" or \"tanh\"",
                       n->name, mode);
    prm->gelu.tanh = strcmp(mode, "tanh") == 0;
    return QS_OK;
}

static bool gelu_is_tanh(const Node *n)
{
    OpParams tmp;
    return op_params(n, &tmp, NULL)->gelu.tanh;
}

/* Both forms are rewritten to avoid the cancellation in 1 + erf(.) and 1 + tanh(.) for
 * negative x, so small negative outputs keep their relative accuracy:
 *   exact: 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2)
 *   tanh:  0.5 x (1 + tanh(u))         = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) */
static void gelu_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    if (gelu_is_tanh(n)) {
        const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
        for (int64_t i = 0; i < count; i++) {
            float v = x[i];
            float u = k * (v + 0.044715f * v * v * v);
            y[i] = v * act_sigmoid(2.0f * u);
        }
    } else {
        const float r = 0.7071067811865476f; /* 1 / sqrt(2) */
        for (int64_t i = 0; i < count; i++)
            y[i] = 0.5f * x[i] * fm_erfcf(-x[i] * r);
    }
}

/* Derivatives of the two forward forms, again without 1 + erf / 1 + tanh cancellation:
 *   exact: 0.5 erfc(-x / sqrt 2) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
 *   tanh:  s + 2 x s (1 - s) u'(x),  s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
 *          (since 1 + tanh u = 2s and 1 - tanh^2 u = 4 s (1 - s)). */
static void gelu_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    int64_t count = tensor_numel(dout);
    if (gelu_is_tanh(n)) {
        const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
        for (int64_t i = 0; i < count; i++) {
            float v = x[i];
            float u = k * (v + 0.044715f * v * v * v);
            float du = k * (1.0f + 0.134145f * v * v);
            float s = act_sigmoid(2.0f * u), t = s * (1.0f - s);
            /* t == 0 once sigmoid saturates, while v * du may be inf: the term's limit
             * is 0, so skip it rather than compute 0 * inf = NaN. */
            dx[i] += dy[i] * (t == 0.0f ? s : s + 2.0f * v * t * du);
        }
    } else {
        const float r = 0.7071067811865476f;  /* 1 / sqrt(2) */
        const float c = 0.3989422804014327f;  /* 1 / sqrt(2 pi) */
        for (int64_t i = 0; i < count; i++) {
            float v = x[i];
            dx[i] += dy[i] * (0.5f * fm_erfcf(-v * r) + v * c * fm_expf(-0.5f * v * v));
        }
    }
}

/* x * relu6(x + 3) / 6; dividing (not multiplying by 1/6) keeps hardswish(3) == 3 exact. */
static void hardswish_forward(const Node *n, const Tensor *const *in, Tensor *out,
                              const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++) {
        float v = x[i], r = v + 3.0f;
        r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        y[i] = v * r / 6.0f;
    }
}

/* PyTorch's hardswish_backward: 0 for x < -3, x/3 + 1/2 for -3 <= x <= 3, 1 for x > 3;
 * at the kinks it takes the middle piece (-1/2 at x = -3, 3/2 at x = 3). */
static void hardswish_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                               const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++) {
        float v = x[i];
        if (!(v < -3.0f)) /* NaN falls through to 1, as in PyTorch */
            dx[i] += v <= 3.0f ? dy[i] * (v / 3.0f + 0.5f) : dy[i];
    }
}

static void silu_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = x[i] * act_sigmoid(x[i]);
}

/* s (1 + x (1 - s)) with s = sigmoid(x), recomputed: y = x s does not give s back
 * (not at x = 0, and poorly near it). */
static void silu_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++) {
        float s = act_sigmoid(x[i]);
        dx[i] += dy[i] * (s * (1.0f + x[i] * (1.0f - s)));
    }
}

static void copy_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    if (out->data != in[0]->data)
        memcpy(out->data, in[0]->data, (size_t)tensor_numel(out) * sizeof(float));
}

/* Identity, and Dropout while its forward is the identity (see dropout_forward): once
 * training applies a mask, Dropout needs its own backward that reuses that mask. */
static void copy_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++)
        dx[i] += dy[i];
}

/* ONNX Dropout (opset 12+) has optional inputs ratio and training_mode; they are
 * accepted and ignored. Older models carry a "ratio" attribute, checked for sanity. */
static QsStatus dropout_parse(const Node *n, OpParams *prm, QsError *err)
{
    float ratio = node_attr_float(n, "ratio", 0.5f);
    if (!(ratio >= 0.0f && ratio < 1.0f))
        return qs_fail(err, QS_EINVAL, "Dropout '%s': ratio %g is outside [0, 1)", n->name,
                       (double)ratio);
    prm->dropout.ratio = ratio;
    return QS_OK;
}

/* Identity at inference. It is ALSO identity when rc->training is set, and so is its
 * backward: the random mask with its 1 / (1 - ratio) scaling waits for a seeded generator,
 * which keeps training runs reproducible. */
static void dropout_forward(const Node *n, const Tensor *const *in, Tensor *out,
                            const RunCtx *rc)
{
    copy_forward(n, in, out, rc);
}

const OpDef op_relu_def = {
    .name = "Relu", .min_in = 1, .max_in = 1, .infer = op_unary_infer, .forward = relu_forward,
    .int8 = { .step = OPQ_CLAMP, .qp = OPQ_QP_INPUT, .clamp = op_relu_clamp },
    .backward = relu_backward
};
const OpDef op_clip_def = {
    .name = "Clip", .min_in = 1, .max_in = 1, .infer = op_unary_infer, .forward = clip_forward,
    .parse = clip_parse,
    .int8 = { .step = OPQ_CLAMP, .qp = OPQ_QP_CLAMPED, .clamp = op_clip_clamp },
    .backward = clip_backward
};
const OpDef op_leakyrelu_def = {
    .name = "LeakyRelu", .min_in = 1, .max_in = 1, .infer = op_unary_infer,
    .parse = leakyrelu_parse,
    .forward = leakyrelu_forward, .backward = leakyrelu_backward
};
const OpDef op_sigmoid_def = {
    .name = "Sigmoid", .min_in = 1, .max_in = 1, .infer = op_unary_infer, .forward = sigmoid_forward,
    .int8 = { .step = OPQ_TABLE, .qp = OPQ_QP_OWN },
    .backward = sigmoid_backward
};
const OpDef op_tanh_def = {
    .name = "Tanh", .min_in = 1, .max_in = 1, .infer = op_unary_infer, .forward = tanh_forward,
    .int8 = { .step = OPQ_TABLE, .qp = OPQ_QP_OWN },
    .backward = tanh_backward
};
const OpDef op_gelu_def = {
    .name = "Gelu", .min_in = 1, .max_in = 1, .infer = op_unary_infer, .forward = gelu_forward,
    .int8 = { .step = OPQ_TABLE, .qp = OPQ_QP_OWN },
    .parse = gelu_parse,
    .backward = gelu_backward
};
const OpDef op_hardswish_def = {
    .name = "HardSwish", .min_in = 1, .max_in = 1, .infer = op_unary_infer,
    .int8 = { .step = OPQ_TABLE, .qp = OPQ_QP_OWN },
    .forward = hardswish_forward, .backward = hardswish_backward
};
const OpDef op_silu_def = {
    .name = "SiLU", .min_in = 1, .max_in = 1, .infer = op_unary_infer, .forward = silu_forward,
    .int8 = { .step = OPQ_TABLE, .qp = OPQ_QP_OWN },
    .backward = silu_backward
};
const OpDef op_identity_def = {
    .name = "Identity", .min_in = 1, .max_in = 1, .infer = op_unary_infer, .forward = copy_forward,
    .int8 = { .step = OPQ_LAYOUT, .qp = OPQ_QP_INPUT },
    .backward = copy_backward
};
const OpDef op_dropout_def = {
    .name = "Dropout", .min_in = 1, .max_in = 3, .infer = op_unary_infer,
    .parse = dropout_parse,
    .int8 = { .step = OPQ_LAYOUT, .qp = OPQ_QP_INPUT },
    .forward = dropout_forward, .backward = copy_backward
};
