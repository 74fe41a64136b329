/* Executing a finalized graph on a batch, and back-propagating through it. A Run owns one
 * activation arena laid out from shape inference for its batch size. Two layouts:
 *   - one slot per node output (the default, and always with gradients on): every value
 *     of the last forward stays readable in r->vals, and backward finds them;
 *   - with outputs_only set (inference: the float executor, exec.h), slots are shared by
 *     values that are never live at the same time, and a Relu or Clip fuses into the node
 *     before it (run_plan.h); only the graph outputs (run_output) stay readable after
 *     run_forward, while taps see every node's own output during it.
 * The arena, the scratch block and the gradient arena are kept while they are large
 * enough, so a stream of batches, a smaller last one included, allocates nothing after the
 * first. With gradients enabled the run also owns a gradient arena (one slot per
 * activation that needs a gradient, laid out per batch) and one contiguous buffer holding
 * the gradient of every trainable parameter. */
#ifndef QS_RUN_H
#define QS_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "run/grad_layout.h"
#include "run/run_pack.h"
#include "run/run_plan.h"
#include "base/tensor.h"

/* Called after each node with its output; taps build summaries, they never keep `out`. */
typedef void (*RunTapFn)(void *user, int node, const Tensor *out);

/* The trainable parameters of a graph as one list, so that an optimizer (optim.h) walks
 * (param, grad) pairs without knowing the graph. A parameter is a VAL_CONST value with
 * is_param that lies on a path to a graph output; parameters that no output depends on get
 * no gradient and are left out. Order: ascending graph value index, which is fixed for a
 * graph, so optimizer state indexed by `offset` stays valid across runs of the same graph.
 * grad[i] views buf + offset[i]; every parameter gradient lives in that one buffer. */
typedef struct ParamList {
    int n;              /* parameters */
    int *value;         /* [n] graph value index, owned */
    Tensor *param;      /* [n] views of the graph constants (the model's weights), owned array */
    Tensor *grad;       /* [n] views into buf, same shapes as param, owned array */
    int64_t *offset;    /* [n] element offset of parameter i in buf (and in optimizer state) */
    float *buf;         /* [numel] all parameter gradients, owned */
    int64_t numel;      /* total elements over all parameters */
} ParamList;

typedef struct Run {
    const Graph *g;
    int64_t batch;
    Shape *shapes;      /* [g->n_values] shapes for this batch */
    Tensor *vals;       /* [g->n_values] views: constants, caller inputs, arena slots */
    void *arena;        /* activations, 64-byte aligned slots */
    size_t arena_bytes; /* the current layout's size */
    size_t arena_cap;   /* allocated */
    void *scratch;      /* largest op workspace (forward and backward) */
    size_t scratch_bytes;
    size_t scratch_cap;
    bool training;      /* forward and backward get RunCtx.training (BatchNorm batch stats) */
    /* Set by the caller before a forward: only the graph outputs are read after it, so the
     * shared-slot layout with fusion may be used (while gradients are off). */
    bool outputs_only;
    bool shared;        /* the current layout shares slots (plan below) */
    bool planned;       /* plan is made (once per run) */
    RunPlan plan;
    /* Set by the caller before the first forward (exec_float_new does): the caller does
     * not change the graph's constants while the run lives, so the weights the GEMMs pack
     * are packed at the first forward and kept (run_pack.h, bounded by RUN_PACK_CAP) for
     * every later forward, tapped or not, in either layout; run_release drops them. Never
     * used in training or with gradients on (the weights change there). */
    bool pack_weights;
    RunPack pack;
    /* Gradients (run_enable_grads); all zero/NULL until then. */
    bool grads_on;
    bool input_grads;   /* graph inputs get gradients too */
    bool forward_done;  /* a forward ran at the current batch size; backward may follow */
    bool *needs_grad;   /* [g->n_values] value gets a gradient */
    Tensor *grads;      /* [g->n_values] gradient views (data NULL when !needs_grad[v]) */
    GradLayout grad_layout; /* slots of grad_arena, shared by gradients never live together */
    void *grad_arena;   /* activation and input gradients for the current batch */
    size_t grad_arena_bytes;
    size_t grad_arena_cap;
    int64_t grad_batch; /* batch size grad_arena is laid out for; 0 = none */
    ParamList params;
} Run;

void run_init(Run *r, const Graph *g);
/* Lays the arena out for `batch` (no-op when already laid out for that size and layout),
 * growing it when too small. QS_ENOMEM names the size. With gradients enabled, the
 * gradient arena is laid out too. */
QsStatus run_set_batch(Run *r, int64_t batch, QsError *err);
/* inputs[g->n_inputs], each (batch, ...sample shape) f32. Runs every node in order, with
 * RunCtx.training = r->training. With the shared layout and neither a tap nor training,
 * a fused activation is computed by its producer (bit-identical values). With
 * pack_weights (and neither training nor gradients) the ops read their packed weights from
 * the run's cache, the same bytes they would pack (bit-identical values). For run_backward,
 * the caller keeps the input data unchanged until the backward is done (the run only views
 * it). */
QsStatus run_forward(Run *r, const Tensor *const *inputs, RunTapFn tap, void *tap_user,
                     QsError *err);
/* The k-th graph output of the last forward (a view into the arena, or a graph input or
 * constant when the output is one). */
const Tensor *run_output(const Run *r, int k);
void run_release(Run *r);

/* Prepares back-propagation: marks the values on a path from a parameter (is_param
 * constant) -- or from a graph input when input_grads -- to a graph output, and builds
 * r->params with its gradient buffer. Fails with QS_EUNSUPPORTED "training through <Op>
 * '<node>' is not supported" when a node on such a path has no backward, and when a
 * parameter is not f32. Calling it again re-plans (e.g. to switch input_grads). Gradients
 * switch the run to one slot per value: a forward run before in the shared layout does not
 * count for run_backward. */
QsStatus run_enable_grads(Run *r, bool input_grads, QsError *err);

/* Back-propagates from the last run_forward (same batch, same inputs, parameters not
 * changed since). dout[g->n_outputs]: dL/d(output k) with output k's shape, or NULL when
 * output k does not enter the loss. Parameter gradients are zeroed first, every other
 * slot when it becomes live (grad_layout.h); each node whose output needs a gradient runs
 * its backward in reverse topological order, accumulating into its inputs' gradients. Needs run_enable_grads; QS_ESHAPE when a dout does not
 * match its output. */
QsStatus run_backward(Run *r, const Tensor *const *dout, QsError *err);

/* Gradient of graph value v after run_backward, a view owned by the run; NULL when v gets
 * no gradient. Parameters' and graph inputs' gradients are final; an inner value's slot is
 * shared with others' during the backward (grad_layout.h), so it holds no defined value
 * afterwards. */
const Tensor *run_grad(const Run *r, int v);
/* Gradient of the k-th graph input (NULL unless input_grads and the input reaches an
 * output through nodes with a backward). */
const Tensor *run_input_grad(const Run *r, int k);
/* The parameter list (empty before run_enable_grads). Owned by the run; its param views
 * point at the graph constants' data, so they stay valid while those are not replaced
 * (re-plan with run_enable_grads after e.g. model_pack). */
const ParamList *run_params(const Run *r);

#endif
