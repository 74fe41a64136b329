/* Views of run-time values whose batch is not at axis 0 (onnx_view.h). */
#include "onnx/onnx_view.h"

#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_sym.h"
#include "ops/op.h"

typedef struct View {
    OxVal *q;                     /* batch exactly at axis 0 */
    int n;                        /* view rank */
    int8_t axis[QS_MAX_DIMS], batch[QS_MAX_DIMS];
} View;

static View view_of(Ox *x, const OxVal *v)
{
    View w = { .q = ox_val(x, v->view_q), .n = v->shape.ndim };
    memcpy(w.axis, v->view_axis, sizeof w.axis);
    memcpy(w.batch, v->view_batch, sizeof w.batch);
    return w;
}

/* Emits op on one run-time input (plus constants) under a generated name; *out is the
 * new value. */
static QsStatus emit_step(OxCtx *c, int op, OxVal **ins, int n_in, const Attr *a, int na,
                          const char *suffix, OxVal **out)
{
    char *name = ox_unique_name(c, suffix);
    QsStatus st = ox_emit_as(c, op, ins, n_in, a, na, name, name);
    *out = st ? NULL : ox_val(c->x, name);
    free(name);
    return st;
}

static QsStatus emit_transpose(OxCtx *c, OxVal **q, const int64_t *perm, int r)
{
    bool ident = true;
    for (int i = 0; i < r; i++)
        ident &= perm[i] == i;
    if (ident)
        return QS_OK;
    Attr a[1] = { attr_ints("perm", perm, r) };
    QsStatus st = emit_step(c, OP_TRANSPOSE, q, 1, a, 1, "transpose", q);
    attr_release(&a[0]);
    return st;
}

/* Reshape of run-time *q (batch at axis 0, copied) to [0, dims...] unless it has them. */
static QsStatus emit_reshape(OxCtx *c, OxVal **q, int64_t dim0, const int64_t *dims, int r)
{
    int64_t s[QS_MAX_DIMS];
    bool same = (*q)->shape.ndim == r;
    s[0] = dim0;
    for (int i = 1; i < r; i++) {
        s[i] = dims[i];
        same &= (*q)->shape.dim[i] == dims[i];
    }
    if (same && dim0 == 0)
        return QS_OK;
    Attr a[1] = { attr_ints("shape", s, r) };
    QsStatus st = emit_step(c, OP_RESHAPE, q, 1, a, 1, "reshape", q);
    attr_release(&a[0]);
    return st;
}

/* Defines the node's output as view w; its shapes from Q's. */
static QsStatus define_view(OxCtx *c, const View *w)
{
    const char *qname = w->q->qname;
    Shape s1 = w->q->shape;
    OxVal *v;
    if (ox_define(c->x, c->n->out[0], &v, c->err))
        return c->err->code;
    v->view_q = qname;
    v->shape.ndim = v->shape2.ndim = w->n;
    for (int i = 0; i < w->n; i++) {
        int64_t d1 = w->axis[i] >= 0 ? s1.dim[w->axis[i]] : 1;
        v->shape.dim[i] = d1;
        v->shape2.dim[i] = w->batch[i] ? 2 * d1 : d1;
        v->view_axis[i] = w->axis[i];
        v->view_batch[i] = w->batch[i];
    }
    return QS_OK;
}

/* Q axes in view order, then the ones no view axis reads: the permutation that brings Q
 * into the view's order (with the batch first). */
static int view_perm(const View *w, int64_t *perm)
{
    int r = w->q->shape.ndim, k = 0;
    bool used[QS_MAX_DIMS] = { true };
    perm[k++] = 0;
    for (int i = 0; i < w->n; i++)
        if (w->axis[i] >= 0) {
            perm[k++] = w->axis[i];
            used[w->axis[i]] = true;
        }
    for (int a = 1; a < r; a++)
        if (!used[a])
            perm[k++] = a;
    return r;
}

