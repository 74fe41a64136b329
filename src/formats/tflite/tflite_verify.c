/* The structural verifier of TFLite flatbuffers (tflite_verify.h). Reading is by the
 * FlatBuffers rules (flatbuf.h states them), every access bounds-checked first. */
#include "tflite/tflite_verify.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tflite/tflite_model.h"
#include "tflite/tflite_schema.h"

typedef struct V {
    const uint8_t *b;
    size_t len;
    QsError *err;
    QsStatus st;
} V;

typedef struct Tab {
    size_t pos, vt;
    uint16_t vtsize, objsize;
} Tab;

static bool v_fail(V *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool v_fail(V *v, const char *fmt, ...)
{
    if (v->st)
        return false;
    va_list ap;
    va_start(ap, fmt);
    qs_vfail_first(&v->st, v->err, QS_EFORMAT, fmt, ap);
    va_end(ap);
    qs_error_prefix(v->err, "tflite");
    return false;
}

static uint16_t rd16(const V *v, size_t p) { uint16_t x; memcpy(&x, v->b + p, 2); return x; }
static uint32_t rd32(const V *v, size_t p) { uint32_t x; memcpy(&x, v->b + p, 4); return x; }

/* The table at pos: its vtable in range and well-formed, its inline part in the buffer. */
static bool v_table(V *v, size_t pos, Tab *t, const char *what)
{
    if (pos % 4 || pos > v->len || v->len - pos < 4)
        return v_fail(v, "%s: table at %zu is out of range or unaligned", what, pos);
    int32_t so;
    memcpy(&so, v->b + pos, 4);
    int64_t vt = (int64_t)pos - so;
    if (vt < 0 || (uint64_t)vt + 4 > v->len || vt % 2)
        return v_fail(v, "%s: vtable offset %d of the table at %zu is out of range", what,
                      (int)so, pos);
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vtsize = rd16(v, t->vt);
    t->objsize = rd16(v, t->vt + 2);
    if (t->vtsize < 4 || t->vtsize % 2 || t->vt + t->vtsize > v->len)
        return v_fail(v, "%s: vtable size %u at %zu is invalid", what, t->vtsize, t->vt);
    if (t->objsize < 4 || pos + t->objsize > v->len)
        return v_fail(v, "%s: table size %u at %zu passes the end", what, t->objsize, pos);
    return true;
}

/* The absolute position of field f (size bytes, aligned to size), or 0 when absent. */
static size_t v_field(V *v, const Tab *t, int f, size_t size, const char *what)
{
    size_t e = 4 + 2 * (size_t)f;
    if (e + 2 > t->vtsize)
        return 0;
    uint16_t off = rd16(v, t->vt + e);
    if (!off)
        return 0;
    if ((size_t)off + size > t->objsize || (t->pos + off) % size) {
        v_fail(v, "%s: field %d at offset %u is outside its table or unaligned", what, f, off);
        return 0;
    }
    return t->pos + off;
}

static int64_t v_int(V *v, const Tab *t, int f, size_t size, bool is_signed, int64_t def,
                     const char *what)
{
    size_t p = v_field(v, t, f, size, what);
    if (!p)
        return def;
    switch (size) {
    case 1: return is_signed ? (int64_t)(int8_t)v->b[p] : (int64_t)v->b[p];
    case 4: return is_signed ? (int64_t)(int32_t)rd32(v, p) : (int64_t)rd32(v, p);
    default: { int64_t x; memcpy(&x, v->b + p, 8); return x; }
    }
}

/* The target of the uoffset field f (0: absent). */
static size_t v_ref(V *v, const Tab *t, int f, const char *what)
{
    size_t p = v_field(v, t, f, 4, what);
    if (!p)
        return 0;
    uint32_t off = rd32(v, p);
    if (off == 0 || off > v->len - p || (p + off) % 4) {
        v_fail(v, "%s: field %d points outside the buffer or unaligned (offset %u at %zu)",
               what, f, off, p);
        return 0;
    }
    return p + off;
}

/* Vector field f of elements of `elem` bytes (aligned to `align`): *start and *n (0, 0
 * when absent). */
static bool v_vector(V *v, const Tab *t, int f, size_t elem, size_t align, size_t *start,
                     uint32_t *n, const char *what)
{
    *start = 0;
    *n = 0;
    size_t p = v_ref(v, t, f, what);
    if (v->st)
        return false;
    if (!p)
        return true;
    if (v->len - p < 4)
        return v_fail(v, "%s: vector %d's length passes the end", what, f);
    uint32_t cnt = rd32(v, p);
    if ((uint64_t)cnt * elem > v->len - p - 4)
        return v_fail(v, "%s: vector %d of %u elements passes the end of the buffer", what, f,
                      cnt);
    if ((p + 4) % align)
        return v_fail(v, "%s: vector %d's elements are not %zu-aligned", what, f, align);
    *start = p + 4;
    *n = cnt;
    return true;
}

/* A table in element i of a vector of offsets at start. */
static bool v_elem_table(V *v, size_t start, uint32_t i, Tab *t, const char *what)
{
    size_t p = start + 4 * (size_t)i;
    uint32_t off = rd32(v, p);
    if (off == 0 || off > v->len - p)
        return v_fail(v, "%s: element %u points outside the buffer", what, i);
    return v_table(v, p + off, t, what);
}

/* String field f copied (truncated) into out; an absent one is "". */
static bool v_string(V *v, const Tab *t, int f, char *out, size_t cap, const char *what)
{
    size_t start;
    uint32_t n;
    out[0] = 0;
    if (!v_vector(v, t, f, 1, 1, &start, &n, what))
        return false;
    if (!start)
        return true;
    if (n >= v->len - start || v->b[start + n] != 0)
        return v_fail(v, "%s: string %d is not NUL-terminated", what, f);
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, v->b + start, k);
    out[k] = 0;
    return true;
}

