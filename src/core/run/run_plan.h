/* The layout of an inference run (run.h, Run.outputs_only): which Relu and Clip nodes fuse
 * into the node that produces their input, and where each node output lives in the
 * activation arena, from the values' lifetimes.
 *
 * Fusion: a node whose op row sets fuses_clamp (op.h) takes over a following Relu or Clip
 * when that activation is the only reader of its output and the output is not a graph
 * output. The producer then clamps in its epilogue (RunCtx.clamp) and the activation's
 * value shares the producer's slot; the clamp is the activation's own comparison, so the
 * values are bit-identical. When a run does not fuse (a tap must see every node's own
 * output), the activation runs in place on that shared slot, which an elementwise
 * activation allows (each output element reads only its own input element).
 *
 * A BatchNormalization fuses the same way into a node whose row sets fuses_bn (op.h: Conv)
 * when it is the only reader of that node's output: the producer runs the normalization's
 * formula per channel (RunCtx.bn) and then the clamp of an activation fused into the
 * BatchNormalization (Conv -> BatchNormalization -> Relu/Clip becomes one step), the same
 * operations in the same order as the separate nodes, so bit-identical. Unfused, it runs
 * in place on the shared slot like an activation (each output element reads its own).
 *
 * Lifetimes: a slot is live from the step (position in the topological order) that writes
 * it to the last step that reads it; graph outputs stay live after the run. Slots are
 * placed largest first at the lowest 64-byte aligned offset that no slot live at the same
 * time overlaps (first fit, TFLite Micro's greedy rule), so a node's output never overlaps
 * its inputs, and dead values' room is reused.
 *
 * The fusion and the lifetimes depend on the graph only and are planned once
 * (run_plan_init); the offsets depend on the batch size (run_plan_layout) and are computed
 * without allocating. */
#ifndef QS_RUN_PLAN_H
#define QS_RUN_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/graph.h"

typedef struct RunPlan {
    int *fused_act;     /* [n_nodes] by node index: the activation fused into it, or -1 */
    int *fused_bn;      /* [n_nodes] by node index: the BatchNormalization fused into it, or -1 */
    bool *fused_away;   /* [n_nodes] an activation or BatchNormalization its producer computes */
    float *clamp_lo;    /* [n_nodes] a producer's fused clamp range */
    float *clamp_hi;
    int n_fused;
    int *slot_of;       /* [n_values] the value whose slot v uses: v itself, or for a fused
                           activation its producer's output; -1 when not in the arena */
    int *first, *last;  /* [n_values] of slot owners: steps live (last = n_nodes: kept) */
    int *order;         /* [n_values] layout work space: slot owners, largest first */
    int *placed;        /* [n_values] layout work space: placed slots by offset */
    size_t *off;        /* [n_values] of slot owners: arena offset (run_plan_layout) */
    size_t *bytes;      /* [n_values] of slot owners: 64-byte aligned size */
} RunPlan;

/* Plans fusion and lifetimes for the finalized graph g. */
void run_plan_init(RunPlan *p, const Graph *g);
/* Offsets of every slot for these value shapes (Run.shapes); returns the arena's bytes.
 * Does not allocate. */
size_t run_plan_layout(RunPlan *p, const Graph *g, const Shape *shapes);
void run_plan_release(RunPlan *p);

/* Size of a value of shape s in an arena: f32 elements rounded up to 64 bytes. */
size_t run_slot_bytes(const Shape *s);

#endif
