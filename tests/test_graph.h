/* Building hand-made graphs in tests. */
#ifndef QS_TEST_GRAPH_H
#define QS_TEST_GRAPH_H

#include "base/rng.h"
#include "base/tensor.h"
#include "graph/graph.h"
#include "graph/model.h"

/* Graph building for hand-made models; each checks its call. tu_add_node names the output
 * after the node and releases attrs. */
void tu_add_node(Graph *g, int op, const char *name, const char *const *in, int n_in,
                 Attr *attrs, int n_attrs);
/* A parameter constant of shape s: uniform values in [lo, hi) from r, or the values v. */
void tu_add_const_uniform(Graph *g, const char *name, Shape s, Rng *r, double lo, double hi);
void tu_add_const_values(Graph *g, const char *name, Shape s, const float *v);

/* Runs m's float graph (the plain run, no inference plan) on the batch x; returns a copy of
 * output 0 (caller frees) or NULL after a counted failure. */
Tensor *tu_run_graph(const Model *m, const Tensor *x);

#endif
