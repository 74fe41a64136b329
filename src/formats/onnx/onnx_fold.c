/* The constant evaluator of the ONNX importer (onnx_fold.h): shape arithmetic on f32/i64
 * constants, the batch size carried as symbols (onnx_sym.h). */
#include "onnx/onnx_fold.h"
#include "onnx/onnx_sym.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern/fmath.h"
#include "base/half.h"
#include "ops/op.h"

static QsStatus k_broadcast(OxCtx *c, const Shape *const *s, int n, Shape *o)
{
    o->ndim = 0;
    for (int k = 0; k < n; k++)
        if (s[k]->ndim > o->ndim)
            o->ndim = s[k]->ndim;
    for (int i = 0; i < o->ndim; i++) {
        int64_t d = 1;
        for (int k = 0; k < n; k++) {
            int j = s[k]->ndim - o->ndim + i;
            int64_t e = j >= 0 ? s[k]->dim[j] : 1;
            if (e != 1 && d != 1 && e != d)
                return ox_nfail(c, QS_ESHAPE, "constant shapes do not broadcast");
            if (e != 1)
                d = e;
        }
        o->dim[i] = d;
    }
    return QS_OK;
}

/* Walks a broadcast output of n operands, calling the statement with offs[k]. */
#define K_WALK(o, st, n, ...)                                                             \
    do {                                                                                  \
        int64_t idx_[QS_MAX_DIMS] = { 0 }, offs[4] = { 0, 0, 0, 0 };                      \
        int64_t total_ = shape_numel(o);                                                  \
        for (int64_t i = 0; i < total_; i++) {                                            \
            __VA_ARGS__;                                                                  \
            for (int d_ = (o)->ndim - 1; d_ >= 0; d_--) {                                 \
                for (int k_ = 0; k_ < (n); k_++)                                          \
                    offs[k_] += (st)[k_][d_];                                             \
                if (++idx_[d_] < (o)->dim[d_])                                            \
                    break;                                                                \
                for (int k_ = 0; k_ < (n); k_++)                                          \
                    offs[k_] -= (st)[k_][d_] * (o)->dim[d_];                              \
                idx_[d_] = 0;                                                             \
            }                                                                             \
        }                                                                                 \
    } while (0)


static QsStatus k_int_bin(const OxCtx *c, KBin op, int64_t a, int64_t b, int64_t *out)
{
    if (ox_is_sym(c->x, a) || ox_is_sym(c->x, b))
        return ox_sym_binary(c, op, a, b, out);
    static const char sym[] = { [KB_ADD] = '+', [KB_SUB] = '-', [KB_MUL] = '*', [KB_POW] = '^' };
    bool over = false;
    switch (op) {
    case KB_ADD: over = __builtin_add_overflow(a, b, out); break;
    case KB_SUB: over = __builtin_sub_overflow(a, b, out); break;
    case KB_MUL: over = __builtin_mul_overflow(a, b, out); break;
    case KB_DIV:
        if (b == 0 || (a == INT64_MIN && b == -1))
            return ox_nfail(c, QS_EINVAL, "integer division by zero");
        *out = a / b;
        break;
    case KB_MOD:
    case KB_FMOD:
        if (b == 0)
            return ox_nfail(c, QS_EINVAL, "integer modulo by zero");
        /* b == -1 always leaves 0; INT64_MIN % -1 would overflow */
        *out = b == -1 ? 0 : a % b;
        if (op == KB_MOD && *out != 0 && (*out < 0) != (b < 0))
            *out += b;
        break;
    case KB_POW: {
        /* |a| >= 2 overflows by the 63rd factor; 0, 1 and -1 stay put: 64 rounds suffice */
        int64_t r = 1;
        for (int64_t e = 0; e < b && e < 64 && !over; e++)
            over = __builtin_mul_overflow(r, a, &r);
        if (!over && b > 64 && (a < -1 || a > 1))
            over = true;
        *out = b < 0 ? 0 : r;
        break;
    }
    default: *out = a == b; break;
    }
    if (over)
        return ox_nfail(c, QS_EINVAL, "integer overflow: %lld %c %lld does not fit in int64",
                        (long long)a, sym[op], (long long)b);
    return QS_OK;
}

