/* The report's figures as inline SVG (svg_draw.h): per-layer bars, an activation histogram
 * with its clipping range, and per-channel weight ranges. The figures draw what they are
 * given; the numbers come from the commands' results (cmds/report_html.c). */
#ifndef QS_SVG_CHARTS_H
#define QS_SVG_CHARTS_H

#include <stdbool.h>

#include "text/strbuf.h"

/* One layer of a per-layer figure: its name and a value for each of two series (NaN: the
 * layer has none, e.g. fused into the next; +Inf: exact). */
typedef struct SvgLayerRow {
    const char *name;
    double v[2];
} SvgLayerRow;

/* Horizontal bars, one row per layer in the order given, each row a
 * <g class="layer" data-layer=NAME data-index=I> holding one <rect class="bar CLS"> per
 * series (width 0 when it has no value), so a reader (or a test) finds exactly one bar per
 * layer and series. cls[k] names series k (a class of the style sheet) and label[k] its
 * legend; values are drawn from 0 (a negative one as 0) to the largest finite one; `unit`
 * follows the numbers ("dB"). `worst`: the row marked in bold (-1: none). */
void svg_layer_bars(StrBuf *b, const char *id, const char *const cls[2],
                    const char *const label[2], const char *unit, const SvgLayerRow *rows,
                    int n, int worst);

/* An activation histogram: mass[i] is the count in column i of n equal columns over
 * [xlo, xhi], drawn on a log scale (log1p, as `hist` draws it) over the shaded clipping
 * range [clip_lo, clip_hi], with zero marked. */
void svg_histogram(StrBuf *b, const char *label, const double *mass, int n, double xlo,
                   double xhi, double clip_lo, double clip_hi);

/* Per-channel weight ranges: channel i spans [lo[i], hi[i]], drawn as a bar around zero;
 * channel `widest` (-1: none) in the warning colour. */
void svg_channel_ranges(StrBuf *b, const char *label, const double *lo, const double *hi,
                        int n, int widest);

#endif
