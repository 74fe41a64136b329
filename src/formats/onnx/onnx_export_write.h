/* ONNX export, shared by its files: the export state (Ex) and the writing primitives
 * (onnx_export_write.c): strings, attributes, nodes, initializers, and the names under
 * which values are written and read. onnx_export_ops.c writes float nodes by one row per
 * qscope op; onnx_export.c walks the graph or the plan and wraps the ModelProto.
 *
 * Forms of a value (plan exports): readers see a value as the executor hands it to their
 * step (qexec_view.h, QRepView): as its producer left it (the base: an int8 step's output
 * after its QuantizeLinear/DequantizeLinear pair, an fp16 step's after its Cast pair that
 * rounds to half, anything else as computed), quantized (a QDQ pair on the base, when the
 * producer is not int8), or rounded to half (a Cast pair on the base, when the producer is
 * not fp16). A value has at most one QDQ pair and one Cast pair. Names: the QDQ pair writes
 * NAME::dq and the Cast pair NAME::as_half, except that a graph output keeps its own name
 * on the pair that makes its base (its producer then writes NAME::pre). */
#ifndef QS_ONNX_EXPORT_WRITE_H
#define QS_ONNX_EXPORT_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/model.h"
#include "onnx/protobuf.h"
#include "qexec/qexec.h"

/* How a value's producer leaves it: as computed, behind a QDQ pair, behind a Cast pair. */
enum { BASE_PLAIN = 0, BASE_QDQ, BASE_HALF };
/* The forms made from the base for readers of other precisions (bits of Ex.forms). */
enum { FORM_QDQ = 1, FORM_HALF = 2 };
/* ONNX TensorProto.DataType */
enum { T_FLOAT = 1, T_INT8 = 3, T_INT32 = 6, T_INT64 = 7, T_FLOAT16 = 10 };

typedef struct Ex {
    const Model *m;
    const Graph *g;
    const QModel *q;        /* NULL: float export */
    PbWriter graph;
    bool *init_done;        /* [n_values] constant written as an initializer */
    uint8_t *base;          /* [n_values] BASE_* */
    uint8_t *forms;         /* [n_values] FORM_* bits */
    uint8_t *reads;         /* [n_nodes] QRepView: how a step head reads its non-constant
                               inputs; a unit's other nodes read theirs as they are */
    bool *is_output;        /* [n_values] */
    char **pool;            /* generated strings, freed at the end */
    int n_pool, cap_pool;
    QsError *err;
    QsStatus st;            /* first failure */
} Ex;

/* A formatted string that lives until the export ends. */
const char *ex_str(Ex *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the first failure (later ones are dropped) and returns it. */
QsStatus ex_fail(Ex *x, QsStatus code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One AttributeProto appended to a node's attribute list. */
void at_int(PbWriter *list, const char *name, int64_t v);
void at_float(PbWriter *list, const char *name, float v);
void at_str(PbWriter *list, const char *name, const char *v);
void at_ints(PbWriter *list, const char *name, const int64_t *v, int n);
void at_floats(PbWriter *list, const char *name, const float *v, int n);
/* Node n's attributes, except those named in skip (NULL-terminated, or NULL). */
void at_copy(PbWriter *list, const Node *n, const char *const *skip);

/* A NodeProto (inputs NULL or "" for omitted ones; attrs NULL for none). */
void ex_node(Ex *x, const char *op, const char *name, const char *const *in, int n_in,
             const char *out, const PbWriter *attrs);
/* The same with n_out outputs (TopK's values and indices). */
void ex_node_outs(Ex *x, const char *op, const char *name, const char *const *in, int n_in,
                  const char *const *out, int n_out, const PbWriter *attrs);
/* An initializer of ONNX type `type` with raw little-endian data. */
void ex_init(Ex *x, const char *name, int type, const int64_t *dims, int nd,
             const void *data, size_t bytes);
/* Float and int64 initializers; each returns its name. */
const char *ex_const_f32(Ex *x, const char *name, const int64_t *dims, int nd,
                         const float *v, int64_t n);
const char *ex_const_i64(Ex *x, const char *name, const int64_t *v, int n);
const char *ex_scalar_f32(Ex *x, const char *name, float v);
void ex_cast(Ex *x, const char *name, const char *in, const char *out, int to);

/* Value v's own name, the name its producer writes, the names its QDQ and Cast pairs
 * write, and its base's (what readers that take it as it is read). */
const char *vname(const Ex *x, int v);
const char *prod_name(Ex *x, int v);
const char *qdq_name(Ex *x, int v);
const char *half_name(Ex *x, int v);
const char *base_name(Ex *x, int v);
/* Input i of node ni as the exported graph reads it: the form the node's step reads
 * (Ex.reads); a constant is written as a float initializer on first use (half_consts:
 * its half-rounded copy, for fp16 nodes). */
const char *in_name(Ex *x, int ni, int i, bool half_consts);
static inline int value_rank(const Ex *x, int v) { return x->g->values[v].shape.ndim; }

/* Float node ni by its export row (onnx_export_ops.c); half_consts as for in_name. */
void ex_float_node(Ex *x, int ni, bool half_consts);

#endif
