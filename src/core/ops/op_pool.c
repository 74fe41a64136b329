/* ONNX pooling, 1-D (N, C, L) and 2-D (N, C, H, W), explicit pads only:
 *   MaxPool           https://onnx.ai/onnx/operators/onnx__MaxPool.html
 *   AveragePool       https://onnx.ai/onnx/operators/onnx__AveragePool.html
 *   GlobalAveragePool https://onnx.ai/onnx/operators/onnx__GlobalAveragePool.html
 * ceil_mode follows PyTorch (and ONNX Runtime): a last window that would start in the
 * end padding is dropped. AveragePool's count_include_pad counts padded taps but never
 * taps past the padded input (the ceil_mode overhang), as PyTorch does. A 1-D pool runs
 * as a 2-D pool with H = 1.
 *
 * Backward recomputes what it needs from the input (no state is kept from the forward):
 * MaxPool sends each window's gradient to its argmax, found by the forward's own scan
 * (rows, then columns; a later tap wins only when strictly greater, or NaN), so ties go
 * to the first maximum in scan order, as in PyTorch's CPU kernel. AveragePool spreads
 * dY / count over the window's input taps with the forward's count. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include <immintrin.h>

#include "base/intmath.h"
#include "kern/pool.h"
#include "kern/simd.h"
#include "ops/geometry.h"
#include "ops/op.h"

typedef struct PoolGeom {
    int sp;                       /* spatial rank: 1 or 2 */
    int64_t planes;               /* N * C */
    int64_t h, w, oh, ow;
    Window win;
    bool include_pad;             /* AveragePool count_include_pad */
} PoolGeom;

static QsStatus pool_dims(const Node *n, const Shape *s, QsError *err)
{
    char buf[96];
    for (int i = 0; i < s->ndim; i++)
        if (s->dim[i] < 1 || s->dim[i] > INT_MAX)
            return qs_fail(err, QS_ESHAPE, "%s '%s': input has shape %s, dimension %d out of range",
                           op_table[n->op]->name, n->name, shape_format(s, buf, sizeof buf), i);
    return QS_OK;
}

/* Validates the node against input x and fills g; err may be NULL (forward re-derives
 * the geometry that infer accepted). */
/* The first output window along one axis with no input tap, -1 when there is none, or
 * POOL_TOO_MANY_LOOKS. A window with no input tap has no max and an average over nothing:
 * PyTorch prevents it by requiring pad <= kernel / 2; ONNX leaves it undefined, so it is
 * refused. The work is bounded whatever the declared lengths (up to 2^31 each):
 * - a window starting inside the input has its first tap there; the first one starting
 *   past it is empty;
 * - of the windows starting in the left pad, the leftmost has the fewest taps at or past
 *   0; when the dilation is at most the input length, its first such tap lands inside
 *   the input, so it alone decides;
 * - a larger dilation can step over the input: the start's residue modulo the dilation
 *   repeats every d / gcd(s, d) windows, so that many need a look; when more than
 *   POOL_MAX_LOOKS would, and none of those is empty, the pool is refused rather than
 *   checked for seconds. */
enum { POOL_MAX_LOOKS = 1 << 20 };
#define POOL_TOO_MANY_LOOKS (-2)

static int64_t pool_empty_window(int64_t k, int64_t in, int64_t s, int64_t d, int64_t p0,
                                 int64_t n_out)
{
    int64_t n_left = p0 / s + (p0 % s != 0); /* windows with o * s < p0 */
    if (n_left > n_out)
        n_left = n_out;
    const int64_t cap = d <= in ? 1 : d / gcd_i64(s, d);
    const int64_t looks = n_left < cap ? n_left : cap;
    for (int64_t o = 0; o < looks && o < POOL_MAX_LOOKS; o++) {
        int64_t k0, k1;
        geom_range(k, in, d, o * s - p0, &k0, &k1);
        if (k0 == k1)
            return o;
    }
    if (looks > POOL_MAX_LOOKS)
        return POOL_TOO_MANY_LOOKS;
    const int64_t first_past = (in + p0 + s - 1) / s;
    return first_past < n_out ? first_past : -1;
}

