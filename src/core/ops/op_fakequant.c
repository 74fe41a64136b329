/* FakeQuant: quantize then dequantize, with the straight-through estimator as its gradient.
 * Not an ONNX op (ONNX writes QuantizeLinear followed by DequantizeLinear, which has no
 * gradient); it is what the QAT training graph (qat_graph.c) inserts at every point where
 * the integer executor quantizes. Rules: docs/qat.md.
 *
 * Inputs: x (any shape); scale, one value (per tensor) or C values (per channel along
 * `axis`, C = x.dim[axis]); zero_point, as many f32 values as scale, each an integer (one
 * that is not is rounded half to even and saturated to [qmin, qmax]; a NaN or infinite one
 * makes its channel's outputs NaN, like a NaN scale, and passes no gradient).
 * Attributes: axis (1, as ONNX QuantizeLinear), qmin (-128), qmax (127), both within
 * [-(2^31 - 1), 2^31 - 1], lsq_qmax (0), scale_grad (1; 0: the scale gets no gradient, e.g. a bias grid
 * made from other scales).
 *
 * Forward, per element with its channel's (s, z): y = quant_fake(x, s, z, qmin, qmax),
 * exactly quant.h's arithmetic (x / s in float32, round half to even, clamp, s (q - z)).
 *
 * Backward, with v = x / s and r = round_half_even(v) (the forward's own rounding):
 *   inside  = qmin <= r + z <= qmax          (NaN x is never inside)
 *   dx     += inside ? dy : 0                (STE; zero where the forward clamps)
 *   dscale += g sum dy * (inside ? r - v : q_clamped - z)     (LSQ, Esser et al. 2020)
 * where g = 1 / sqrt(numel(x) * lsq_qmax) when lsq_qmax > 0 (LSQ's gradient scale; the QAT
 * graph passes the number of positive levels) and g = 1 otherwise. A tie (v = k + 1/2)
 * counts as inside or outside according to where the forward rounds it. The zero point
 * gets no gradient: it is a constant of the op (its din slot, if any, is left alone). */
#include <math.h>
#include <stdint.h>

#include "kern/backward.h"
#include "kern/fakequant.h"
#include "kern/pool.h"
#include "ops/op.h"
#include "base/quant.h"

/* The widest code range: the int32 bias grid the QAT graph uses (symmetric, so -q exists
 * for every q). quant.h's arithmetic is defined on it: codes and their differences are
 * computed in int64. */
#define FQ_QLIMIT INT32_MAX

static QsStatus fq_parse(const Node *n, OpParams *prm, QsError *err)
{
    FakeQuantParams *p = &prm->fakequant;
    int64_t qmin = node_attr_int(n, "qmin", -128), qmax = node_attr_int(n, "qmax", 127);
    if (qmin >= qmax)
        return qs_fail(err, QS_EINVAL, "FakeQuant '%s': qmin %lld must be below qmax %lld",
                       n->name, (long long)qmin, (long long)qmax);
    if (qmin < -FQ_QLIMIT || qmax > FQ_QLIMIT)
        return qs_fail(err, QS_EINVAL, "FakeQuant '%s': qmin %lld and qmax %lld must lie in "
                       "[-(2^31 - 1), 2^31 - 1]", n->name, (long long)qmin, (long long)qmax);
    p->lsq_qmax = node_attr_float(n, "lsq_qmax", 0.0f);
    if (!(p->lsq_qmax >= 0.0f))
        return qs_fail(err, QS_EINVAL, "FakeQuant '%s': lsq_qmax must be >= 0", n->name);
    p->qmin = (int32_t)qmin;
    p->qmax = (int32_t)qmax;
    p->axis = node_attr_int(n, "axis", 1);
    p->scale_grad = node_attr_int(n, "scale_grad", 1) != 0;
    return QS_OK;
}

static QsStatus fq_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    const Shape *x = in[0], *s = in[1], *z = in[2];
    char a[96], b[96];
    if (!x || !s || !z)
        return qs_fail(err, QS_ESHAPE, "FakeQuant '%s': x, scale and zero_point are required",
                       n->name);
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err->code;
    int64_t ns = shape_numel(s);
    if (s->ndim > 1 || ns < 1 || shape_numel(z) != ns || z->ndim > 1)
        return qs_fail(err, QS_ESHAPE, "FakeQuant '%s': scale %s and zero_point %s must be "
                       "one value or one per channel", n->name, shape_format(s, a, sizeof a),
                       shape_format(z, b, sizeof b));
    if (ns > 1) {
        int axis;
        if (op_axis(n, prm->fakequant.axis, x->ndim, &axis, err))
            return err->code;
        if (x->dim[axis] != ns)
            return qs_fail(err, QS_ESHAPE, "FakeQuant '%s': %lld scales for axis %d of %s",
                           n->name, (long long)ns, axis, shape_format(x, a, sizeof a));
    }
    *out = *x;
    return QS_OK;
}

