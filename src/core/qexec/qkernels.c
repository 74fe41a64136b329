/* The step table of the quantized executor: one row per step kind, each with its integer
 * kernel and, behind io->fake, the fake-quantization twin that docs/quantization.md
 * compares it with. Integer arithmetic is exact: int8 x int8 products summed in int32
 * (qgemm, or a direct loop for depthwise), int32 bias, fixed-point requantization with
 * round half to even. The fake-quant twins run the float ops on dequantized values and
 * quantize-dequantize where the integer kernel rounds.
 *
 * Layouts: conv values are (N, C, H, W) (1-D as H = 1); linear units see their input as
 * (rows, K) with K the last axis, and write (rows, OC). */
#include <math.h>
#include <string.h>

#include "base/half.h"
#include "kern/clamp.h"
#include "kern/pool.h"
#include "kern/sgemm.h"
#include "ops/geometry.h"
#include "ops/op.h"
#include "qexec/qexec_internal.h"
#include "qexec/qgemm.h"
#include "qexec/qkernels.h"

/* ---- shared helpers ---------------------------------------------------------------- */

CDims qk_dims(const ConvAttrs *a, const Shape *x, const Shape *y)
{
    CDims d;
    d.n = x->dim[0];
    d.c = x->dim[1];
    d.h = a->sp == 2 ? x->dim[2] : 1;
    d.w = x->dim[x->ndim - 1];
    d.oc = y->dim[1];
    d.oh = a->sp == 2 ? y->dim[2] : 1;
    d.ow = y->dim[y->ndim - 1];
    d.cg = d.c / a->group;
    d.ocg = d.oc / a->group;
    return d;
}

static inline int32_t qk_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The output of a fake-quant step, in place: q = clamp(quant_q(y), lo, hi), y = dq(q);
 * NaN stays NaN. */
static void qk_fake_out(float *y, int64_t n, const QParams *p, int32_t lo, int32_t hi)
{
    for (int64_t i = 0; i < n; i++) {
        float v = y[i];
        if (v != v)
            continue;
        y[i] = quant_dq(qk_clamp(quant_q(v, p), lo, hi), p);
    }
}

static void qk_act_f32(const LinUnit *u, float *y, int64_t n)
{
    if (!u->has_act)
        return;
    clamp_f32(y, y, n, u->act_lo, u->act_hi); /* the Relu and Clip ops' own clamp */
}

void qkernels_gemm_f32(const float *x, int64_t rows, int64_t k, const float *w, int64_t oc,
                       const float *b, float *y)
{
    /* the Dense op's call (bias as each column's start), so an fp16 Dense unit matches
     * Dense on half weights bit for bit */
    SgemmEpi epi = { .bias_n = b };
    sgemm(false, true, rows, oc, k, 1.0f, x, k, w, k, y, oc, &epi);
}

/* The float conv of a unit with weights w and bias b (the op's own kernel). */
static void qk_conv_f32(const LinUnit *u, const Tensor *x, const float *w, const float *b,
                        Tensor *y, const StepIO *io)
{
    Tensor wt = tensor_view(DT_F32, u->wshape, (void *)w);
    Tensor bt = tensor_view(DT_F32, shape_of(1, u->oc), (void *)b);
    const Tensor *in[3] = { x, &wt, &bt };
    RunCtx rc = { .scratch = io->scratch, .scratch_bytes = io->scratch_bytes };
    op_table[OP_CONV]->forward(&u->fnode, in, y, &rc);
}

static size_t qk_conv_f32_scratch(const LinUnit *u, const Shape *x, const Shape *y)
{
    Shape bs = shape_of(1, u->oc);
    const Shape *in[3] = { x, &u->wshape, &bs };
    return op_table[OP_CONV]->scratch ? op_table[OP_CONV]->scratch(&u->fnode, in, y) : 0;
}

void qk_im2row_row(const ConvAttrs *a, const CDims *d, const int8_t *x, int8_t zp,
                   int64_t oh, int64_t ow, int8_t *r)
{
    int64_t h0 = oh * a->w.sh - a->w.pt, w0 = ow * a->w.sw - a->w.pl;
    bool inside_w = w0 >= 0 && w0 + (a->w.kw - 1) * a->w.dw < d->w;
    for (int64_t c = 0; c < d->cg; c++) {
        const int8_t *xc = x + c * d->h * d->w;
        for (int64_t i = 0; i < a->w.kh; i++) {
            int64_t ih = h0 + i * a->w.dh;
            if (ih < 0 || ih >= d->h) {
                memset(r, zp, (size_t)a->w.kw);
                r += a->w.kw;
                continue;
            }
            const int8_t *xr = xc + ih * d->w;
            if (inside_w) { /* the whole kernel row is inside: no checks */
                if (a->w.dw == 1 && a->w.kw == 3) {
                    r[0] = xr[w0];
                    r[1] = xr[w0 + 1];
                    r[2] = xr[w0 + 2];
                } else if (a->w.dw == 1)
                    memcpy(r, xr + w0, (size_t)a->w.kw);
                else
                    for (int64_t j = 0; j < a->w.kw; j++)
                        r[j] = xr[w0 + j * a->w.dw];
                r += a->w.kw;
                continue;
            }
            for (int64_t j = 0; j < a->w.kw; j++) {
                int64_t iw = w0 + j * a->w.dw;
                *r++ = iw >= 0 && iw < d->w ? xr[iw] : zp;
            }
        }
    }
}

static inline void qk_move8(int8_t *dst, const int8_t *src)
{
    uint64_t v;
    memcpy(&v, src, 8);
    memcpy(dst, &v, 8);
}

/* n bytes by 8-byte moves, the last one ending at n (overlapping): rows of a few dozen
 * bytes, where a memcpy call costs more than the copy. */
static inline void qk_copy_short(int8_t *dst, const int8_t *src, int64_t n)
{
    if (n < 8) { /* pieces of constant size, which compile to plain moves */
        int64_t k = 0;
        if (n & 4) {
            memcpy(dst, src, 4);
            k = 4;
        }
        if (n & 2) {
            memcpy(dst + k, src + k, 2);
            k += 2;
        }
        if (n & 1)
            dst[k] = src[k];
        return;
    }
    for (int64_t k = 0; k + 8 < n; k += 8)
        qk_move8(dst + k, src + k);
    qk_move8(dst + n - 8, src + n - 8);
}

enum { QK_PAD_BYTES = 16384 }; /* padded input rows on the stack, at most */

