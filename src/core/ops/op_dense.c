/* Matrix products, all through sgemm (kern/sgemm.h, row-major):
 *   Gemm   https://onnx.ai/onnx/operators/onnx__Gemm.html
 *   Dense  https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
 *   MatMul https://onnx.ai/onnx/operators/onnx__MatMul.html (numpy.matmul rules)
 * infer checks every dimension handed to cblas fits in an int, so forward and backward can
 * cast. The forwards put a bias and a fused Relu/Clip (RunCtx.clamp) in sgemm's epilogue;
 * Gemm and Dense read their weights packed once per run when the run caches them
 * (RunCtx.packed).
 *
 * Backward: the matrix gradients are sgemms that accumulate straight into din (beta = 1),
 * which also sums over rows and broadcast batch entries. Bias and C gradients are sums
 * over rows, accumulated in double and rounded once. */
#include <limits.h>

#include "kern/sgemm.h"
#include "ops/geometry.h"
#include "ops/op.h"

/* An optional input: in[] only holds n->n_in entries. */
static const Shape *dense_opt_shape(const Node *n, const Shape *const *in, int i)
{
    return i < n->n_in ? in[i] : NULL;
}

static const Tensor *dense_opt_tensor(const Node *n, const Tensor *const *in, int i)
{
    return i < n->n_in ? in[i] : NULL;
}

static QsStatus dense_required(const Node *n, const Shape *s, const char *what, QsError *err)
{
    if (!s)
        return qs_fail(err, QS_EFORMAT, "%s '%s': input %s is required", op_table[n->op]->name,
                       n->name, what);
    return QS_OK;
}

/* Every dimension at least 1 (an empty operand has no useful product) and small enough
 * for cblas's int arguments. */
static QsStatus dense_check_dims(const Node *n, const Shape *s, const char *what, QsError *err)
{
    char buf[96];
    for (int i = 0; i < s->ndim; i++) {
        if (s->dim[i] < 1)
            return qs_fail(err, QS_ESHAPE, "%s '%s': %s has shape %s with an empty dimension",
                           op_table[n->op]->name, n->name, what, shape_format(s, buf, sizeof buf));
        if (s->dim[i] > INT_MAX)
            return qs_fail(err, QS_ESHAPE, "%s '%s': %s has shape %s, dimension %d too large",
                           op_table[n->op]->name, n->name, what, shape_format(s, buf, sizeof buf),
                           i);
    }
    return QS_OK;
}

static QsStatus dense_check_rows(const Node *n, int64_t rows, QsError *err)
{
    if (rows > INT_MAX)
        return qs_fail(err, QS_ESHAPE, "%s '%s': %lld rows exceed the BLAS limit",
                       op_table[n->op]->name, n->name, (long long)rows);
    return QS_OK;
}

/* Column blocks of dense_sum_rows: the double accumulators live on the stack. */
#define DENSE_SUM_BLOCK 64

/* db[j] += scale * sum_r dy[r * cols + j], each sum in double and rounded once. Walks the
 * rows in blocks of columns, so memory is read in order whatever the shape. */
static void dense_sum_rows(const float *dy, int64_t rows, int64_t cols, double scale, float *db)
{
    double acc[DENSE_SUM_BLOCK];
    for (int64_t j0 = 0; j0 < cols; j0 += DENSE_SUM_BLOCK) {
        int64_t nj = cols - j0 < DENSE_SUM_BLOCK ? cols - j0 : DENSE_SUM_BLOCK;
        for (int64_t j = 0; j < nj; j++)
            acc[j] = 0.0;
        for (int64_t r = 0; r < rows; r++) {
            const float *row = dy + r * cols + j0;
            for (int64_t j = 0; j < nj; j++)
                acc[j] += row[j];
        }
        for (int64_t j = 0; j < nj; j++)
            db[j0 + j] = (float)(db[j0 + j] + scale * acc[j]);
    }
}

/* The epilogue of a forward: the clamp of an activation the run fused into this node. */
static SgemmEpi dense_epi(const RunCtx *rc)
{
    return (SgemmEpi){ .clamp = rc->clamp, .lo = rc->clamp_lo, .hi = rc->clamp_hi };
}

/* ---- Gemm: Y (M, N) = alpha A' B' + beta C ------------------------------------------- */

static QsStatus gemm_parse(const Node *n, OpParams *prm, QsError *err)
{
    GemmParams *p = &prm->gemm;
    p->trans_a = node_attr_int(n, "transA", 0) != 0;
    p->trans_b = node_attr_int(n, "transB", 0) != 0;
    p->alpha = node_attr_float(n, "alpha", 1.0f);
    p->beta = node_attr_float(n, "beta", 1.0f);
    (void)err;
    return QS_OK;
}

