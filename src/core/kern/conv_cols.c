#include "kern/conv_cols.h"

#include <stdbool.h>
#include <string.h>

#include "kern/pool.h"

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


/* Positions [p0, p0 + np) of one sample for one tap (ki, kj) of input channel plane xc
 * (h, w): gathers them into dst (add false; zero where the tap falls outside), or adds
 * dst back into xc (add true; outside taps dropped). */
static void tap_run(const ConvPlane *g, int64_t ki, int64_t kj, float *xc, float *dst,
                    int64_t p0, int64_t np, bool add)
{
    int64_t offh = ki * g->dh - g->pt, offw = kj * g->dw - g->pl;
    int64_t y0, y1, x0, x1;
    conv_tap_range(g->oh, g->h, g->sh, offh, &y0, &y1);
    conv_tap_range(g->ow, g->w, g->sw, offw, &x0, &x1);
    int64_t end = p0 + np, oy = p0 / g->ow, a = p0 % g->ow;
    /* one output row's [a, b) per step; rows after the first start at column 0 */
    for (int64_t p = p0; p < end; p += g->ow - a, a = 0, oy++) {
        int64_t b = end - p < g->ow - a ? a + (end - p) : g->ow;
        float *d = dst + (p - p0); /* d[ox - a] */
        int64_t lo = a > x0 ? a : x0, hi = b < x1 ? b : x1;
        bool inside = oy >= y0 && oy < y1 && lo < hi;
        const float *src = xc + (oy * g->sh + offh) * g->w + offw; /* src[ox * sw] */
        if (add) {
            if (inside)
                for (int64_t ox = lo; ox < hi; ox++)
                    xc[(src - xc) + ox * g->sw] += d[ox - a];
            continue;
        }
        if (!inside)
            lo = hi = b;
        else if (g->sw == 1)
            memcpy(d + (lo - a), src + lo, (size_t)(hi - lo) * sizeof *d);
        else if (g->sw == 2)
            for (int64_t ox = lo; ox < hi; ox++)
                d[ox - a] = src[2 * ox];
        else
            for (int64_t ox = lo; ox < hi; ox++)
                d[ox - a] = src[ox * g->sw];
        if (lo > a) /* the padding's zeros, on either side */
            memset(d, 0, (size_t)(lo - a) * sizeof *d);
        if (b > hi)
            memset(d + (hi - a), 0, (size_t)(b - hi) * sizeof *d);
    }
}

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
    int64_t taps = g->kh * g->kw, hw = g->h * g->w;
    for (int64_t r = r0; r < r1; r++) {
        int64_t ci = r / taps, t = r % taps;
        for (int64_t s = 0; s < j->k.nb; s++)
            tap_run(g, t / g->kw, t % g->kw, j->x + (j->k.b0 + s) * j->x_stride + ci * hw,
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
        for (int64_t t = 0; t < taps; t++)
            for (int64_t s = 0; s < j->k.nb; s++)
                tap_run(g, t / g->kw, t % g->kw, j->x + (j->k.b0 + s) * j->x_stride + ci * hw,
                        j->col + (ci * taps + t) * j->ld + s * j->k.np, j->k.p0, j->k.np,
                        true);
}

void conv_col2im(const ConvPlane *g, const float *col, int64_t ld, ConvChunk k, float *dx,
                 int64_t x_stride)
{
    ColsJob j = { g, dx, x_stride, k, (float *)col, ld };
    pool_for(g->c, pool_grain(g->kh * g->kw * k.nb * k.np), col2im_channels, &j);
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