/* Brings Q into the view's axis order (so the view's last axis is Q's last). */
static QsStatus align(OxCtx *c, View *w)
{
    int64_t perm[QS_MAX_DIMS];
    int r = view_perm(w, perm);
    QsStatus st = emit_transpose(c, &w->q, perm, r);
    if (st)
        return st;
    int k = 1;
    for (int i = 0; i < w->n; i++)
        if (w->axis[i] >= 0)
            w->axis[i] = (int8_t)k++;
    return QS_OK;
}

/* A run-time value with the batch at axis 0 (it may be folded: dim 0 = a*B) as a view of
 * itself, unfolded first (a Reshape to (B, a, ...)) so that Q's axis 0 is the batch. */
static QsStatus base_view(OxCtx *c, OxVal *x, View *w)
{
    int r = x->shape.ndim;
    int64_t a = x->shape.dim[0];
    if (x->shape2.dim[0] != 2 * a)
        return ox_nfail(c, QS_EUNSUPPORTED, "input '%s': its dim 0 is not a multiple of the "
                        "batch size", x->name);
    w->q = x;
    w->n = r;
    for (int i = 0; i < r; i++) {
        w->axis[i] = (int8_t)i;
        w->batch[i] = 0;
    }
    w->axis[0] = -1;
    w->batch[0] = 1;
    if (a == 1)
        return QS_OK;
    if (r + 1 > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "rank %d above %d", r + 1, QS_MAX_DIMS);
    int64_t s[QS_MAX_DIMS];
    s[1] = a;
    for (int i = 1; i < r; i++)
        s[i + 1] = x->shape.dim[i];
    QsStatus st = emit_reshape(c, &w->q, -1, s, r + 1);
    for (int i = 0; i < r; i++)
        w->axis[i] = (int8_t)(i + 1);
    return st;
}

/* The view as an ordinary value: Q transposed into view order (axis 0 kept), then
 * reshaped with the batch and the dims folded into view axis 0 as dim 0. */
static QsStatus materialize(OxCtx *c, const OxVal *v, OxVal **out)
{
    View w = view_of(c->x, v);
    Shape vs = v->shape;
    const char *vname = v->name;
    for (int i = 1; i < w.n; i++)
        if (w.batch[i])
            return ox_nfail(c, QS_EUNSUPPORTED, "input '%s' holds the batch at axis %d (a "
                            "Transpose moved it there); qscope keeps it at axis 0", vname, i);
    if (w.batch[0] != 1)
        return ox_nfail(c, QS_EUNSUPPORTED, "input '%s' folds the batch into axis 0 as the "
                        "inner factor; qscope keeps samples apart only with the batch outer",
                        vname);
    QsStatus st = align(c, &w);
    if (st)
        return st;
    int64_t dims[QS_MAX_DIMS] = { 0 };
    for (int i = 1; i < w.n; i++)
        dims[i] = vs.dim[i];
    /* dim 0 is the batch times the view's axis-0 size at batch 1 */
    bool same = w.q->shape.ndim == w.n && w.q->shape.dim[0] == vs.dim[0];
    st = emit_reshape(c, &w.q, same ? 0 : -1, dims, w.n);
    *out = w.q;
    return st;
}

/* ---- Reshape of a view */

typedef struct Atom {
    int q;                        /* Q axis after the splits, or -1: the batch */
    int64_t size;                 /* at batch 1 */
} Atom;

