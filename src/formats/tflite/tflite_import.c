/* TFLite import: the walk over the verified file, tensor forms, constants and nodes
 * (tflite_import_int.h); the operators are rows of tflite_import_ops.c. */
#include "tflite/tflite_import.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "io/fileio.h"
#include "ops/op.h"
#include "tflite/tflite_import_int.h"

QsStatus ti_fail(Ti *x, QsStatus code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    QsStatus st = qs_vfail_first(&x->st, x->err, code, fmt, ap);
    va_end(ap);
    return st;
}

static void ti_note_qparams_as(Ti *x, int t, const char *value);

/* ---- forms ------------------------------------------------------------------------------ */

bool ti_is_const(const Ti *x, int t)
{
    return x->s->tensors[t].data_len > 0 || x->const_src[t] >= 0;
}

bool ti_flat(const Ti *x, int t, int lay)
{
    const TflSumTensor *s = &x->s->tensors[t];
    return x->one_d && lay == TI_CLAST && s->nd == 4 && s->dim[1] == 1;
}

int ti_gaxis(const Ti *x, int t, int lay, int a)
{
    static const int to_graph[4] = { 0, 2, 3, 1 }, to_flat[4] = { 0, -1, 2, 1 };
    if (lay != TI_CLAST || x->s->tensors[t].nd != 4)
        return a;
    return ti_flat(x, t, lay) ? to_flat[a] : to_graph[a];
}

int ti_dims(const Ti *x, int t, int lay, int64_t *d)
{
    const TflSumTensor *s = &x->s->tensors[t];
    for (int i = 0; i < s->nd; i++)
        d[i] = s->dim[i];
    if (ti_flat(x, t, lay)) {
        d[1] = s->dim[3];
        d[2] = s->dim[2];
        return 3;
    }
    if (lay == TI_CLAST && s->nd == 4) {
        d[1] = s->dim[3];
        d[2] = s->dim[1];
        d[3] = s->dim[2];
    }
    return s->nd;
}

/* A value name not yet in the graph: base, else base#2, base#3... */
static char *ti_unique(Ti *x, const char *base)
{
    char buf[320];
    snprintf(buf, sizeof buf, "%s", *base ? base : "t");
    for (int k = 2; graph_find_value(x->g, buf) >= 0 || graph_find_node(x->g, buf) >= 0; k++)
        snprintf(buf, sizeof buf, "%.300s#%d", *base ? base : "t", k);
    return xstrdup(buf);
}

const char *ti_define(Ti *x, int t, int lay)
{
    free(x->name[t]);
    x->name[t] = ti_unique(x, x->s->tensors[t].name);
    x->form[t] = (uint8_t)lay;
    return x->name[t];
}

void ti_alias(Ti *x, int t, int src)
{
    free(x->name[t]);
    x->name[t] = x->name[src] ? xstrdup(x->name[src]) : NULL;
    x->form[t] = x->form[src];
    x->view_src[t] = x->view_src[src];
    free(x->other[t]);
    x->other[t] = x->other[src] ? xstrdup(x->other[src]) : NULL;
    x->const_src[t] = x->const_src[src] >= 0 ? x->const_src[src]
                      : x->s->tensors[src].data_len ? src : -1;
}

/* ti_value's other form of a 1-D channels-last tensor: graph (N, C, W) -> file order
 * (N, 1, W, C) by a Transpose and a Reshape, or back by a Reshape and a Transpose. */
