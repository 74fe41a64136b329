/* The writing primitives of ONNX export (onnx_export_write.h). */
#include "onnx/onnx_export_write.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qexec/qexec_view.h"

const char *ex_str(Ex *x, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (x->n_pool == x->cap_pool) {
        x->cap_pool = x->cap_pool ? 2 * x->cap_pool : 64;
        x->pool = xrealloc(x->pool, (size_t)x->cap_pool * sizeof *x->pool);
    }
    return x->pool[x->n_pool++] = xstrdup(buf);
}

QsStatus ex_fail(Ex *x, QsStatus code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    QsStatus st = qs_vfail_first(&x->st, x->err, code, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- attributes (each an AttributeProto appended to a node's attribute list) */

static void at_begin(PbWriter *a, const char *name, int type)
{
    pb_writer_init(a);
    pb_put_string(a, 1, name);
    pb_put_varint(a, 20, (uint64_t)type);
}

void at_int(PbWriter *list, const char *name, int64_t v)
{
    PbWriter a;
    at_begin(&a, name, 2);
    pb_put_int64(&a, 3, v);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

void at_float(PbWriter *list, const char *name, float v)
{
    PbWriter a;
    at_begin(&a, name, 1);
    pb_put_float(&a, 2, v);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

void at_str(PbWriter *list, const char *name, const char *v)
{
    PbWriter a;
    at_begin(&a, name, 3);
    pb_put_string(&a, 4, v);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

void at_ints(PbWriter *list, const char *name, const int64_t *v, int n)
{
    PbWriter a;
    at_begin(&a, name, 7);
    pb_put_packed_int64(&a, 8, v, n);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

void at_floats(PbWriter *list, const char *name, const float *v, int n)
{
    PbWriter a;
    at_begin(&a, name, 6);
    pb_put_packed_float(&a, 7, v, n);
    pb_put_message(list, 5, &a);
    pb_writer_release(&a);
}

/* Copies node attributes, except those named in skip (NULL-terminated). */
void at_copy(PbWriter *list, const Node *n, const char *const *skip)
{
    for (int i = 0; i < n->n_attrs; i++) {
        const Attr *a = &n->attrs[i];
        bool skipped = false;
        for (int k = 0; skip && skip[k]; k++)
            skipped |= strcmp(skip[k], a->name) == 0;
        if (skipped)
            continue;
        switch (a->type) {
        case ATTR_INT: at_int(list, a->name, a->i); break;
        case ATTR_FLOAT: at_float(list, a->name, a->f); break;
        case ATTR_INTS: at_ints(list, a->name, a->ints, a->n); break;
        case ATTR_FLOATS: at_floats(list, a->name, a->floats, a->n); break;
        case ATTR_STRING: at_str(list, a->name, a->s); break;
        }
    }
}

/* ---- nodes and initializers */

void ex_node(Ex *x, const char *op, const char *name, const char *const *in, int n_in,
             const char *out, const PbWriter *attrs)
{
    ex_node_outs(x, op, name, in, n_in, &out, 1, attrs);
}

void ex_node_outs(Ex *x, const char *op, const char *name, const char *const *in, int n_in,
                  const char *const *out, int n_out, const PbWriter *attrs)
{
    PbWriter n;
    pb_writer_init(&n);
    for (int i = 0; i < n_in; i++)
        pb_put_string(&n, 1, in[i] ? in[i] : "");
    for (int i = 0; i < n_out; i++)
        pb_put_string(&n, 2, out[i]);
    pb_put_string(&n, 3, name);
    pb_put_string(&n, 4, op);
    if (attrs && attrs->len) /* a list of field-5 AttributeProto messages */
        pb_put_raw(&n, attrs->buf, attrs->len);
    if (attrs && attrs->oom)
        n.oom = true;
    pb_put_message(&x->graph, 1, &n);
    pb_writer_release(&n);
}

void ex_init(Ex *x, const char *name, int type, const int64_t *dims, int nd,
             const void *data, size_t bytes)
{
    PbWriter t;
    pb_writer_init(&t);
    pb_put_packed_int64(&t, 1, dims, nd);
    pb_put_varint(&t, 2, (uint64_t)type);
    pb_put_string(&t, 8, name);
    pb_put_bytes(&t, 9, data, bytes);
    pb_put_message(&x->graph, 5, &t);
    pb_writer_release(&t);
}

const char *ex_const_f32(Ex *x, const char *name, const int64_t *dims, int nd,
                         const float *v, int64_t n)
{
    ex_init(x, name, T_FLOAT, dims, nd, v, (size_t)n * sizeof(float));
    return name;
}

const char *ex_const_i64(Ex *x, const char *name, const int64_t *v, int n)
{
    int64_t d = n;
    ex_init(x, name, T_INT64, &d, 1, v, (size_t)n * sizeof(int64_t));
    return name;
}

const char *ex_scalar_f32(Ex *x, const char *name, float v)
{
    ex_init(x, name, T_FLOAT, NULL, 0, &v, sizeof v);
    return name;
}

void ex_cast(Ex *x, const char *name, const char *in, const char *out, int to)
{
    PbWriter a;
    pb_writer_init(&a);
    at_int(&a, "to", to);
    ex_node(x, "Cast", name, &in, 1, out, &a);
    pb_writer_release(&a);
}

/* ---- value names */

const char *vname(const Ex *x, int v) { return x->g->values[v].name; }

/* The name a value's producer writes. */
const char *prod_name(Ex *x, int v)
{
    if (x->base[v] != BASE_PLAIN && x->is_output[v])
        return ex_str(x, "%s::pre", vname(x, v));
    return vname(x, v);
}

const char *qdq_name(Ex *x, int v)
{
    if (x->base[v] == BASE_QDQ && x->is_output[v])
        return vname(x, v);
    return ex_str(x, "%s::dq", vname(x, v));
}

const char *half_name(Ex *x, int v)
{
    if (x->base[v] == BASE_HALF && x->is_output[v])
        return vname(x, v);
    return ex_str(x, "%s::as_half", vname(x, v));
}

const char *base_name(Ex *x, int v)
{
    switch (x->base[v]) {
    case BASE_QDQ: return qdq_name(x, v);
    case BASE_HALF: return half_name(x, v);
    default: return vname(x, v);
    }
}

/* A graph constant as a float initializer (written once); `h` gives half-rounded data
 * instead of the graph's (fp16 nodes), under another name. */
static const char *const_name(Ex *x, int v, const Tensor *h)
{
    const Tensor *t = h ? h : x->g->values[v].data;
    const char *name = h ? ex_str(x, "%s::h", vname(x, v)) : vname(x, v);
    if (!h && x->init_done[v])
        return name;
    if (t->dtype != DT_F32) {
        ex_fail(x, QS_EUNSUPPORTED, "constant '%s' is %s; export writes float constants",
                vname(x, v), dtype_name(t->dtype));
        return name;
    }
    ex_const_f32(x, name, t->shape.dim, t->shape.ndim, tensor_f32(t), tensor_numel(t));
    if (!h)
        x->init_done[v] = true;
    return name;
}

const char *in_name(Ex *x, int ni, int i, bool half_consts)
{
    int v = x->g->nodes[ni].in[i];
    if (v < 0)
        return "";
    if (x->g->values[v].kind == VAL_CONST) {
        const Tensor *h = half_consts && x->q ? qmodel_half_const(x->q, v) : NULL;
        return const_name(x, v, h);
    }
    switch (x->reads ? x->reads[ni] : QREP_FLOAT) {
    case QREP_INT8: return qdq_name(x, v);
    case QREP_HALF: return half_name(x, v);
    default: return base_name(x, v);
    }
}
