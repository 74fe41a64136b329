#include "kern/dwconv.h"

#include <math.h>

#include "kern/clamp.h"
#include "kern/dwconv_impl.h"
#include "kern/pool.h"
#include "kern/simd.h"

void dwconv_cols(const ConvPlane *g, int64_t *lo, int64_t *hi)
{
    for (int64_t kj = 0; kj < g->kw; kj++)
        conv_tap_range(g->ow, g->w, g->sw, kj * g->dw - g->pl, &lo[kj], &hi[kj]);
}

void dwconv_prefetch_rows(const DwPlane *p, int64_t oy0, int64_t rows)
{
    const ConvPlane *g = p->g;
    int64_t r0 = oy0 * g->sh - g->pt;
    int64_t r1 = (oy0 + rows - 1) * g->sh - g->pt + (g->kh - 1) * g->dh + 1;
    r0 = r0 < 0 ? 0 : r0;
    r1 = r1 > g->h ? g->h : r1;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t c = 0; c < g->w; c += 16) /* a 64-byte line per 16 floats */
            __builtin_prefetch(p->x + r * g->w + c);
}

/* The reference: the rule of dwconv.h written out. */
void dwconv_plane_scalar(const DwPlane *p)
{
    const ConvPlane *g = p->g;
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++) {
            float acc = p->bias;
            for (int64_t ki = 0; ki < g->kh; ki++) {
                int64_t iy = oy * g->sh - g->pt + ki * g->dh;
                bool row_in = iy >= 0 && iy < g->h;
                for (int64_t kj = 0; kj < g->kw; kj++) {
                    int64_t ix = ox * g->sw - g->pl + kj * g->dw;
                    float v = row_in && ix >= 0 && ix < g->w ? p->x[iy * g->w + ix] : 0.0f;
                    acc = fmaf(p->w[ki * g->kw + kj], v, acc);
                }
            }
            if (p->clamp)
                acc = clamp_value(acc, p->lo, p->hi);
            p->y[oy * g->ow + ox] = acc;
        }
}

typedef struct DwJob {
    const ConvPlane *g;
    int64_t c, mult;
    const float *x, *w;
    const DwEpi *epi;
    float *y;
    void (*plane)(const DwPlane *p);
} DwJob;

static void dw_planes(void *ctx, int64_t i0, int64_t i1)
{
    const DwJob *j = ctx;
    const ConvPlane *g = j->g;
    int64_t oc = j->c * j->mult, hw = g->h * g->w, ohw = g->oh * g->ow, taps = g->kh * g->kw;
    for (int64_t i = i0; i < i1; i++) {
        int64_t b = i / oc, o = i % oc;
        DwPlane p = { g, j->x + (b * j->c + o / j->mult) * hw, j->w + o * taps,
                      j->epi && j->epi->bias ? j->epi->bias[o] : 0.0f,
                      j->epi && j->epi->clamp, j->epi ? j->epi->lo : 0.0f,
                      j->epi ? j->epi->hi : 0.0f, j->y + i * ohw };
        j->plane(&p);
    }
}

static void dw_flat_units(void *ctx, int64_t u0, int64_t u1)
{
    dwconv_flat_avx512(ctx, u0, u1);
}

bool dwconv_flat_forward(const ConvPlane *g, int64_t n, int64_t c, const float *x,
                         const float *w, const DwEpi *epi, float *y)
{
    DwFlat f;
    if (simd_level() != SIMD_AVX512 || !dwflat_init(&f, g))
        return false;
    DwFlatJob j = { &f, g, n, c, x, w, epi, y };
    int64_t blocks = (c + f.planes - 1) / f.planes;
    pool_for(blocks * n, pool_grain(f.planes * g->oh * g->ow * f.taps), dw_flat_units, &j);
    return true;
}