/* Output pixels (oh, ow0 .. ow0 + n - 1) of one sample and group. The kh input rows of a
 * slice of channels are first laid out padded with zp (row[k] is input column k - pl; a
 * row outside the input is all zp), so that every pixel's kw taps are then a plain copy
 * with no range checks. With kw <= 8 and no dilation a pixel's taps move as 8 bytes: the
 * extra bytes land on later taps of the same pixel, written after it, except near the end
 * of the pixel's row, where the copy is exact (in pieces of 4, 2 and 1 bytes). The two
 * passes are apart so that the 8-byte loads never wait on the byte stores that made the
 * row. Rows too wide for the buffer go pixel by pixel through qk_im2row_row. */
static void qk_im2row_span(const ConvAttrs *a, const CDims *d, const int8_t *x, int8_t zp,
                           int64_t oh, int64_t ow0, int64_t n, int8_t *out)
{
    const int64_t kh = a->w.kh, kw = a->w.kw, kk = d->cg * kh * kw, sw = a->w.sw;
    const int64_t rw = (ow0 + n - 1) * sw + (kw - 1) * a->w.dw + 1 + 8; /* + 8: slack */
    if (kh * rw > QK_PAD_BYTES) {
        for (int64_t t = 0; t < n; t++)
            qk_im2row_row(a, d, x, zp, oh, ow0 + t, out + t * kk);
        return;
    }
    int8_t pad[QK_PAD_BYTES];
    const int64_t k0 = a->w.pl > 0 ? a->w.pl : 0;
    const int64_t k1 = a->w.pl + d->w < rw - 8 ? a->w.pl + d->w : rw - 8;
    const bool move8 = kw <= 8 && a->w.dw == 1;
    const int64_t cs = QK_PAD_BYTES / (kh * rw); /* channels per slice */
    for (int64_t c0 = 0; c0 < d->cg; c0 += cs) {
        int64_t c1 = c0 + cs < d->cg ? c0 + cs : d->cg;
        memset(pad, zp, (size_t)((c1 - c0) * kh * rw));
        for (int64_t c = c0; c < c1; c++)
            for (int64_t i = 0; i < kh; i++) {
                int64_t ih = oh * a->w.sh - a->w.pt + i * a->w.dh;
                if (ih >= 0 && ih < d->h && k1 > k0)
                    qk_copy_short(pad + ((c - c0) * kh + i) * rw + k0,
                                  x + (c * d->h + ih) * d->w + k0 - a->w.pl, k1 - k0);
            }
        for (int64_t c = c0; c < c1; c++)
            for (int64_t i = 0; i < kh; i++) {
                int64_t off = (c * kh + i) * kw;
                const int8_t *src = pad + ((c - c0) * kh + i) * rw + ow0 * sw;
                int8_t *dst = out + off;
                if (move8 && off + 8 <= kk) {
                    for (int64_t t = 0; t < n; t++, src += sw, dst += kk)
                        qk_move8(dst, src);
                } else if (move8) { /* the pixel's last taps: exact pieces, no spill */
                    for (int64_t t = 0; t < n; t++, src += sw, dst += kk)
                        qk_copy_short(dst, src, kw);
                } else {
                    for (int64_t t = 0; t < n; t++, src += sw, dst += kk)
                        for (int64_t j = 0; j < kw; j++)
                            dst[j] = src[j * a->w.dw];
                }
            }
    }
}

void qk_im2row_rows(const ConvAttrs *a, const CDims *d, const int8_t *x, int64_t g, int8_t zp,
                    int64_t r0, int64_t r1, int8_t *col)
{
    const int64_t ohw = d->oh * d->ow, hw = d->h * d->w, per_in = d->c * hw;
    const int64_t kk = d->cg * a->w.kh * a->w.kw;
    const bool pointwise = a->w.kh == 1 && a->w.kw == 1 && a->w.sh == 1 && a->w.sw == 1 &&
                           a->w.pt == 0 && a->w.pl == 0 && d->oh == d->h && d->ow == d->w;
    for (int64_t r = r0; r < r1;) {
        int64_t b = r / ohw, p = r % ohw;
        int64_t run = ohw - p < r1 - r ? ohw - p : r1 - r;
        const int8_t *xs = x + b * per_in + g * d->cg * hw;
        int8_t *out = col + (r - r0) * kk;
        if (pointwise) { /* a transpose: rows are pixels, columns channels */
            qk_transpose_i8(xs + p, hw, d->cg, run, out, kk);
        } else {
            for (int64_t t = 0; t < run;) { /* a stretch of one output row */
                int64_t oh = (p + t) / d->ow, ow0 = (p + t) % d->ow;
                int64_t n = d->ow - ow0 < run - t ? d->ow - ow0 : run - t;
                qk_im2row_span(a, d, xs, zp, oh, ow0, n, out + t * kk);
                t += n;
            }
        }
        r += run;
    }
}

void qk_im2row(const ConvAttrs *a, const CDims *d, const int8_t *x, int8_t zp, int8_t *col)
{
    int64_t kk = d->cg * a->w.kh * a->w.kw;
    for (int64_t oh = 0; oh < d->oh; oh++)
        for (int64_t ow = 0; ow < d->ow; ow++)
            qk_im2row_row(a, d, x, zp, oh, ow, col + (oh * d->ow + ow) * kk);
}

/* ---- STEP_FLOAT / STEP_HALF: one node, the op's float forward -------------------------- */

static void step_float_run(const Step *s, StepIO *io)
{
    const Node *n = &io->g->nodes[s->head];
    RunCtx rc = { .scratch = io->scratch, .scratch_bytes = io->scratch_bytes };
    op_table[n->op]->forward(n, io->in, &io->out, &rc);
    if (s->kind == STEP_HALF)
        half_round_array(tensor_f32(&io->out), tensor_numel(&io->out));
}

static size_t step_float_scratch(const Step *s, const StepIO *io)
{
    const Node *n = &io->g->nodes[s->head];
    if (!op_table[n->op]->scratch)
        return 0;
    const Shape *in[QX_MAX_IN];
    for (int i = 0; i < n->n_in; i++)
        in[i] = io->in[i] ? &io->in[i]->shape : NULL;
    return op_table[n->op]->scratch(n, in, &io->out.shape);
}

/* ---- STEP_LIN_HALF: float32 arithmetic on half weights, output rounded to half ------- */

static void step_lin_half_run(const Step *s, StepIO *io)
{
    const LinUnit *u = s->lin;
    float *y = tensor_f32(&io->out);
    int64_t n = tensor_numel(&io->out);
    if (u->kind == LIN_GEMM)
        qkernels_gemm_f32(tensor_f32(io->in[0]), n / u->oc, u->k, u->whf, u->oc, u->bhf, y);
    else
        qk_conv_f32(u, io->in[0], u->whf, u->bhf, &io->out, io);
    qk_act_f32(u, y, n);
    half_round_array(y, n);
}

