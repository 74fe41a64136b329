/* The importer's values (onnx_values.h): the table of ONNX values by name, constant
 * inputs and outputs of the node being imported, and emitting qscope nodes. */
#include "onnx/onnx_values.h"
#include "onnx/onnx_sym.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/namemap.h"
#include "ops/op.h"

int ox_find(const Ox *x, const char *name)
{
    if (!x->table_size)
        return -1;
    for (uint64_t i = namemap_hash(name) & (uint64_t)(x->table_size - 1);;
         i = (i + 1) & (uint64_t)(x->table_size - 1)) {
        int k = x->table[i];
        if (k < 0)
            return -1;
        if (strcmp(x->vals[k].name, name) == 0)
            return k;
    }
}

static void ox_rehash(Ox *x, int size)
{
    free(x->table);
    x->table = xmalloc((size_t)size * sizeof *x->table);
    x->table_size = size;
    for (int i = 0; i < size; i++)
        x->table[i] = -1;
    for (int k = 0; k < x->n_vals; k++) {
        uint64_t i = namemap_hash(x->vals[k].name) & (uint64_t)(size - 1);
        while (x->table[i] >= 0)
            i = (i + 1) & (uint64_t)(size - 1);
        x->table[i] = k;
    }
}

/* Defines a new value; fails when the name is taken (ONNX values are assigned once). */
QsStatus ox_define(Ox *x, const char *name, OxVal **out, QsError *err)
{
    if (!name || !name[0])
        return qs_fail(err, QS_EFORMAT, "a value has an empty name");
    if (ox_find(x, name) >= 0)
        return qs_fail(err, QS_EFORMAT, "value '%s' is defined twice", name);
    OX_GROW(x->vals, x->n_vals, x->cap_vals);
    OxVal *v = &x->vals[x->n_vals++];
    memset(v, 0, sizeof *v);
    v->name = name;
    if (2 * x->n_vals > x->table_size)
        ox_rehash(x, x->table_size ? 2 * x->table_size : 64);
    else {
        uint64_t i = namemap_hash(name) & (uint64_t)(x->table_size - 1);
        while (x->table[i] >= 0)
            i = (i + 1) & (uint64_t)(x->table_size - 1);
        x->table[i] = x->n_vals - 1;
    }
    *out = v;
    return QS_OK;
}

OxVal *ox_val(Ox *x, const char *name)
{
    int k = name && name[0] ? ox_find(x, name) : -1;
    return k < 0 ? NULL : &x->vals[k];
}

const char *ox_node_name(const OxNode *n) { return n->name && n->name[0] ? n->name : "?"; }

void ox_values_release(Ox *x)
{
    for (int i = 0; i < x->n_vals; i++) {
        tensor_free(x->vals[i].k);
        free(x->vals[i].qname);
    }
    free(x->vals);
    free(x->table);
    ox_sym_release(x);
}

/* Element i as int64 (floats must be integral); false otherwise. */
bool k_get_int(const Tensor *t, int64_t i, int64_t *out)
{
    if (t->dtype == DT_I64) {
        *out = k_i64(t)[i];
        return true;
    }
    float f = tensor_f32(t)[i];
    if (!(f == floorf(f)) || fabsf(f) > 9.0e15f)
        return false;
    *out = (int64_t)f;
    return true;
}

Tensor *k_to_f32(const Tensor *t, QsError *err)
{
    /* a batch symbol has no float value: B is known at run time only */
    for (int64_t i = 0; t->dtype == DT_I64 && i < k_numel(t); i++)
        if (k_i64(t)[i] == OX_BATCH ||
            (k_i64(t)[i] >= OX_SYM_BASE &&
             (uint64_t)k_i64(t)[i] - (uint64_t)OX_SYM_BASE < (1u << 20))) {
            qs_fail(err, QS_EUNSUPPORTED, "the batch size in float arithmetic (qscope keeps "
                    "the batch dynamic; export with a fixed batch of 1 to fold it)");
            return NULL;
        }
    Tensor *o = tensor_new(DT_F32, t->shape, err);
    if (!o)
        return NULL;
    for (int64_t i = 0; i < k_numel(t); i++)
        tensor_f32(o)[i] = t->dtype == DT_F32 ? tensor_f32(t)[i] : (float)k_i64(t)[i];
    return o;
}

Tensor *ox_alloc_const(const OxCtx *c, DType dtype, Shape shape)
{
    char what[300];
    snprintf(what, sizeof what, "%s '%s'", c->n->op, ox_node_name(c->n));
    size_t bytes;
    if (shape_checked_bytes(&shape, dtype_size(dtype), &bytes, what, c->err) ||
        budget_charge(&c->x->budget, (int64_t)bytes, 1, what, c->err))
        return NULL;
    return tensor_new(dtype, shape, c->err);
}

QsStatus ox_nfail(const OxCtx *c, QsStatus code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qs_fail(c->err, code, "%s '%s': %s", c->n->op, ox_node_name(c->n), msg);
}

