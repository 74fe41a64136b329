#include "kern/dwconv_flat.h"

#include "base/intmath.h"

/* A block: one plane when its vectors stay inside it; else whole periods (lcm(OH OW, 16)
 * outputs), as many as fit 16 planes and DWF_MAX_VECS vectors, so a block's weights are
 * gathered once for more vectors. *vecs = 0 when not even one period fits. */
static int64_t block_planes(const ConvPlane *g, int64_t *vecs)
{
    int64_t ohw = g->oh * g->ow;
    if (ohw <= 0) {
        *vecs = 0;
        return 1;
    }
    int64_t planes = DWF_LANES / gcd_i64(ohw, DWF_LANES), v = planes * ohw / DWF_LANES;
    if (planes > 1)
        while (planes * 2 <= DWF_LANES && v * 2 <= DWF_MAX_VECS) {
            planes *= 2;
            v *= 2;
        }
    *vecs = v <= DWF_MAX_VECS ? v : 0;
    return planes;
}

int64_t dwflat_planes(const ConvPlane *g)
{
    int64_t vecs;
    return block_planes(g, &vecs);
}

bool dwflat_pays(const ConvPlane *g, int64_t nplanes)
{
    bool contig = g->sh == 1 && g->sw == 1 && g->oh == g->h && g->ow == g->w;
    if (contig ? g->ow >= DWF_LANES : g->ow > 4)
        return false;
    /* the map costs about a scalar step per lane and kernel row or column */
    return nplanes * g->kh * g->kw >= DWF_LANES * dwflat_planes(g) * (g->kh + g->kw);
}

bool dwflat_init(DwFlat *f, const ConvPlane *g)
{
    int64_t ohw = g->oh * g->ow, hw = g->h * g->w, taps = g->kh * g->kw;
    if (ohw <= 0 || taps > DWF_MAX_TAPS || taps <= 0)
        return false;
    int64_t vecs, planes = block_planes(g, &vecs);
    if (vecs == 0)
        return false;
    /* every index and shift below is within +-(16 planes + one kernel's reach) */
    int64_t reach = (g->kh * g->dh + g->pt + 1) * g->w + g->kw * g->dw + g->pl + 1;
    if (hw > INT32_MAX / 32 || reach > INT32_MAX / 4 || planes * hw + reach > INT32_MAX / 2)
        return false;
    f->planes = planes;
    f->vecs = vecs;
    f->taps = taps;
    f->contig = g->sh == 1 && g->sw == 1 && g->oh == g->h && g->ow == g->w;
    for (int64_t t = 0; t < taps; t++)
        f->shift[t] = (int32_t)((t / g->kw * g->dh - g->pt) * g->w + t % g->kw * g->dw - g->pl);
    /* lane by lane, counters instead of divisions: this runs once per call */
    int64_t q = 0, oy = 0, ox = 0;
    for (int64_t v = 0; v < vecs; v++) {
        uint32_t rows[DWF_MAX_TAPS] = { 0 }, cols[DWF_MAX_TAPS] = { 0 };
        for (int64_t l = 0; l < DWF_LANES; l++) {
            f->plane[v][l] = (int32_t)q;
            f->idx[v][l] = (int32_t)(q * hw + oy * g->sh * g->w + ox * g->sw);
            for (int64_t ki = 0; ki < g->kh; ki++) {
                int64_t iy = oy * g->sh + ki * g->dh - g->pt;
                rows[ki] |= (uint32_t)(iy >= 0 && iy < g->h) << l;
            }
            for (int64_t kj = 0; kj < g->kw; kj++) {
                int64_t ix = ox * g->sw + kj * g->dw - g->pl;
                cols[kj] |= (uint32_t)(ix >= 0 && ix < g->w) << l;
            }
            if (++ox == g->ow) {
                ox = 0;
                if (++oy == g->oh) {
                    oy = 0;
                    q++;
                }
            }
        }
        for (int64_t t = 0; t < taps; t++)
            f->mask[v][t] = (uint16_t)(rows[t / g->kw] & cols[t % g->kw]);
    }
    return true;
}