static size_t step_lin_float_scratch(const Step *s, const StepIO *io)
{
    const LinUnit *u = s->lin;
    return u->kind == LIN_GEMM ? 0 : qk_conv_f32_scratch(u, &io->in[0]->shape, &io->out.shape);
}

/* ---- STEP_LIN_DYN: run-time input quantization, int32 accumulation, float output ---- */

/* The run-time quantization rule of a dynamic step (its target's hybrid kernels). */
static TargetDynRule qk_dyn_rule(const Step *s)
{
    return s->target ? target_dyn_rule(s->target, s->lin->kind == LIN_DW) : TDYN_SAMPLE;
}

/* The values that share one range, as spans of one sample: a sample is one span, except
 * under a runtime's rule a dense layer's (rows, K) input (one span per row) and, under
 * XNNPACK's, a pointwise convolution's (a 1x1 kernel, stride 1, no padding, one group),
 * which XNNPACK runs as a dense layer over pixels (one span per pixel: its channels, HW
 * apart in qscope's layout). Span j starts at j len (step 1) or at j (step HW). */
typedef struct DynSpans {
    int64_t n, len, step;
} DynSpans;

static DynSpans qk_dyn_spans(const Step *s, const Shape *in)
{
    const LinUnit *u = s->lin;
    int64_t per_in = shape_numel(in) / in->dim[0];
    TargetDynRule rule = qk_dyn_rule(s);
    if (rule != TDYN_SAMPLE && u->kind == LIN_GEMM)
        return (DynSpans){ per_in / u->k, u->k, 1 };
    const Window *w = &u->ca.w;
    if (rule == TDYN_XNNPACK && u->kind == LIN_CONV && u->ca.group == 1 && w->kh == 1 &&
        w->kw == 1 && w->sh == 1 && w->sw == 1 && !w->pt && !w->pl && !w->pb && !w->pr) {
        int64_t c = in->dim[1];
        return (DynSpans){ per_in / c, c, per_in / c };
    }
    return (DynSpans){ 1, per_in, 1 };
}

static inline int64_t qk_span_start(const DynSpans *sp, int64_t j)
{
    return sp->step == 1 ? j * sp->len : j;
}

/* Span j of sample x: its parameters into *d, its codes into xq (at the span's places);
 * buf: sp->len floats and sp->len bytes of scratch for a strided span (else unused). */
static void qk_dyn_quant_span(const Step *s, const DynSpans *sp, int64_t j, const float *x,
                              int bits, TargetDyn *d, int8_t *xq, float *buf)
{
    int64_t o = qk_span_start(sp, j);
    if (sp->step == 1) {
        target_dyn_params(qk_dyn_rule(s), x + o, sp->len, bits, d);
        target_dyn_quantize(d, x + o, sp->len, xq + o);
        return;
    }
    int8_t *qb = (int8_t *)(buf + sp->len);
    for (int64_t i = 0; i < sp->len; i++)
        buf[i] = x[o + i * sp->step];
    target_dyn_params(qk_dyn_rule(s), buf, sp->len, bits, d);
    target_dyn_quantize(d, buf, sp->len, qb);
    for (int64_t i = 0; i < sp->len; i++)
        xq[o + i * sp->step] = qb[i];
}

/* The span of sample position i (a row of a dense layer's input, or a pixel). */
static inline int64_t qk_span_of(const DynSpans *sp, int64_t i)
{
    return sp->step == 1 ? i / sp->len : i % sp->step;
}

/* Scratch bytes of a sample's spans beyond its int8 codes: their parameters when there are
 * several, and a gather buffer (floats, then codes) for strided spans. */
static size_t qk_dyn_span_scratch(const DynSpans *sp)
{
    return (sp->n > 1 ? qk_align((size_t)sp->n * sizeof(TargetDyn)) : 0) +
           (sp->step != 1 ? qk_align((size_t)sp->len * (sizeof(float) + 1)) : 0);
}

/* xf = the input as the unit sees it: each span's codes, dequantized (s (q - z)). */
static void qk_dyn_fake_input(const Step *s, const Tensor *xt, int bits, float *xf, char *cur)
{
    const float *x = tensor_f32(xt);
    int64_t nb = xt->shape.dim[0], per_in = tensor_numel(xt) / nb;
    DynSpans sp = qk_dyn_spans(s, &xt->shape);
    if (qk_dyn_rule(s) == TDYN_SAMPLE) { /* quant_fake of each sample's range */
        for (int64_t b = 0; b < nb; b++) {
            TargetDyn d;
            target_dyn_params(TDYN_SAMPLE, x + b * per_in, per_in, bits, &d);
            for (int64_t i = 0; i < per_in; i++)
                xf[b * per_in + i] = quant_fake(x[b * per_in + i], &d.qp);
        }
        return;
    }
    int8_t *xq = qk_take(&cur, (size_t)per_in);
    float *buf = sp.step != 1 ? qk_take(&cur, (size_t)sp.len * (sizeof(float) + 1)) : NULL;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t j = 0; j < sp.n; j++) {
            TargetDyn d;
            qk_dyn_quant_span(s, &sp, j, x + b * per_in, bits, &d, xq, buf);
            int64_t o = qk_span_start(&sp, j);
            for (int64_t i = 0; i < sp.len; i++) {
                int64_t k = o + i * sp.step;
                xf[b * per_in + k] = d.scale * (float)((int32_t)xq[k] - d.qp.zero_point);
            }
        }
}

/* Scratch of qk_dyn_fake_input. */
static size_t qk_dyn_fake_scratch(const Step *s, const Shape *in)
{
    if (qk_dyn_rule(s) == TDYN_SAMPLE)
        return 0;
    DynSpans sp = qk_dyn_spans(s, in);
    return qk_align((size_t)(shape_numel(in) / in->dim[0])) +
           (sp.step != 1 ? qk_align((size_t)sp.len * (sizeof(float) + 1)) : 0);
}

