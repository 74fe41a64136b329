/* ONNX ConvTranspose (https://onnx.ai/onnx/operators/onnx__ConvTranspose.html), 1-D and
 * 2-D, explicit pads (auto_pad NOTSET; output_shape is turned into pads by the importer).
 * X (N, C, [H,] W), W (C, OC/group, [KH,] KW), optional B (OC). Attributes: strides,
 * pads (begins then ends), dilations, output_padding (added at the end of each axis),
 * group, kernel_shape (must match W). Output length per axis:
 *   (in - 1) * stride - pad_begin - pad_end + (k - 1) * dilation + 1 + output_padding.
 *
 * Per sample and group: col (OCg*KH*KW, H*W) = Wg^T (OCg*KH*KW, Cg) * Xg (Cg, H*W), one
 * sgemm, then col2im scatters col into Y (the adjoint of Conv's im2col). Backward:
 * im2col of dY gives dcol (OCg*KH*KW, H*W); dX_g = Wg * dcol and dW_g += Xg * dcol^T, two
 * sgemms; dB sums dY per channel in double. col and dcol use the same scratch buffer. */
#include <limits.h>
#include <string.h>

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

static size_t ct_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    CtGeom g;
    if (n->n_in < 2 || !in[1] || ct_geom(n, in[0], in[1], &g, NULL))
        return 0;
    return (size_t)(g.ocg * g.win.kh * g.win.kw) * (size_t)(g.h * g.w) * sizeof(float);
}

/* col2im (add col into y, one group's OCg channels) when `add`, else im2col (read y into
 * col, 0 outside). col (OCg*KH*KW, H*W); y (OCg, OH, OW). */
static void ct_cols(const CtGeom *g, float *col, float *y, bool add)
{
    int64_t hw = g->h * g->w;
    for (int64_t oc = 0; oc < g->ocg; oc++)
        for (int64_t ki = 0; ki < g->win.kh; ki++)
            for (int64_t kj = 0; kj < g->win.kw; kj++) {
                float *row = col + ((oc * g->win.kh + ki) * g->win.kw + kj) * hw;
                float *yc = y + oc * g->oh * g->ow;
                for (int64_t i = 0; i < g->h; i++) {
                    int64_t oh = i * g->win.sh - g->win.pt + ki * g->win.dh;
                    bool hin = oh >= 0 && oh < g->oh;
                    for (int64_t j = 0; j < g->w; j++) {
                        int64_t ow = j * g->win.sw - g->win.pl + kj * g->win.dw;
                        bool in = hin && ow >= 0 && ow < g->ow;
                        if (add) {
                            if (in)
                                yc[oh * g->ow + ow] += row[i * g->w + j];
                        } else {
                            row[i * g->w + j] = in ? yc[oh * g->ow + ow] : 0.0f;
                        }
                    }
                }
            }
}

static void ct_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    CtGeom g;
    ct_geom(n, &in[0]->shape, &in[1]->shape, &g, NULL);
    const float *x = tensor_f32(in[0]);                        /* (N, C, H, W) */
    const float *w = tensor_f32(in[1]);                        /* (C, OC/group, KH, KW) */
    const float *b = n->n_in > 2 && in[2] ? tensor_f32(in[2]) : NULL; /* (OC) */
    float *y = tensor_f32(out);                                /* (N, OC, OH, OW) */
    float *col = rc->scratch;
    int64_t hw = g.h * g.w, ohw = g.oh * g.ow, rows = g.ocg * g.win.kh * g.win.kw;
    for (int64_t s = 0; s < g.n; s++)
        for (int64_t oc = 0; oc < g.oc; oc++) {
            float v = b ? b[oc] : 0.0f;
            float *yc = y + (s * g.oc + oc) * ohw;
            for (int64_t i = 0; i < ohw; i++)
                yc[i] = v;
        }
    for (int64_t s = 0; s < g.n; s++)
        for (int64_t gr = 0; gr < g.group; gr++) {
            const float *xg = x + (s * g.c + gr * g.cg) * hw;
            const float *wg = w + gr * g.cg * rows;
            sgemm(true, false, (int)rows, (int)hw, (int)g.cg, 1.0f, wg, (int)rows, xg, (int)hw,
                  col, (int)hw, NULL);
            ct_cols(&g, col, y + (s * g.oc + gr * g.ocg) * ohw, true);
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
    float *col = rc->scratch;
    int64_t hw = g.h * g.w, ohw = g.oh * g.ow, rows = g.ocg * g.win.kh * g.win.kw;
    if (n->n_in > 2 && din[2]) {
        float *db = tensor_f32(din[2]); /* (OC) */
        for (int64_t oc = 0; oc < g.oc; oc++) {
            double acc = 0.0;
            for (int64_t s = 0; s < g.n; s++) {
                const float *d = dy + (s * g.oc + oc) * ohw;
                for (int64_t i = 0; i < ohw; i++)
                    acc += d[i];
            }
            db[oc] = (float)(db[oc] + acc);
        }
    }
    if (!din[0] && !din[1])
        return;
    for (int64_t s = 0; s < g.n; s++)
        for (int64_t gr = 0; gr < g.group; gr++) {
            ct_cols(&g, col, (float *)(dy + (s * g.oc + gr * g.ocg) * ohw), false);
            if (din[0])
                sgemm(false, false, (int)g.cg, (int)hw, (int)rows, 1.0f, w + gr * g.cg * rows,
                      (int)rows, col, (int)hw, tensor_f32(din[0]) + (s * g.c + gr * g.cg) * hw,
                      (int)hw, &sgemm_accumulate);
            if (din[1])
                sgemm(false, true, (int)g.cg, (int)rows, (int)hw, 1.0f,
                      x + (s * g.c + gr * g.cg) * hw, (int)hw, col, (int)hw,
                      tensor_f32(din[1]) + gr * g.cg * rows, (int)rows, &sgemm_accumulate);
        }
}

const OpDef op_convtranspose_def = {
    .name = "ConvTranspose", .min_in = 2, .max_in = 3, .infer = ct_infer,
    .parse = geom_parse,
    .scratch = ct_scratch, .forward = ct_forward, .backward = ct_backward
};
