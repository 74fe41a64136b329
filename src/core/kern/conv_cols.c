#include "kern/conv_cols.h"

#include <stdbool.h>
#include <string.h>
#include <immintrin.h>

#include "kern/pool.h"
#include "kern/simd.h"

ConvChunks conv_chunks(int64_t n, int64_t p, int64_t rows)
{
    int64_t per_col = (rows < 1 ? 1 : rows) * (int64_t)sizeof(float);
    int64_t budget = (int64_t)CONV_CHUNK_BYTES / per_col;
    if (budget < 1)
        budget = 1;
    ConvChunks c = { .n = n, .p = p, .samples = 1, .piece = p };
    if (p <= budget) {
        c.samples = budget / p;
        if (c.samples > n)
            c.samples = n > 0 ? n : 1;
    } else {
        c.piece = budget;
    }
    return c;
}

int64_t conv_chunks_cols(const ConvChunks *c) { return c->samples * c->piece; }

int64_t conv_chunks_count(const ConvChunks *c)
{
    if (c->samples > 1 || c->piece == c->p)
        return (c->n + c->samples - 1) / c->samples;
    return c->n * ((c->p + c->piece - 1) / c->piece);
}

ConvChunk conv_chunk_at(const ConvChunks *c, int64_t i)
{
    ConvChunk k = { 0 };
    if (c->samples > 1 || c->piece == c->p) {
        k.b0 = i * c->samples;
        k.nb = c->n - k.b0 < c->samples ? c->n - k.b0 : c->samples;
        k.np = c->p;
        return k;
    }
    int64_t pieces = (c->p + c->piece - 1) / c->piece;
    k.b0 = i / pieces;
    k.nb = 1;
    k.p0 = (i % pieces) * c->piece;
    k.np = c->p - k.p0 < c->piece ? c->p - k.p0 : c->piece;
    return k;
}


/* A row's run of a small map, inline: a libc call costs more than the run (LeNet's rows
 * hold 10 to 28 values). Elementwise, so the same values as the scalar loops. */
static inline void run_copy(float *d, const float *s, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(d + i, _mm_loadu_ps(s + i));
    for (; i < n; i++)
        d[i] = s[i];
}

static inline void run_zero(float *d, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(d + i, _mm_setzero_ps());
    for (; i < n; i++)
        d[i] = 0.0f;
}

/* x[i] += d[i]: one add per element, as the scalar loop. */
static inline void run_add(float *x, const float *d, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(x + i, _mm_add_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(d + i)));
    for (; i < n; i++)
        x[i] += d[i];
}

/* One tap (ki, kj) of a plane: where its input starts and the output rows [y0, y1) and
 * columns [x0, x1) it reads inside the input; the same for every sample and channel. */
typedef struct TapSpan {
    int64_t offh, offw, y0, y1, x0, x1;
} TapSpan;

static TapSpan tap_span(const ConvPlane *g, int64_t t)
{
    TapSpan sp = { .offh = t / g->kw * g->dh - g->pt, .offw = t % g->kw * g->dw - g->pl };
    conv_tap_range(g->oh, g->h, g->sh, sp.offh, &sp.y0, &sp.y1);
    conv_tap_range(g->ow, g->w, g->sw, sp.offw, &sp.x0, &sp.x1);
    return sp;
}

/* tap_run over a whole sample at stride 1 across: row by row, no partial rows. */
static void tap_whole(const ConvPlane *g, const TapSpan *sp, float *xc, float *dst, bool add)
{
    int64_t ow = g->ow, x0 = sp->x0, x1 = sp->x1;
    for (int64_t oy = 0; oy < g->oh; oy++) {
        float *d = dst + oy * ow;
        bool inside = oy >= sp->y0 && oy < sp->y1 && x0 < x1;
        int64_t row = (oy * g->sh + sp->offh) * g->w + sp->offw; /* xc[row + ox] */
        if (add) {
            if (inside)
                run_add(xc + row + x0, d + x0, x1 - x0);
        } else if (inside) {
            run_zero(d, x0);
            run_copy(d + x0, xc + row + x0, x1 - x0);
            run_zero(d + x1, ow - x1);
        } else {
            run_zero(d, ow);
        }
    }
}