static const char *ti_value_flat(Ti *x, int t, int lay)
{
    const int32_t *fd = x->s->tensors[t].dim;
    static const int64_t swap[3] = { 0, 2, 1 };
    char base[320];
    const char *v = x->name[t];
    if (lay == TI_PLAIN) {
        Attr a = attr_ints("perm", swap, 3);
        snprintf(base, sizeof base, "%.300s::nwc", x->name[t]);
        v = ti_node_tmp(x, OP_TRANSPOSE, base, &v, 1, &a, 1);
        Attr r = attr_ints("shape", (int64_t[]){ 0, 1, fd[2], fd[3] }, 4);
        snprintf(base, sizeof base, "%.300s::nhwc", x->name[t]);
        v = v ? ti_node_tmp(x, OP_RESHAPE, base, &v, 1, &r, 1) : NULL;
    } else {
        Attr r = attr_ints("shape", (int64_t[]){ 0, fd[2], fd[3] }, 3);
        snprintf(base, sizeof base, "%.300s::nwc", x->name[t]);
        v = ti_node_tmp(x, OP_RESHAPE, base, &v, 1, &r, 1);
        Attr a = attr_ints("perm", swap, 3);
        snprintf(base, sizeof base, "%.300s::ncw", x->name[t]);
        v = v ? ti_node_tmp(x, OP_TRANSPOSE, base, &v, 1, &a, 1) : NULL;
    }
    if (!v)
        return NULL;
    x->other[t] = xstrdup(v);
    ti_note_qparams_as(x, t, v); /* a change of layout keeps the grid */
    return x->other[t];
}

const char *ti_value(Ti *x, int t, int lay)
{
    if (x->st)
        return NULL;
    if (!x->name[t] && x->view_src[t] >= 0) { /* a pending view (view_src): made now */
        int src = x->view_src[t];
        const char *v = ti_value(x, src, x->form[src]);
        int64_t d[8];
        int nd = ti_dims(x, t, x->form[t], d);
        d[0] = 0;
        Attr a = attr_ints("shape", d, nd);
        if (!v || !(v = ti_node_tmp(x, OP_RESHAPE, x->s->tensors[t].name, &v, 1, &a, 1)))
            return NULL;
        x->name[t] = xstrdup(v);
        ti_note_qparams(x, t);
    }
    if (!x->name[t])
        return ti_fail(x, QS_EFORMAT, "tensor %d '%s' is read before it is written", t,
                       x->s->tensors[t].name), NULL;
    if (x->s->tensors[t].nd != 4 || x->form[t] == lay)
        return x->name[t];
    if (x->other[t])
        return x->other[t];
    if (ti_flat(x, t, TI_CLAST))
        return ti_value_flat(x, t, lay);
    /* graph (N, C, H, W) -> file order (N, H, W, C), or back */
    static const int64_t to_file[4] = { 0, 2, 3, 1 }, to_graph[4] = { 0, 3, 1, 2 };
    Attr a = attr_ints("perm", lay == TI_PLAIN ? to_file : to_graph, 4);
    char base[320];
    snprintf(base, sizeof base, "%.300s::%s", x->name[t], lay == TI_PLAIN ? "nhwc" : "nchw");
    const char *v = ti_node_tmp(x, OP_TRANSPOSE, base, (const char *[]){ x->name[t] }, 1, &a, 1);
    if (!v)
        return NULL;
    x->other[t] = xstrdup(v);
    ti_note_qparams_as(x, t, v); /* a transpose keeps its input's grid */
    return x->other[t];
}

/* ---- constants -------------------------------------------------------------------------- */