static void step_lin_dyn_int(const Step *s, StepIO *io)
{
    const LinUnit *u = s->lin;
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(&io->out);
    int64_t nb = io->in[0]->shape.dim[0];
    int64_t per_in = tensor_numel(io->in[0]) / nb, per_out = tensor_numel(&io->out) / nb;
    DynSpans sp = qk_dyn_spans(s, &io->in[0]->shape);
    char *cur = io->scratch;
    int8_t *xq = qk_take(&cur, (size_t)per_in);
    TargetDyn one, *dp = sp.n > 1 ? qk_take(&cur, (size_t)sp.n * sizeof *dp) : &one;
    float *buf = sp.step != 1 ? qk_take(&cur, (size_t)sp.len * (sizeof(float) + 1)) : NULL;
    /* the rest of the scratch: int32 accumulators (gemm), or rows then accumulators (conv) */
    char *rest = cur;
    for (int64_t b = 0; b < nb; b++) {
        const float *xs = x + b * per_in;
        float *ys = y + b * per_out;
        for (int64_t j = 0; j < sp.n; j++)
            qk_dyn_quant_span(s, &sp, j, xs, io->bits, &dp[j], xq, buf);
        if (u->kind == LIN_GEMM) {
            int64_t rows = per_in / u->k;
            char *c2 = rest;
            int32_t *acc = qk_take(&c2, (size_t)(rows * u->oc) * sizeof(int32_t));
            qgemm_packed_store(&u->wp[0], rows, xq, u->k, c2, acc, u->oc);
            for (int64_t r = 0; r < rows; r++) {
                const TargetDyn *d = &dp[qk_span_of(&sp, r * u->k)];
                for (int64_t c = 0; c < u->oc; c++) {
                    int64_t a = acc[r * u->oc + c] - (int64_t)d->qp.zero_point * u->sumw[c];
                    ys[r * u->oc + c] = target_dyn_out(d, u->ws[c], a, u->bf[c]);
                }
            }
        } else {
            const TargetDyn *d = &dp[0]; /* one span per image, or a pointwise conv's pixel */
            Shape xs1 = io->in[0]->shape, ys1 = io->out.shape;
            xs1.dim[0] = ys1.dim[0] = 1;
            CDims dd = qk_dims(&u->ca, &xs1, &ys1);
            int64_t ohw = dd.oh * dd.ow;
            if (u->kind == LIN_DW) {
                int64_t kk = u->ca.w.kh * u->ca.w.kw;
                int32_t *acc = (int32_t *)rest;
                for (int64_t c = 0; c < dd.oc; c++) {
                    qk_dw_plane(&u->ca, &dd, xq + (c / dd.ocg) * dd.h * dd.w, u->wq + c * kk,
                                d->qp.zero_point, acc,
                                (int8_t *)rest + qk_align((size_t)ohw * sizeof(int32_t)),
                                simd_level());
                    /* the zero point is already subtracted per tap */
                    for (int64_t r = 0; r < ohw; r++)
                        ys[c * ohw + r] = target_dyn_out(d, u->ws[c], acc[r], u->bf[c]);
                }
            } else {
                char *c2 = rest;
                int8_t *col = qk_take(&c2, (size_t)(ohw * u->k));
                int32_t *acc = qk_take(&c2, (size_t)(dd.ocg * ohw) * sizeof(int32_t));
                for (int64_t g = 0; g < u->ca.group; g++) {
                    /* padding reads the zero point: one image-wide span, or none (pointwise) */
                    qk_im2row(&u->ca, &dd, xq + g * dd.cg * dd.h * dd.w, (int8_t)d->qp.zero_point,
                              col);
                    qgemm_packed_store(&u->wp[g], ohw, col, u->k, c2, acc, dd.ocg);
                    for (int64_t oc = 0; oc < dd.ocg; oc++) {
                        int64_t c = g * dd.ocg + oc;
                        for (int64_t r = 0; r < ohw; r++) {
                            const TargetDyn *dr = sp.n > 1 ? &dp[r] : d;
                            int64_t a = acc[r * dd.ocg + oc] - (int64_t)dr->qp.zero_point * u->sumw[c];
                            ys[c * ohw + r] = target_dyn_out(dr, u->ws[c], a, u->bf[c]);
                        }
                    }
                }
            }
        }
    }
    qk_act_f32(u, y, tensor_numel(&io->out));
}

/* The fake-quant twin: each span fake-quantized with its own range, then the float op
 * with dequantized weights and the float bias. */
static void step_lin_dyn_fake(const Step *s, StepIO *io)
{
    const LinUnit *u = s->lin;
    int64_t total = tensor_numel(io->in[0]);
    char *cur = io->scratch;
    float *xf = qk_take(&cur, (size_t)total * sizeof(float));
    qk_dyn_fake_input(s, io->in[0], io->bits, xf, cur);
    Tensor xt = tensor_view(DT_F32, io->in[0]->shape, xf);
    StepIO sub = *io;
    sub.scratch = cur;
    sub.scratch_bytes = io->scratch_bytes - (size_t)(cur - (char *)io->scratch);
    float *y = tensor_f32(&io->out);
    int64_t n = tensor_numel(&io->out);
    if (u->kind == LIN_GEMM)
        qkernels_gemm_f32(xf, n / u->oc, u->k, u->wfq, u->oc, u->bf, y);
    else
        qk_conv_f32(u, &xt, u->wfq, u->bf, &io->out, &sub);
    qk_act_f32(u, y, n);
}

static void step_lin_dyn_run(const Step *s, StepIO *io)
{
    if (io->fake)
        step_lin_dyn_fake(s, io);
    else
        step_lin_dyn_int(s, io);
}

static size_t step_lin_dyn_scratch(const Step *s, const StepIO *io)
{
    const LinUnit *u = s->lin;
    int64_t nb = io->in[0]->shape.dim[0];
    int64_t per_in = shape_numel(&io->in[0]->shape) / nb;
    if (io->fake) {
        size_t fs = step_lin_float_scratch(s, io), qs = qk_dyn_fake_scratch(s, &io->in[0]->shape);
        return qk_align((size_t)(per_in * nb) * sizeof(float)) + (fs > qs ? fs : qs);
    }
    DynSpans sp = qk_dyn_spans(s, &io->in[0]->shape);
    size_t bytes = qk_align((size_t)per_in) + qk_dyn_span_scratch(&sp);
    if (u->kind == LIN_GEMM)
        return bytes + qk_align((size_t)(per_in / u->k * u->oc) * sizeof(int32_t)) +
               qgemm_work_bytes(u->oc, u->k);
    Shape xs1 = io->in[0]->shape, ys1 = io->out.shape;
    xs1.dim[0] = ys1.dim[0] = 1;
    CDims d = qk_dims(&u->ca, &xs1, &ys1);
    int64_t ohw = d.oh * d.ow;
    if (u->kind == LIN_DW) /* the plane, then the padded input plane */
        return bytes + qk_align((size_t)ohw * sizeof(int32_t)) + qk_dw_pad_bytes(&u->ca, &d);
    return bytes + qk_align((size_t)(ohw * u->k)) +
           qk_align((size_t)(d.ocg * ohw) * sizeof(int32_t)) + qgemm_work_bytes(d.ocg, u->k);
}

/* ---- STEP_LIN_Q: int8 in, int8 out --------------------------------------------------- */