/* Positions [p0, p0 + np) of one sample for one tap (sp) of input channel plane xc
 * (h, w): gathers them into dst (add false; zero where the tap falls outside), or adds
 * dst back into xc (add true; outside taps dropped). */
static void tap_run(const ConvPlane *g, const TapSpan *sp, float *xc, float *dst, int64_t p0,
                    int64_t np, bool add)
{
    if (p0 == 0 && np == g->oh * g->ow && g->sw == 1) {
        tap_whole(g, sp, xc, dst, add);
        return;
    }
    int64_t offh = sp->offh, offw = sp->offw, y0 = sp->y0, y1 = sp->y1, x0 = sp->x0, x1 = sp->x1;
    int64_t end = p0 + np, oy = p0 / g->ow, a = p0 % g->ow;
    /* one output row's [a, b) per step; rows after the first start at column 0 */
    for (int64_t p = p0; p < end; p += g->ow - a, a = 0, oy++) {
        int64_t b = end - p < g->ow - a ? a + (end - p) : g->ow;
        float *d = dst + (p - p0); /* d[ox - a] */
        int64_t lo = a > x0 ? a : x0, hi = b < x1 ? b : x1;
        bool inside = oy >= y0 && oy < y1 && lo < hi;
        int64_t row = (oy * g->sh + offh) * g->w + offw; /* xc[row + ox * sw] */
        if (add) {
            if (inside && g->sw == 1)
                run_add(xc + row + lo, d + (lo - a), hi - lo);
            else if (inside)
                for (int64_t ox = lo; ox < hi; ox++)
                    xc[row + ox * g->sw] += d[ox - a];
            continue;
        }
        if (!inside)
            lo = hi = b;
        else if (g->sw == 1)
            run_copy(d + (lo - a), xc + row + lo, hi - lo);
        else if (g->sw == 2)
            for (int64_t ox = lo; ox < hi; ox++)
                d[ox - a] = xc[row + 2 * ox];
        else
            for (int64_t ox = lo; ox < hi; ox++)
                d[ox - a] = xc[row + ox * g->sw];
        run_zero(d, lo - a); /* the padding's zeros, on either side */
        run_zero(d + (hi - a), b - hi);
    }
}

/* Columns gathered per pass: the segments of a pass are found once for all its rows. */
#define GATHER_COLS 512

typedef struct ColsJob {
    const ConvPlane *g;
    float *x;
    int64_t x_stride;
    ConvChunk k;
    float *col;
    int64_t ld;
} ColsJob;

static void im2col_rows(void *ctx, int64_t r0, int64_t r1)
{
    const ColsJob *j = ctx;
    const ConvPlane *g = j->g;
    int64_t taps = g->kh * g->kw, hw = g->h * g->w, cols = j->k.nb * j->k.np;
    /* a panel of one sliver as wide as its row is row-major: AVX-512's gather writes it */
    ConvGather cg = { g, j->x, j->x_stride, j->k };
    if (j->ld == cols && cols <= GATHER_COLS && simd_level() == SIMD_AVX512 &&
        conv_gather_fill_grid(&cg, 0, cols, r0, r1 - r0, (int)cols, j->col + r0 * j->ld))
        return;
    for (int64_t r = r0; r < r1; r++) {
        int64_t ci = r / taps;
        TapSpan sp = tap_span(g, r % taps);
        for (int64_t s = 0; s < j->k.nb; s++)
            tap_run(g, &sp, j->x + (j->k.b0 + s) * j->x_stride + ci * hw,
                    j->col + r * j->ld + s * j->k.np, j->k.p0, j->k.np, false);
    }
}

void conv_im2col(const ConvPlane *g, const float *x, int64_t x_stride, ConvChunk k,
                 float *col, int64_t ld)
{
    ColsJob j = { g, (float *)x, x_stride, k, col, ld };
    pool_for(g->c * g->kh * g->kw, pool_grain(k.nb * k.np), im2col_rows, &j);
}

