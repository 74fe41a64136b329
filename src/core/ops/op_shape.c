/* Layout ops: Flatten, Reshape, Transpose, Concat. References: ONNX Flatten, Reshape,
 * Transpose, Concat (https://onnx.ai/onnx/operators/).
 *
 * qscope runs are batched and a sample's result must not depend on the rest of its batch,
 * so every op here keeps axis 0 as the batch axis: a Flatten that merges axis 0 with other
 * non-1 dims, a Reshape that does not keep dim 0 (0, or -1 over whole rows of a sample), a
 * Transpose that moves axis 0 and a Concat along axis 0 are rejected by infer. The rules
 * look at attributes and per-sample dims only, so graph_finalize (batch 1) already catches
 * what would break at batch 2. (A layout op applied to constants only has no batch axis;
 * importers fold those into new constants.)
 *
 * Backward sends every dout element back to the one input element it was copied from, so
 * each input gradient element gets exactly one float addition. */
#include <string.h>

#include "ops/op.h"

static QsStatus shape_need_input(const Node *n, const Shape *const *in, QsError *err)
{
    if (!in[0])
        return qs_fail(err, QS_ESHAPE, "%s '%s': input is missing", op_table[n->op]->name,
                       n->name);
    return QS_OK;
}

static void shape_copy_forward(const Node *n, const Tensor *const *in, Tensor *out,
                               const RunCtx *rc)
{
    if (out->data != in[0]->data)
        memcpy(out->data, in[0]->data, (size_t)tensor_numel(out) * sizeof(float));
}

/* Flatten and Reshape keep the element order, so the gradient is dout, reshaped back. */
static void shape_copy_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                                const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *dy = tensor_f32(dout); /* out's shape */
    float *dx = tensor_f32(din[0]);     /* in's shape, same element count */
    int64_t count = tensor_numel(dout);
    for (int64_t i = 0; i < count; i++)
        dx[i] += dy[i];
}

/* ---- Flatten: (d0 .. d(a-1), da .. d(r-1)) -> (d0 * .. * d(a-1), da * .. * d(r-1)) ---- */

/* Flatten and Concat: axis, default 1. */
static QsStatus shape_axis_parse(const Node *n, OpParams *prm, QsError *err)
{
    prm->axis.axis = node_attr_int(n, "axis", 1);
    (void)err;
    return QS_OK;
}

static QsStatus flatten_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    OpParams tmp;
    const OpParams *prm;
    if (shape_need_input(n, in, err) || !(prm = op_params(n, &tmp, err)))
        return err->code;
    const Shape *s = in[0];
    int64_t axis = prm->axis.axis;
    /* ONNX allows axis == rank here (output (numel, 1)), so op_axis does not fit. */
    if (axis < -s->ndim || axis > s->ndim)
        return qs_fail(err, QS_ESHAPE, "Flatten '%s': axis %lld out of range for rank %d",
                       n->name, (long long)axis, s->ndim);
    int a = (int)(axis < 0 ? axis + s->ndim : axis);
    /* Checked on the axes, not on this batch's sizes, so that graph_finalize (batch 1)
     * catches it: dims 1 .. a-1 are merged into the batch dim unless they are all 1. */
    if (a == 0 || shape_span(s, 1, a) != 1) {
        char b[96];
        return qs_fail(err, QS_ESHAPE, "Flatten '%s': axis %lld merges the batch dim 0 of "
                       "input %s with other dims; qscope keeps dim 0 as the batch (use axis 1)",
                       n->name, (long long)axis, shape_format(s, b, sizeof b));
    }
    out->ndim = 2;
    out->dim[0] = shape_span(s, 0, a);
    out->dim[1] = shape_span(s, a, s->ndim);
    return QS_OK;
}

/* ---- Reshape with the target shape as attribute "shape" ---- */

static QsStatus reshape_parse(const Node *n, OpParams *prm, QsError *err)
{
    ParamInts *shape = &prm->reshape.shape;
    op_param_ints(n, "shape", shape);
    if (shape->n < 0)
        return qs_fail(err, QS_EINVAL, "Reshape '%s': attribute 'shape' (ints) is missing",
                       n->name);
    if (shape->n < 1 || shape->n > QS_MAX_DIMS)
        return qs_fail(err, QS_ESHAPE, "Reshape '%s': target shape has %d dims (1 to %d "
                       "supported)", n->name, shape->n, QS_MAX_DIMS);
    if (node_attr_int(n, "allowzero", 0) != 0)
        return qs_fail(err, QS_EUNSUPPORTED,
                       "Reshape '%s': allowzero=1 is not supported (0 always copies the "
                       "input dim)", n->name);
    return QS_OK;
}

