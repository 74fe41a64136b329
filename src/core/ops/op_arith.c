/* Arithmetic that ONNX exporters emit around the layers: Sub, Div, Pow and Mod with numpy
 * broadcasting, and the unary Sqrt and Erf (GELU exported as x * 0.5 * (1 + erf(x/sqrt 2)),
 * and LayerNormalization decomposed into ReduceMean, Sub, Pow, Sqrt and Div).
 * HardSigmoid (max(0, min(1, alpha x + beta))) is here too: MobileNetV3's gates and the
 * opset < 14 export of HardSwish use it.
 * Mod (window and padding arithmetic in Swin-style exports): fmod=1 is C's fmodf (the
 * remainder takes the dividend's sign, as torch.fmod); fmod=0 takes the divisor's sign (as
 * torch.remainder and Python's %). ONNX allows fmod=0 on integers only; qscope computes
 * it on floats too, and the exporter refuses to write it.
 * References: ONNX Sub, Div, Pow, Mod, Sqrt, Erf, HardSigmoid
 * (https://onnx.ai/onnx/operators/).
 *
 * The forward is one IEEE operation per element (Pow: fm_powf, except the exponents 1 and 2,
 * which are exact as x and x * x, as PyTorch's x.pow(2) is; Mod: fmodf, plus b when the
 * floored sign rule moves it); Sqrt is sqrtf, Erf fm_erff (kern/fmath.h: the same bits on every machine).
 * Broadcasting walks the output with per-operand strides (0 on broadcast axes); these ops
 * sit off the hot path (normalisations and small heads), so there is one general loop.
 * Backward sums the gradient of each operand in double (scratch) and adds it once, so a
 * broadcast operand's gradient is within an ulp or so of exact, like Add and Mul. */
#include <math.h>
#include <string.h>

#include "kern/clamp.h"
#include "kern/fmath.h"
#include "ops/broadcast.h"
#include "ops/op.h"

typedef enum { AR_SUB, AR_DIV, AR_POW, AR_MOD_FLOOR, AR_MOD_TRUNC } ArithKind;

static QsStatus arith_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    for (int k = 0; k < 2; k++)
        if (!in[k])
            return qs_fail(err, QS_ESHAPE, "%s '%s': input %d is missing",
                           op_table[n->op]->name, n->name, k);
    return op_broadcast(n, in[0], in[1], out, err);
}

static inline float arith_pow(float a, float b)
{
    if (b == 2.0f)
        return a * a;
    if (b == 1.0f)
        return a;
    return fm_powf(a, b);
}

float op_mod_floor(float a, float b)
{
    float r = fmodf(a, b);
    if (r != 0.0f && (r < 0.0f) != (b < 0.0f))
        r += b;
    return r;
}

/* A Relu or Clip fused into the node (RunCtx.clamp; only Sub's row takes one) is applied
 * in the same loop. */
static void arith_forward(ArithKind k, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    float lo = rc->clamp_lo, hi = rc->clamp_hi;
    const Shape *o = &out->shape;
    const float *a = tensor_f32(in[0]), *b = tensor_f32(in[1]); /* each its own shape */
    float *c = tensor_f32(out);                                 /* broadcast shape */
    int64_t sa[QS_MAX_DIMS], sb[QS_MAX_DIMS];
    shape_broadcast_strides(&in[0]->shape, o, sa);
    shape_broadcast_strides(&in[1]->shape, o, sb);
    if (k == AR_SUB && rc->clamp)
        BCAST_WALK(o, sa, sb, c[i] = clamp_value(a[ia] - b[ib], lo, hi));
    else if (k == AR_SUB)
        BCAST_WALK(o, sa, sb, c[i] = a[ia] - b[ib]);
    else if (k == AR_DIV)
        BCAST_WALK(o, sa, sb, c[i] = a[ia] / b[ib]);
    else if (k == AR_MOD_FLOOR)
        BCAST_WALK(o, sa, sb, c[i] = op_mod_floor(a[ia], b[ib]));
    else if (k == AR_MOD_TRUNC)
        BCAST_WALK(o, sa, sb, c[i] = fmodf(a[ia], b[ib]));
    else
        BCAST_WALK(o, sa, sb, c[i] = arith_pow(a[ia], b[ib]));
}

/* One double accumulator per element of each operand. */
static size_t arith_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    return (size_t)(shape_numel(in[0]) + shape_numel(in[1])) * sizeof(double);
}