static QsStatus gemm_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    const Shape *a = in[0], *b = dense_opt_shape(n, in, 1), *c = dense_opt_shape(n, in, 2);
    if (dense_required(n, b, "B", err) || op_expect_rank(n, a, 2, 2, "A", err) ||
        op_expect_rank(n, b, 2, 2, "B", err) || dense_check_dims(n, a, "A", err) ||
        dense_check_dims(n, b, "B", err))
        return err->code;
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err->code;
    bool ta = prm->gemm.trans_a, tb = prm->gemm.trans_b;
    int64_t m = a->dim[ta ? 1 : 0], k = a->dim[ta ? 0 : 1];
    int64_t kb = b->dim[tb ? 1 : 0], nn = b->dim[tb ? 0 : 1];
    if (k != kb) {
        char sa[96], sb[96];
        return qs_fail(err, QS_ESHAPE,
                       "Gemm '%s': A %s (transA=%d) has K=%lld but B %s (transB=%d) has K=%lld",
                       n->name, shape_format(a, sa, sizeof sa), ta, (long long)k,
                       shape_format(b, sb, sizeof sb), tb, (long long)kb);
    }
    if (c) {
        /* Unidirectional: C stretches to (M, N), never the other way. */
        char sc[96];
        bool ok = c->ndim <= 2;
        for (int i = 0; ok && i < c->ndim; i++) {
            int64_t want = c->ndim - i == 1 ? nn : m;
            ok = c->dim[i] == 1 || c->dim[i] == want;
        }
        if (!ok)
            return qs_fail(err, QS_ESHAPE, "Gemm '%s': C has shape %s, which does not broadcast to (%lld, %lld)",
                           n->name, shape_format(c, sc, sizeof sc), (long long)m, (long long)nn);
    }
    *out = shape_of(2, m, nn);
    return QS_OK;
}

/* sgemm(ta, tb, ...) with op(B) the node's weights: from the run's cache of them packed
 * (RunCtx.packed; packed into it by the first forward that reads it) where the product
 * takes sgemm's own route with a packed B, else sgemm itself: the same bits either way
 * (kern/sgemm.h). */
static void dense_sgemm(const RunCtx *rc, bool ta, bool tb, int m, int nn, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float *y,
                        const SgemmEpi *epi)
{
    if (rc->packed && sgemm_packed_b_pays(m, nn, epi)) {
        unsigned char *packed_yet = rc->packed;
        void *pb = (char *)rc->packed + OP_PACKED_FLAGS;
        if (!*packed_yet)
            sgemm_pack_b_at(pb, tb, k, nn, b, ldb);
        *packed_yet = 1;
        sgemm_packed_b(ta, m, alpha, a, lda, pb, y, nn, epi);
        return;
    }
    sgemm(ta, tb, m, nn, k, alpha, a, lda, b, ldb, y, nn, epi);
}

/* The cache of packed weights (RunCtx.packed) of a product whose op(B) is (K, N). */
static size_t gemm_packed_bytes(const Node *n, const Shape *const *in)
{
    OpParams tmp;
    const GemmParams *p = &op_params(n, &tmp, NULL)->gemm;
    if (!in[1] || in[1]->ndim != 2)
        return 0;
    int64_t k = in[1]->dim[p->trans_b ? 1 : 0], nn = in[1]->dim[p->trans_b ? 0 : 1];
    return OP_PACKED_FLAGS + sgemm_pack_b_bytes(k, nn);
}

static size_t dense_packed_bytes(const Node *n, const Shape *const *in)
{
    (void)n;
    if (!in[1] || in[1]->ndim != 2)
        return 0;
    return OP_PACKED_FLAGS + sgemm_pack_b_bytes(in[1]->dim[1], in[1]->dim[0]); /* W^T */
}

