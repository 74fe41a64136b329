/* ONNX ConvTranspose (https://onnx.ai/onnx/operators/onnx__ConvTranspose.html), 1-D and
 * 2-D, explicit pads (auto_pad NOTSET; output_shape is turned into pads by the importer).
 * X (N, C, [H,] W), W (C, OC/group, [KH,] KW), optional B (OC). Attributes: strides,
 * pads (begins then ends), dilations, output_padding (added at the end of each axis),
 * group, kernel_shape (must match W). Output length per axis:
 *   (in - 1) * stride - pad_begin - pad_end + (k - 1) * dilation + 1 + output_padding.
 *
 * Per group, over the whole batch's columns in chunks (kern/conv_cols.h): col (OCg*KH*KW,
 * cols) = Wg^T (OCg*KH*KW, Cg) * Xg (Cg, cols), one sgemm, then col2im scatters col into
 * Y, which holds the bias (the adjoint of Conv's im2col, with the roles of input and output
 * swapped). Backward: im2col of dY gives dcol; dW_g += Xg * dcol^T and then Xg's panel
 * takes Wg * dcol, which is added into dX; dB sums dY per channel in double. A chunk
 * holds whole samples or a fixed piece of one, so a sample's sums do not depend on the
 * batch. Scratch: the column panel and X's panel (Cg rows). */
#include <limits.h>
#include <string.h>

#include "kern/backward.h"
#include "kern/conv_cols.h"
#include "kern/sgemm.h"
#include "ops/geometry.h"
#include "ops/op.h"

typedef struct CtGeom {
    int sp;
    int64_t n, c, h, w;          /* input (N, C, H, W); H = 1 for 1-D */
    int64_t oc, oh, ow;
    Window win;                  /* the end pads only shape the output */
    int64_t group, cg, ocg;
} CtGeom;

static QsStatus ct_geom(const Node *n, const Shape *x, const Shape *w, CtGeom *g, QsError *err)
{
    char sx[96], sw[96];
    memset(g, 0, sizeof *g);
    if (op_expect_rank(n, x, 3, 4, "input", err))
        return QS_ESHAPE;
    if (!w || w->ndim != x->ndim)
        return qs_fail(err, QS_ESHAPE, "ConvTranspose '%s': weight has shape %s, expected rank %d",
                       n->name, w ? shape_format(w, sw, sizeof sw) : "(none)", x->ndim);
    for (int i = 0; i < x->ndim; i++)
        if (x->dim[i] < (i == 0 ? 0 : 1) || x->dim[i] > INT_MAX || w->dim[i] < 1 ||
            w->dim[i] > INT_MAX)
            return qs_fail(err, QS_ESHAPE, "ConvTranspose '%s': input %s or weight %s has a "
                           "dimension out of range", n->name, shape_format(x, sx, sizeof sx),
                           shape_format(w, sw, sizeof sw));
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err ? err->code : QS_EINVAL;
    const WindowParams *p = &prm->win;
    int sp = g->sp = x->ndim - 2;
    g->n = x->dim[0];
    g->c = x->dim[1];
    g->h = sp == 2 ? x->dim[2] : 1;
    g->w = x->dim[x->ndim - 1];
    g->group = p->group;
    if (g->group < 1 || g->group > g->c || g->c % g->group != 0)
        return qs_fail(err, QS_EINVAL,
                       "ConvTranspose '%s': group %lld does not divide the %lld input channels",
                       n->name, (long long)g->group, (long long)g->c);
    if (w->dim[0] != g->c)
        return qs_fail(err, QS_ESHAPE,
                       "ConvTranspose '%s': weight %s has %lld input channels, input has %lld",
                       n->name, shape_format(w, sw, sizeof sw), (long long)w->dim[0],
                       (long long)g->c);
    g->cg = g->c / g->group;
    g->ocg = w->dim[1];
    g->oc = g->ocg * g->group;
    int64_t st[2], dl[2], pd[4], opad[2];
    if (geom_ints(n, "strides", &p->strides, sp, 1, 1, st, err) ||
        geom_ints(n, "dilations", &p->dilations, sp, 1, 1, dl, err) ||
        geom_ints(n, "pads", &p->pads, 2 * sp, 0, 0, pd, err) ||
        geom_ints(n, "output_padding", &p->output_padding, sp, 0, 0, opad, err))
        return QS_EINVAL;
    int nk = p->kernel_shape.n;
    if (nk >= 0) {
        bool ok = nk == sp;
        for (int i = 0; ok && i < sp; i++)
            ok = p->kernel_shape.v[i] == w->dim[2 + i];
        if (!ok)
            return qs_fail(err, QS_ESHAPE, "ConvTranspose '%s': kernel_shape does not match "
                           "weight %s", n->name, shape_format(w, sw, sizeof sw));
    }
    const int64_t ks[2] = { w->dim[2], w->dim[w->ndim - 1] };
    geom_window(sp, sp == 2 ? ks : ks + 1, st, dl, pd, &g->win);
    const Window *k = &g->win;
    const int64_t in_[2] = { g->h, g->w }, k_[2] = { k->kh, k->kw }, s_[2] = { k->sh, k->sw };
    const int64_t d_[2] = { k->dh, k->dw }, p0[2] = { k->pt, k->pl }, p1[2] = { k->pb, k->pr };
    int64_t o_[2] = { 1, 1 }, op_[2] = { 0, 0 };
    for (int i = 0; i < sp; i++) {
        int a = 2 - sp + i;
        op_[a] = opad[i];
        if (op_[a] >= s_[a] && op_[a] >= d_[a])
            return qs_fail(err, QS_EINVAL, "ConvTranspose '%s': output_padding %lld must be "
                           "below the stride or the dilation", n->name, (long long)op_[a]);
    }
    for (int a = 2 - sp; a < 2; a++) {
        int64_t len = geom_transposed_len(in_[a], k_[a], s_[a], d_[a], p0[a], p1[a], op_[a]);
        if (len < 1 || len > INT_MAX)
            return qs_fail(err, QS_ESHAPE, "ConvTranspose '%s': output axis %d would have "
                           "%lld elements", n->name, a + x->ndim - 2, (long long)len);
        o_[a] = len;
    }
    g->oh = o_[0], g->ow = o_[1];
    int64_t rows, hw, col;
    if (__builtin_mul_overflow(g->ocg, g->win.kh * g->win.kw, &rows) || rows > INT_MAX ||
        __builtin_mul_overflow(g->h, g->w, &hw) || hw > INT_MAX ||
        __builtin_mul_overflow(rows, hw, &col) || col > INT64_MAX / (int64_t)sizeof(float))
        return qs_fail(err, QS_ESHAPE, "ConvTranspose '%s': input %s with weight %s is too large",
                       n->name, shape_format(x, sx, sizeof sx), shape_format(w, sw, sizeof sw));
    return QS_OK;
}