static void step_lin_q_fake(const Step *s, StepIO *io)
{
    const LinUnit *u = s->lin;
    float *y = tensor_f32(&io->out);
    int64_t n = tensor_numel(&io->out);
    if (u->kind == LIN_GEMM)
        qkernels_gemm_f32(tensor_f32(io->in[0]), n / u->oc, u->k, u->wfq, u->oc, u->bfq, y);
    else
        qk_conv_f32(u, io->in[0], u->wfq, u->bfq, &io->out, io);
    qk_fake_out(y, n, &u->out_qp, u->lo, u->hi);
}

static void step_lin_q_run(const Step *s, StepIO *io)
{
    if (io->fake)
        step_lin_q_fake(s, io);
    else if (s->lin->ort != LORT_QLINEAR) /* target ort: a group ONNX Runtime does not fuse */
        qexec_ort_run(s, io->in[0], &io->out, io->scratch);
    else
        qk_lin_q_int(s, io);
}

static size_t step_lin_q_scratch(const Step *s, const StepIO *io)
{
    const LinUnit *u = s->lin;
    if (io->fake)
        return step_lin_float_scratch(s, io);
    if (u->ort != LORT_QLINEAR)
        return qexec_ort_scratch(s, &io->in[0]->shape, &io->out.shape);
    return qk_lin_q_int_scratch(s, io);
}

/* ---- pre-activations of int8 linear units (bias correction) ----------------------------- */

size_t qkernels_preact_scratch(const Step *s, const Shape *x, const Shape *y)
{
    const LinUnit *u = s->lin;
    size_t bytes = qk_align((size_t)shape_numel(x) * sizeof(float));
    size_t fs = u->kind == LIN_GEMM ? 0 : qk_conv_f32_scratch(u, x, y);
    size_t qs = s->kind == STEP_LIN_DYN ? qk_dyn_fake_scratch(s, x) : 0;
    return bytes + (fs > qs ? fs : qs);
}

void qkernels_preact(const Step *s, const Tensor *x, Tensor *y, void *scratch,
                     size_t scratch_bytes, int bits)
{
    const LinUnit *u = s->lin;
    int64_t total = tensor_numel(x);
    const float *xs = tensor_f32(x);
    char *cur = scratch;
    float *xf = qk_take(&cur, (size_t)total * sizeof(float));
    /* the input as the unit sees it: its int8 codes, dequantized */
    if (s->kind == STEP_LIN_Q) {
        for (int64_t i = 0; i < total; i++)
            xf[i] = quant_fake(xs[i], &u->in_qp);
    } else {
        qk_dyn_fake_input(s, x, bits, xf, cur);
    }
    const float *bias = s->kind == STEP_LIN_Q ? u->bfq : u->bf;
    float *yv = tensor_f32(y);
    if (u->kind == LIN_GEMM) {
        qkernels_gemm_f32(xf, tensor_numel(y) / u->oc, u->k, u->wfq, u->oc, bias, yv);
        return;
    }
    Tensor xt = tensor_view(DT_F32, x->shape, xf);
    StepIO io;
    memset(&io, 0, sizeof io);
    io.scratch = cur;
    io.scratch_bytes = scratch_bytes - (size_t)(cur - (char *)scratch);
    qk_conv_f32(u, &xt, u->wfq, bias, y, &io);
}

/* Work of an elementwise or per-plane int8 step split by pool_for: each index is computed
 * alone, so any split gives the same bytes. */
typedef struct QkElem {
    const Step *s;
    const int8_t *a, *b;     /* inputs */
    int8_t *y;
    const int64_t *cb;       /* pools: per output column tap ranges */
    int64_t h, w, oh_n, ow_n;
} QkElem;

enum { QK_ELEM_GRAIN = 16384 }; /* elements per chunk at least: below, one thread */

static void qk_add_range(void *ctx, int64_t i0, int64_t i1)
{
    const QkElem *e = ctx;
    const QParams *p = &e->s->out_qp;
    const TargetAdd *ad = &e->s->add;
    const int8_t *a = e->a, *b = e->b;
    int8_t *y = e->y;
    if (ad->rule != TADD_EXACT) {
        for (int64_t i = i0; i < i1; i++)
            y[i] = (int8_t)target_add_apply(ad, a[i], b[i]);
        return;
    }
    qk_add_exact(ad, p, a + i0, b + i0, y + i0, i1 - i0, simd_level());
}

/* ---- STEP_Q_ADD ------------------------------------------------------------------------ */

/* qscope: out = clamp(z + rshift_even(M_a (a - z_a) + M_b (b - z_b), S)) with M_i =
 * round(s_i / s_out 2^S) (target_add_make picks S so the larger M has 31 significant bits):
 * one rounding, at the end, exact in int64. Other targets: target_add_apply. The fake twin
 * adds the two dequantized floats and fake-quantizes. */
static void step_q_add_run(const Step *s, StepIO *io)
{
    int64_t n = tensor_numel(&io->out);
    const QParams *p = &s->out_qp;
    if (tensor_numel(io->in[0]) != n || tensor_numel(io->in[1]) != n) {
        qk_add_broadcast(s, io);
        return;
    }
    if (io->fake) {
        const float *a = tensor_f32(io->in[0]), *b = tensor_f32(io->in[1]);
        float *y = tensor_f32(&io->out);
        for (int64_t i = 0; i < n; i++)
            y[i] = quant_fake(a[i] + b[i], p);
        return;
    }
    QkElem e = { .s = s, .a = io->in[0]->data, .b = io->in[1]->data, .y = io->out.data };
    pool_for(n, QK_ELEM_GRAIN, qk_add_range, &e);
}

/* ---- STEP_Q_CONCAT: each input requantized into the output's parameters (a copy when
 * they are the same, which the TFLite targets' ties make every input) ------------------- */

static void step_q_concat_run(const Step *s, StepIO *io)
{
    const Node *n = &io->g->nodes[s->head];
    const Shape *so = &io->out.shape;
    int64_t a = n->params.axis.axis;
    int axis = (int)(a < 0 ? a + so->ndim : a); /* validated by infer */
    int64_t outer = shape_span(so, 0, axis), inner = shape_span(so, axis + 1, so->ndim);
    const QParams *p = &s->out_qp;
    size_t es = io->fake ? sizeof(float) : 1;
    char *y = io->out.data;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n->n_in; k++) {
            int64_t chunk = io->in[k]->shape.dim[axis] * inner;
            const char *x = (const char *)io->in[k]->data + (size_t)(o * chunk) * es;
            if (s->same[k]) {
                memcpy(y, x, (size_t)chunk * es);
            } else if (io->fake) {
                const float *xf = (const float *)x;
                float *yf = (float *)y;
                for (int64_t i = 0; i < chunk; i++)
                    yf[i] = quant_fake(xf[i], p);
            } else {
                const int8_t *xq = (const int8_t *)x;
                int8_t *yq = (int8_t *)y;
                const QParams *pin = &s->in_qps[k];
                if (s->target->concat == TCAT_DQ_Q) /* QLinearConcat's lookup table */
                    for (int64_t i = 0; i < chunk; i++)
                        yq[i] = (int8_t)quant_q(quant_dq(xq[i], pin), p);
                else
                    for (int64_t i = 0; i < chunk; i++)
                        yq[i] = (int8_t)quant_requant_rule((int32_t)xq[i] - pin->zero_point,
                                                           &s->rq_in[k], p->zero_point,
                                                           p->qmin, p->qmax);
            }
            y += (size_t)chunk * es;
        }
}