static void gemm_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const Tensor *a = in[0], *b = in[1], *c = dense_opt_tensor(n, in, 2);
    OpParams tmp;
    const GemmParams *p = &op_params(n, &tmp, NULL)->gemm;
    bool ta = p->trans_a, tb = p->trans_b;
    float alpha = p->alpha, beta = p->beta;
    int m = (int)out->shape.dim[0], nn = (int)out->shape.dim[1];
    int k = (int)a->shape.dim[ta ? 0 : 1];
    float *y = tensor_f32(out); /* (M, N) */
    SgemmEpi epi = dense_epi(rc);
    /* beta == 0 ignores C altogether (as BLAS does), so an inf in C cannot leak in. */
    if (c && beta != 0.0f) {
        const float *cv = tensor_f32(c); /* () (N) (1, N) (M, 1) (M, N) ... */
        int64_t cr = c->shape.ndim == 2 ? c->shape.dim[0] : 1;
        int64_t cc = c->shape.ndim >= 1 ? c->shape.dim[c->shape.ndim - 1] : 1;
        if (beta == 1.0f && cr == 1 && cc == nn) {
            epi.bias_n = cv; /* a Linear's bias: the sums start from it */
        } else {
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < nn; j++)
                    y[i * nn + j] = beta * cv[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)];
            epi.accumulate = true;
        }
    }
    dense_sgemm(rc, ta, tb, m, nn, k, alpha, tensor_f32(a), (int)a->shape.dim[1],
                tensor_f32(b), (int)b->shape.dim[1], y, &epi);
}

/* With A' = op(A) (M, K), B' = op(B) (K, N):
 *   dA' = alpha dY B'^T, so dA = alpha dY B'^T (transA = 0) or alpha B' dY^T (transA = 1);
 *   dB' = alpha A'^T dY, so dB = alpha A'^T dY (transB = 0) or alpha dY^T A' (transB = 1);
 *   dC  = beta dY summed over the dims C is broadcast along (nothing when beta == 0, as
 *         the forward then ignores C). */
static void gemm_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    const Tensor *a = in[0], *b = in[1], *c = dense_opt_tensor(n, in, 2);
    Tensor *da = din[0], *db = din[1], *dc = n->n_in > 2 ? din[2] : NULL;
    OpParams tmp;
    const GemmParams *p = &op_params(n, &tmp, NULL)->gemm;
    bool ta = p->trans_a, tb = p->trans_b;
    float alpha = p->alpha, beta = p->beta;
    int m = (int)out->shape.dim[0], nn = (int)out->shape.dim[1];
    int k = (int)a->shape.dim[ta ? 0 : 1];
    int lda = (int)a->shape.dim[1], ldb = (int)b->shape.dim[1];
    const float *dy = tensor_f32(dout); /* (M, N) */
    if (da) {
        if (!ta) /* dA (M, K) = alpha dY (M, N) B'^T (N, K) */
            sgemm(false, !tb, m, k, nn, alpha, dy, nn, tensor_f32(b), ldb, tensor_f32(da), k,
                  &sgemm_accumulate);
        else     /* dA (K, M) = alpha B' (K, N) dY^T (N, M) */
            sgemm(tb, true, k, m, nn, alpha, tensor_f32(b), ldb, dy, nn, tensor_f32(da), m,
                  &sgemm_accumulate);
    }
    if (db) {
        if (!tb) /* dB (K, N) = alpha A'^T (K, M) dY (M, N) */
            sgemm(!ta, false, k, nn, m, alpha, tensor_f32(a), lda, dy, nn, tensor_f32(db), nn,
                  &sgemm_accumulate);
        else     /* dB (N, K) = alpha dY^T (N, M) A' (M, K) */
            sgemm(true, ta, nn, k, m, alpha, dy, nn, tensor_f32(a), lda, tensor_f32(db), k,
                  &sgemm_accumulate);
    }
    if (dc && c && beta != 0.0f) {
        float *g = tensor_f32(dc); /* () (N) (1, N) (M, 1) (M, N) ... */
        int64_t cr = c->shape.ndim == 2 ? c->shape.dim[0] : 1;
        int64_t cc = c->shape.ndim >= 1 ? c->shape.dim[c->shape.ndim - 1] : 1;
        if (cr == m && cc == nn) {
            for (int64_t i = 0; i < (int64_t)m * nn; i++)
                g[i] += beta * dy[i];
        } else if (cc == nn) { /* one row, broadcast down M */
            dense_sum_rows(dy, m, nn, beta, g);
        } else {               /* one column: each row summed, then over M when cr == 1 */
            double total = 0.0;
            for (int64_t i = 0; i < m; i++) {
                double s = 0.0;
                for (int64_t j = 0; j < nn; j++)
                    s += dy[i * nn + j];
                if (cr == 1)
                    total += s;
                else
                    g[i] = (float)(g[i] + (double)beta * s);
            }
            if (cr == 1)
                g[0] = (float)(g[0] + (double)beta * total);
        }
    }
    (void)rc;
}

/* ---- Dense: Y (..., OUT) = X (..., IN) W^T + b ------------------------------------------ */