/* The target's dims as (non-batch size, holds the batch), from ONNX's shape values. */
static QsStatus target_dims(OxCtx *c, const OxVal *v, const int64_t *s, int n,
                            int64_t *size, bool *hasb)
{
    int64_t total = 1, known = 1;
    int infer = -1, nb = 0;
    for (int i = 0; i < v->shape.ndim; i++)
        total *= v->shape.dim[i];
    for (int i = 0; i < n; i++) {
        OxAffine f;
        int64_t d = s[i];
        if (d == 0 && i < v->shape.ndim) {
            QsStatus st = ox_sym_dim(c, v, i, &d);
            if (st)
                return st;
        }
        bool sym = ox_sym_get(c->x, d, &f);
        hasb[i] = sym;
        if (sym && (f.b != 0 || f.a < 1))
            return ox_nfail(c, QS_EUNSUPPORTED, "dim %d is %lld*B %+lld, B the batch size",
                            i, (long long)f.a, (long long)f.b);
        if (d == -1 && !sym) {
            infer = i;
            continue;
        }
        size[i] = sym ? f.a : d;
        nb += sym;
        if (size[i] < 1)
            return ox_nfail(c, QS_ESHAPE, "dim %d is %lld", i, (long long)size[i]);
        known *= size[i];
    }
    if (infer >= 0) {
        if (total % known)
            return ox_nfail(c, QS_ESHAPE, "cannot infer -1");
        size[infer] = total / known;
        hasb[infer] = nb == 0;
        nb += nb == 0;
    }
    if (nb != 1)
        return ox_nfail(c, QS_EUNSUPPORTED, "%d dims of the target depend on the batch size",
                        nb);
    return QS_OK;
}

static QsStatus view_reshape(OxCtx *c, OxVal *v)
{
    int64_t s[QS_MAX_DIMS], tsize[QS_MAX_DIMS];
    bool hasb[QS_MAX_DIMS];
    int n;
    QsStatus st = ox_const_ints(c, 1, "shape", s, QS_MAX_DIMS, &n);
    if (!st)
        st = target_dims(c, v, s, n, tsize, hasb);
    if (st)
        return st;
    View w = view_of(c->x, v);
    /* atoms in view order, the size-1 ones left out */
    Atom at[2 * QS_MAX_DIMS];
    int na = 0;
    for (int i = 0; i < w.n; i++) {
        int64_t qs = w.axis[i] >= 0 ? w.q->shape.dim[w.axis[i]] : 1;
        if (w.batch[i] == 1)
            at[na++] = (Atom){ -1, 1 };
        if (w.axis[i] >= 0 && qs > 1)
            at[na++] = (Atom){ w.axis[i], qs };
        if (w.batch[i] == 2)
            at[na++] = (Atom){ -1, 1 };
    }
    /* each target dim takes atoms in order, splitting one where it needs part of it;
     * pieces[q] lists the sizes Q's axis q is split into */
    int64_t pieces[QS_MAX_DIMS][QS_MAX_DIMS];
    int np[QS_MAX_DIMS] = { 0 }, grp_first[QS_MAX_DIMS], grp_n[QS_MAX_DIMS];
    Atom ga[2 * QS_MAX_DIMS]; /* the atoms as grouped, q then being (axis, piece) */
    int gpiece[2 * QS_MAX_DIMS], ng = 0, k = 0;
    int64_t rest = k < na ? at[k].size : 0;
    for (int t = 0; t < n; t++) {
        int64_t need = tsize[t];
        bool needb = hasb[t];
        grp_first[t] = ng;
        while (need > 1 || needb) {
            if (k >= na)
                return ox_nfail(c, QS_EUNSUPPORTED, "the target does not split the view's "
                                "axes");
            if (at[k].q < 0) {
                if (!needb)
                    return ox_nfail(c, QS_EUNSUPPORTED, "target dim %d would hold the batch "
                                    "size", t);
                needb = false;
                gpiece[ng] = -1;
                ga[ng++] = at[k++];
                rest = k < na ? at[k].size : 0;
                continue;
            }
            int64_t take = rest <= need ? rest : need;
            if (need % take || rest % take)
                return ox_nfail(c, QS_EUNSUPPORTED, "the target does not split the view's "
                                "axes");
            int q = at[k].q;
            if (np[q] >= QS_MAX_DIMS)
                return ox_nfail(c, QS_EUNSUPPORTED, "too many splits");
            gpiece[ng] = np[q];
            ga[ng++] = (Atom){ q, take };
            pieces[q][np[q]++] = take;
            need /= take;
            rest /= take;
            if (rest == 1) {
                k++;
                rest = k < na ? at[k].size : 0;
            }
        }
        grp_n[t] = ng - grp_first[t];
    }
    if (k < na)
        return ox_nfail(c, QS_EUNSUPPORTED, "the target does not split the view's axes");
    /* Q split: axis 0, then each axis as its pieces (an axis of size 1 keeps itself) */
    int64_t split[QS_MAX_DIMS * 2], first[QS_MAX_DIMS];
    int r = w.q->shape.ndim, ns = 1;
    for (int a = 1; a < r; a++) {
        first[a] = ns;
        if (np[a] == 0)
            split[ns++] = w.q->shape.dim[a];
        for (int p = 0; p < np[a]; p++)
            split[ns++] = pieces[a][p];
    }
    if (ns > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "rank %d above %d", ns, QS_MAX_DIMS);
    if ((st = emit_reshape(c, &w.q, 0, split, ns)))
        return st;
    /* transpose into the target's order, then merge each target dim's pieces */
    int64_t perm[QS_MAX_DIMS], merged[QS_MAX_DIMS];
    bool used[QS_MAX_DIMS * 2] = { true };
    int kp = 1, nm = 1;
    perm[0] = 0;
    View out = { .n = n };
    for (int t = 0; t < n; t++) {
        /* the batch and the Q pieces a target dim merges: Q can hold the batch outside
         * its axis 0 only as the outer or inner factor of one axis */
        int64_t prod = 1;
        int before = 0, after = 0;
        bool bat = false;
        for (int g = grp_first[t]; g < grp_first[t] + grp_n[t]; g++) {
            if (ga[g].q < 0) {
                bat = true;
                continue;
            }
            int64_t sa = first[ga[g].q] + gpiece[g];
            perm[kp++] = sa;
            used[sa] = true;
            prod *= ga[g].size;
            *(bat ? &after : &before) += 1;
        }
        if (bat && before && after)
            return ox_nfail(c, QS_EUNSUPPORTED, "target dim %d holds the batch between other "
                            "dims", t);
        out.batch[t] = (int8_t)(!bat ? 0 : before ? 2 : 1);
        out.axis[t] = (int8_t)(before + after ? nm : -1);
        if (before + after)
            merged[nm++] = prod;
    }
    for (int a = 1; a < ns; a++)
        if (!used[a])
            perm[kp++] = a;
    if ((st = emit_transpose(c, &w.q, perm, ns)))
        return st;
    if ((st = emit_reshape(c, &w.q, 0, merged, nm)))
        return st;
    out.q = w.q;
    return define_view(c, &out);
}

