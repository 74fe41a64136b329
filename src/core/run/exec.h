/* Anything that runs a model on a batch: the float run (run.h) or a quantized model
 * (qexec.h). Evaluation, calibration, comparison and benchmarks take an Executor, so one
 * loop serves every precision. */
#ifndef QS_EXEC_H
#define QS_EXEC_H

#include "base/error.h"
#include "graph/graph.h"
#include "run/run.h"
#include "base/tensor.h"

/* Taps: RunTapFn in run.h (called after each node with its output as float). */

typedef struct Executor {
    void *self;
    const Graph *graph;       /* the float model's graph (node and value numbering) */
    /* Runs one batch: inputs[g->n_inputs] f32 (batch, ...). *outputs receives views of
     * the graph outputs as f32, valid until the next call. tap may be NULL. */
    QsStatus (*forward)(void *self, const Tensor *const *inputs, const Tensor **outputs,
                        RunTapFn tap, void *tap_user, QsError *err);
} Executor;

/* The float executor over a Run; release with exec_float_free. The run starts in the
 * inference layout (run.h: outputs_only, shared slots, fused Relu/Clip) and packs its
 * weights once (run.h: pack_weights), so the caller does not change g's constants while
 * the executor lives; exec_float_new_live is for one whose constants do change between
 * forwards (QAT's evaluation of the graph it trains): it packs them on every forward. */
typedef struct FloatExec FloatExec;
Executor exec_float_new(const Graph *g, FloatExec **owner);
Executor exec_float_new_live(const Graph *g, FloatExec **owner);
void exec_float_free(FloatExec *f);
/* Its Run, for reading inner values (comparisons read the float reference's): asking for
 * it switches the run to one slot per value without fusion, so that every value of each
 * later batch stays readable there until the next forward. */
const Run *exec_float_run(FloatExec *f);

#endif
