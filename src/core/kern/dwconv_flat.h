/* The lane map of depthwise kernels vectorised across planes (dwconv.c's flat path and
 * qexec's int8 depthwise): a block of consecutive planes' outputs, flattened, cut into
 * vectors of 16 lanes, so a 2x2 or 4x4 map fills every lane instead of a few. Each lane
 * still sums its own output's taps in the reference's order; only which lane holds which
 * output changes, so the bits are the reference's.
 *
 * The pattern of (plane, position) over the lanes repeats every lcm(OH OW, 16) outputs; a
 * block of `planes` consecutive planes of one sample (one plane, or whole periods up to
 * 16 planes), `vecs` vectors, is the kernels' unit, and its map is built once per call
 * (the last block of a sample may be partial: lanes of missing planes are not live).
 * Lane l of vector v holds output position (v 16 + l) of the block: plane plane[v][l];
 * for tap t it reads the input at idx[v][l] + shift[t] (relative to the block's first
 * input plane) when bit l of mask[v][t] is set, 0 otherwise (the reference's zero). */
#ifndef QS_DWCONV_FLAT_H
#define QS_DWCONV_FLAT_H

#include <stdbool.h>
#include <stdint.h>

#include "kern/conv_cols.h"

enum {
    DWF_LANES = 16,
    DWF_MAX_TAPS = 25, /* 5x5 */
    DWF_MAX_VECS = 64, /* a 32x32 map, or a period of up to 16 small planes */
};

typedef struct DwFlat {
    int64_t planes, vecs, taps;
    bool contig; /* stride 1, OH = H, OW = W: idx[v][l] = v 16 + l (one unaligned load) */
    int32_t shift[DWF_MAX_TAPS];
    int32_t idx[DWF_MAX_VECS][DWF_LANES];
    int32_t plane[DWF_MAX_VECS][DWF_LANES];
    uint16_t mask[DWF_MAX_VECS][DWF_MAX_TAPS];
} DwFlat;

/* The map of geometry g (one channel multiplier: input plane i feeds output plane i);
 * false when it does not fit the tables (more taps or vectors, offsets beyond int32):
 * then the per-plane kernels run. */
bool dwflat_init(DwFlat *f, const ConvPlane *g);

/* Planes per block of geometry g's map. */
int64_t dwflat_planes(const ConvPlane *g);

/* Whether the flat path beats vectors along rows for nplanes output planes (measured with
 * dwconv_forward at batch 1 and 64 on MobileNetV2's and dwnet's maps): rows narrower than a
 * vector at stride 1 and the same size (contiguous loads), outputs at most 4 wide
 * otherwise (gathers); and enough planes to repay building the map. */
bool dwflat_pays(const ConvPlane *g, int64_t nplanes);

#endif
