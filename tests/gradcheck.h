/* Finite-difference gradient checks for op backward functions.
 *
 * The ops compute in float32, so the check works like this: the scalar loss is
 * L = sum_k out[k] * r[k] with fixed pseudo-random weights r, accumulated in double; each
 * input element x is moved by +-eps (in float32) and the central difference
 * (L(x+eps) - L(x-eps)) / 2eps is computed in double and compared with the analytic
 * gradient that backward accumulates for dout = r. Float32 rounding of the outputs limits
 * how close the two can be (about ulp(out) * sqrt(numel) / eps), hence tolerances around
 * 1e-2 relative with eps around 1e-2..1e-3; each test states its own. */
#ifndef QS_GRADCHECK_H
#define QS_GRADCHECK_H

#include <stdbool.h>

#include "graph/graph.h"
#include "base/tensor.h"

/* A float forward standing in for the op's own in the numeric differences (gradcheck_node):
 * for ops whose backward is a surrogate gradient by design, such as FakeQuant's
 * straight-through estimator, whose forward is a staircase. Writes out (the op's output
 * shape) from in[0..n_in). */
typedef void (*GradCheckForward)(void *user, Tensor *const *in, int n_in, Tensor *out);

typedef struct GradCheckOpts {
    double eps;        /* perturbation, default 1e-3 */
    double atol, rtol; /* |num - ana| <= atol + rtol * max(|num|, |ana|) */
    bool training;     /* run forward/backward in training mode */
    unsigned seed;     /* for the weights r */
    GradCheckForward surrogate; /* NULL: the op's forward */
    void *surrogate_user;
} GradCheckOpts;

/* Runs node n (its op from op_table, attributes from n) on the f32 tensors in[0..n_in)
 * (NULL entries are omitted optional inputs), and checks d L / d in[i] for every i with
 * check[i]. Also checks that backward ACCUMULATES: calling it on a gradient buffer
 * pre-filled with 1.0 must give 1.0 + the gradient. Reports the worst element on failure.
 * Returns true when all checked gradients match. Counts one test check per input. */
bool gradcheck_node(const char *label, const Node *n, Tensor *const *in, int n_in,
                    const bool *check, const GradCheckOpts *opts);

/* Makes a Node for gradcheck_node without a graph: op, attributes copied. Release with
 * gradcheck_node_release. `in`/`out` indices are set to 0..n_in-1 / n_in. */
Node gradcheck_make_node(int op, const char *name, int n_in, const Attr *attrs, int n_attrs);
void gradcheck_node_release(Node *n);

/* Checks back-propagation through a whole finalized graph (run.h): with r fixed
 * pseudo-random weights, L = sum_k out0[k] * r[k] over graph output 0, accumulated in
 * double; run_backward with dout = r gives the analytic gradients, which are compared with
 * central differences for every element of every parameter in the run's ParamList and,
 * when check_inputs, of every graph input inputs[g->n_inputs] (moved in place and
 * restored). opts->training runs forward and backward in training mode. Counts one test
 * check per parameter and per input; returns true when all match. */
bool gradcheck_graph(const char *label, const Graph *g, Tensor *const *inputs,
                     bool check_inputs, const GradCheckOpts *opts);

#endif
