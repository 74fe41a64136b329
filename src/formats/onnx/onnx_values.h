/* ONNX import, phase two: the state shared by the driver (onnx_import.c), the op mapping
 * (onnx_ops.c) and the constant evaluator (onnx_fold.c).
 *
 * Each ONNX value is either a constant (an initializer, a Constant node, or anything
 * computed from constants only, including Shape of a value whose shape is known except for
 * the batch) or a run-time value with a shape known at batch 1. Constants are f32 or i64
 * tensors in which the batch size is the symbol OX_BATCH; run-time values live in the
 * qscope graph being built. onnx_values.c keeps the value table (by name) and emits qscope
 * nodes. */
#ifndef QS_ONNX_VALUES_H
#define QS_ONNX_VALUES_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/tensor.h"
#include "graph/graph.h"
#include "graph/model.h"
#include "base/budget.h"
#include "onnx/onnx_wire.h"

/* The batch size inside constant shape tensors (Shape of a run-time value); affine forms
 * of it are other symbols (onnx_sym.h). */
#define OX_BATCH INT64_MIN

struct OxAffine;

typedef struct OxVal {
    const char *name;        /* owned by the OxFile strings (or by qname) */
    bool is_const;
    Tensor *k;               /* constant value (f32 or i64), owned */
    bool from_init;          /* an initializer: a trainable parameter when float */
    Shape shape;             /* run-time value: shape at batch 1 */
    Shape shape2;            /* and at batch 2: a dim that differs grows with the batch */
    bool in_graph;           /* exists in the qscope graph */
    /* A run-time value known to hold integers (TopK's indices, and casts of them): a Cast
     * of it to an integer type is exact, so it imports as Identity. */
    bool integral;
    /* A view (onnx_view.h): not in the graph, this value is run-time value view_q (batch
     * exactly at its axis 0) with axes permuted and merged: axis i reads view_q's axis
     * view_axis[i] (-1: none), with the batch as its outer factor (view_batch 1), inner
     * factor (2) or not (0). shape and shape2 are the view's. */
    const char *view_q;
    int8_t view_axis[QS_MAX_DIMS], view_batch[QS_MAX_DIMS];
    char *qname;             /* its name there (owned) */
} OxVal;

/* The importer: the file read in phase one, the model being built, and the values. */
typedef struct Ox {
    OxFile f;
    Model *m;
    Graph *g;
    OxVal *vals;
    int n_vals, cap_vals;
    int *table;              /* open-addressing hash of value names -> index, -1 empty */
    int table_size;
    int opset;
    bool batch_fixed1;       /* some input declared its batch as the literal 1 */
    int uniq;                /* counter for generated names */
    Budget budget;           /* what folded constants may allocate (base/budget.h) */
    struct OxAffine *syms;   /* the batch-size forms of shape tensors (onnx_sym.h) */
    int n_syms, cap_syms;
} Ox;

/* One node being imported. */
typedef struct OxCtx {
    Ox *x;
    const OxNode *n;
    const char *name;        /* unique qscope layer name */
    OxVal *in[OX_MAX_NODE_IO];
    QsError *err;
    const bool *used;        /* [n_out]: output k is read (set by ox_op_import), or NULL */
} OxCtx;

/* A new constant tensor for node c (zero-filled), charged to the import's budget first:
 * NULL and c->err set ("Expand '/e': 4 GiB asked, the budget allows 64 MiB ...") when
 * it does not fit. Every fold allocates its result here. */
Tensor *ox_alloc_const(const OxCtx *c, DType dtype, Shape shape);

/* ---- the value table */

/* Index of value `name`, or -1. */
int ox_find(const Ox *x, const char *name);
/* The value named `name` (NULL or "" give NULL), or NULL. */
OxVal *ox_val(Ox *x, const char *name);
/* Defines a new value; fails when the name is taken (ONNX values are assigned once). */
QsStatus ox_define(Ox *x, const char *name, OxVal **out, QsError *err);
/* Frees the values, the table and the batch-size forms (not the OxFile). */
void ox_values_release(Ox *x);

const char *ox_node_name(const OxNode *n);

/* ---- constants: f32 or i64 tensors */

static inline int64_t k_numel(const Tensor *t) { return shape_numel(&t->shape); }
static inline int64_t *k_i64(const Tensor *t) { return (int64_t *)t->data; }
/* Element i as int64 (floats must be integral); false otherwise. */
bool k_get_int(const Tensor *t, int64_t i, int64_t *out);
Tensor *k_to_f32(const Tensor *t, QsError *err);

/* ---- the node being imported */

/* Fails with "OP 'NAME': message". */
QsStatus ox_nfail(const OxCtx *c, QsStatus code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Input k when present (NULL for an omitted optional input). */
static inline OxVal *ox_in(const OxCtx *c, int k) { return k < c->n->n_in ? c->in[k] : NULL; }
/* Constant input k read as a list of ints (at most max); `what` names it in errors. */
QsStatus ox_const_ints(const OxCtx *c, int k, const char *what, int64_t *out, int max,
                       int *count);
/* Constant input k read as one float. */
QsStatus ox_const_float(const OxCtx *c, int k, const char *what, float *out);
/* Sets output k to the constant t (takes ownership; t NULL passes c->err's failure on). */
QsStatus ox_out_const(OxCtx *c, int k, Tensor *t);
/* Fails when an output after the first is read by anyone (used: [n_out] per output). */
QsStatus ox_only_first_output(OxCtx *c, const bool *used);
/* A generated constant value (e.g. -1 for Neg), defined under a unique name; c->in[] are
 * looked up again, as the value table may have moved. */
OxVal *ox_new_const(OxCtx *c, const char *suffix, Tensor *t);
/* A value and layer name not taken yet, from the node's layer name and suffix (owned). */
char *ox_unique_name(OxCtx *c, const char *suffix);
/* ox_emit under layer name `layer` with output value `out` (for a node imported as
 * several qscope nodes; the folded path keeps the node's first output). */
QsStatus ox_emit_as(OxCtx *c, int op, OxVal *const *ins, int n_in, const Attr *attrs,
                    int n_attrs, const char *layer, const char *out);
/* Emits qscope op `op` with inputs ins (NULL for omitted) and attributes as the node's
 * first output. When every input is constant the op runs here instead (folding through
 * qscope's op) and its output is a constant. */
QsStatus ox_emit(OxCtx *c, int op, OxVal *const *ins, int n_in, const Attr *attrs,
                 int n_attrs);

#endif
