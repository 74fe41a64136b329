/* Add and Mul with numpy (multidirectional) broadcasting. References: ONNX Add, Mul and
 * https://onnx.ai/onnx/repo-docs/Broadcasting.html
 *
 * Three paths, all giving bit-identical results (each output element is one IEEE add
 * or multiply of the same two operands):
 *   - same shape: one flat loop;
 *   - one operand varies along a single axis only, the other has the output shape (the
 *     per-channel case: (N, C, H, W) with a (C, 1, 1) constant, or (N, C) with (C,)):
 *     an (outer, C, inner) loop;
 *   - everything else: a strided walk over the output with zero strides on broadcast
 *     axes, after dropping size-1 axes and merging neighbours that broadcast alike.
 * A Relu or Clip the run fused into the node (RunCtx.clamp) is applied in the same loops.
 * Backward uses the strided walk only, summing the gradient of a broadcast operand over
 * its broadcast axes (see binary_backward). */
#include "kern/clamp.h"
#include "ops/op.h"

typedef enum { BIN_ADD, BIN_MUL } BinKind;

/* What a forward computes per element: the kind, and the fused clamp if any. */
typedef struct BinOp {
    BinKind k;
    bool clamp;
    float lo, hi;
} BinOp;

static QsStatus binary_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    for (int k = 0; k < 2; k++)
        if (!in[k])
            return qs_fail(err, QS_ESHAPE, "%s '%s': input %d is missing",
                           op_table[n->op]->name, n->name, k);
    return op_broadcast(n, in[0], in[1], out, err);
}

/* The element functions BIN_RUN applies (lo, hi: the fused clamp's bounds in scope). */
#define BIN_ADD_F(x, y) ((x) + (y))
#define BIN_MUL_F(x, y) ((x) * (y))
#define BIN_ADD_CLAMP_F(x, y) clamp_value((x) + (y), lo, hi)
#define BIN_MUL_CLAMP_F(x, y) clamp_value((x) * (y), lo, hi)

/* c[i] = F(a[i * sa], b[i * sb]) for i < len, with sa, sb in {0, 1}. */
#define BIN_RUN(F)                                                                        \
    do {                                                                                  \
        if (sa && sb) {                                                                   \
            for (int64_t i = 0; i < len; i++)                                             \
                c[i] = F(a[i], b[i]);                                                     \
        } else if (sa) {                                                                  \
            float bv = b[0];                                                              \
            for (int64_t i = 0; i < len; i++)                                             \
                c[i] = F(a[i], bv);                                                       \
        } else if (sb) {                                                                  \
            float av = a[0];                                                              \
            for (int64_t i = 0; i < len; i++)                                             \
                c[i] = F(av, b[i]);                                                       \
        } else {                                                                          \
            float v = F(a[0], b[0]);                                                      \
            for (int64_t i = 0; i < len; i++)                                             \
                c[i] = v;                                                                 \
        }                                                                                 \
    } while (0)

static void binary_run(const BinOp *op, float *c, const float *a, int sa, const float *b,
                       int sb, int64_t len)
{
    float lo = op->lo, hi = op->hi;
    if (op->clamp) {
        if (op->k == BIN_ADD)
            BIN_RUN(BIN_ADD_CLAMP_F);
        else
            BIN_RUN(BIN_MUL_CLAMP_F);
    } else if (op->k == BIN_ADD) {
        BIN_RUN(BIN_ADD_F);
    } else {
        BIN_RUN(BIN_MUL_F);
    }
}

/* Operand shape right-aligned to the output rank (numpy: missing leading dims are 1). */
static void binary_align(const Shape *s, int rank, int64_t *d)
{
    for (int i = 0; i < rank; i++) {
        int j = s->ndim - rank + i;
        d[i] = j >= 0 ? s->dim[j] : 1;
    }
}

/* True when `d` (aligned to `o`) is 1 everywhere except at most one axis where it equals
 * the output dim; sets that axis (or -1 when d is all ones). */
static bool binary_single_axis(const int64_t *d, const Shape *o, int *axis)
{
    *axis = -1;
    for (int i = 0; i < o->ndim; i++) {
        if (d[i] == 1)
            continue;
        if (*axis >= 0 || d[i] != o->dim[i])
            return false;
        *axis = i;
    }
    return true;
}

/* The strided walk over the output: output axes of size 1 are dropped and neighbours
 * that broadcast alike in both operands are merged into D; SA/SB are each operand's
 * strides in elements on those axes (0 where it broadcasts). Returns the number of merged
 * axes, at least 1. */
