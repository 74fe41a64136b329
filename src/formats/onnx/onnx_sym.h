/* ONNX import: the batch size inside folded int64 shape tensors. A value there is either a
 * literal or a symbol standing for an affine form a*B + b of the batch size B (a != 0):
 * OX_BATCH is B itself, other forms are registered in the importer's table (Ox.syms) and
 * written as OX_SYM_BASE + their index. Shape of a run-time value yields them (a dim's form
 * is read from its shapes at batch 1 and 2, OxVal.shape and shape2); shape arithmetic
 * carries them (Add, Sub, Mul by a literal, Div and Mod when exact for every B, Equal when
 * its answer is the same for every B >= 1); the ops that take a shape (Reshape, Expand,
 * ConstantOfShape, Slice) resolve them per batch size at run time. Anything else on a
 * symbol (float arithmetic, B*B, a range up to B) is refused with a message naming it. */
#ifndef QS_ONNX_SYM_H
#define QS_ONNX_SYM_H

#include "onnx/onnx_fold.h"
#include "onnx/onnx_values.h"

/* Registered forms start here; far from any literal a real file holds (torch writes
 * INT64_MIN + 1 as a Slice end). */
#define OX_SYM_BASE (INT64_MIN + ((int64_t)1 << 40))

typedef struct OxAffine {
    int64_t a, b; /* a*B + b */
} OxAffine;

/* The form of shape value v: a symbol's (true), or a literal's {0, v} (false). */
bool ox_sym_get(const Ox *x, int64_t v, OxAffine *f);
/* The shape value of form f: the literal b when a is 0, OX_BATCH for B, else a symbol
 * (registered once per form). */
QsStatus ox_sym_make(const OxCtx *c, OxAffine f, int64_t *out);
static inline bool ox_is_sym(const Ox *x, int64_t v)
{
    OxAffine f;
    return ox_sym_get(x, v, &f);
}
/* a op b on shape values, at least one of them a symbol (KB_ADD .. KB_FMOD). */
QsStatus ox_sym_binary(const OxCtx *c, KBin op, int64_t a, int64_t b, int64_t *out);
/* Dim i of run-time value v as a shape value (a symbol when it grows with the batch). */
QsStatus ox_sym_dim(const OxCtx *c, const OxVal *v, int i, int64_t *out);
/* Expand of constant data (or, for ConstantOfShape, of its value: NULL is float 0) to a
 * shape of n values holding batch symbols: a tensor that grows with the batch. */
QsStatus ox_emit_expand(OxCtx *c, const OxVal *data, const int64_t *shape, int n);
QsStatus ox_emit_expand_value(OxCtx *c, const Tensor *value, const int64_t *shape, int n);
/* Frees the table. */
void ox_sym_release(Ox *x);

#endif
