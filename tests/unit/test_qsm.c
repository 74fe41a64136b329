/* The .qsm format: a model built in code survives save/load bit for bit (tensors, graph,
 * attributes, metadata, run outputs); the file is a valid safetensors file with aligned
 * tensors; every kind of broken file (generated here from valid images, and the committed
 * corpus in tests/fixtures/bad_qsm/) fails with the right code and a message that says
 * what and where, without crashing or leaking (run under ASan). */
#include <cJSON.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fileio.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "native/qsm.h"
#include "run/run.h"
#include "test_util.h"

/* ------------------------------------------------------------------------------------
 * A model built in code */

static uint32_t rng_state = 12345;

/* xorshift32 mapped to [-1, 1): reproducible without libc's rand. */
static float rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

static void add_const(Model *m, const char *name, DType dt, Shape s, bool param)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(dt, s, &err);
    QS_ASSERT(t);
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case DT_F32: ((float *)t->data)[i] = rnd(); break;
        case DT_F16: ((uint16_t *)t->data)[i] = (uint16_t)(0x3C00 + i); break;
        case DT_I8: ((int8_t *)t->data)[i] = (int8_t)(i * 37 - 100); break;
        case DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)(i * 91); break;
        case DT_I32: ((int32_t *)t->data)[i] = (int32_t)(i * 100003 - 7); break;
        case DT_I64: ((int64_t *)t->data)[i] = (int64_t)i * 1000000000007LL - 3; break;
        default: break;
        }
    }
    CHECK_OK(graph_add_const(&m->graph, name, t, param, &err), &err);
}

static void add_node(Model *m, const char *op, const char *name, const char *const *in, int n_in,
                     const char *out, Attr *attrs, int n_attrs)
{
    QsError err = { 0 };
    int k = op_find(op);
    QS_ASSERT(k >= 0);
    CHECK_OK(graph_add_node(&m->graph, k, name, in, n_in, out, attrs, n_attrs, &err), &err);
    for (int i = 0; i < n_attrs; i++)
        attr_release(&attrs[i]);
}

/* x (1, 6, 6) -> Conv 3x3 pad 1 -> BatchNorm -> Relu -> Add(residual) -> MaxPool 2x2 ->
 * Flatten -> Dense -> LeakyRelu -> Gemm (transB) -> Gelu(tanh) -> Clip -> Softmax, plus
 * unused constants of every dtype (one empty) that exercise ordering and alignment. */
static Model *build_model(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Graph *g = &m->graph;
    Shape xs = shape_of(3, (int64_t)1, (int64_t)6, (int64_t)6);
    CHECK_OK(graph_add_input(g, "x", &xs, &err), &err);
    add_const(m, "extra.i8", DT_I8, shape_of(1, (int64_t)3), false);
    add_const(m, "conv1.weight", DT_F32, shape_of(4, (int64_t)4, (int64_t)1, (int64_t)3, (int64_t)3), true);
    add_const(m, "extra.f16", DT_F16, shape_of(2, (int64_t)1, (int64_t)5), false);
    add_const(m, "conv1.bias", DT_F32, shape_of(1, (int64_t)4), true);
    add_const(m, "bn1.scale", DT_F32, shape_of(1, (int64_t)4), true);
    add_const(m, "bn1.bias", DT_F32, shape_of(1, (int64_t)4), true);
    add_const(m, "bn1.mean", DT_F32, shape_of(1, (int64_t)4), false);
    add_const(m, "bn1.var", DT_F32, shape_of(1, (int64_t)4), false);
    float *var = tensor_f32(g->values[graph_find_value(g, "bn1.var")].data);
    for (int i = 0; i < 4; i++)
        var[i] = fabsf(var[i]) + 0.5f;
    add_const(m, "extra.u8", DT_U8, shape_of(1, (int64_t)7), false);
    add_const(m, "fc1.weight", DT_F32, shape_of(2, (int64_t)5, (int64_t)36), true);
    add_const(m, "fc1.bias", DT_F32, shape_of(1, (int64_t)5), true);
    add_const(m, "extra.i64", DT_I64, shape_of(1, (int64_t)2), false);
    add_const(m, "fc2.weight", DT_F32, shape_of(2, (int64_t)3, (int64_t)5), true);
    add_const(m, "fc2.bias", DT_F32, shape_of(1, (int64_t)3), true);
    add_const(m, "extra.i32", DT_I32, shape_of(2, (int64_t)3, (int64_t)1), false);
    add_const(m, "extra.empty", DT_F32, shape_of(2, (int64_t)0, (int64_t)4), false);

    const int64_t pads[4] = { 1, 1, 1, 1 }, ones[2] = { 1, 1 }, two[2] = { 2, 2 };
    /* An attribute no op reads: floats that must survive exactly, including the ones
     * "%.9g" must not lose (the smallest subnormal, FLT_MAX, -0) and the non-finite ones. */
    const float odd[8] = { 0.1f, -1.0f / 3.0f, 0x1p-149f, FLT_MAX, -0.0f, INFINITY,
                           -INFINITY, NAN };
    const int64_t big[3] = { -9007199254740992LL, 0, 9007199254740992LL };
    Attr conv_attrs[] = { attr_ints("pads", pads, 4), attr_ints("strides", ones, 2),
                          attr_int("group", 1), attr_floats("x", odd, 8),
                          attr_ints("y", big, 3), attr_str("note", "ünïcödé \"quoted\"\n") };
    add_node(m, "Conv", "conv1", (const char *[]){ "x", "conv1.weight", "conv1.bias" }, 3,
             "conv1_out", conv_attrs, 6);
    Attr bn_attrs[] = { attr_float("epsilon", 1e-5f) };
    add_node(m, "BatchNormalization", "bn1",
             (const char *[]){ "conv1_out", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var" }, 5,
             "bn1_out", bn_attrs, 1);
    add_node(m, "Relu", "relu1", (const char *[]){ "bn1_out" }, 1, "relu1_out", NULL, 0);
    add_node(m, "Add", "add1", (const char *[]){ "relu1_out", "conv1_out" }, 2, "add1_out", NULL,
             0);
    Attr pool_attrs[] = { attr_ints("kernel_shape", two, 2), attr_ints("strides", two, 2) };
    add_node(m, "MaxPool", "pool1", (const char *[]){ "add1_out" }, 1, "pool1_out", pool_attrs, 2);
    Attr flat_attrs[] = { attr_int("axis", 1) };
    add_node(m, "Flatten", "flat", (const char *[]){ "pool1_out" }, 1, "flat_out", flat_attrs, 1);
    add_node(m, "Dense", "fc1", (const char *[]){ "flat_out", "fc1.weight", "fc1.bias" }, 3,
             "fc1_out", NULL, 0);
    Attr lr_attrs[] = { attr_float("alpha", 0.01f) };
    add_node(m, "LeakyRelu", "lrelu", (const char *[]){ "fc1_out" }, 1, "lrelu_out", lr_attrs, 1);
    Attr gemm_attrs[] = { attr_int("transB", 1), attr_float("alpha", 1.0f) };
    add_node(m, "Gemm", "fc2", (const char *[]){ "lrelu_out", "fc2.weight", "fc2.bias" }, 3,
             "fc2_out", gemm_attrs, 2);
    Attr gelu_attrs[] = { attr_str("approximate", "tanh") };
    add_node(m, "Gelu", "gelu", (const char *[]){ "fc2_out" }, 1, "gelu_out", gelu_attrs, 1);
    Attr clip_attrs[] = { attr_float("min", 0.0f), attr_float("max", 6.0f) };
    add_node(m, "Clip", "clip", (const char *[]){ "gelu_out" }, 1, "clip_out", clip_attrs, 2);
    add_node(m, "Softmax", "softmax", (const char *[]){ "clip_out" }, 1, "probs", NULL, 0);
    CHECK_OK(graph_add_output(g, "probs", &err), &err);
    CHECK_OK(graph_add_output(g, "fc1_out", &err), &err);
    CHECK_OK(graph_finalize(g, &err), &err);
    model_meta_set(m, "task", "classify");
    model_meta_set(m, "labels", "cat,dog,\"bird\"");
    model_meta_set(m, "source", "built by test_qsm.c; ünïcödé");
    return m;
}

/* ------------------------------------------------------------------------------------
 * Comparisons */

static bool float_same(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b); /* written as "NaN": the payload is not kept */
    return memcmp(&a, &b, sizeof a) == 0;
}