static QsStatus ct_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    const Shape *x = in[0], *w = n->n_in > 1 ? in[1] : NULL, *b = n->n_in > 2 ? in[2] : NULL;
    CtGeom g;
    if (!x || !w)
        return qs_fail(err, QS_EFORMAT, "ConvTranspose '%s': inputs X and W are required",
                       n->name);
    if (ct_geom(n, x, w, &g, err))
        return err->code;
    if (b && (b->ndim != 1 || b->dim[0] != g.oc)) {
        char sb[96];
        return qs_fail(err, QS_ESHAPE, "ConvTranspose '%s': bias has shape %s, expected (%lld)",
                       n->name, shape_format(b, sb, sizeof sb), (long long)g.oc);
    }
    *out = *x;
    out->dim[1] = g.oc;
    if (g.sp == 2)
        out->dim[2] = g.oh;
    out->dim[x->ndim - 1] = g.ow;
    return QS_OK;
}

/* The geometry col2im and im2col see: a conv from Y's planes (OCg channels) to X's
 * positions, whose taps are ConvTranspose's. */
static ConvPlane ct_plane(const CtGeom *g)
{
    const Window *k = &g->win;
    return (ConvPlane){ .c = g->ocg, .h = g->oh, .w = g->ow, .oh = g->h, .ow = g->w,
                        .kh = k->kh, .kw = k->kw, .sh = k->sh, .sw = k->sw, .dh = k->dh,
                        .dw = k->dw, .pt = k->pt, .pl = k->pl };
}

/* Chunks of the batch's columns: each holds the column panel and X's panel. */
static ConvChunks ct_chunks(const CtGeom *g)
{
    return conv_chunks(g->n, g->h * g->w, g->ocg * g->win.kh * g->win.kw + g->cg);
}

static size_t ct_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    CtGeom g;
    if (n->n_in < 2 || !in[1] || ct_geom(n, in[0], in[1], &g, NULL))
        return 0;
    ConvChunks ch = ct_chunks(&g);
    return (size_t)(g.ocg * g.win.kh * g.win.kw + g.cg) * (size_t)conv_chunks_cols(&ch) *
           sizeof(float);
}

