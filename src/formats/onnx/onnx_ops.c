/* The op table of the ONNX importer (onnx_ops.h) and the translations of ops whose ONNX
 * form differs from qscope's: parameter inputs into attributes, auto_pad into pads, older
 * opsets' attribute forms. */
#include "onnx/onnx_ops.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_fold.h"
#include "onnx/onnx_sym.h"
#include "ops/op.h"

/* ONNX attributes that map one to one onto qscope attributes. */
static int copy_attrs(const OxCtx *c, Attr *out, int max, const char *const *skip)
{
    int n = 0;
    for (int i = 0; i < c->n->n_attrs && n < max; i++) {
        const OxAttr *a = &c->n->attrs[i];
        bool skipped = false;
        for (int k = 0; skip && skip[k]; k++)
            skipped |= strcmp(skip[k], a->name) == 0;
        if (skipped || strlen(a->name) >= QS_ATTR_NAME)
            continue;
        switch (a->type) {
        case OA_INT: out[n++] = attr_int(a->name, a->i); break;
        case OA_FLOAT: out[n++] = attr_float(a->name, a->f); break;
        /* An empty list has no array: give the builders a valid pointer anyway. */
        case OA_INTS: out[n++] = attr_ints(a->name, a->ints ? a->ints : &a->i, a->n); break;
        case OA_FLOATS: out[n++] = attr_floats(a->name, a->floats ? a->floats : &a->f, a->n); break;
        case OA_STRING: out[n++] = attr_str(a->name, a->s); break;
        default: break;
        }
    }
    return n;
}

static void release_attrs(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

static void set_attr(Attr *a, int *n, Attr v)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(a[i].name, v.name) == 0) {
            attr_release(&a[i]);
            a[i] = v;
            return;
        }
    a[(*n)++] = v;
}

static void drop_attr(Attr *a, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(a[i].name, name) == 0) {
            attr_release(&a[i]);
            a[i] = a[--*n];
            return;
        }
}

#define MAX_ATTRS 40

/* Emits op with the node's data inputs [0, n_in) and its attributes copied. */
static QsStatus emit_plain(OxCtx *c, int op, int n_in)
{
    Attr a[MAX_ATTRS];
    int na = copy_attrs(c, a, MAX_ATTRS, NULL);
    QsStatus st = ox_emit(c, op, c->in, n_in < c->n->n_in ? n_in : c->n->n_in, a, na);
    release_attrs(a, na);
    return st;
}

/* auto_pad SAME_UPPER / SAME_LOWER / VALID into explicit pads, from the input's spatial
 * dims and the kernel extent (ONNX's formulas); "NOTSET" leaves the attributes alone. */
static QsStatus resolve_auto_pad(OxCtx *c, Attr *a, int *na, const Shape *x,
                                 const int64_t *kernel)
{
    const char *ap = ox_attr_str(c->n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0)
        return QS_OK;
    int sp = x->ndim - 2;
    if (sp < 1 || sp > 2)
        return ox_nfail(c, QS_EUNSUPPORTED, "auto_pad needs a 1-D or 2-D input");
    int64_t st[2] = { 1, 1 }, dl[2] = { 1, 1 }, pads[4] = { 0, 0, 0, 0 };
    const OxAttr *s = ox_attr_get(c->n, "strides"), *d = ox_attr_get(c->n, "dilations");
    for (int i = 0; i < sp; i++) {
        if (s && s->type == OA_INTS && s->n == sp)
            st[i] = s->ints[i];
        if (d && d->type == OA_INTS && d->n == sp)
            dl[i] = d->ints[i];
        if (st[i] < 1 || dl[i] < 1 || st[i] > INT32_MAX || dl[i] > INT32_MAX)
            return ox_nfail(c, QS_EINVAL, "strides and dilations must be >= 1");
        /* bounded so that the padding arithmetic below cannot overflow */
        if (kernel[i] < 1 || kernel[i] > INT32_MAX)
            return ox_nfail(c, QS_EINVAL, "kernel size %lld out of range",
                            (long long)kernel[i]);
    }
    if (strcmp(ap, "VALID") != 0) {
        bool upper = strcmp(ap, "SAME_UPPER") == 0;
        if (!upper && strcmp(ap, "SAME_LOWER") != 0)
            return ox_nfail(c, QS_EINVAL, "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER "
                            "or VALID", ap);
        for (int i = 0; i < sp; i++) {
            int64_t in = x->dim[2 + i], out = (in + st[i] - 1) / st[i];
            int64_t total = (out - 1) * st[i] + (kernel[i] - 1) * dl[i] + 1 - in;
            if (total < 0)
                total = 0;
            pads[i] = upper ? total / 2 : total - total / 2;
            pads[sp + i] = total - pads[i];
        }
    }
    drop_attr(a, na, "auto_pad");
    set_attr(a, na, attr_ints("pads", pads, 2 * sp));
    return QS_OK;
}

/* ---- run-time ops with constant "parameter" inputs */

