/* Internal to the depthwise kernels (dwconv.c and its SIMD files): one plane's job and the
 * column ranges each tap keeps inside the input. */
#ifndef QS_DWCONV_IMPL_H
#define QS_DWCONV_IMPL_H

#include "kern/dwconv.h"
#include "kern/dwconv_flat.h"

/* One output plane: x (h, w) of its input channel, taps w (kh, kw), y (oh, ow). */
typedef struct DwPlane {
    const ConvPlane *g;
    const float *x, *w;
    float bias;
    bool clamp;
    float lo, hi;
    float *y;
} DwPlane;

/* The output columns [lo[kj], hi[kj]) whose tap kj reads inside the row; taps beyond
 * DW_MAX_KW run on the scalar reference. */
#define DW_MAX_KW 64

void dwconv_cols(const ConvPlane *g, int64_t *lo, int64_t *hi);

/* The flat path (dwconv_flat.h): units u = block * n + sample, blocks of f->planes
 * channels, so consecutive units of one part share the block's weight vectors. */
typedef struct DwFlatJob {
    const DwFlat *f;
    const ConvPlane *g;
    int64_t n, c;
    const float *x, *w;
    const DwEpi *epi;
    float *y;
} DwFlatJob;

/* The flat path at AVX-512 over units [u0, u1) (the reference is dwconv_plane_scalar's
 * rule: the same sums, lane by lane). */
void dwconv_flat_avx512(const DwFlatJob *j, int64_t u0, int64_t u1);

/* dwconv_forward (one channel multiplier) on the flat path whatever dwflat_pays says
 * (tests); false when it cannot run (below AVX-512, or the map does not fit). */
bool dwconv_flat_forward(const ConvPlane *g, int64_t n, int64_t c, const float *x,
                         const float *w, const DwEpi *epi, float *y);

/* Asks the cache for the input rows that output rows oy0 .. oy0 + rows - 1 read (the SIMD
 * kernels call it a group of rows ahead: at batch 64 a plane is rarely in cache, and a
 * stride-2 plane's loads waited on memory). A hint only: no value changes. */
void dwconv_prefetch_rows(const DwPlane *p, int64_t oy0, int64_t rows);

void dwconv_plane_scalar(const DwPlane *p);
void dwconv_plane_avx2(const DwPlane *p);
void dwconv_plane_avx512(const DwPlane *p);

#endif