static bool attr_equal(const Attr *a, const Attr *b)
{
    if (strcmp(a->name, b->name) != 0 || a->type != b->type)
        return false;
    switch (a->type) {
    case ATTR_INT: return a->i == b->i;
    case ATTR_FLOAT: return float_same(a->f, b->f);
    case ATTR_STRING: return strcmp(a->s, b->s) == 0;
    case ATTR_INTS:
        if (a->n != b->n)
            return false;
        for (int i = 0; i < a->n; i++)
            if (a->ints[i] != b->ints[i])
                return false;
        return true;
    case ATTR_FLOATS:
        if (a->n != b->n)
            return false;
        for (int i = 0; i < a->n; i++)
            if (!float_same(a->floats[i], b->floats[i]))
                return false;
        return true;
    }
    return false;
}

static const char *in_name(const Graph *g, const Node *n, int i)
{
    return n->in[i] >= 0 ? g->values[n->in[i]].name : "";
}

/* Every value, tensor byte, node, attribute, output and metadata entry of a is in b. */
static void expect_same_model(const Model *a, const Model *b)
{
    const Graph *ga = &a->graph, *gb = &b->graph;
    CHECK(ga->n_values == gb->n_values);
    CHECK(ga->n_nodes == gb->n_nodes);
    CHECK(ga->n_inputs == gb->n_inputs && ga->n_outputs == gb->n_outputs);
    CHECK(gb->finalized);
    for (int i = 0; i < ga->n_values; i++) {
        const Value *va = &ga->values[i];
        int j = graph_find_value(gb, va->name);
        if (!CHECK(j >= 0)) {
            fprintf(stderr, "  value '%s' missing after load\n", va->name);
            continue;
        }
        const Value *vb = &gb->values[j];
        CHECK(va->kind == vb->kind);
        CHECK(va->is_param == vb->is_param);
        CHECK(shape_equal(&va->shape, &vb->shape));
        if (va->kind == VAL_CONST && vb->kind == VAL_CONST) {
            CHECK(va->data->dtype == vb->data->dtype);
            CHECK(shape_equal(&va->data->shape, &vb->data->shape));
            CHECK(!vb->data->owns_data);
            CHECK(tensor_bytes(va->data) == tensor_bytes(vb->data));
            if (!CHECK(memcmp(va->data->data, vb->data->data, tensor_bytes(va->data)) == 0))
                fprintf(stderr, "  tensor '%s' differs after load\n", va->name);
            /* Views into the one arena or, loaded from a file, into its mapping; naturally
             * aligned. */
            const char *p = vb->data->data, *arena = b->arena;
            size_t nb = tensor_bytes(vb->data);
            CHECK((p >= arena && p + nb <= arena + b->arena_bytes) ||
                  (nb && model_maps(b, p) && model_maps(b, p + nb - 1)));
            CHECK((uintptr_t)p % dtype_size(vb->data->dtype) == 0);
        }
    }
    CHECK((uintptr_t)b->arena % 64 == 0);
    for (int i = 0; i < ga->n_inputs; i++)
        CHECK(strcmp(ga->values[ga->inputs[i]].name, gb->values[gb->inputs[i]].name) == 0);
    for (int i = 0; i < ga->n_outputs; i++)
        CHECK(strcmp(ga->values[ga->outputs[i]].name, gb->values[gb->outputs[i]].name) == 0);
    for (int i = 0; i < ga->n_nodes && i < gb->n_nodes; i++) {
        const Node *na = &ga->nodes[i], *nb = &gb->nodes[i];
        CHECK(strcmp(na->name, nb->name) == 0);
        CHECK(na->op == nb->op);
        CHECK(strcmp(ga->values[na->out].name, gb->values[nb->out].name) == 0);
        if (!CHECK(na->n_in == nb->n_in && na->n_attrs == nb->n_attrs))
            continue;
        for (int k = 0; k < na->n_in; k++)
            CHECK(strcmp(in_name(ga, na, k), in_name(gb, nb, k)) == 0);
        for (int k = 0; k < na->n_attrs; k++)
            if (!CHECK(attr_equal(&na->attrs[k], &nb->attrs[k])))
                fprintf(stderr, "  node '%s' attribute '%s' differs\n", na->name,
                        na->attrs[k].name);
    }
    CHECK(a->n_meta == b->n_meta);
    for (int i = 0; i < a->n_meta; i++) {
        const char *v = model_meta_get(b, a->meta[i].key);
        CHECK(v && strcmp(v, a->meta[i].value) == 0);
    }
}

/* Runs both models on the same batch and compares every output bit for bit. */
static void expect_same_outputs(const Model *a, const Model *b)
{
    QsError err = { 0 };
    Tensor *x = tensor_new(DT_F32, shape_of(4, (int64_t)3, (int64_t)1, (int64_t)6, (int64_t)6),
                           &err);
    for (int64_t i = 0; i < tensor_numel(x); i++)
        tensor_f32(x)[i] = rnd() * 2;
    const Tensor *ins[1] = { x };
    Run ra, rb;
    run_init(&ra, &a->graph);
    run_init(&rb, &b->graph);
    if (CHECK_OK(run_forward(&ra, ins, NULL, NULL, &err), &err) &&
        CHECK_OK(run_forward(&rb, ins, NULL, NULL, &err), &err)) {
        for (int k = 0; k < a->graph.n_outputs; k++) {
            const Tensor *oa = run_output(&ra, k), *ob = run_output(&rb, k);
            CHECK(shape_equal(&oa->shape, &ob->shape));
            CHECK(memcmp(oa->data, ob->data, tensor_bytes(oa)) == 0);
        }
        /* The probabilities are real numbers, not a degenerate run: rows sum to 1. */
        const Tensor *p = run_output(&rb, 0);
        for (int r = 0; r < 3; r++) {
            const float *row = tensor_f32(p) + 3 * r;
            CHECK(fabsf(row[0] + row[1] + row[2] - 1.0f) < 1e-5f);
        }
    }
    run_release(&ra);
    run_release(&rb);
    tensor_free(x);
}