/* Conv and ConvTranspose: auto_pad (and ConvTranspose's output_shape) into pads. */
static QsStatus tr_conv(OxCtx *c, const OxOpRow *r)
{
    int op = r->op;
    OxVal *x = ox_in(c, 0), *w = ox_in(c, 1);
    if (!x || !w)
        return ox_nfail(c, QS_EFORMAT, "inputs X and W are required");
    Attr a[MAX_ATTRS];
    int na = copy_attrs(c, a, MAX_ATTRS, NULL);
    QsStatus st = QS_OK;
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    const Shape *ws = w->is_const ? &w->k->shape : &w->shape;
    if (op == OP_CONV) {
        int64_t k[2] = { ws->ndim > 2 ? ws->dim[2] : 1, ws->ndim > 3 ? ws->dim[3] : 1 };
        st = resolve_auto_pad(c, a, &na, xs, k);
    } else if (ox_attr_get(c->n, "output_shape") ||
               strcmp(ox_attr_str(c->n, "auto_pad", "NOTSET"), "NOTSET") != 0) {
        /* ConvTranspose: output_shape / auto_pad into pads (ONNX's total_padding rule). */
        int sp = xs->ndim - 2;
        const OxAttr *os = ox_attr_get(c->n, "output_shape");
        const char *ap = ox_attr_str(c->n, "auto_pad", "NOTSET");
        int64_t pads[4] = { 0, 0, 0, 0 };
        if (sp < 1 || sp > 2 || ws->ndim != xs->ndim)
            st = ox_nfail(c, QS_EUNSUPPORTED, "needs a 1-D or 2-D input");
        for (int i = 0; !st && i < sp; i++) {
            const OxAttr *s = ox_attr_get(c->n, "strides"), *d = ox_attr_get(c->n, "dilations");
            const OxAttr *op_ = ox_attr_get(c->n, "output_padding");
            int64_t stv = s && s->type == OA_INTS && s->n == sp ? s->ints[i] : 1;
            int64_t dlv = d && d->type == OA_INTS && d->n == sp ? d->ints[i] : 1;
            int64_t opv = op_ && op_->type == OA_INTS && op_->n == sp ? op_->ints[i] : 0;
            int64_t in = xs->dim[2 + i], kk = ws->dim[2 + i];
            int64_t want = in * stv;
            if (os) {
                if (os->type != OA_INTS || os->n < sp)
                    st = ox_nfail(c, QS_EFORMAT, "output_shape must list the spatial dims");
                else
                    want = os->ints[os->n - sp + i];
            } else if (strcmp(ap, "VALID") == 0) {
                continue;
            }
            if (stv < 1 || dlv < 1 || stv > INT32_MAX || dlv > INT32_MAX || kk > INT32_MAX ||
                want < 1 || want > INT32_MAX || opv < 0 || opv > INT32_MAX)
                st = ox_nfail(c, QS_EINVAL, "strides, dilations, output_padding or output_shape "
                              "out of range");
            if (st)
                break;
            int64_t total = stv * (in - 1) + opv + ((kk - 1) * dlv + 1) - want;
            if (total < 0)
                st = ox_nfail(c, QS_EUNSUPPORTED, "output_shape needs negative padding");
            else if (strcmp(ap, "SAME_UPPER") == 0)
                pads[i] = total / 2, pads[sp + i] = total - total / 2;
            else
                pads[i] = total - total / 2, pads[sp + i] = total / 2;
        }
        if (!st) {
            drop_attr(a, &na, "output_shape");
            drop_attr(a, &na, "auto_pad");
            set_attr(a, &na, attr_ints("pads", pads, 2 * sp));
        }
    }
    if (!st)
        st = ox_emit(c, op, c->in, c->n->n_in > 3 ? 3 : c->n->n_in, a, na);
    release_attrs(a, na);
    return st;
}

