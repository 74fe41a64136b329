/* Builds models layer by layer with seeded initialisation, for `init` and for tests: each
 * layer kind is one row of a table (name, builder function). A layer reads the previous
 * layer's output unless its `from` names other values (graph inputs or earlier layers), so
 * graphs with several inputs, branches and joins (concat) are built the same way. Weights follow
 * PyTorch's default initialisation (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for conv and
 * dense weights and biases; BatchNorm scale 1, bias 0, mean 0, var 1). */
#ifndef QS_BUILDER_H
#define QS_BUILDER_H

#include <stdint.h>

#include "base/budget.h"
#include "base/error.h"
#include "graph/model.h"
#include "base/rng.h"

#define BUILDER_MAX_FROM 16

typedef struct LayerSpec {
    const char *kind;     /* a row of the layer table: "conv", "dense", "relu", ... */
    const char *name;     /* NULL: kind + running number, e.g. "conv2" */
    int64_t out;          /* conv: output channels; dense: output features */
    int64_t kernel, stride, pad, dilation, groups; /* conv/pool; 0 = default */
    int depthwise;        /* conv: groups = in channels = out channels */
    int bias;             /* conv/dense: 1 (default) or 0; set by the spec parser */
    float alpha;          /* leakyrelu slope */
    float p;              /* dropout probability (identity at inference) */
    int64_t axis;         /* softmax, concat axis (default -1) */
    const float *values;  /* scale: per-channel factors (fixed, not trained) */
    int n_values;
    int64_t axes[QS_MAX_DIMS]; /* mean: the reduced axes (batch axis 0 not allowed) */
    int n_axes;
    int keepdims;         /* mean: keep reduced axes as size 1 (default 0) */
    int64_t scale;        /* upsample: integer factor on every spatial dim (default 2) */
    const char *from[BUILDER_MAX_FROM]; /* values read; n_from 0: the previous output */
    int n_from;
} LayerSpec;

/* Default values for a spec of the given kind (bias on, everything else 0). */
LayerSpec layer_spec_default(const char *kind);

typedef struct Builder {
    Model *m;             /* not owned */
    char cur[128];        /* value the next layer reads */
    Shape cur_shape;      /* its shape at batch 1 */
    Rng rng;
    int counter;          /* layers added so far, for default names */
    Budget budget;        /* what the parameters may take; builder_begin sets max_memory,
                             a reader sets the budget of its file (base/budget.h) */
} Builder;

/* Starts a graph with one input of per-sample shape `sample` in the empty model m. */
QsStatus builder_begin(Builder *b, Model *m, const char *input, const Shape *sample,
                       uint64_t seed, QsError *err);
/* Starts a graph with n >= 1 inputs in the empty model m, in this order (the order of the
 * model's inputs and of a data set's x[]); the first layer reads the first input unless
 * it says otherwise. */
QsStatus builder_begin_inputs(Builder *b, Model *m, int n, const char *const *names,
                              const Shape *samples, uint64_t seed, QsError *err);
/* Appends one layer reading ls->from (default: the current value) and makes its output
 * the current value; fails with the layer's name and reason. */
QsStatus builder_add(Builder *b, const LayerSpec *ls, QsError *err);
/* Marks the current value as the output, finalizes the graph and packs the weights into
 * the model's single arena. */
QsStatus builder_finish(Builder *b, QsError *err);
/* The same with the named values as the outputs, in this order (n >= 1). */
QsStatus builder_finish_outputs(Builder *b, int n, const char *const *names, QsError *err);

/* The layer kinds, for messages and docs: count, and the i-th name (NULL past the end). */
int builder_kind_count(void);
const char *builder_kind_name(int i);

#endif