/* ---- pools ------------------------------------------------------------------------------ */

enum { QK_POOL_ROW = 4096 }; /* bytes of a row's column maxima on the stack, at most */

static void qk_maxpool_planes(void *ctx, int64_t p0, int64_t p1)
{
    const QkElem *e = ctx;
    const ConvAttrs *a = &e->s->pa;
    const int8_t *x = e->a;
    int8_t *y = e->y;
    const int64_t *cb = e->cb, h = e->h, w = e->w, oh_n = e->oh_n, ow_n = e->ow_n;
    /* 2x2, stride 2, every window inside: the common case without range checks */
    const Window *wi = &a->w;
    if (wi->kh == 2 && wi->kw == 2 && wi->sh == 2 && wi->sw == 2 && wi->dh == 1 &&
        wi->dw == 1 && wi->pt == 0 && wi->pl == 0 && 2 * oh_n <= h && 2 * ow_n <= w) {
        for (int64_t p = p0; p < p1; p++)
            for (int64_t oh = 0; oh < oh_n; oh++) {
                const int8_t *r0 = x + p * h * w + 2 * oh * w, *r1 = r0 + w;
                qk_maxpool2x2_row(r0, r1, ow_n, y + (p * oh_n + oh) * ow_n);
            }
        return;
    }
    for (int64_t p = p0; p < p1; p++) {
        const int8_t *xp = x + p * h * w;
        int8_t *yp = y + p * oh_n * ow_n;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            int64_t hs = oh * a->w.sh - a->w.pt, a0, a1;
            geom_range(a->w.kh, h, a->w.dh, hs, &a0, &a1);
            if (a1 > a0 && w <= QK_POOL_ROW) {
                /* the max down the window's rows first, column by column, then along
                 * each window's columns: the same taps, so the same max */
                int8_t vm[QK_POOL_ROW];
                memcpy(vm, xp + (hs + a0 * a->w.dh) * w, (size_t)w);
                for (int64_t i = a0 + 1; i < a1; i++)
                    qk_max_i8(vm, xp + (hs + i * a->w.dh) * w, w);
                for (int64_t ow = 0; ow < ow_n; ow++) {
                    int64_t ws = ow * a->w.sw - a->w.pl;
                    int32_t m = INT32_MIN;
                    for (int64_t j = cb[2 * ow]; j < cb[2 * ow + 1]; j++)
                        m = vm[ws + j * a->w.dw] > m ? vm[ws + j * a->w.dw] : m;
                    yp[oh * ow_n + ow] = (int8_t)m;
                }
                continue;
            }
            for (int64_t ow = 0; ow < ow_n; ow++) {
                int64_t ws = ow * a->w.sw - a->w.pl, b0 = cb[2 * ow], b1 = cb[2 * ow + 1];
                int32_t m = INT32_MIN;
                for (int64_t i = a0; i < a1; i++) {
                    const int8_t *xr = xp + (hs + i * a->w.dh) * w + ws;
                    for (int64_t j = b0; j < b1; j++)
                        m = xr[j * a->w.dw] > m ? xr[j * a->w.dw] : m;
                }
                yp[oh * ow_n + ow] = (int8_t)m;
            }
        }
    }
}


/* Max of the int8 values in each window; padding never wins (as the float op). The
 * output keeps the input's parameters, and dequantization is monotonic, so the float
 * maxpool of the dequantized input (the fake twin) gives exactly the same values. */
static void step_q_maxpool_run(const Step *s, StepIO *io)
{
    if (io->fake) {
        step_float_run(s, io);
        return;
    }
    const ConvAttrs *a = &s->pa;
    const Shape *xs = &io->in[0]->shape, *ys = &io->out.shape;
    int64_t planes = xs->dim[0] * xs->dim[1];
    int64_t h = a->sp == 2 ? xs->dim[2] : 1, w = xs->dim[xs->ndim - 1];
    int64_t oh_n = a->sp == 2 ? ys->dim[2] : 1, ow_n = ys->dim[ys->ndim - 1];
    const int8_t *x = io->in[0]->data;
    int8_t *y = io->out.data;
    int64_t *cb = io->scratch; /* (OW, 2): each output column's tap range, shared by rows */
    for (int64_t ow = 0; ow < ow_n; ow++)
        geom_range(a->w.kw, w, a->w.dw, ow * a->w.sw - a->w.pl, &cb[2 * ow], &cb[2 * ow + 1]);
    QkElem e = { .s = s, .a = x, .y = y, .cb = cb, .h = h, .w = w, .oh_n = oh_n, .ow_n = ow_n };
    pool_for(planes, pool_grain(oh_n * ow_n), qk_maxpool_planes, &e);
}

/* ONNX Runtime's QLinearAveragePool for one window: the float sum, in row order, of the
 * dequantized taps s_in (q - z_in), divided by the count in float, then
 * nearbyint(avg / s_out + z_out) (target_avg_ort). */
static int32_t qk_avg_ort(const Step *s, const int8_t *xp, int64_t w, int64_t hs, int64_t ws,
                          int64_t a0, int64_t a1, int64_t b0, int64_t b1, int64_t cnt)
{
    const QParams *pi = &s->in_qps[0], *po = &s->out_qp;
    float sum = 0.0f;
    for (int64_t i = a0; i < a1; i++) {
        const int8_t *xr = xp + (hs + i) * w + ws;
        for (int64_t j = b0; j < b1; j++)
            sum += pi->scale * (float)((int32_t)xr[j] - pi->zero_point);
    }
    return target_avg_ort(sum / (float)cnt, po->scale, po->zero_point, po->qmin, po->qmax);
}

