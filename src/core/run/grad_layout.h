/* The gradient arena's layout: slots shared by gradients that are never live at the same
 * time during a backward, as run_plan.h shares the activations' in inference. The backward
 * visits the nodes in reverse order, step s = n_nodes - 1 - k for order position k; an
 * inner value's gradient is live from the step of its last consumer that runs a backward
 * (or step 0 for a graph output, seeded first) through its producer's step, where it is
 * read as dout. Graph inputs (input_grads) keep their slot for the whole backward, so
 * run_input_grad reads them afterwards; inner values' gradients are gone after it. Each
 * slot is zeroed at the step its value becomes live (run_backward), while it is hot in
 * cache, instead of one pass over a larger arena. */
#ifndef QS_GRAD_LAYOUT_H
#define QS_GRAD_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/graph.h"

typedef struct GradLayout {
    int n;          /* values with a slot: needs_grad and not constants */
    int *by_first;  /* [n] those values by first step, then by value */
    int *first;     /* [g->n_values] step at which v's slot is zeroed; -1 without a slot */
    int *last;      /* [g->n_values] step of v's producer; n_nodes for a graph input */
    size_t *off;    /* [g->n_values] byte offset of v's slot (grad_layout_place) */
} GradLayout;

/* The live steps of every gradient slot, from the graph and run.c's needs_grad marks. */
void grad_layout_init(GradLayout *l, const Graph *g, const bool *needs);
/* Places the slots for the shapes of one batch (slot bytes = numel * 4 rounded up to
 * `align`, a power of two; the caller checked that their sum does not overflow); returns
 * the arena's bytes, at most that sum. */
size_t grad_layout_place(GradLayout *l, const Graph *g, const Shape *shapes, size_t align);
void grad_layout_release(GradLayout *l);

#endif