static QsStatus pool_geom(const Node *n, const Shape *x, PoolGeom *g, QsError *err)
{
    const char *op = op_table[n->op]->name;
    bool is_avg = n->op == OP_AVGPOOL;
    char sx[96];
    memset(g, 0, sizeof *g);
    if (op_expect_rank(n, x, 3, 4, "input", err) || pool_dims(n, x, err))
        return err ? err->code : QS_ESHAPE;
    OpParams tmp;
    const OpParams *prm = op_params(n, &tmp, err);
    if (!prm)
        return err ? err->code : QS_EINVAL;
    const WindowParams *p = &prm->win;
    int sp = g->sp = x->ndim - 2;
    int64_t ks[2], st[2], dl[2], pd[4];
    if (geom_ints(n, "kernel_shape", &p->kernel_shape, sp, 1, 1, ks, err) ||
        geom_ints(n, "strides", &p->strides, sp, 1, 1, st, err) ||
        geom_ints(n, "dilations", &p->dilations, sp, 1, 1, dl, err) ||
        geom_ints(n, "pads", &p->pads, 2 * sp, 0, 0, pd, err))
        return err ? err->code : QS_EINVAL;
    for (int i = 0; is_avg && i < sp; i++)
        if (dl[i] != 1)
            return qs_fail(err, QS_EUNSUPPORTED, "%s '%s': dilations other than 1 are not supported",
                           op, n->name);
    int64_t ceil_mode = p->ceil_mode, include_pad = p->count_include_pad;
    if (ceil_mode != 0 && ceil_mode != 1)
        return qs_fail(err, QS_EINVAL, "%s '%s': ceil_mode = %lld, must be 0 or 1", op, n->name,
                       (long long)ceil_mode);
    if (include_pad != 0 && include_pad != 1)
        return qs_fail(err, QS_EINVAL, "%s '%s': count_include_pad = %lld, must be 0 or 1", op,
                       n->name, (long long)include_pad);
    g->include_pad = include_pad;
    g->planes = x->dim[0] * x->dim[1];
    g->h = sp == 2 ? x->dim[2] : 1;
    g->w = x->dim[x->ndim - 1];
    geom_window(sp, ks, st, dl, pd, &g->win);
    const Window *k = &g->win;
    const int64_t in_[2] = { g->h, g->w }, k_[2] = { k->kh, k->kw }, s_[2] = { k->sh, k->sw };
    const int64_t d_[2] = { k->dh, k->dw }, p0[2] = { k->pt, k->pl }, p1[2] = { k->pb, k->pr };
    int64_t o_[2] = { 1, 1 };
    for (int i = 2 - sp; i < 2; i++) {
        int axis = i + x->ndim - 2;
        int64_t ext = geom_extent(k_[i], d_[i]), padded = in_[i] + p0[i] + p1[i];
        if (ext > padded)
            return qs_fail(err, QS_ESHAPE,
                           "%s '%s': kernel extent %lld exceeds the padded input %lld along axis %d of %s",
                           op, n->name, (long long)ext, (long long)padded, axis,
                           shape_format(x, sx, sizeof sx));
        o_[i] = geom_out_len(in_[i], k_[i], s_[i], d_[i], p0[i], p1[i], ceil_mode);
        const int64_t empty = pool_empty_window(k_[i], in_[i], s_[i], d_[i], p0[i], o_[i]);
        if (empty == POOL_TOO_MANY_LOOKS)
            return qs_fail(err, QS_EUNSUPPORTED,
                           "%s '%s': dilation %lld exceeds the input length %lld along axis %d of %s "
                           "and too many windows start in the padding to check",
                           op, n->name, (long long)d_[i], (long long)in_[i], axis,
                           shape_format(x, sx, sizeof sx));
        if (empty >= 0)
            return qs_fail(err, QS_ESHAPE,
                           "%s '%s': output window %lld along axis %d of %s lies entirely in padding",
                           op, n->name, (long long)empty, axis, shape_format(x, sx, sizeof sx));
    }
    g->oh = o_[0];
    g->ow = o_[1];
    return QS_OK;
}

