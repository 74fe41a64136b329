/* TopK (https://onnx.ai/onnx/operators/onnx__TopK.html) as one node per ONNX output: with
 * indices=0 it yields the k largest (largest=0: smallest) values along `axis`, sorted;
 * with indices=1 their positions along the axis, as floats (exact integers below 2^24,
 * checked at infer), so a following op reads them as ordinary values. Equal values keep
 * the lower index first, as ONNX requires (a stable selection). k is an attribute (ONNX
 * takes it as a constant input; the importer reads it). Backward (values only) adds each
 * output's gradient to the position it was taken from; indices have no gradient. */
#include <string.h>

#include "ops/op.h"

static QsStatus topk_parse(const Node *n, OpParams *prm, QsError *err)
{
    TopKParams *p = &prm->topk;
    p->k = node_attr_int(n, "k", 0);
    p->axis = node_attr_int(n, "axis", -1);
    p->largest = node_attr_int(n, "largest", 1) != 0;
    p->indices = node_attr_int(n, "indices", 0) != 0;
    if (p->k < 1)
        return qs_fail(err, QS_EINVAL, "TopK '%s': k must be at least 1, not %lld", n->name,
                       (long long)p->k);
    return QS_OK;
}

static QsStatus topk_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err->code;
    const TopKParams *p = &prm->topk;
    int ax;
    QsStatus st = op_axis(n, p->axis, in[0]->ndim, &ax, err);
    if (st)
        return st;
    if (ax == 0)
        return qs_fail(err, QS_EUNSUPPORTED, "TopK '%s': the batch axis is not supported",
                       n->name);
    if (p->k > in[0]->dim[ax])
        return qs_fail(err, QS_ESHAPE, "TopK '%s': k=%lld exceeds the axis size %lld",
                       n->name, (long long)p->k, (long long)in[0]->dim[ax]);
    if (in[0]->dim[ax] > (1 << 24))
        return qs_fail(err, QS_EUNSUPPORTED, "TopK '%s': an axis over 2^24 elements (its "
                       "indices would not be exact floats)", n->name);
    *out = *in[0];
    out->dim[ax] = p->k;
    return QS_OK;
}

/* Geometry: outer runs of the axis (size d) with inner stride `inner`. */
typedef struct { int64_t outer, d, inner, k; } TopKGeo;

static TopKGeo topk_geo(const Node *n, const Shape *x)
{
    OpParams tmp;
    const TopKParams *p = &op_params(n, &tmp, NULL)->topk;
    int ax;
    op_axis(n, p->axis, x->ndim, &ax, NULL);
    TopKGeo g = { 1, x->dim[ax], 1, p->k };
    for (int i = 0; i < ax; i++)
        g.outer *= x->dim[i];
    for (int i = ax + 1; i < x->ndim; i++)
        g.inner *= x->dim[i];
    return g;
}

/* a ranks before b: larger (smaller) value first, then the lower index. NaN ranks last. */
static bool topk_before(float a, int64_t ia, float b, int64_t ib, bool largest)
{
    if (a != b) {
        if (b != b)
            return a == a;
        if (a != a)
            return false;
        return largest ? a > b : a < b;
    }
    return ia < ib;
}

/* The indices of one line's k first elements, in order, into idx (k entries), by
 * insertion into a sorted list of k: exact and stable; k is small where exports use it. */
static void topk_line(const float *x, int64_t d, int64_t stride, int64_t k, bool largest,
                      int64_t *idx)
{
    int64_t m = 0;
    for (int64_t i = 0; i < d; i++) {
        float v = x[i * stride];
        if (m == k && !topk_before(v, i, x[idx[k - 1] * stride], idx[k - 1], largest))
            continue;
        int64_t j = m < k ? m++ : k - 1;
        while (j > 0 && topk_before(v, i, x[idx[j - 1] * stride], idx[j - 1], largest)) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

static size_t topk_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    OpParams tmp;
    return (size_t)op_params(n, &tmp, NULL)->topk.k * sizeof(int64_t);
}

/* Calls body(o, j, src) for output element o, rank j and its input element src. */
#define TOPK_WALK(n, x_shape, x, rc, body)                                               \
    do {                                                                                 \
        TopKGeo g_ = topk_geo(n, x_shape);                                               \
        OpParams tmp_;                                                                   \
        bool largest_ = op_params(n, &tmp_, NULL)->topk.largest;                         \
        int64_t *idx_ = (rc)->scratch;                                                   \
        for (int64_t a_ = 0; a_ < g_.outer; a_++)                                        \
            for (int64_t b_ = 0; b_ < g_.inner; b_++) {                                  \
                int64_t base_ = a_ * g_.d * g_.inner + b_;                               \
                topk_line((x) + base_, g_.d, g_.inner, g_.k, largest_, idx_);            \
                for (int64_t j = 0; j < g_.k; j++) {                                     \
                    int64_t o = a_ * g_.k * g_.inner + j * g_.inner + b_;                \
                    int64_t src = base_ + idx_[j] * g_.inner, pos = idx_[j];             \
                    (void)src; (void)pos;                                                \
                    body;                                                                \
                }                                                                        \
            }                                                                            \
    } while (0)

static void topk_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    OpParams tmp;
    bool indices = op_params(n, &tmp, NULL)->topk.indices;
    const float *x = tensor_f32(in[0]);
    float *y = tensor_f32(out);
    TOPK_WALK(n, &in[0]->shape, x, rc, y[o] = indices ? (float)pos : x[src]);
}

static void topk_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    OpParams tmp;
    if (!din[0] || op_params(n, &tmp, NULL)->topk.indices)
        return;
    const float *x = tensor_f32(in[0]), *dy = tensor_f32(dout);
    float *dx = tensor_f32(din[0]);
    TOPK_WALK(n, &in[0]->shape, x, rc, dx[src] += dy[o]);
}

const OpDef op_topk_def = {
    .name = "TopK", .min_in = 1, .max_in = 1, .parse = topk_parse, .infer = topk_infer,
    .scratch = topk_scratch, .forward = topk_forward, .backward = topk_backward,
};