/* Windowed average pools over planes [p0, p1) (step_q_avgpool_run's rules). */
static void qk_avgpool_planes(void *ctx, int64_t p0, int64_t p1)
{
    const QkElem *e = ctx;
    const Step *s = e->s;
    const ConvAttrs *a = &s->pa;
    const int8_t *x = e->a;
    int8_t *y = e->y;
    const int64_t *cb = e->cb, h = e->h, w = e->w, oh_n = e->oh_n, ow_n = e->ow_n;
    int32_t zin = s->in_qps[0].zero_point, zout = s->out_qp.zero_point;
    int32_t qmin = s->out_qp.qmin, qmax = s->out_qp.qmax;
    for (int64_t p = p0; p < p1; p++) {
        const int8_t *xp = x + p * h * w;
        int8_t *yp = y + p * oh_n * ow_n;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            int64_t hs = oh * a->w.sh - a->w.pt, a0, a1;
            geom_range(a->w.kh, h, 1, hs, &a0, &a1);
            int64_t ph = (hs + a->w.kh < h + a->w.pb ? hs + a->w.kh : h + a->w.pb) - hs;
            for (int64_t ow = 0; ow < ow_n; ow++) {
                int64_t ws = ow * a->w.sw - a->w.pl, b0 = cb[3 * ow], b1 = cb[3 * ow + 1];
                int64_t pw = cb[3 * ow + 2];
                int32_t sum = 0;
                for (int64_t i = a0; i < a1; i++) {
                    const int8_t *xr = xp + (hs + i) * w + ws;
                    for (int64_t j = b0; j < b1; j++)
                        sum += (int32_t)xr[j] - zin;
                }
                int64_t taps = (a1 - a0) * (b1 - b0);
                int64_t cnt = a->include_pad ? ph * pw : taps;
                int32_t q;
                if (s->avg == TAVG_TFLITE) /* raw codes: the taps' sum plus their z_in */
                    q = qk_clamp(target_avg_tflite(sum + zin * (int32_t)taps, (int32_t)cnt),
                                 qmin, qmax);
                else if (s->avg == TAVG_ORT)
                    q = qk_avg_ort(s, xp, w, hs, ws, a0, a1, b0, b1, cnt);
                else
                    q = quant_requant(sum, s->rq_count[cnt - 1], zout, qmin, qmax);
                yp[oh * ow_n + ow] = (int8_t)q;
            }
        }
    }
}


/* GlobalAveragePool over planes [p0, p1) of e->w values each: the sum of the raw codes;
 * target_mean_apply takes n z_in off where its rule does. */
static void qk_globalpool_planes(void *ctx, int64_t p0, int64_t p1)
{
    const QkElem *e = ctx;
    for (int64_t p = p0; p < p1; p++)
        e->y[p] = (int8_t)target_mean_apply(&e->s->mean, qk_sum_i8(e->a + p * e->w, e->w));
}

/* Average pools: the int32 sum of (q - z_in) over the window's input taps, requantized by
 * s_in / (count s_out) with the count the float op divides by (count_include_pad and the
 * ceil_mode overhang as there). GlobalAveragePool: one window, the whole plane. The fake
 * twin is the float op on dequantized values, then fake quantization. */
static void step_q_avgpool_run(const Step *s, StepIO *io)
{
    if (io->fake) {
        step_float_run(s, io);
        qk_fake_out(tensor_f32(&io->out), tensor_numel(&io->out), &s->out_qp, s->out_qp.qmin,
                    s->out_qp.qmax);
        return;
    }
    const Shape *xs = &io->in[0]->shape, *ys = &io->out.shape;
    const int8_t *x = io->in[0]->data;
    int8_t *y = io->out.data;
    int64_t planes = xs->dim[0] * xs->dim[1];
    if (s->global) {
        /* the sum of the raw codes; target_mean_apply takes n z_in off where its rule does */
        int64_t hw = shape_span(xs, 2, xs->ndim);
        QkElem e = { .s = s, .a = x, .y = y, .w = hw };
        pool_for(planes, pool_grain(hw), qk_globalpool_planes, &e);
        return;
    }
    const ConvAttrs *a = &s->pa;
    int64_t h = a->sp == 2 ? xs->dim[2] : 1, w = xs->dim[xs->ndim - 1];
    int64_t oh_n = a->sp == 2 ? ys->dim[2] : 1, ow_n = ys->dim[ys->ndim - 1];
    int64_t *cb = io->scratch; /* (OW, 3): each output column's tap range and padded width */
    for (int64_t ow = 0; ow < ow_n; ow++) {
        int64_t ws = ow * a->w.sw - a->w.pl;
        geom_range(a->w.kw, w, 1, ws, &cb[3 * ow], &cb[3 * ow + 1]);
        cb[3 * ow + 2] = (ws + a->w.kw < w + a->w.pr ? ws + a->w.kw : w + a->w.pr) - ws;
    }
    QkElem e = { .s = s, .a = x, .y = y, .cb = cb, .h = h, .w = w, .oh_n = oh_n, .ow_n = ow_n };
    pool_for(planes, pool_grain(oh_n * ow_n), qk_avgpool_planes, &e);
}

static size_t step_q_pool_scratch(const Step *s, const StepIO *io)
{
    if (io->fake)
        return step_float_scratch(s, io);
    return (size_t)(3 * io->out.shape.dim[io->out.shape.ndim - 1]) * sizeof(int64_t);
}

/* ---- STEP_Q_CLAMP: Relu / Clip on int8 with the input's parameters ------------------- */

static void step_q_clamp_run(const Step *s, StepIO *io)
{
    int64_t n = tensor_numel(&io->out);
    if (io->fake) {
        const float *x = tensor_f32(io->in[0]);
        float *y = tensor_f32(&io->out);
        memcpy(y, x, (size_t)n * sizeof *y);
        qk_fake_out(y, n, &s->out_qp, s->lo, s->hi);
        return;
    }
    const int8_t *x = io->in[0]->data;
    int8_t *y = io->out.data;
    if (s->lo >= INT8_MIN && s->lo <= s->hi && s->hi <= INT8_MAX) {
        qk_clamp_i8(x, y, n, (int8_t)s->lo, (int8_t)s->hi);
        return;
    }
    for (int64_t i = 0; i < n; i++) /* bounds outside int8: the general rule */
        y[i] = (int8_t)qk_clamp(x[i], s->lo, s->hi);
}

/* ---- STEP_Q_COPY: layout ops keep the bytes and the parameters ------------------------- */

static void step_q_copy_run(const Step *s, StepIO *io)
{
    (void)s;
    memcpy(io->out.data, io->in[0]->data, tensor_bytes(&io->out));
}

/* ---- STEP_Q_GATHER: a gather of the input's codes (Resize, nearest) ------------------ */

/* A gather op copies input values, so its int8 output keeps the input's parameters and is
 * a gather of the input's codes. Where each output element comes from is found by
 * running the float op itself on float indices (exact: lowering allows at most 2^24
 * elements per sample), so every coordinate and rounding mode the op supports is honoured
 * without restating its formulas: once on one sample (every axis but the batch), once on
 * a (N, 1, ..., 1) tensor for the batch axis, which is never resized but which
 * tf_half_pixel_for_nn with round_prefer_ceil shifts by one, as ONNX says. Scratch: the
 * indices in, both maps, then the op's own scratch. */