/* ---- the other ops on views */

static bool attr_not_one(const OxNode *n, const char *name)
{
    const OxAttr *a = ox_attr_get(n, name);
    return a && a->type == OA_FLOAT && a->f != 1.0f;
}

/* MatMul and Gemm by a constant weight, Add/Sub/Mul/Div by a constant over the last axis:
 * run on Q, whose last axis is then the view's last. */
static QsStatus view_linear(OxCtx *c, const char *op, bool *done)
{
    OxVal *a = ox_in(c, 0), *b = ox_in(c, 1), *bias = ox_in(c, 2);
    bool lin = strcmp(op, "MatMul") == 0 || strcmp(op, "Gemm") == 0;
    int vin = a->view_q ? 0 : 1;
    OxVal *v = c->in[vin], *k = c->in[1 - vin];
    if (!k || !k->is_const || (lin && vin != 0) || (bias && !bias->is_const))
        return QS_OK;
    View w = view_of(c->x, v);
    if (w.batch[w.n - 1] || w.axis[w.n - 1] < 0)
        return QS_OK;
    const Shape *ks = &k->k->shape;
    if (lin ? ks->ndim != 2 : (ks->ndim > 1 && shape_numel(ks) != ks->dim[ks->ndim - 1]))
        return QS_OK;
    int qop = strcmp(op, "MatMul") == 0 ? OP_MATMUL : strcmp(op, "Add") == 0 ? OP_ADD
            : strcmp(op, "Sub") == 0 ? OP_SUB : strcmp(op, "Mul") == 0 ? OP_MUL : OP_DIV;
    if (strcmp(op, "Gemm") == 0) {
        /* torch's Linear: Dense, weight (out, in) */
        if (ox_attr_int(c->n, "transA", 0) || !ox_attr_int(c->n, "transB", 0) ||
            attr_not_one(c->n, "alpha") || attr_not_one(c->n, "beta") ||
            (bias && bias->k->shape.ndim > 1))
            return QS_OK;
        qop = OP_DENSE;
    }
    QsStatus st = align(c, &w);
    if (st)
        return st;
    /* emitting may move the value table */
    a = ox_val(c->x, c->n->in[0]);
    b = ox_val(c->x, c->n->in[1]);
    bias = c->n->n_in > 2 ? ox_val(c->x, c->n->in[2]) : NULL;
    OxVal *ins[3] = { w.q, b, bias };
    if (vin == 1) {
        ins[0] = a;
        ins[1] = w.q;
    }
    if ((st = emit_step(c, qop, ins, qop == OP_DENSE && bias ? 3 : 2, NULL, 0, "op", &w.q)))
        return st;
    *done = true;
    return define_view(c, &w);
}