static QsStatus pool_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    PoolGeom g;
    if (pool_geom(n, in[0], &g, err))
        return err->code;
    *out = *in[0];
    if (g.sp == 2)
        out->dim[2] = g.oh;
    out->dim[out->ndim - 1] = g.ow;
    return QS_OK;
}

/* The index into the plane (H, W) of the window's maximum: a later tap wins only when
 * strictly greater, or NaN (so NaN propagates, as in PyTorch). Starts at the first input
 * tap (PyTorch's choice), so a window of -inf still has one. */
static int64_t maxpool_argmax(const PoolGeom *g, const float *xp, int64_t hs, int64_t a0,
                              int64_t a1, int64_t ws, int64_t b0, int64_t b1)
{
    int64_t at = (hs + a0 * g->win.dh) * g->w + ws + b0 * g->win.dw;
    __m128 m = _mm_set_ss(-INFINITY);
    for (int64_t a = a0; a < a1; a++) {
        int64_t row = (hs + a * g->win.dh) * g->w;
        for (int64_t b = b0; b < b1; b++) { /* masks, not branches: see maxpool_argmax_2x2 */
            int64_t i = row + ws + b * g->win.dw;
            __m128 v = _mm_load_ss(xp + i);
            __m128 take = _mm_or_ps(_mm_cmpgt_ss(v, m), _mm_cmpunord_ss(v, v));
            m = _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, m));
            at ^= (at ^ i) & (int64_t)_mm_cvtsi128_si32(_mm_castps_si128(take));
        }
    }
    return at;
}

/* maxpool_argmax of a whole 2x2 window (dilation 1) whose first tap is xp[i], the scan
 * unrolled: the first tap is taken whatever it holds (a -inf keeps the start's index).
 * The rule's comparisons as masks, not branches (real data mispredicts them). */
static inline int64_t maxpool_argmax_2x2(const float *xp, int64_t i, int64_t w)
{
    int64_t at = i, j[3] = { i + 1, i + w, i + w + 1 };
    __m128 m = _mm_load_ss(xp + i);
    for (int k = 0; k < 3; k++) {
        __m128 v = _mm_load_ss(xp + j[k]);
        __m128 take = _mm_or_ps(_mm_cmpgt_ss(v, m), _mm_cmpunord_ss(v, v)); /* v > m || NaN */
        m = _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, m));
        int64_t mask = _mm_cvtsi128_si32(_mm_castps_si128(take)); /* 0 or -1 */
        at ^= (at ^ j[k]) & mask;
    }
    return at;
}

/* The window's maximum by the argmax scan's rule (a later tap wins only when strictly
 * greater, or NaN), so the value is the one maxpool_argmax points at: the last NaN if there
 * is one, else the first maximum. Two selects instead of the scan's branch, which
 * mispredicts on real data. */
static float maxpool_max(const PoolGeom *g, const float *xp, int64_t hs, int64_t a0,
                         int64_t a1, int64_t ws, int64_t b0, int64_t b1)
{
    float m = -INFINITY, last_nan = 0.0f;
    for (int64_t a = a0; a < a1; a++) {
        const float *row = xp + (hs + a * g->win.dh) * g->w + ws;
        for (int64_t b = b0; b < b1; b++) {
            float v = row[b * g->win.dw];
            m = v > m ? v : m;
            last_nan = v != v ? v : last_nan;
        }
    }
    return last_nan != last_nan ? last_nan : m;
}

typedef struct MaxPoolJob {
    const PoolGeom *g;
    const float *x;
    float *y;
    int64_t ow_lo, ow_hi; /* the output columns whose windows lie wholly inside the input */
} MaxPoolJob;

/* Four taps of four side-by-side windows, stride 1 or 2: r[0], r[sw], r[2sw], r[3sw]
 * (stride 2 reads r[7] too: the caller keeps it inside the input). */
static inline __m128 maxpool_load4(const float *r, int64_t sw)
{
    if (sw == 1)
        return _mm_loadu_ps(r);
    return _mm_shuffle_ps(_mm_loadu_ps(r), _mm_loadu_ps(r + 4), _MM_SHUFFLE(2, 0, 2, 0));
}