static QsStatus tr_pool(OxCtx *c, const OxOpRow *r)
{
    int op = r->op;
    Attr a[MAX_ATTRS];
    int na = copy_attrs(c, a, MAX_ATTRS, (const char *const[]){ "storage_order", NULL });
    QsStatus st = QS_OK;
    OxVal *x = ox_in(c, 0);
    if (op != OP_GLOBALAVGPOOL) {
        const OxAttr *k = ox_attr_get(c->n, "kernel_shape");
        int64_t kk[2] = { 1, 1 };
        for (int i = 0; k && k->type == OA_INTS && i < k->n && i < 2; i++)
            kk[i] = k->ints[i];
        st = resolve_auto_pad(c, a, &na, x->is_const ? &x->k->shape : &x->shape, kk);
    }
    if (!st)
        st = ox_emit(c, op, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

/* Clip: min and max inputs (opset >= 11) or attributes into attributes. */
static QsStatus tr_clip(OxCtx *c, const OxOpRow *r)
{
    Attr a[3];
    int na = 0;
    if (c->x->opset >= 11) {
        float v;
        QsStatus st;
        if (ox_in(c, 1)) {
            if ((st = ox_const_float(c, 1, "min", &v)))
                return st;
            a[na++] = attr_float("min", v);
        }
        if (ox_in(c, 2)) {
            if ((st = ox_const_float(c, 2, "max", &v))) {
                release_attrs(a, na);
                return st;
            }
            a[na++] = attr_float("max", v);
        }
    } else {
        na = copy_attrs(c, a, 3, NULL);
    }
    QsStatus st = ox_emit(c, OP_CLIP, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

/* Target shape of a Reshape of run-time x, its batch symbols resolved for qscope's Reshape:
 * a dim of the same form as x's dim at that axis is copied (0), and one other symbol is
 * the -1 the element count decides (B*heads, B*windows). With a batch declared as the
 * literal 1, a leading 1 is read as the batch too (docs/onnx.md). */
static QsStatus reshape_target(OxCtx *c, const OxVal *x, int64_t *s, int n)
{
    int free_at = -1;
    bool minus1 = false;
    for (int i = 0; i < n; i++) {
        minus1 |= s[i] == -1;
        if (!ox_is_sym(c->x, s[i]))
            continue;
        int64_t xd;
        QsStatus st = i < x->shape.ndim ? ox_sym_dim(c, x, i, &xd) : QS_OK;
        if (st)
            return st;
        if (i < x->shape.ndim && xd == s[i]) {
            s[i] = 0;
        } else if (free_at >= 0) {
            return ox_nfail(c, QS_EUNSUPPORTED, "dims %d and %d both depend on the batch size",
                            free_at, i);
        } else {
            free_at = i;
        }
    }
    if (free_at >= 0) {
        if (minus1)
            return ox_nfail(c, QS_EUNSUPPORTED, "dim %d depends on the batch size and another "
                            "is -1", free_at);
        s[free_at] = -1;
    }
    if (n > 0 && s[0] == 1 && c->x->batch_fixed1)
        s[0] = 0;
    return QS_OK;
}

static QsStatus tr_reshape(OxCtx *c, const OxOpRow *r)
{
    int64_t s[QS_MAX_DIMS];
    int n;
    QsStatus st = ox_const_ints(c, 1, "shape", s, QS_MAX_DIMS, &n);
    if (st)
        return st;
    OxVal *x = ox_in(c, 0);
    if (!x->is_const && (st = reshape_target(c, x, s, n)))
        return st;
    for (int i = 0; i < n; i++)
        if (ox_is_sym(c->x, s[i]))
            return ox_nfail(c, QS_EUNSUPPORTED, "a constant reshaped by the batch size");
    Attr a[2] = { attr_ints("shape", s, n), attr_int("allowzero",
                                                     ox_attr_int(c->n, "allowzero", 0)) };
    st = ox_emit(c, OP_RESHAPE, c->in, 1, a, 2);
    release_attrs(a, 2);
    return st;
}

/* Reduce ops: axes from the attribute (older opsets) or the second input. */
static QsStatus tr_reduce(OxCtx *c, const OxOpRow *r)
{
    int op = r->op, axes_input_opset = r->arg;
    Attr a[MAX_ATTRS];
    int na = copy_attrs(c, a, MAX_ATTRS, NULL);
    QsStatus st = QS_OK;
    if (c->x->opset >= axes_input_opset && ox_in(c, 1)) {
        int64_t ax[QS_MAX_DIMS];
        int n;
        if (!(st = ox_const_ints(c, 1, "axes", ax, QS_MAX_DIMS, &n)))
            set_attr(a, &na, attr_ints("axes", ax, n));
    }
    if (!st)
        st = ox_emit(c, op, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

/* Squeeze / Unsqueeze of a run-time value: a Reshape with the batch copied. */
static QsStatus tr_squeeze(OxCtx *c, const OxOpRow *row)
{
    bool unsq = row->arg != 0;
    OxVal *x = ox_in(c, 0);
    int64_t ax[QS_MAX_DIMS];
    int n = 0;
    QsStatus st;
    const OxAttr *aa = ox_attr_get(c->n, "axes");
    if (c->x->opset >= 13 && ox_in(c, 1)) {
        if ((st = ox_const_ints(c, 1, "axes", ax, QS_MAX_DIMS, &n)))
            return st;
    } else if (aa && aa->type == OA_INTS) {
        if (aa->n > QS_MAX_DIMS)
            return ox_nfail(c, QS_EUNSUPPORTED, "too many axes");
        n = aa->n;
        memcpy(ax, aa->ints, (size_t)n * sizeof *ax);
    }
    const Shape *xs = &x->shape;
    int r = xs->ndim, ro = unsq ? r + n : r;
    if (ro > QS_MAX_DIMS)
        return ox_nfail(c, QS_EUNSUPPORTED, "rank %d above %d", ro, QS_MAX_DIMS);
    bool mark[QS_MAX_DIMS] = { false };
    for (int i = 0; i < n; i++) {
        int64_t v = ax[i] < 0 ? ax[i] + ro : ax[i];
        if (v < 0 || v >= ro || mark[v])
            return ox_nfail(c, QS_EINVAL, "axis %lld out of range or repeated", (long long)ax[i]);
        if (v == 0)
            return ox_nfail(c, QS_EUNSUPPORTED, "axis 0 is the batch");
        if (!unsq && xs->dim[v] != 1)
            return ox_nfail(c, QS_EINVAL, "axis %lld has size %lld, not 1", (long long)v,
                            (long long)xs->dim[v]);
        mark[v] = true;
    }
    int64_t s[QS_MAX_DIMS];
    int k = 0;
    if (unsq) {
        for (int i = 0, j = 0; i < ro; i++)
            s[k++] = mark[i] ? 1 : xs->dim[j++];
    } else {
        for (int i = 0; i < r; i++)
            if (!(n ? mark[i] : (i > 0 && xs->dim[i] == 1)))
                s[k++] = xs->dim[i];
    }
    s[0] = 0;
    Attr a[1] = { attr_ints("shape", s, k) };
    st = ox_emit(c, OP_RESHAPE, c->in, 1, a, 1);
    release_attrs(a, 1);
    return st;
}

/* Pad: pads, constant_value and axes inputs (opset >= 11) or attributes. */
static QsStatus tr_pad(OxCtx *c, const OxOpRow *row)
{
    OxVal *x = ox_in(c, 0);
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    int r = xs->ndim;
    int64_t p[2 * QS_MAX_DIMS] = { 0 }, raw[2 * QS_MAX_DIMS];
    float value = 0.0f;
    int n = 0;
    QsStatus st;
    if (c->x->opset >= 11) {
        if ((st = ox_const_ints(c, 1, "pads", raw, 2 * QS_MAX_DIMS, &n)))
            return st;
        if (ox_in(c, 2) && (st = ox_const_float(c, 2, "constant_value", &value)))
            return st;
        if (ox_in(c, 3)) { /* opset 18 axes */
            int64_t ax[QS_MAX_DIMS];
            int na;
            if ((st = ox_const_ints(c, 3, "axes", ax, QS_MAX_DIMS, &na)))
                return st;
            if (n != 2 * na)
                return ox_nfail(c, QS_EFORMAT, "%d pads for %d axes", n, na);
            for (int i = 0; i < na; i++) {
                int64_t v = ax[i] < 0 ? ax[i] + r : ax[i];
                if (v < 0 || v >= r)
                    return ox_nfail(c, QS_EINVAL, "axis %lld out of range", (long long)ax[i]);
                p[v] = raw[i];
                p[r + v] = raw[na + i];
            }
            n = 2 * r;
        } else {
            memcpy(p, raw, (size_t)n * sizeof *p);
        }
    } else {
        const OxAttr *a = ox_attr_get(c->n, "pads");
        if (!a || a->type != OA_INTS || a->n > 2 * QS_MAX_DIMS)
            return ox_nfail(c, QS_EFORMAT, "pads attribute missing");
        n = a->n;
        memcpy(p, a->ints, (size_t)n * sizeof *p);
        const OxAttr *v = ox_attr_get(c->n, "value");
        if (v && v->type == OA_FLOAT)
            value = v->f;
    }
    if (n != 2 * r)
        return ox_nfail(c, QS_EFORMAT, "%d pads for rank %d", n, r);
    Attr a[3] = { attr_ints("pads", p, n), attr_str("mode", ox_attr_str(c->n, "mode", "constant")),
                  attr_float("value", value) };
    st = ox_emit(c, OP_PAD, c->in, 1, a, 3);
    release_attrs(a, 3);
    return st;
}

/* Resize (opset >= 11: X, roi, scales, sizes; opset 10 and Upsample: X, scales). */
static QsStatus tr_resize(OxCtx *c, const OxOpRow *row)
{
    bool upsample = row->arg != 0;
    OxVal *x = ox_in(c, 0);
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    int r = xs->ndim;
    Attr a[4];
    int na = 0;
    QsStatus st = QS_OK;
    int scales_in = upsample || c->x->opset < 11 ? 1 : 2, sizes_in = scales_in + 1;
    OxVal *sc = ox_in(c, scales_in), *sz = upsample || c->x->opset < 11 ? NULL : ox_in(c, sizes_in);
    if (sc && sc->is_const && k_numel(sc->k) == 0)
        sc = NULL; /* an empty scales input means "use sizes" */
    if (ox_attr_get(c->n, "axes"))
        return ox_nfail(c, QS_EUNSUPPORTED, "the axes attribute is not supported");
    if (ox_attr_get(c->n, "antialias") && ox_attr_int(c->n, "antialias", 0))
        return ox_nfail(c, QS_EUNSUPPORTED, "antialias is not supported");
    if (sz) {
        int64_t s[QS_MAX_DIMS];
        int n;
        if ((st = ox_const_ints(c, sizes_in, "sizes", s, QS_MAX_DIMS, &n)))
            return st;
        if (n != r)
            return ox_nfail(c, QS_EFORMAT, "%d sizes for rank %d", n, r);
        if (s[0] == OX_BATCH || (s[0] == 1 && !x->is_const))
            s[0] = 0;
        for (int i = 1; i < n; i++)
            if (ox_is_sym(c->x, s[i]))
                return ox_nfail(c, QS_EUNSUPPORTED, "sizes[%d] depends on the batch size", i);
        a[na++] = attr_ints("sizes", s, n);
    } else if (sc) {
        if (!sc->is_const)
            return ox_nfail(c, QS_EUNSUPPORTED, "scales must be a constant");
        if (k_numel(sc->k) != r)
            return ox_nfail(c, QS_EFORMAT, "%lld scales for rank %d", (long long)k_numel(sc->k), r);
        float f[QS_MAX_DIMS];
        for (int i = 0; i < r; i++)
            f[i] = sc->k->dtype == DT_F32 ? tensor_f32(sc->k)[i] : (float)k_i64(sc->k)[i];
        a[na++] = attr_floats("scales", f, r);
    } else {
        const OxAttr *s = ox_attr_get(c->n, "scales"); /* opset 7/8 Upsample attribute */
        if (!s || s->type != OA_FLOATS)
            return ox_nfail(c, QS_EFORMAT, "neither scales nor sizes is given");
        a[na++] = attr_floats("scales", s->floats ? s->floats : &s->f, s->n);
    }
    const char *mode = ox_attr_str(c->n, "mode", "nearest");
    a[na++] = attr_str("mode", mode);
    if (upsample || c->x->opset < 11) {
        a[na++] = attr_str("coordinate_transformation_mode", "asymmetric");
        a[na++] = attr_str("nearest_mode", "floor");
    } else {
        a[na++] = attr_str("coordinate_transformation_mode",
                           ox_attr_str(c->n, "coordinate_transformation_mode", "half_pixel"));
        a[na++] = attr_str("nearest_mode", ox_attr_str(c->n, "nearest_mode",
                                                       "round_prefer_floor"));
    }
    st = ox_emit(c, OP_RESIZE, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

/* Slice of a run-time value: starts, ends, axes, steps into attributes. An end equal to
 * the batch symbol (x[:n] with n = x.size(0)) means the whole axis. */
static QsStatus tr_slice(OxCtx *c, const OxOpRow *r)
{
    int64_t v[4][QS_MAX_DIMS];
    int n[4];
    static const char *const what[4] = { "starts", "ends", "axes", "steps" };
    const OxVal *x = ox_in(c, 0);
    Attr a[4];
    int na = 0;
    QsStatus st = QS_OK;
    for (int k = 0; k < 4 && !st; k++) {
        if (!ox_in(c, k + 1))
            continue;
        if ((st = ox_const_ints(c, k + 1, what[k], v[k], QS_MAX_DIMS, &n[k])))
            break;
        for (int i = 0; i < n[k] && !st; i++)
            if (ox_is_sym(c->x, v[k][i])) {
                /* an end equal to its axis' size is the whole axis; that axis is axes[i] */
                int64_t ax = k == 1 && ox_in(c, 3) ? INT64_MIN : i, dim;
                if (ax == INT64_MIN) {
                    int64_t axv[QS_MAX_DIMS];
                    int nax;
                    if (!ox_const_ints(c, 3, "axes", axv, QS_MAX_DIMS, &nax) && i < nax)
                        ax = axv[i] < 0 ? axv[i] + x->shape.ndim : axv[i];
                }
                if (k == 1 && ax >= 0 && ax < x->shape.ndim &&
                    !ox_sym_dim(c, x, (int)ax, &dim) && dim == v[k][i])
                    v[k][i] = INT64_MAX;
                else
                    st = ox_nfail(c, QS_EUNSUPPORTED, "%s holds the batch size", what[k]);
            }
        if (!st)
            a[na++] = attr_ints(what[k], v[k], n[k]);
    }
    if (!st)
        st = ox_emit(c, OP_SLICE, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

/* Gather of one constant index on a run-time value's non-batch axis (x[:, 0]): a Slice of
 * that element, then a Reshape without the axis. */
static QsStatus tr_gather(OxCtx *c, const OxOpRow *r)
{
    OxVal *x = ox_in(c, 0), *ix = ox_in(c, 1);
    int rank = x->shape.ndim;
    int64_t ax = ox_attr_int(c->n, "axis", 0), i;
    if (ax < 0)
        ax += rank;
    if (!ix || !ix->is_const || ix->k->shape.ndim != 0 || !k_get_int(ix->k, 0, &i))
        return ox_nfail(c, QS_EUNSUPPORTED, "only a scalar constant index is supported on a "
                        "value computed at run time");
    if (ax < 1 || ax >= rank)
        return ox_nfail(c, QS_EUNSUPPORTED, "axis %lld: only non-batch axes are supported",
                        (long long)ax);
    int64_t d = x->shape.dim[ax];
    if (i < -d || i >= d)
        return ox_nfail(c, QS_EINVAL, "index %lld out of range", (long long)i);
    if (i < 0)
        i += d;
    int64_t st[1] = { i }, en[1] = { i + 1 }, axv[1] = { ax }, shape[QS_MAX_DIMS];
    int k = 0;
    for (int a = 0; a < rank; a++)
        if (a != ax)
            shape[k++] = a == 0 ? 0 : x->shape.dim[a];
    Attr as[3] = { attr_ints("starts", st, 1), attr_ints("ends", en, 1), attr_ints("axes", axv, 1) };
    Attr ar[1] = { attr_ints("shape", shape, k) };
    char *sl = ox_unique_name(c, "slice");
    QsStatus s = ox_emit_as(c, OP_SLICE, &x, 1, as, 3, sl, sl);
    OxVal *mid = s ? NULL : ox_val(c->x, sl);
    if (!s)
        s = ox_emit(c, OP_RESHAPE, &mid, 1, ar, 1);
    release_attrs(as, 3);
    release_attrs(ar, 1);
    free(sl);
    return s;
}

/* Split: one Slice per output along a non-batch axis. The sizes come from the constant
 * `split` input (opset 13; an attribute before), or are equal parts of the axis. */
static QsStatus tr_split(OxCtx *c, const OxOpRow *r)
{
    OxVal *x = ox_in(c, 0);
    int n_out = c->n->n_out, n_sizes = n_out;
    int64_t sizes[OX_MAX_NODE_IO], ax = ox_attr_int(c->n, "axis", 0);
    if (x->is_const)
        return ox_nfail(c, QS_EUNSUPPORTED, "a Split of a constant");
    int rank = x->shape.ndim;
    if (ax < 0)
        ax += rank;
    if (ax < 1 || ax >= rank)
        return ox_nfail(c, QS_EUNSUPPORTED, "axis %lld: only non-batch axes are supported",
                        (long long)ox_attr_int(c->n, "axis", 0));
    int64_t d = x->shape.dim[ax];
    const OxAttr *sa = ox_attr_get(c->n, "split");
    if (ox_in(c, 1)) {
        QsStatus st = ox_const_ints(c, 1, "split", sizes, OX_MAX_NODE_IO, &n_sizes);
        if (st)
            return st;
    } else if (sa && sa->type == OA_INTS) {
        n_sizes = sa->n;
        for (int k = 0; k < n_sizes && k < OX_MAX_NODE_IO; k++)
            sizes[k] = sa->ints[k];
    } else {
        if (d % n_out)
            return ox_nfail(c, QS_EINVAL, "axis of size %lld does not split into %d equal "
                            "parts", (long long)d, n_out);
        for (int k = 0; k < n_out; k++)
            sizes[k] = d / n_out;
    }
    int64_t total = 0;
    for (int k = 0; k < n_sizes && k < n_out; k++) {
        if (sizes[k] < 0 || sizes[k] > d)
            return ox_nfail(c, QS_EINVAL, "split size %d (%lld) is outside 0 to the axis "
                            "size %lld", k, (long long)sizes[k], (long long)d);
        total += sizes[k];
    }
    if (n_sizes != n_out || total != d)
        return ox_nfail(c, QS_EINVAL, "%d split sizes summing to %lld for %d outputs of an "
                        "axis of size %lld", n_sizes, (long long)total, n_out, (long long)d);
    QsStatus st = QS_OK;
    int64_t start = 0;
    /* by its own name: a view read here was materialized under another (onnx_view.h) */
    const char *xname = x->name;
    for (int k = 0; k < n_out && !st; start += sizes[k], k++) {
        if (!c->n->out[k][0])
            continue;
        int64_t s0[1] = { start }, e0[1] = { start + sizes[k] }, a0[1] = { ax };
        Attr a[3] = { attr_ints("starts", s0, 1), attr_ints("ends", e0, 1),
                      attr_ints("axes", a0, 1) };
        char *layer = k ? ox_unique_name(c, "split") : xstrdup(c->name);
        st = ox_emit_as(c, OP_SLICE, &x, 1, a, 3, layer, c->n->out[k]);
        x = ox_val(c->x, xname); /* the value table may have moved */
        release_attrs(a, 3);
        free(layer);
    }
    return st;
}

/* Softmax and LogSoftmax: the opset-dependent default axis. */
static QsStatus tr_softmax(OxCtx *c, const OxOpRow *r)
{
    int op = r->op;
    OxVal *x = ox_in(c, 0);
    const Shape *xs = x->is_const ? &x->k->shape : &x->shape;
    int64_t axis = ox_attr_int(c->n, "axis", c->x->opset >= 13 ? -1 : 1);
    if (c->x->opset < 13) {
        /* Before opset 13 the input is flattened to 2-D at axis: the same as the opset-13
         * op only when axis is the last one. */
        int64_t ax = axis < 0 ? axis + xs->ndim : axis;
        if (ax != xs->ndim - 1)
            return ox_nfail(c, QS_EUNSUPPORTED, "opset %d flattens at axis %lld; only the "
                            "last axis is supported", c->x->opset, (long long)axis);
    }
    Attr a[1] = { attr_int("axis", axis) };
    QsStatus st = ox_emit(c, op, c->in, 1, a, 1);
    release_attrs(a, 1);
    return st;
}

/* Neg: Mul by a generated constant -1. */
static QsStatus tr_neg(OxCtx *c, const OxOpRow *r)
{
    Tensor *m1 = tensor_new(DT_F32, shape_make(0, NULL), c->err);
    if (!m1)
        return c->err->code;
    tensor_f32(m1)[0] = -1.0f;
    OxVal *k = ox_new_const(c, "neg", m1);
    if (!k)
        return c->err->code;
    OxVal *ins[2] = { ox_in(c, 0), k };
    return ox_emit(c, r->op, ins, 2, NULL, 0);
}

static QsStatus tr_batchnorm(OxCtx *c, const OxOpRow *r)
{
    if (ox_attr_int(c->n, "training_mode", 0))
        return ox_nfail(c, QS_EUNSUPPORTED, "training_mode=1 (export the model in eval mode)");
    return emit_plain(c, r->op, r->n_in);
}

static QsStatus tr_concat(OxCtx *c, const OxOpRow *r)
{
    for (int i = 0; i < c->n->n_in; i++)
        if (!c->in[i])
            return ox_nfail(c, QS_EFORMAT, "input %d is empty", i);
    return emit_plain(c, r->op, c->n->n_in);
}

/* Dropout: the data input and its ratio (the mask output is refused when read). */
static QsStatus tr_dropout(OxCtx *c, const OxOpRow *r)
{
    Attr a[1];
    int na = 0;
    const OxAttr *ratio = ox_attr_get(c->n, "ratio");
    if (ratio && ratio->type == OA_FLOAT)
        a[na++] = attr_float("ratio", ratio->f);
    QsStatus st = ox_emit(c, r->op, c->in, 1, a, na);
    release_attrs(a, na);
    return st;
}

static QsStatus tr_layernorm(OxCtx *c, const OxOpRow *r)
{
    Attr a[2] = { attr_int("axis", ox_attr_int(c->n, "axis", -1)),
                  attr_float("epsilon", 1e-5f) };
    const OxAttr *e = ox_attr_get(c->n, "epsilon");
    if (e && e->type == OA_FLOAT)
        a[1].f = e->f;
    QsStatus st = ox_emit(c, r->op, c->in, c->n->n_in > r->n_in ? r->n_in : c->n->n_in, a, 2);
    release_attrs(a, 2);
    return st;
}

/* Cast of a run-time value: qscope computes in float, so only casts to a float type are
 * taken (as an Identity), and casts of a value known to hold integers (TopK's indices) to
 * any type, which are exact. */
static QsStatus tr_cast(OxCtx *c, const OxOpRow *r)
{
    int to = (int)ox_attr_int(c->n, "to", 0);
    bool integral = c->in[0]->integral;
    if (!ox_is_float(to) && !integral)
        return ox_nfail(c, QS_EUNSUPPORTED, "a cast to %s at run time (qscope computes in "
                        "float)", ox_type_name(to));
    QsStatus st = ox_emit(c, r->op, c->in, 1, NULL, 0);
    OxVal *y = st ? NULL : ox_val(c->x, c->n->out[0]);
    if (y)
        y->integral = integral;
    return st;
}

/* ---- the table */

#define FOLD(mode, fn, arg_) .fold = OX_FOLD_##mode, .fold_fn = ox_fold_##fn, .arg = arg_
#define RUN(op_, n) .op = op_, .n_in = n
#define TRANSLATE(op_, fn) .op = op_, .translate = tr_##fn

const OxOpRow ox_op_rows[] = {
    { "Conv", TRANSLATE(OP_CONV, conv) },
    { "ConvTranspose", TRANSLATE(OP_CONVTRANSPOSE, conv) },
    { "Gemm", RUN(OP_GEMM, 3) },
    { "MatMul", RUN(OP_MATMUL, 2) },
    { "BatchNormalization", TRANSLATE(OP_BATCHNORM, batchnorm), .n_in = 5 },
    { "Relu", RUN(OP_RELU, 1) },
    { "Clip", TRANSLATE(OP_CLIP, clip) },
    { "LeakyRelu", RUN(OP_LEAKYRELU, 1) },
    { "Sigmoid", RUN(OP_SIGMOID, 1) },
    { "HardSigmoid", RUN(OP_HARDSIGMOID, 1) },
    { "Tanh", RUN(OP_TANH, 1) },
    { "HardSwish", RUN(OP_HARDSWISH, 1) },
    { "Erf", RUN(OP_ERF, 1) },
    { "Softmax", TRANSLATE(OP_SOFTMAX, softmax) },
    { "LogSoftmax", TRANSLATE(OP_LOGSOFTMAX, softmax) },
    { "MaxPool", TRANSLATE(OP_MAXPOOL, pool) },
    { "AveragePool", TRANSLATE(OP_AVGPOOL, pool) },
    { "GlobalAveragePool", TRANSLATE(OP_GLOBALAVGPOOL, pool) },
    { "ReduceMean", TRANSLATE(OP_REDUCEMEAN, reduce), .arg = 18 },
    { "ReduceSum", TRANSLATE(OP_REDUCESUM, reduce), .arg = 13 },
    { "ReduceMax", TRANSLATE(OP_REDUCEMAX, reduce), .arg = 18 },
    { "Pad", TRANSLATE(OP_PAD, pad) },
    { "Resize", TRANSLATE(OP_RESIZE, resize), .arg = 0 },
    { "Upsample", TRANSLATE(OP_RESIZE, resize), .arg = 1 },
    { "LayerNormalization", TRANSLATE(OP_LAYERNORM, layernorm), .n_in = 3 },
    { "Flatten", FOLD(PREFER, flatten, 0), RUN(OP_FLATTEN, 1) },
    { "Reshape", FOLD(PREFER, reshape, 0), TRANSLATE(OP_RESHAPE, reshape) },
    { "Transpose", FOLD(PREFER, transpose, 0), RUN(OP_TRANSPOSE, 1) },
    { "Add", FOLD(PREFER, binary, KB_ADD), RUN(OP_ADD, 2) },
    { "Sub", FOLD(PREFER, binary, KB_SUB), RUN(OP_SUB, 2) },
    { "Mul", FOLD(PREFER, binary, KB_MUL), RUN(OP_MUL, 2) },
    { "Div", FOLD(PREFER, binary, KB_DIV), RUN(OP_DIV, 2) },
    { "Pow", FOLD(PREFER, binary, KB_POW), RUN(OP_POW, 2) },
    { "Mod", FOLD(PREFER, binary, KB_MOD), RUN(OP_MOD, 2) },
    { "Sqrt", FOLD(PREFER, unary, KU_SQRT), RUN(OP_SQRT, 1) },
    { "Neg", FOLD(PREFER, unary, KU_NEG), TRANSLATE(OP_MUL, neg) },
    { "Identity", FOLD(PREFER, unary, KU_IDENTITY), RUN(OP_IDENTITY, 1) },
    { "Dropout", FOLD(PREFER, unary, KU_IDENTITY), TRANSLATE(OP_DROPOUT, dropout) },
    { "Concat", FOLD(PREFER, concat, 0), TRANSLATE(OP_CONCAT, concat) },
    { "Squeeze", FOLD(PREFER, squeeze, 0), TRANSLATE(OP_RESHAPE, squeeze) },
    { "Unsqueeze", FOLD(PREFER, squeeze, 1), TRANSLATE(OP_RESHAPE, squeeze) },
    { "Slice", FOLD(PREFER, slice, 0), TRANSLATE(OP_SLICE, slice) },
    { "Split", TRANSLATE(OP_SLICE, split), .all_outputs = true },
    { "TopK", .op = OP_TOPK, .translate = ox_tr_topk, .all_outputs = true },
    { "GatherElements", RUN(OP_GATHERELEMENTS, 2) },
    { "Einsum", .op = OP_MATMUL, .translate = ox_tr_einsum },
    { "Cast", FOLD(PREFER, cast, 0), TRANSLATE(OP_IDENTITY, cast) },
    { "Constant", FOLD(SOURCE, constant, 0), .op = -1 },
    { "Shape", FOLD(SHAPE, shape, 0), .op = -1 },
    { "Gather", FOLD(PREFER, gather, 0), .op = -1, .translate = tr_gather },
    { "Equal", FOLD(ONLY, binary, KB_EQUAL), .op = -1 },
    { "Where", FOLD(ONLY, where, 0), .op = -1 },
    { "ConstantOfShape", FOLD(ONLY, constant_of_shape, 0), .op = -1 },
    { "Range", FOLD(ONLY, range, 0), .op = -1 },
    { "Expand", FOLD(ONLY, expand, 0), .op = -1 },
    { "Not", FOLD(ONLY, unary, KU_NOT), .op = -1 },
    { "ScatterND", FOLD(ONLY, scatter_nd, 0), .op = -1 },
};

const int ox_n_op_rows = (int)(sizeof ox_op_rows / sizeof ox_op_rows[0]);

const OxOpRow *ox_op_find(const OxNode *n)
{
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return NULL;
    for (int i = 0; i < ox_n_op_rows; i++)
        if (strcmp(ox_op_rows[i].name, n->op) == 0)
            return &ox_op_rows[i];
    return NULL;
}

/* A run-time node (at least one input computed at run time), or an op without a constant
 * evaluator on constants (ox_emit folds it through qscope's op). */
static QsStatus op_runtime(OxCtx *c, const OxOpRow *r, const bool *used)
{
    QsStatus st = r->all_outputs ? QS_OK : ox_only_first_output(c, used);
    if (st)
        return st;
    if (!ox_in(c, 0))
        return ox_nfail(c, QS_EFORMAT, "the first input is missing");
    if (r->translate)
        return r->translate(c, r);
    if (r->op >= 0)
        return emit_plain(c, r->op, r->n_in);
    return ox_nfail(c, QS_EUNSUPPORTED, "only constant inputs are supported (an input is "
                    "computed at run time)");
}

QsStatus ox_op_import(OxCtx *c, const OxOpRow *r, bool all_const, const bool *used)
{
    c->used = used;
    bool fold = r->fold == OX_FOLD_SHAPE || r->fold == OX_FOLD_SOURCE ||
                ((r->fold == OX_FOLD_ONLY || r->fold == OX_FOLD_PREFER) && all_const);
    if (r->fold == OX_FOLD_ONLY && !all_const)
        return ox_nfail(c, QS_EUNSUPPORTED, "only constant inputs are supported (an input "
                        "is computed at run time)");
    if (!fold)
        return op_runtime(c, r, used);
    if (r->fold != OX_FOLD_SOURCE && !ox_in(c, 0))
        return ox_nfail(c, QS_EFORMAT, "the first input is missing");
    return r->fold_fn(c, r->arg);
}
