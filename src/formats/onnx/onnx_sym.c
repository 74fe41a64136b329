/* Affine forms of the batch size in folded shape tensors (onnx_sym.h). */
#include "onnx/onnx_sym.h"

#include <stdlib.h>

#include "ops/op.h"

bool ox_sym_get(const Ox *x, int64_t v, OxAffine *f)
{
    if (v == OX_BATCH) {
        *f = (OxAffine){ 1, 0 };
        return true;
    }
    /* unsigned: v - OX_SYM_BASE overflows int64 for large literals (INT64_MAX ends) */
    if (v >= OX_SYM_BASE && (uint64_t)v - (uint64_t)OX_SYM_BASE < (uint64_t)x->n_syms) {
        *f = x->syms[v - OX_SYM_BASE];
        return true;
    }
    *f = (OxAffine){ 0, v };
    return false;
}

QsStatus ox_sym_make(const OxCtx *c, OxAffine f, int64_t *out)
{
    Ox *x = c->x;
    if (f.a == 0) {
        OxAffine g;
        if (ox_sym_get(x, f.b, &g))
            return ox_nfail(c, QS_EUNSUPPORTED, "the shape value %lld collides with qscope's "
                            "batch symbols", (long long)f.b);
        *out = f.b;
        return QS_OK;
    }
    if (f.a == 1 && f.b == 0) {
        *out = OX_BATCH;
        return QS_OK;
    }
    for (int i = 0; i < x->n_syms; i++)
        if (x->syms[i].a == f.a && x->syms[i].b == f.b) {
            *out = OX_SYM_BASE + i;
            return QS_OK;
        }
    if (x->n_syms >= (1 << 20))
        return ox_nfail(c, QS_EUNSUPPORTED, "too many distinct batch-size expressions");
    if (x->n_syms == x->cap_syms) {
        x->cap_syms = x->cap_syms ? 2 * x->cap_syms : 16;
        x->syms = xrealloc(x->syms, (size_t)x->cap_syms * sizeof *x->syms);
    }
    x->syms[x->n_syms] = f;
    *out = OX_SYM_BASE + x->n_syms++;
    return QS_OK;
}

/* Whether a*B + b == 0 for every B >= 1 (*all), for none (*none), or depends on B. */
static void zero_for_all(OxAffine f, bool *all, bool *none)
{
    *all = f.a == 0 && f.b == 0;
    /* a*B + b is monotonic in B: its value at B = 1 bounds it on the side away from 0 */
    int64_t at1;
    bool over = __builtin_add_overflow(f.a, f.b, &at1);
    *none = f.a == 0 ? f.b != 0 : (f.a > 0 ? (over || at1 > 0) : (over || at1 < 0));
}

/* d divides v (INT64_MIN % -1 would trap) */
static bool divides(int64_t d, int64_t v)
{
    return d != 0 && (d == -1 || v % d == 0);
}

static const char *const kb_name[] = { [KB_ADD] = "Add", [KB_SUB] = "Sub", [KB_MUL] = "Mul",
                                       [KB_DIV] = "Div", [KB_POW] = "Pow", [KB_EQUAL] = "Equal",
                                       [KB_MOD] = "Mod", [KB_FMOD] = "Mod" };