typedef struct GatherGeom {
    Shape xs1, ys1;        /* one sample in and out */
    Shape xb, yb;          /* (N, 1, ..., 1) and what the op makes of it */
    size_t src_b, map_b, bmap_b, op_b;
} GatherGeom;

static void qk_gather_geom(const Node *n, const StepIO *io, GatherGeom *rg)
{
    const OpDef *op = op_table[n->op];
    rg->xs1 = io->in[0]->shape;
    rg->ys1 = io->out.shape;
    rg->xs1.dim[0] = rg->ys1.dim[0] = 1;
    rg->xb = io->in[0]->shape;
    for (int a = 1; a < rg->xb.ndim; a++)
        rg->xb.dim[a] = 1;
    const Shape *in1[1] = { &rg->xs1 }, *inb[1] = { &rg->xb };
    QsStatus st = op->infer(n, inb, &rg->yb, NULL);
    QS_ASSERT(st == QS_OK); /* the same node inferred its real shapes */
    int64_t isz = shape_numel(&rg->xs1), nb = rg->xb.dim[0];
    rg->src_b = qk_align((size_t)(isz > nb ? isz : nb) * sizeof(float));
    rg->map_b = qk_align((size_t)shape_numel(&rg->ys1) * sizeof(float));
    rg->bmap_b = qk_align((size_t)shape_numel(&rg->yb) * sizeof(float));
    size_t s1 = op->scratch ? op->scratch(n, in1, &rg->ys1) : 0;
    size_t sb = op->scratch ? op->scratch(n, inb, &rg->yb) : 0;
    rg->op_b = s1 > sb ? s1 : sb;
}

/* The float op on indices 0 .. numel(xs) - 1 into out (shape ys). */
static void qk_gather_probe(const Node *n, const Shape *xs, const Shape *ys, float *src,
                            float *out, void *scratch, size_t scratch_bytes)
{
    for (int64_t i = 0; i < shape_numel(xs); i++)
        src[i] = (float)i;
    Tensor tin = tensor_view(DT_F32, *xs, src), tout = tensor_view(DT_F32, *ys, out);
    const Tensor *ins[1] = { &tin };
    RunCtx rc = { .scratch = scratch, .scratch_bytes = scratch_bytes };
    op_table[n->op]->forward(n, ins, &tout, &rc);
}

static void step_q_gather_run(const Step *s, StepIO *io)
{
    if (io->fake) {
        step_float_run(s, io);
        return;
    }
    const Node *n = &io->g->nodes[s->head];
    GatherGeom rg;
    qk_gather_geom(n, io, &rg);
    char *sp = io->scratch;
    float *src = (float *)sp, *map = (float *)(sp + rg.src_b);
    float *bmap = (float *)(sp + rg.src_b + rg.map_b);
    void *op_scratch = sp + rg.src_b + rg.map_b + rg.bmap_b;
    qk_gather_probe(n, &rg.xb, &rg.yb, src, bmap, op_scratch, rg.op_b);
    qk_gather_probe(n, &rg.xs1, &rg.ys1, src, map, op_scratch, rg.op_b);
    int64_t isz = shape_numel(&rg.xs1), osz = shape_numel(&rg.ys1);
    int64_t bstride = shape_span(&rg.yb, 1, rg.yb.ndim);
    const int8_t *x = io->in[0]->data;
    int8_t *y = io->out.data;
    /* the maps hold exact indices (at most 2^24); fconv_round keeps them inside the input */
    for (int64_t b = 0; b < io->out.shape.dim[0]; b++) {
        const int8_t *xb = x + fconv_round(bmap[b * bstride], 0, rg.xb.dim[0] - 1, NULL) * isz;
        for (int64_t k = 0; k < osz; k++)
            y[b * osz + k] = xb[fconv_round(map[k], 0, isz - 1, NULL)];
    }
}

static size_t step_q_gather_scratch(const Step *s, const StepIO *io)
{
    if (io->fake)
        return step_float_scratch(s, io);
    GatherGeom rg;
    qk_gather_geom(&io->g->nodes[s->head], io, &rg);
    return rg.src_b + rg.map_b + rg.bmap_b + rg.op_b;
}

static size_t step_none_scratch(const Step *s, const StepIO *io)
{
    (void)s;
    (void)io;
    return 0;
}

const StepDef qkernels_step_table[STEP_COUNT] = {
    [STEP_FLOAT] = { .name = "float", .run = step_float_run, .scratch = step_float_scratch },
    [STEP_HALF] = { .name = "fp16", .run = step_float_run, .scratch = step_float_scratch },
    [STEP_LIN_HALF] = { .name = "fp16 linear", .run = step_lin_half_run,
                        .scratch = step_lin_float_scratch },
    [STEP_LIN_DYN] = { .name = "int8-dyn linear", .run = step_lin_dyn_run,
                       .scratch = step_lin_dyn_scratch },
    [STEP_LIN_Q] = { .name = "int8 linear", .run = step_lin_q_run, .scratch = step_lin_q_scratch },
    [STEP_Q_ADD] = { .name = "int8 add", .run = step_q_add_run, .scratch = step_none_scratch },
    [STEP_Q_CONCAT] = { .name = "int8 concat", .run = step_q_concat_run,
                        .scratch = step_none_scratch },
    [STEP_Q_MAXPOOL] = { .name = "int8 maxpool", .run = step_q_maxpool_run,
                         .scratch = step_q_pool_scratch },
    [STEP_Q_AVGPOOL] = { .name = "int8 avgpool", .run = step_q_avgpool_run,
                         .scratch = step_q_pool_scratch },
    [STEP_Q_CLAMP] = { .name = "int8 clamp", .run = step_q_clamp_run,
                       .scratch = step_none_scratch },
    [STEP_Q_COPY] = { .name = "int8 copy", .run = step_q_copy_run, .scratch = step_none_scratch },
    [STEP_Q_GATHER] = { .name = "int8 gather", .run = step_q_gather_run,
                        .scratch = step_q_gather_scratch },
    [STEP_Q_MATMUL] = { .name = "int8 matmul", .run = qk_step_matmul_run,
                        .scratch = step_float_scratch },
    [STEP_Q_TABLE] = { .name = "int8 table", .run = qk_step_table_run,
                       .scratch = step_float_scratch },
    [STEP_Q_SOFTMAX] = { .name = "int8 softmax", .run = qk_step_softmax_run,
                         .scratch = qk_step_softmax_scratch },
    [STEP_Q_MUL] = { .name = "int8 mul", .run = qk_step_mul_run, .scratch = step_none_scratch },
};