QsStatus ox_const_ints(const OxCtx *c, int k, const char *what, int64_t *out, int max,
                           int *count)
{
    OxVal *v = ox_in(c, k);
    if (!v)
        return ox_nfail(c, QS_EFORMAT, "input %d (%s) is missing", k, what);
    if (!v->is_const)
        return ox_nfail(c, QS_EUNSUPPORTED, "%s ('%s') must be a constant (it is computed at "
                        "run time)", what, v->name);
    int64_t n = k_numel(v->k);
    if (n > max)
        return ox_nfail(c, QS_EUNSUPPORTED, "%s has %lld values (at most %d)", what,
                        (long long)n, max);
    for (int64_t i = 0; i < n; i++)
        if (!k_get_int(v->k, i, &out[i]))
            return ox_nfail(c, QS_EFORMAT, "%s[%lld] is not an integer", what, (long long)i);
    *count = (int)n;
    return QS_OK;
}

QsStatus ox_const_float(const OxCtx *c, int k, const char *what, float *out)
{
    OxVal *v = ox_in(c, k);
    if (!v->is_const)
        return ox_nfail(c, QS_EUNSUPPORTED, "%s ('%s') must be a constant", what, v->name);
    if (k_numel(v->k) != 1)
        return ox_nfail(c, QS_EFORMAT, "%s must have one value, not %lld", what,
                        (long long)k_numel(v->k));
    *out = v->k->dtype == DT_F32 ? tensor_f32(v->k)[0] : (float)k_i64(v->k)[0];
    return QS_OK;
}

/* Sets the node's single output to the constant t (takes ownership). */
QsStatus ox_out_const(OxCtx *c, int k, Tensor *t)
{
    if (!t)
        return c->err->code;
    OxVal *v;
    if (k >= c->n->n_out || !c->n->out[k][0]) {
        tensor_free(t);
        return QS_OK;
    }
    if (ox_define(c->x, c->n->out[k], &v, c->err)) {
        tensor_free(t);
        return c->err->code;
    }
    v->is_const = true;
    v->k = t;
    return QS_OK;
}

/* Extra outputs (MaxPool's Indices, Dropout's mask) must not be read by anyone. */
QsStatus ox_only_first_output(OxCtx *c, const bool *used)
{
    for (int k = 1; k < c->n->n_out; k++)
        if (c->n->out[k][0] && used[k])
            return ox_nfail(c, QS_EUNSUPPORTED, "output %d ('%s') is used, qscope computes only "
                            "the first output", k, c->n->out[k]);
    return QS_OK;
}

/* Makes sure constant v exists in the qscope graph (f32); returns its name there. */
static const char *ensure_const(OxCtx *c, OxVal *v, bool param)
{
    if (v->in_graph)
        return v->qname;
    Tensor *t;
    if (v->k->dtype == DT_F32 && !v->k->owns_data) { /* external data: a view of its mapping */
        t = xmalloc(sizeof *t);
        *t = tensor_view(DT_F32, v->k->shape, v->k->data);
    } else {
        t = v->k->dtype == DT_F32 ? tensor_clone(v->k, c->err) : k_to_f32(v->k, c->err);
    }
    if (!t)
        return NULL;
    if (graph_add_const(c->x->g, v->name, t, param && v->from_init && v->k->dtype == DT_F32,
                        c->err))
        return NULL;
    v->in_graph = true;
    if (!v->qname) /* generated constants already own their name as qname */
        v->qname = xstrdup(v->name);
    return v->qname;
}

/* A generated constant value (e.g. -1 for Neg): defined under a unique name. */
char *ox_unique_name(OxCtx *c, const char *suffix)
{
    /* Sized from the layer name: a truncated name could end inside a UTF-8 sequence, and
     * two long names cut to one prefix would never become unique. */
    size_t cap = strlen(c->name) + strlen(suffix) + 16;
    char *owned = xmalloc(cap);
    do
        snprintf(owned, cap, "%s.%s%d", c->name, suffix, c->x->uniq++);
    while (ox_val(c->x, owned) || graph_find_value(c->x->g, owned) >= 0 ||
           graph_find_node(c->x->g, owned) >= 0);
    return owned;
}

OxVal *ox_new_const(OxCtx *c, const char *suffix, Tensor *t)
{
    char *owned = ox_unique_name(c, suffix);
    OxVal *v;
    /* The name must outlive the call: keep it in the value as its qname too. */
    if (ox_define(c->x, owned, &v, c->err)) {
        free(owned);
        tensor_free(t);
        return NULL;
    }
    v->is_const = true;
    v->k = t;
    v->qname = owned; /* freed with the value; name aliases it */
    /* Defining a value may move the table: point the node's inputs at their new place. */
    for (int j = 0; j < c->n->n_in; j++)
        c->in[j] = ox_val(c->x, c->n->in[j]);
    return v;
}

