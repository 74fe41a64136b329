/* ONNX import: the op table. One row per ONNX op name the importer knows (default domain);
 * a node whose op has no row is reported as unsupported. A row says how the node maps:
 *   - folded: the constant evaluator (onnx_fold.h) computes it when its inputs are
 *     constant (fold and fold_fn), always for Shape and Constant, never for run-time-only
 *     ops (those are still folded through qscope's own op by ox_emit when every input is
 *     constant);
 *   - at run time: a qscope op with the node's attributes copied and its first n_in
 *     inputs (op and n_in), or a translation function that turns ONNX's constant
 *     "parameter" inputs and attribute forms into qscope attributes (translate).
 * The row is looked up once per node (ox_op_find) and applied by ox_op_import. */
#ifndef QS_ONNX_OPS_H
#define QS_ONNX_OPS_H

#include <stdbool.h>

#include "onnx/onnx_values.h"

typedef enum {
    OX_FOLD_NEVER = 0, /* no constant evaluator */
    OX_FOLD_PREFER,    /* the constant evaluator when all inputs are constant, else run time */
    OX_FOLD_ONLY,      /* constant inputs only (shape arithmetic) */
    OX_FOLD_SHAPE,     /* always the constant evaluator: it reads only its input's shape */
    OX_FOLD_SOURCE,    /* always the constant evaluator: it has no inputs (Constant) */
} OxFoldMode;

typedef struct OxOpRow OxOpRow;

struct OxOpRow {
    const char *name;        /* ONNX op_type */
    OxFoldMode fold;
    QsStatus (*fold_fn)(OxCtx *c, int arg);            /* set unless fold is NEVER */
    int op;                  /* the qscope OpType it becomes at run time, or -1: none */
    int n_in;                /* data inputs passed on when translate is NULL */
    QsStatus (*translate)(OxCtx *c, const OxOpRow *r); /* NULL: op, attributes copied */
    int arg;                 /* for fold_fn and translate: KBin, KUnary, Unsqueeze (1),
                                the opset that moved axes to an input, Upsample (1) */
    bool all_outputs;        /* translate defines every output (Split), not just the first */
};

extern const OxOpRow ox_op_rows[];
extern const int ox_n_op_rows;

/* The row of node n's op (default domain only), or NULL when it is not supported. */
const OxOpRow *ox_op_find(const OxNode *n);
/* Imports node c->n by its row r: folded, or emitted at run time. all_const: every
 * present input is a constant; used[k]: output k is read by another node or the graph. */
QsStatus ox_op_import(OxCtx *c, const OxOpRow *r, bool all_const, const bool *used);

/* Translations kept in their own files: TopK as one node per output read (onnx_topk.c),
 * Einsum of the batched matrix-product family as MatMul (onnx_einsum.c). */
QsStatus ox_tr_topk(OxCtx *c, const OxOpRow *r);
QsStatus ox_tr_einsum(OxCtx *c, const OxOpRow *r);

#endif