static QsStatus reshape_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    OpParams tmp;
    const OpParams *prm;
    if (shape_need_input(n, in, err) || !(prm = op_params(n, &tmp, err)))
        return err->code;
    const Shape *s = in[0];
    const int64_t *req = prm->reshape.shape.v;
    int cnt = prm->reshape.shape.n;
    Shape want = shape_make(cnt, req);
    char a[96], b[96];
    shape_format(s, a, sizeof a);
    shape_format(&want, b, sizeof b);
    int infer_at = -1;
    int64_t known = 1;
    out->ndim = cnt;
    for (int i = 0; i < cnt; i++) {
        int64_t d = req[i];
        if (d == -1) {
            if (infer_at >= 0)
                return qs_fail(err, QS_ESHAPE, "Reshape '%s': cannot reshape %s to %s: more "
                               "than one -1", n->name, a, b);
            infer_at = i;
            continue;
        }
        if (d < -1)
            return qs_fail(err, QS_ESHAPE, "Reshape '%s': cannot reshape %s to %s: negative "
                           "dim %lld", n->name, a, b, (long long)d);
        if (d == 0) {
            if (i >= s->ndim)
                return qs_fail(err, QS_ESHAPE, "Reshape '%s': cannot reshape %s to %s: 0 at "
                               "position %d copies a dim the input does not have", n->name, a,
                               b, i);
            d = s->dim[i];
        }
        out->dim[i] = d;
        if (__builtin_mul_overflow(known, d, &known))
            return qs_fail(err, QS_ESHAPE, "Reshape '%s': cannot reshape %s to %s: size "
                           "overflows", n->name, a, b);
    }
    int64_t numel = shape_numel(s);
    if (infer_at >= 0) {
        if (known == 0 || numel % known != 0)
            return qs_fail(err, QS_ESHAPE, "Reshape '%s': cannot reshape %s to %s: %lld "
                           "elements are not a multiple of %lld", n->name, a, b,
                           (long long)numel, (long long)known);
        out->dim[infer_at] = numel / known;
    } else if (known != numel) {
        return qs_fail(err, QS_ESHAPE, "Reshape '%s': cannot reshape %s to %s: %lld elements, "
                       "the target has %lld", n->name, a, b, (long long)numel, (long long)known);
    }
    /* Checked on the request, not on this batch's sizes, so that graph_finalize (batch 1)
     * catches a literal 1 that only works at batch 1: dim 0 must be copied (0) or be the
     * -1. Samples stay apart: with every other dim a literal, dim 0 at batch B is B times
     * its size at batch 1, and at batch 1 (graph_finalize) the -1 splits the whole
     * tensor, one sample, into rows; so at batch B each output row lies inside one
     * sample's block. Dim 0 then holds the batch folded with other dims (B*heads,
     * B*windows), which every op treats as independent rows. */
    if (!(req[0] == 0 || req[0] == -1))
        return qs_fail(err, QS_ESHAPE, "Reshape '%s': cannot reshape %s to %s: dim 0 is the "
                       "batch and must stay 0 (copy) or be -1 (the batch, possibly folded "
                       "with other dims)", n->name, a, b);
    return QS_OK;
}

/* ---- Transpose ---- */

static QsStatus transpose_parse(const Node *n, OpParams *prm, QsError *err)
{
    op_param_ints(n, "perm", &prm->transpose.perm);
    (void)err;
    return QS_OK;
}

/* The permutation from attribute "perm", or the reversed axes when absent (ONNX
 * default). Returns the count given (rank when absent), possibly > QS_MAX_DIMS. */
static int transpose_perm(const TransposeParams *p, int rank, int64_t *perm)
{
    int cnt = p->perm.n;
    if (cnt < 0) {
        for (int i = 0; i < rank; i++)
            perm[i] = rank - 1 - i;
        return rank;
    }
    for (int i = 0; i < cnt && i < QS_MAX_DIMS; i++)
        perm[i] = p->perm.v[i];
    return cnt;
}

static QsStatus transpose_infer(const Node *n, const Shape *const *in, Shape *out,
                                QsError *err)
{
    OpParams tmp;
    const OpParams *prm;
    if (shape_need_input(n, in, err) || !(prm = op_params(n, &tmp, err)))
        return err->code;
    const Shape *s = in[0];
    int64_t perm[QS_MAX_DIMS];
    int cnt = transpose_perm(&prm->transpose, s->ndim, perm);
    char a[96];
    shape_format(s, a, sizeof a);
    if (cnt != s->ndim)
        return qs_fail(err, QS_ESHAPE, "Transpose '%s': perm has %d entries for input %s",
                       n->name, cnt, a);
    bool seen[QS_MAX_DIMS] = { false };
    for (int i = 0; i < cnt; i++) {
        if (perm[i] < 0 || perm[i] >= cnt || seen[perm[i]])
            return qs_fail(err, QS_ESHAPE, "Transpose '%s': perm is not a permutation of "
                           "0..%d (entry %d is %lld)", n->name, cnt - 1, i, (long long)perm[i]);
        seen[perm[i]] = true;
    }
    if (cnt > 0 && perm[0] != 0)
        return qs_fail(err, QS_ESHAPE, "Transpose '%s': perm moves the batch axis 0 of input "
                       "%s%s; give a perm starting with 0", n->name, a,
                       prm->transpose.perm.given ? "" : " (the default perm reverses all axes)");
    out->ndim = cnt;
    for (int i = 0; i < cnt; i++)
        out->dim[i] = s->dim[perm[i]];
    return QS_OK;
}