/* x viewed as (outer, C, inner) with C the channel count (1 per tensor). */
typedef struct FqLayout {
    int64_t outer, c, inner;
    int32_t qmin, qmax;
} FqLayout;

static FqLayout fq_layout(const FakeQuantParams *p, const Tensor *x, const Tensor *s)
{
    FqLayout l;
    l.qmin = p->qmin;
    l.qmax = p->qmax;
    l.c = tensor_numel(s);
    if (l.c == 1) {
        l.outer = 1;
        l.inner = tensor_numel(x);
        return l;
    }
    int64_t a = p->axis;
    int axis = (int)(a < 0 ? a + x->shape.ndim : a); /* validated by infer */
    l.outer = shape_span(&x->shape, 0, axis);
    l.inner = shape_span(&x->shape, axis + 1, x->shape.ndim);
    return l;
}

/* Channel c's parameters. A finite zero point is rounded half to even and saturated to
 * [qmin, qmax] (fconv_round). False when it is NaN or infinite: the channel has no grid, so
 * its outputs are NaN (as a NaN scale makes them) and it passes no gradient. */
static bool fq_params(const FqLayout *l, const float *s, const float *z, int64_t c, QParams *p)
{
    *p = (QParams){ .scale = s[c], .qmin = l->qmin, .qmax = l->qmax };
    if (!isfinite(z[c]))
        return false;
    p->zero_point = (int32_t)fconv_round(z[c], l->qmin, l->qmax, NULL);
    return true;
}

typedef struct FqRows {
    const FqLayout *l;
    const float *x, *s, *z;
    float *y;
} FqRows;

/* Rows (o, c) of inner values each: a finite positive scale takes the vector kernel, which
 * gives quant_fake's bits; any other scale the definition itself. */
static void fq_rows(void *ctx, int64_t r0, int64_t r1)
{
    const FqRows *j = ctx;
    const FqLayout *l = j->l;
    for (int64_t r = r0; r < r1; r++) {
        int64_t c = r % l->c;
        QParams p;
        bool grid = fq_params(l, j->s, j->z, c, &p);
        const float *xp = j->x + r * l->inner;
        float *yp = j->y + r * l->inner;
        if (grid && isfinite(p.scale) && p.scale > 0.0f)
            fakequant_f32(xp, yp, l->inner, p.scale, (float)((int64_t)p.qmin - p.zero_point),
                          (float)((int64_t)p.qmax - p.zero_point));
        else
            for (int64_t i = 0; i < l->inner; i++)
                yp[i] = grid ? quant_fake(xp[i], &p) : NAN;
    }
}

static void fq_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    OpParams tmp;
    FqLayout l = fq_layout(&op_params(n, &tmp, NULL)->fakequant, in[0], in[1]);
    /* x, y (outer, C, inner); scale and zero point (C) */
    FqRows j = { &l, tensor_f32(in[0]), tensor_f32(in[1]), tensor_f32(in[2]), tensor_f32(out) };
    int64_t rows = l.outer * l.c, grain = l.inner >= 16384 ? 1 : 16384 / (l.inner + 1) + 1;
    pool_for(rows, grain, fq_rows, &j);
    (void)rc;
}

static void fq_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                        const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]);                 /* (outer, C, inner) */
    const float *s = tensor_f32(in[1]);                 /* (C) */
    const float *z = tensor_f32(in[2]);                 /* (C) */
    const float *dy = tensor_f32(dout);                 /* as x */
    float *dx = din[0] ? tensor_f32(din[0]) : NULL;     /* as x */
    OpParams tmp;
    const FakeQuantParams *p = &op_params(n, &tmp, NULL)->fakequant;
    float *ds = din[1] && p->scale_grad ? tensor_f32(din[1]) : NULL; /* (C) */
    if (!dx && !ds)
        return;
    FqLayout l = fq_layout(p, in[0], in[1]);
    double lsq = p->lsq_qmax;
    double g = lsq > 0.0 ? 1.0 / sqrt((double)tensor_numel(in[0]) * lsq) : 1.0;
    for (int64_t c = 0; c < l.c; c++) {
        QParams qp;
        if (!fq_params(&l, s, z, c, &qp))
            continue;
        float sc = qp.scale;
        /* r's range (int64 differences: no overflow) */
        float lo = (float)((int64_t)qp.qmin - qp.zero_point);
        float hi = (float)((int64_t)qp.qmax - qp.zero_point);
        double acc = 0.0;
        for (int64_t o = 0; o < l.outer; o++) {
            int64_t off = (o * l.c + c) * l.inner;
            backward_fakequant_f32(x + off, dy + off, dx ? dx + off : NULL, l.inner, sc, lo,
                                   hi, ds ? &acc : NULL);
        }
        if (ds)
            ds[c] = (float)(ds[c] + g * acc);
    }
    (void)out;
    (void)rc;
}

const OpDef op_fakequant_def = {
    .name = "FakeQuant", .min_in = 3, .max_in = 3, .infer = fq_infer, .forward = fq_forward,
    .parse = fq_parse,
    .backward = fq_backward,
};