static uint64_t header_len(const unsigned char *img)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | img[i];
    return n;
}

/* The image is safetensors as the spec says: padded header, contiguous aligned tensors
 * largest element first. Parsed here independently of qsm.c with cJSON. */
static void expect_safetensors_layout(const unsigned char *img, size_t len)
{
    uint64_t n = header_len(img);
    CHECK(n % 8 == 0 && 8 + n <= len);
    CHECK(img[8] == '{');
    cJSON *h = cJSON_ParseWithLength((const char *)img + 8, n);
    if (!CHECK(h != NULL))
        return;
    size_t data_len = len - 8 - n, covered = 0, last_elem = 8;
    uint64_t prev_end = 0;
    int entries = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, h)
    {
        if (strcmp(t->string, "__metadata__") == 0) {
            CHECK(t == h->child); /* written first */
            const cJSON *kv;
            cJSON_ArrayForEach(kv, t)
            {
                CHECK(cJSON_IsString(kv));
            }
            continue;
        }
        entries++;
        DType dt;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        if (!CHECK(cJSON_IsString(d) && dtype_from_st_name(d->valuestring, &dt) == 0))
            continue;
        uint64_t b = (uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble,
                 e = (uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble;
        CHECK(b == prev_end); /* header order is offset order, no holes */
        CHECK((8 + n + b) % dtype_size(dt) == 0);
        CHECK(dtype_size(dt) <= last_elem);
        last_elem = dtype_size(dt);
        prev_end = e;
        covered += e - b;
    }
    CHECK(covered == data_len && prev_end == data_len);
    CHECK(entries == 16);
    cJSON_Delete(h);
}

static void test_roundtrip(void)
{
    QsError err = { 0 };
    Model *m = build_model();
    void *img = NULL, *img2 = NULL;
    size_t len = 0, len2 = 0;
    if (!CHECK_OK(qsm_serialize(m, &img, &len, &err), &err)) {
        model_free(m);
        return;
    }
    expect_safetensors_layout(img, len);
    Model *back = qsm_parse(img, len, "roundtrip.qsm", &err);
    if (CHECK_OK(back ? QS_OK : err.code, &err)) {
        expect_same_model(m, back);
        expect_same_outputs(m, back);
        /* A loaded model writes the identical file again. */
        CHECK_OK(qsm_serialize(back, &img2, &len2, &err), &err);
        CHECK(len2 == len && img2 && memcmp(img, img2, len) == 0);
        /* The graph JSON keeps the documented attribute forms (escaped, as it is a string
         * inside the header). */
        char *hdr = strndup((const char *)img + 8, (size_t)header_len(img));
        CHECK(strstr(hdr, "\\\"strides\\\":{\\\"ints\\\":[1,1]}"));
        CHECK(strstr(hdr, "\\\"approximate\\\":{\\\"s\\\":\\\"tanh\\\"}"));
        CHECK(strstr(hdr, "\\\"alpha\\\":{\\\"f\\\":0.00999999978}"));
        CHECK(strstr(hdr, "\\\"group\\\":{\\\"i\\\":1}"));
        CHECK(strstr(hdr, "\\\"x\\\":{\\\"floats\\\":[0.100000001,-0.333333343,"
                          "1.40129846e-45,3.40282347e+38,-0,\\\"Infinity\\\",\\\"-Infinity\\\","
                          "\\\"NaN\\\"]}"));
        CHECK(strstr(hdr, "{\"__metadata__\":{\"format\":\"qsm\",\"qsm.version\":\"1\","
                          "\"qsm.graph\":\"{\\\"inputs\\\":[{\\\"name\\\":\\\"x\\\","
                          "\\\"shape\\\":[1,6,6]}]") == hdr);
        CHECK(strstr(hdr, "\"meta.task\":\"classify\""));
        free(hdr);
    }

    /* Through the file system: qsm_save writes atomically, qsm_load reads it back. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_qsm_%d.qsm", (int)getpid());
    if (CHECK_OK(qsm_save(path, m, &err), &err)) {
        Model *f = qsm_load(path, &err);
        if (CHECK_OK(f ? QS_OK : err.code, &err))
            expect_same_model(m, f);
        model_free(f);
        void *disk;
        size_t dlen;
        if (CHECK_OK(fileio_read(path, &disk, &dlen, &err), &err)) {
            CHECK(dlen == len && memcmp(disk, img, len) == 0);
            free(disk);
        }
        char tmp[80];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        CHECK(access(tmp, F_OK) != 0);
        /* Kept for checking with other safetensors readers when asked to. */
        const char *keep = getenv("QSM_TEST_KEEP");
        if (keep)
            CHECK_OK(qsm_save(keep, m, &err), &err);
        unlink(path);
    }
    expect_error("load missing file", qsm_load("/nonexistent/dir/m.qsm", &err) ? QS_OK : err.code,
                 &err, QS_EIO, "/nonexistent/dir/m.qsm");

    /* Names the format reserves cannot be saved (they would not load back as written). */
    Tensor *t = tensor_new(DT_F32, shape_of(1, (int64_t)1), &err);
    CHECK_OK(graph_add_const(&m->graph, "variant/int8/x", t, false, &err), &err);
    void *bad = NULL;
    size_t bad_len = 0;
    expect_error("reserved name", qsm_serialize(m, &bad, &bad_len, &err), &err, QS_EINVAL,
                 "tensor name 'variant/int8/x' is reserved");
    CHECK(bad == NULL);
    expect_error("save reserved name", qsm_save(path, m, &err), &err, QS_EINVAL, path);
    CHECK(access(path, F_OK) != 0);
    free(img);
    free(img2);
    model_free(back);
    model_free(m);
}

/* Ints beyond 2^53 cannot be written: a JSON reader would round them. */
static void test_unwritable_int(void)
{
    QsError err = { 0 };
    Model *m = model_new();
    Shape s = shape_of(1, (int64_t)4);
    CHECK_OK(graph_add_input(&m->graph, "x", &s, &err), &err);
    Attr a = attr_int("big", 9007199254740993LL);
    CHECK_OK(graph_add_node(&m->graph, op_find("Relu"), "r", (const char *[]){ "x" }, 1, "y", &a,
                            1, &err),
             &err);
    attr_release(&a);
    CHECK_OK(graph_add_output(&m->graph, "y", &err), &err);
    void *img = NULL;
    size_t len;
    expect_error("int beyond 2^53", qsm_serialize(m, &img, &len, &err), &err, QS_EINVAL,
                 "node 'r': attribute 'big'[0] = 9007199254740993 is beyond +-2^53");
    model_free(m);
}

/* ------------------------------------------------------------------------------------
 * Hand-made images for broken files */

typedef struct {
    unsigned char *p;
    size_t len;
} Image;