/* The walk over the output in order, as merged axes: output-order sizes D and the input
 * strides S of each. Output axes of size 1 are dropped and neighbours that are also
 * neighbours in the input are merged, so e.g. (N, C, H, W) -> (N, H, W, C) becomes a 3-D
 * walk and a perm that keeps the trailing axes moves whole rows. Returns the number of
 * merged axes (0 when every axis has size 1). */
static int transpose_plan(const Node *n, const Shape *s, int64_t *D, int64_t *S)
{
    int r = s->ndim;
    int64_t perm[QS_MAX_DIMS], istride[QS_MAX_DIMS];
    OpParams tmp;
    transpose_perm(&op_params(n, &tmp, NULL)->transpose, r, perm);
    int64_t acc = 1;
    for (int k = r - 1; k >= 0; k--) {
        istride[k] = acc;
        acc *= s->dim[k];
    }
    int m = 0;
    for (int k = 0; k < r; k++) {
        int64_t d = s->dim[perm[k]], st = istride[perm[k]];
        if (d == 1)
            continue;
        if (m > 0 && S[m - 1] == st * d) {
            D[m - 1] *= d;
            S[m - 1] = st;
        } else {
            D[m] = d;
            S[m] = st;
            m++;
        }
    }
    return m;
}

/* Advances the input offset of a transpose_plan walk by one output row (the innermost
 * merged axis is the row). */
static void transpose_step(int m, const int64_t *D, const int64_t *S, int64_t *idx,
                           int64_t *off)
{
    for (int k = m - 2; k >= 0; k--) {
        *off += S[k];
        if (++idx[k] < D[k])
            break;
        *off -= S[k] * D[k];
        idx[k] = 0;
    }
}

static void transpose_forward(const Node *n, const Tensor *const *in, Tensor *out,
                              const RunCtx *rc)
{
    const float *x = tensor_f32(in[0]); /* (d0, .., d(r-1)) */
    float *y = tensor_f32(out);         /* (d(perm 0), .., d(perm r-1)) */
    int64_t numel = shape_numel(&in[0]->shape);
    if (numel == 0)
        return;
    int64_t D[QS_MAX_DIMS], S[QS_MAX_DIMS];
    int m = transpose_plan(n, &in[0]->shape, D, S);
    if (m == 0) {
        y[0] = x[0];
        return;
    }
    int64_t inner = D[m - 1], sin = S[m - 1], outer = numel / inner;
    int64_t idx[QS_MAX_DIMS] = { 0 }, off = 0;
    for (int64_t t = 0; t < outer; t++, y += inner) {
        if (sin == 1) {
            memcpy(y, x + off, (size_t)inner * sizeof *y);
        } else {
            const float *xs = x + off;
            for (int64_t i = 0; i < inner; i++)
                y[i] = xs[i * sin];
        }
        transpose_step(m, D, S, idx, &off);
    }
}

/* The forward's walk with the roles swapped: every dout element is added to the input
 * element it was copied from. */
static void transpose_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                               const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const float *dy = tensor_f32(dout); /* (d(perm 0), .., d(perm r-1)) */
    float *dx = tensor_f32(din[0]);     /* (d0, .., d(r-1)) */
    int64_t numel = shape_numel(&in[0]->shape);
    if (numel == 0)
        return;
    int64_t D[QS_MAX_DIMS], S[QS_MAX_DIMS];
    int m = transpose_plan(n, &in[0]->shape, D, S);
    if (m == 0) {
        dx[0] += dy[0];
        return;
    }
    int64_t inner = D[m - 1], sin = S[m - 1], outer = numel / inner;
    int64_t idx[QS_MAX_DIMS] = { 0 }, off = 0;
    for (int64_t t = 0; t < outer; t++, dy += inner) {
        float *dxs = dx + off;
        for (int64_t i = 0; i < inner; i++)
            dxs[i * sin] += dy[i];
        transpose_step(m, D, S, idx, &off);
    }
}

/* ---- Concat ---- */