/* String field f: a pointer to its NUL-terminated bytes in the buffer ("" when absent). */
static bool v_string_at(V *v, const Tab *t, int f, const char **out, const char *what)
{
    size_t start;
    uint32_t n;
    *out = "";
    if (!v_vector(v, t, f, 1, 1, &start, &n, what))
        return false;
    if (!start)
        return true;
    if (n >= v->len - start || v->b[start + n] != 0)
        return v_fail(v, "%s: string %d is not NUL-terminated", what, f);
    *out = (const char *)v->b + start;
    return true;
}

/* ---- the model ----------------------------------------------------------------------- */

typedef struct Bufs {
    uint32_t n;
    size_t *start;            /* [n] data start (0: empty) */
    size_t *len;
} Bufs;

static bool v_buffers(V *v, const Tab *model, Bufs *bf)
{
    size_t start;
    uint32_t n;
    if (!v_vector(v, model, MODEL_BUFFERS, 4, 4, &start, &n, "model.buffers"))
        return false;
    if (n < 1)
        return v_fail(v, "model.buffers: the empty buffer 0 is missing");
    bf->n = n;
    bf->start = xcalloc(n, sizeof *bf->start);
    bf->len = xcalloc(n, sizeof *bf->len);
    for (uint32_t i = 0; i < n; i++) {
        Tab t;
        if (!v_elem_table(v, start, i, &t, "buffer"))
            return false;
        uint32_t cnt;
        if (!v_vector(v, &t, BUFFER_DATA, 1, 1, &bf->start[i], &cnt, "buffer.data"))
            return false;
        bf->len[i] = cnt;
        if (v_int(v, &t, 1, 8, false, 0, "buffer") || v_int(v, &t, 2, 8, false, 0, "buffer"))
            return v_fail(v, "buffer %u: external (offset/size) buffers are not written by "
                          "qscope", i);
    }
    if (bf->len[0])
        return v_fail(v, "buffer 0 must be empty (it holds %zu bytes)", bf->len[0]);
    return true;
}

