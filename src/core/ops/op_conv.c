/* ONNX Conv (https://onnx.ai/onnx/operators/onnx__Conv.html), 1-D and 2-D, explicit pads
 * only (auto_pad must be NOTSET). A 1-D conv runs as a 2-D conv with H = 1.
 *
 * Three kernels, picked per node from its shapes:
 *   - depthwise (group == C, one input channel per group): a direct loop, since a per-group
 *     gemm would have K = KH*KW and be all overhead;
 *   - pointwise (1x1, stride 1, no pads): a per-group sgemm straight on the input;
 *   - everything else: im2col into RunCtx.scratch, then a per-group sgemm.
 * The im2col column matrix is (C/group * KH * KW, OH * OW) for one sample and one group.
 *
 * Backward follows the same three kernels. dB sums dY per channel in double. Depthwise
 * has direct loops (dX scatters one kernel tap at a time, dW is a dot product per tap in
 * double). The gemm kernels get dW (OC/group, C/group*KH*KW) += dY col^T, with col the
 * input itself for pointwise or its im2col otherwise, and dX through col' = W^T dY, which
 * is the input gradient itself for pointwise and otherwise is scattered back with col2im.
 * col and col' share the forward's scratch buffer one after the other, so the backward
 * needs no more scratch than the forward. */
#include <limits.h>
#include <string.h>

#include "kern/sgemm.h"
#include "ops/geometry.h"
#include "ops/op.h"

typedef struct ConvGeom {
    int sp;                      /* spatial rank: 1 or 2 */
    int64_t n, c, h, w;          /* input (N, C, H, W); H = 1 for 1-D */
    int64_t oc, oh, ow;          /* output channels and spatial size */
    Window win;
    int64_t group, cg, ocg;      /* groups, input and output channels per group */
} ConvGeom;

typedef enum { CONV_DEPTHWISE, CONV_POINTWISE, CONV_IM2COL } ConvKind;

static QsStatus conv_dims(const Node *n, const Shape *s, const char *what, QsError *err)
{
    char buf[96];
    for (int i = 0; i < s->ndim; i++)
        if (s->dim[i] < 1 || s->dim[i] > INT_MAX)
            return qs_fail(err, QS_ESHAPE, "Conv '%s': %s has shape %s, dimension %d out of range",
                           n->name, what, shape_format(s, buf, sizeof buf), i);
    return QS_OK;
}

/* Validates the node against input x and weight w and fills g. err may be NULL (forward
 * and scratch re-derive the geometry that infer already accepted). */