/* One channel per index: its taps only write its own plane, so channels run in parallel
 * and each element's terms come in increasing row order. */
static void col2im_channels(void *ctx, int64_t c0, int64_t c1)
{
    const ColsJob *j = ctx;
    const ConvPlane *g = j->g;
    int64_t taps = g->kh * g->kw, hw = g->h * g->w;
    for (int64_t ci = c0; ci < c1; ci++)
        for (int64_t t = 0; t < taps; t++) {
            TapSpan sp = tap_span(g, t);
            for (int64_t s = 0; s < j->k.nb; s++)
                tap_run(g, &sp, j->x + (j->k.b0 + s) * j->x_stride + ci * hw,
                        j->col + (ci * taps + t) * j->ld + s * j->k.np, j->k.p0, j->k.np,
                        true);
        }
}

void conv_col2im(const ConvPlane *g, const float *col, int64_t ld, ConvChunk k, float *dx,
                 int64_t x_stride)
{
    ColsJob j = { g, dx, x_stride, k, (float *)col, ld };
    pool_for(g->c, pool_grain(g->kh * g->kw * k.nb * k.np), col2im_channels, &j);
}

/* Where a run of columns starts: sample s of the chunk, output row oy, column ox, and q,
 * the position's index within the chunk's positions of that sample. */
typedef struct ColPos {
    int64_t s, q, oy, ox;
} ColPos;

static ColPos col_pos(const ConvPlane *g, ConvChunk k, int64_t j)
{
    ColPos c = { j / k.np, j % k.np, 0, 0 };
    int64_t p = k.p0 + c.q;
    c.oy = p / g->ow;
    c.ox = p % g->ow;
    return c;
}

/* d[0 .. len) = input row `src` of one tap at output columns [ox, ox + len) of a row inside
 * the tap's row range: zeros outside [x0, x1), as tap_run writes. */
static void gather_run(const ConvPlane *g, const float *src, int64_t ox, int64_t len,
                       int64_t x0, int64_t x1, float *d)
{
    int64_t lo = ox > x0 ? ox : x0, hi = ox + len < x1 ? ox + len : x1;
    if (lo >= hi) {
        lo = hi = ox + len;
    } else if (g->sw == 1) {
        for (int64_t x = lo; x < hi; x++)
            d[x - ox] = src[x];
    } else {
        for (int64_t x = lo; x < hi; x++)
            d[x - ox] = src[x * g->sw];
    }
    for (int64_t x = ox; x < lo; x++)
        d[x - ox] = 0.0f;
    for (int64_t x = hi; x < ox + len; x++)
        d[x - ox] = 0.0f;
}

/* A run of columns that one input row serves for every tap: output row oy, columns
 * [ox, ox + len) of one sample (x at xoff), written at out[dst + k * w] for row k. */
typedef struct GatherSeg {
    int64_t dst, xoff, oy, ox, len;
} GatherSeg;

/* The segments of columns [j0, j0 + nc) (nc <= GATHER_COLS, j0 a multiple of w): runs end
 * at a sliver's edge, an output row's end or the sample's last position. */
static int64_t gather_segs(const ConvGather *cg, int64_t j0, int64_t nc, int64_t kc, int w,
                           GatherSeg *seg)
{
    const ConvPlane *g = cg->g;
    ColPos c = col_pos(g, cg->k, j0);
    int64_t n = 0, jw = 0; /* jw: the column's index within its sliver */
    for (int64_t j = 0; j < nc; n++) {
        int64_t len = w - jw;
        if (len > g->ow - c.ox)
            len = g->ow - c.ox;
        if (len > cg->k.np - c.q)
            len = cg->k.np - c.q;
        if (len > nc - j)
            len = nc - j;
        seg[n] = (GatherSeg){ (j - jw) * kc + jw, (cg->k.b0 + c.s) * cg->x_stride, c.oy, c.ox,
                              len };
        j += len;
        jw += len;
        if (jw == w)
            jw = 0;
        c.q += len;
        c.ox += len;
        if (c.q == cg->k.np) {
            c = col_pos(g, cg->k, j0 + j);
        } else if (c.ox == g->ow) {
            c.ox = 0;
            c.oy++;
        }
    }
    return n;
}

