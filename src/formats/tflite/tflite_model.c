/* The TFLite model being assembled and its serialization (tflite_model.h). */
#include "tflite/tflite_model.h"

#include <stdlib.h>
#include <string.h>

#include "tflite/flatbuf.h"
#include "tflite/tflite_schema.h"

#define TFL_GROW(arr, n, cap)                                                     \
    do {                                                                          \
        if ((n) == (cap)) {                                                       \
            (cap) = (cap) ? 2 * (cap) : 16;                                       \
            (arr) = xrealloc((arr), (size_t)(cap) * sizeof *(arr));               \
        }                                                                         \
    } while (0)

void tfl_model_init(TflModel *m)
{
    memset(m, 0, sizeof *m);
    TFL_GROW(m->buffers, m->n_buffers, m->cap_buffers);
    m->buffers[m->n_buffers].data = NULL;
    m->buffers[m->n_buffers++].len = 0; /* the schema's empty sentinel */
}

void tfl_quant_release(TflQuant *q)
{
    free(q->scale);
    free(q->zero_point);
    memset(q, 0, sizeof *q);
}

void tfl_model_release(TflModel *m)
{
    for (int i = 0; i < m->n_tensors; i++) {
        free(m->tensors[i].name);
        tfl_quant_release(&m->tensors[i].q);
    }
    for (int i = 0; i < m->n_buffers; i++)
        free(m->buffers[i].data);
    free(m->tensors);
    free(m->buffers);
    free(m->ops);
    free(m->inputs);
    free(m->outputs);
    free(m->description);
    free(m->min_runtime);
    memset(m, 0, sizeof *m);
}

TflQuant tfl_quant1(float scale, int64_t zero_point)
{
    TflQuant q = { .n = 1, .qdim = 0 };
    q.scale = xmalloc(sizeof *q.scale);
    q.zero_point = xmalloc(sizeof *q.zero_point);
    q.scale[0] = scale;
    q.zero_point[0] = zero_point;
    return q;
}

TflQuant tfl_quant_axis(const float *scales, int n, int qdim)
{
    TflQuant q = { .n = n, .qdim = qdim };
    q.scale = xmalloc((size_t)n * sizeof *q.scale);
    q.zero_point = xcalloc((size_t)n, sizeof *q.zero_point);
    memcpy(q.scale, scales, (size_t)n * sizeof *q.scale);
    return q;
}

static TflQuant tfl_quant_copy(const TflQuant *q)
{
    if (!q || q->n == 0)
        return (TflQuant){ 0 };
    TflQuant c = tfl_quant_axis(q->scale, q->n, q->qdim);
    memcpy(c.zero_point, q->zero_point, (size_t)q->n * sizeof *c.zero_point);
    return c;
}

size_t tfl_type_size(int type)
{
    switch (type) {
    case TFL_FLOAT32: case TFL_INT32: return 4;
    case TFL_FLOAT16: case TFL_INT16: return 2;
    case TFL_INT8: case TFL_UINT8: case TFL_BOOL: return 1;
    case TFL_INT64: return 8;
    default: return 0;
    }
}

int tfl_tensor(TflModel *m, const char *name, int type, int nd, const int64_t *dim,
               const TflQuant *q)
{
    QS_ASSERT(nd >= 0 && nd <= TFL_MAX_DIMS);
    /* q may be another tensor's (a PAD's output takes its input's grid): copied before
     * the array grows and moves it */
    TflQuant qc = tfl_quant_copy(q);
    TFL_GROW(m->tensors, m->n_tensors, m->cap_tensors);
    TflTensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->type = type;
    t->nd = nd;
    for (int i = 0; i < nd; i++)
        t->dim[i] = (int32_t)dim[i];
    t->q = qc;
    return m->n_tensors++;
}