static bool v_quant(V *v, size_t pos, const TflSumTensor *ts, TflSumTensor *o, int ti)
{
    Tab q;
    if (!v_table(v, pos, &q, "quantization"))
        return false;
    size_t ss, zs;
    uint32_t ns, nz;
    if (!v_vector(v, &q, QUANT_SCALE, 4, 4, &ss, &ns, "quantization.scale") ||
        !v_vector(v, &q, QUANT_ZERO_POINT, 8, 8, &zs, &nz, "quantization.zero_point"))
        return false;
    int qdim = (int)v_int(v, &q, QUANT_QUANTIZED_DIMENSION, 4, true, 0, "quantization");
    if (v_int(v, &q, QUANT_DETAILS_TYPE, 1, false, 0, "quantization"))
        return v_fail(v, "tensor %d: custom quantization details are not written by qscope", ti);
    if (ns != nz && nz != 0)
        return v_fail(v, "tensor %d: %u scales but %u zero points", ti, ns, nz);
    if (ns > 1 && (qdim < 0 || qdim >= ts->nd || (uint32_t)ts->dim[qdim] != ns))
        return v_fail(v, "tensor %d: %u scales do not match quantized dimension %d", ti, ns,
                      qdim);
    for (uint32_t i = 0; i < ns; i++) {
        float s;
        memcpy(&s, v->b + ss + 4 * i, 4);
        if (!(isfinite(s) && s > 0))
            return v_fail(v, "tensor %d: scale %u is %g (must be finite and > 0)", ti, i, s);
    }
    o->n_q = (int)ns;
    o->scale = ns ? (const float *)(const void *)(v->b + ss) : NULL;
    o->zero_point = nz ? (const int64_t *)(const void *)(v->b + zs) : NULL;
    o->qdim = qdim;
    return true;
}

static bool v_tensor(V *v, const Tab *t, const Bufs *bf, int ti, TflSumTensor *o)
{
    size_t ss;
    uint32_t nd;
    if (!v_vector(v, t, TENSOR_SHAPE, 4, 4, &ss, &nd, "tensor.shape"))
        return false;
    if (nd > 8)
        return v_fail(v, "tensor %d: rank %u is more than 8", ti, nd);
    o->nd = (int)nd;
    int64_t numel = 1;
    for (uint32_t i = 0; i < nd; i++) {
        int32_t d = (int32_t)rd32(v, ss + 4 * i);
        if (d < 1)
            return v_fail(v, "tensor %d: dimension %u is %d (static shapes have dims >= 1)",
                          ti, i, d);
        o->dim[i] = d;
        if (__builtin_mul_overflow(numel, (int64_t)d, &numel))
            numel = INT64_MAX;
    }
    o->type = (int)v_int(v, t, TENSOR_TYPE, 1, true, 0, "tensor");
    size_t es = tfl_type_size(o->type);
    if (!es)
        return v_fail(v, "tensor %d: type %d is not one qscope writes", ti, o->type);
    o->buffer = (uint32_t)v_int(v, t, TENSOR_BUFFER, 4, false, 0, "tensor");
    if (o->buffer >= bf->n)
        return v_fail(v, "tensor %d: buffer %u of %u", ti, o->buffer, bf->n);
    o->data_len = bf->len[o->buffer];
    o->data = o->data_len ? v->b + bf->start[o->buffer] : NULL;
    if (o->data_len && ((uint64_t)numel > o->data_len || (uint64_t)numel * es != o->data_len))
        return v_fail(v, "tensor %d: buffer %u holds %zu bytes, shape x type needs %lld x %zu",
                      ti, o->buffer, o->data_len, (long long)numel, es);
    if (!v_string_at(v, t, TENSOR_NAME, &o->name, "tensor.name"))
        return false;
    size_t qp = v_ref(v, t, TENSOR_QUANTIZATION, "tensor");
    if (v->st)
        return false;
    if (qp && !v_quant(v, qp, o, o, ti))
        return false;
    if (v_ref(v, t, TENSOR_SPARSITY, "tensor") || v->st)
        return v_fail(v, "tensor %d: sparse tensors are not written by qscope", ti);
    return true;
}

/* An int32 vector field of indices, each -1 (when allow_omit) or in [0, n); the first cap
 * copied to out, *all (when not NULL) pointing at every one in the buffer. */
static bool v_indices(V *v, const Tab *t, int f, int n, bool allow_omit, int *out, int cap,
                      int *count, const int32_t **all, const char *what)
{
    size_t s;
    uint32_t cnt;
    if (!v_vector(v, t, f, 4, 4, &s, &cnt, what))
        return false;
    for (uint32_t i = 0; i < cnt; i++) {
        int32_t x = (int32_t)rd32(v, s + 4 * i);
        if (!(x >= 0 && x < n) && !(allow_omit && x == -1))
            return v_fail(v, "%s: index %d at position %u is out of range (%d tensors)", what,
                          x, i, n);
        if ((int)i < cap)
            out[i] = x;
    }
    *count = (int)cnt;
    if (all) /* 4-aligned (v_vector) */
        *all = cnt ? (const int32_t *)(const void *)(v->b + s) : NULL;
    return true;
}