QsStatus ox_fold_binary(OxCtx *c, int arg)
{
    KBin op = (KBin)arg;
    if (op == KB_MOD) {
        int64_t f = ox_attr_int(c->n, "fmod", 0);
        if (f != 0 && f != 1)
            return ox_nfail(c, QS_EINVAL, "fmod must be 0 or 1, not %lld", (long long)f);
        op = f ? KB_FMOD : KB_MOD;
    }
    OxVal *a = ox_in(c, 0), *b = ox_in(c, 1);
    if (!a || !b)
        return ox_nfail(c, QS_EFORMAT, "two inputs are required");
    const Shape *ss[2] = { &a->k->shape, &b->k->shape };
    Shape o;
    QsStatus st = k_broadcast(c, ss, 2, &o);
    if (st)
        return st;
    bool ints = a->k->dtype == DT_I64 && b->k->dtype == DT_I64;
    Tensor *t = ox_alloc_const(c, ints || op == KB_EQUAL ? DT_I64 : DT_F32, o);
    if (!t)
        return c->err->code;
    int64_t strides[2][QS_MAX_DIMS];
    shape_broadcast_strides(ss[0], &o, strides[0]);
    shape_broadcast_strides(ss[1], &o, strides[1]);
    if (ints) {
        const int64_t *pa = k_i64(a->k), *pb = k_i64(b->k);
        int64_t *po = k_i64(t);
        K_WALK(&o, strides, 2, if (!st) st = k_int_bin(c, op, pa[offs[0]], pb[offs[1]], &po[i]));
    } else {
        Tensor *fa = k_to_f32(a->k, c->err), *fb = fa ? k_to_f32(b->k, c->err) : NULL;
        if (!fa || !fb) {
            tensor_free(fa);
            tensor_free(t);
            return c->err->code;
        }
        const float *pa = tensor_f32(fa), *pb = tensor_f32(fb);
        if (op == KB_EQUAL) {
            int64_t *po = k_i64(t);
            K_WALK(&o, strides, 2, po[i] = pa[offs[0]] == pb[offs[1]]);
        } else {
            float *po = tensor_f32(t);
            K_WALK(&o, strides, 2, {
                float x = pa[offs[0]], y = pb[offs[1]];
                po[i] = op == KB_ADD ? x + y : op == KB_SUB ? x - y : op == KB_MUL ? x * y :
                        op == KB_DIV ? x / y : op == KB_MOD ? op_mod_floor(x, y) :
                        op == KB_FMOD ? fmodf(x, y) : (y == 2.0f ? x * x : fm_powf(x, y));
            });
        }
        tensor_free(fa);
        tensor_free(fb);
    }
    if (st) {
        tensor_free(t);
        return st;
    }
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_where(OxCtx *c, int arg)
{
    OxVal *cd = ox_in(c, 0), *a = ox_in(c, 1), *b = ox_in(c, 2);
    if (!cd || !a || !b)
        return ox_nfail(c, QS_EFORMAT, "three inputs are required");
    const Shape *ss[3] = { &cd->k->shape, &a->k->shape, &b->k->shape };
    Shape o;
    QsStatus st = k_broadcast(c, ss, 3, &o);
    if (st)
        return st;
    bool ints = a->k->dtype == DT_I64 && b->k->dtype == DT_I64;
    Tensor *t = ox_alloc_const(c, ints ? DT_I64 : DT_F32, o);
    Tensor *fa = ints ? NULL : k_to_f32(a->k, c->err), *fb = ints ? NULL : k_to_f32(b->k, c->err);
    if (!t || (!ints && (!fa || !fb))) {
        tensor_free(t);
        tensor_free(fa);
        tensor_free(fb);
        return c->err->code;
    }
    int64_t strides[3][QS_MAX_DIMS];
    for (int k = 0; k < 3; k++)
        shape_broadcast_strides(ss[k], &o, strides[k]);
    K_WALK(&o, strides, 3, {
        bool pick = cd->k->dtype == DT_I64 ? k_i64(cd->k)[offs[0]] != 0
                                           : tensor_f32(cd->k)[offs[0]] != 0.0f;
        if (ints)
            k_i64(t)[i] = pick ? k_i64(a->k)[offs[1]] : k_i64(b->k)[offs[2]];
        else
            tensor_f32(t)[i] = pick ? tensor_f32(fa)[offs[1]] : tensor_f32(fb)[offs[2]];
    });
    tensor_free(fa);
    tensor_free(fb);
    return ox_out_const(c, 0, t);
}

/* A copy of t with a new shape of the same element count. */
static Tensor *k_reshaped(OxCtx *c, const Tensor *t, Shape s)
{
    Tensor *o = tensor_clone(t, c->err);
    if (o)
        o->shape = s;
    return o;
}

QsStatus ox_fold_shape(OxCtx *c, int arg)
{
    OxVal *x = ox_in(c, 0);
    if (!x)
        return ox_nfail(c, QS_EFORMAT, "input is missing");
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    int r = xs->ndim;
    int64_t start = ox_attr_int(c->n, "start", 0), end = ox_attr_int(c->n, "end", r);
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t n = end > start ? end - start : 0;
    Tensor *t = ox_alloc_const(c, DT_I64, shape_of(1, n));
    if (!t)
        return c->err->code;
    for (int64_t i = 0; i < n; i++) {
        QsStatus st = ox_sym_dim(c, x, (int)(start + i), &k_i64(t)[i]);
        if (st) {
            tensor_free(t);
            return st;
        }
    }
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_cast(OxCtx *c, int arg)
{
    OxVal *x = ox_in(c, 0);
    int64_t to = ox_attr_int(c->n, "to", 0);
    if (!ox_raw_size((int)to))
        return ox_nfail(c, QS_EUNSUPPORTED, "cast to %s", ox_type_name((int)to));
    Tensor *t;
    if (ox_is_float((int)to)) {
        t = k_to_f32(x->k, c->err);
        if (t && to == OT_FLOAT16)
            half_round_array(tensor_f32(t), k_numel(t));
    } else {
        t = ox_alloc_const(c, DT_I64, x->k->shape);
        for (int64_t i = 0; t && i < k_numel(t); i++) {
            if (x->k->dtype == DT_I64) {
                k_i64(t)[i] = k_i64(x->k)[i];
            } else {
                float f = tensor_f32(x->k)[i];
                if (!(fabsf(f) < 9.2e18f)) {
                    tensor_free(t);
                    return ox_nfail(c, QS_EINVAL, "cannot cast %g to an integer", (double)f);
                }
                k_i64(t)[i] = to == OT_BOOL ? f != 0.0f : (int64_t)f;
            }
        }
    }
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_gather(OxCtx *c, int arg)
{
    OxVal *d = ox_in(c, 0), *ix = ox_in(c, 1);
    if (!d || !ix)
        return ox_nfail(c, QS_EFORMAT, "two inputs are required");
    const Shape *ds = &d->k->shape, *is = &ix->k->shape;
    int r = ds->ndim, axis;
    int64_t a = ox_attr_int(c->n, "axis", 0);
    if (r < 1 || a < -r || a >= r)
        return ox_nfail(c, QS_EINVAL, "axis %lld out of range", (long long)a);
    axis = (int)(a < 0 ? a + r : a);
    if (r - 1 + is->ndim > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "result rank above %d", QS_MAX_DIMS);
    Shape o = { .ndim = r - 1 + is->ndim };
    int k = 0;
    for (int i = 0; i < axis; i++)
        o.dim[k++] = ds->dim[i];
    for (int i = 0; i < is->ndim; i++)
        o.dim[k++] = is->dim[i];
    for (int i = axis + 1; i < r; i++)
        o.dim[k++] = ds->dim[i];
    Tensor *t = ox_alloc_const(c, d->k->dtype, o);
    if (!t)
        return c->err->code;
    int64_t outer = shape_span(ds, 0, axis), inner = shape_span(ds, axis + 1, r);
    int64_t len = ds->dim[axis], ni = k_numel(ix->k);
    size_t es = dtype_size(d->k->dtype);
    for (int64_t j = 0; j < ni; j++) {
        int64_t v = 0;
        if (!k_get_int(ix->k, j, &v) || v < -len || v >= len) {
            tensor_free(t);
            return ox_nfail(c, QS_EINVAL, "index %lld out of range for %lld", (long long)v,
                            (long long)len);
        }
        if (v < 0)
            v += len;
        for (int64_t o_ = 0; o_ < outer; o_++)
            memcpy((char *)t->data + ((o_ * ni + j) * inner) * (int64_t)es,
                   (char *)d->k->data + ((o_ * len + v) * inner) * (int64_t)es,
                   (size_t)inner * es);
    }
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_squeeze(OxCtx *c, int arg)
{
    bool unsq = arg != 0;
    OxVal *x = ox_in(c, 0);
    int64_t ax[QS_MAX_DIMS];
    int n = 0;
    QsStatus st;
    const OxAttr *aa = ox_attr_get(c->n, "axes");
    if (c->x->opset >= 13 && ox_in(c, 1)) {
        if ((st = ox_const_ints(c, 1, "axes", ax, QS_MAX_DIMS, &n)))
            return st;
    } else if (aa && aa->type == OA_INTS && aa->n <= QS_MAX_DIMS) {
        n = aa->n;
        memcpy(ax, aa->ints, (size_t)n * sizeof *ax);
    }
    const Shape *xs = &x->k->shape;
    int r = xs->ndim, ro = unsq ? r + n : r;
    if (ro > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "rank %d above %d", ro, QS_MAX_DIMS);
    bool mark[QS_MAX_DIMS] = { false };
    for (int i = 0; i < n; i++) {
        int64_t v = ax[i] < 0 ? ax[i] + ro : ax[i];
        if (v < 0 || v >= ro || mark[v] || (!unsq && xs->dim[v] != 1))
            return ox_nfail(c, QS_EINVAL, "axis %lld out of range, repeated or not of size 1",
                            (long long)ax[i]);
        mark[v] = true;
    }
    Shape o = { .ndim = 0 };
    if (unsq) {
        for (int i = 0, j = 0; i < ro; i++)
            o.dim[o.ndim++] = mark[i] ? 1 : xs->dim[j++];
    } else {
        for (int i = 0; i < r; i++)
            if (!(n ? mark[i] : xs->dim[i] == 1))
                o.dim[o.ndim++] = xs->dim[i];
    }
    return ox_out_const(c, 0, k_reshaped(c, x->k, o));
}

QsStatus ox_fold_concat(OxCtx *c, int arg)
{
    int n = c->n->n_in;
    if (n < 1)
        return ox_nfail(c, QS_EFORMAT, "no inputs");
    const Shape *s0 = &c->in[0]->k->shape; /* in[0] is checked by ox_op_import */
    int r = s0->ndim;
    int64_t a = ox_attr_int(c->n, "axis", 0);
    if (r < 1 || a < -r || a >= r)
        return ox_nfail(c, QS_EINVAL, "axis %lld out of range", (long long)a);
    int axis = (int)(a < 0 ? a + r : a);
    bool ints = true;
    Shape o = *s0;
    o.dim[axis] = 0;
    for (int k = 0; k < n; k++) {
        if (!c->in[k])
            return ox_nfail(c, QS_EFORMAT, "input %d is empty", k);
        const Shape *s = &c->in[k]->k->shape;
        if (s->ndim != r)
            return ox_nfail(c, QS_ESHAPE, "inputs of different ranks");
        for (int i = 0; i < r; i++)
            if (i != axis && s->dim[i] != s0->dim[i])
                return ox_nfail(c, QS_ESHAPE, "input shapes do not match");
        o.dim[axis] += s->dim[axis];
        ints &= c->in[k]->k->dtype == DT_I64;
    }
    Tensor *t = ox_alloc_const(c, ints ? DT_I64 : DT_F32, o);
    if (!t)
        return c->err->code;
    int64_t outer = shape_span(&o, 0, axis), at = 0, es = ints ? 8 : 4;
    int64_t oinner = shape_span(&o, axis, r);
    for (int k = 0; k < n; k++) {
        const Tensor *in = c->in[k]->k;
        Tensor *conv = ints || in->dtype == DT_F32 ? NULL : k_to_f32(in, c->err);
        if (!ints && in->dtype != DT_F32 && !conv) {
            tensor_free(t);
            return c->err->code;
        }
        const Tensor *src = conv ? conv : in;
        int64_t chunk = shape_span(&in->shape, axis, r);
        for (int64_t o_ = 0; o_ < outer; o_++)
            memcpy((char *)t->data + (o_ * oinner + at) * es, (char *)src->data + o_ * chunk * es,
                   (size_t)chunk * (size_t)es);
        at += chunk;
        tensor_free(conv);
    }
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_reshape(OxCtx *c, int arg)
{
    OxVal *x = ox_in(c, 0);
    int64_t s[QS_MAX_DIMS];
    int n;
    QsStatus st = ox_const_ints(c, 1, "shape", s, QS_MAX_DIMS, &n);
    if (st)
        return st;
    bool allowzero = ox_attr_int(c->n, "allowzero", 0) != 0;
    const Shape *xs = &x->k->shape;
    Shape o = { .ndim = n };
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        if (ox_is_sym(c->x, s[i]))
            return ox_nfail(c, QS_EUNSUPPORTED, "a constant reshaped by the batch size");
        if (s[i] == 0 && !allowzero) {
            if (i >= xs->ndim)
                return ox_nfail(c, QS_ESHAPE, "0 at axis %d beyond the input's rank", i);
            o.dim[i] = xs->dim[i];
        } else if (s[i] == -1) {
            if (infer >= 0)
                return ox_nfail(c, QS_ESHAPE, "two -1 in shape");
            infer = i;
            continue;
        } else if (s[i] < 0) {
            return ox_nfail(c, QS_ESHAPE, "negative dim %lld", (long long)s[i]);
        } else {
            o.dim[i] = s[i];
        }
        if (__builtin_mul_overflow(known, o.dim[i], &known))
            return ox_nfail(c, QS_ESHAPE, "shape overflows");
    }
    int64_t numel = k_numel(x->k);
    if (infer >= 0) {
        if (known == 0 || numel % known)
            return ox_nfail(c, QS_ESHAPE, "cannot infer -1");
        o.dim[infer] = numel / known;
    } else if (known != numel) {
        return ox_nfail(c, QS_ESHAPE, "%lld elements reshaped to %lld", (long long)numel,
                        (long long)known);
    }
    return ox_out_const(c, 0, k_reshaped(c, x->k, o));
}

QsStatus ox_fold_transpose(OxCtx *c, int arg)
{
    OxVal *x = ox_in(c, 0);
    const Shape *xs = &x->k->shape;
    int r = xs->ndim;
    int64_t perm[QS_MAX_DIMS];
    const OxAttr *p = ox_attr_get(c->n, "perm");
    bool seen[QS_MAX_DIMS] = { false };
    for (int i = 0; i < r; i++) {
        perm[i] = p && p->type == OA_INTS && p->n == r ? p->ints[i] : r - 1 - i;
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
            return ox_nfail(c, QS_EINVAL, "perm is not a permutation");
        seen[perm[i]] = true;
    }
    Shape o = { .ndim = r };
    int64_t xst[QS_MAX_DIMS], run = 1, ost[1][QS_MAX_DIMS];
    for (int i = r - 1; i >= 0; i--) {
        xst[i] = run;
        run *= xs->dim[i];
    }
    for (int i = 0; i < r; i++) {
        o.dim[i] = xs->dim[perm[i]];
        ost[0][i] = xst[perm[i]];
    }
    Tensor *t = ox_alloc_const(c, x->k->dtype, o);
    if (!t)
        return c->err->code;
    size_t es = dtype_size(x->k->dtype);
    K_WALK(&o, ost, 1, memcpy((char *)t->data + i * (int64_t)es,
                              (char *)x->k->data + offs[0] * (int64_t)es, es));
    return ox_out_const(c, 0, t);
}

/* Clamps the start *s and end *e (negative ones already made relative to the end) of an
 * axis of size d as ONNX Slice does for step k != 0, and returns the element count. No
 * step, however large (INT64_MAX, INT64_MIN), overflows: s - e - 1 < d. */
static int64_t slice_extent(int64_t d, int64_t *s, int64_t *e, int64_t k)
{
    if (k > 0) {
        *s = *s < 0 ? 0 : *s > d ? d : *s;
        *e = *e < 0 ? 0 : *e > d ? d : *e;
        return *e > *s ? (*e - *s - 1) / k + 1 : 0;
    }
    *s = *s < 0 ? -1 : *s > d - 1 ? d - 1 : *s;
    *e = *e < -1 ? -1 : *e > d - 1 ? d - 1 : *e;
    /* -INT64_MIN does not exist; INT64_MAX takes the same single element */
    return *s > *e ? (*s - *e - 1) / (k == INT64_MIN ? INT64_MAX : -k) + 1 : 0;
}

QsStatus ox_fold_slice(OxCtx *c, int arg)
{
    OxVal *x = ox_in(c, 0);
    const Shape *xs = &x->k->shape;
    int r = xs->ndim;
    int64_t st_[QS_MAX_DIMS], en[QS_MAX_DIMS], ax[QS_MAX_DIMS], sp[QS_MAX_DIMS];
    int ns, ne, na, nsp;
    QsStatus st;
    if ((st = ox_const_ints(c, 1, "starts", st_, QS_MAX_DIMS, &ns)) ||
        (st = ox_const_ints(c, 2, "ends", en, QS_MAX_DIMS, &ne)))
        return st;
    if (ns != ne)
        return ox_nfail(c, QS_EFORMAT, "%d starts and %d ends", ns, ne);
    if (ox_in(c, 3)) {
        if ((st = ox_const_ints(c, 3, "axes", ax, QS_MAX_DIMS, &na)))
            return st;
    } else {
        na = ns;
        for (int i = 0; i < ns; i++)
            ax[i] = i;
    }
    if (ox_in(c, 4)) {
        if ((st = ox_const_ints(c, 4, "steps", sp, QS_MAX_DIMS, &nsp)))
            return st;
    } else {
        nsp = ns;
        for (int i = 0; i < ns; i++)
            sp[i] = 1;
    }
    if (na != ns || nsp != ns)
        return ox_nfail(c, QS_EFORMAT, "starts, ends, axes and steps differ in length");
    int64_t b[QS_MAX_DIMS], step[QS_MAX_DIMS];
    Shape o = *xs;
    for (int i = 0; i < r; i++)
        b[i] = 0, step[i] = 1;
    for (int i = 0; i < ns; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r || sp[i] == 0)
            return ox_nfail(c, QS_EINVAL, "axis %lld or step 0 invalid", (long long)ax[i]);
        int64_t d = xs->dim[a], s = st_[i], e = en[i];
        if (ox_is_sym(c->x, s) || ox_is_sym(c->x, e))
            return ox_nfail(c, QS_EUNSUPPORTED, "slicing a constant by the batch size");
        if (s < 0)
            s += d;
        if (e < 0 && e > INT64_MIN / 2)
            e += d;
        o.dim[a] = slice_extent(d, &s, &e, sp[i]);
        b[a] = s;
        /* one element or none: the step is never taken, and multiplying a huge one by the
         * axis stride below could overflow */
        step[a] = o.dim[a] > 1 ? sp[i] : 1;
    }
    Tensor *t = ox_alloc_const(c, x->k->dtype, o);
    if (!t)
        return c->err->code;
    int64_t xst[QS_MAX_DIMS], run = 1, ost[1][QS_MAX_DIMS];
    for (int i = r - 1; i >= 0; i--) {
        xst[i] = run;
        run *= xs->dim[i];
        ost[0][i] = xst[i] * step[i];
    }
    int64_t base = 0;
    for (int i = 0; i < r; i++)
        base += b[i] * xst[i];
    size_t es = dtype_size(x->k->dtype);
    K_WALK(&o, ost, 1, memcpy((char *)t->data + i * (int64_t)es,
                              (char *)x->k->data + (base + offs[0]) * (int64_t)es, es));
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_constant_of_shape(OxCtx *c, int arg)
{
    int64_t s[QS_MAX_DIMS];
    int n;
    QsStatus st = ox_const_ints(c, 0, "shape", s, QS_MAX_DIMS, &n);
    if (st)
        return st;
    const OxAttr *v = ox_attr_get(c->n, "value");
    const Tensor *vt = v && v->type == OA_TENSOR ? v->t : NULL;
    for (int i = 0; i < n; i++)
        if (ox_is_sym(c->x, s[i]))
            return ox_emit_expand_value(c, vt, s, n);
    Shape o = { .ndim = n };
    for (int i = 0; i < n; i++) {
        if (s[i] < 0)
            return ox_nfail(c, QS_EINVAL, "negative dim %lld", (long long)s[i]);
        o.dim[i] = s[i];
    }
    size_t bytes;
    if (shape_checked_bytes(&o, 8, &bytes, c->name, c->err))
        return c->err->code;
    Tensor *t = ox_alloc_const(c, vt ? vt->dtype : DT_F32, o);
    if (!t)
        return c->err->code;
    for (int64_t i = 0; vt && k_numel(vt) >= 1 && i < k_numel(t); i++)
        memcpy((char *)t->data + i * (int64_t)dtype_size(t->dtype), vt->data,
               dtype_size(t->dtype));
    return ox_out_const(c, 0, t);
}

/* ONNX Range's element count max(ceil((limit - start) / delta), 0) for int64 operands,
 * delta != 0, exact where the double formula rounds (|limit - start| above 2^53). */
static uint64_t range_count(int64_t start, int64_t limit, int64_t delta)
{
    if (delta > 0 ? limit <= start : limit >= start)
        return 0;
    uint64_t span = delta > 0 ? (uint64_t)limit - (uint64_t)start
                              : (uint64_t)start - (uint64_t)limit;
    uint64_t step = delta > 0 ? (uint64_t)delta : (uint64_t)-(delta + 1) + 1;
    return (span - 1) / step + 1;
}

QsStatus ox_fold_range(OxCtx *c, int arg)
{
    OxVal *a = ox_in(c, 0), *b = ox_in(c, 1), *d = ox_in(c, 2);
    if (!a || !b || !d || k_numel(a->k) != 1 || k_numel(b->k) != 1 || k_numel(d->k) != 1)
        return ox_nfail(c, QS_EFORMAT, "start, limit and delta must be scalars");
    bool ints = a->k->dtype == DT_I64 && b->k->dtype == DT_I64 && d->k->dtype == DT_I64;
    double s = ints ? (double)k_i64(a->k)[0] : tensor_f32(a->k)[0];
    double l = ints ? (double)k_i64(b->k)[0] : tensor_f32(b->k)[0];
    double dd = ints ? (double)k_i64(d->k)[0] : tensor_f32(d->k)[0];
    if (ints && (ox_is_sym(c->x, k_i64(a->k)[0]) || ox_is_sym(c->x, k_i64(b->k)[0]) ||
                 ox_is_sym(c->x, k_i64(d->k)[0])))
        return ox_nfail(c, QS_EUNSUPPORTED, "a range up to the batch size");
    double cnt = dd != 0.0 ? ceil((l - s) / dd) : -1.0;
    if (ints && cnt > 0.0)
        cnt = (double)range_count(k_i64(a->k)[0], k_i64(b->k)[0], k_i64(d->k)[0]);
    if (!(cnt >= 0.0) || cnt > 1e8)
        return ox_nfail(c, QS_EINVAL, "range of %g elements", cnt);
    Tensor *t = ox_alloc_const(c, ints ? DT_I64 : DT_F32, shape_of(1, (int64_t)cnt));
    for (int64_t i = 0; t && i < (int64_t)cnt; i++) {
        /* start + i * delta lies between start and limit, so the wrapping unsigned sum
         * is the exact value */
        if (ints)
            k_i64(t)[i] = (int64_t)((uint64_t)k_i64(a->k)[0] +
                                    (uint64_t)i * (uint64_t)k_i64(d->k)[0]);
        else
            tensor_f32(t)[i] = (float)(s + (double)i * dd);
    }
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_expand(OxCtx *c, int arg)
{
    OxVal *x = ox_in(c, 0);
    int64_t s[QS_MAX_DIMS];
    int n;
    QsStatus st = ox_const_ints(c, 1, "shape", s, QS_MAX_DIMS, &n);
    if (st)
        return st;
    for (int i = 0; i < n; i++)
        if (ox_is_sym(c->x, s[i]))
            return ox_emit_expand(c, x, s, n);
    Shape target = { .ndim = n };
    for (int i = 0; i < n; i++) {
        if (s[i] < 0)
            return ox_nfail(c, QS_EINVAL, "negative dim %lld", (long long)s[i]);
        target.dim[i] = s[i];
    }
    const Shape *ss[2] = { &x->k->shape, &target };
    Shape o;
    if ((st = k_broadcast(c, ss, 2, &o)))
        return st;
    size_t bytes;
    if (shape_checked_bytes(&o, 8, &bytes, c->name, c->err))
        return c->err->code;
    Tensor *t = ox_alloc_const(c, x->k->dtype, o);
    if (!t)
        return c->err->code;
    int64_t str[1][QS_MAX_DIMS];
    shape_broadcast_strides(&x->k->shape, &o, str[0]);
    size_t es = dtype_size(x->k->dtype);
    K_WALK(&o, str, 1, memcpy((char *)t->data + i * (int64_t)es,
                              (char *)x->k->data + offs[0] * (int64_t)es, es));
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_unary(OxCtx *c, int arg)
{
    OxVal *x = ox_in(c, 0);
    if (arg == KU_IDENTITY)
        return ox_out_const(c, 0, tensor_clone(x->k, c->err));
    if (arg == KU_NOT) {
        Tensor *t = ox_alloc_const(c, DT_I64, x->k->shape);
        for (int64_t i = 0; t && i < k_numel(t); i++)
            k_i64(t)[i] = x->k->dtype == DT_I64 ? k_i64(x->k)[i] == 0
                                                : tensor_f32(x->k)[i] == 0.0f;
        return ox_out_const(c, 0, t);
    }
    if (arg == KU_NEG && x->k->dtype == DT_I64) {
        Tensor *t = tensor_clone(x->k, c->err);
        for (int64_t i = 0; t && i < k_numel(t); i++) {
            if (ox_is_sym(c->x, k_i64(t)[i])) {
                QsStatus st = ox_sym_binary(c, KB_MUL, k_i64(t)[i], -1, &k_i64(t)[i]);
                if (st) {
                    tensor_free(t);
                    return st;
                }
                continue;
            }
            k_i64(t)[i] = -k_i64(t)[i];
        }
        return ox_out_const(c, 0, t);
    }
    Tensor *t = k_to_f32(x->k, c->err);
    for (int64_t i = 0; t && i < k_numel(t); i++) {
        float *v = &tensor_f32(t)[i];
        *v = arg == KU_NEG ? -*v : sqrtf(*v);
    }
    return ox_out_const(c, 0, t);
}

QsStatus ox_fold_flatten(OxCtx *c, int arg)
{
    const Shape *s = &c->in[0]->k->shape;
    int64_t a = ox_attr_int(c->n, "axis", 1);
    if (a < -s->ndim || a > s->ndim)
        return ox_nfail(c, QS_EINVAL, "axis %lld out of range", (long long)a);
    if (a < 0)
        a += s->ndim;
    return ox_out_const(c, 0, k_reshaped(c, c->in[0]->k,
                                         shape_of(2, shape_span(s, 0, (int)a),
                                                  shape_span(s, (int)a, s->ndim))));
}

QsStatus ox_fold_constant(OxCtx *c, int arg)
{
    const OxNode *n = c->n;
    if (n->n_attrs != 1)
        return ox_nfail(c, QS_EFORMAT, "needs exactly one value attribute");
    const OxAttr *a = &n->attrs[0];
    Tensor *t = NULL;
    if (strcmp(a->name, "value") == 0 && a->type == OA_TENSOR) {
        t = tensor_clone(a->t, c->err);
    } else if (strcmp(a->name, "value_float") == 0 && a->type == OA_FLOAT) {
        t = ox_alloc_const(c, DT_F32, shape_make(0, NULL));
        if (t)
            tensor_f32(t)[0] = a->f;
    } else if (strcmp(a->name, "value_int") == 0 && a->type == OA_INT) {
        t = ox_alloc_const(c, DT_I64, shape_make(0, NULL));
        if (t)
            k_i64(t)[0] = a->i;
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == OA_FLOATS) {
        t = ox_alloc_const(c, DT_F32, shape_of(1, (int64_t)a->n));
        if (t && a->n)
            memcpy(t->data, a->floats, (size_t)a->n * sizeof(float));
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == OA_INTS) {
        t = ox_alloc_const(c, DT_I64, shape_of(1, (int64_t)a->n));
        if (t && a->n)
            memcpy(t->data, a->ints, (size_t)a->n * sizeof(int64_t));
    } else {
        return ox_nfail(c, QS_EUNSUPPORTED, "value attribute '%s' is not supported", a->name);
    }
    return ox_out_const(c, 0, t);
}


/* ScatterND (reduction none): data with the slices indices[..., :] replaced by updates;
 * Swin's shifted-window mask is built this way from constants. */
QsStatus ox_fold_scatter_nd(OxCtx *c, int arg)
{
    OxVal *d = ox_in(c, 0), *ix = ox_in(c, 1), *up = ox_in(c, 2);
    if (!d || !ix || !up)
        return ox_nfail(c, QS_EFORMAT, "three inputs are required");
    if (strcmp(ox_attr_str(c->n, "reduction", "none"), "none") != 0)
        return ox_nfail(c, QS_EUNSUPPORTED, "only reduction='none' is supported");
    const Shape *ds = &d->k->shape, *is = &ix->k->shape, *us = &up->k->shape;
    int q = is->ndim, r = ds->ndim;
    int64_t k = q >= 1 ? is->dim[q - 1] : 0;
    /* updates' shape is indices.shape[:-1] + data.shape[k:] */
    bool ok = q >= 1 && k >= 1 && k <= r && us->ndim == q - 1 + r - (int)k;
    for (int i = 0; ok && i < q - 1; i++)
        ok = us->dim[i] == is->dim[i];
    for (int i = (int)k; ok && i < r; i++)
        ok = us->dim[q - 1 + i - (int)k] == ds->dim[i];
    if (!ok)
        return ox_nfail(c, QS_ESHAPE, "indices and updates do not fit the data's shape");
    bool ints = d->k->dtype == DT_I64 && up->k->dtype == DT_I64;
    Tensor *t = ints ? tensor_clone(d->k, c->err) : k_to_f32(d->k, c->err);
    Tensor *u = !t ? NULL : ints ? tensor_clone(up->k, c->err) : k_to_f32(up->k, c->err);
    if (!t || !u) {
        tensor_free(t);
        return c->err->code;
    }
    int64_t slice = shape_span(ds, (int)k, r), n = shape_span(is, 0, q - 1);
    size_t es = dtype_size(t->dtype);
    for (int64_t j = 0; j < n; j++) {
        int64_t off = 0;
        for (int64_t a = 0; a < k; a++) {
            int64_t v;
            if (!k_get_int(ix->k, j * k + a, &v) || v < -ds->dim[a] || v >= ds->dim[a]) {
                tensor_free(t);
                tensor_free(u);
                return ox_nfail(c, QS_EINVAL, "index %lld out of range", (long long)j);
            }
            off = off * ds->dim[a] + (v < 0 ? v + ds->dim[a] : v);
        }
        memcpy((char *)t->data + off * slice * (int64_t)es,
               (char *)u->data + j * slice * (int64_t)es, (size_t)slice * es);
    }
    tensor_free(u);
    return ox_out_const(c, 0, t);
}
