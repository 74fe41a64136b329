/* The computation graph: named values (graph inputs, constants, node outputs) and nodes
 * that each apply one op from the op table. Every non-constant value carries a leading
 * batch dimension; shapes of node outputs are inferred per batch size by run.c. */
#ifndef QS_GRAPH_H
#define QS_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/tensor.h"
#include "ops/node.h"

typedef enum { VAL_INPUT = 0, VAL_CONST, VAL_NODE } ValueKind;

typedef struct Value {
    char *name;              /* owned */
    ValueKind kind;
    Shape shape;             /* VAL_INPUT: dim[0] is the batch placeholder (0);
                                VAL_CONST: the constant's shape;
                                VAL_NODE: shape for batch 1, set by graph_finalize */
    Tensor *data;            /* VAL_CONST only: a view into the model's weight arena, or
                                an owned tensor when added with graph_add_const_owned */
    int producer;            /* node index for VAL_NODE, -1 otherwise */
    bool is_param;           /* VAL_CONST that training may update (weights, biases) */
} Value;

typedef struct Graph {
    int n_values, cap_values;
    Value *values;
    int n_nodes, cap_nodes;
    Node *nodes;
    int n_inputs;
    int *inputs;             /* value indices */
    int n_outputs;
    int *outputs;            /* value indices */
    int *order;              /* topological order of node indices, set by graph_finalize */
    bool finalized;
    struct GraphIndex *index; /* names to indices, a cache that graph_find_value and
                                 graph_find_node fill on demand (NULL until then) */
} Graph;

void graph_init(Graph *g);
/* Frees nodes, names, attributes and owned constant tensors. */
void graph_release(Graph *g);

/* Index of the value named `name`, or -1. Expected O(1): a hash index that covers values
 * and nodes appended in any way (also by filling the arrays directly, as model_clone does);
 * removing or renaming a value or node outside this file must call graph_index_forget.
 * A lookup on a graph changed since its last graph_finalize updates the index, so
 * concurrent lookups are safe only on a finalized graph. */
int graph_find_value(const Graph *g, const char *name);
/* Index of the node named `name`, or -1 (as graph_find_value). */
int graph_find_node(const Graph *g, const char *name);
/* Brings the name index up to date now, so that later lookups only read (for a graph
 * filled directly, before other threads look names up in it). */
void graph_index_build(const Graph *g);
/* Drops the name index (rebuilt by the next lookup): for code that removes, reorders or
 * renames values or nodes in place. */
void graph_index_forget(Graph *g);

/* Adds a graph input whose per-sample shape is `sample` (without the batch dim). */
QsStatus graph_add_input(Graph *g, const char *name, const Shape *sample, QsError *err);
/* Adds a constant viewing `t` (graph takes ownership of the Tensor struct, not the data
 * unless t->owns_data). */
QsStatus graph_add_const(Graph *g, const char *name, Tensor *t, bool is_param, QsError *err);
/* Adds a node; input names may be "" for an omitted optional input. Attributes are
 * copied and parsed into Node.params (OpDef.parse), so an attribute the op rejects fails
 * here. The output value is created. */
QsStatus graph_add_node(Graph *g, int op, const char *name, const char *const *inputs,
                        int n_in, const char *output, const Attr *attrs, int n_attrs,
                        QsError *err);
QsStatus graph_add_output(Graph *g, const char *name, QsError *err);

/* Checks every reference and op arity, orders nodes topologically (rejecting cycles),
 * and infers every shape for batch 1. */
QsStatus graph_finalize(Graph *g, QsError *err);

/* Removes a node whose output equals its first input in function (an identity, or a
 * transform already folded elsewhere): its consumers read its first input instead, its
 * output value and the constants only it used are dropped, and the graph is finalized
 * again. Value and node indices change. */
QsStatus graph_bypass_node(Graph *g, int node, QsError *err);

/* Infers the shape of every value for batch size `batch` into shapes[n_values]. */
QsStatus graph_infer_shapes(const Graph *g, int64_t batch, Shape *shapes, QsError *err);

/* Number of scalar parameters (elements of VAL_CONST values marked is_param, and all
 * other constants) and their storage bytes. */
int64_t graph_param_count(const Graph *g);
size_t graph_param_bytes(const Graph *g);

#endif