float *ti_const_values(Ti *x, int t, int64_t *n)
{
    if (x->const_src[t] >= 0)
        t = x->const_src[t];
    const TflSumTensor *s = &x->s->tensors[t];
    if (!s->data_len) {
        ti_fail(x, QS_EUNSUPPORTED, "tensor %d '%s': a constant was expected (weights, shapes "
                "and axes must be constants)", t, s->name);
        return NULL;
    }
    int64_t cnt = 1;
    for (int i = 0; i < s->nd; i++)
        cnt *= s->dim[i]; /* the verifier checked cnt x type size == the buffer's bytes */
    char what[320];
    snprintf(what, sizeof what, "constant '%.300s'", s->name);
    if (budget_charge(&x->budget, cnt, sizeof(float), what, x->err)) {
        x->st = x->err->code;
        return NULL;
    }
    float *v = xmalloc((size_t)(cnt ? cnt : 1) * sizeof *v);
    const uint8_t *p = s->data;
    /* per-axis parameters: element i's channel is (i / inner) % dim[qdim] */
    int64_t inner = 1;
    for (int i = s->qdim + 1; s->n_q > 1 && i < s->nd; i++)
        inner *= s->dim[i];
    for (int64_t i = 0; i < cnt; i++) {
        int qi = s->n_q > 1 ? (int)((i / inner) % s->dim[s->qdim]) : 0;
        double scale = s->n_q ? s->scale[qi] : 1.0;
        double zp = s->n_q && s->zero_point ? (double)s->zero_point[qi] : 0.0;
        double raw;
        switch (s->type) {
        case TFL_FLOAT32: { float f; memcpy(&f, p + 4 * i, 4); v[i] = f; continue; }
        case TFL_FLOAT16: { uint16_t h; memcpy(&h, p + 2 * i, 2); v[i] = half_to_float(h); continue; }
        case TFL_INT8: raw = (int8_t)p[i]; break;
        case TFL_UINT8: raw = p[i]; break;
        case TFL_INT32: { int32_t k; memcpy(&k, p + 4 * i, 4); raw = k; break; }
        case TFL_INT16: { int16_t k; memcpy(&k, p + 2 * i, 2); raw = k; break; }
        case TFL_INT64: { int64_t k; memcpy(&k, p + 8 * i, 8); raw = (double)k; break; }
        default: raw = p[i]; break;
        }
        v[i] = s->n_q ? (float)((raw - zp) * scale) : (float)raw;
    }
    *n = cnt;
    return v;
}

int ti_const_ints(Ti *x, int t, int64_t *out, int cap)
{
    if (x->const_src[t] >= 0)
        t = x->const_src[t];
    const TflSumTensor *s = &x->s->tensors[t];
    size_t es = s->type == TFL_INT64 ? 8 : 4;
    if (!s->data_len || (s->type != TFL_INT32 && s->type != TFL_INT64)) {
        ti_fail(x, QS_EUNSUPPORTED, "tensor %d '%s': a constant int32 vector was expected", t,
                s->name);
        return -1;
    }
    size_t n = s->data_len / es;
    if (n > (size_t)cap) {
        ti_fail(x, QS_EFORMAT, "tensor %d '%s': %zu values where at most %d fit", t, s->name,
                n, cap);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (es == 8) {
            memcpy(&out[i], s->data + 8 * i, 8);
        } else {
            int32_t k;
            memcpy(&k, s->data + 4 * i, 4);
            out[i] = k;
        }
    }
    return (int)n;
}

const char *ti_const(Ti *x, int t, int lay, int nd, const int64_t *dims)
{
    int64_t n;
    float *v = ti_const_values(x, t, &n);
    if (!v)
        return NULL;
    int src = x->const_src[t] >= 0 ? x->const_src[t] : t;
    const TflSumTensor *s = &x->s->tensors[src];
    Shape sh = { .ndim = s->nd };
    for (int i = 0; i < s->nd; i++)
        sh.dim[i] = s->dim[i];
    if (nd >= 0) {
        sh.ndim = nd;
        memcpy(sh.dim, dims, (size_t)nd * sizeof *dims);
    }
    if (sh.ndim > QS_MAX_DIMS) {
        free(v);
        return ti_fail(x, QS_EUNSUPPORTED, "tensor %d '%s': rank %d (qscope holds %d)", t,
                       s->name, sh.ndim, QS_MAX_DIMS), NULL;
    }
    if (lay == TI_CLAST && sh.ndim == 4) { /* (N, H, W, C) -> (N, C, H, W) */
        int64_t b = sh.dim[0], h = sh.dim[1], w = sh.dim[2], c = sh.dim[3];
        float *r = xmalloc((size_t)(n ? n : 1) * sizeof *r);
        for (int64_t i0 = 0; i0 < b; i0++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t z = 0; z < w; z++)
                    for (int64_t k = 0; k < c; k++)
                        r[((i0 * c + k) * h + y) * w + z] = v[((i0 * h + y) * w + z) * c + k];
        free(v);
        v = r;
        sh = x->one_d && h == 1 ? shape_of(3, b, c, w) : shape_of(4, b, c, h, w);
    }
    return ti_const_add(x, s->name, &sh, v);
}