/* v where keep is all ones, else w. */
static inline __m128 maxpool_select(__m128 keep, __m128 v, __m128 w)
{
    return _mm_or_ps(_mm_and_ps(keep, v), _mm_andnot_ps(keep, w));
}

/* maxpool_span's four-wide body (stride 1 or 2); returns the first output it left. */
static int64_t maxpool_span4(const PoolGeom *g, const float *xp, int64_t hs, int64_t a0,
                             int64_t a1, int64_t o, int64_t ow1, float *yr)
{
    const Window *k = &g->win;
    int64_t sw = k->sw;
    /* stride 2 reads one float past the fourth window's tap: inside the next window's */
    for (; sw <= 2 && (sw == 1 ? o + 4 <= ow1 : o + 4 < ow1); o += 4) {
        __m128 m = _mm_set1_ps(-INFINITY), last_nan = _mm_setzero_ps();
        for (int64_t a = a0; a < a1; a++) {
            const float *row = xp + (hs + a * k->dh) * g->w + o * sw - k->pl;
            for (int64_t b = 0; b < k->kw; b++) {
                __m128 v = maxpool_load4(row + b * k->dw, sw);
                m = _mm_max_ps(v, m);
                last_nan = maxpool_select(_mm_cmpunord_ps(v, v), v, last_nan);
            }
        }
        _mm_storeu_ps(yr + o, maxpool_select(_mm_cmpunord_ps(last_nan, last_nan), last_nan, m));
    }
    return o;
}

/* The sixteen-wide body, any stride up to 2, the last block masked; returns ow1 (or o
 * when the stride is larger). */
__attribute__((target("avx512f"))) static int64_t
maxpool_span16(const PoolGeom *g, const float *xp, int64_t hs, int64_t a0, int64_t a1,
               int64_t o, int64_t ow1, float *yr)
{
    const Window *k = &g->win;
    int64_t sw = k->sw;
    if (sw > 2)
        return o;
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                           2, 0);
    for (; o < ow1; o += 16) {
        int cnt = (int)(ow1 - o < 16 ? ow1 - o : 16);
        __mmask16 out = (__mmask16)((1u << cnt) - 1);
        /* the input floats a stride-2 block reads: 2 * cnt - 1 of them */
        uint32_t in = cnt == 16 ? 0x7fffffffu : (1u << (2 * cnt - 1)) - 1;
        __mmask16 lo = (__mmask16)(sw == 1 ? out : in & 0xffff), hi = (__mmask16)(in >> 16);
        __m512 m = _mm512_set1_ps(-INFINITY), last_nan = _mm512_setzero_ps();
        for (int64_t a = a0; a < a1; a++) {
            const float *row = xp + (hs + a * k->dh) * g->w + o * sw - k->pl;
            for (int64_t b = 0; b < k->kw; b++) {
                const float *r = row + b * k->dw;
                __m512 v = _mm512_maskz_loadu_ps(lo, r);
                if (sw == 2)
                    v = _mm512_permutex2var_ps(v, evens, _mm512_maskz_loadu_ps(hi, r + 16));
                m = _mm512_max_ps(v, m);
                last_nan = _mm512_mask_mov_ps(last_nan, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
            }
        }
        __mmask16 nan = _mm512_cmp_ps_mask(last_nan, last_nan, _CMP_UNORD_Q);
        _mm512_mask_storeu_ps(yr + o, out, _mm512_mask_mov_ps(m, nan, last_nan));
    }
    return o;
}

/* Outputs [ow0, ow1) of one row, windows wholly inside the input along the width (input
 * rows [a0, a1) of the window): maxpool_max's scan, the same taps in the same order and
 * the same selects (max_ps(v, m) is v > m ? v : m), for several outputs side by side, so
 * no range is computed per output. */
static void maxpool_span(const PoolGeom *g, const float *xp, int64_t hs, int64_t a0,
                         int64_t a1, int64_t ow0, int64_t ow1, float *yr)
{
    int64_t o = ow0;
    SimdLevel level = simd_level();
    if (level == SIMD_AVX512)
        o = maxpool_span16(g, xp, hs, a0, a1, o, ow1, yr);
    else if (level == SIMD_AVX2)
        o = maxpool_span4(g, xp, hs, a0, a1, o, ow1, yr);
    for (; o < ow1; o++)
        yr[o] = maxpool_max(g, xp, hs, a0, a1, o * g->win.sw - g->win.pl, 0, g->win.kw);
}