/* d(a - b) = (1, -1); d(a / b) = (1 / b, -a / b^2); d(a^b) = (b a^(b-1), a^b ln a);
 * d(a mod b) = (1, -q) with q the quotient rounded as the remainder was (floor for fmod=0,
 * trunc for fmod=1), as PyTorch's remainder and fmod backward; at the jumps (a multiple
 * of b) the one-sided value is taken.
 * For Pow the exponent's gradient follows PyTorch: 0 where a == 0 and b >= 0 (the limit
 * a^b ln a -> 0), NaN for a < 0 (ln of a negative number). */
static void arith_backward(ArithKind k, const Tensor *const *in, const Tensor *dout,
                           Tensor *const *din, const RunCtx *rc)
{
    if (!din[0] && !din[1])
        return;
    const Shape *o = &dout->shape;
    const float *a = tensor_f32(in[0]), *b = tensor_f32(in[1]); /* each its own shape */
    const float *dy = tensor_f32(dout);                         /* broadcast shape */
    int64_t na = shape_numel(&in[0]->shape), nb = shape_numel(&in[1]->shape);
    QS_ASSERT((size_t)(na + nb) * sizeof(double) <= rc->scratch_bytes);
    double *ga = rc->scratch, *gb = ga + na;
    memset(ga, 0, (size_t)(na + nb) * sizeof(double));
    int64_t sa[QS_MAX_DIMS], sb[QS_MAX_DIMS];
    shape_broadcast_strides(&in[0]->shape, o, sa);
    shape_broadcast_strides(&in[1]->shape, o, sb);
    if (k == AR_SUB) {
        BCAST_WALK(o, sa, sb, (ga[ia] += dy[i], gb[ib] -= dy[i]));
    } else if (k == AR_DIV) {
        BCAST_WALK(o, sa, sb, {
            double av = a[ia], bv = b[ib], g = dy[i];
            ga[ia] += g / bv;
            gb[ib] -= g * av / (bv * bv);
        });
    } else if (k == AR_MOD_FLOOR || k == AR_MOD_TRUNC) {
        BCAST_WALK(o, sa, sb, {
            double q = (double)a[ia] / (double)b[ib];
            ga[ia] += dy[i];
            gb[ib] -= dy[i] * (k == AR_MOD_FLOOR ? floor(q) : trunc(q));
        });
    } else {
        BCAST_WALK(o, sa, sb, {
            double av = a[ia], bv = b[ib], g = dy[i];
            ga[ia] += bv == 0.0 ? 0.0 : g * bv * fm_pow(av, bv - 1.0);
            if (av > 0.0)
                gb[ib] += g * fm_pow(av, bv) * fm_log(av);
            else if (av < 0.0 || bv < 0.0 || isnan(av))
                gb[ib] += g * NAN;
        });
    }
    for (int j = 0; j < 2; j++) {
        if (!din[j])
            continue;
        float *dx = tensor_f32(din[j]); /* in[j]'s shape */
        const double *g = j == 0 ? ga : gb;
        int64_t nj = j == 0 ? na : nb;
        for (int64_t i = 0; i < nj; i++)
            dx[i] = (float)(dx[i] + g[i]);
    }
}

static void sub_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    arith_forward(AR_SUB, in, out, rc);
}
static void sub_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    arith_backward(AR_SUB, in, dout, din, rc);
}
static void div_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    arith_forward(AR_DIV, in, out, rc);
}
static void div_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    arith_backward(AR_DIV, in, dout, din, rc);
}
static void pow_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    arith_forward(AR_POW, in, out, rc);
}
static void pow_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    arith_backward(AR_POW, in, dout, din, rc);
}

static QsStatus mod_parse(const Node *n, OpParams *prm, QsError *err)
{
    int64_t f = node_attr_int(n, "fmod", 0);
    if (f != 0 && f != 1)
        return qs_fail(err, QS_EINVAL, "Mod '%s': fmod must be 0 or 1, not %lld", n->name,
                       (long long)f);
    prm->mod.fmod = f == 1;
    return QS_OK;
}
static ArithKind mod_kind(const Node *n)
{
    OpParams tmp;
    return op_params(n, &tmp, NULL)->mod.fmod ? AR_MOD_TRUNC : AR_MOD_FLOOR;
}
static void mod_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    arith_forward(mod_kind(n), in, out, rc);
}
static void mod_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    arith_backward(mod_kind(n), in, dout, din, rc);
}

static void sqrt_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = sqrtf(x[i]);
}

/* dy / (2 sqrt x), from the input (the output may alias nothing, but recomputing keeps
 * the rule the same as PyTorch's: inf at x == 0, NaN below). */