static int binary_layout(const int64_t *da, const int64_t *db, const Shape *o, int64_t *D,
                         int64_t *SA, int64_t *SB)
{
    bool BA[QS_MAX_DIMS], BB[QS_MAX_DIMS];
    int m = 0;
    for (int i = 0; i < o->ndim; i++) {
        if (o->dim[i] == 1)
            continue;
        bool ba = da[i] == 1, bb = db[i] == 1;
        if (m > 0 && BA[m - 1] == ba && BB[m - 1] == bb) {
            D[m - 1] *= o->dim[i];
        } else {
            D[m] = o->dim[i];
            BA[m] = ba;
            BB[m] = bb;
            m++;
        }
    }
    if (m == 0) {
        D[0] = 1;
        BA[0] = BB[0] = false;
        m = 1;
    }
    /* An operand's own layout is contiguous over the axes it does not broadcast. */
    int64_t ra = 1, rb = 1;
    for (int i = m - 1; i >= 0; i--) {
        SA[i] = BA[i] ? 0 : ra;
        SB[i] = BB[i] ? 0 : rb;
        if (!BA[i])
            ra *= D[i];
        if (!BB[i])
            rb *= D[i];
    }
    return m;
}

/* Advances both operand offsets of a binary_layout walk by one output row (the innermost
 * merged axis is the row). */
static void binary_step(int m, const int64_t *D, const int64_t *SA, const int64_t *SB,
                        int64_t *idx, int64_t *oa, int64_t *ob)
{
    for (int j = m - 2; j >= 0; j--) {
        *oa += SA[j];
        *ob += SB[j];
        if (++idx[j] < D[j])
            break;
        *oa -= SA[j] * D[j];
        *ob -= SB[j] * D[j];
        idx[j] = 0;
    }
}

/* The general case. */
static void binary_strided(const BinOp *op, const int64_t *da, const int64_t *db, const Shape *o,
                           float *c, const float *a, const float *b)
{
    int64_t D[QS_MAX_DIMS], SA[QS_MAX_DIMS], SB[QS_MAX_DIMS];
    int m = binary_layout(da, db, o, D, SA, SB);
    int64_t len = D[m - 1], outer = shape_numel(o) / len;
    int64_t idx[QS_MAX_DIMS] = { 0 }, oa = 0, ob = 0;
    for (int64_t t = 0; t < outer; t++, c += len) {
        binary_run(op, c, a + oa, SA[m - 1] != 0, b + ob, SB[m - 1] != 0, len);
        binary_step(m, D, SA, SB, idx, &oa, &ob);
    }
}

static void binary_forward(BinKind k, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    BinOp op = { .k = k, .clamp = rc->clamp, .lo = rc->clamp_lo, .hi = rc->clamp_hi };
    const Shape *o = &out->shape;
    float *c = tensor_f32(out); /* broadcast shape */
    int64_t numel = shape_numel(o);
    if (numel == 0)
        return;
    const Tensor *ta = in[0], *tb = in[1];
    /* Both ops commute exactly in IEEE arithmetic, so the operand that has the output
     * shape is put first; this halves the fast-path cases. */
    if (!shape_equal(&ta->shape, o) && shape_equal(&tb->shape, o)) {
        const Tensor *t = ta;
        ta = tb;
        tb = t;
    }
    const float *a = tensor_f32(ta), *b = tensor_f32(tb);
    int64_t da[QS_MAX_DIMS], db[QS_MAX_DIMS];
    binary_align(&ta->shape, o->ndim, da);
    binary_align(&tb->shape, o->ndim, db);
    if (shape_equal(&ta->shape, o)) {
        int axis;
        if (shape_numel(&tb->shape) == numel) { /* same shape up to leading ones */
            binary_run(&op, c, a, 1, b, 1, numel);
            return;
        }
        if (binary_single_axis(db, o, &axis)) {
            if (axis < 0) { /* scalar */
                binary_run(&op, c, a, 1, b, 0, numel);
                return;
            }
            int64_t ch = o->dim[axis], inner = shape_span(o, axis + 1, o->ndim);
            int64_t outer = shape_span(o, 0, axis);
            for (int64_t t = 0; t < outer; t++)
                for (int64_t j = 0; j < ch; j++, a += inner, c += inner)
                    binary_run(&op, c, a, 1, b + j, 0, inner);
            return;
        }
    }
    binary_strided(&op, da, db, o, c, a, b);
}

/* Backward scratch: one double accumulator per element of each operand that broadcasts
 * (fewer elements than the output), where several dout elements are summed into one
 * gradient element. An operand with the output's element count needs none. */
