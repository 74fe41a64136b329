/* ONNX Resize (https://onnx.ai/onnx/operators/onnx__Resize.html), nearest mode only, with
 * its scales or sizes as attributes (ONNX passes them as inputs; the importer converts,
 * and maps opset-9 Upsample to asymmetric/floor):
 *   scales  floats (rank): output dim = floor(input dim * scale); the batch's must be 1;
 *   sizes   ints (rank), instead of scales: the output dims, sizes[0] = 0 (the batch);
 *   coordinate_transformation_mode  half_pixel (default), pytorch_half_pixel,
 *           align_corners, asymmetric, tf_half_pixel_for_nn;
 *   nearest_mode  round_prefer_floor (default), round_prefer_ceil, floor, ceil;
 *   mode    "nearest" (the default here; linear and cubic are not supported).
 * Each output index maps to one input index per axis, computed once per forward in double
 * (the formulas of the ONNX reference) and clamped into the input. Backward adds each
 * output element's gradient to the input element it copied. */
#include <math.h>
#include <string.h>

#include "ops/op.h"

static const char *const resize_ctm[] = { "half_pixel", "pytorch_half_pixel", "align_corners",
                                          "asymmetric", "tf_half_pixel_for_nn" };
static const char *const resize_nm[] = { "round_prefer_floor", "round_prefer_ceil", "floor",
                                         "ceil" };

static int resize_pick(const char *v, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return -1;
}

static QsStatus resize_parse(const Node *n, OpParams *prm, QsError *err)
{
    ResizeParams *p = &prm->resize;
    const char *mode = node_attr_str(n, "mode", "nearest");
    if (strcmp(mode, "nearest") != 0)
        return qs_fail(err, QS_EUNSUPPORTED, "Resize '%s': mode '%s' is not supported "
                       "(nearest only)", n->name, mode);
    int ctm = resize_pick(node_attr_str(n, "coordinate_transformation_mode", "half_pixel"),
                          resize_ctm, 5);
    if (ctm < 0)
        return qs_fail(err, QS_EUNSUPPORTED,
                       "Resize '%s': coordinate_transformation_mode '%s' is not supported",
                       n->name, node_attr_str(n, "coordinate_transformation_mode", ""));
    int nm = resize_pick(node_attr_str(n, "nearest_mode", "round_prefer_floor"), resize_nm, 4);
    if (nm < 0)
        return qs_fail(err, QS_EUNSUPPORTED, "Resize '%s': nearest_mode '%s' is not supported",
                       n->name, node_attr_str(n, "nearest_mode", ""));
    p->coord = (ResizeCoord)ctm;
    p->nearest = (ResizeNearest)nm;
    op_param_floats(n, "scales", &p->scales);
    op_param_ints(n, "sizes", &p->sizes);
    const Attr *sz = node_attr(n, "sizes");
    if (sz && sz->type != ATTR_INTS)
        p->sizes.n = -1; /* a single int is not a list here */
    if (p->scales.given == p->sizes.given)
        return qs_fail(err, QS_EINVAL, "Resize '%s': give exactly one of scales and sizes",
                       n->name);
    return QS_OK;
}

/* Output dims and per-axis scales. err may be NULL (forward re-derives). */
static QsStatus resize_geom(const Node *n, const Shape *x, Shape *y, double *scale,
                            QsError *err)
{
    int r = x->ndim;
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err ? err->code : QS_EINVAL;
    const ParamFloats *sc = &prm->resize.scales;
    const ParamInts *sz = &prm->resize.sizes;
    *y = *x;
    if (sc->given) {
        if (sc->n != r)
            return qs_fail(err, QS_EINVAL, "Resize '%s': scales must be %d floats", n->name, r);
        for (int i = 0; i < r; i++) {
            double s = sc->v[i];
            if (!(s > 0.0 && s <= 1e6))
                return qs_fail(err, QS_EINVAL, "Resize '%s': scales[%d] = %g is not in (0, 1e6]",
                               n->name, i, s);
            if (i == 0 && s != 1.0)
                return qs_fail(err, QS_EINVAL, "Resize '%s': the batch axis cannot be resized "
                               "(scales[0] = %g)", n->name, s);
            double d = floor((double)x->dim[i] * s);
            if (d > INT32_MAX || (d < 1 && x->dim[i] > 0))
                return qs_fail(err, QS_ESHAPE, "Resize '%s': axis %d would have %g elements",
                               n->name, i, d);
            y->dim[i] = (int64_t)d;
            scale[i] = s;
        }
    } else {
        if (sz->n != r)
            return qs_fail(err, QS_EINVAL, "Resize '%s': sizes must be %d ints", n->name, r);
        for (int i = 0; i < r; i++) {
            int64_t d = sz->v[i];
            if (i == 0) {
                if (d != 0)
                    return qs_fail(err, QS_EINVAL, "Resize '%s': sizes[0] must be 0 (the batch "
                                   "is kept)", n->name);
                d = x->dim[0];
            } else if (d < 1 || d > INT32_MAX || x->dim[i] < 1) {
                return qs_fail(err, QS_ESHAPE, "Resize '%s': sizes[%d] = %lld out of range",
                               n->name, i, (long long)d);
            }
            y->dim[i] = d;
            scale[i] = x->dim[i] ? (double)d / (double)x->dim[i] : 1.0;
        }
    }
    return QS_OK;
}