/* Writes ' as " so that JSON in C strings stays readable. */
static char *dq(const char *s)
{
    char *r = xstrdup(s);
    for (char *c = r; *c; c++)
        if (*c == '\'')
            *c = '"';
    return r;
}

/* An image from a raw header text (padded with spaces to 8) and data bytes. */
static Image image_raw(const char *header, const void *data, size_t data_len)
{
    size_t hl = strlen(header), n = (hl + 7) / 8 * 8;
    Image im = { xmalloc(8 + n + data_len), 8 + n + data_len };
    for (int i = 0; i < 8; i++)
        im.p[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memset(im.p + 8, ' ', n);
    memcpy(im.p + 8, header, hl);
    if (data_len)
        memcpy(im.p + 8 + n, data, data_len);
    return im;
}

#define BASE_GRAPH                                                                           \
    "{'inputs':[{'name':'x','shape':[3]}],'outputs':['y'],"                                 \
    "'nodes':[{'name':'fc','op':'Dense','inputs':['x','w','b'],'output':'y','attrs':{}}],"  \
    "'params':['w','b']}"
#define BASE_TENSORS                                                                         \
    "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[0,24]},"                              \
    "'b':{'dtype':'F32','shape':[2],'data_offsets':[24,32]}"

static float base_data[8] = { 1, 2, 3, 4, 5, 6, 0.5f, -0.5f };

/* A header with the standard metadata, `graph` (JSON with ' quotes) as "qsm.graph",
 * `extra_meta` (",'k':'v'" or "") and `tensors`. */
static Image image_of(const char *graph, const char *extra_meta, const char *tensors,
                      const void *data, size_t data_len)
{
    char *g = dq(graph), *em = dq(extra_meta), *t = dq(tensors);
    cJSON *s = cJSON_CreateString(g);
    char *quoted = cJSON_PrintUnformatted(s);
    size_t cap = strlen(quoted) + strlen(em) + strlen(t) + 128;
    char *hdr = xmalloc(cap);
    snprintf(hdr, cap, "{\"__metadata__\":{\"format\":\"qsm\",\"qsm.version\":\"1\",\"qsm.graph\":%s%s}%s%s}",
             quoted, em, t[0] ? "," : "", t);
    Image im = image_raw(hdr, data, data_len);
    free(hdr);
    free(quoted);
    cJSON_Delete(s);
    free(g);
    free(em);
    free(t);
    return im;
}

static Image base_image(void)
{
    return image_of(BASE_GRAPH, "", BASE_TENSORS, base_data, sizeof base_data);
}

/* Parses a heap copy of exactly len bytes (so ASan sees any over-read) and expects the
 * given failure. */
static void expect_bad(const char *label, const void *img, size_t len, QsStatus code,
                       const char *needle)
{
    QsError err = { 0 };
    unsigned char *copy = xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, img, len);
    Model *m = qsm_parse(copy, len, "m.qsm", &err);
    free(copy);
    if (m) {
        test_check(false, __FILE__, __LINE__, label);
        fprintf(stderr, "  %s: loaded, expected '%s'\n", label, needle);
        model_free(m);
        return;
    }
    expect_error(label, err.code, &err, code, needle);
    if (strncmp(err.msg, "m.qsm: ", 7) != 0) {
        test_check(false, __FILE__, __LINE__, "message starts with the file name");
        fprintf(stderr, "  %s: '%s'\n", label, err.msg);
    }
}

/* A mutation of the base image: graph/meta/tensors replaced, data as given. */
static void expect_bad_parts(const char *label, const char *graph, const char *meta,
                             const char *tensors, const void *data, size_t data_len,
                             QsStatus code, const char *needle)
{
    Image im = image_of(graph, meta, tensors, data, data_len);
    expect_bad(label, im.p, im.len, code, needle);
    free(im.p);
}

static void expect_bad_graph(const char *label, const char *graph, QsStatus code,
                             const char *needle)
{
    expect_bad_parts(label, graph, "", BASE_TENSORS, base_data, sizeof base_data, code, needle);
}

static void expect_bad_tensors(const char *label, const char *tensors, size_t data_len,
                               QsStatus code, const char *needle)
{
    float data[16] = { 0 };
    QS_ASSERT(data_len <= sizeof data);
    expect_bad_parts(label, BASE_GRAPH, "", tensors, data, data_len, code, needle);
}

static Model *parse_ok(const Image *im)
{
    QsError err = { 0 };
    Model *m = qsm_parse(im->p, im->len, "ok.qsm", &err);
    CHECK_OK(m ? QS_OK : err.code, &err);
    return m;
}

static void test_base_image(void)
{
    Image im = base_image();
    Model *m = parse_ok(&im);
    if (m) {
        const Graph *g = &m->graph;
        int w = graph_find_value(g, "w");
        CHECK(w >= 0 && g->values[w].is_param);
        CHECK(w >= 0 && memcmp(g->values[w].data->data, base_data, 24) == 0);
        CHECK(g->n_nodes == 1 && g->n_outputs == 1);
        CHECK(m->n_meta == 0);
    }
    model_free(m);
    free(im.p);
}

static void test_truncation(void)
{
    Image im = base_image();
    uint64_t n = header_len(im.p);
    char label[64];
    for (size_t k = 0; k < im.len; k++) {
        if (k >= 64 && k % 5 != 0 && k < im.len - 8)
            continue;
        snprintf(label, sizeof label, "truncated at %zu", k);
        const char *needle = k < 8           ? "too short for the 8-byte header length"
                             : k < 8 + n     ? "runs past the end of the file"
                                             : "past end of data";
        expect_bad(label, im.p, k, QS_EFORMAT, needle);
    }
    /* The full model too, at every 97th byte and all through its last 16. */
    Model *m = build_model();
    void *big;
    size_t len;
    QsError err = { 0 };
    if (CHECK_OK(qsm_serialize(m, &big, &len, &err), &err)) {
        for (size_t k = 0; k < len; k++)
            if (k % 97 == 0 || k + 16 >= len) {
                snprintf(label, sizeof label, "model truncated at %zu", k);
                expect_bad(label, big, k, QS_EFORMAT, "m.qsm: ");
            }
        free(big);
    }
    model_free(m);
    free(im.p);
}

static void set_header_len(Image *im, uint64_t n)
{
    for (int i = 0; i < 8; i++)
        im->p[i] = (unsigned char)(n >> (8 * i));
}

static void test_header_length(void)
{
    Image im = base_image();
    uint64_t n = header_len(im.p);
    set_header_len(&im, UINT64_MAX);
    expect_bad("length 2^64-1", im.p, im.len, QS_EFORMAT,
               "header length 18446744073709551615 exceeds the limit of 100000000 bytes");
    set_header_len(&im, 100000001);
    expect_bad("length over the cap", im.p, im.len, QS_EFORMAT, "exceeds the limit");
    set_header_len(&im, im.len - 8 + 1);
    char want[96];
    snprintf(want, sizeof want, "header length %zu runs past the end of the file (%zu bytes)",
             im.len - 7, im.len);
    expect_bad("length past end", im.p, im.len, QS_EFORMAT, want);
    /* One byte short of the JSON: the closing brace is cut off. */
    set_header_len(&im, n - 8);
    expect_bad("length inside JSON", im.p, im.len, QS_EFORMAT, "header JSON is malformed");
    set_header_len(&im, 0);
    expect_bad("length zero", im.p, im.len, QS_EFORMAT, "does not start with '{'");
    free(im.p);
}