void dwconv_forward(const ConvPlane *g, int64_t n, int64_t c, int64_t mult, const float *x,
                    const float *w, const DwEpi *epi, float *y)
{
    if (mult == 1 && dwflat_pays(g, n * c) && dwconv_flat_forward(g, n, c, x, w, epi, y))
        return;
    DwJob j = { g, c, mult, x, w, epi, y, dwconv_plane_scalar };
    SimdLevel l = simd_level();
    if (g->kw <= DW_MAX_KW && l == SIMD_AVX512)
        j.plane = dwconv_plane_avx512;
    else if (g->kw <= DW_MAX_KW && l == SIMD_AVX2)
        j.plane = dwconv_plane_avx2;
    pool_for(n * c * mult, pool_grain(g->oh * g->ow * g->kh * g->kw), dw_planes, &j);
}

typedef struct DwBackJob {
    const ConvPlane *g;
    int64_t n, c, mult;
    const float *x, *w, *dy;
    float *dx, *dw;
} DwBackJob;

/* dx for planes i = (sample, input channel): its output channels' taps in increasing
 * order, each tap over the positions that read inside the input. */
static void dw_back_dx(void *ctx, int64_t i0, int64_t i1)
{
    const DwBackJob *j = ctx;
    const ConvPlane *g = j->g;
    int64_t hw = g->h * g->w, ohw = g->oh * g->ow, taps = g->kh * g->kw;
    int64_t lo, hi; /* the output columns the tap reads inside the input */
    for (int64_t i = i0; i < i1; i++) {
        int64_t b = i / j->c, ic = i % j->c;
        float *dx = j->dx + i * hw;
        for (int64_t o = ic * j->mult; o < (ic + 1) * j->mult; o++) {
            const float *dy = j->dy + (b * j->c * j->mult + o) * ohw;
            for (int64_t t = 0; t < taps; t++) {
                int64_t ki = t / g->kw, kj = t % g->kw;
                float wv = j->w[o * taps + t];
                int64_t offw = kj * g->dw - g->pl;
                conv_tap_range(g->ow, g->w, g->sw, offw, &lo, &hi);
                for (int64_t oy = 0; oy < g->oh; oy++) {
                    int64_t iy = oy * g->sh - g->pt + ki * g->dh;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    int64_t xr = iy * g->w + offw; /* dx[xr + ox * sw] */
                    const float *dr = dy + oy * g->ow;
                    for (int64_t ox = lo; ox < hi; ox++)
                        dx[xr + ox * g->sw] += wv * dr[ox];
                }
            }
        }
    }
}

/* dw for output channels o: per tap a double sum over samples and positions. */
static void dw_back_dw(void *ctx, int64_t o0, int64_t o1)
{
    const DwBackJob *j = ctx;
    const ConvPlane *g = j->g;
    int64_t hw = g->h * g->w, ohw = g->oh * g->ow, taps = g->kh * g->kw;
    int64_t lo, hi; /* the output columns the tap reads inside the input */
    for (int64_t o = o0; o < o1; o++)
        for (int64_t t = 0; t < taps; t++) {
            int64_t ki = t / g->kw, kj = t % g->kw, offw = kj * g->dw - g->pl;
            conv_tap_range(g->ow, g->w, g->sw, offw, &lo, &hi);
            double acc = 0.0;
            for (int64_t b = 0; b < j->n; b++) {
                const float *dy = j->dy + (b * j->c * j->mult + o) * ohw;
                const float *x = j->x + (b * j->c + o / j->mult) * hw;
                for (int64_t oy = 0; oy < g->oh; oy++) {
                    int64_t iy = oy * g->sh - g->pt + ki * g->dh;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    int64_t xr = iy * g->w + offw; /* x[xr + ox * sw] */
                    const float *dr = dy + oy * g->ow;
                    for (int64_t ox = lo; ox < hi; ox++)
                        acc += (double)dr[ox] * x[xr + ox * g->sw];
                }
            }
            float *d = j->dw + o * taps + t;
            *d = (float)(*d + acc);
        }
}

void dwconv_backward(const ConvPlane *g, int64_t n, int64_t c, int64_t mult, const float *x,
                     const float *w, const float *dy, float *dx, float *dw)
{
    DwBackJob j = { g, n, c, mult, x, w, dy, dx, dw };
    if (dx)
        pool_for(n * c, pool_grain(mult * g->oh * g->ow * g->kh * g->kw), dw_back_dx, &j);
    if (dw)
        pool_for(c * mult, pool_grain(n * g->oh * g->ow * g->kh * g->kw), dw_back_dw, &j);
}