static size_t binary_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    int64_t no = shape_numel(out);
    size_t bytes = 0;
    for (int k = 0; k < 2; k++)
        if (shape_numel(in[k]) != no)
            bytes += (size_t)shape_numel(in[k]) * sizeof(double);
    return bytes;
}

/* dL/da = reduce(dout) (Add) or reduce(dout * b) (Mul) over the axes where a broadcasts,
 * and the same for b. Walks the output once with the forward's strided layout. For an
 * operand that broadcasts, the terms are summed in double (exact products dout * other)
 * and added to din once, so the result is within an ulp or so of exact whatever the
 * number of broadcast elements; an operand with the output's element count gets each
 * term added directly, with one rounding. */
static void binary_backward(BinKind k, const Tensor *const *in, const Tensor *dout,
                            Tensor *const *din, const RunCtx *rc)
{
    const Shape *o = &dout->shape;
    int64_t numel = shape_numel(o);
    if (numel == 0 || (!din[0] && !din[1]))
        return;
    const float *dy = tensor_f32(dout);                           /* broadcast shape */
    const float *a = tensor_f32(in[0]), *b = tensor_f32(in[1]); /* each its own shape */
    float *direct[2] = { NULL, NULL }; /* din data of an operand with numel elements */
    double *acc[2] = { NULL, NULL };   /* accumulators of a broadcast operand */
    size_t used = 0; /* doubles of scratch taken */
    for (int j = 0; j < 2; j++) {
        if (!din[j])
            continue;
        int64_t nj = shape_numel(&in[j]->shape);
        if (nj == numel) {
            direct[j] = tensor_f32(din[j]);
        } else {
            QS_ASSERT((used + (size_t)nj) * sizeof(double) <= rc->scratch_bytes);
            acc[j] = (double *)rc->scratch + used;
            used += (size_t)nj;
            for (int64_t i = 0; i < nj; i++)
                acc[j][i] = 0.0;
        }
    }
    int64_t da[QS_MAX_DIMS], db[QS_MAX_DIMS];
    binary_align(&in[0]->shape, o->ndim, da);
    binary_align(&in[1]->shape, o->ndim, db);
    int64_t D[QS_MAX_DIMS], SA[QS_MAX_DIMS], SB[QS_MAX_DIMS];
    int m = binary_layout(da, db, o, D, SA, SB);
    int64_t len = D[m - 1], outer = numel / len, sa = SA[m - 1], sb = SB[m - 1];
    int64_t idx[QS_MAX_DIMS] = { 0 }, oa = 0, ob = 0;
    for (int64_t t = 0; t < outer; t++, dy += len) {
        /* An operand with numel elements never broadcasts, so its offset is the output's. */
        for (int64_t i = 0; i < len; i++) {
            int64_t ia = oa + i * sa, ib = ob + i * sb;
            double g = dy[i];
            double ga = k == BIN_ADD ? g : g * b[ib], gb = k == BIN_ADD ? g : g * a[ia];
            if (direct[0])
                direct[0][ia] = (float)(direct[0][ia] + ga);
            else if (acc[0])
                acc[0][ia] += ga;
            if (direct[1])
                direct[1][ib] = (float)(direct[1][ib] + gb);
            else if (acc[1])
                acc[1][ib] += gb;
        }
        binary_step(m, D, SA, SB, idx, &oa, &ob);
    }
    for (int j = 0; j < 2; j++) {
        if (!acc[j])
            continue;
        float *dx = tensor_f32(din[j]); /* in[j]'s shape */
        for (int64_t i = 0; i < shape_numel(&in[j]->shape); i++)
            dx[i] = (float)(dx[i] + acc[j][i]);
    }
}

static void add_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    binary_forward(BIN_ADD, in, out, rc);
}

static void add_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    binary_backward(BIN_ADD, in, dout, din, rc);
}

static void mul_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    binary_forward(BIN_MUL, in, out, rc);
}

static void mul_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    binary_backward(BIN_MUL, in, dout, din, rc);
}

const OpDef op_add_def = {
    .name = "Add", .min_in = 2, .max_in = 2, .infer = binary_infer, .scratch = binary_scratch,
    .int8 = { .step = OPQ_ADD, .qp = OPQ_QP_OWN },
    .forward = add_forward, .backward = add_backward, .fuses_clamp = true
};
const OpDef op_mul_def = {
    .name = "Mul", .min_in = 2, .max_in = 2, .infer = binary_infer, .scratch = binary_scratch,
    .int8 = { .step = OPQ_MUL, .qp = OPQ_QP_OWN },
    .forward = mul_forward, .backward = mul_backward, .fuses_clamp = true
};
