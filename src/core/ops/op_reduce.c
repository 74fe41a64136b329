/* ReduceMean, ReduceSum, ReduceMax over the axes in attribute "axes" (ONNX >= 18 passes
 * them as an input; importers turn that into the attribute), with "keepdims" (default 1)
 * and "noop_with_empty_axes" (default 0). References: https://onnx.ai/onnx/operators/
 * (ReduceMean, ReduceSum, ReduceMax).
 *
 * Deep Sets pooling is the typical use: (N, P, H) -> (N, H) with axes=[1], keepdims=0.
 *
 * The batch axis 0 may not be reduced: qscope runs are batched, and a sample's result
 * must not depend on what else is in its batch. So an absent or empty "axes" (reduce
 * everything, in ONNX) is rejected unless noop_with_empty_axes=1 makes the op an identity.
 *
 * Sums are accumulated in double, one accumulator per output element, and rounded once;
 * ReduceMean divides the double sum by the count. ReduceMax propagates NaN (as torch).
 * Backward conventions (ReduceMax ties) are in reduce_backward. */
#include <math.h>
#include <string.h>

#include "ops/op.h"

typedef enum { RED_SUM, RED_MEAN, RED_MAX } RedKind;

typedef struct RedPlan {
    bool noop;                  /* identity: noop_with_empty_axes=1 and no axes */
    bool reduced[QS_MAX_DIMS];  /* per input axis */
    bool keepdims;
} RedPlan;

static RedKind reduce_kind(const Node *n)
{
    return n->op == OP_REDUCEMAX ? RED_MAX : n->op == OP_REDUCEMEAN ? RED_MEAN : RED_SUM;
}

static QsStatus reduce_parse(const Node *n, OpParams *prm, QsError *err)
{
    int64_t keep = node_attr_int(n, "keepdims", 1);
    int64_t noop = node_attr_int(n, "noop_with_empty_axes", 0);
    if ((keep != 0 && keep != 1) || (noop != 0 && noop != 1))
        return qs_fail(err, QS_EINVAL, "%s '%s': keepdims and noop_with_empty_axes must be 0 "
                       "or 1 (got %lld and %lld)", op_table[n->op]->name, n->name,
                       (long long)keep, (long long)noop);
    prm->reduce.keepdims = keep;
    prm->reduce.noop_with_empty_axes = noop;
    op_param_ints(n, "axes", &prm->reduce.axes);
    return QS_OK;
}

/* Validates the parsed attributes against the input shape. Forward calls it again on
 * shapes infer accepted, so there it cannot fail. */
static QsStatus reduce_plan(const Node *n, const Shape *s, RedPlan *p, QsError *err)
{
    const char *op = op_table[n->op]->name;
    memset(p, 0, sizeof *p);
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err ? err->code : QS_EINVAL;
    const ReduceParams *rp = &prm->reduce;
    p->keepdims = rp->keepdims;
    bool noop = rp->noop_with_empty_axes;
    const int64_t *axes = rp->axes.v;
    int cnt = rp->axes.n;
    if (cnt > QS_MAX_DIMS)
        return qs_fail(err, QS_ESHAPE, "%s '%s': %d axes for rank %d", op, n->name, cnt,
                       s->ndim);
    if (cnt <= 0) {
        if (noop) {
            p->noop = true;
            return QS_OK;
        }
        return qs_fail(err, QS_ESHAPE,
                       "%s '%s': no axes given, which reduces every axis including the batch "
                       "axis 0; results must not depend on the batch, so give axes (e.g. "
                       "axes=[1]) or noop_with_empty_axes=1", op, n->name);
    }
    for (int i = 0; i < cnt; i++) {
        int a;
        if (op_axis(n, axes[i], s->ndim, &a, err))
            return err->code;
        if (a == 0)
            return qs_fail(err, QS_ESHAPE,
                           "%s '%s': cannot reduce the batch axis 0 (axes entry %lld); qscope "
                           "runs are batched and results must not depend on the batch",
                           op, n->name, (long long)axes[i]);
        if (p->reduced[a])
            return qs_fail(err, QS_ESHAPE, "%s '%s': axis %d is given twice", op, n->name, a);
        p->reduced[a] = true;
        if (s->dim[a] == 0 && reduce_kind(n) != RED_SUM)
            return qs_fail(err, QS_ESHAPE, "%s '%s': axis %d has size 0, and an empty %s has "
                           "no value", op, n->name, a, reduce_kind(n) == RED_MAX ? "max" : "mean");
    }
    return QS_OK;
}