int tfl_const(TflModel *m, const char *name, int type, int nd, const int64_t *dim,
              const void *data, size_t bytes, const TflQuant *q)
{
    int t = tfl_tensor(m, name, type, nd, dim, q);
    TFL_GROW(m->buffers, m->n_buffers, m->cap_buffers);
    void *copy = xmalloc(bytes ? bytes : 1);
    memcpy(copy, data, bytes);
    m->buffers[m->n_buffers].data = copy;
    m->buffers[m->n_buffers].len = bytes;
    m->tensors[t].buffer = m->n_buffers++;
    return t;
}

void tfl_op(TflModel *m, int code, int version, const int *in, int n_in, int out,
            const TflOpts *opt)
{
    QS_ASSERT(n_in <= TFL_MAX_OP_IN);
    TFL_GROW(m->ops, m->n_ops, m->cap_ops);
    TflOp *o = &m->ops[m->n_ops++];
    memset(o, 0, sizeof *o);
    o->code = code;
    o->version = version;
    memcpy(o->in, in, (size_t)n_in * sizeof *in);
    o->n_in = n_in;
    o->out = out;
    if (opt)
        o->opt = *opt;
}

void tfl_add_input(TflModel *m, int tensor)
{
    m->inputs = xrealloc(m->inputs, (size_t)(m->n_inputs + 1) * sizeof *m->inputs);
    m->inputs[m->n_inputs++] = tensor;
}

void tfl_add_output(TflModel *m, int tensor)
{
    m->outputs = xrealloc(m->outputs, (size_t)(m->n_outputs + 1) * sizeof *m->outputs);
    m->outputs[m->n_outputs++] = tensor;
}

/* ---- serialization ---------------------------------------------------------------------- */

static FbRef ser_i32_vector(FbBuilder *b, const int *v, int n)
{
    int32_t *tmp = xmalloc((size_t)(n ? n : 1) * sizeof *tmp);
    for (int i = 0; i < n; i++)
        tmp[i] = v[i];
    FbRef r = fb_vector(b, tmp, (size_t)n, 4, 4);
    free(tmp);
    return r;
}

static FbRef ser_quant(FbBuilder *b, const TflQuant *q)
{
    FbRef sc = fb_vector(b, q->scale, (size_t)q->n, 4, 4);
    FbRef zp = fb_vector(b, q->zero_point, (size_t)q->n, 8, 8);
    fb_table_begin(b);
    fb_add_ref(b, QUANT_SCALE, sc);
    fb_add_ref(b, QUANT_ZERO_POINT, zp);
    fb_add_i32(b, QUANT_QUANTIZED_DIMENSION, q->qdim, 0);
    return fb_table_end(b);
}

static FbRef ser_tensor(FbBuilder *b, const TflTensor *t)
{
    FbRef shape = fb_vector(b, t->dim, (size_t)t->nd, 4, 4);
    FbRef name = fb_string(b, t->name);
    FbRef q = t->q.n ? ser_quant(b, &t->q) : 0;
    fb_table_begin(b);
    fb_add_ref(b, TENSOR_SHAPE, shape);
    fb_add_u8(b, TENSOR_TYPE, (uint8_t)t->type, 0);
    fb_add_u32(b, TENSOR_BUFFER, (uint32_t)t->buffer, 0);
    fb_add_ref(b, TENSOR_NAME, name);
    fb_add_ref(b, TENSOR_QUANTIZATION, q);
    fb_add_u8(b, TENSOR_HAS_RANK, 1, 0);
    return fb_table_end(b);
}

