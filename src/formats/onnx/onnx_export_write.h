/* ONNX export, shared by its files: the export state (Ex) and the writing primitives
 * (onnx_export_write.c): strings, attributes, nodes, initializers, and the names under
 * which values are written and read. onnx_export_ops.c writes float nodes by one row per
 * qscope op; onnx_export.c walks the graph or the plan and wraps the ModelProto.
 *
 * Names: every value that needs a post-op (QuantizeLinear/DequantizeLinear, or the Cast
 * pair that rounds to half) keeps its own name for its readers when it is a graph output
 * (its producer then writes NAME::pre); otherwise readers read NAME::dq. */
#ifndef QS_ONNX_EXPORT_WRITE_H
#define QS_ONNX_EXPORT_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/model.h"
#include "onnx/protobuf.h"
#include "qexec/qexec.h"

enum { EX_FLOAT = 0, EX_QDQ, EX_FP16 };
enum { POST_NONE = 0, POST_QDQ, POST_HALF };
/* ONNX TensorProto.DataType */
enum { T_FLOAT = 1, T_INT8 = 3, T_INT32 = 6, T_INT64 = 7, T_FLOAT16 = 10 };

typedef struct Ex {
    const Model *m;
    const Graph *g;
    const QModel *q;        /* NULL: float export */
    int mode;               /* EX_* */
    PbWriter graph;
    bool *init_done;        /* [n_values] constant written as an initializer */
    int *post;              /* [n_values] POST_* */
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
/* An initializer of ONNX type `type` with raw little-endian data. */
void ex_init(Ex *x, const char *name, int type, const int64_t *dims, int nd,
             const void *data, size_t bytes);
/* Float and int64 initializers; each returns its name. */
const char *ex_const_f32(Ex *x, const char *name, const int64_t *dims, int nd,
                         const float *v, int64_t n);
const char *ex_const_i64(Ex *x, const char *name, const int64_t *v, int n);
const char *ex_scalar_f32(Ex *x, const char *name, float v);
void ex_cast(Ex *x, const char *name, const char *in, const char *out, int to);

/* Value v's own name, the name its producer writes, and the name its readers read. */
const char *vname(const Ex *x, int v);
const char *prod_name(Ex *x, int v);
const char *read_name(Ex *x, int v);
/* Input i of node n as the exported graph reads it; a constant is written as a float
 * initializer on first use (half_consts: its half-rounded copy, for fp16 nodes). */
const char *in_name(Ex *x, const Node *n, int i, bool half_consts);
static inline int value_rank(const Ex *x, int v) { return x->g->values[v].shape.ndim; }

/* Float node ni by its export row (onnx_export_ops.c); half_consts as for in_name. */
void ex_float_node(Ex *x, int ni, bool half_consts);

#endif
