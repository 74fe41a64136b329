/* TFLite import, shared by its files: the import state (Ti), tensor forms and the helpers
 * the op rows use. tflite_import.c drives the walk; tflite_import_ops.c has one row per
 * builtin operator.
 *
 * Forms: each file tensor is a graph value in one of two layouts: TI_PLAIN (the graph's
 * dims are the file's) or TI_CLAST (a rank-4 file tensor (N, H, W, C) that is the graph's
 * (N, C, H, W)). The other form is made on demand by a Transpose, once per tensor.
 * In a file qscope's exporter marks "spatial=1d" (a 1-D model, every channels-last value
 * written (N, 1, W, C)), a TI_CLAST tensor of H = 1 is the graph's rank-3 (N, C, W): the
 * model loads back at its own rank (ti_flat). */
#ifndef QS_TFLITE_IMPORT_INT_H
#define QS_TFLITE_IMPORT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/budget.h"
#include "graph/model.h"
#include "tflite/tflite_import.h"
#include "tflite/tflite_schema.h"
#include "tflite/tflite_verify.h"

enum { TI_PLAIN = 0, TI_CLAST = 1 };

typedef struct Ti {
    const TflSummary *s;
    Model *m;
    Graph *g;
    Budget budget;
    char **name;              /* [n_tensors] the graph value of each tensor's form */
    char **other;             /* [n_tensors] the value in the other layout, once made */
    uint8_t *form;            /* [n_tensors] TI_PLAIN or TI_CLAST */
    int *const_src;           /* [n_tensors] a constant this tensor equals (DEQUANTIZE of a
                                 constant), else -1 */
    int *view_src;            /* [n_tensors] a 1-D value this tensor views with a unit axis
                                 added ((N, C, 1, W) of a ti_flat tensor), else -1; its
                                 Reshape node is made only when something reads it */
    TflImportQuant *q;        /* NULL: not asked */
    int n_made;               /* nodes made (unique names) */
    bool one_d;               /* the file is a qscope-exported 1-D model */
    QsError *err;
    QsStatus st;
} Ti;

typedef struct TiRow {
    int code;                 /* BuiltinOperator */
    QsStatus (*read)(Ti *x, const TflSumOp *op, int k);
} TiRow;

/* The row of builtin operator code, or NULL. */
const TiRow *ti_row(int code);

QsStatus ti_fail(Ti *x, QsStatus code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether tensor t in layout lay is a 1-D channels-last value: file (N, 1, W, C), graph
 * (N, C, W). */
bool ti_flat(const Ti *x, int t, int lay);
/* The graph axis of file axis a of tensor t in layout lay; -1: the H axis of a ti_flat
 * tensor (size 1, not in the graph). */
int ti_gaxis(const Ti *x, int t, int lay, int a);
/* Tensor t's rank and its dims as the graph sees them in layout lay. */
int ti_dims(const Ti *x, int t, int lay, int64_t *d);
bool ti_is_const(const Ti *x, int t);
/* The graph value of tensor t in layout lay (a Transpose made on first use). */
const char *ti_value(Ti *x, int t, int lay);
/* Registers tensor t's graph value (the name is a new unique value name made from it). */
const char *ti_define(Ti *x, int t, int lay);
/* Makes tensor t an alias of tensor src (same value, same layout). */
void ti_alias(Ti *x, int t, int src);

/* Constant tensor t as float32 (dequantized), in layout lay (rank 4 only): a new graph
 * constant named after it; returns its name, NULL after a failure. nd/dims override the
 * shape when nd >= 0 (same element count). */
const char *ti_const(Ti *x, int t, int lay, int nd, const int64_t *dims);
/* Constant tensor t's values as float32 in the file's order (owned by the caller), charged
 * to the budget; NULL after a failure. */
float *ti_const_values(Ti *x, int t, int64_t *n);
/* A new float32 graph constant of shape sh holding v (taken: freed here). */
const char *ti_const_add(Ti *x, const char *base, const Shape *sh, float *v);
/* Constant int32 tensor t's values (at most cap); returns the count, -1 after a failure. */
int ti_const_ints(Ti *x, int t, int64_t *out, int cap);

/* A node of op writing a new value for tensor out (layout lay), with a fused activation
 * (TFL_ACT_*) as a Relu or Clip after it. attrs are released here. */
QsStatus ti_node(Ti *x, int op, int out, int lay, const char *const *in, int n_in, Attr *attrs,
                 int n_attrs, int act);
/* A node writing a fresh intermediate value; returns its name (owned by the graph). */
const char *ti_node_tmp(Ti *x, int op, const char *base, const char *const *in, int n_in,
                        Attr *attrs, int n_attrs);

/* Records the file's activation parameters of tensor t (an int8 or uint8 activation). */
void ti_note_qparams(Ti *x, int t);

#endif