/* The options table of o (0 when it has none). */
static FbRef ser_options(FbBuilder *b, const TflOpts *p)
{
    if (p->kind == TFL_OPT_NONE)
        return 0;
    fb_table_begin(b);
    switch (p->kind) {
    case TFL_OPT_CONV2D:
        fb_add_u8(b, CONV2D_PADDING, (uint8_t)p->padding, 0);
        fb_add_i32(b, CONV2D_STRIDE_W, p->stride_w, 0);
        fb_add_i32(b, CONV2D_STRIDE_H, p->stride_h, 0);
        fb_add_u8(b, CONV2D_ACTIVATION, (uint8_t)p->act, 0);
        fb_add_i32(b, CONV2D_DILATION_W, p->dilation_w, 1);
        fb_add_i32(b, CONV2D_DILATION_H, p->dilation_h, 1);
        break;
    case TFL_OPT_DEPTHWISE_CONV2D:
        fb_add_u8(b, DW_PADDING, (uint8_t)p->padding, 0);
        fb_add_i32(b, DW_STRIDE_W, p->stride_w, 0);
        fb_add_i32(b, DW_STRIDE_H, p->stride_h, 0);
        fb_add_i32(b, DW_DEPTH_MULTIPLIER, p->depth_multiplier, 0);
        fb_add_u8(b, DW_ACTIVATION, (uint8_t)p->act, 0);
        fb_add_i32(b, DW_DILATION_W, p->dilation_w, 1);
        fb_add_i32(b, DW_DILATION_H, p->dilation_h, 1);
        break;
    case TFL_OPT_POOL2D:
        fb_add_u8(b, POOL2D_PADDING, (uint8_t)p->padding, 0);
        fb_add_i32(b, POOL2D_STRIDE_W, p->stride_w, 0);
        fb_add_i32(b, POOL2D_STRIDE_H, p->stride_h, 0);
        fb_add_i32(b, POOL2D_FILTER_W, p->filter_w, 0);
        fb_add_i32(b, POOL2D_FILTER_H, p->filter_h, 0);
        fb_add_u8(b, POOL2D_ACTIVATION, (uint8_t)p->act, 0);
        break;
    case TFL_OPT_FULLY_CONNECTED:
        fb_add_u8(b, FC_ACTIVATION, (uint8_t)p->act, 0);
        fb_add_u8(b, FC_KEEP_NUM_DIMS, p->keep_num_dims, 0);
        fb_add_u8(b, FC_ASYMMETRIC_INPUTS, p->asymmetric_inputs, 0);
        break;
    case TFL_OPT_SOFTMAX:
        fb_add_f32(b, SOFTMAX_BETA, p->beta, 0.0f);
        break;
    case TFL_OPT_CONCATENATION:
        fb_add_i32(b, CONCAT_AXIS, p->axis, 0);
        fb_add_u8(b, CONCAT_ACTIVATION, (uint8_t)p->act, 0);
        break;
    case TFL_OPT_ADD: case TFL_OPT_MUL: case TFL_OPT_SUB: case TFL_OPT_DIV:
        fb_add_u8(b, ADD_ACTIVATION, (uint8_t)p->act, 0);
        break;
    case TFL_OPT_REDUCER:
        fb_add_u8(b, REDUCER_KEEP_DIMS, p->keep_dims, 0);
        break;
    case TFL_OPT_RESIZE_NEAREST_NEIGHBOR:
        fb_add_u8(b, RESIZEOPT_ALIGN_CORNERS, p->align_corners, 0);
        fb_add_u8(b, RESIZEOPT_HALF_PIXEL_CENTERS, p->half_pixel_centers, 0);
        break;
    case TFL_OPT_LEAKY_RELU:
        fb_add_f32(b, LEAKY_RELU_ALPHA, p->alpha, 0.0f);
        break;
    case TFL_OPT_STRIDED_SLICE:
        fb_add_i32(b, STRIDED_SLICE_END_MASK, p->end_mask, 0);
        break;
    default: /* option tables without fields (Reshape, Pad, Transpose, (De)Quantize) or
              * with their defaults (BatchMatMul, Gelu, Pow) */
        break;
    }
    return fb_table_end(b);
}

/* Unique (code, version) pairs in first-use order; op_code[i] receives op i's index. */
static int ser_opcodes(const TflModel *m, int *codes, int *versions, int *op_code)
{
    int n = 0;
    for (int i = 0; i < m->n_ops; i++) {
        int k = 0;
        while (k < n && !(codes[k] == m->ops[i].code && versions[k] == m->ops[i].version))
            k++;
        if (k == n) {
            codes[n] = m->ops[i].code;
            versions[n++] = m->ops[i].version;
        }
        op_code[i] = k;
    }
    return n;
}