static QsStatus conv_geom(const Node *n, const Shape *x, const Shape *w, ConvGeom *g,
                          QsError *err)
{
    char sx[96], sw[96];
    memset(g, 0, sizeof *g);
    if (op_expect_rank(n, x, 3, 4, "input", err) || conv_dims(n, x, "input", err) ||
        conv_dims(n, w, "weight", err))
        return err ? err->code : QS_ESHAPE;
    if (w->ndim != x->ndim)
        return qs_fail(err, QS_ESHAPE, "Conv '%s': weight has shape %s, expected rank %d for input %s",
                       n->name, shape_format(w, sw, sizeof sw), x->ndim,
                       shape_format(x, sx, sizeof sx));
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
    g->oc = w->dim[0];
    g->group = p->group;
    if (g->group < 1 || g->group > g->c || g->c % g->group != 0)
        return qs_fail(err, QS_EINVAL, "Conv '%s': group %lld does not divide the %lld input channels",
                       n->name, (long long)g->group, (long long)g->c);
    if (g->oc % g->group != 0)
        return qs_fail(err, QS_ESHAPE,
                       "Conv '%s': weight has %lld output channels, not divisible by group %lld",
                       n->name, (long long)g->oc, (long long)g->group);
    g->cg = g->c / g->group;
    g->ocg = g->oc / g->group;
    if (w->dim[1] != g->cg) {
        if (g->group == 1)
            return qs_fail(err, QS_ESHAPE,
                           "Conv '%s': weight has %lld input channels per group, input has %lld",
                           n->name, (long long)w->dim[1], (long long)g->c);
        return qs_fail(err, QS_ESHAPE,
                       "Conv '%s': weight has %lld input channels per group, input has %lld "
                       "(%lld channels in %lld groups)",
                       n->name, (long long)w->dim[1], (long long)g->cg, (long long)g->c,
                       (long long)g->group);
    }
    int64_t st[2], dl[2], pd[4];
    if (geom_ints(n, "strides", &p->strides, sp, 1, 1, st, err) ||
        geom_ints(n, "dilations", &p->dilations, sp, 1, 1, dl, err) ||
        geom_ints(n, "pads", &p->pads, 2 * sp, 0, 0, pd, err))
        return err ? err->code : QS_EINVAL;
    int nk = p->kernel_shape.n;
    if (nk >= 0) {
        bool ok = nk == sp;
        for (int i = 0; ok && i < sp; i++)
            ok = p->kernel_shape.v[i] == w->dim[2 + i];
        if (!ok)
            return qs_fail(err, QS_ESHAPE, "Conv '%s': kernel_shape does not match weight %s",
                           n->name, shape_format(w, sw, sizeof sw));
    }
    const int64_t ks[2] = { w->dim[2], w->dim[w->ndim - 1] };
    geom_window(sp, sp == 2 ? ks : ks + 1, st, dl, pd, &g->win);
    const Window *k = &g->win;
    /* Per axis: the dilated kernel must fit in the padded input. */
    const int64_t in_[2] = { g->h, g->w }, k_[2] = { k->kh, k->kw }, s_[2] = { k->sh, k->sw };
    const int64_t d_[2] = { k->dh, k->dw }, p0[2] = { k->pt, k->pl }, p1[2] = { k->pb, k->pr };
    int64_t o_[2];
    for (int i = 2 - sp; i < 2; i++) {
        int64_t ext = geom_extent(k_[i], d_[i]), padded = in_[i] + p0[i] + p1[i];
        if (ext > padded)
            return qs_fail(err, QS_ESHAPE,
                           "Conv '%s': kernel extent %lld (kernel %lld, dilation %lld) exceeds "
                           "the padded input %lld along axis %d of %s",
                           n->name, (long long)ext, (long long)k_[i], (long long)d_[i],
                           (long long)padded, i + x->ndim - 2, shape_format(x, sx, sizeof sx));
        o_[i] = geom_out_len(in_[i], k_[i], s_[i], d_[i], p0[i], p1[i], false);
    }
    g->oh = sp == 2 ? o_[0] : 1;
    g->ow = o_[1];
    /* cblas takes ints: M = OC/group, N = OH*OW, K = C/group*KH*KW. */
    int64_t kk, ohw, col;
    if (__builtin_mul_overflow(g->cg, g->win.kh * g->win.kw, &kk) || kk > INT_MAX ||
        __builtin_mul_overflow(g->oh, g->ow, &ohw) || ohw > INT_MAX ||
        __builtin_mul_overflow(kk, ohw, &col) || col > INT64_MAX / (int64_t)sizeof(float))
        return qs_fail(err, QS_ESHAPE, "Conv '%s': input %s with weight %s is too large",
                       n->name, shape_format(x, sx, sizeof sx), shape_format(w, sw, sizeof sw));
    return QS_OK;
}

static ConvKind conv_kind(const ConvGeom *g)
{
    if (g->group > 1 && g->cg == 1)
        return CONV_DEPTHWISE;
    const Window *k = &g->win;
    if (k->kh == 1 && k->kw == 1 && k->sh == 1 && k->sw == 1 && k->pt == 0 && k->pl == 0 &&
        k->pb == 0 && k->pr == 0)
        return CONV_POINTWISE;
    return CONV_IM2COL;
}

static QsStatus conv_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    const Shape *x = in[0], *w = n->n_in > 1 ? in[1] : NULL, *b = n->n_in > 2 ? in[2] : NULL;
    ConvGeom g;
    if (!w)
        return qs_fail(err, QS_EFORMAT, "Conv '%s': input W is required", n->name);
    if (conv_geom(n, x, w, &g, err))
        return err->code;
    if (b && (b->ndim != 1 || b->dim[0] != g.oc)) {
        char sb[96];
        return qs_fail(err, QS_ESHAPE, "Conv '%s': bias has shape %s, expected (%lld)", n->name,
                       shape_format(b, sb, sizeof sb), (long long)g.oc);
    }
    *out = *x;
    out->dim[1] = g.oc;
    if (g.sp == 2)
        out->dim[2] = g.oh;
    out->dim[x->ndim - 1] = g.ow;
    return QS_OK;
}