static void sqrt_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++)
        dx[i] = (float)(dx[i] + dy[i] / (2.0 * sqrt((double)x[i])));
}

static void erf_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = fm_erff(x[i]);
}

/* d erf(x) = 2/sqrt(pi) exp(-x^2), in double. */
static void erf_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    int64_t count = tensor_numel(dout);
    const double c = 1.1283791670955126; /* 2 / sqrt(pi) */
    for (int64_t i = 0; i < count; i++) {
        double v = x[i];
        dx[i] = (float)(dx[i] + dy[i] * c * fm_exp(-v * v));
    }
}

static QsStatus hardsigmoid_parse(const Node *n, OpParams *prm, QsError *err)
{
    float a = node_attr_float(n, "alpha", 0.2f), b = node_attr_float(n, "beta", 0.5f);
    if (!isfinite(a) || !isfinite(b))
        return qs_fail(err, QS_EINVAL, "HardSigmoid '%s': alpha and beta must be finite",
                       n->name);
    prm->hardsigmoid.alpha = a;
    prm->hardsigmoid.beta = b;
    return QS_OK;
}

static void hardsigmoid_forward(const Node *n, const Tensor *const *in, Tensor *out,
                                const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (N, ...) */
    float *y = tensor_f32(out);         /* (N, ...) */
    OpParams tmp;
    const HardSigmoidParams *p = &op_params(n, &tmp, NULL)->hardsigmoid;
    float a = p->alpha, b = p->beta;
    int64_t count = tensor_numel(out);
    for (int64_t i = 0; i < count; i++) {
        float v = a * x[i] + b;
        y[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); /* NaN propagates */
    }
}

/* alpha inside (0, 1) of alpha x + beta, 0 outside and at the bounds (as torch's
 * hardsigmoid_backward). */
static void hardsigmoid_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                                 const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *x = tensor_f32(in[0]);  /* (N, ...) */
    const float *dy = tensor_f32(dout);  /* (N, ...) */
    float *dx = tensor_f32(din[0]);      /* (N, ...) */
    OpParams tmp;
    const HardSigmoidParams *p = &op_params(n, &tmp, NULL)->hardsigmoid;
    float a = p->alpha, b = p->beta;
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++) {
        float v = a * x[i] + b;
        if (v > 0.0f && v < 1.0f)
            dx[i] += dy[i] * a;
    }
}

const OpDef op_sub_def = {
    .name = "Sub", .min_in = 2, .max_in = 2, .infer = arith_infer, .scratch = arith_scratch,
    .int8 = { .step = OPQ_SCALAR, .qp = OPQ_QP_OWN },
    .forward = sub_forward, .backward = sub_backward, .fuses_clamp = true
};
const OpDef op_div_def = {
    .name = "Div", .min_in = 2, .max_in = 2, .infer = arith_infer, .scratch = arith_scratch,
    .int8 = { .step = OPQ_SCALAR, .qp = OPQ_QP_OWN },
    .forward = div_forward, .backward = div_backward
};
const OpDef op_pow_def = {
    .name = "Pow", .min_in = 2, .max_in = 2, .infer = arith_infer, .scratch = arith_scratch,
    .int8 = { .step = OPQ_SCALAR, .qp = OPQ_QP_OWN },
    .forward = pow_forward, .backward = pow_backward
};
const OpDef op_mod_def = {
    .name = "Mod", .min_in = 2, .max_in = 2, .infer = arith_infer, .scratch = arith_scratch,
    .parse = mod_parse,
    .forward = mod_forward, .backward = mod_backward
};
const OpDef op_sqrt_def = {
    .name = "Sqrt", .min_in = 1, .max_in = 1, .infer = op_unary_infer,
    .int8 = { .step = OPQ_TABLE, .qp = OPQ_QP_OWN },
    .forward = sqrt_forward, .backward = sqrt_backward
};
const OpDef op_erf_def = {
    .name = "Erf", .min_in = 1, .max_in = 1, .infer = op_unary_infer,
    .int8 = { .step = OPQ_TABLE, .qp = OPQ_QP_OWN },
    .forward = erf_forward, .backward = erf_backward
};
const OpDef op_hardsigmoid_def = {
    .name = "HardSigmoid", .min_in = 1, .max_in = 1, .infer = op_unary_infer,
    .int8 = { .step = OPQ_TABLE, .qp = OPQ_QP_OWN },
    .parse = hardsigmoid_parse,
    .forward = hardsigmoid_forward, .backward = hardsigmoid_backward
};