static FbRef ser_opcode(FbBuilder *b, int code, int version)
{
    fb_table_begin(b);
    int dep = code < TFL_OP_PLACEHOLDER_FOR_GREATER_OP_CODES
                  ? code : TFL_OP_PLACEHOLDER_FOR_GREATER_OP_CODES;
    fb_add_u8(b, OPCODE_DEPRECATED_BUILTIN_CODE, (uint8_t)dep, 0);
    fb_add_i32(b, OPCODE_VERSION, version, 1);
    fb_add_i32(b, OPCODE_BUILTIN_CODE, code, 0);
    return fb_table_end(b);
}

static FbRef ser_operator(FbBuilder *b, const TflOp *o, int opcode_index)
{
    FbRef in = ser_i32_vector(b, o->in, o->n_in);
    FbRef out = ser_i32_vector(b, &o->out, 1);
    FbRef opt = ser_options(b, &o->opt);
    fb_table_begin(b);
    fb_add_u32(b, OPERATOR_OPCODE_INDEX, (uint32_t)opcode_index, 0);
    fb_add_ref(b, OPERATOR_INPUTS, in);
    fb_add_ref(b, OPERATOR_OUTPUTS, out);
    fb_add_u8(b, OPERATOR_BUILTIN_OPTIONS_TYPE, (uint8_t)(opt ? o->opt.kind : 0), 0);
    fb_add_ref(b, OPERATOR_BUILTIN_OPTIONS, opt);
    return fb_table_end(b);
}

static FbRef ser_subgraph(FbBuilder *b, const TflModel *m, const int *op_code)
{
    int n = m->n_tensors > m->n_ops ? m->n_tensors : m->n_ops;
    FbRef *refs = xmalloc((size_t)(n ? n : 1) * sizeof *refs);
    for (int i = 0; i < m->n_tensors; i++)
        refs[i] = ser_tensor(b, &m->tensors[i]);
    FbRef tensors = fb_vector_refs(b, refs, (size_t)m->n_tensors);
    for (int i = 0; i < m->n_ops; i++)
        refs[i] = ser_operator(b, &m->ops[i], op_code[i]);
    FbRef ops = fb_vector_refs(b, refs, (size_t)m->n_ops);
    free(refs);
    FbRef in = ser_i32_vector(b, m->inputs, m->n_inputs);
    FbRef out = ser_i32_vector(b, m->outputs, m->n_outputs);
    FbRef name = fb_string(b, "main");
    fb_table_begin(b);
    fb_add_ref(b, SUBGRAPH_TENSORS, tensors);
    fb_add_ref(b, SUBGRAPH_INPUTS, in);
    fb_add_ref(b, SUBGRAPH_OUTPUTS, out);
    fb_add_ref(b, SUBGRAPH_OPERATORS, ops);
    fb_add_ref(b, SUBGRAPH_NAME, name);
    return fb_table_end(b);
}

static FbRef ser_buffer(FbBuilder *b, const void *data, size_t len)
{
    FbRef d = len ? fb_vector(b, data, len, 1, 16) : 0;
    fb_table_begin(b);
    fb_add_ref(b, BUFFER_DATA, d);
    return fb_table_end(b);
}

/* One TensorMap per tensor index in idx (named after the tensor). */
static FbRef ser_tensor_maps(FbBuilder *b, const TflModel *m, const int *idx, int n)
{
    FbRef *maps = xmalloc((size_t)(n ? n : 1) * sizeof *maps);
    for (int i = 0; i < n; i++) {
        FbRef name = fb_string(b, m->tensors[idx[i]].name);
        fb_table_begin(b);
        fb_add_ref(b, TENSORMAP_NAME, name);
        fb_add_u32(b, TENSORMAP_TENSOR_INDEX, (uint32_t)idx[i], 0);
        maps[i] = fb_table_end(b);
    }
    FbRef v = fb_vector_refs(b, maps, (size_t)n);
    free(maps);
    return v;
}