/* The fields of an options table that TflOpts holds; enum fields checked. */
static bool v_options(V *v, const Tab *t, int kind, TflOpts *o, uint32_t op)
{
    const char *w = "builtin_options";
#define OPT_I32(f, d) ((int)v_int(v, t, (f), 4, true, (d), w))
#define OPT_U8(f) ((int)v_int(v, t, (f), 1, false, 0, w))
    memset(o, 0, sizeof *o);
    o->kind = kind;
    switch (kind) {
    case TFL_OPT_CONV2D:
        o->padding = OPT_U8(CONV2D_PADDING);
        o->stride_w = OPT_I32(CONV2D_STRIDE_W, 0);
        o->stride_h = OPT_I32(CONV2D_STRIDE_H, 0);
        o->act = OPT_U8(CONV2D_ACTIVATION);
        o->dilation_w = OPT_I32(CONV2D_DILATION_W, 1);
        o->dilation_h = OPT_I32(CONV2D_DILATION_H, 1);
        break;
    case TFL_OPT_DEPTHWISE_CONV2D:
        o->padding = OPT_U8(DW_PADDING);
        o->stride_w = OPT_I32(DW_STRIDE_W, 0);
        o->stride_h = OPT_I32(DW_STRIDE_H, 0);
        o->depth_multiplier = OPT_I32(DW_DEPTH_MULTIPLIER, 0);
        o->act = OPT_U8(DW_ACTIVATION);
        o->dilation_w = OPT_I32(DW_DILATION_W, 1);
        o->dilation_h = OPT_I32(DW_DILATION_H, 1);
        break;
    case TFL_OPT_POOL2D:
        o->padding = OPT_U8(POOL2D_PADDING);
        o->stride_w = OPT_I32(POOL2D_STRIDE_W, 0);
        o->stride_h = OPT_I32(POOL2D_STRIDE_H, 0);
        o->filter_w = OPT_I32(POOL2D_FILTER_W, 0);
        o->filter_h = OPT_I32(POOL2D_FILTER_H, 0);
        o->act = OPT_U8(POOL2D_ACTIVATION);
        break;
    case TFL_OPT_FULLY_CONNECTED:
        o->act = OPT_U8(FC_ACTIVATION);
        if (OPT_U8(FC_WEIGHTS_FORMAT))
            return v_fail(v, "operator %u: shuffled fully-connected weights are not read", op);
        o->keep_num_dims = OPT_U8(FC_KEEP_NUM_DIMS) != 0;
        o->asymmetric_inputs = OPT_U8(FC_ASYMMETRIC_INPUTS) != 0;
        break;
    case TFL_OPT_SOFTMAX: {
        size_t p = v_field(v, t, SOFTMAX_BETA, 4, w);
        o->beta = 0.0f;
        if (p)
            memcpy(&o->beta, v->b + p, 4);
        break;
    }
    case TFL_OPT_CONCATENATION:
        o->axis = OPT_I32(CONCAT_AXIS, 0);
        o->act = OPT_U8(CONCAT_ACTIVATION);
        break;
    case TFL_OPT_ADD: case TFL_OPT_MUL: case TFL_OPT_SUB: case TFL_OPT_DIV:
        o->act = OPT_U8(ADD_ACTIVATION);
        break;
    case TFL_OPT_REDUCER:
        o->keep_dims = OPT_U8(REDUCER_KEEP_DIMS) != 0;
        break;
    case TFL_OPT_RESIZE_NEAREST_NEIGHBOR:
        o->align_corners = OPT_U8(RESIZEOPT_ALIGN_CORNERS) != 0;
        o->half_pixel_centers = OPT_U8(RESIZEOPT_HALF_PIXEL_CENTERS) != 0;
        break;
    case TFL_OPT_STRIDED_SLICE:
        o->end_mask = OPT_I32(STRIDED_SLICE_END_MASK, 0);
        break;
    case TFL_OPT_LEAKY_RELU: {
        size_t p = v_field(v, t, LEAKY_RELU_ALPHA, 4, w);
        if (p)
            memcpy(&o->alpha, v->b + p, 4);
        break;
    }
    default:
        break;
    }
#undef OPT_I32
#undef OPT_U8
    if (v->st)
        return false;
    if (o->padding > TFL_PAD_VALID || o->act > 5)
        return v_fail(v, "operator %u: padding %d or fused activation %d is not in the schema",
                      op, o->padding, o->act);
    return true;
}