static QsStatus reduce_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    RedPlan p;
    if (!in[0])
        return qs_fail(err, QS_ESHAPE, "%s '%s': input is missing", op_table[n->op]->name,
                       n->name);
    if (reduce_plan(n, in[0], &p, err))
        return err->code;
    if (p.noop) {
        *out = *in[0];
        return QS_OK;
    }
    out->ndim = 0;
    for (int i = 0; i < in[0]->ndim; i++) {
        if (!p.reduced[i])
            out->dim[out->ndim++] = in[0]->dim[i];
        else if (p.keepdims)
            out->dim[out->ndim++] = 1;
    }
    return QS_OK;
}

/* One double accumulator per output element; ReduceMax's backward counts ties in it. */
static size_t reduce_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    return (size_t)shape_numel(out) * sizeof(double);
}

/* The walk over the input in memory order, shared by forward and backward. Size-1 axes
 * are dropped and neighbouring axes that are both reduced or both kept are merged, so
 * (N, P, H) over axis 1 is a walk over N x P with rows of H added into H accumulators,
 * and (N, C, H, W) over [2, 3] adds whole rows of H*W into one accumulator. */
typedef struct RedWalk {
    int m;                   /* merged axes, at least 1 */
    int64_t D[QS_MAX_DIMS];  /* merged sizes */
    int64_t SO[QS_MAX_DIMS]; /* output strides (0 on reduced axes) */
    bool R[QS_MAX_DIMS];     /* reduced? */
    int64_t count;           /* input elements per output element */
} RedWalk;

static void reduce_walk_plan(const Shape *s, const RedPlan *p, RedWalk *w)
{
    int m = 0;
    w->count = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (p->reduced[i])
            w->count *= s->dim[i];
        if (s->dim[i] == 1)
            continue;
        if (m > 0 && w->R[m - 1] == p->reduced[i]) {
            w->D[m - 1] *= s->dim[i];
        } else {
            w->D[m] = s->dim[i];
            w->R[m] = p->reduced[i];
            m++;
        }
    }
    if (m == 0) {
        w->D[0] = 1;
        w->R[0] = false;
        m = 1;
    }
    /* The output is contiguous over the kept axes. */
    int64_t ro = 1;
    for (int i = m - 1; i >= 0; i--) {
        w->SO[i] = w->R[i] ? 0 : ro;
        if (!w->R[i])
            ro *= w->D[i];
    }
    w->m = m;
}

/* Advances the output offset by one input row (the innermost merged axis is the row). */
static void reduce_walk_step(const RedWalk *w, int64_t *idx, int64_t *oo)
{
    for (int j = w->m - 2; j >= 0; j--) {
        *oo += w->SO[j];
        if (++idx[j] < w->D[j])
            break;
        *oo -= w->SO[j] * w->D[j];
        idx[j] = 0;
    }
}

static void reduce_forward(const Node *n, const Tensor *const *in, Tensor *out,
                           const RunCtx *rc)
{
    const Shape *s = &in[0]->shape;
    const float *x = tensor_f32(in[0]); /* (d0, .., d(r-1)) */
    float *y = tensor_f32(out);         /* kept axes of x (size 1 where keepdims) */
    RedPlan p;
    QsStatus st = reduce_plan(n, s, &p, NULL);
    QS_ASSERT(st == QS_OK);
    int64_t onum = shape_numel(&out->shape), inum = shape_numel(s);
    if (p.noop) {
        if (out->data != in[0]->data)
            memcpy(y, x, (size_t)inum * sizeof *y);
        return;
    }
    RedKind kind = reduce_kind(n);
    QS_ASSERT(rc->scratch_bytes >= (size_t)onum * sizeof(double));
    double *acc = rc->scratch; /* (onum) */
    for (int64_t i = 0; i < onum; i++)
        acc[i] = kind == RED_MAX ? -INFINITY : 0.0;
    RedWalk w;
    reduce_walk_plan(s, &p, &w);
    if (inum > 0) {
        int64_t len = w.D[w.m - 1], outer = inum / len;
        int64_t idx[QS_MAX_DIMS] = { 0 }, oo = 0;
        bool inner_reduced = w.R[w.m - 1];
        for (int64_t t = 0; t < outer; t++, x += len) {
            double *a = acc + oo;
            if (kind == RED_MAX) {
                if (inner_reduced) {
                    double v = a[0];
                    for (int64_t i = 0; i < len; i++)
                        if (!isnan(v) && (x[i] > v || isnan(x[i])))
                            v = x[i];
                    a[0] = v;
                } else {
                    for (int64_t i = 0; i < len; i++)
                        if (!isnan(a[i]) && (x[i] > a[i] || isnan(x[i])))
                            a[i] = x[i];
                }
            } else if (inner_reduced) {
                double v = 0.0;
                for (int64_t i = 0; i < len; i++)
                    v += x[i];
                a[0] += v;
            } else {
                for (int64_t i = 0; i < len; i++)
                    a[i] += x[i];
            }
            reduce_walk_step(&w, idx, &oo);
        }
    }
    for (int64_t i = 0; i < onum; i++)
        y[i] = (float)(kind == RED_MEAN ? acc[i] / (double)w.count : acc[i]);
}