const char *ti_const_add(Ti *x, const char *base, const Shape *sh, float *v)
{
    Tensor *ct = tensor_new(DT_F32, *sh, x->err);
    if (!ct) {
        free(v);
        x->st = x->err->code;
        return NULL;
    }
    memcpy(ct->data, v, (size_t)shape_numel(sh) * sizeof *v);
    free(v);
    char *name = ti_unique(x, base);
    QsStatus st = graph_add_const(x->g, name, ct, true, x->err);
    free(name);
    if (st) {
        x->st = st;
        return NULL;
    }
    return x->g->values[x->g->n_values - 1].name;
}

/* ---- nodes ------------------------------------------------------------------------------ */

static void ti_release_attrs(Attr *a, int n)
{
    for (int i = 0; i < n; i++)
        attr_release(&a[i]);
}

const char *ti_node_tmp(Ti *x, int op, const char *base, const char *const *in, int n_in,
                        Attr *attrs, int n_attrs)
{
    if (x->st) {
        ti_release_attrs(attrs, n_attrs);
        return NULL;
    }
    char *name = ti_unique(x, base);
    QsStatus st = graph_add_node(x->g, op, name, in, n_in, name, attrs, n_attrs, x->err);
    ti_release_attrs(attrs, n_attrs);
    free(name);
    x->n_made++;
    if (st) {
        x->st = st;
        return NULL;
    }
    return x->g->values[x->g->n_values - 1].name;
}

QsStatus ti_node(Ti *x, int op, int out, int lay, const char *const *in, int n_in, Attr *attrs,
                 int n_attrs, int act)
{
    const char *tname = x->s->tensors[out].name;
    if (act == TFL_ACT_NONE) {
        ti_node_tmp(x, op, tname, in, n_in, attrs, n_attrs);
    } else {
        char base[320];
        snprintf(base, sizeof base, "%.300s::preact", tname);
        const char *pre = ti_node_tmp(x, op, base, in, n_in, attrs, n_attrs);
        if (!pre)
            return x->st;
        Attr ca[2];
        int nca = 0, aop = OP_CLIP;
        switch (act) {
        case TFL_ACT_RELU: aop = OP_RELU; break;
        case TFL_ACT_RELU6:
            ca[nca++] = attr_float("min", 0.0f);
            ca[nca++] = attr_float("max", 6.0f);
            break;
        case TFL_ACT_RELU_N1_TO_1:
            ca[nca++] = attr_float("min", -1.0f);
            ca[nca++] = attr_float("max", 1.0f);
            break;
        default:
            return ti_fail(x, QS_EUNSUPPORTED, "tensor '%s': fused activation %d is not read "
                           "(RELU, RELU6 and RELU_N1_TO_1 are)", tname, act);
        }
        ti_node_tmp(x, aop, tname, (const char *[]){ pre }, 1, ca, nca);
    }
    if (x->st)
        return x->st;
    free(x->name[out]);
    x->name[out] = xstrdup(x->g->values[x->g->n_values - 1].name);
    x->form[out] = (uint8_t)lay;
    return QS_OK;
}

/* ---- quantization ----------------------------------------------------------------------- */

