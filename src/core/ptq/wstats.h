/* Per-output-channel statistics of a linear unit's integer weights, as the executor
 * quantizes them: the unit's weights after BatchNorm folding (graph/linear_unit.h), with
 * the scales of the one weight rule (quant/wscale.h) at a bit width and granularity.
 * It says which channels a per-tensor scale starves of integer levels (the depthwise
 * failure: one wide channel sets the scale, the others round to a handful of codes).
 *
 * Use: WStats ws; wstats_for_plan(g, plan, node, &ws, err); read ws.ch[c] and
 * ws.by_range; wstats_release(&ws). Core: computes only, never prints. */
#ifndef QS_WSTATS_H
#define QS_WSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"
#include "graph/linear_unit.h"
#include "quant/plan.h"

typedef struct WChannelStats {
    float min, max;          /* the channel's smallest and largest folded weight */
    float absmax;            /* max |w| */
    float scale;             /* the scale its weights are quantized with */
    int levels;              /* distinct integer codes its weights quantize to (>= 1) */
    int max_code;            /* the largest |code| among them: its range covers the
                                2 max_code + 1 levels -max_code..max_code */
    int64_t nonzero;         /* weights != 0 */
    int64_t zeroed;          /* weights != 0 that quantize to code 0 */
} WChannelStats;

typedef struct WStats {
    int node;                /* the unit's head (the node asked, or the head absorbing it) */
    LinearKind kind;
    int64_t oc, k;           /* output channels and weights per channel */
    int bits;                /* the integer width (2..8) */
    bool per_tensor;         /* one scale for the tensor (else one per channel) */
    bool integer;            /* wstats_for_plan: the plan runs the head at an integer
                                precision (otherwise the figures say what would happen) */
    int max_levels;          /* codes a channel could use: 2^bits - 1 */
    WChannelStats *ch;       /* [oc] */
    int *by_range;           /* [oc] channel indices, widest max - min first (ties: lower
                                index first) */
    int64_t nonzero, zeroed; /* totals over the channels */
} WStats;

/* The statistics of the unit containing node `node` (its head, or a BatchNorm or clamp
 * the unit absorbs) at `bits` (2..8) and the given granularity. QS_EINVAL when the node
 * is in no linear unit. ws is zeroed first; on success the caller calls wstats_release. */
QsStatus wstats_compute(const Graph *g, int node, int bits, bool per_tensor, WStats *ws,
                        QsError *err);
/* wstats_compute with plan p's bits and the node's granularity (plan_node_wgran_tensor). */
QsStatus wstats_for_plan(const Graph *g, const Plan *p, int node, WStats *ws, QsError *err);
void wstats_release(WStats *ws);

/* Channel c's share of nonzero weights that quantize to 0 (0 when it has none). */
double wstats_zero_share(const WChannelStats *c);
/* How many channels use fewer than `levels` integer codes. */
int64_t wstats_channels_below(const WStats *ws, int levels);

#endif
