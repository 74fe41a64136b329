/* Builds sequential models layer by layer with seeded initialisation, for `init` and for
 * tests: each layer kind is one row of a table (name, builder function). Weights follow
 * PyTorch's default initialisation (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for conv and
 * dense weights and biases; BatchNorm scale 1, bias 0, mean 0, var 1). */
#ifndef QS_BUILDER_H
#define QS_BUILDER_H

#include <stdint.h>

#include "error.h"
#include "model.h"
#include "rng.h"

typedef struct LayerSpec {
    const char *kind;     /* a row of the layer table: "conv", "dense", "relu", ... */
    const char *name;     /* NULL: kind + running number, e.g. "conv2" */
    int64_t out;          /* conv: output channels; dense: output features */
    int64_t kernel, stride, pad, dilation, groups; /* conv/pool; 0 = default */
    int depthwise;        /* conv: groups = in channels = out channels */
    int bias;             /* conv/dense: 1 (default) or 0; set by the spec parser */
    float alpha;          /* leakyrelu slope */
    float p;              /* dropout probability (identity at inference) */
    int64_t axis;         /* softmax axis */
    const float *values;  /* scale: per-channel factors (fixed, not trained) */
    int n_values;
} LayerSpec;

/* Default values for a spec of the given kind (bias on, everything else 0). */
LayerSpec layer_spec_default(const char *kind);

typedef struct Builder {
    Model *m;             /* not owned */
    char cur[128];        /* value the next layer reads */
    Shape cur_shape;      /* its shape at batch 1 */
    Rng rng;
    int counter;          /* layers added so far, for default names */
} Builder;

/* Starts a graph with one input of per-sample shape `sample` in the empty model m. */
QsStatus builder_begin(Builder *b, Model *m, const char *input, const Shape *sample,
                       uint64_t seed, QsError *err);
/* Appends one layer after the current value; fails with the layer's name and reason. */
QsStatus builder_add(Builder *b, const LayerSpec *ls, QsError *err);
/* Marks the current value as the output, finalizes the graph and packs the weights into
 * the model's single arena. */
QsStatus builder_finish(Builder *b, QsError *err);

/* The layer kinds, for messages and docs: count, and the i-th name (NULL past the end). */
int builder_kind_count(void);
const char *builder_kind_name(int i);

#endif
