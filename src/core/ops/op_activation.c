/* Element-wise activations and the pass-through ops Identity and Dropout: one input, an
 * output of the same shape, float forward.
 * References: ONNX Relu, Clip, LeakyRelu, Sigmoid, Tanh, Gelu, HardSwish, Identity,
 * Dropout (https://onnx.ai/onnx/operators/); SiLU follows torch.nn.SiLU. */
#include <math.h>
#include <string.h>

#include "op.h"

/* The shape is the input's; the batch dim passes through untouched. */
static QsStatus unary_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    if (!in[0])
        return qs_fail(err, QS_ESHAPE, "%s '%s': input is missing", op_table[n->op]->name,
                       n->name);
    *out = *in[0];
    return QS_OK;
}

/* Relu. `x < 0 ? 0 : x` rather than `x > 0 ? x : 0` so that NaN propagates as in torch. */
static void relu_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/* Clip with attributes (ONNX opset 6 style; opset >= 11 takes min/max as inputs, which
 * an importer turns into these attributes). Defaults are -inf/+inf. */
static QsStatus clip_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    float lo = node_attr_float(n, "min", -INFINITY), hi = node_attr_float(n, "max", INFINITY);
    if (isnan(lo) || isnan(hi))
        return qs_fail(err, QS_EINVAL, "Clip '%s': min and max must not be NaN", n->name);
    /* ONNX gives max everywhere when min > max; that is almost surely a mistake in the
     * model, so it is rejected here rather than silently producing a constant. */
    if (lo > hi)
        return qs_fail(err, QS_EINVAL, "Clip '%s': min %g is greater than max %g", n->name,
                       (double)lo, (double)hi);
    return unary_infer(n, in, out, err);
}

static void clip_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    float lo = node_attr_float(n, "min", -INFINITY), hi = node_attr_float(n, "max", INFINITY);
    int64_t count = tensor_numel(out);
    /* Comparisons (not fminf/fmaxf) so that NaN propagates, as torch.clamp does. */
    for (int64_t i = 0; i < count; i++) {
        float v = x[i];
        y[i] = v < lo ? lo : (v > hi ? hi : v);
    }
}

static QsStatus leakyrelu_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    float alpha = node_attr_float(n, "alpha", 0.01f);
    if (!isfinite(alpha))
        return qs_fail(err, QS_EINVAL, "LeakyRelu '%s': alpha %g is not finite", n->name,
                       (double)alpha);
    return unary_infer(n, in, out, err);
}

static void leakyrelu_forward(const Node *n, const Tensor *const *in, Tensor *out,
                              const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    float alpha = node_attr_float(n, "alpha", 0.01f);
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = x[i] < 0.0f ? alpha * x[i] : x[i];
}

/* Logistic function without overflow: expf is only ever called on a non-positive
 * argument, so a large |x| gives exactly 0 or 1 instead of inf/inf = NaN. */
static inline float act_sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
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

static void tanh_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = tanhf(x[i]);
}

static bool gelu_is_tanh(const Node *n)
{
    return strcmp(node_attr_str(n, "approximate", "none"), "tanh") == 0;
}

static QsStatus gelu_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    const char *mode = node_attr_str(n, "approximate", "none");
    if (strcmp(mode, "none") != 0 && strcmp(mode, "tanh") != 0)
        return qs_fail(err, QS_EINVAL, "Gelu '%s': approximate=\"%s\", expected \"none\" or \"tanh\"",
                       n->name, mode);
    return unary_infer(n, in, out, err);
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
            y[i] = 0.5f * x[i] * erfcf(-x[i] * r);
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

static void silu_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = x[i] * act_sigmoid(x[i]);
}

static void copy_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    if (out->data != in[0]->data)
        memcpy(out->data, in[0]->data, (size_t)tensor_numel(out) * sizeof(float));
}

/* ONNX Dropout (opset 12+) has optional inputs ratio and training_mode; they are
 * accepted and ignored. Older models carry a "ratio" attribute, checked for sanity. */
static QsStatus dropout_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    float ratio = node_attr_float(n, "ratio", 0.5f);
    if (!(ratio >= 0.0f && ratio < 1.0f))
        return qs_fail(err, QS_EINVAL, "Dropout '%s': ratio %g is outside [0, 1)", n->name,
                       (double)ratio);
    return unary_infer(n, in, out, err);
}

/* Identity at inference. It is ALSO identity when rc->training is set: the random mask
 * (and its 1 / (1 - ratio) scaling) is added by a later issue together with the backward
 * pass and a seeded generator, so that training runs stay reproducible. */
static void dropout_forward(const Node *n, const Tensor *const *in, Tensor *out,
                            const RunCtx *rc)
{
    copy_forward(n, in, out, rc);
}

const OpDef op_relu_def = {
    .name = "Relu", .min_in = 1, .max_in = 1, .infer = unary_infer, .forward = relu_forward
};
const OpDef op_clip_def = {
    .name = "Clip", .min_in = 1, .max_in = 1, .infer = clip_infer, .forward = clip_forward
};
const OpDef op_leakyrelu_def = {
    .name = "LeakyRelu", .min_in = 1, .max_in = 1, .infer = leakyrelu_infer,
    .forward = leakyrelu_forward
};
const OpDef op_sigmoid_def = {
    .name = "Sigmoid", .min_in = 1, .max_in = 1, .infer = unary_infer, .forward = sigmoid_forward
};
const OpDef op_tanh_def = {
    .name = "Tanh", .min_in = 1, .max_in = 1, .infer = unary_infer, .forward = tanh_forward
};
const OpDef op_gelu_def = {
    .name = "Gelu", .min_in = 1, .max_in = 1, .infer = gelu_infer, .forward = gelu_forward
};
const OpDef op_hardswish_def = {
    .name = "HardSwish", .min_in = 1, .max_in = 1, .infer = unary_infer,
    .forward = hardswish_forward
};
const OpDef op_silu_def = {
    .name = "SiLU", .min_in = 1, .max_in = 1, .infer = unary_infer, .forward = silu_forward
};
const OpDef op_identity_def = {
    .name = "Identity", .min_in = 1, .max_in = 1, .infer = unary_infer, .forward = copy_forward
};
const OpDef op_dropout_def = {
    .name = "Dropout", .min_in = 1, .max_in = 3, .infer = dropout_infer,
    .forward = dropout_forward
};