static void test_bad_header_text(void)
{
    Image im = image_raw("{\"__metadata__\":{\"format\":\"qsm\",}", NULL, 0);
    expect_bad("bad JSON", im.p, im.len, QS_EFORMAT, "header JSON is malformed near byte 41");
    free(im.p);
    im = image_raw("[1,2]", NULL, 0);
    expect_bad("not an object", im.p, im.len, QS_EFORMAT, "does not start with '{'");
    free(im.p);
    im = image_raw("{\"a\":1} x", NULL, 0);
    expect_bad("trailing text", im.p, im.len, QS_EFORMAT,
               "unexpected byte after the header JSON at byte 16");
    free(im.p);
    im = image_raw("{\"a\xff\":1}", NULL, 0);
    expect_bad("invalid UTF-8", im.p, im.len, QS_EFORMAT, "invalid UTF-8 byte at byte 11");
    free(im.p);
    im = image_raw("{\"\xc0\xaf\":1}", NULL, 0);
    expect_bad("overlong UTF-8", im.p, im.len, QS_EFORMAT, "invalid UTF-8 byte at byte 10");
    free(im.p);
    im = image_raw("{\"a\":1}\0 ", NULL, 0);
    im.p[15] = 0;
    expect_bad("NUL in header", im.p, im.len, QS_EFORMAT, "NUL or invalid UTF-8 byte at byte 15");
    free(im.p);
    /* Nesting beyond cJSON's limit is an error, not a stack overflow. */
    char deep[8 + 20000 + 1];
    memcpy(deep, "{\"a\":", 5);
    memset(deep + 5, '[', 20000);
    deep[5 + 20000] = '\0';
    im = image_raw(deep, NULL, 0);
    expect_bad("deep nesting", im.p, im.len, QS_EFORMAT, "header JSON is malformed");
    free(im.p);
    im = image_raw("{\"w\":{}}", NULL, 0);
    expect_bad("no metadata", im.p, im.len, QS_EFORMAT,
               "not a qsm file: the header has no \"__metadata__\"");
    free(im.p);
    im = image_raw("{\"__metadata__\":{\"format\":\"pt\"}}", NULL, 0);
    expect_bad("other format", im.p, im.len, QS_EFORMAT, "not a qsm file: metadata \"format\" is \"pt\"");
    free(im.p);
    im = image_raw("{\"__metadata__\":{\"format\":\"qsm\",\"qsm.version\":\"1\"}}", NULL, 0);
    expect_bad("no graph", im.p, im.len, QS_EFORMAT, "metadata \"qsm.graph\" is missing");
    free(im.p);
    im = image_raw("{\"__metadata__\":{\"format\":\"qsm\",\"qsm.graph\":\"{}\"}}", NULL, 0);
    expect_bad("no version", im.p, im.len, QS_EFORMAT, "\"qsm.version\" is missing");
    free(im.p);
    im = image_raw("{\"__metadata__\":{\"format\":\"qsm\",\"qsm.version\":\"2\",\"qsm.graph\":\"{}\"}}",
                   NULL, 0);
    expect_bad("future version", im.p, im.len, QS_EUNSUPPORTED, "qsm version \"2\" is not supported");
    free(im.p);
    im = image_raw("{\"__metadata__\":{\"format\":\"qsm\",\"n\":3}}", NULL, 0);
    expect_bad("metadata not a string", im.p, im.len, QS_EFORMAT, "metadata 'n': value is not a string");
    free(im.p);
    im = image_raw("{\"__metadata__\":[]}", NULL, 0);
    expect_bad("metadata not an object", im.p, im.len, QS_EFORMAT, "\"__metadata__\" is not a JSON object");
    free(im.p);
    expect_bad_parts("duplicate metadata key", BASE_GRAPH, ",'format':'qsm'", BASE_TENSORS,
                     base_data, sizeof base_data, QS_EFORMAT, "metadata key 'format' appears twice");
}

static void test_bad_tensors(void)
{
    expect_bad_tensors("unknown dtype",
                       "'w':{'dtype':'F31','shape':[2,3],'data_offsets':[0,24]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[24,32]}",
                       32, QS_EFORMAT, "m.qsm: tensor 'w': unknown dtype 'F31'");
    expect_bad_tensors("unsupported dtype",
                       "'w':{'dtype':'BF16','shape':[2,6],'data_offsets':[0,24]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[24,32]}",
                       32, QS_EUNSUPPORTED, "tensor 'w': dtype 'BF16' is not supported");
    expect_bad_tensors("dtype not a string",
                       "'w':{'dtype':4,'shape':[2,3],'data_offsets':[0,24]}", 24, QS_EFORMAT,
                       "tensor 'w': \"dtype\" is missing or not a string");
    expect_bad_tensors("no shape", "'w':{'dtype':'F32','data_offsets':[0,24]}", 24, QS_EFORMAT,
                       "tensor 'w': \"shape\" is missing");
    expect_bad_tensors("offsets of 3",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[0,24,24]}", 24,
                       QS_EFORMAT, "\"data_offsets\" is missing or not an array of 2 numbers");
    expect_bad_tensors("entry not an object", "'w':[1]", 0, QS_EFORMAT,
                       "tensor 'w': entry is not a JSON object");
    expect_bad_tensors("empty name", "'':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}", 8,
                       QS_EFORMAT, "a tensor has an empty name");
    expect_bad_tensors("2^62 elements",
                       "'w':{'dtype':'F32','shape':[4611686018427387904],'data_offsets':[0,24]}",
                       24, QS_EFORMAT,
                       "tensor 'w': (4611686018427387904) x 4 bytes overflows the address space");
    expect_bad_tensors("product overflows",
                       "'w':{'dtype':'I8','shape':[4294967296,4294967296,2],'data_offsets':[0,24]}",
                       24, QS_EFORMAT, "(4294967296, 4294967296, 2) x 1 bytes overflows");
    expect_bad_tensors("7 dims",
                       "'w':{'dtype':'F32','shape':[1,1,1,1,1,2,3],'data_offsets':[0,24]}", 24,
                       QS_EFORMAT, "tensor 'w': 7 dimensions (at most 6)");
    expect_bad_tensors("negative dim",
                       "'w':{'dtype':'F32','shape':[2,-3],'data_offsets':[0,24]}", 24,
                       QS_EFORMAT, "tensor 'w': dimension 1 is not a non-negative integer");
    expect_bad_tensors("fractional dim",
                       "'w':{'dtype':'F32','shape':[1.5],'data_offsets':[0,24]}", 24, QS_EFORMAT,
                       "dimension 0 is not a non-negative integer");
    expect_bad_tensors("string dim",
                       "'w':{'dtype':'F32','shape':['2'],'data_offsets':[0,8]}", 8, QS_EFORMAT,
                       "dimension 0 is not a non-negative integer");
    expect_bad_tensors("offset past end",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[0,24]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[24,32]}",
                       28, QS_EFORMAT, "m.qsm: tensor 'b': data offset 32 past end of data (28 bytes)");
    expect_bad_tensors("offset 1e300",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[0,1e300]}", 24,
                       QS_EFORMAT, "tensor 'w': data offsets are not non-negative integers");
    expect_bad_tensors("negative offset",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[-8,16]}", 24, QS_EFORMAT,
                       "tensor 'w': data offsets are not non-negative integers");
    expect_bad_tensors("offsets backwards",
                       "'w':{'dtype':'F32','shape':[0],'data_offsets':[24,0]}", 24, QS_EFORMAT,
                       "tensor 'w': data offsets [24, 0] run backwards");
    expect_bad_tensors("size mismatch",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[0,20]}", 20, QS_EFORMAT,
                       "tensor 'w': data offsets [0, 20] hold 20 bytes, but F32 (2, 3) needs 24");
    expect_bad_tensors("overlap",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[0,24]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[16,24]}",
                       32, QS_EFORMAT, "tensors 'w' and 'b' overlap at data offset 16");
    expect_bad_tensors("same range",
                       "'w':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}",
                       8, QS_EFORMAT, "overlap at data offset 0");
    expect_bad_tensors("hole",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[0,24]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[28,36]}",
                       36, QS_EFORMAT,
                       "data bytes 24 to 28 are not covered by any tensor (a hole before tensor 'b')");
    expect_bad_tensors("hole at start",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[8,32]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[32,40]}",
                       40, QS_EFORMAT, "data bytes 0 to 8 are not covered");
    expect_bad_tensors("tail not covered", BASE_TENSORS, 40, QS_EFORMAT,
                       "the tensors cover 32 bytes of data, but the data section has 40");
    expect_bad_tensors("I8 weight read by a float op",
                       "'w':{'dtype':'I8','shape':[2,3],'data_offsets':[0,6]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[8,16]},"
                       "'p':{'dtype':'I8','shape':[2],'data_offsets':[6,8]}",
                       16, QS_EUNSUPPORTED, "node 'fc': input 'w' is I8, but ops read F32 tensors only");
    expect_bad_tensors("duplicate tensor",
                       "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[0,24]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[24,32]},"
                       "'w':{'dtype':'F32','shape':[2],'data_offsets':[32,40]}",
                       40, QS_EFORMAT, "header key 'w' appears twice");
}