static void maxpool_row(const MaxPoolJob *j, const float *xp, int64_t oh, float *yr)
{
    const PoolGeom *g = j->g;
    int64_t hs = oh * g->win.sh - g->win.pt, a0, a1;
    geom_range(g->win.kh, g->h, g->win.dh, hs, &a0, &a1);
    for (int64_t ow = 0; ow < g->ow; ow++) {
        if (ow == j->ow_lo) { /* the interior */
            maxpool_span(g, xp, hs, a0, a1, ow, j->ow_hi, yr);
            ow = j->ow_hi;
            if (ow >= g->ow)
                break;
        }
        int64_t ws = ow * g->win.sw - g->win.pl, b0, b1;
        geom_range(g->win.kw, g->w, g->win.dw, ws, &b0, &b1);
        yr[ow] = maxpool_max(g, xp, hs, a0, a1, ws, b0, b1);
    }
}

static void maxpool_planes(void *ctx, int64_t p0, int64_t p1)
{
    const MaxPoolJob *j = ctx;
    const PoolGeom *g = j->g;
    for (int64_t p = p0; p < p1; p++)
        for (int64_t oh = 0; oh < g->oh; oh++)
            maxpool_row(j, j->x + p * g->h * g->w, oh, j->y + (p * g->oh + oh) * g->ow);
}

/* [*lo, *hi): the outputs along the width whose window has every tap inside the input
 * (start >= 0 and last tap <= w - 1); an empty range at g->ow when there is none. */
static void maxpool_interior(const PoolGeom *g, int64_t *lo, int64_t *hi)
{
    const Window *k = &g->win;
    int64_t l = (k->pl + k->sw - 1) / k->sw;
    int64_t last = g->w - 1 - (k->kw - 1) * k->dw + k->pl; /* ow * sw <= last */
    int64_t h = last < 0 ? 0 : last / k->sw + 1;
    h = h > g->ow ? g->ow : h;
    *lo = l < h ? l : g->ow;
    *hi = l < h ? h : g->ow;
}

/* Planes split over the thread pool: each output is one window's own scan. */
static void maxpool_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    PoolGeom g;
    QS_ASSERT(pool_geom(n, &in[0]->shape, &g, NULL) == QS_OK);
    MaxPoolJob j = { &g, tensor_f32(in[0]), tensor_f32(out), 0, 0 }; /* (N*C, H, W) -> (N*C, OH, OW) */
    maxpool_interior(&g, &j.ow_lo, &j.ow_hi);
    pool_for(g.planes, pool_grain(g.oh * g.ow * g.win.kh * g.win.kw), maxpool_planes, &j);
    (void)rc;
}

static void maxpool_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                             const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    PoolGeom g;
    QS_ASSERT(pool_geom(n, &in[0]->shape, &g, NULL) == QS_OK);
    const float *x = tensor_f32(in[0]);  /* (N*C, H, W) */
    const float *dy = tensor_f32(dout);  /* (N*C, OH, OW) */
    float *dx = tensor_f32(din[0]);      /* (N*C, H, W) */
    bool w2x2 = g.win.kh == 2 && g.win.kw == 2 && g.win.dh == 1 && g.win.dw == 1;
    int64_t ow_lo, ow_hi; /* windows wholly inside along the width: no geom_range */
    maxpool_interior(&g, &ow_lo, &ow_hi);
    for (int64_t p = 0; p < g.planes; p++) {
        const float *xp = x + p * g.h * g.w, *dyp = dy + p * g.oh * g.ow;
        float *dxp = dx + p * g.h * g.w;
        for (int64_t oh = 0; oh < g.oh; oh++) {
            int64_t hs = oh * g.win.sh - g.win.pt, a0, a1;
            geom_range(g.win.kh, g.h, g.win.dh, hs, &a0, &a1);
            bool rows_full = a0 == 0 && a1 == g.win.kh;
            for (int64_t ow = 0; ow < g.ow; ow++) {
                int64_t ws = ow * g.win.sw - g.win.pl, at;
                if (rows_full && ow >= ow_lo && ow < ow_hi)
                    at = w2x2 ? maxpool_argmax_2x2(xp, hs * g.w + ws, g.w)
                              : maxpool_argmax(&g, xp, hs, a0, a1, ws, 0, g.win.kw);
                else {
                    int64_t b0, b1;
                    geom_range(g.win.kw, g.w, g.win.dw, ws, &b0, &b1);
                    at = maxpool_argmax(&g, xp, hs, a0, a1, ws, b0, b1);
                }
                dxp[at] += dyp[oh * g.ow + ow];
            }
        }
    }
    (void)out;
    (void)rc;
}