/* The im2col column buffer; the backward reuses it for col and then col' (see the top). */
static size_t conv_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    ConvGeom g;
    (void)out;
    if (n->n_in < 2 || !in[1] || conv_geom(n, in[0], in[1], &g, NULL))
        return 0;
    if (conv_kind(&g) != CONV_IM2COL)
        return 0;
    return (size_t)(g.cg * g.win.kh * g.win.kw) * (size_t)(g.oh * g.ow) * sizeof(float);
}

/* One sample, one group: col (CG*KH*KW, OH*OW) from x (CG, H, W); padding reads as 0. */
static void conv_im2col(const ConvGeom *g, const float *x, float *col)
{
    int64_t ohw = g->oh * g->ow;
    for (int64_t ci = 0; ci < g->cg; ci++)
        for (int64_t ki = 0; ki < g->win.kh; ki++)
            for (int64_t kj = 0; kj < g->win.kw; kj++) {
                float *row = col + ((ci * g->win.kh + ki) * g->win.kw + kj) * ohw;
                int64_t offh = ki * g->win.dh - g->win.pt, offw = kj * g->win.dw - g->win.pl;
                int64_t oh0, oh1, ow0, ow1;
                geom_range(g->oh, g->h, g->win.sh, offh, &oh0, &oh1);
                geom_range(g->ow, g->w, g->win.sw, offw, &ow0, &ow1);
                memset(row, 0, (size_t)(oh0 * g->ow) * sizeof *row);
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    float *r = row + oh * g->ow;
                    const float *xr = x + (ci * g->h + oh * g->win.sh + offh) * g->w;
                    memset(r, 0, (size_t)ow0 * sizeof *r);
                    if (g->win.sw == 1)
                        memcpy(r + ow0, xr + ow0 + offw, (size_t)(ow1 - ow0) * sizeof *r);
                    else
                        for (int64_t ow = ow0; ow < ow1; ow++)
                            r[ow] = xr[ow * g->win.sw + offw];
                    memset(r + ow1, 0, (size_t)(g->ow - ow1) * sizeof *r);
                }
                memset(row + oh1 * g->ow, 0, (size_t)((g->oh - oh1) * g->ow) * sizeof *row);
            }
}

/* y[i] += a * x[i * s] for i < n. The unit-stride case runs in fixed blocks of 8 so that
 * -O2's cheap vectorizer (no epilogues) takes it; the result is the same either way. */
static void conv_axpy(float *restrict y, const float *restrict x, float a, int64_t n, int64_t s)
{
    int64_t i = 0;
    if (s == 1) {
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; j++)
                y[i + j] += a * x[i + j];
        for (; i < n; i++)
            y[i] += a * x[i];
        return;
    }
    for (; i < n; i++)
        y[i] += a * x[i * s];
}

/* Depthwise: each output channel oc reads only input channel oc / ocg. Accumulates one
 * kernel tap at a time over the valid output rectangle, so the inner loop has no bounds
 * checks. y must already hold the bias (or zeros). */
static void conv_depthwise(const ConvGeom *g, const float *x, const float *w, float *y)
{
    for (int64_t b = 0; b < g->n; b++)
        for (int64_t oc = 0; oc < g->oc; oc++) {
            const float *xp = x + (b * g->c + oc / g->ocg) * g->h * g->w; /* (H, W) */
            const float *wk = w + oc * g->win.kh * g->win.kw;             /* (KH, KW) */
            float *yp = y + (b * g->oc + oc) * g->oh * g->ow;             /* (OH, OW) */
            for (int64_t ki = 0; ki < g->win.kh; ki++)
                for (int64_t kj = 0; kj < g->win.kw; kj++) {
                    float wv = wk[ki * g->win.kw + kj];
                    int64_t offh = ki * g->win.dh - g->win.pt, offw = kj * g->win.dw - g->win.pl;
                    int64_t oh0, oh1, ow0, ow1;
                    geom_range(g->oh, g->h, g->win.sh, offh, &oh0, &oh1);
                    geom_range(g->ow, g->w, g->win.sw, offw, &ow0, &ow1);
                    for (int64_t oh = oh0; oh < oh1; oh++)
                        conv_axpy(yp + oh * g->ow + ow0,
                                  xp + (oh * g->win.sh + offh) * g->w + ow0 * g->win.sw + offw,
                                  wv, ow1 - ow0, g->win.sw);
                }
        }
}

/* One sample, one group: the adjoint of conv_im2col, dx (CG, H, W) += col (CG*KH*KW,
 * OH*OW) scattered back; padding taps are dropped. */