static QsStatus dense_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    const Shape *x = in[0], *w = dense_opt_shape(n, in, 1), *b = dense_opt_shape(n, in, 2);
    char sx[96], sw[96], sb[96];
    if (dense_required(n, w, "W", err) || op_expect_rank(n, x, 2, QS_MAX_DIMS, "input", err) ||
        op_expect_rank(n, w, 2, 2, "weight", err) || dense_check_dims(n, x, "input", err) ||
        dense_check_dims(n, w, "weight", err))
        return err->code;
    int64_t inf = x->dim[x->ndim - 1], outf = w->dim[0];
    if (w->dim[1] != inf)
        return qs_fail(err, QS_ESHAPE,
                       "Dense '%s': weight (OUT, IN) = %s expects %lld input features, input %s has %lld",
                       n->name, shape_format(w, sw, sizeof sw), (long long)w->dim[1],
                       shape_format(x, sx, sizeof sx), (long long)inf);
    if (b && (b->ndim != 1 || b->dim[0] != outf))
        return qs_fail(err, QS_ESHAPE, "Dense '%s': bias has shape %s, expected (%lld)", n->name,
                       shape_format(b, sb, sizeof sb), (long long)outf);
    if (dense_check_rows(n, shape_span(x, 0, x->ndim - 1), err))
        return err->code;
    *out = *x;
    out->dim[x->ndim - 1] = outf;
    return QS_OK;
}

static void dense_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const Tensor *x = in[0], *w = in[1], *b = dense_opt_tensor(n, in, 2);
    int inf = (int)w->shape.dim[1], outf = (int)w->shape.dim[0];
    int rows = (int)shape_span(&x->shape, 0, x->shape.ndim - 1);
    float *y = tensor_f32(out); /* (rows, OUT) */
    SgemmEpi epi = dense_epi(rc);
    epi.bias_n = b ? tensor_f32(b) : NULL; /* (OUT) */
    dense_sgemm(rc, false, true, rows, outf, inf, 1.0f, tensor_f32(x), inf, tensor_f32(w), inf,
                y, &epi);
}

/* dX (rows, IN) += dY (rows, OUT) W (OUT, IN); dW (OUT, IN) += dY^T X; db += dY summed
 * over rows. */
static void dense_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                           const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    const Tensor *x = in[0], *w = in[1], *b = dense_opt_tensor(n, in, 2);
    Tensor *dx = din[0], *dw = din[1], *db = n->n_in > 2 ? din[2] : NULL;
    int inf = (int)w->shape.dim[1], outf = (int)w->shape.dim[0];
    int rows = (int)shape_span(&x->shape, 0, x->shape.ndim - 1);
    const float *dy = tensor_f32(dout); /* (rows, OUT) */
    if (dx)
        sgemm(false, false, rows, inf, outf, 1.0f, dy, outf, tensor_f32(w), inf, tensor_f32(dx),
              inf, &sgemm_accumulate);
    if (dw)
        sgemm(true, false, outf, inf, rows, 1.0f, dy, outf, tensor_f32(x), inf, tensor_f32(dw),
              inf, &sgemm_accumulate);
    if (db && b)
        dense_sum_rows(dy, rows, outf, 1.0, tensor_f32(db));
    (void)out;
    (void)rc;
}

/* ---- MatMul: numpy.matmul -------------------------------------------------------------- */

static QsStatus matmul_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    const Shape *a = in[0], *b = dense_opt_shape(n, in, 1);
    MatMulGeom g;
    if (dense_required(n, b, "B", err) || op_expect_rank(n, a, 1, QS_MAX_DIMS, "A", err) ||
        op_expect_rank(n, b, 1, QS_MAX_DIMS, "B", err) || dense_check_dims(n, a, "A", err) ||
        dense_check_dims(n, b, "B", err) || geom_matmul(n, a, b, &g, out, err))
        return err->code;
    /* The shared-B path stacks all of A's rows into one product. */
    return dense_check_rows(n, shape_numel(a) / g.k, err);
}

