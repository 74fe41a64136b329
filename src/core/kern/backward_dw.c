/* The channel-minor kernels are written once over GCC vector types of L lanes and compiled
 * per level (L = 8 at AVX2, 16 at AVX-512); the scratch is 64-byte aligned and every
 * position's L floats are one vector, so the float vector loads are aligned (the double
 * sums, twice as wide, are copied in and out). */
#include "kern/backward_dw.h"

#include <stdint.h>
#include <string.h>

#include "kern/backward.h"
#include "kern/dwconv.h"
#include "kern/pool.h"
#include "kern/simd.h"
#include "kern/thread_buffer.h"

typedef struct DwBack {
    const ConvPlane *g;
    int64_t n, c;
    const float *x, *w, *dy;
    float *dx, *dw;
    int lanes;
} DwBack;

/* One block's scratch, channel-minor: xf (h w, L) and dyf (oh ow, L), dxf (h w, L), the
 * weights wt (taps, L), dW's sums acc (taps, L) in double. */
typedef struct DwScratch {
    double *acc;
    float *xf, *dyf, *dxf, *wt;
} DwScratch;

/* out[i * L + l] = l < lv ? src[l * stride + i] : 0 for i < count. */
static void to_lanes_f(const float *src, int64_t stride, int64_t count, int lv, int L,
                       float *out)
{
    if (lv == L) {
        backward_transpose(src, stride, L, count, out, L);
        return;
    }
    for (int64_t i = 0; i < count; i++) {
        float *o = out + i * L;
        for (int l = 0; l < lv; l++)
            o[l] = src[l * stride + i];
        for (int l = lv; l < L; l++)
            o[l] = 0.0f;
    }
}

static void from_lanes_f(const float *in, int64_t count, int lv, int L, float *dst,
                         int64_t stride)
{
    if (lv == L) {
        backward_transpose(in, L, count, L, dst, stride);
        return;
    }
    for (int64_t i = 0; i < count; i++)
        for (int l = 0; l < lv; l++)
            dst[l * stride + i] = in[i * L + l];
}

/* The rows [*y0, *y1) and columns [*x0, *x1) of outputs whose tap t reads inside the input,
 * and the tap's input offsets: as dwconv_backward's loops. */
static void tap_rect(const ConvPlane *g, int64_t t, int64_t *y0, int64_t *y1, int64_t *x0,
                     int64_t *x1, int64_t *offh, int64_t *offw)
{
    *offh = t / g->kw * g->dh - g->pt;
    *offw = t % g->kw * g->dw - g->pl;
    conv_tap_range(g->oh, g->h, g->sh, *offh, y0, y1);
    conv_tap_range(g->ow, g->w, g->sw, *offw, x0, x1);
}

/* One sample's terms of dW (acc += dy x per tap) and of dX (dx += w dy per tap, in
 * increasing tap order), L lanes of channels at once. */
