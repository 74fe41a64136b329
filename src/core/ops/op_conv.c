/* ONNX Conv (https://onnx.ai/onnx/operators/onnx__Conv.html), 1-D and 2-D, explicit pads
 * only (auto_pad must be NOTSET). A 1-D conv runs as a 2-D conv with H = 1.
 *
 * Three kernels, picked per node from the geometry of one sample (never from the batch
 * size, so a sample's output is the same alone or in any batch, docs/reproducibility.md):
 *   - depthwise (group == C, one input channel per group): direct kernels (kern/dwconv.h);
 *   - pointwise (1x1, stride 1, no pads) with at least CONV_DIRECT_POSITIONS positions per
 *     sample: one sgemm per sample and group straight on the input and output;
 *   - everything else: one sgemm per group whose columns span the whole batch,
 *     C (OC/group, cols) = W (OC/group, K) x col (K, cols) with K = C/group * KH * KW,
 *     chunk by chunk (kern/conv_cols.h) so scratch stays bounded. The forward gathers
 *     col straight into the GEMM's packed slivers (an implicit GEMM, conv_gather_fill);
 *     where that does not pay (few output channels, whose GEMM reads a panel in place
 *     without packing it, unless the gather runs on vectors, kern/conv_cols.h's
 *     conv_gather_grid; narrow products; `set blas=openblas`) and in the backward a
 *     column panel is built (a one-sample chunk of a 1x1 conv reads x in place). The
 *     GEMM writes each sample's outputs into y itself where it can address them
 *     (sgemm_gather_runs_pay), else through an output panel. The weights are packed
 *     once per forward call, or once per run when the run caches them (RunCtx.packed).
 * The bias is the sgemm's initial value and a fused Relu/Clip (RunCtx.clamp) its epilogue,
 * so no pass over the output follows.
 *
 * Backward follows the same kernels. dB sums dY per channel in double. The gemm kernels
 * get dW (OC/group, K) += dY col^T in increasing sample order (one float accumulator per
 * element along the batch's columns), and dX through col' = W^T dY, which is the input
 * gradient itself for pointwise and is otherwise scattered back with col2im; the column
 * kernel's backward is kern/backward_conv.h (col and col' in the forward's column buffer,
 * dY's panel and packed operands in the thread's kern/thread_buffer.h block), the depthwise one
 * kern/backward_dw.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "kern/backward.h"
#include "kern/backward_conv.h"
#include "kern/backward_dw.h"
#include "kern/conv_cols.h"
#include "kern/conv_small.h"
#include "kern/dwconv.h"
#include "kern/sgemm.h"
#include "kern/simd.h"
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

/* Pointwise convs with fewer positions per sample go through the batch's column panel:
 * a per-sample sgemm that narrow would be all overhead. */
#define CONV_DIRECT_POSITIONS 64

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
    /* Per-sample sizes stay within int (M = OC/group, N = OH*OW, K = C/group*KH*KW), so
     * no index product below overflows. */
    int64_t kk, ohw, col;
    if (__builtin_mul_overflow(g->cg, g->win.kh * g->win.kw, &kk) || kk > INT_MAX ||
        __builtin_mul_overflow(g->oh, g->ow, &ohw) || ohw > INT_MAX ||
        __builtin_mul_overflow(kk, ohw, &col) || col > INT64_MAX / (int64_t)sizeof(float))
        return qs_fail(err, QS_ESHAPE, "Conv '%s': input %s with weight %s is too large",
                       n->name, shape_format(x, sx, sizeof sx), shape_format(w, sw, sizeof sw));
    return QS_OK;
}

/* A 1x1 kernel, stride 1, no pads: each sample's input is its own im2col matrix. */
static bool conv_unit_window(const ConvGeom *g)
{
    const Window *k = &g->win;
    return k->kh == 1 && k->kw == 1 && k->sh == 1 && k->sw == 1 && k->pt == 0 && k->pl == 0 &&
           k->pb == 0 && k->pr == 0;
}

