/* A run's cache of packed weights (OpDef.packed_bytes, RunCtx.packed): the float GEMM's
 * weight operands packed at the first forward and reused by every later one, instead of
 * repacked on every call. Only for runs whose caller keeps the graph's constants fixed
 * while the run lives (run.h's Run.pack_weights). Memory is bounded: nodes are taken in
 * graph order while the total stays within RUN_PACK_CAP bytes; a node past it packs per
 * call as before (the same products, the same bits), so a model of several gigabytes does
 * not double its weight memory. The cap is 256 MiB: above every bundled and benchmark
 * model's packed weights (resnet18 packs about 45 MB), so they cache every layer, while a
 * model whose weights are mapped from its file (graph/model.h) adds at most 256 MiB of
 * anonymous memory to them. An
 * op packs each part of its buffer when a forward first needs it (RunCtx.packed), so a
 * layout no product of the run takes is never written (nor, in large blocks, resident). */
#ifndef QS_RUN_PACK_H
#define QS_RUN_PACK_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/graph.h"
#include "base/tensor.h"

#define RUN_PACK_CAP ((size_t)256 << 20)

typedef struct RunPack {
    bool built;     /* the table below is made (at the first forward) */
    int n;          /* entries: the graph's nodes */
    void **buf;     /* [g->n_nodes] a node's packed weights, 64-byte aligned; NULL: none */
    size_t bytes;   /* total of buf */
} RunPack;

/* Makes the table once: a buffer for every node whose op packs weights
 * (OpDef.packed_bytes, from shapes[g->n_values]) read from a graph constant in[1], within
 * RUN_PACK_CAP. A buffer that cannot be allocated is left out (the node packs per call). */
void run_pack_build(RunPack *pk, const Graph *g, const Shape *shapes);
void run_pack_release(RunPack *pk);

#endif