/* Slice of axes that hold no batch: the same Slice of Q. */
static QsStatus view_slice(OxCtx *c, bool *done)
{
    OxVal *v = ox_in(c, 0);
    View w = view_of(c->x, v);
    int64_t vals[4][QS_MAX_DIMS];
    int n[4] = { 0, 0, 0, 0 };
    static const char *const what[4] = { "starts", "ends", "axes", "steps" };
    for (int k = 0; k < 4; k++)
        if (ox_in(c, k + 1)) {
            QsStatus st = ox_const_ints(c, k + 1, what[k], vals[k], QS_MAX_DIMS, &n[k]);
            if (st)
                return st;
            for (int i = 0; i < n[k]; i++)
                if (ox_is_sym(c->x, vals[k][i]))
                    return QS_OK;
        }
    if (!ox_in(c, 3)) {
        n[2] = n[0];
        for (int i = 0; i < n[0]; i++)
            vals[2][i] = i;
    }
    for (int i = 0; i < n[2]; i++) {
        int64_t a = vals[2][i] < 0 ? vals[2][i] + w.n : vals[2][i];
        if (a < 0 || a >= w.n || w.batch[a] || w.axis[a] < 0)
            return QS_OK;
        vals[2][i] = w.axis[a];
    }
    Attr at[4];
    int nat = 0;
    for (int k = 0; k < 4; k++)
        if (n[k] || k == 2)
            at[nat++] = attr_ints(what[k], vals[k], n[k] ? n[k] : n[2]);
    QsStatus st = emit_step(c, OP_SLICE, &w.q, 1, at, nat, "slice", &w.q);
    for (int i = 0; i < nat; i++)
        attr_release(&at[i]);
    if (st)
        return st;
    *done = true;
    return define_view(c, &w);
}