static void avgpool_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    PoolGeom g;
    QS_ASSERT(pool_geom(n, &in[0]->shape, &g, NULL) == QS_OK);
    const float *x = tensor_f32(in[0]); /* (N*C, H, W) */
    float *y = tensor_f32(out);         /* (N*C, OH, OW) */
    for (int64_t p = 0; p < g.planes; p++) {
        const float *xp = x + p * g.h * g.w;
        float *yp = y + p * g.oh * g.ow;
        for (int64_t oh = 0; oh < g.oh; oh++) {
            int64_t hs = oh * g.win.sh - g.win.pt, a0, a1;
            geom_range(g.win.kh, g.h, 1, hs, &a0, &a1);
            /* Taps inside the padded input (dilation is 1 here). */
            int64_t ph = (hs + g.win.kh < g.h + g.win.pb ? hs + g.win.kh : g.h + g.win.pb) - hs;
            for (int64_t ow = 0; ow < g.ow; ow++) {
                int64_t ws = ow * g.win.sw - g.win.pl, b0, b1;
                geom_range(g.win.kw, g.w, 1, ws, &b0, &b1);
                int64_t pw = (ws + g.win.kw < g.w + g.win.pr ? ws + g.win.kw : g.w + g.win.pr) - ws;
                double sum = 0.0;
                for (int64_t a = a0; a < a1; a++) {
                    const float *xr = xp + (hs + a) * g.w + ws;
                    for (int64_t b = b0; b < b1; b++)
                        sum += xr[b];
                }
                double cnt = g.include_pad ? (double)(ph * pw) : (double)((a1 - a0) * (b1 - b0));
                yp[oh * g.ow + ow] = (float)(sum / cnt);
            }
        }
    }
    (void)rc;
}

/* dX[tap] += dY / count for every input tap of the window, count as in the forward. */
static void avgpool_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                             const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    PoolGeom g;
    QS_ASSERT(pool_geom(n, &in[0]->shape, &g, NULL) == QS_OK);
    const float *dy = tensor_f32(dout);  /* (N*C, OH, OW) */
    float *dx = tensor_f32(din[0]);      /* (N*C, H, W) */
    for (int64_t p = 0; p < g.planes; p++) {
        const float *dyp = dy + p * g.oh * g.ow;
        float *dxp = dx + p * g.h * g.w;
        for (int64_t oh = 0; oh < g.oh; oh++) {
            int64_t hs = oh * g.win.sh - g.win.pt, a0, a1;
            geom_range(g.win.kh, g.h, 1, hs, &a0, &a1);
            int64_t ph = (hs + g.win.kh < g.h + g.win.pb ? hs + g.win.kh : g.h + g.win.pb) - hs;
            for (int64_t ow = 0; ow < g.ow; ow++) {
                int64_t ws = ow * g.win.sw - g.win.pl, b0, b1;
                geom_range(g.win.kw, g.w, 1, ws, &b0, &b1);
                int64_t pw = (ws + g.win.kw < g.w + g.win.pr ? ws + g.win.kw : g.w + g.win.pr) - ws;
                double cnt = g.include_pad ? (double)(ph * pw) : (double)((a1 - a0) * (b1 - b0));
                float gv = (float)(dyp[oh * g.ow + ow] / cnt);
                for (int64_t a = a0; a < a1; a++) {
                    float *xr = dxp + (hs + a) * g.w + ws;
                    for (int64_t b = b0; b < b1; b++)
                        xr[b] += gv;
                }
            }
        }
    }
    (void)out;
    (void)rc;
}

