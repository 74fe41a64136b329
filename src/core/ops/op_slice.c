/* ONNX Slice (https://onnx.ai/onnx/operators/onnx__Slice.html) with starts, ends, axes
 * and steps as attributes (ONNX >= 10 passes them as inputs; the importer converts).
 * Exporters emit it for x[:, a:b] and for torch.chunk/split. Indices are clamped as ONNX
 * says (negative ones count from the end; steps may be negative, not 0). The batch axis 0
 * may only be listed with its full range (start 0, end >= its size, step 1), so that a
 * sample's result never depends on the batch. Backward adds dout into the selected input
 * elements. */
#include <string.h>

#include "ops/geometry.h"
#include "ops/op.h"

typedef struct SliceGeom {
    int64_t begin[QS_MAX_DIMS], step[QS_MAX_DIMS];
} SliceGeom;

static QsStatus slice_parse(const Node *n, OpParams *prm, QsError *err)
{
    SliceParams *p = &prm->slice;
    op_param_ints(n, "starts", &p->starts);
    op_param_ints(n, "ends", &p->ends);
    op_param_ints(n, "axes", &p->axes);
    op_param_ints(n, "steps", &p->steps);
    if (p->starts.n < 0 || p->ends.n != p->starts.n)
        return qs_fail(err, QS_EINVAL, "Slice '%s': starts and ends must be int lists of one "
                       "length", n->name);
    return QS_OK;
}

static QsStatus slice_geom(const Node *n, const Shape *x, Shape *y, SliceGeom *g, QsError *err)
{
    int r = x->ndim;
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err ? err->code : QS_EINVAL;
    const SliceParams *p = &prm->slice;
    const int64_t *st = p->starts.v, *en = p->ends.v;
    int64_t ax[QS_PARAM_INTS], sp[QS_PARAM_INTS];
    int ns = p->starts.n, na = p->axes.n, nsp = p->steps.n;
    /* absent axes and steps: 0, 1, ... and all 1, as many as starts */
    for (int i = 0; i < QS_PARAM_INTS; i++) {
        ax[i] = na < 0 ? i : p->axes.v[i];
        sp[i] = nsp < 0 ? 1 : p->steps.v[i];
    }
    na = na < 0 ? ns : na;
    nsp = nsp < 0 ? ns : nsp;
    if (na != ns || nsp != ns || ns > r)
        return qs_fail(err, QS_EINVAL, "Slice '%s': starts, ends, axes and steps must have "
                       "one length, at most the rank %d", n->name, r);
    *y = *x;
    bool seen[QS_MAX_DIMS] = { false };
    for (int i = 0; i < r; i++)
        g->begin[i] = 0, g->step[i] = 1;
    for (int i = 0; i < ns; i++) {
        int a;
        if (op_axis(n, ax[i], r, &a, err))
            return QS_ESHAPE;
        if (seen[a] || sp[i] == 0)
            return qs_fail(err, QS_EINVAL, "Slice '%s': axis %d repeated or step 0", n->name, a);
        seen[a] = true;
        int64_t d = x->dim[a], s = st[i], e = en[i], k = sp[i], len;
        if (s < 0)
            s = s < -d ? -d - 1 : s + d; /* may stay < 0, clamped below */
        if (e < 0)
            e = e < -d ? -d - 1 : e + d;
        if (k > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            len = e > s ? (e - s - 1) / k + 1 : 0;
        } else {
            s = s < 0 ? -1 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            /* -INT64_MIN does not exist; INT64_MAX takes the same single element */
            len = s > e ? (s - e - 1) / (k == INT64_MIN ? INT64_MAX : -k) + 1 : 0;
        }
        if (a == 0 && !(s == 0 && k == 1 && len == d))
            return qs_fail(err, QS_EINVAL, "Slice '%s': the batch axis 0 can only be kept "
                           "whole", n->name);
        y->dim[a] = len;
        g->begin[a] = s;
        /* one element or none: the step is never taken, and step * stride could overflow */
        g->step[a] = len > 1 ? k : 1;
    }
    return QS_OK;
}

QsStatus geom_slice(const Node *n, const Shape *x, Shape *y, int64_t *begin, int64_t *step,
                    QsError *err)
{
    SliceGeom g;
    QsStatus st = slice_geom(n, x, y, &g, err);
    if (!st) {
        memcpy(begin, g.begin, sizeof g.begin);
        memcpy(step, g.step, sizeof g.step);
    }
    return st;
}

static QsStatus slice_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    SliceGeom g;
    if (!in[0])
        return qs_fail(err, QS_ESHAPE, "Slice '%s': input is missing", n->name);
    return slice_geom(n, in[0], out, &g, err);
}

/* Forward (y set) copies the selected elements; backward (dx set) adds dy into them. */
static void slice_walk(const Node *n, const Shape *x, float *y, const float *src, float *dx,
                       const float *dy)
{
    SliceGeom g;
    Shape o;
    slice_geom(n, x, &o, &g, NULL);
    int r = x->ndim;
    int64_t xs[QS_MAX_DIMS], run = 1, base = 0, idx[QS_MAX_DIMS] = { 0 };
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = run;
        run *= x->dim[i];
    }
    for (int i = 0; i < r; i++)
        base += g.begin[i] * xs[i];
    int64_t total = shape_numel(&o), off = base;
    for (int64_t k = 0; k < total; k++) {
        if (y)
            y[k] = src[off];
        else
            dx[off] += dy[k];
        for (int i = r - 1; i >= 0; i--) {
            off += g.step[i] * xs[i];
            if (++idx[i] < o.dim[i])
                break;
            off -= g.step[i] * xs[i] * o.dim[i];
            idx[i] = 0;
        }
    }
}

static void slice_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    slice_walk(n, &in[0]->shape, tensor_f32(out), tensor_f32(in[0]), NULL, NULL);
}

static void slice_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                           const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (din[0])
        slice_walk(n, &in[0]->shape, NULL, NULL, tensor_f32(din[0]), tensor_f32(dout));
}

const OpDef op_slice_def = {
    .name = "Slice", .min_in = 1, .max_in = 1, .infer = slice_infer, .forward = slice_forward,
    .parse = slice_parse,
    .backward = slice_backward
};