static bool v_opcodes(V *v, const Tab *model, TflSummary *s, int **codes, int **versions)
{
    size_t start;
    uint32_t n;
    if (!v_vector(v, model, MODEL_OPERATOR_CODES, 4, 4, &start, &n, "model.operator_codes"))
        return false;
    s->n_opcodes = (int)n;
    *codes = xcalloc(n ? n : 1, sizeof **codes);
    *versions = xcalloc(n ? n : 1, sizeof **versions);
    for (uint32_t i = 0; i < n; i++) {
        Tab t;
        if (!v_elem_table(v, start, i, &t, "operator_code"))
            return false;
        int dep = (int)v_int(v, &t, OPCODE_DEPRECATED_BUILTIN_CODE, 1, true, 0, "operator_code");
        int code = (int)v_int(v, &t, OPCODE_BUILTIN_CODE, 4, true, 0, "operator_code");
        (*codes)[i] = code > dep ? code : dep;
        (*versions)[i] = (int)v_int(v, &t, OPCODE_VERSION, 4, true, 1, "operator_code");
        if ((*versions)[i] < 1)
            return v_fail(v, "operator_code %u: version %d", i, (*versions)[i]);
    }
    return !v->st;
}

static bool v_operators(V *v, const Tab *sg, TflSummary *s, const int *codes,
                        const int *versions, bool *defined)
{
    size_t start;
    uint32_t n;
    if (!v_vector(v, sg, SUBGRAPH_OPERATORS, 4, 4, &start, &n, "subgraph.operators"))
        return false;
    s->n_ops = (int)n;
    s->ops = xcalloc(n ? n : 1, sizeof *s->ops);
    for (uint32_t i = 0; i < n; i++) {
        Tab t;
        TflSumOp *o = &s->ops[i];
        if (!v_elem_table(v, start, i, &t, "operator"))
            return false;
        int64_t oc = v_int(v, &t, OPERATOR_OPCODE_INDEX, 4, false, 0, "operator");
        if (oc >= s->n_opcodes)
            return v_fail(v, "operator %u: opcode index %lld of %d", i, (long long)oc,
                          s->n_opcodes);
        o->code = codes[oc];
        o->version = versions[oc];
        const int32_t *outs = NULL;
        if (!v_indices(v, &t, OPERATOR_INPUTS, s->n_tensors, true, o->in, 8, &o->n_in,
                       &o->ins, "operator.inputs") ||
            !v_indices(v, &t, OPERATOR_OUTPUTS, s->n_tensors, false, o->out, 2, &o->n_out,
                       &outs, "operator.outputs"))
            return false;
        if (o->n_out < 1)
            return v_fail(v, "operator %u has no output", i);
        o->options_type = (int)v_int(v, &t, OPERATOR_BUILTIN_OPTIONS_TYPE, 1, false, 0,
                                     "operator");
        size_t opt = v_ref(v, &t, OPERATOR_BUILTIN_OPTIONS, "operator");
        Tab ot;
        if (v->st || (opt && !v_table(v, opt, &ot, "builtin_options")))
            return false;
        if (!opt != !o->options_type)
            return v_fail(v, "operator %u: options type %d without options (or the reverse)",
                          i, o->options_type);
        if (opt && !v_options(v, &ot, o->options_type, &o->opt, i))
            return false;
        for (int k = 0; k < o->n_in; k++)
            if (o->ins[k] >= 0 && !defined[o->ins[k]])
                return v_fail(v, "operator %u reads tensor %d before anything writes it", i,
                              (int)o->ins[k]);
        for (int k = 0; k < o->n_out; k++) {
            if (s->tensors[outs[k]].data_len)
                return v_fail(v, "operator %u writes the constant tensor %d", i, (int)outs[k]);
            if (defined[outs[k]])
                return v_fail(v, "operator %u writes tensor %d, which is already written", i,
                              (int)outs[k]);
            defined[outs[k]] = true;
        }
    }
    return true;
}

