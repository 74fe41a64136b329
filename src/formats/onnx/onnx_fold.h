/* ONNX import: the constant evaluator. Nodes whose inputs are all constant (and Shape of a
 * run-time value, whose shape is known but for the batch) are computed here on f32/i64
 * tensors in which the batch size is a symbol (OX_BATCH, or an affine form of it:
 * onnx_sym.h): shape arithmetic, mostly, so that Reshape targets and the like become
 * constants. Expand and ConstantOfShape to a shape holding the batch emit a run-time
 * Expand instead. Each function sets the node's
 * output to a constant; `arg` is the op row's (onnx_ops.h). Every input but Constant's
 * first is checked by the caller to be present. */
#ifndef QS_ONNX_FOLD_H
#define QS_ONNX_FOLD_H

#include "onnx/onnx_values.h"

/* ox_fold_binary's arg */
/* KB_MOD floors (ONNX Mod fmod=0: the divisor's sign), KB_FMOD truncates (fmod=1). */
typedef enum { KB_ADD, KB_SUB, KB_MUL, KB_DIV, KB_POW, KB_EQUAL, KB_MOD, KB_FMOD } KBin;
/* ox_fold_unary's arg */
typedef enum { KU_IDENTITY, KU_NEG, KU_SQRT, KU_NOT } KUnary;

QsStatus ox_fold_constant(OxCtx *c, int arg);
QsStatus ox_fold_shape(OxCtx *c, int arg);
QsStatus ox_fold_cast(OxCtx *c, int arg);
QsStatus ox_fold_gather(OxCtx *c, int arg);
/* arg: 1 Unsqueeze, 0 Squeeze */
QsStatus ox_fold_squeeze(OxCtx *c, int arg);
QsStatus ox_fold_concat(OxCtx *c, int arg);
QsStatus ox_fold_reshape(OxCtx *c, int arg);
QsStatus ox_fold_flatten(OxCtx *c, int arg);
QsStatus ox_fold_transpose(OxCtx *c, int arg);
QsStatus ox_fold_slice(OxCtx *c, int arg);
QsStatus ox_fold_binary(OxCtx *c, int arg);
QsStatus ox_fold_where(OxCtx *c, int arg);
QsStatus ox_fold_constant_of_shape(OxCtx *c, int arg);
QsStatus ox_fold_range(OxCtx *c, int arg);
QsStatus ox_fold_expand(OxCtx *c, int arg);
QsStatus ox_fold_unary(OxCtx *c, int arg);
QsStatus ox_fold_scatter_nd(OxCtx *c, int arg);

#endif