QsStatus ox_sym_binary(const OxCtx *c, KBin op, int64_t av, int64_t bv, int64_t *out)
{
    OxAffine p, q, r = { 0, 0 };
    ox_sym_get(c->x, av, &p);
    ox_sym_get(c->x, bv, &q);
    bool over = false;
    switch (op) {
    case KB_ADD:
    case KB_SUB:
        over = op == KB_ADD ? __builtin_add_overflow(p.a, q.a, &r.a) ||
                                  __builtin_add_overflow(p.b, q.b, &r.b)
                            : __builtin_sub_overflow(p.a, q.a, &r.a) ||
                                  __builtin_sub_overflow(p.b, q.b, &r.b);
        break;
    case KB_MUL:
        if (p.a != 0 && q.a != 0)
            return ox_nfail(c, QS_EUNSUPPORTED, "the batch size times itself");
        if (p.a == 0) {
            OxAffine t = p;
            p = q;
            q = t;
        }
        over = __builtin_mul_overflow(p.a, q.b, &r.a) || __builtin_mul_overflow(p.b, q.b, &r.b);
        break;
    case KB_DIV:
        /* (a*B + b) / d is a*B/d + b/d for every B only when d divides both; a form
         * divided by a multiple of itself is that multiple */
        if (q.a == 0 && q.b != -1 && divides(q.b, p.a) && divides(q.b, p.b)) {
            r = (OxAffine){ p.a / q.b, p.b / q.b };
        } else if (q.a != 0 && q.a != -1 && divides(q.a, p.a) && p.a / q.a != 0 &&
                   !__builtin_mul_overflow(q.b, p.a / q.a, &r.b) && r.b == p.b) {
            r = (OxAffine){ 0, p.a / q.a };
        } else if (q.a == 0 && q.b == -1) {
            over = __builtin_sub_overflow(0, p.a, &r.a) || __builtin_sub_overflow(0, p.b, &r.b);
        } else {
            goto depends;
        }
        break;
    case KB_MOD:
    case KB_FMOD: {
        /* (a*B + b) mod d is b mod d for every B when d divides a: floored, the residue
         * with d's sign; truncated, the sign of a*B + b, so it must be positive for all B */
        int64_t at1;
        if (q.a != 0 || !divides(q.b, p.a) ||
            (op == KB_FMOD && (p.a < 0 || __builtin_add_overflow(p.a, p.b, &at1) || at1 < 1)))
            goto depends;
        int64_t d = q.b;
        r.b = d == -1 ? 0 : p.b % d;
        if (op == KB_MOD && r.b != 0 && (r.b < 0) != (d < 0))
            r.b += d;
        if (op == KB_FMOD && r.b < 0)
            r.b += d < 0 ? -d : d;
        break;
    }
    case KB_EQUAL: {
        bool all, none;
        OxAffine d;
        if (__builtin_sub_overflow(p.a, q.a, &d.a) || __builtin_sub_overflow(p.b, q.b, &d.b))
            goto depends;
        zero_for_all(d, &all, &none);
        if (!all && !none)
            goto depends;
        *out = all;
        return QS_OK;
    }
    default:
        goto depends;
    }
    if (over)
        return ox_nfail(c, QS_EINVAL, "integer overflow in arithmetic on the batch size");
    return ox_sym_make(c, r, out);
depends:
    return ox_nfail(c, QS_EUNSUPPORTED, "%s of (%lld*B %+lld) and (%lld*B %+lld), B the batch "
                    "size: the result is not an exact function of B of that form (qscope keeps "
                    "the batch dynamic; export with a fixed batch of 1 to fold it)",
                    kb_name[op], (long long)p.a, (long long)p.b, (long long)q.a,
                    (long long)q.b);
}

QsStatus ox_sym_dim(const OxCtx *c, const OxVal *v, int i, int64_t *out)
{
    if (v->is_const || i >= v->shape.ndim) {
        *out = v->is_const ? v->k->shape.dim[i] : 1;
        return QS_OK;
    }
    /* every op's output dims are affine in the batch (the ops scale it, fold it into
     * another axis or keep it), so two batch sizes give the form */
    int64_t d1 = v->shape.dim[i], d2 = v->shape2.dim[i];
    return ox_sym_make(c, (OxAffine){ d2 - d1, 2 * d1 - d2 }, out);
}

QsStatus ox_emit_expand(OxCtx *c, const OxVal *data, const int64_t *shape, int n)
{
    int64_t base[QS_MAX_DIMS], mul[QS_MAX_DIMS];
    if (n < 1 || n > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "a shape of %d dims", n);
    for (int i = 0; i < n; i++) {
        OxAffine f;
        ox_sym_get(c->x, shape[i], &f);
        if (f.a < 0 || f.b < 0)
            return ox_nfail(c, QS_EUNSUPPORTED, "dim %d is %lld*B %+lld, B the batch size", i,
                            (long long)f.a, (long long)f.b);
        base[i] = f.b;
        mul[i] = f.a;
    }
    /* the batch size comes from the graph's first input, whose axis 0 is the batch */
    const Graph *g = c->x->g;
    OxVal *ins[2] = { (OxVal *)data, ox_val(c->x, g->values[g->inputs[0]].name) };
    if (!ins[1])
        return ox_nfail(c, QS_EUNSUPPORTED, "no graph input gives the batch size");
    Attr a[2] = { attr_ints("shape", base, n), attr_ints("batch", mul, n) };
    QsStatus st = ox_emit(c, OP_EXPAND, ins, 2, a, 2);
    attr_release(&a[0]);
    attr_release(&a[1]);
    return st;
}

QsStatus ox_emit_expand_value(OxCtx *c, const Tensor *value, const int64_t *shape, int n)
{
    if (value && value->dtype != DT_F32)
        return ox_nfail(c, QS_EUNSUPPORTED, "an integer tensor that grows with the batch "
                        "(qscope computes in float at run time)");
    Tensor *t = tensor_new(DT_F32, shape_of(1, (int64_t)1), c->err);
    if (!t)
        return c->err->code;
    tensor_f32(t)[0] = value && shape_numel(&value->shape) >= 1 ? tensor_f32(value)[0] : 0.0f;
    OxVal *k = ox_new_const(c, "value", t);
    return k ? ox_emit_expand(c, k, shape, n) : c->err->code;
}

void ox_sym_release(Ox *x)
{
    free(x->syms);
    x->syms = NULL;
    x->n_syms = x->cap_syms = 0;
}