static QsStatus resize_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    double scale[QS_MAX_DIMS];
    if (!in[0])
        return qs_fail(err, QS_ESHAPE, "Resize '%s': input is missing", n->name);
    return resize_geom(n, in[0], out, scale, err);
}

/* One int64 source index per output index of every axis. */
static size_t resize_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    int64_t s = 0;
    for (int i = 0; i < out->ndim; i++)
        s += out->dim[i];
    return (size_t)s * sizeof(int64_t);
}

/* Fills map[axis offsets] with the source index of every output index. */
static void resize_maps(const Node *n, const Shape *x, const Shape *y, const double *scale,
                        int64_t *map)
{
    OpParams tmp;
    const ResizeParams *p = &op_params(n, &tmp, NULL)->resize;
    ResizeCoord ctm = p->coord;
    ResizeNearest nm = p->nearest;
    for (int a = 0; a < y->ndim; a++) {
        int64_t in_len = x->dim[a], out_len = y->dim[a];
        for (int64_t o = 0; o < out_len; o++) {
            double s = scale[a], c;
            switch (ctm) {
            case RESIZE_HALF_PIXEL: c = (o + 0.5) / s - 0.5; break;
            case RESIZE_PYTORCH_HALF_PIXEL: c = out_len > 1 ? (o + 0.5) / s - 0.5 : 0.0; break;
            case RESIZE_ALIGN_CORNERS:
                c = out_len == 1 ? 0.0 : (double)o * (in_len - 1) / (out_len - 1);
                break;
            case RESIZE_ASYMMETRIC: c = o / s; break;
            default: c = (o + 0.5) / s; break; /* tf_half_pixel_for_nn */
            }
            double f = floor(c), v;
            switch (nm) {
            case RESIZE_ROUND_PREFER_FLOOR: v = c - f == 0.5 ? f : floor(c + 0.5); break;
            case RESIZE_ROUND_PREFER_CEIL: v = c - f == 0.5 ? f + 1.0 : floor(c + 0.5); break;
            case RESIZE_FLOOR: v = f; break;
            default: v = ceil(c); break;
            }
            if (v < 0.0)
                v = 0.0;
            if (v > (double)(in_len - 1))
                v = (double)(in_len - 1);
            *map++ = (int64_t)v;
        }
    }
}

/* Forward (dst set): copies; backward (dx set): scatters dy. */
static void resize_walk(const Node *n, const Shape *x, const Shape *y, void *scratch,
                        float *dst, const float *src, float *dx, const float *dy)
{
    double scale[QS_MAX_DIMS];
    Shape ys;
    resize_geom(n, x, &ys, scale, NULL);
    int64_t *map = scratch, *axis_map[QS_MAX_DIMS], xs[QS_MAX_DIMS], run = 1;
    resize_maps(n, x, y, scale, map);
    for (int a = 0; a < y->ndim; a++) {
        axis_map[a] = map;
        map += y->dim[a];
    }
    for (int a = y->ndim - 1; a >= 0; a--) {
        xs[a] = run;
        run *= x->dim[a];
    }
    int r = y->ndim;
    int64_t idx[QS_MAX_DIMS] = { 0 }, total = shape_numel(y);
    for (int64_t k = 0; k < total; k++) {
        int64_t off = 0;
        for (int a = 0; a < r; a++)
            off += axis_map[a][idx[a]] * xs[a];
        if (dst)
            dst[k] = src[off];
        else
            dx[off] += dy[k];
        for (int a = r - 1; a >= 0; a--) {
            if (++idx[a] < y->dim[a])
                break;
            idx[a] = 0;
        }
    }
}

static void resize_forward(const Node *n, const Tensor *const *in, Tensor *out,
                           const RunCtx *rc)
{
    resize_walk(n, &in[0]->shape, &out->shape, rc->scratch, tensor_f32(out), tensor_f32(in[0]),
                NULL, NULL);
}

static void resize_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                            const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    resize_walk(n, &in[0]->shape, &dout->shape, rc->scratch, NULL, NULL, tensor_f32(din[0]),
                tensor_f32(dout));
}

const OpDef op_resize_def = {
    .name = "Resize", .min_in = 1, .max_in = 1, .infer = resize_infer, .scratch = resize_scratch,
    .parse = resize_parse,
    .int8 = { .step = OPQ_GATHER, .qp = OPQ_QP_INPUT },
    .forward = resize_forward, .backward = resize_backward
};