static void conv_col2im(const ConvGeom *g, const float *col, float *dx)
{
    int64_t ohw = g->oh * g->ow;
    for (int64_t ci = 0; ci < g->cg; ci++)
        for (int64_t ki = 0; ki < g->win.kh; ki++)
            for (int64_t kj = 0; kj < g->win.kw; kj++) {
                const float *row = col + ((ci * g->win.kh + ki) * g->win.kw + kj) * ohw;
                int64_t offh = ki * g->win.dh - g->win.pt, offw = kj * g->win.dw - g->win.pl;
                int64_t oh0, oh1, ow0, ow1;
                geom_range(g->oh, g->h, g->win.sh, offh, &oh0, &oh1);
                geom_range(g->ow, g->w, g->win.sw, offw, &ow0, &ow1);
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    const float *r = row + oh * g->ow;
                    float *xr = dx + (ci * g->h + oh * g->win.sh + offh) * g->w + offw;
                    for (int64_t ow = ow0; ow < ow1; ow++)
                        xr[ow * g->win.sw] += r[ow];
                }
            }
}

/* Depthwise backward, the transpose of conv_depthwise tap by tap: dX (N, C, H, W) +=
 * w * dY shifted, and dW[oc, tap] += sum over samples and positions of dY * x, in double.
 * Either pointer may be NULL. */
static void conv_depthwise_backward(const ConvGeom *g, const float *x, const float *w,
                                    const float *dy, float *dx, float *dw)
{
    for (int64_t oc = 0; oc < g->oc; oc++) {
        int64_t ic = oc / g->ocg;
        for (int64_t ki = 0; ki < g->win.kh; ki++)
            for (int64_t kj = 0; kj < g->win.kw; kj++) {
                float wv = w[(oc * g->win.kh + ki) * g->win.kw + kj];
                int64_t offh = ki * g->win.dh - g->win.pt, offw = kj * g->win.dw - g->win.pl;
                int64_t oh0, oh1, ow0, ow1;
                geom_range(g->oh, g->h, g->win.sh, offh, &oh0, &oh1);
                geom_range(g->ow, g->w, g->win.sw, offw, &ow0, &ow1);
                double acc = 0.0;
                for (int64_t b = 0; b < g->n; b++) {
                    const float *dyp = dy + (b * g->oc + oc) * g->oh * g->ow; /* (OH, OW) */
                    int64_t xo = (b * g->c + ic) * g->h * g->w;               /* (H, W) */
                    for (int64_t oh = oh0; oh < oh1; oh++) {
                        const float *dr = dyp + oh * g->ow;
                        int64_t xrow = xo + (oh * g->win.sh + offh) * g->w + offw;
                        if (dx) {
                            float *xr = dx + xrow;
                            for (int64_t ow = ow0; ow < ow1; ow++)
                                xr[ow * g->win.sw] += wv * dr[ow];
                        }
                        if (dw) {
                            const float *xr = x + xrow;
                            for (int64_t ow = ow0; ow < ow1; ow++)
                                acc += (double)dr[ow] * xr[ow * g->win.sw];
                        }
                    }
                }
                if (dw) {
                    float *d = dw + (oc * g->win.kh + ki) * g->win.kw + kj;
                    *d = (float)(*d + acc);
                }
            }
    }
}

static void conv_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const Tensor *xt = in[0], *wt = in[1], *bt = n->n_in > 2 ? in[2] : NULL;
    ConvGeom g;
    QS_ASSERT(conv_geom(n, &xt->shape, &wt->shape, &g, NULL) == QS_OK);
    const float *x = tensor_f32(xt); /* (N, C, H, W) */
    const float *w = tensor_f32(wt); /* (OC, C/group, KH, KW) */
    float *y = tensor_f32(out);      /* (N, OC, OH, OW) */
    int64_t ohw = g.oh * g.ow, hw = g.h * g.w, kk = g.cg * g.win.kh * g.win.kw;
    for (int64_t b = 0; b < g.n; b++)
        for (int64_t oc = 0; oc < g.oc; oc++) {
            float v = bt ? tensor_f32(bt)[oc] : 0.0f;
            float *yp = y + (b * g.oc + oc) * ohw;
            for (int64_t i = 0; i < ohw; i++)
                yp[i] = v;
        }
    ConvKind kind = conv_kind(&g);
    if (kind == CONV_DEPTHWISE) {
        conv_depthwise(&g, x, w, y);
        return;
    }
    float *col = rc->scratch; /* (C/group * KH * KW, OH * OW) */
    if (kind == CONV_IM2COL)
        QS_ASSERT(rc->scratch_bytes >= (size_t)(kk * ohw) * sizeof(float));
    for (int64_t b = 0; b < g.n; b++)
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + (b * g.c + gi * g.cg) * hw;
            const float *src = xg;
            if (kind == CONV_IM2COL) {
                conv_im2col(&g, xg, col);
                src = col;
            }
            sgemm(false, false, (int)g.ocg, (int)ohw, (int)kk, 1.0f, w + gi * g.ocg * kk, (int)kk,
                  src, (int)ohw, y + (b * g.oc + gi * g.ocg) * ohw, (int)ohw, &sgemm_accumulate);
        }
}

