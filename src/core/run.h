/* Executing a finalized graph on a batch. A Run owns one activation arena sized from
 * shape inference for its batch size and reuses it across batches of that size. */
#ifndef QS_RUN_H
#define QS_RUN_H

#include "error.h"
#include "graph.h"
#include "op.h"
#include "tensor.h"

/* Called after each node with its output; taps build summaries, they never keep `out`. */
typedef void (*RunTapFn)(void *user, int node, const Tensor *out);

typedef struct Run {
    const Graph *g;
    int64_t batch;
    Shape *shapes;      /* [g->n_values] shapes for this batch */
    Tensor *vals;       /* [g->n_values] views: constants, caller inputs, arena slots */
    void *arena;        /* activations, one 64-byte aligned slot per node output */
    size_t arena_bytes;
    void *scratch;      /* largest op workspace */
    size_t scratch_bytes;
    bool training;
} Run;

void run_init(Run *r, const Graph *g);
/* Sizes the arena for `batch` (no-op when already that size). QS_ENOMEM names the size. */
QsStatus run_set_batch(Run *r, int64_t batch, QsError *err);
/* inputs[g->n_inputs], each (batch, ...sample shape) f32. Runs every node in order. */
QsStatus run_forward(Run *r, const Tensor *const *inputs, RunTapFn tap, void *tap_user,
                     QsError *err);
/* The k-th graph output of the last forward (a view into the arena). */
const Tensor *run_output(const Run *r, int k);
void run_release(Run *r);

#endif