/* Tensor t's activation parameters recorded for graph value `value`. */
static void ti_note_qparams_as(Ti *x, int t, const char *value)
{
    const TflSumTensor *s = &x->s->tensors[t];
    if (!x->q || s->n_q != 1 || !value || (s->type != TFL_INT8 && s->type != TFL_UINT8))
        return;
    TflImportQuant *q = x->q;
    for (int i = 0; i < q->n_values; i++)
        if (strcmp(q->values[i].value, value) == 0)
            return; /* the first tensor of a value decides (a uint8 edge is the same grid) */
    q->values = xrealloc(q->values, (size_t)(q->n_values + 1) * sizeof *q->values);
    TflQValue *v = &q->values[q->n_values++];
    v->value = xstrdup(value);
    v->scale = s->scale[0];
    int64_t z = s->zero_point ? s->zero_point[0] : 0;
    v->zero_point = (int32_t)(s->type == TFL_UINT8 ? z - 128 : z);
    v->type = s->type;
}

void ti_note_qparams(Ti *x, int t)
{
    ti_note_qparams_as(x, t, x->name[t]);
}

void tflite_import_quant_release(TflImportQuant *q)
{
    for (int i = 0; i < q->n_values; i++)
        free(q->values[i].value);
    for (int i = 0; i < q->n_weights; i++) {
        free(q->weights[i].node);
        free(q->weights[i].codes);
        free(q->weights[i].scales);
        free(q->weights[i].bias);
    }
    for (int i = 0; i < q->n_float; i++)
        free(q->float_nodes[i]);
    free(q->values);
    free(q->weights);
    free(q->float_nodes);
    memset(q, 0, sizeof *q);
}

/* ---- the walk --------------------------------------------------------------------------- */

/* Whether tensor t reaches a window op's data input through edge conversions and PADs:
 * such a rank-4 graph input is channels last in the file. */