static void matmul_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const Tensor *a = in[0], *b = in[1];
    MatMulGeom g;
    QS_ASSERT(geom_matmul(n, &a->shape, &b->shape, &g, NULL, NULL) == QS_OK);
    const float *av = tensor_f32(a), *bv = tensor_f32(b);
    float *y = tensor_f32(out);
    int m = (int)g.m, k = (int)g.k, nn = (int)g.n;
    SgemmEpi epi = dense_epi(rc);
    int64_t batch_b = 1;
    for (int i = 0; i < g.rank; i++)
        batch_b *= g.bb[i];
    if (batch_b == 1) {
        /* One B for every batch entry: the output batch is A's, so A's rows stack. */
        int rows = (int)(shape_numel(&a->shape) / g.k);
        sgemm(false, false, rows, nn, k, 1.0f, av, k, bv, nn, y, nn, &epi);
        return;
    }
    int64_t total = 1;
    for (int i = 0; i < g.rank; i++)
        total *= g.bo[i];
    for (int64_t t = 0; t < total; t++) {
        int64_t oa, ob;
        geom_matmul_entry(&g, t, &oa, &ob);
        sgemm(false, false, m, nn, k, 1.0f, av + oa * g.m * g.k, k, bv + ob * g.k * g.n, nn,
              y + t * g.m * g.n, nn, &epi);
    }
}

/* Per output batch entry t (mapped to A entry ia and B entry ib as in the forward):
 *   dA[ia] += dY[t] B[ib]^T and dB[ib] += A[ia]^T dY[t].
 * Several t share an ia (or ib) along A's (or B's) broadcast dims; the accumulating sgemm
 * sums them, which is the reduction over broadcast dims. numpy's 1-D promotion needs no
 * care: a (K) operand is the same memory as (1, K) or (K, 1). */
static void matmul_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                            const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    const Tensor *a = in[0], *b = in[1];
    Tensor *da = din[0], *db = din[1];
    MatMulGeom g;
    QS_ASSERT(geom_matmul(n, &a->shape, &b->shape, &g, NULL, NULL) == QS_OK);
    const float *av = tensor_f32(a), *bv = tensor_f32(b), *dy = tensor_f32(dout);
    int m = (int)g.m, k = (int)g.k, nn = (int)g.n;
    int64_t batch_b = 1;
    for (int i = 0; i < g.rank; i++)
        batch_b *= g.bb[i];
    if (batch_b == 1) {
        /* The forward's stacked product: dA (rows, K) = dY (rows, N) B^T,
         * dB (K, N) = A^T (K, rows) dY (rows, N). */
        int rows = (int)(shape_numel(&a->shape) / g.k);
        if (da)
            sgemm(false, true, rows, k, nn, 1.0f, dy, nn, bv, nn, tensor_f32(da), k,
                  &sgemm_accumulate);
        if (db)
            sgemm(true, false, k, nn, rows, 1.0f, av, k, dy, nn, tensor_f32(db), nn,
                  &sgemm_accumulate);
        (void)out;
        (void)rc;
        return;
    }
    int64_t total = 1;
    for (int i = 0; i < g.rank; i++)
        total *= g.bo[i];
    for (int64_t t = 0; t < total; t++) {
        int64_t oa, ob;
        geom_matmul_entry(&g, t, &oa, &ob);
        const float *dyt = dy + t * g.m * g.n; /* (M, N) */
        if (da)
            sgemm(false, true, m, k, nn, 1.0f, dyt, nn, bv + ob * g.k * g.n, nn,
                  tensor_f32(da) + oa * g.m * g.k, k, &sgemm_accumulate);
        if (db)
            sgemm(true, false, k, nn, m, 1.0f, av + oa * g.m * g.k, k, dyt, nn,
                  tensor_f32(db) + ob * g.k * g.n, nn, &sgemm_accumulate);
    }
    (void)out;
    (void)rc;
}

const OpDef op_gemm_def = {
    .name = "Gemm", .min_in = 2, .max_in = 3, .infer = gemm_infer, .forward = gemm_forward,
    .packed_bytes = gemm_packed_bytes,
    .parse = gemm_parse,
    .int8 = { .step = OPQ_UNIT, .qp = OPQ_QP_OWN, .linear = OPLIN_GEMM },
    .backward = gemm_backward, .fuses_clamp = true,
};
const OpDef op_dense_def = {
    .name = "Dense", .min_in = 2, .max_in = 3, .infer = dense_infer, .forward = dense_forward,
    .packed_bytes = dense_packed_bytes,
    .int8 = { .step = OPQ_UNIT, .qp = OPQ_QP_OWN, .linear = OPLIN_DENSE },
    .backward = dense_backward, .fuses_clamp = true,
};
const OpDef op_matmul_def = {
    .name = "MatMul", .min_in = 2, .max_in = 2, .infer = matmul_infer, .forward = matmul_forward,
    .int8 = { .step = OPQ_UNIT, .qp = OPQ_QP_OWN, .linear = OPLIN_MATMUL },
    .backward = matmul_backward, .fuses_clamp = true,
};