static ConvKind conv_kind(const ConvGeom *g)
{
    if (g->group > 1 && g->cg == 1)
        return CONV_DEPTHWISE;
    if (conv_unit_window(g) && g->oh * g->ow >= CONV_DIRECT_POSITIONS)
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

/* One group of one sample as kern/conv_cols.h sees it. */
static ConvPlane conv_plane(const ConvGeom *g)
{
    const Window *k = &g->win;
    return (ConvPlane){ .c = g->cg, .h = g->h, .w = g->w, .oh = g->oh, .ow = g->ow,
                        .kh = k->kh, .kw = k->kw, .sh = k->sh, .sw = k->sw, .dh = k->dh,
                        .dw = k->dw, .pt = k->pt, .pl = k->pl };
}

/* The chunks of the batch's columns: each holds the column panel (K rows) and the output
 * panel (OC/group rows). */
static ConvChunks conv_col_chunks(const ConvGeom *g)
{
    return conv_chunks(g->n, g->oh * g->ow, g->cg * g->win.kh * g->win.kw + g->ocg);
}

/* Rows of the weight matrix (K = C/group * KH * KW). */
static int64_t conv_k(const ConvGeom *g) { return g->cg * g->win.kh * g->win.kw; }

/* Scratch: the column kernel's column buffer (K, cols) and output panel (OC/group, cols),
 * then each group's weights packed for the GEMM (kern/sgemm.h's sgemm_pack_a_at), packed
 * once per forward call instead of once per column block of every product (or once per
 * run, into RunCtx.packed). */
/* The forward's chunks when the GEMM gathers its columns from the input itself
 * (kern/conv_cols.h's conv_gather_fill): scratch holds the output panel only. */
static ConvChunks conv_gather_chunks(const ConvGeom *g)
{
    return conv_chunks(g->n, g->oh * g->ow, g->ocg);
}

static size_t conv_panel_bytes(const ConvGeom *g)
{
    if (conv_kind(g) != CONV_IM2COL)
        return 0;
    ConvChunks ch = conv_col_chunks(g), gch = conv_gather_chunks(g);
    size_t b = (size_t)(conv_k(g) + g->ocg) * (size_t)conv_chunks_cols(&ch) * sizeof(float);
    size_t bg = (size_t)g->ocg * (size_t)conv_chunks_cols(&gch) * sizeof(float);
    return ((b > bg ? b : bg) + 63) / 64 * 64;
}

/* A fused BatchNormalization's coefficients (RunCtx.bn), last in scratch: 3 x OC floats. */
static size_t conv_bn_bytes(const ConvGeom *g) { return (size_t)(3 * g->oc) * sizeof(float); }

/* The epilogue of output channels [off, off + OC/group): the per-channel arrays offset. */
static SgemmEpi group_epi(const SgemmEpi *e, int64_t off)
{
    SgemmEpi r = *e;
    if (r.bias_m)
        r.bias_m += off;
    if (r.sub_m) {
        r.sub_m += off;
        r.mul_m += off;
        r.add_m += off;
    }
    return r;
}

/* Where the fused BatchNormalization's coefficients start in scratch. */
static size_t conv_bn_at(const ConvGeom *g)
{
    if (conv_kind(g) == CONV_DEPTHWISE)
        return 0;
    return conv_panel_bytes(g) + (size_t)g->group * sgemm_pack_a_bytes(g->ocg, conv_k(g));
}

static size_t conv_scratch(const Node *n, const Shape *const *in, const Shape *out)
{
    ConvGeom g;
    (void)out;
    if (n->n_in < 2 || !in[1] || conv_geom(n, in[0], in[1], &g, NULL))
        return 0;
    return conv_bn_at(&g) + conv_bn_bytes(&g);
}

/* The column buffer (K, cols) and the output panel after it, from scratch. */
static float *conv_panels(const ConvGeom *g, const ConvChunks *ch, const RunCtx *rc,
                          float **panel)
{
    int64_t kk = conv_k(g), cols = conv_chunks_cols(ch);
    QS_ASSERT(rc->scratch_bytes >= (size_t)((kk + g->ocg) * cols) * sizeof(float));
    float *col = rc->scratch;
    *panel = col + kk * cols;
    return col;
}

/* The run's cache of a conv's packed weights (RunCtx.packed): the flags (packed_yet[0]:
 * the wide layout is packed, [1]: the narrow one), each group's weights in the layout for
 * products of many columns, then each group's in the layout of the narrow products that
 * sgemm transposes (kern/sgemm.h). Each layout is packed by the first product needing it,
 * so a run that never takes one route never fills (nor touches) that part. */
static size_t conv_wide_each(const ConvGeom *g) /* a multiple of 64 (kern/sgemm.h) */
{
    return sgemm_pack_a_bytes(g->ocg, conv_k(g));
}
static size_t conv_narrow_each(const ConvGeom *g)
{
    return sgemm_pack_b_bytes(conv_k(g), g->ocg);
}
static size_t conv_narrow_at(const ConvGeom *g)
{
    return OP_PACKED_FLAGS + (size_t)g->group * conv_wide_each(g);
}

static size_t conv_packed_bytes(const Node *n, const Shape *const *in)
{
    ConvGeom g;
    if (n->n_in < 2 || !in[1] || conv_geom(n, in[0], in[1], &g, NULL) ||
        conv_kind(&g) == CONV_DEPTHWISE)
        return 0;
    return conv_narrow_at(&g) + (size_t)g.group * conv_narrow_each(&g);
}

/* Each group's weights packed, pw[gi]; all NULL when no product of widest `cols` columns
 * would take the packed route. From the run's cache (packed into it the first time), or
 * without one packed into scratch. */
static void conv_pack_weights(const ConvGeom *g, const float *w, int64_t cols, const RunCtx *rc,
                              SgemmPacked **pw)
{
    int64_t kk = conv_k(g);
    bool pack = sgemm_packed_a_pays(g->ocg, cols);
    if (!pack) {
        for (int64_t gi = 0; gi < g->group; gi++)
            pw[gi] = NULL;
        return;
    }
    unsigned char *packed_yet = rc->packed;
    char *at;
    size_t each;
    if (rc->packed) {
        at = (char *)rc->packed + OP_PACKED_FLAGS;
        each = conv_wide_each(g);
    } else { /* never an offset on a NULL pointer: undefined even when unused */
        QS_ASSERT(rc->scratch && rc->scratch_bytes >= conv_bn_at(g));
        at = (char *)rc->scratch + conv_panel_bytes(g);
        each = conv_wide_each(g);
    }
    bool fill = !(packed_yet && packed_yet[0]);
    for (int64_t gi = 0; gi < g->group; gi++) {
        char *mem = at + (size_t)gi * each;
        if (fill)
            sgemm_pack_a_at(mem, false, g->ocg, kk, 1.0f, w + gi * g->ocg * kk, kk);
        pw[gi] = (SgemmPacked *)mem;
    }
    if (fill && packed_yet)
        packed_yet[0] = 1;
}

/* Group gi's weights in the narrow layout from the run's cache, every group's packed there
 * the first time (as W^T (K, OC/group), sgemm's second operand when it transposes). */
static const SgemmPacked *conv_narrow(const ConvGeom *g, const float *w, const RunCtx *rc,
                                      int64_t gi)
{
    int64_t kk = conv_k(g);
    unsigned char *packed_yet = rc->packed;
    char *at = (char *)rc->packed + conv_narrow_at(g);
    size_t each = conv_narrow_each(g);
    if (!packed_yet[1])
        for (int64_t i = 0; i < g->group; i++)
            sgemm_pack_b_at(at + (size_t)i * each, true, kk, g->ocg, w + i * g->ocg * kk, kk);
    packed_yet[1] = 1;
    return (const SgemmPacked *)(at + (size_t)gi * each);
}

/* C (OC/group, cols) = W_g B for group gi: from its packed weights when that route pays
 * for this width, from the cache's narrow layout for the products sgemm transposes, else
 * sgemm itself (the same bits every way, kern/sgemm.h). */
static void conv_gemm(const ConvGeom *g, const float *w, SgemmPacked *const *pw, int64_t gi,
                      int64_t cols, const float *b, int64_t ldb, float *c, int64_t ldc,
                      const SgemmEpi *epi, const RunCtx *rc)
{
    int64_t kk = conv_k(g);
    if (pw[gi] && sgemm_packed_a_pays(g->ocg, cols))
        sgemm_packed_a(pw[gi], false, cols, b, ldb, c, ldc, epi);
    else if (rc->packed && sgemm_packed_a_narrow_pays(g->ocg, cols, epi))
        sgemm_packed_a_narrow(conv_narrow(g, w, rc, gi), cols, b, ldb, c, ldc, epi);
    else
        sgemm(false, false, g->ocg, cols, kk, 1.0f, w + gi * g->ocg * kk, kk, b, ldb, c, ldc,
              epi);
}

/* The batch's columns, chunk by chunk: per group the GEMM of the packed weights with the
 * im2col columns gathered straight into its packed slivers (an implicit GEMM), into the
 * output (straight into y when the chunk is one sample or the GEMM can address y's
 * samples, sgemm_gather_runs_pay; else through the panel). False,
 * doing nothing, when that route does not pay (conv_forward_cols then runs). */
static bool conv_forward_gather(const ConvGeom *g, const float *x, const float *w,
                                const SgemmEpi *epi0, float *y, const RunCtx *rc,
                                SgemmPacked **pw)
{
    ConvPlane pl = conv_plane(g);
    ConvChunks ch = conv_gather_chunks(g);
    int64_t widest = conv_chunks_cols(&ch);
    /* a fast gather beats building the panel even for few output channels */
    bool grid = simd_level() == SIMD_AVX512 && conv_gather_grid(&pl);
    if (!sgemm_gather_pays(g->ocg, widest) && !(grid && sgemm_packed_a_pays(g->ocg, widest)))
        return false;
    conv_pack_weights(g, w, widest, rc, pw);
    float *out = rc->scratch;
    int64_t ohw = g->oh * g->ow, hw = g->h * g->w;
    for (int64_t i = 0, count = conv_chunks_count(&ch); i < count; i++) {
        ConvChunk k = conv_chunk_at(&ch, i);
        int64_t cols = k.nb * k.np;
        for (int64_t gi = 0; gi < g->group; gi++) {
            SgemmEpi epi = group_epi(epi0, gi * g->ocg);
            ConvGather cg = { &pl, x + gi * g->cg * hw, g->c * hw, k };
            SgemmGather gb = { conv_gather_fill, &cg };
            float *yg = y + gi * g->ocg * ohw;
            if (k.nb == 1)
                sgemm_packed_a_gather(pw[gi], &gb, cols, yg + k.b0 * g->oc * ohw + k.p0, ohw,
                                      &epi);
            else if (sgemm_gather_runs_pay(ohw)) /* each sample's columns straight into y */
                sgemm_packed_a_gather_runs(pw[gi], &gb, cols, yg + k.b0 * g->oc * ohw, ohw,
                                           ohw, g->oc * ohw, &epi);
            else {
                sgemm_packed_a_gather(pw[gi], &gb, cols, out, cols, &epi);
                conv_unpack_rows(out, cols, g->ocg, ohw, k, yg, g->oc * ohw, false);
            }
        }
    }
    return true;
}

/* The reference route: per chunk and group col = im2col(x), then W col into the output
 * (straight into y when the chunk is one sample, else through the panel). A chunk of one
 * sample of a 1x1 conv reads its columns from x in place: the same values. */
static void conv_forward_cols(const ConvGeom *g, const float *x, const float *w,
                              const SgemmEpi *epi0, float *y, const RunCtx *rc,
                              SgemmPacked **pw)
{
    ConvPlane pl = conv_plane(g);
    ConvChunks ch = conv_col_chunks(g);
    float *out, *col = conv_panels(g, &ch, rc, &out);
    int64_t ohw = g->oh * g->ow, hw = g->h * g->w;
    conv_pack_weights(g, w, conv_chunks_cols(&ch), rc, pw);
    for (int64_t i = 0, count = conv_chunks_count(&ch); i < count; i++) {
        ConvChunk k = conv_chunk_at(&ch, i);
        int64_t cols = k.nb * k.np;
        for (int64_t gi = 0; gi < g->group; gi++) {
            SgemmEpi epi = group_epi(epi0, gi * g->ocg);
            const float *b = col;
            int64_t ldb = cols;
            if (k.nb == 1 && conv_unit_window(g)) {
                b = x + (k.b0 * g->c + gi * g->cg) * hw + k.p0;
                ldb = hw;
            } else {
                conv_im2col(&pl, x + gi * g->cg * hw, g->c * hw, k, col, cols);
            }
            float *yg = y + gi * g->ocg * ohw;
            if (k.nb == 1)
                conv_gemm(g, w, pw, gi, cols, b, ldb, yg + k.b0 * g->oc * ohw + k.p0, ohw,
                          &epi, rc);
            else {
                conv_gemm(g, w, pw, gi, cols, col, cols, out, cols, &epi, rc);
                conv_unpack_rows(out, cols, g->ocg, ohw, k, yg, g->oc * ohw, false);
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
    const float *b = bt ? tensor_f32(bt) : NULL; /* (OC) */
    float *y = tensor_f32(out);      /* (N, OC, OH, OW) */
    int64_t ohw = g.oh * g.ow, hw = g.h * g.w;
    ConvKind kind = conv_kind(&g);
    float *bn = NULL; /* a fused BatchNormalization's sub, mul, add per channel */
    if (rc->bn) {
        QS_ASSERT(rc->scratch_bytes >= conv_bn_at(&g) + conv_bn_bytes(&g));
        bn = (float *)((char *)rc->scratch + conv_bn_at(&g));
        op_bn_coefs(rc->bn, rc->bn_in, bn, bn + g.oc, bn + 2 * g.oc);
    }
    if (kind == CONV_DEPTHWISE) {
        ConvPlane pl = conv_plane(&g);
        DwEpi epi = { b, rc->clamp && !bn, rc->clamp_lo, rc->clamp_hi };
        dwconv_forward(&pl, g.n, g.c, g.ocg, x, w, &epi, y);
        if (bn) /* the normalization, then the clamp, as its own pass */
            op_bn_apply(y, y, g.n, g.oc, ohw, bn, bn + g.oc, bn + 2 * g.oc, rc);
        return;
    }
    if (kind == CONV_IM2COL && !bn && g.group == 1 && sgemm_backend() == SGEMM_QSCOPE) {
        ConvPlane pl = conv_plane(&g); /* few output channels: kern/conv_small.h, same bits */
        if (conv_small_fits(&pl, g.oc)) {
            DwEpi de = { b, rc->clamp, rc->clamp_lo, rc->clamp_hi };
            conv_small_forward(&pl, g.n, g.oc, x, w, &de, y);
            return;
        }
    }
    SgemmEpi epi = { .bias_m = b, .clamp = rc->clamp, .lo = rc->clamp_lo, .hi = rc->clamp_hi };
    if (bn) {
        epi.sub_m = bn;
        epi.mul_m = bn + g.oc;
        epi.add_m = bn + 2 * g.oc;
    }
        SgemmPacked *pw_small[8], **pw = g.group <= 8 ? pw_small : xmalloc((size_t)g.group * sizeof *pw);
    if (kind == CONV_IM2COL) {
        if (!conv_forward_gather(&g, x, w, &epi, y, rc, pw))
            conv_forward_cols(&g, x, w, &epi, y, rc, pw);
    }
    else {
        conv_pack_weights(&g, w, ohw, rc, pw);
        for (int64_t s = 0; s < g.n; s++)
            for (int64_t gi = 0; gi < g.group; gi++) {
                SgemmEpi e = group_epi(&epi, gi * g.ocg);
                conv_gemm(&g, w, pw, gi, ohw, x + (s * g.c + gi * g.cg) * hw, hw,
                          y + (s * g.oc + gi * g.ocg) * ohw, ohw, &e, rc);
            }
    }
    if (pw != pw_small)
        free(pw);
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
    int64_t ohw = g.oh * g.ow, hw = g.h * g.w;
    if (dbt)
        backward_channel_sums(dy, g.n, g.oc, ohw, tensor_f32(dbt)); /* (OC) */
    if (!dx && !dw)
        return;
    ConvKind kind = conv_kind(&g);
    if (kind == CONV_DEPTHWISE) {
        ConvPlane pl = conv_plane(&g);
        backward_depthwise(&pl, g.n, g.c, g.ocg, x, w, dy, dx, dw); /* kern/backward_dw.h */
        return;
    }
    if (kind == CONV_IM2COL) {
        ConvPlane pl = conv_plane(&g);
        ConvChunks ch = conv_col_chunks(&g);
        float *panel, *col = conv_panels(&g, &ch, rc, &panel);
        ConvBackward cb = { &pl, &ch, g.n, g.group, g.ocg, x, w, dy, dx, dw, col, panel };
        backward_conv_cols(&cb); /* kern/backward_conv.h */
        return;
    }
    /* Pointwise: the input is its own column matrix (C/group, H*W) per sample. */
    for (int64_t b = 0; b < g.n; b++)
        for (int64_t gi = 0; gi < g.group; gi++) {
            int64_t xoff = (b * g.c + gi * g.cg) * hw;
            const float *dyg = dy + (b * g.oc + gi * g.ocg) * ohw; /* (OC/group, OH*OW) */
            const float *wg = w + gi * g.ocg * g.cg;                /* (OC/group, C/group) */
            if (dw)
                sgemm(false, true, g.ocg, g.cg, ohw, 1.0f, dyg, ohw, x + xoff, hw,
                      dw + gi * g.ocg * g.cg, g.cg, &sgemm_accumulate);
            if (dx)
                sgemm(true, false, g.cg, ohw, g.ocg, 1.0f, wg, g.cg, dyg, ohw, dx + xoff, hw,
                      &sgemm_accumulate);
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
    .packed_bytes = conv_packed_bytes,
    .forward = conv_forward,
    .backward = conv_backward,
    .fuses_clamp = true,
    .fuses_bn = true,
};