#define DW_KERNELS(SUF, L, TARGET)                                                            \
    typedef double vd_##SUF __attribute__((vector_size(8 * (L))));                            \
    typedef float vf_##SUF __attribute__((vector_size(4 * (L))));                             \
    __attribute__((target(TARGET))) static void dw_sample_##SUF(const ConvPlane *g,          \
                                                               const DwScratch *s)           \
    {                                                                                         \
        int64_t y0, y1, x0, x1, offh, offw;                                                   \
        for (int64_t t = 0; t < g->kh * g->kw; t++) {                                         \
            tap_rect(g, t, &y0, &y1, &x0, &x1, &offh, &offw);                                 \
            vd_##SUF a; /* the sums: 64-byte aligned, less than a vector of doubles */        \
            memcpy(&a, s->acc + t * (L), sizeof a);                                           \
            for (int64_t oy = y0; oy < y1; oy++) {                                            \
                int64_t xr = (oy * g->sh + offh) * g->w + offw; /* xf[(xr + ox sw) L] */      \
                const float *dr = s->dyf + oy * g->ow * (L);                                  \
                for (int64_t ox = x0; ox < x1; ox++)                                          \
                    a += __builtin_convertvector(*(const vf_##SUF *)(dr + ox * (L)), vd_##SUF) * \
                         __builtin_convertvector(                                             \
                             *(const vf_##SUF *)(s->xf + (xr + ox * g->sw) * (L)), vd_##SUF); \
            }                                                                                 \
            memcpy(s->acc + t * (L), &a, sizeof a);                                           \
        }                                                                                     \
    }                                                                                         \
    __attribute__((target(TARGET))) static void dx_sample_##SUF(const ConvPlane *g,          \
                                                               const DwScratch *s)           \
    {                                                                                         \
        int64_t y0, y1, x0, x1, offh, offw;                                                   \
        for (int64_t t = 0; t < g->kh * g->kw; t++) {                                         \
            tap_rect(g, t, &y0, &y1, &x0, &x1, &offh, &offw);                                 \
            vf_##SUF wv = *(const vf_##SUF *)(s->wt + t * (L));                               \
            for (int64_t oy = y0; oy < y1; oy++) {                                            \
                int64_t xr = (oy * g->sh + offh) * g->w + offw; /* dxf[(xr + ox sw) L] */     \
                const float *dr = s->dyf + oy * g->ow * (L);                                  \
                for (int64_t ox = x0; ox < x1; ox++) {                                        \
                    vf_##SUF *d = (vf_##SUF *)(s->dxf + (xr + ox * g->sw) * (L));             \
                    vf_##SUF p = wv * *(const vf_##SUF *)(dr + ox * (L));                     \
                    *d = *d + p;                                                              \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }

DW_KERNELS(avx2, 8, "avx2")
DW_KERNELS(avx512, 16, "avx512f")

/* Channels [c0, c0 + lv) over the whole batch. */
static void dw_block(const DwBack *j, int64_t c0, int lv, const DwScratch *s)
{
    const ConvPlane *g = j->g;
    int L = j->lanes;
    int64_t hw = g->h * g->w, ohw = g->oh * g->ow, taps = g->kh * g->kw;
    bool wide = L == 16;
    if (j->dw)
        memset(s->acc, 0, (size_t)(taps * L) * sizeof *s->acc);
    if (j->dx) /* wt[t][l] = w[(c0 + l) taps + t]: the (channel, tap) matrix transposed */
        to_lanes_f(j->w + c0 * taps, taps, taps, lv, L, s->wt);
    for (int64_t b = 0; b < j->n; b++) {
        const float *xb = j->x + (b * j->c + c0) * hw, *dyb = j->dy + (b * j->c + c0) * ohw;
        to_lanes_f(dyb, ohw, ohw, lv, L, s->dyf);
        if (j->dw) {
            to_lanes_f(xb, hw, hw, lv, L, s->xf);
            if (wide)
                dw_sample_avx512(g, s);
            else
                dw_sample_avx2(g, s);
        }
        if (j->dx) {
            float *dxb = j->dx + (b * j->c + c0) * hw;
            to_lanes_f(dxb, hw, hw, lv, L, s->dxf);
            if (wide)
                dx_sample_avx512(g, s);
            else
                dx_sample_avx2(g, s);
            from_lanes_f(s->dxf, hw, lv, L, dxb, hw);
        }
    }
    if (j->dw)
        for (int l = 0; l < lv; l++)
            for (int64_t t = 0; t < taps; t++) {
                float *d = j->dw + (c0 + l) * taps + t;
                *d = (float)(*d + s->acc[t * L + l]);
            }
}

/* The scratch's bytes for L lanes, each part a multiple of 64. */
static size_t part(int64_t count, int L, size_t elem)
{
    return ((size_t)(count * L) * elem + 63) / 64 * 64;
}

/* One block's scratch: its bytes, and its parts laid out in mem when mem is not NULL. */
static size_t dw_scratch(const ConvPlane *g, int L, char *mem, DwScratch *s)
{
    int64_t hw = g->h * g->w, ohw = g->oh * g->ow, taps = g->kh * g->kw;
    size_t at[5], n;
    at[0] = 0;
    at[1] = at[0] + part(taps, L, 8); /* acc */
    at[2] = at[1] + part(hw, L, 4);   /* xf */
    at[3] = at[2] + part(ohw, L, 4);  /* dyf */
    at[4] = at[3] + part(hw, L, 4);   /* dxf */
    n = at[4] + part(taps, L, 4);     /* wt */
    if (mem)
        *s = (DwScratch){ (double *)(mem + at[0]), (float *)(mem + at[1]),
                          (float *)(mem + at[2]), (float *)(mem + at[3]),
                          (float *)(mem + at[4]) };
    return n;
}

typedef struct DwRun {
    const DwBack *j;
    char *mem; /* each block's scratch, `bytes` apart */
    size_t bytes;
} DwRun;

static void dw_blocks(void *ctx, int64_t b0, int64_t b1)
{
    const DwRun *r = ctx;
    const DwBack *j = r->j;
    for (int64_t blk = b0; blk < b1; blk++) {
        DwScratch s;
        dw_scratch(j->g, j->lanes, r->mem + (size_t)blk * r->bytes, &s);
        int64_t c0 = blk * j->lanes;
        dw_block(j, c0, (int)(j->c - c0 < j->lanes ? j->c - c0 : j->lanes), &s);
    }
}

void backward_depthwise(const ConvPlane *g, int64_t n, int64_t c, int64_t mult,
                        const float *x, const float *w, const float *dy, float *dx, float *dw)
{
    SimdLevel l = simd_level();
    DwBack j = { g, n, c, x, w, dy, dx, dw, l == SIMD_AVX512 ? 16 : 8 };
    int64_t blocks = (c + j.lanes - 1) / j.lanes;
    DwRun r = { &j, NULL, dw_scratch(g, j.lanes, NULL, NULL) };
    if (mult != 1 || l == SIMD_SCALAR || (!dx && !dw) ||
        !(r.mem = thread_buffer(TBUF_BACKWARD, r.bytes * (size_t)blocks))) {
        dwconv_backward(g, n, c, mult, x, w, dy, dx, dw);
        return;
    }
    pool_for(blocks, pool_grain(j.lanes * n * g->oh * g->ow * g->kh * g->kw), dw_blocks, &r);
}