/* Gather of one index on an axis that holds no batch: a Slice of Q; the view drops it. */
static QsStatus view_gather(OxCtx *c, bool *done)
{
    OxVal *v = ox_in(c, 0), *ix = ox_in(c, 1);
    View w = view_of(c->x, v);
    int64_t ax = ox_attr_int(c->n, "axis", 0), i;
    if (ax < 0)
        ax += w.n;
    if (!ix || !ix->is_const || ix->k->shape.ndim != 0 || ax < 0 || ax >= w.n ||
        w.batch[ax] || w.axis[ax] < 0 || !k_get_int(ix->k, 0, &i))
        return QS_OK;
    int64_t d = w.q->shape.dim[w.axis[ax]];
    if (i < -d || i >= d)
        return ox_nfail(c, QS_EINVAL, "index %lld out of range", (long long)i);
    if (i < 0)
        i += d;
    int64_t st_[1] = { i }, en[1] = { i + 1 }, axv[1] = { w.axis[ax] };
    Attr at[3] = { attr_ints("starts", st_, 1), attr_ints("ends", en, 1),
                   attr_ints("axes", axv, 1) };
    QsStatus st = emit_step(c, OP_SLICE, &w.q, 1, at, 3, "gather", &w.q);
    for (int k = 0; k < 3; k++)
        attr_release(&at[k]);
    if (st)
        return st;
    for (int k = (int)ax; k + 1 < w.n; k++) {
        w.axis[k] = w.axis[k + 1];
        w.batch[k] = w.batch[k + 1];
    }
    w.n--;
    *done = true;
    return define_view(c, &w);
}

/* Transpose of a view, or of a value whose batch it moves from axis 0: a view. */
static QsStatus view_transpose(OxCtx *c, bool *done)
{
    OxVal *x = ox_in(c, 0);
    const OxAttr *p = ox_attr_get(c->n, "perm");
    int r = x->shape.ndim;
    if (!p || p->type != OA_INTS || p->n != r)
        return QS_OK;
    View w;
    if (x->view_q) {
        w = view_of(c->x, x);
    } else {
        if (p->ints[0] == 0)
            return QS_OK;
        QsStatus st = base_view(c, x, &w);
        if (st)
            return st;
    }
    bool seen[QS_MAX_DIMS] = { false };
    View o = w;
    for (int i = 0; i < r; i++) {
        if (p->ints[i] < 0 || p->ints[i] >= r || seen[p->ints[i]])
            return ox_nfail(c, QS_EINVAL, "perm is not a permutation");
        seen[p->ints[i]] = true;
        o.axis[i] = w.axis[p->ints[i]];
        o.batch[i] = w.batch[p->ints[i]];
    }
    *done = true;
    return define_view(c, &o);
}

QsStatus ox_view_import(OxCtx *c, bool *done)
{
    *done = false;
    const char *op = c->n->op;
    bool any = false;
    for (int j = 0; j < c->n->n_in; j++)
        any |= c->in[j] && c->in[j]->view_q;
    if (strcmp(op, "Transpose") == 0 && c->in[0] && !c->in[0]->is_const)
        return view_transpose(c, done);
    if (!any || strcmp(op, "Shape") == 0)
        return QS_OK;
    QsStatus st = QS_OK;
    if (c->in[0] && c->in[0]->view_q) {
        if (strcmp(op, "Reshape") == 0) {
            *done = true;
            return view_reshape(c, c->in[0]);
        }
        if (strcmp(op, "Slice") == 0)
            st = view_slice(c, done);
        else if (strcmp(op, "Gather") == 0)
            st = view_gather(c, done);
    }
    if (!st && !*done && (strcmp(op, "MatMul") == 0 || strcmp(op, "Gemm") == 0 ||
                          strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 ||
                          strcmp(op, "Mul") == 0 || strcmp(op, "Div") == 0))
        st = view_linear(c, op, done);
    if (st || *done)
        return st;
    /* any other reader: the views it reads become ordinary values */
    const char *names[OX_MAX_NODE_IO];
    for (int j = 0; j < c->n->n_in; j++)
        names[j] = c->n->in[j];
    for (int j = 0; j < c->n->n_in; j++) {
        if (!c->in[j] || !c->in[j]->view_q)
            continue;
        OxVal *m = NULL;
        if ((st = materialize(c, c->in[j], &m)))
            return st;
        names[j] = m->qname;
        /* emitting may move the value table */
        for (int k = 0; k < c->n->n_in; k++)
            c->in[k] = names[k][0] ? ox_val(c->x, names[k]) : NULL;
    }
    return QS_OK;
}