static void test_bad_graph(void)
{
    expect_bad_parts("graph JSON malformed", "{'inputs':[}", "", BASE_TENSORS, base_data,
                     sizeof base_data, QS_EFORMAT,
                     "metadata \"qsm.graph\": JSON is malformed near character 11");
    expect_bad_graph("graph not an object", "[]", QS_EFORMAT, "\"qsm.graph\" is not a JSON object");
    expect_bad_graph("graph trailing text", "{} {}", QS_EFORMAT,
                     "unexpected text after the JSON at character 3");
    expect_bad_graph("no inputs key", "{'outputs':['y'],'nodes':[],'params':[]}", QS_EFORMAT,
                     "graph: \"inputs\" is missing or not an array");
    expect_bad_graph("empty inputs", "{'inputs':[],'outputs':['y'],'nodes':[],'params':[]}",
                     QS_EFORMAT, "the graph has no inputs");
    expect_bad_graph("input without shape",
                     "{'inputs':[{'name':'x'}],'outputs':['y'],'nodes':[],'params':[]}",
                     QS_EFORMAT, "input 'x': \"shape\" is missing or not an array");
    expect_bad_graph("input zero dim",
                     "{'inputs':[{'name':'x','shape':[0]}],'outputs':['y'],'nodes':[],'params':[]}",
                     QS_EFORMAT, "input 'x': dimension 0 is not a positive integer");
    expect_bad_graph("input rank 6",
                     "{'inputs':[{'name':'x','shape':[1,1,1,1,1,1]}],'outputs':['y'],'nodes':[],"
                     "'params':[]}",
                     QS_EFORMAT, "input 'x': 6 dimensions per sample (at most 5)");
    expect_bad_graph("input name not a string",
                     "{'inputs':[{'name':7,'shape':[3]}],'outputs':['y'],'nodes':[],'params':[]}",
                     QS_EFORMAT, "graph input 0: \"name\" is missing or not a non-empty string");
    expect_bad_graph("nodes not an array",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':['y'],'nodes':{},'params':[]}",
                     QS_EFORMAT, "graph: \"nodes\" is missing or not an array");
    expect_bad_graph("no params",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':['y'],'nodes':[{'name':'fc',"
                     "'op':'Dense','inputs':['x','w','b'],'output':'y','attrs':{}}]}",
                     QS_EFORMAT, "graph: \"params\" is missing or not an array");
    expect_bad_graph("output not a string",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':[1],'nodes':[],'params':[]}",
                     QS_EFORMAT, "graph \"outputs\"[0] is not a non-empty string");
    expect_bad_graph("no outputs",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':[],'nodes':[],'params':[]}",
                     QS_EFORMAT, "the graph has no outputs");

#define NODE_GRAPH(node)                                                                      \
    "{'inputs':[{'name':'x','shape':[3]}],'outputs':['y'],'nodes':[" node "],'params':[]}"
    expect_bad_graph("unknown op",
                     NODE_GRAPH("{'name':'fc','op':'Frobnicate','inputs':['x'],'output':'y','attrs':{}}"),
                     QS_EUNSUPPORTED, "m.qsm: node 'fc': unknown op 'Frobnicate'");
    expect_bad_graph("node without op",
                     NODE_GRAPH("{'name':'fc','inputs':['x'],'output':'y','attrs':{}}"),
                     QS_EFORMAT, "node 'fc': \"op\" is missing or not a non-empty string");
    expect_bad_graph("node not an object", NODE_GRAPH("'fc'"), QS_EFORMAT,
                     "graph node 0 is not a JSON object");
    expect_bad_graph("node without attrs",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y'}"),
                     QS_EFORMAT, "node 'fc': \"attrs\" is missing or not an object");
    expect_bad_graph("input not a string",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':[3],'output':'y','attrs':{}}"),
                     QS_EFORMAT, "node 'fc': input 0 is not a string");
    expect_bad_graph("undefined input",
                     NODE_GRAPH("{'name':'conv2','op':'Dense','inputs':['x','foo','b'],'output':'y',"
                                "'attrs':{}}"),
                     QS_EFORMAT, "m.qsm: node 'conv2': input 'foo' is not defined");
    expect_bad_graph("variant tensors are not values",
                     NODE_GRAPH("{'name':'fc','op':'Dense','inputs':['x','variant/a/w'],'output':'y',"
                                "'attrs':{}}"),
                     QS_EFORMAT, "input 'variant/a/w' is not defined");
    expect_bad_graph("arity",
                     NODE_GRAPH("{'name':'fc','op':'Dense','inputs':['x'],'output':'y','attrs':{}}"),
                     QS_EFORMAT, "node 'fc': Dense takes 2 to 3 inputs, got 1");
    expect_bad_graph("fixed arity",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x','x'],'output':'y','attrs':{}}"),
                     QS_EFORMAT, "node 'fc': Relu takes 1 input, got 2");
    expect_bad_graph("first input omitted",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':[''],'output':'y','attrs':{}}"),
                     QS_EFORMAT, "node 'fc': the first input of Relu is required");
    expect_bad_graph("attr not typed",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y','attrs':{'a':3}}"),
                     QS_EFORMAT, "node 'fc': attribute 'a' must be an object with exactly one of");
    expect_bad_graph("attr two kinds",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'a':{'i':1,'f':2}}}"),
                     QS_EFORMAT, "attribute 'a' must be an object with exactly one");
    expect_bad_graph("attr unknown kind",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'a':{'t':1}}}"),
                     QS_EFORMAT, "node 'fc': attribute 'a' has unknown kind \"t\"");
    expect_bad_graph("attr i fractional",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'a':{'i':1.5}}}"),
                     QS_EFORMAT, "attribute 'a': \"i\" is not an integer within +-2^53");
    expect_bad_graph("attr ints element",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'strides':{'ints':[2,'2']}}}"),
                     QS_EFORMAT, "node 'fc': attribute 'strides': element 1 is not an integer");
    expect_bad_graph("attr floats element",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'x':{'floats':[1,'nan']}}}"),
                     QS_EFORMAT, "attribute 'x': element 1 is not a float");
    expect_bad_graph("attr f out of float range",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'alpha':{'f':1e39}}}"),
                     QS_EFORMAT, "attribute 'alpha': \"f\" is not a float");
    expect_bad_graph("attr s not a string",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'approximate':{'s':1}}}"),
                     QS_EFORMAT, "attribute 'approximate': \"s\" is not a string");
    expect_bad_graph("attr ints not array",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'pads':{'ints':1}}}"),
                     QS_EFORMAT, "attribute 'pads': \"ints\" is not an array");
    expect_bad_graph("attr name too long",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'abcdefghijklmnopqrstuvwxyz0123456789':{'i':1}}}"),
                     QS_EFORMAT, "is empty or longer than 31 characters");
    expect_bad_graph("attr twice",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'y',"
                                "'attrs':{'a':{'i':1},'a':{'i':2}}}"),
                     QS_EFORMAT, "node 'fc': attribute 'a' appears twice");

    /* Names. */
    expect_bad_graph("input named like a tensor",
                     "{'inputs':[{'name':'w','shape':[3]}],'outputs':['y'],'nodes':[{'name':'r',"
                     "'op':'Relu','inputs':['w'],'output':'y','attrs':{}}],'params':[]}",
                     QS_EFORMAT, "name 'w' is defined twice: a graph input and a tensor");
    expect_bad_graph("output named like a tensor",
                     NODE_GRAPH("{'name':'fc','op':'Relu','inputs':['x'],'output':'b','attrs':{}}"),
                     QS_EFORMAT, "name 'b' is defined twice: a tensor and the output of node 'fc'");
    expect_bad_graph("two nodes, one output",
                     NODE_GRAPH("{'name':'r1','op':'Relu','inputs':['x'],'output':'y','attrs':{}},"
                                "{'name':'r2','op':'Relu','inputs':['x'],'output':'y','attrs':{}}"),
                     QS_EFORMAT, "name 'y' is defined twice");
    expect_bad_graph("duplicate node names",
                     NODE_GRAPH("{'name':'r','op':'Relu','inputs':['x'],'output':'y','attrs':{}},"
                                "{'name':'r','op':'Relu','inputs':['y'],'output':'z','attrs':{}}"),
                     QS_EFORMAT, "node name 'r' is used twice");
    expect_bad_graph("graph output undefined",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':['nope'],'nodes':[],'params':[]}",
                     QS_EFORMAT, "graph output 'nope' is not defined");
    expect_bad_graph("graph output is a tensor",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':['w'],'nodes':[],'params':[]}",
                     QS_EFORMAT, "graph output 'w' is a constant tensor");
    expect_bad_graph("graph output twice",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':['x','x'],'nodes':[],'params':[]}",
                     QS_EFORMAT, "graph output 'x' is listed twice");
    expect_bad_graph("param not a tensor",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':['x'],'nodes':[],'params':['x']}",
                     QS_EFORMAT, "param 'x' is not a tensor in the file");
    expect_bad_graph("param twice",
                     "{'inputs':[{'name':'x','shape':[3]}],'outputs':['x'],'nodes':[],"
                     "'params':['w','w']}",
                     QS_EFORMAT, "param 'w' is listed twice");

    /* Cycles: a pair of nodes feeding each other, and a node feeding itself. */
    expect_bad_graph("cycle",
                     NODE_GRAPH("{'name':'a','op':'Add','inputs':['x','b_out'],'output':'a_out','attrs':{}},"
                                "{'name':'b','op':'Relu','inputs':['a_out'],'output':'b_out','attrs':{}},"
                                "{'name':'c','op':'Relu','inputs':['b_out'],'output':'y','attrs':{}}"),
                     QS_EFORMAT, "the graph has a cycle: node 'b' depends on node 'a', which depends on it");
    expect_bad_graph("self loop",
                     NODE_GRAPH("{'name':'a','op':'Add','inputs':['x','y'],'output':'y','attrs':{}}"),
                     QS_EFORMAT, "node 'a' consumes its own output 'y'");

    /* Shape inference runs last, after the arena exists: its failure must free it. */
    expect_bad_parts("shapes do not fit",
                     "{'inputs':[{'name':'x','shape':[4]}],'outputs':['y'],'nodes':[{'name':'fc',"
                     "'op':'Dense','inputs':['x','w','b'],'output':'y','attrs':{}}],'params':[]}",
                     "", BASE_TENSORS, base_data, sizeof base_data, QS_ESHAPE, "m.qsm: Dense 'fc'");
}