static void conv_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                          const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    const Tensor *xt = in[0], *wt = in[1], *bt = n->n_in > 2 ? in[2] : NULL;
    Tensor *dxt = din[0], *dwt = din[1], *dbt = n->n_in > 2 && bt ? din[2] : NULL;
    ConvGeom g;
    QS_ASSERT(conv_geom(n, &xt->shape, &wt->shape, &g, NULL) == QS_OK);
    const float *x = tensor_f32(xt);     /* (N, C, H, W) */
    const float *w = tensor_f32(wt);     /* (OC, C/group, KH, KW) */
    const float *dy = tensor_f32(dout);  /* (N, OC, OH, OW) */
    float *dx = dxt ? tensor_f32(dxt) : NULL; /* (N, C, H, W) */
    float *dw = dwt ? tensor_f32(dwt) : NULL; /* (OC, C/group, KH, KW) */
    int64_t ohw = g.oh * g.ow, hw = g.h * g.w, kk = g.cg * g.win.kh * g.win.kw;
    if (dbt) {
        float *db = tensor_f32(dbt); /* (OC) */
        for (int64_t oc = 0; oc < g.oc; oc++) {
            double acc = 0.0;
            for (int64_t b = 0; b < g.n; b++) {
                const float *dyp = dy + (b * g.oc + oc) * ohw;
                for (int64_t i = 0; i < ohw; i++)
                    acc += dyp[i];
            }
            db[oc] = (float)(db[oc] + acc);
        }
    }
    if (!dx && !dw)
        return;
    ConvKind kind = conv_kind(&g);
    if (kind == CONV_DEPTHWISE) {
        conv_depthwise_backward(&g, x, w, dy, dx, dw);
        return;
    }
    float *col = rc->scratch; /* (C/group * KH * KW, OH * OW): col, then col' */
    if (kind == CONV_IM2COL)
        QS_ASSERT(rc->scratch_bytes >= (size_t)(kk * ohw) * sizeof(float));
    for (int64_t b = 0; b < g.n; b++)
        for (int64_t gi = 0; gi < g.group; gi++) {
            int64_t xoff = (b * g.c + gi * g.cg) * hw;
            const float *dyg = dy + (b * g.oc + gi * g.ocg) * ohw; /* (OC/group, OH*OW) */
            const float *wg = w + gi * g.ocg * kk;                  /* (OC/group, kk) */
            if (dw) {
                const float *src = x + xoff;
                if (kind == CONV_IM2COL) {
                    conv_im2col(&g, x + xoff, col);
                    src = col;
                }
                sgemm(false, true, (int)g.ocg, (int)kk, (int)ohw, 1.0f, dyg, (int)ohw, src,
                      (int)ohw, dw + gi * g.ocg * kk, (int)kk, &sgemm_accumulate);
            }
            if (dx) {
                /* Pointwise: col' is (C/group, H*W), the input gradient itself. */
                bool direct = kind == CONV_POINTWISE;
                sgemm(true, false, (int)kk, (int)ohw, (int)g.ocg, 1.0f, wg, (int)kk, dyg,
                      (int)ohw, direct ? dx + xoff : col, (int)ohw,
                      direct ? &sgemm_accumulate : NULL);
                if (!direct)
                    conv_col2im(&g, col, dx + xoff);
            }
        }
    (void)out;
}

const OpDef op_conv_def = {
    .name = "Conv",
    .int8 = { .step = OPQ_UNIT, .qp = OPQ_QP_OWN, .linear = OPLIN_CONV },
    .min_in = 2,
    .max_in = 3,
    .parse = geom_parse,
    .infer = conv_infer,
    .scratch = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
};