static FbRef ser_signature(FbBuilder *b, const TflModel *m)
{
    FbRef in = ser_tensor_maps(b, m, m->inputs, m->n_inputs);
    FbRef out = ser_tensor_maps(b, m, m->outputs, m->n_outputs);
    FbRef key = fb_string(b, "serving_default");
    fb_table_begin(b);
    fb_add_ref(b, SIGNATURE_INPUTS, in);
    fb_add_ref(b, SIGNATURE_OUTPUTS, out);
    fb_add_ref(b, SIGNATURE_KEY, key);
    FbRef sig = fb_table_end(b);
    return fb_vector_refs(b, &sig, 1);
}

QsStatus tfl_serialize(const TflModel *m, void **out, size_t *len, QsError *err)
{
    FbBuilder b;
    fb_init(&b);
    int nops = m->n_ops ? m->n_ops : 1;
    int *codes = xmalloc((size_t)nops * sizeof *codes), *versions = xmalloc((size_t)nops * sizeof *versions);
    int *op_code = xmalloc((size_t)nops * sizeof *op_code);
    int n_codes = ser_opcodes(m, codes, versions, op_code);

    /* the metadata buffer is the last one: min_runtime_version, NUL-padded to 16 bytes
     * as the TFLite converter writes it */
    int n_buf = m->n_buffers + (m->min_runtime ? 1 : 0);
    FbRef *refs = xmalloc((size_t)(n_buf > n_codes ? n_buf : n_codes + 1) * sizeof *refs);
    for (int i = 0; i < m->n_buffers; i++)
        refs[i] = ser_buffer(&b, m->buffers[i].data, m->buffers[i].len);
    FbRef metadata = 0;
    if (m->min_runtime) {
        char ver[16] = { 0 };
        strncpy(ver, m->min_runtime, sizeof ver - 1);
        refs[m->n_buffers] = ser_buffer(&b, ver, sizeof ver);
        FbRef name = fb_string(&b, "min_runtime_version");
        fb_table_begin(&b);
        fb_add_ref(&b, METADATA_NAME, name);
        fb_add_u32(&b, METADATA_BUFFER, (uint32_t)m->n_buffers, 0);
        FbRef md = fb_table_end(&b);
        metadata = fb_vector_refs(&b, &md, 1);
    }
    FbRef buffers = fb_vector_refs(&b, refs, (size_t)n_buf);
    FbRef sg = ser_subgraph(&b, m, op_code);
    FbRef subgraphs = fb_vector_refs(&b, &sg, 1);
    for (int i = 0; i < n_codes; i++)
        refs[i] = ser_opcode(&b, codes[i], versions[i]);
    FbRef opcodes = fb_vector_refs(&b, refs, (size_t)n_codes);
    FbRef desc = fb_string(&b, m->description ? m->description : "qscope");
    FbRef sigs = ser_signature(&b, m);
    fb_table_begin(&b);
    fb_add_u32(&b, MODEL_VERSION, TFL_SCHEMA_VERSION, 0);
    fb_add_ref(&b, MODEL_OPERATOR_CODES, opcodes);
    fb_add_ref(&b, MODEL_SUBGRAPHS, subgraphs);
    fb_add_ref(&b, MODEL_DESCRIPTION, desc);
    fb_add_ref(&b, MODEL_BUFFERS, buffers);
    fb_add_ref(&b, MODEL_METADATA, metadata);
    fb_add_ref(&b, MODEL_SIGNATURE_DEFS, sigs);
    FbRef root = fb_table_end(&b);
    QsStatus st = fb_finish(&b, root, TFL_IDENT, out, len, err);
    fb_release(&b);
    free(refs);
    free(codes);
    free(versions);
    free(op_code);
    return st;
}