static QsStatus gap_infer(const Node *n, const Shape *const *in, Shape *out, QsError *err)
{
    if (op_expect_rank(n, in[0], 3, QS_MAX_DIMS, "input", err) || pool_dims(n, in[0], err))
        return err->code;
    *out = *in[0];
    for (int i = 2; i < out->ndim; i++)
        out->dim[i] = 1;
    return QS_OK;
}

typedef struct GapJob {
    const float *x;
    float *y;
    int64_t len;
} GapJob;

/* Each plane's mean: its sum in double, element by element in order, over the length.
 * Four planes go side by side, each with its own sum (the same additions in the same
 * order), so that the adds' latency overlaps. */
static void gap_planes(void *ctx, int64_t p0, int64_t p1)
{
    const GapJob *j = ctx;
    const int64_t len = j->len;
    int64_t p = p0;
    for (; p + 4 <= p1; p += 4) {
        const float *x = j->x + p * len;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (int64_t i = 0; i < len; i++) {
            s0 += x[i];
            s1 += x[len + i];
            s2 += x[2 * len + i];
            s3 += x[3 * len + i];
        }
        j->y[p] = (float)(s0 / (double)len);
        j->y[p + 1] = (float)(s1 / (double)len);
        j->y[p + 2] = (float)(s2 / (double)len);
        j->y[p + 3] = (float)(s3 / (double)len);
    }
    for (; p < p1; p++) {
        double sum = 0.0;
        for (int64_t i = 0; i < len; i++)
            sum += j->x[p * len + i];
        j->y[p] = (float)(sum / (double)len);
    }
}

static void gap_forward(const Node *n, const Tensor *const *in, Tensor *out, const RunCtx *rc)
{
    const Shape *s = &in[0]->shape;
    int64_t planes = s->dim[0] * s->dim[1], len = shape_span(s, 2, s->ndim);
    GapJob j = { tensor_f32(in[0]), tensor_f32(out), len }; /* (N*C, spatial) -> (N*C) */
    pool_for(planes, pool_grain(len), gap_planes, &j);
    (void)n;
    (void)rc;
}

/* dX[p, i] += dY[p] / len. */
static void gap_backward(const Node *n, const Tensor *const *in, const Tensor *out,
                         const Tensor *dout, Tensor *const *din, const RunCtx *rc)
{
    if (!din[0])
        return;
    const Shape *s = &in[0]->shape;
    int64_t planes = s->dim[0] * s->dim[1], len = shape_span(s, 2, s->ndim);
    const float *dy = tensor_f32(dout); /* (N*C) */
    float *dx = tensor_f32(din[0]);     /* (N*C, spatial) */
    for (int64_t p = 0; p < planes; p++) {
        float gv = (float)((double)dy[p] / (double)len);
        for (int64_t i = 0; i < len; i++)
            dx[p * len + i] += gv;
    }
    (void)n;
    (void)out;
    (void)rc;
}

const OpDef op_maxpool_def = {
    .name = "MaxPool", .min_in = 1, .max_in = 1, .infer = pool_infer, .forward = maxpool_forward,
    .parse = geom_parse,
    .int8 = { .step = OPQ_MAXPOOL, .qp = OPQ_QP_INPUT },
    .backward = maxpool_backward,
};
const OpDef op_avgpool_def = {
    .name = "AveragePool", .min_in = 1, .max_in = 1, .infer = pool_infer, .forward = avgpool_forward,
    .parse = geom_parse,
    .int8 = { .step = OPQ_AVGPOOL, .qp = OPQ_QP_OWN },
    .backward = avgpool_backward,
};
const OpDef op_globalavgpool_def = {
    .name = "GlobalAveragePool", .min_in = 1, .max_in = 1, .infer = gap_infer, .forward = gap_forward,
    .int8 = { .step = OPQ_GLOBALPOOL, .qp = OPQ_QP_OWN },
    .backward = gap_backward,
};