static QsStatus concat_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    if (n->n_in < 1)
        return qs_fail(err, QS_ESHAPE, "Concat '%s': needs at least one input", n->name);
    for (int k = 0; k < n->n_in; k++)
        if (!in[k])
            return qs_fail(err, QS_ESHAPE, "Concat '%s': input %d is missing", n->name, k);
    const Shape *s0 = in[0];
    int axis;
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm || op_axis(n, prm->axis.axis, s0->ndim, &axis, err))
        return err->code;
    if (axis == 0)
        return qs_fail(err, QS_ESHAPE, "Concat '%s': axis 0 is the batch axis; concatenating "
                       "along it would make results depend on the batch", n->name);
    *out = *s0;
    for (int k = 1; k < n->n_in; k++) {
        const Shape *s = in[k];
        bool ok = s->ndim == s0->ndim;
        for (int i = 0; ok && i < s->ndim; i++)
            ok = i == axis || s->dim[i] == s0->dim[i];
        if (!ok) {
            char a[96], b[96];
            return qs_fail(err, QS_ESHAPE, "Concat '%s': input %d has shape %s, which does not "
                           "match input 0 %s outside axis %d", n->name, k,
                           shape_format(s, b, sizeof b), shape_format(s0, a, sizeof a), axis);
        }
        if (__builtin_add_overflow(out->dim[axis], s->dim[axis], &out->dim[axis]))
            return qs_fail(err, QS_ESHAPE, "Concat '%s': size along axis %d overflows",
                           n->name, axis);
    }
    return QS_OK;
}

static void concat_forward(const Node *n, const Tensor *const *in, Tensor *out,
                           const RunCtx *rc)
{
    const Shape *so = &out->shape;
    OpParams tmp;
    int64_t a = op_params(n, &tmp, NULL)->axis.axis;
    int axis = (int)(a < 0 ? a + so->ndim : a); /* validated by infer */
    int64_t outer = shape_span(so, 0, axis), inner = shape_span(so, axis + 1, so->ndim);
    float *y = tensor_f32(out); /* (outer, sum of d_k, inner) */
    for (int64_t o = 0; o < outer; o++) {
        for (int k = 0; k < n->n_in; k++) {
            size_t chunk = (size_t)(in[k]->shape.dim[axis] * inner);
            const float *x = tensor_f32(in[k]); /* (outer, d_k, inner) */
            memcpy(y, x + (size_t)o * chunk, chunk * sizeof *y);
            y += chunk;
        }
    }
}

/* Each input gets its slices of dout back. */
static void concat_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                            const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    const Shape *so = &out->shape;
    OpParams tmp;
    int64_t a = op_params(n, &tmp, NULL)->axis.axis;
    int axis = (int)(a < 0 ? a + so->ndim : a); /* validated by infer */
    int64_t outer = shape_span(so, 0, axis), inner = shape_span(so, axis + 1, so->ndim);
    const float *dy = tensor_f32(dout); /* (outer, sum of d_k, inner) */
    for (int64_t o = 0; o < outer; o++) {
        for (int k = 0; k < n->n_in; k++) {
            int64_t chunk = in[k]->shape.dim[axis] * inner;
            if (din[k]) {
                float *dx = tensor_f32(din[k]) + o * chunk; /* (outer, d_k, inner) */
                for (int64_t i = 0; i < chunk; i++)
                    dx[i] += dy[i];
            }
            dy += chunk;
        }
    }
}

const OpDef op_flatten_def = {
    .name = "Flatten", .min_in = 1, .max_in = 1, .infer = flatten_infer,
    .parse = shape_axis_parse,
    .int8 = { .step = OPQ_LAYOUT, .qp = OPQ_QP_INPUT },
    .forward = shape_copy_forward, .backward = shape_copy_backward
};
const OpDef op_reshape_def = {
    .name = "Reshape", .min_in = 1, .max_in = 1, .infer = reshape_infer,
    .parse = reshape_parse,
    .int8 = { .step = OPQ_LAYOUT, .qp = OPQ_QP_INPUT },
    .forward = shape_copy_forward, .backward = shape_copy_backward
};
const OpDef op_transpose_def = {
    .name = "Transpose", .min_in = 1, .max_in = 1, .infer = transpose_infer,
    .parse = transpose_parse,
    .forward = transpose_forward, .backward = transpose_backward
};
/* 64 is the most inputs graph_infer_shapes and run_forward pass to a node. */
const OpDef op_concat_def = {
    .name = "Concat", .min_in = 1, .max_in = 64, .infer = concat_infer,
    .parse = shape_axis_parse,
    .int8 = { .step = OPQ_CONCAT, .qp = OPQ_QP_OWN },
    .forward = concat_forward, .backward = concat_backward
};