/* Every header byte of the full model replaced by a few values: each parse either loads
 * or fails with a message naming the file, and ASan sees no bad access or leak. */
static void test_mutation_sweep(void)
{
    Model *m = build_model();
    void *img;
    size_t len;
    QsError err = { 0 };
    if (!CHECK_OK(qsm_serialize(m, &img, &len, &err), &err)) {
        model_free(m);
        return;
    }
    unsigned char *p = img;
    size_t end = 8 + (size_t)header_len(p);
    static const unsigned char vals[] = { 0x00, 0xFF, '"', '{', '9', ']' };
    int loaded = 0, failed = 0, bad_msgs = 0;
    for (size_t i = 0; i < end; i++) {
        unsigned char keep = p[i];
        for (size_t v = 0; v < sizeof vals; v++) {
            if (vals[v] == keep)
                continue;
            p[i] = vals[v];
            Model *r = qsm_parse(p, len, "m.qsm", &err);
            if (r) {
                loaded++;
                model_free(r);
            } else {
                failed++;
                if (err.code == QS_OK || strncmp(err.msg, "m.qsm: ", 7) != 0 || !err.msg[7])
                    bad_msgs++;
            }
        }
        p[i] = keep;
    }
    CHECK(bad_msgs == 0);
    CHECK(failed > 0);
    /* Sanity: the sweep restored the image. */
    Model *r = qsm_parse(p, len, "m.qsm", &err);
    CHECK(r != NULL);
    model_free(r);
    (void)loaded;
    free(img);
    model_free(m);
}