static bool ti_feeds_window(const Ti *x, int t, int depth)
{
    for (int k = 0; k < x->s->n_ops && depth < 8; k++) {
        const TflSumOp *o = &x->s->ops[k];
        if (o->n_in < 1 || o->ins[0] != t)
            continue;
        switch (o->code) {
        case TFL_OP_CONV_2D: case TFL_OP_DEPTHWISE_CONV_2D: case TFL_OP_AVERAGE_POOL_2D:
        case TFL_OP_MAX_POOL_2D: case TFL_OP_RESIZE_NEAREST_NEIGHBOR:
            return true;
        case TFL_OP_QUANTIZE: case TFL_OP_DEQUANTIZE: case TFL_OP_PAD:
            if (ti_feeds_window(x, o->out[0], depth + 1))
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

static QsStatus ti_inputs(Ti *x)
{
    const TflSummary *s = x->s;
    if (s->n_inputs > 16 || s->n_outputs > 16)
        return ti_fail(x, QS_EUNSUPPORTED, "%d inputs and %d outputs: at most 16 of each are "
                       "read", s->n_inputs, s->n_outputs);
    for (int i = 0; i < s->n_inputs; i++) {
        int t = s->inputs[i];
        const TflSumTensor *ts = &s->tensors[t];
        if (ts->data_len)
            return ti_fail(x, QS_EFORMAT, "input %d is the constant tensor %d", i, t);
        if (ts->nd < 1 || ts->nd > QS_MAX_DIMS)
            return ti_fail(x, QS_EUNSUPPORTED, "input '%s': rank %d (1 to %d are read)",
                           ts->name, ts->nd, QS_MAX_DIMS);
        int lay = ts->nd == 4 && ti_feeds_window(x, t, 0) ? TI_CLAST : TI_PLAIN;
        int64_t d[8];
        int nd = ti_dims(x, t, lay, d);
        Shape sample = { .ndim = nd - 1 };
        int64_t numel = 1;
        for (int k = 1; k < nd; k++) {
            sample.dim[k - 1] = d[k];
            if (__builtin_mul_overflow(numel, d[k], &numel) || numel > ((int64_t)1 << 40))
                numel = (int64_t)1 << 40; /* past any budget: refused below */
        }
        char what[320];
        snprintf(what, sizeof what, "input '%.280s' (one sample)", ts->name);
        if (budget_charge(&x->budget, numel, sizeof(float), what, x->err))
            return x->st = x->err->code;
        const char *name = ti_define(x, t, lay);
        if (ts->type != TFL_FLOAT32 && ts->type != TFL_INT8 && ts->type != TFL_UINT8)
            return ti_fail(x, QS_EUNSUPPORTED, "input '%s': type %d (float32, int8 and uint8 "
                           "inputs are read)", ts->name, ts->type);
        if (graph_add_input(x->g, name, &sample, x->err))
            return x->st = x->err->code;
        ti_note_qparams(x, t);
    }
    return QS_OK;
}

static QsStatus ti_outputs(Ti *x)
{
    for (int i = 0; i < x->s->n_outputs && !x->st; i++) {
        int t = x->s->outputs[i];
        const char *v = x->view_src[t] >= 0 ? ti_value(x, t, x->form[t]) : x->name[t];
        if (!v)
            return ti_fail(x, QS_EFORMAT, "output tensor %d is never written", t);
        if (graph_find_value(x->g, v) < 0 || x->g->values[graph_find_value(x->g, v)].kind !=
                                                 VAL_NODE)
            return ti_fail(x, QS_EUNSUPPORTED, "output '%s' is an input or a constant",
                           x->s->tensors[t].name);
        if (graph_add_output(x->g, v, x->err))
            return x->st = x->err->code;
    }
    return x->st;
}

/* Every tensor's shape in the file against the shape the graph infers for it (batch aside):
 * a file whose shapes contradict its operators is refused. */
static QsStatus ti_check_shapes(Ti *x)
{
    for (int t = 0; t < x->s->n_tensors; t++) {
        if (!x->name[t] || ti_is_const(x, t))
            continue;
        int v = graph_find_value(x->g, x->name[t]);
        if (v < 0)
            continue;
        const Shape *gs = &x->g->values[v].shape;
        int64_t d[8];
        int nd = ti_dims(x, t, x->form[t], d);
        bool same = gs->ndim == nd;
        for (int k = 1; same && k < nd; k++)
            same = gs->dim[k] == d[k];
        if (!same)
            return ti_fail(x, QS_EFORMAT, "tensor %d '%s': the file's shape does not match "
                           "what its operators compute", t, x->s->tensors[t].name);
    }
    return QS_OK;
}

static void ti_description(Ti *x)
{
    const char *d = x->s->description;
    if (!x->q)
        return;
    const char *v = strstr(d, "variant=");
    static const char *const names[] = { "fp32", "fp16", "dynamic", "int8" };
    x->q->variant = "fp32";
    for (int i = 0; v && i < 4; i++)
        if (strncmp(v + 8, names[i], strlen(names[i])) == 0)
            x->q->variant = names[i];
    /* qscope's exporter names the target of an int8 file; its other files were computed
     * with qscope's own arithmetic */
    const char *t = strstr(d, "target=");
    if (strncmp(d, "qscope export:", 14) == 0 && !(t && sscanf(t + 7, "%31[a-z0-9_-]",
                                                              x->q->target) == 1))
        snprintf(x->q->target, sizeof x->q->target, "qscope");
}

/* What the file is, when its description does not say: int8 activations make it "int8",
 * int8 weights on float data "dynamic", float16 constants "fp16". */
static const char *ti_guess_variant(const Ti *x)
{
    bool i8w = false, f16 = false;
    for (int t = 0; t < x->s->n_tensors; t++) {
        const TflSumTensor *s = &x->s->tensors[t];
        if (!s->data_len && (s->type == TFL_INT8 || s->type == TFL_UINT8))
            return "int8";
        i8w |= s->data_len && s->type == TFL_INT8;
        f16 |= s->data_len && s->type == TFL_FLOAT16;
    }
    return i8w ? "dynamic" : f16 ? "fp16" : "fp32";
}

Model *tflite_import_buffer(const void *buf, size_t len, TflImportQuant *q, QsError *err)
{
    TflSummary s;
    if (tflite_verify(buf, len, &s, err))
        return NULL;
    Ti x;
    memset(&x, 0, sizeof x);
    x.s = &s;
    x.err = err;
    x.q = q;
    if (q)
        memset(q, 0, sizeof *q);
    x.budget = budget_for_file((int64_t)len);
    x.m = model_new();
    x.g = &x.m->graph;
    int nt = s.n_tensors ? s.n_tensors : 1;
    x.name = xcalloc((size_t)nt, sizeof *x.name);
    x.other = xcalloc((size_t)nt, sizeof *x.other);
    x.form = xcalloc((size_t)nt, 1);
    x.const_src = xmalloc((size_t)nt * sizeof *x.const_src);
    x.view_src = xmalloc((size_t)nt * sizeof *x.view_src);
    for (int t = 0; t < nt; t++)
        x.const_src[t] = x.view_src[t] = -1;
    x.one_d = strncmp(s.description, "qscope export:", 14) == 0 &&
              strstr(s.description, " spatial=1d") != NULL;
    ti_inputs(&x);
    for (int k = 0; k < s.n_ops && !x.st; k++) {
        const TiRow *r = ti_row(s.ops[k].code);
        if (!r) {
            ti_fail(&x, QS_EUNSUPPORTED, "operator %d: builtin code %d is not read (docs/"
                    "formats.md lists the operators the reader takes)", k, s.ops[k].code);
            break;
        }
        if (s.ops[k].n_out != 1) {
            ti_fail(&x, QS_EUNSUPPORTED, "operator %d: %d outputs (one is read)", k,
                    s.ops[k].n_out);
            break;
        }
        int first = x.g->n_nodes;
        if (r->read(&x, &s.ops[k], k))
            break;
        ti_note_qparams(&x, s.ops[k].out[0]);
        if (q && s.tensors[s.ops[k].out[0]].type == TFL_FLOAT32)
            for (int ni = first; ni < x.g->n_nodes; ni++) {
                q->float_nodes = xrealloc(q->float_nodes, (size_t)(q->n_float + 1) *
                                                              sizeof *q->float_nodes);
                q->float_nodes[q->n_float++] = xstrdup(x.g->nodes[ni].name);
            }
    }
    if (!x.st)
        ti_outputs(&x);
    if (!x.st && !graph_finalize(x.g, err))
        ti_check_shapes(&x);
    else if (!x.st)
        x.st = err->code;
    if (!x.st && model_pack(x.m, err))
        x.st = err->code;
    if (!x.st) {
        model_meta_set(x.m, "source", "tflite");
        if (q) {
            ti_description(&x);
            if (!strstr(s.description, "variant="))
                q->variant = ti_guess_variant(&x);
        }
    }
    for (int t = 0; t < nt; t++) {
        free(x.name[t]);
        free(x.other[t]);
    }
    free(x.name);
    free(x.other);
    free(x.form);
    free(x.const_src);
    free(x.view_src);
    tflite_summary_release(&s);
    if (x.st) {
        qs_error_prefix(err, "tflite");
        model_free(x.m);
        if (q)
            tflite_import_quant_release(q);
        return NULL;
    }
    return x.m;
}

Model *tflite_load_ex(const char *path, TflImportQuant *q, QsError *err)
{
    void *buf = NULL;
    size_t len = 0;
    if (fileio_read(path, &buf, &len, err))
        return NULL;
    Model *m = tflite_import_buffer(buf, len, q, err);
    free(buf);
    if (!m) {
        /* the path is the only argument: a value refused is the file's content */
        if (err->code == QS_EINVAL || err->code == QS_ENOTFOUND)
            err->code = QS_EFORMAT;
        qs_error_prefix(err, "%s", path);
    }
    return m;
}

Model *tflite_load(const char *path, QsError *err)
{
    return tflite_load_ex(path, NULL, err);
}