/* Rows [k0, k0 + kc) of the segments' columns into out. */
static void gather_rows(const ConvGather *cg, const GatherSeg *seg, int64_t nseg, int64_t k0,
                        int64_t kc, int w, float *out)
{
    const ConvPlane *g = cg->g;
    int64_t taps = g->kh * g->kw, hw = g->h * g->w;
    for (int64_t r = k0; r < k0 + kc; r++) {
        int64_t ci = r / taps, t = r % taps, ki = t / g->kw, kj = t % g->kw;
        int64_t offh = ki * g->dh - g->pt, offw = kj * g->dw - g->pl, y0, y1, x0, x1;
        conv_tap_range(g->oh, g->h, g->sh, offh, &y0, &y1);
        conv_tap_range(g->ow, g->w, g->sw, offw, &x0, &x1);
        float *row = out + (r - k0) * w;
        const float *xc = cg->x + ci * hw + offw;
        for (int64_t i = 0; i < nseg; i++) {
            const GatherSeg *sg = &seg[i];
            float *d = row + sg->dst;
            if (sg->oy >= y0 && sg->oy < y1)
                gather_run(g, xc + sg->xoff + (sg->oy * g->sh + offh) * g->w, sg->ox, sg->len,
                           x0, x1, d);
            else
                memset(d, 0, (size_t)sg->len * sizeof *d);
        }
    }
}

void conv_gather_fill(const void *ctx, int64_t j0, int64_t nc, int64_t k0, int64_t kc, int w,
                      float *out)
{
    const ConvGather *cg = ctx;
    if (simd_level() == SIMD_AVX512 && conv_gather_fill_grid(cg, j0, nc, k0, kc, w, out))
        return;
    GatherSeg seg[GATHER_COLS];
    int64_t pass = GATHER_COLS / w * w, tail = nc % w;
    for (int64_t j = 0; j < nc; j += pass) {
        int64_t n = nc - j < pass ? nc - j : pass;
        int64_t nseg = gather_segs(cg, j0 + j, n, kc, w, seg);
        gather_rows(cg, seg, nseg, k0, kc, w, out + j * kc);
    }
    if (tail) /* the last sliver's columns past nc */
        for (int64_t k = 0; k < kc; k++)
            memset(out + (nc / w) * kc * w + k * w + tail, 0, (size_t)(w - tail) * sizeof *out);
}

typedef struct RowsJob {
    float *t;
    int64_t t_stride, p;
    ConvChunk k;
    float *panel;
    int64_t ld;
    bool unpack, add;
} RowsJob;

static void rows_copy(void *ctx, int64_t r0, int64_t r1)
{
    const RowsJob *j = ctx;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t s = 0; s < j->k.nb; s++) {
            float *t = j->t + (j->k.b0 + s) * j->t_stride + r * j->p + j->k.p0;
            float *pn = j->panel + r * j->ld + s * j->k.np;
            size_t bytes = (size_t)j->k.np * sizeof *t;
            if (!j->unpack)
                memcpy(pn, t, bytes);
            else if (!j->add)
                memcpy(t, pn, bytes);
            else
                for (int64_t i = 0; i < j->k.np; i++)
                    t[i] += pn[i];
        }
}

void conv_pack_rows(const float *t, int64_t t_stride, int64_t rows, int64_t p, ConvChunk k,
                    float *panel, int64_t ld)
{
    RowsJob j = { (float *)t, t_stride, p, k, panel, ld, false, false };
    pool_for(rows, pool_grain(k.nb * k.np), rows_copy, &j);
}

void conv_unpack_rows(const float *panel, int64_t ld, int64_t rows, int64_t p, ConvChunk k,
                      float *t, int64_t t_stride, bool add)
{
    RowsJob j = { t, t_stride, p, k, (float *)panel, ld, true, add };
    pool_for(rows, pool_grain(k.nb * k.np), rows_copy, &j);
}