/* ReduceSum: every input element gets its output's gradient; ReduceMean: divided by the
 * count (in double, one rounding). ReduceMax follows torch.amax: the gradient is split
 * evenly among the elements equal to the max (ties share it), and a slice whose max is
 * NaN gets NaN everywhere, as amax's (grad / ties) * mask gives. (torch.max(x, dim) would
 * send it all to one index instead; ONNX leaves gradients unspecified.) Ties are counted
 * into the forward's scratch, one double per output element. */
static void reduce_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                            const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const Shape *s = &in[0]->shape;
    const float *x = tensor_f32(in[0]);  /* (d0, .., d(r-1)) */
    const float *y = tensor_f32(out);    /* kept axes of x */
    const float *dy = tensor_f32(dout);  /* kept axes of x */
    float *dx = tensor_f32(din[0]);      /* (d0, .., d(r-1)) */
    RedPlan p;
    QsStatus st = reduce_plan(n, s, &p, NULL);
    QS_ASSERT(st == QS_OK);
    int64_t onum = shape_numel(&out->shape), inum = shape_numel(s);
    if (p.noop) {
        for (int64_t i = 0; i < inum; i++)
            dx[i] += dy[i];
        return;
    }
    if (inum == 0)
        return;
    RedKind kind = reduce_kind(n);
    RedWalk w;
    reduce_walk_plan(s, &p, &w);
    int64_t len = w.D[w.m - 1], outer = inum / len, so = w.R[w.m - 1] ? 0 : 1;
    double *ties = NULL; /* (onum) */
    if (kind == RED_MAX) {
        QS_ASSERT(rc->scratch_bytes >= (size_t)onum * sizeof(double));
        ties = rc->scratch;
        for (int64_t i = 0; i < onum; i++)
            ties[i] = 0.0;
        const float *xs = x;
        int64_t idx[QS_MAX_DIMS] = { 0 }, oo = 0;
        for (int64_t t = 0; t < outer; t++, xs += len) {
            for (int64_t i = 0; i < len; i++)
                if (xs[i] == y[oo + i * so])
                    ties[oo + i * so] += 1.0;
            reduce_walk_step(&w, idx, &oo);
        }
    }
    double scale = kind == RED_MEAN ? 1.0 / (double)w.count : 1.0;
    int64_t idx[QS_MAX_DIMS] = { 0 }, oo = 0;
    for (int64_t t = 0; t < outer; t++, x += len, dx += len) {
        for (int64_t i = 0; i < len; i++) {
            int64_t q = oo + i * so;
            if (kind != RED_MAX)
                dx[i] = (float)((double)dx[i] + (double)dy[q] * scale);
            else if (isnan(y[q]))
                dx[i] += NAN;
            else if (x[i] == y[q])
                dx[i] = (float)((double)dx[i] + (double)dy[q] / ties[q]);
        }
        reduce_walk_step(&w, idx, &oo);
    }
}

const OpDef op_reducemean_def = {
    .name = "ReduceMean", .min_in = 1, .max_in = 1, .infer = reduce_infer,
    .parse = reduce_parse,
    .scratch = reduce_scratch, .forward = reduce_forward, .backward = reduce_backward
};
const OpDef op_reducesum_def = {
    .name = "ReduceSum", .min_in = 1, .max_in = 1, .infer = reduce_infer,
    .parse = reduce_parse,
    .scratch = reduce_scratch, .forward = reduce_forward, .backward = reduce_backward
};
const OpDef op_reducemax_def = {
    .name = "ReduceMax", .min_in = 1, .max_in = 1, .infer = reduce_infer,
    .parse = reduce_parse,
    .scratch = reduce_scratch, .forward = reduce_forward, .backward = reduce_backward
};