/* Nodes out of order in the file, unknown metadata, variants and foreign dtypes under
 * "variant/", a foreign writer's unaligned layout: all load. */
static void test_lenient_loads(void)
{
    float data[16];
    for (int i = 0; i < 16; i++)
        data[i] = (float)i;
    Image im = image_of(
        "{'inputs':[{'name':'x','shape':[3]}],'outputs':['z'],'nodes':["
        "{'name':'r','op':'Relu','inputs':['y'],'output':'z','attrs':{}},"
        "{'name':'fc','op':'Dense','inputs':['x','w','b'],'output':'y','attrs':{}}],"
        "'params':['w','b']}",
        ",'qsm.variants':'{\\'int8\\':{\\'plan\\':\\'per-channel\\'}}','future.key':'anything',"
        "'meta.task':'regress'",
        BASE_TENSORS ",'variant/int8/w':{'dtype':'I8','shape':[2,3],'data_offsets':[32,38]},"
                     "'variant/int8/w:bf':{'dtype':'BF16','shape':[1],'data_offsets':[38,40]},"
                     "'variant/int8/w:scale':{'dtype':'F32','shape':[2],'data_offsets':[40,48]},"
                     "'variant/int8/w:zero_point':{'dtype':'I32','shape':[2],'data_offsets':[48,56]}",
        data, 56);
    Model *m = parse_ok(&im);
    if (m) {
        const Graph *g = &m->graph;
        CHECK(g->n_values == 5); /* x, w, b, y, z: nothing from variant/ */
        CHECK(graph_find_value(g, "variant/int8/w") < 0);
        CHECK(g->n_nodes == 2 && strcmp(g->nodes[0].name, "fc") == 0);
        CHECK(m->n_meta == 1 && strcmp(model_meta_get(m, "task"), "regress") == 0);
        CHECK(m->arena_bytes == 32);
        int b = graph_find_value(g, "b");
        CHECK(b >= 0 && tensor_f32(g->values[b].data)[1] == 7.0f);
    }
    model_free(m);
    free(im.p);

    /* I8 first, then F32 at offset 3: the loader still hands out aligned views. */
    unsigned char raw[3 + 32];
    raw[0] = 1, raw[1] = 2, raw[2] = 3;
    memcpy(raw + 3, base_data, 32);
    im = image_of(BASE_GRAPH, "",
                  "'pad':{'dtype':'I8','shape':[3],'data_offsets':[0,3]},"
                  "'w':{'dtype':'F32','shape':[2,3],'data_offsets':[3,27]},"
                  "'b':{'dtype':'F32','shape':[2],'data_offsets':[27,35]},"
                  "'none':{'dtype':'I64','shape':[0,5],'data_offsets':[35,35]}",
                  raw, sizeof raw);
    m = parse_ok(&im);
    if (m) {
        const Graph *g = &m->graph;
        int w = graph_find_value(g, "w"), pad = graph_find_value(g, "pad");
        CHECK(w >= 0 && (uintptr_t)g->values[w].data->data % 4 == 0);
        CHECK(w >= 0 && memcmp(g->values[w].data->data, base_data, 24) == 0);
        CHECK(pad >= 0 && ((int8_t *)g->values[pad].data->data)[2] == 3);
        CHECK(!g->values[w].data->owns_data);
        /* Run it: y = W x + b with W = [[1,2,3],[4,5,6]], x = (1, 1, 1), b = (0.5, -0.5). */
        QsError err = { 0 };
        float xv[3] = { 1, 1, 1 };
        Tensor x = tensor_view(DT_F32, shape_of(2, (int64_t)1, (int64_t)3), xv);
        const Tensor *ins[1] = { &x };
        Run r;
        run_init(&r, g);
        if (CHECK_OK(run_forward(&r, ins, NULL, NULL, &err), &err)) {
            const float *y = tensor_f32(run_output(&r, 0));
            CHECK(y[0] == 6.5f && y[1] == 14.5f);
        }
        run_release(&r);
    }
    model_free(m);
    free(im.p);
}

/* The committed corpus: each file, its expected code and message. Keep in step with
 * tests/fixtures/bad_qsm/README.md and scripts/fixtures/gen_bad_qsm.py. */
static void test_corpus(void)
{
    static const struct {
        const char *file;
        QsStatus code;
        const char *needle;
    } cases[] = {
        { "truncated_length.qsm", QS_EFORMAT, "too short for the 8-byte header length" },
        { "header_length_huge.qsm", QS_EFORMAT, "exceeds the limit of 100000000 bytes" },
        { "header_length_past_end.qsm", QS_EFORMAT, "runs past the end of the file" },
        { "bad_json.qsm", QS_EFORMAT, "header JSON is malformed near byte" },
        { "bad_dtype.qsm", QS_EFORMAT, "tensor 'w': unknown dtype 'F31'" },
        { "shape_overflow.qsm", QS_EFORMAT, "tensor 'w': (4611686018427387904) x 4 bytes overflows" },
        { "offset_past_end.qsm", QS_EFORMAT, "tensor 'b': data offset 40 past end of data (32 bytes)" },
        { "overlap.qsm", QS_EFORMAT, "tensors 'w' and 'b' overlap at data offset 16" },
        { "hole.qsm", QS_EFORMAT, "data bytes 24 to 28 are not covered" },
        { "unknown_op.qsm", QS_EUNSUPPORTED, "node 'fc': unknown op 'Frobnicate'" },
        { "undefined_input.qsm", QS_EFORMAT, "node 'fc': input 'foo' is not defined" },
        { "duplicate_name.qsm", QS_EFORMAT, "name 'y' is defined twice" },
        { "cycle.qsm", QS_EFORMAT, "the graph has a cycle" },
        { "no_graph.qsm", QS_EFORMAT, "metadata \"qsm.graph\" is missing" },
        { "plain_safetensors.qsm", QS_EFORMAT, "not a qsm file" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/bad_qsm/%s", cases[i].file);
        QsError err = { 0 };
        Model *m = qsm_load(path, &err);
        if (m) {
            test_check(false, __FILE__, __LINE__, cases[i].file);
            model_free(m);
            continue;
        }
        expect_error(cases[i].file, err.code, &err, cases[i].code, cases[i].needle);
        CHECK(strncmp(err.msg, path, strlen(path)) == 0);
    }
    /* The corpus's good twin loads: each bad file differs from it in one fault. */
    QsError err = { 0 };
    Model *m = qsm_load("tests/fixtures/bad_qsm/good.qsm", &err);
    CHECK_OK(m ? QS_OK : err.code, &err);
    model_free(m);
}

int main(void)
{
    test_roundtrip();
    test_unwritable_int();
    test_base_image();
    test_truncation();
    test_header_length();
    test_bad_header_text();
    test_bad_tensors();
    test_bad_graph();
    test_lenient_loads();
    test_mutation_sweep();
    test_corpus();
    return test_summary("qsm");
}