static bool v_subgraph(V *v, const Tab *model, const Bufs *bf, TflSummary *s,
                       const int *codes, const int *versions)
{
    size_t start;
    uint32_t n;
    if (!v_vector(v, model, MODEL_SUBGRAPHS, 4, 4, &start, &n, "model.subgraphs"))
        return false;
    if (n < 1)
        return v_fail(v, "the model has no subgraph");
    Tab sg;
    if (!v_elem_table(v, start, 0, &sg, "subgraph"))
        return false;
    size_t ts;
    uint32_t nt;
    if (!v_vector(v, &sg, SUBGRAPH_TENSORS, 4, 4, &ts, &nt, "subgraph.tensors"))
        return false;
    s->n_tensors = (int)nt;
    s->tensors = xcalloc(nt ? nt : 1, sizeof *s->tensors);
    bool *defined = xcalloc(nt ? nt : 1, sizeof *defined);
    bool ok = true;
    for (uint32_t i = 0; i < nt && ok; i++) {
        Tab t;
        ok = v_elem_table(v, ts, i, &t, "tensor") &&
             v_tensor(v, &t, bf, (int)i, &s->tensors[i]);
        if (ok)
            defined[i] = s->tensors[i].data_len > 0;
    }
    ok = ok &&
         v_indices(v, &sg, SUBGRAPH_INPUTS, s->n_tensors, false, s->inputs, 16, &s->n_inputs,
                   NULL, "subgraph.inputs") &&
         v_indices(v, &sg, SUBGRAPH_OUTPUTS, s->n_tensors, false, s->outputs, 16,
                   &s->n_outputs, NULL, "subgraph.outputs");
    for (int i = 0; ok && i < s->n_inputs && i < 16; i++)
        defined[s->inputs[i]] = true;
    ok = ok && v_operators(v, &sg, s, codes, versions, defined);
    for (int i = 0; ok && i < s->n_outputs && i < 16; i++)
        if (!defined[s->outputs[i]])
            ok = v_fail(v, "subgraph output tensor %d is never written", s->outputs[i]);
    free(defined);
    return ok;
}

static bool v_metadata(V *v, const Tab *model, const Bufs *bf)
{
    size_t start;
    uint32_t n;
    if (!v_vector(v, model, MODEL_METADATA, 4, 4, &start, &n, "model.metadata"))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        Tab t;
        char name[64];
        if (!v_elem_table(v, start, i, &t, "metadata") ||
            !v_string(v, &t, METADATA_NAME, name, sizeof name, "metadata.name"))
            return false;
        if ((uint64_t)v_int(v, &t, METADATA_BUFFER, 4, false, 0, "metadata") >= bf->n)
            return v_fail(v, "metadata '%s': buffer index out of range", name);
    }
    return !v->st;
}

QsStatus tflite_verify(const void *buf, size_t len, TflSummary *out, QsError *err)
{
    V v = { .b = buf, .len = len, .err = err };
    TflSummary s;
    memset(&s, 0, sizeof s);
    Bufs bf = { 0 };
    int *codes = NULL, *versions = NULL;
    Tab model;
    if (len < 8 || len > ((size_t)1 << 31)) {
        v_fail(&v, "%zu bytes is not a model size", len);
    } else if (memcmp(v.b + 4, TFL_IDENT, 4) != 0) {
        v_fail(&v, "the file identifier is not \"" TFL_IDENT "\"");
    } else if (v_table(&v, rd32(&v, 0), &model, "model")) {
        int64_t ver = v_int(&v, &model, MODEL_VERSION, 4, false, 0, "model");
        if (!v.st && ver != TFL_SCHEMA_VERSION)
            v_fail(&v, "schema version %lld (qscope writes %d)", (long long)ver,
                   TFL_SCHEMA_VERSION);
        if (!v.st && v_buffers(&v, &model, &bf) && v_opcodes(&v, &model, &s, &codes, &versions) &&
            v_subgraph(&v, &model, &bf, &s, codes, versions) && v_metadata(&v, &model, &bf))
            v_string(&v, &model, MODEL_DESCRIPTION, s.description, sizeof s.description,
                     "model.description");
        s.n_buffers = (int)bf.n;
    }
    free(bf.start);
    free(bf.len);
    free(codes);
    free(versions);
    if (v.st || !out)
        tflite_summary_release(&s);
    else
        *out = s;
    return v.st;
}

void tflite_summary_release(TflSummary *s)
{
    free(s->tensors);
    free(s->ops);
    memset(s, 0, sizeof *s);
}