/* The column panel (rows, cols) and X's panel (Cg, cols) after it, from scratch. */
static float *ct_panels(const CtGeom *g, const ConvChunks *ch, const RunCtx *rc, float **xp)
{
    int64_t rows = g->ocg * g->win.kh * g->win.kw, cols = conv_chunks_cols(ch);
    QS_ASSERT(rc->scratch_bytes >= (size_t)((rows + g->cg) * cols) * sizeof(float));
    float *col = rc->scratch;
    *xp = col + rows * cols;
    return col;
}

static void ct_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    CtGeom g;
    ct_geom(n, &in[0]->shape, &in[1]->shape, &g, NULL);
    const float *x = tensor_f32(in[0]);                        /* (N, C, H, W) */
    const float *w = tensor_f32(in[1]);                        /* (C, OC/group, KH, KW) */
    const float *b = n->n_in > 2 && in[2] ? tensor_f32(in[2]) : NULL; /* (OC) */
    float *y = tensor_f32(out);                                /* (N, OC, OH, OW) */
    int64_t hw = g.h * g.w, ohw = g.oh * g.ow, rows = g.ocg * g.win.kh * g.win.kw;
    for (int64_t s = 0; s < g.n; s++)
        for (int64_t oc = 0; oc < g.oc; oc++) {
            float v = b ? b[oc] : 0.0f;
            float *yc = y + (s * g.oc + oc) * ohw;
            for (int64_t i = 0; i < ohw; i++)
                yc[i] = v;
        }
    ConvPlane pl = ct_plane(&g);
    ConvChunks ch = ct_chunks(&g);
    float *xp, *col = ct_panels(&g, &ch, rc, &xp);
    for (int64_t i = 0, count = conv_chunks_count(&ch); i < count; i++) {
        ConvChunk k = conv_chunk_at(&ch, i);
        int64_t cols = k.nb * k.np;
        for (int64_t gr = 0; gr < g.group; gr++) {
            conv_pack_rows(x + gr * g.cg * hw, g.c * hw, g.cg, hw, k, xp, cols);
            sgemm(true, false, rows, cols, g.cg, 1.0f, w + gr * g.cg * rows, rows, xp, cols, col,
                  cols, NULL);
            conv_col2im(&pl, col, cols, k, y + gr * g.ocg * ohw, g.oc * ohw);
        }
    }
}

static void ct_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                        const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    CtGeom g;
    ct_geom(n, &in[0]->shape, &in[1]->shape, &g, NULL);
    const float *x = tensor_f32(in[0]);  /* (N, C, H, W) */
    const float *w = tensor_f32(in[1]);  /* (C, OC/group, KH, KW) */
    const float *dy = tensor_f32(dout);  /* (N, OC, OH, OW) */
    int64_t hw = g.h * g.w, ohw = g.oh * g.ow, rows = g.ocg * g.win.kh * g.win.kw;
    if (n->n_in > 2 && din[2])
        backward_channel_sums(dy, g.n, g.oc, ohw, tensor_f32(din[2])); /* (OC) */
    if (!din[0] && !din[1])
        return;
    ConvPlane pl = ct_plane(&g);
    ConvChunks ch = ct_chunks(&g);
    float *xp, *col = ct_panels(&g, &ch, rc, &xp);
    for (int64_t i = 0, count = conv_chunks_count(&ch); i < count; i++) {
        ConvChunk k = conv_chunk_at(&ch, i);
        int64_t cols = k.nb * k.np;
        for (int64_t gr = 0; gr < g.group; gr++) {
            const float *wg = w + gr * g.cg * rows; /* (Cg, rows) */
            conv_im2col(&pl, dy + gr * g.ocg * ohw, g.oc * ohw, k, col, cols);
            if (din[1]) {
                conv_pack_rows(x + gr * g.cg * hw, g.c * hw, g.cg, hw, k, xp, cols);
                sgemm(false, true, g.cg, rows, cols, 1.0f, xp, cols, col, cols,
                      tensor_f32(din[1]) + gr * g.cg * rows, rows, &sgemm_accumulate);
            }
            if (din[0]) {
                sgemm(false, false, g.cg, cols, rows, 1.0f, wg, rows, col, cols, xp, cols, NULL);
                conv_unpack_rows(xp, cols, g.cg, hw, k, tensor_f32(din[0]) + gr * g.cg * hw,
                                 g.c * hw, true);
            }
        }
    }
    (void)out;
}

const OpDef op_convtranspose_def = {
    .name = "ConvTranspose", .min_in = 2, .max_in = 3, .infer = ct_infer,
    .parse = geom_parse,
    .scratch = ct_scratch, .forward = ct_forward, .backward = ct_backward
};