/* Runs node tmp on constant inputs ins (shapes: theirs, os: the output's) through qscope's
 * op; the output becomes a constant. */
static QsStatus emit_folded(OxCtx *c, const Node *tmp, OxVal *const *ins,
                            const Shape *const *shapes, const Shape *os)
{
    Tensor *cin[OX_MAX_NODE_IO];
    QsStatus st = QS_OK;
    for (int i = 0; i < tmp->n_in; i++)
        cin[i] = NULL;
    for (int i = 0; i < tmp->n_in && !st; i++)
        if (ins[i]) {
            cin[i] = ins[i]->k->dtype == DT_F32 ? tensor_clone(ins[i]->k, c->err)
                                                : k_to_f32(ins[i]->k, c->err);
            if (!cin[i])
                st = c->err->code;
        }
    Tensor *o = st ? NULL : ox_alloc_const(c, DT_F32, *os);
    size_t sb = op_table[tmp->op]->scratch ? op_table[tmp->op]->scratch(tmp, shapes, os) : 0;
    void *scratch = NULL;
    if (o && posix_memalign(&scratch, 64, sb ? sb : 64)) {
        st = qs_fail(c->err, QS_ENOMEM, "cannot allocate %zu bytes of scratch", sb);
        scratch = NULL;
    }
    if (o && !st) {
        RunCtx rc = { .scratch = scratch, .scratch_bytes = sb };
        op_table[tmp->op]->forward(tmp, (const Tensor *const *)cin, o, &rc);
    }
    free(scratch);
    for (int i = 0; i < tmp->n_in; i++)
        tensor_free(cin[i]);
    if (st || !o) {
        tensor_free(o);
        return st ? st : c->err->code;
    }
    return ox_out_const(c, 0, o);
}

QsStatus ox_emit(OxCtx *c, int op, OxVal *const *ins, int n_in, const Attr *attrs,
                 int n_attrs)
{
    return ox_emit_as(c, op, ins, n_in, attrs, n_attrs, c->name, c->n->out[0]);
}

QsStatus ox_emit_as(OxCtx *c, int op, OxVal *const *ins, int n_in, const Attr *attrs,
                    int n_attrs, const char *layer, const char *out)
{
    Ox *x = c->x;
    bool all_const = true;
    const Shape *shapes[OX_MAX_NODE_IO], *shapes2[OX_MAX_NODE_IO];
    for (int i = 0; i < n_in; i++) {
        shapes[i] = ins[i] ? (ins[i]->is_const ? &ins[i]->k->shape : &ins[i]->shape) : NULL;
        shapes2[i] = ins[i] && !ins[i]->is_const ? &ins[i]->shape2 : shapes[i];
        if (ins[i] && !ins[i]->is_const)
            all_const = false;
    }
    Node tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.op = op;
    tmp.name = (char *)layer;
    tmp.n_in = n_in;
    tmp.n_attrs = n_attrs;
    tmp.attrs = (Attr *)attrs;
    Shape os;
    if (n_in < op_table[op]->min_in || n_in > op_table[op]->max_in)
        return ox_nfail(c, QS_EFORMAT, "%d inputs, expected %d to %d", n_in,
                        op_table[op]->min_in, op_table[op]->max_in);
    for (int i = 0; i < op_table[op]->min_in; i++)
        if (!ins[i])
            return ox_nfail(c, QS_EFORMAT, "required input %d is missing", i);
    /* parsed once here, so that infer and a folding forward read tmp's params instead of
     * parsing the attributes again on every call (op_params) */
    if (op_parse(&tmp, &tmp.params, c->err))
        return c->err->code;
    tmp.parsed = true;
    if (op_infer(&tmp, shapes, &os, c->err))
        return c->err->code;
    if (all_const)
        return emit_folded(c, &tmp, ins, shapes, &os);
    /* the shape at batch 2 too: Shape of the output reads which dims grow with the batch */
    Shape os2;
    if (op_infer(&tmp, shapes2, &os2, c->err))
        return c->err->code;
    const char *names[OX_MAX_NODE_IO];
    for (int i = 0; i < n_in; i++) {
        names[i] = "";
        if (!ins[i])
            continue;
        if (ins[i]->is_const) {
            /* BatchNormalization's running statistics are not trained. */
            bool param = !(op == OP_BATCHNORM && i >= 3);
            names[i] = ensure_const(c, ins[i], param);
            if (!names[i])
                return c->err->code;
        } else {
            names[i] = ins[i]->qname;
        }
    }
    if (graph_add_node(x->g, op, layer, names, n_in, out, attrs, n_attrs, c->err))
        return c->err->code;
    OxVal *v;
    if (ox_define(x, out, &v, c->err))
        return c->err->code;
    v->shape = os;
    v->shape2 = os2;
    v->in_graph = true;
    v->qname = xstrdup(out);
    v->name = v->qname; /* out may be a caller's temporary (ox_unique_name) */
    return QS_OK;
}
