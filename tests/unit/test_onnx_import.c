/* ONNX import (src/formats/onnx/: onnx_import.c and the files it drives, protobuf.c):
 *   - every PyTorch-exported fixture (scripts/fixtures/gen_onnx_fixtures.py, opsets 13 and
 *     17) loads and qscope's float output matches torch's; the tolerance and its reason are
 *     in the manifest: |got - want| <= 1e-4 max|want| + 1e-4 |want| (summation order and
 *     libm differences are a few ulp per layer; a semantic error moves outputs by percents);
 *   - batch handling: a dynamic batch runs at batch sizes other than the export's; a fixed
 *     batch of 1 is accepted, other fixed batches are refused;
 *   - hand-built models (written with the project's protobuf writer): typed tensor fields
 *     (float_data, int32_data, int64_data, double_data), external data inside the model's
 *     folder and the refusal of absolute paths, "..", and ranges past the file's end; one
 *     error listing every unsupported node; constant folding of shape arithmetic;
 *   - a corpus of damaged files: the fixture truncated at every offset, bytes overwritten,
 *     wrong wire types, lengths past the end, overlong varints, groups, nesting deeper than
 *     the limit, huge dimensions: each gives an error with a message, never a crash (run
 *     under ASan+UBSan in the sanitizer build). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileio.h"
#include "graph/model.h"
#include "arrays/npy.h"
#include "onnx/onnx_export.h"
#include "onnx/onnx_import.h"
#include "onnx/protobuf.h"
#include "native/qsm.h"
#include "run/run.h"
#include "test_graph.h"
#include "test_util.h"

#define DIR "tests/fixtures/onnx/"

static bool close_to(const char *label, const Tensor *got, const Tensor *want, double rtol,
                     double atol_rel)
{
    if (!CHECK(shape_equal(&got->shape, &want->shape))) {
        char a[96], b[96];
        fprintf(stderr, "%s: shape %s, want %s\n", label, shape_format(&got->shape, a, sizeof a),
                shape_format(&want->shape, b, sizeof b));
        return false;
    }
    double mx = 0;
    for (int64_t i = 0; i < tensor_numel(want); i++)
        mx = fmax(mx, fabs(tensor_f32(want)[i]));
    return expect_close(label, tensor_f32(got), tensor_f32(want), (size_t)tensor_numel(want),
                        atol_rel * mx, rtol);
}

static void test_fixtures(void)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    if (!CHECK_OK(fileio_read(DIR "manifest.json", &buf, &len, &err), &err))
        return;
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    const cJSON *cases = cJSON_GetObjectItem(root, "cases"), *c;
    int n = 0;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        double rtol = cJSON_GetObjectItem(c, "rtol")->valuedouble;
        double arel = cJSON_GetObjectItem(c, "atol_rel_to_max")->valuedouble;
        char path[256], xr[128], yr[128];
        snprintf(path, sizeof path, DIR "%s.onnx", name);
        snprintf(xr, sizeof xr, "onnx/%s_x.npy", name);
        snprintf(yr, sizeof yr, "onnx/%s_y.npy", name);
        Model *m = onnx_load(path, &err);
        if (!CHECK(m != NULL)) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            continue;
        }
        Tensor *x = test_load_npy(xr), *want = test_load_npy(yr);
        Tensor *got = tu_run_graph(m, x);
        if (got)
            close_to(name, got, want, rtol, arel);
        /* Each sample alone gives the same result as in the batch (the batch is dynamic,
         * or 1): run the first sample by itself. */
        if (got && x->shape.dim[0] > 1) {
            Shape s1 = x->shape, o1 = want->shape;
            s1.dim[0] = o1.dim[0] = 1;
            Tensor x1 = tensor_view(DT_F32, s1, x->data);
            Tensor *g1 = tu_run_graph(m, &x1);
            Tensor w1 = tensor_view(DT_F32, o1, got->data);
            if (g1) {
                char label[160];
                snprintf(label, sizeof label, "%s batch 1 vs batch", name);
                close_to(label, g1, &w1, 1e-6, 1e-6);
            }
            tensor_free(g1);
        }
        CHECK(strcmp(model_meta_get(m, "source"), "onnx") == 0);
        tensor_free(got);
        tensor_free(x);
        tensor_free(want);
        model_free(m);
        n++;
    }
    CHECK(n >= 15);
    cJSON_Delete(root);
}

/* ---- hand-built models */

static void put_dims(PbWriter *w, uint32_t num, const int64_t *d, int nd)
{
    pb_put_packed_int64(w, num, d, nd);
}

/* A TensorProto; data given as float (FLOAT raw), or via the callback-free variants. */
static void tensor_f32_raw(PbWriter *w, const char *name, const int64_t *d, int nd,
                           const float *v, int64_t n)
{
    put_dims(w, 1, d, nd);
    pb_put_varint(w, 2, 1);
    pb_put_string(w, 8, name);
    pb_put_bytes(w, 9, v, (size_t)n * 4);
}

static void value_info(PbWriter *w, const char *name, const int64_t *d, const bool *sym, int nd)
{
    PbWriter shape, tt, tp;
    pb_writer_init(&shape);
    for (int i = 0; i < nd; i++) {
        PbWriter dim;
        pb_writer_init(&dim);
        if (sym && sym[i])
            pb_put_string(&dim, 2, "N");
        else
            pb_put_int64(&dim, 1, d[i]);
        pb_put_message(&shape, 1, &dim);
        pb_writer_release(&dim);
    }
    pb_writer_init(&tt);
    pb_put_varint(&tt, 1, 1);
    pb_put_message(&tt, 2, &shape);
    pb_writer_init(&tp);
    pb_put_message(&tp, 1, &tt);
    pb_put_string(w, 1, name);
    pb_put_message(w, 2, &tp);
    pb_writer_release(&shape);
    pb_writer_release(&tt);
    pb_writer_release(&tp);
}

static void node(PbWriter *g, const char *op, const char *name, const char *const *in, int nin,
                 const char *out, const PbWriter *attrs)
{
    PbWriter n;
    pb_writer_init(&n);
    for (int i = 0; i < nin; i++)
        pb_put_string(&n, 1, in[i]);
    pb_put_string(&n, 2, out);
    pb_put_string(&n, 3, name);
    pb_put_string(&n, 4, op);
    if (attrs)
        pb_put_bytes(&n, 5, attrs->buf, attrs->len);
    pb_put_message(g, 1, &n);
    pb_writer_release(&n);
}

/* Wraps graph g into a ModelProto at `opset`; returns the bytes in *out (caller releases). */
static void model_wrap(PbWriter *out, const PbWriter *g, int opset)
{
    PbWriter os;
    pb_writer_init(out);
    pb_put_varint(out, 1, 8);
    pb_put_string(out, 2, "qscope-test");
    pb_put_message(out, 7, g);
    pb_writer_init(&os);
    pb_put_string(&os, 1, "");
    pb_put_varint(&os, 2, (uint64_t)opset);
    pb_put_message(out, 8, &os);
    pb_writer_release(&os);
}

/* x (N, 4) -> MatMul W (4, 3) -> Add b -> y, with W and b given by the caller's writer. */
static void linear_graph(PbWriter *g, void (*inits)(PbWriter *g))
{
    const int64_t xd[2] = { 1, 4 }, yd[2] = { 1, 3 };
    const bool sym[2] = { true, false };
    pb_writer_init(g);
    node(g, "MatMul", "mm", (const char *[]){ "x", "W" }, 2, "h", NULL);
    node(g, "Add", "add", (const char *[]){ "h", "b" }, 2, "y", NULL);
    inits(g);
    PbWriter vi;
    pb_writer_init(&vi);
    value_info(&vi, "x", xd, sym, 2);
    pb_put_message(g, 11, &vi);
    pb_writer_release(&vi);
    pb_writer_init(&vi);
    value_info(&vi, "y", yd, sym, 2);
    pb_put_message(g, 12, &vi);
    pb_writer_release(&vi);
}

static const float W12[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, B3[3] = { 0.5f, -1, 2 };

static void inits_raw(PbWriter *g)
{
    PbWriter t;
    pb_writer_init(&t);
    tensor_f32_raw(&t, "W", (const int64_t[]){ 4, 3 }, 2, W12, 12);
    pb_put_message(g, 5, &t);
    pb_writer_release(&t);
    pb_writer_init(&t);
    tensor_f32_raw(&t, "b", (const int64_t[]){ 3 }, 1, B3, 3);
    pb_put_message(g, 5, &t);
    pb_writer_release(&t);
}

/* W as float_data (packed fixed32), b as double_data. */
static void inits_typed(PbWriter *g)
{
    PbWriter t;
    pb_writer_init(&t);
    put_dims(&t, 1, (const int64_t[]){ 4, 3 }, 2);
    pb_put_varint(&t, 2, 1);
    pb_put_packed_float(&t, 4, W12, 12);
    pb_put_string(&t, 8, "W");
    pb_put_message(g, 5, &t);
    pb_writer_release(&t);
    pb_writer_init(&t);
    put_dims(&t, 1, (const int64_t[]){ 3 }, 1);
    pb_put_varint(&t, 2, 11);
    double d[3] = { 0.5, -1, 2 };
    pb_put_bytes(&t, 10, d, sizeof d);
    pb_put_string(&t, 8, "b");
    pb_put_message(g, 5, &t);
    pb_writer_release(&t);
}

static const char *g_ext_location = "weights.bin";
static uint64_t g_ext_offset = 16;

/* W from an external file, b as unpacked float_data fields one per element. */
static void inits_external(PbWriter *g)
{
    PbWriter t, e;
    char num[32];
    pb_writer_init(&t);
    put_dims(&t, 1, (const int64_t[]){ 4, 3 }, 2);
    pb_put_varint(&t, 2, 1);
    pb_put_string(&t, 8, "W");
    pb_writer_init(&e);
    pb_put_string(&e, 1, "location");
    pb_put_string(&e, 2, g_ext_location);
    pb_put_message(&t, 13, &e);
    pb_writer_release(&e);
    pb_writer_init(&e);
    pb_put_string(&e, 1, "offset");
    snprintf(num, sizeof num, "%llu", (unsigned long long)g_ext_offset);
    pb_put_string(&e, 2, num);
    pb_put_message(&t, 13, &e);
    pb_writer_release(&e);
    pb_writer_init(&e);
    pb_put_string(&e, 1, "length");
    pb_put_string(&e, 2, "48");
    pb_put_message(&t, 13, &e);
    pb_writer_release(&e);
    pb_put_varint(&t, 14, 1);
    pb_put_message(g, 5, &t);
    pb_writer_release(&t);
    pb_writer_init(&t);
    put_dims(&t, 1, (const int64_t[]){ 3 }, 1);
    pb_put_varint(&t, 2, 1);
    for (int i = 0; i < 3; i++)
        pb_put_float(&t, 4, B3[i]);
    pb_put_string(&t, 8, "b");
    pb_put_message(g, 5, &t);
    pb_writer_release(&t);
}

static void check_linear(const char *label, Model *m)
{
    if (!CHECK(m != NULL))
        return;
    const float x[8] = { 1, 0, -1, 2, 0.5f, 0.25f, 0, -2 };
    Tensor xt = tensor_view(DT_F32, shape_of(2, 2LL, 4LL), (void *)x);
    Tensor *y = tu_run_graph(m, &xt);
    float want[6];
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 3; j++) {
            float s = 0;
            for (int k = 0; k < 4; k++)
                s += x[r * 4 + k] * W12[k * 3 + j];
            want[r * 3 + j] = s + B3[j];
        }
    if (CHECK(y != NULL))
        expect_close(label, tensor_f32(y), want, 6, 1e-6, 1e-6);
    tensor_free(y);
}

static Model *parse_graph(const PbWriter *g, int opset, const char *dir, QsError *err)
{
    PbWriter m;
    model_wrap(&m, g, opset);
    Model *r = onnx_parse(m.buf, m.len, dir, "test.onnx", err);
    pb_writer_release(&m);
    return r;
}

static void test_hand_models(void)
{
    QsError err = { 0 };
    PbWriter g;
    linear_graph(&g, inits_raw);
    Model *m = parse_graph(&g, 13, NULL, &err);
    check_linear("raw_data", m);
    model_free(m);
    /* opsets out of range */
    m = parse_graph(&g, 9, NULL, &err);
    CHECK(m == NULL);
    expect_error("opset 9", err.code, &err, QS_EUNSUPPORTED, "opset 9 is not supported (11 to 18)");
    pb_writer_release(&g);

    linear_graph(&g, inits_typed);
    m = parse_graph(&g, 17, NULL, &err);
    check_linear("float_data/double_data", m);
    model_free(m);
    pb_writer_release(&g);

    /* External data: in a temporary folder beside the model. */
    char dir[] = "/tmp/qs_onnx_XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL))
        return;
    char path[256];
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    unsigned char bin[16 + 48];
    memset(bin, 0xee, 16);
    memcpy(bin + 16, W12, 48);
    CHECK_OK(fileio_write_atomic(path, bin, sizeof bin, &err), &err);
    linear_graph(&g, inits_external);
    m = parse_graph(&g, 13, dir, &err);
    check_linear("external data", m);
    model_free(m);
    m = parse_graph(&g, 13, NULL, &err);
    CHECK(m == NULL);
    expect_error("external without folder", err.code, &err, QS_EUNSUPPORTED, "needs the model's folder");
    pb_writer_release(&g);
    /* The same through onnx_load from a file in that folder. */
    PbWriter mw;
    linear_graph(&g, inits_external);
    model_wrap(&mw, &g, 13);
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    CHECK_OK(fileio_write_atomic(path, mw.buf, mw.len, &err), &err);
    m = onnx_load(path, &err);
    check_linear("external data via onnx_load", m);
    model_free(m);
    pb_writer_release(&mw);
    pb_writer_release(&g);
    const char *bad_locs[] = { "/etc/passwd", "../weights.bin", "sub/../../x", "" };
    for (int i = 0; i < 4; i++) {
        g_ext_location = bad_locs[i];
        linear_graph(&g, inits_external);
        m = parse_graph(&g, 13, dir, &err);
        CHECK(m == NULL);
        expect_error(bad_locs[i], err.code, &err, QS_EFORMAT, "not a relative path inside");
        pb_writer_release(&g);
    }
    /* A symlink inside the folder that points outside it. */
    snprintf(path, sizeof path, "%s/link.bin", dir);
    CHECK(symlink("/etc/hostname", path) == 0);
    g_ext_location = "link.bin";
    linear_graph(&g, inits_external);
    m = parse_graph(&g, 13, dir, &err);
    CHECK(m == NULL);
    expect_error("symlink outside", err.code, &err, QS_EFORMAT, "resolves outside");
    pb_writer_release(&g);
    unlink(path);
    g_ext_location = "weights.bin";
    g_ext_offset = 40; /* 40 + 48 > 64 bytes */
    linear_graph(&g, inits_external);
    m = parse_graph(&g, 13, dir, &err);
    CHECK(m == NULL);
    expect_error("external past end", err.code, &err, QS_EFORMAT, "past the end of 'weights.bin'");
    pb_writer_release(&g);
    g_ext_offset = 16;
    g_ext_location = "missing.bin";
    linear_graph(&g, inits_external);
    m = parse_graph(&g, 13, dir, &err);
    CHECK(m == NULL);
    expect_error("external missing", err.code, &err, QS_EIO, "not found");
    pb_writer_release(&g);
    /* A FIFO as external data: refused at once, never opened blocking (issue 14, 8). */
    snprintf(path, sizeof path, "%s/fifo.bin", dir);
    CHECK(mkfifo(path, 0600) == 0);
    g_ext_location = "fifo.bin";
    linear_graph(&g, inits_external);
    m = parse_graph(&g, 13, dir, &err);
    CHECK(m == NULL);
    expect_error("external FIFO", err.code, &err, QS_EIO, "is not a regular file (a FIFO)");
    pb_writer_release(&g);
    unlink(path);
    g_ext_location = "weights.bin";
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    unlink(path);
    rmdir(dir);
}

/* Unsupported ops are listed together; the batch rules; shape arithmetic is folded. */
/* x (N, 4) -> Mod(x, c) with attribute fmod (-1: absent) -> y. */
static Model *mod_model(int fmod, QsError *err)
{
    const int64_t xd[2] = { 1, 4 }, cd[1] = { 4 };
    const bool sym[2] = { true, false };
    const float c[4] = { 3, 3, 2, -2 };
    PbWriter g, vi, at, init;
    pb_writer_init(&g);
    pb_writer_init(&at);
    if (fmod >= 0) {
        pb_put_string(&at, 1, "fmod");
        pb_put_varint(&at, 3, (uint64_t)fmod);
        pb_put_varint(&at, 20, 2); /* INT */
    }
    node(&g, "Mod", "mod", (const char *[]){ "x", "c" }, 2, "y", fmod >= 0 ? &at : NULL);
    pb_writer_init(&init);
    tensor_f32_raw(&init, "c", cd, 1, c, 4);
    pb_put_message(&g, 5, &init);
    pb_writer_init(&vi);
    value_info(&vi, "x", xd, sym, 2);
    pb_put_message(&g, 11, &vi);
    pb_writer_release(&vi);
    pb_writer_init(&vi);
    value_info(&vi, "y", xd, sym, 2);
    pb_put_message(&g, 12, &vi);
    Model *m = parse_graph(&g, 13, NULL, err);
    pb_writer_release(&vi);
    pb_writer_release(&init);
    pb_writer_release(&at);
    pb_writer_release(&g);
    return m;
}

/* x (N, 2, 3) -> Einsum(x, x) with `equation` -> y (N, 2, 2). */
static Model *einsum_model(const char *equation, QsError *err)
{
    const int64_t xd[3] = { 1, 2, 3 }, yd[3] = { 1, 2, 2 };
    const bool sym[3] = { true, false, false };
    PbWriter g, vi, at;
    pb_writer_init(&g);
    pb_writer_init(&at);
    pb_put_string(&at, 1, "equation");
    pb_put_string(&at, 4, equation);
    pb_put_varint(&at, 20, 3); /* STRING */
    node(&g, "Einsum", "ein", (const char *[]){ "x", "x" }, 2, "y", &at);
    pb_writer_init(&vi);
    value_info(&vi, "x", xd, sym, 3);
    pb_put_message(&g, 11, &vi);
    pb_writer_release(&vi);
    pb_writer_init(&vi);
    value_info(&vi, "y", yd, sym, 3);
    pb_put_message(&g, 12, &vi);
    Model *m = parse_graph(&g, 13, NULL, err);
    pb_writer_release(&vi);
    pb_writer_release(&at);
    pb_writer_release(&g);
    return m;
}

/* Einsum: x x^T in the transposed form (exact: small integers), with spaces and "...";
 * an equation outside the matrix-product family is an error naming it. */
static void test_einsum(void)
{
    QsError err = { 0 };
    const float xv[6] = { 1, 2, 3, -1, 0, 2 }, want[4] = { 14, 5, 5, 5 };
    Tensor *x = tensor_new(DT_F32, shape_of(3, 1LL, 2LL, 3LL), &err);
    memcpy(tensor_f32(x), xv, sizeof xv);
    const char *ok[] = { "bij,bkj->bik", " b i j , b k j -> b i k", "...ij,...kj->...ik" };
    for (int k = 0; k < (int)(sizeof ok / sizeof ok[0]); k++) {
        Model *m = einsum_model(ok[k], &err);
        if (!CHECK_OK(m ? QS_OK : err.code, &err))
            continue;
        Tensor *y = tu_run_graph(m, x);
        if (CHECK(y != NULL))
            for (int i = 0; i < 4; i++)
                CHECK(tensor_f32(y)[i] == want[i]);
        tensor_free(y);
        model_free(m);
    }
    const char *bad[] = { "bij,bkj->bki", "bij,bjk", "bij,bij->bij", "bii,bkj->bik" };
    for (int k = 0; k < (int)(sizeof bad / sizeof bad[0]); k++) {
        Model *m = einsum_model(bad[k], &err);
        CHECK(m == NULL);
        char want_msg[96];
        snprintf(want_msg, sizeof want_msg, "Einsum 'ein': equation \"%s\" is not supported",
                 bad[k]);
        expect_error("einsum unsupported", err.code, &err, QS_EUNSUPPORTED, want_msg);
        model_free(m);
    }
    tensor_free(x);
}

/* Mod imports with its sign rule (ONNX: fmod=1 on floats), exports only as fmod=1, and a
 * bad fmod is an error naming the node. */
static void test_mod(void)
{
    QsError err = { 0 };
    const float xv[4] = { 5, -5, 7.5f, -7.5f };
    const float truncated[4] = { 2, -2, 1.5f, -1.5f }, floored[4] = { 2, 1, 1.5f, -1.5f };
    Tensor *x = tensor_new(DT_F32, shape_of(2, 1LL, 4LL), &err);
    memcpy(tensor_f32(x), xv, sizeof xv);
    for (int fmod = 0; fmod <= 1; fmod++) {
        Model *m = mod_model(fmod, &err);
        if (!CHECK_OK(m ? QS_OK : err.code, &err))
            continue;
        Tensor *y = tu_run_graph(m, x);
        if (CHECK(y != NULL))
            for (int i = 0; i < 4; i++)
                CHECK(tensor_f32(y)[i] == (fmod ? truncated : floored)[i]);
        tensor_free(y);
        void *buf = NULL;
        size_t len = 0;
        QsStatus st = onnx_serialize(m, &buf, &len, &err);
        if (fmod) {
            CHECK_OK(st, &err);
        } else {
            CHECK(st == QS_EUNSUPPORTED);
            CHECK(strstr(err.msg, "Mod 'mod': fmod=0 on float values has no ONNX form") != NULL);
        }
        free(buf);
        model_free(m);
    }
    CHECK(mod_model(2, &err) == NULL);
    CHECK(strstr(err.msg, "fmod must be 0 or 1, not 2") != NULL);
    tensor_free(x);
}

static void test_graph_rules(void)
{
    QsError err = { 0 };
    const int64_t xd[2] = { 1, 4 };
    const bool sym[2] = { true, false };
    PbWriter g, vi;
    pb_writer_init(&g);
    node(&g, "Relu", "r", (const char *[]){ "x" }, 1, "a", NULL);
    node(&g, "RoiAlign", "roi", (const char *[]){ "a" }, 1, "b", NULL);
    node(&g, "GridSample", "grid", (const char *[]){ "b" }, 1, "c", NULL);
    PbWriter n;
    pb_writer_init(&n);
    pb_put_string(&n, 1, "c");
    pb_put_string(&n, 2, "y");
    pb_put_string(&n, 3, "ms");
    pb_put_string(&n, 4, "FusedGemm");
    pb_put_string(&n, 7, "com.microsoft");
    pb_put_message(&g, 1, &n);
    pb_writer_release(&n);
    pb_writer_init(&vi);
    value_info(&vi, "x", xd, sym, 2);
    pb_put_message(&g, 11, &vi);
    pb_writer_release(&vi);
    pb_writer_init(&vi);
    value_info(&vi, "y", xd, sym, 2);
    pb_put_message(&g, 12, &vi);
    pb_writer_release(&vi);
    Model *m = parse_graph(&g, 13, NULL, &err);
    CHECK(m == NULL);
    expect_error("unsupported list", err.code, &err, QS_EUNSUPPORTED,
                 "3 unsupported nodes: RoiAlign (roi), GridSample (grid), com.microsoft::FusedGemm (ms)");
    pb_writer_release(&g);

    /* Nodes missing required inputs: an error naming the node, never a crash. */
    static const char *const bad_ops[][2] = { { "Flatten", "the first input is missing" },
                                              { "MatMul", "1 inputs, expected 2" },
                                              { "Conv", "inputs X and W are required" },
                                              { "Gemm", "1 inputs, expected 2" } };
    for (int k = 0; k < 4; k++) {
        pb_writer_init(&g);
        node(&g, bad_ops[k][0], "bad", (const char *[]){ "x" }, k == 0 ? 0 : 1, "y", NULL);
        pb_writer_init(&vi);
        value_info(&vi, "x", xd, sym, 2);
        pb_put_message(&g, 11, &vi);
        pb_writer_release(&vi);
        pb_writer_init(&vi);
        value_info(&vi, "y", xd, sym, 2);
        pb_put_message(&g, 12, &vi);
        pb_writer_release(&vi);
        m = parse_graph(&g, 13, NULL, &err);
        CHECK(m == NULL);
        expect_error(bad_ops[k][0], err.code, &err, QS_EFORMAT, bad_ops[k][1]);
        pb_writer_release(&g);
    }

    /* Fixed batch 8 is refused; symbolic inner dims are refused. */
    const int64_t b8[2] = { 8, 4 };
    pb_writer_init(&g);
    node(&g, "Relu", "r", (const char *[]){ "x" }, 1, "y", NULL);
    pb_writer_init(&vi);
    value_info(&vi, "x", b8, NULL, 2);
    pb_put_message(&g, 11, &vi);
    pb_writer_release(&vi);
    pb_writer_init(&vi);
    value_info(&vi, "y", b8, NULL, 2);
    pb_put_message(&g, 12, &vi);
    pb_writer_release(&vi);
    m = parse_graph(&g, 13, NULL, &err);
    CHECK(m == NULL);
    expect_error("fixed batch 8", err.code, &err, QS_EUNSUPPORTED, "batch dim is fixed at 8");
    pb_writer_release(&g);
    const bool allsym[2] = { true, true };
    pb_writer_init(&g);
    node(&g, "Relu", "r", (const char *[]){ "x" }, 1, "y", NULL);
    pb_writer_init(&vi);
    value_info(&vi, "x", xd, allsym, 2);
    pb_put_message(&g, 11, &vi);
    pb_writer_release(&vi);
    pb_writer_init(&vi);
    value_info(&vi, "y", xd, allsym, 2);
    pb_put_message(&g, 12, &vi);
    pb_writer_release(&vi);
    m = parse_graph(&g, 13, NULL, &err);
    CHECK(m == NULL);
    expect_error("symbolic inner dim", err.code, &err, QS_EUNSUPPORTED, "dim 1 is symbolic");
    pb_writer_release(&g);

    /* Shape -> Gather -> Unsqueeze -> Concat -> Reshape, and Clip's min/max as constant
     * inputs: folded into a Reshape attribute [0, 2, 2] and Clip attributes. */
    pb_writer_init(&g);
    node(&g, "Shape", "shape", (const char *[]){ "x" }, 1, "s", NULL);
    PbWriter at, t;
    pb_writer_init(&at);
    pb_writer_init(&t);
    tensor_f32_raw(&t, "", NULL, 0, (const float[]){ 0 }, 0);
    pb_writer_release(&t);
    /* Constant index 0 (int64 via int64_data) */
    pb_writer_init(&t);
    pb_put_varint(&t, 2, 7);
    pb_put_packed_int64(&t, 7, (const int64_t[]){ 0 }, 1);
    pb_put_string(&at, 1, "value");
    pb_put_varint(&at, 20, 4);
    pb_put_message(&at, 5, &t);
    pb_writer_release(&t);
    node(&g, "Constant", "c0", NULL, 0, "i0", &at);
    pb_writer_release(&at);
    node(&g, "Gather", "gather", (const char *[]){ "s", "i0" }, 2, "n", NULL);
    pb_writer_init(&at);
    pb_put_string(&at, 1, "axes");
    pb_put_varint(&at, 20, 7);
    pb_put_packed_int64(&at, 8, (const int64_t[]){ 0 }, 1);
    node(&g, "Unsqueeze", "unsq", (const char *[]){ "n" }, 1, "n1", &at); /* opset 11: attr */
    pb_writer_release(&at);
    pb_writer_init(&at);
    pb_writer_init(&t);
    pb_put_packed_int64(&t, 1, (const int64_t[]){ 2 }, 1);
    pb_put_varint(&t, 2, 6); /* INT32 through int32_data */
    pb_put_packed_int64(&t, 5, (const int64_t[]){ 2, 2 }, 2);
    pb_put_string(&at, 1, "value");
    pb_put_varint(&at, 20, 4);
    pb_put_message(&at, 5, &t);
    pb_writer_release(&t);
    node(&g, "Constant", "c22", NULL, 0, "two2", &at);
    pb_writer_release(&at);
    pb_writer_init(&at);
    pb_put_string(&at, 1, "axis");
    pb_put_varint(&at, 20, 2);
    pb_put_varint(&at, 3, 0);
    node(&g, "Concat", "cat", (const char *[]){ "n1", "two2" }, 2, "shp", &at);
    pb_writer_release(&at);
    node(&g, "Reshape", "reshape", (const char *[]){ "x", "shp" }, 2, "r", NULL);
    pb_writer_init(&t);
    tensor_f32_raw(&t, "lo", NULL, 0, (const float[]){ -0.5f }, 1);
    pb_put_message(&g, 5, &t);
    pb_writer_release(&t);
    pb_writer_init(&t);
    tensor_f32_raw(&t, "hi", NULL, 0, (const float[]){ 1.5f }, 1);
    pb_put_message(&g, 5, &t);
    pb_writer_release(&t);
    node(&g, "Clip", "clip", (const char *[]){ "r", "lo", "hi" }, 3, "y", NULL);
    const int64_t yd[3] = { 1, 2, 2 };
    const bool ysym[3] = { true, false, false };
    pb_writer_init(&vi);
    value_info(&vi, "x", xd, sym, 2);
    pb_put_message(&g, 11, &vi);
    pb_writer_release(&vi);
    pb_writer_init(&vi);
    value_info(&vi, "y", yd, ysym, 3);
    pb_put_message(&g, 12, &vi);
    pb_writer_release(&vi);
    m = parse_graph(&g, 11, NULL, &err);
    if (CHECK(m != NULL)) {
        const Graph *gr = &m->graph;
        CHECK(gr->n_nodes == 2); /* Reshape and Clip; the shape arithmetic is gone */
        int r = graph_find_node(gr, "reshape"), cl = graph_find_node(gr, "clip");
        int64_t s[4];
        if (CHECK(r >= 0 && cl >= 0)) {
            CHECK(node_attr_ints(&gr->nodes[r], "shape", s, 4) == 3 && s[0] == 0 && s[1] == 2 &&
                  s[2] == 2);
            CHECK(node_attr_float(&gr->nodes[cl], "min", 0) == -0.5f &&
                  node_attr_float(&gr->nodes[cl], "max", 0) == 1.5f);
        }
        const float x[8] = { -1, 0.25f, 2, 1, 0, -0.25f, 3, -3 };
        const float want[8] = { -0.5f, 0.25f, 1.5f, 1, 0, -0.25f, 1.5f, -0.5f };
        Tensor xt = tensor_view(DT_F32, shape_of(2, 2LL, 4LL), (void *)x);
        Tensor *y = tu_run_graph(m, &xt);
        if (CHECK(y != NULL) && CHECK(y->shape.ndim == 3 && y->shape.dim[0] == 2))
            expect_close("folded reshape + clip", tensor_f32(y), want, 8, 0, 0);
        tensor_free(y);
    } else {
        fprintf(stderr, "fold: %s\n", err.msg);
    }
    model_free(m);
    pb_writer_release(&g);
}

/* ---- damaged files */

static int n_damaged;

/* The file must be refused with a message, or (for damage that happens to leave a valid
 * model) load; either way without a crash. */
static void parse_damaged(const void *buf, size_t len, bool must_fail, const char *label)
{
    QsError err = { 0 };
    Model *m = onnx_parse(buf, len, NULL, label, &err);
    n_damaged++;
    if (m) {
        if (must_fail && !CHECK(m == NULL))
            fprintf(stderr, "%s: loaded\n", label);
        model_free(m);
        return;
    }
    if (!CHECK(err.code != QS_OK && strlen(err.msg) > 10))
        fprintf(stderr, "%s: empty error\n", label);
}

static void expect_damaged(const void *buf, size_t len, QsStatus code, const char *needle,
                           const char *label)
{
    QsError err = { 0 };
    Model *m = onnx_parse(buf, len, NULL, "bad.onnx", &err);
    CHECK(m == NULL);
    model_free(m);
    expect_error(label, err.code, &err, code, needle);
}

static void test_damaged(void)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    if (!CHECK_OK(fileio_read(DIR "cnn_op13.onnx", &buf, &len, &err), &err))
        return;
    unsigned char *b = buf, *copy = malloc(len);
    /* Truncated at every offset: a prefix is never a whole model (the opset list follows
     * the graph in torch's files, and every message is length-prefixed). */
    for (size_t cut = 0; cut < len; cut++) {
        char label[64];
        snprintf(label, sizeof label, "truncated at %zu", cut);
        parse_damaged(b, cut, true, label);
    }
    /* Bytes overwritten (wrong tags, wire types, lengths, values) at many offsets. */
    const unsigned char junk[] = { 0xff, 0x00, 0x80, 0x07, 0x0b, 0x7f };
    for (size_t at = 0; at < len; at += 3)
        for (size_t j = 0; j < sizeof junk; j++) {
            memcpy(copy, b, len);
            copy[at] = junk[j];
            char label[64];
            snprintf(label, sizeof label, "byte %zu = 0x%02x", at, junk[j]);
            parse_damaged(copy, len, false, label);
        }
    free(copy);
    free(buf);
    fprintf(stderr, "damaged corpus: %d files\n", n_damaged);

    /* Specific damage with its message. */
    const unsigned char past_end[] = { 0x08, 0x08, 0x3a, 0xe8, 0x07, 0x0a, 0x00 };
    expect_damaged(past_end, sizeof past_end, QS_EFORMAT, "ModelProto at byte 2: field 7 length 1000 "
                   "runs past the end", "length past end");
    const unsigned char wire[] = { 0x08, 0x08, 0x38, 0x05 };
    expect_damaged(wire, sizeof wire, QS_EFORMAT, "field 7 has wire type 0, expected 2", "graph as varint");
    const unsigned char overlong[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0x01 };
    expect_damaged(overlong, sizeof overlong, QS_EFORMAT, "truncated or overlong varint", "overlong");
    const unsigned char group[] = { 0x0b, 0x0c };
    expect_damaged(group, sizeof group, QS_EFORMAT, "groups", "group");
    const unsigned char wt7[] = { 0x0f };
    expect_damaged(wt7, sizeof wt7, QS_EFORMAT, "invalid wire type", "wire type 7");
    expect_damaged("", 0, QS_EFORMAT, "no graph", "empty file");
    const char text[] = "not a model at all, just some text\n";
    parse_damaged(text, sizeof text - 1, true, "text");

    /* Deep recursion: graph -> node -> attribute(g) -> graph -> ... 200 levels. */
    PbWriter inner;
    pb_writer_init(&inner);
    for (int level = 0; level < 200; level++) {
        PbWriter attr, nd, gr;
        pb_writer_init(&attr);
        pb_put_string(&attr, 1, "then_branch");
        pb_put_varint(&attr, 20, 5);
        pb_put_message(&attr, 6, &inner);
        pb_writer_init(&nd);
        pb_put_string(&nd, 4, "If");
        pb_put_message(&nd, 5, &attr);
        pb_writer_init(&gr);
        pb_put_message(&gr, 1, &nd);
        pb_writer_release(&inner);
        inner = gr;
        pb_writer_release(&attr);
        pb_writer_release(&nd);
    }
    PbWriter deep;
    model_wrap(&deep, &inner, 13);
    expect_damaged(deep.buf, deep.len, QS_EFORMAT, "nested deeper than 64", "deep recursion");
    pb_writer_release(&deep);
    pb_writer_release(&inner);

    /* Huge dimensions: 2^40 x 2^40 floats with 4 bytes of data. */
    PbWriter g, t;
    pb_writer_init(&g);
    pb_writer_init(&t);
    tensor_f32_raw(&t, "W", (const int64_t[]){ 1LL << 40, 1LL << 40 }, 2, (const float[]){ 1 }, 1);
    pb_put_message(&g, 5, &t);
    pb_writer_release(&t);
    model_wrap(&deep, &g, 13);
    expect_damaged(deep.buf, deep.len, QS_ESHAPE, "W", "huge dims");
    pb_writer_release(&deep);
    pb_writer_release(&g);
    /* Large but addressable dims whose data is short. */
    pb_writer_init(&g);
    pb_writer_init(&t);
    tensor_f32_raw(&t, "W", (const int64_t[]){ 1LL << 20, 1LL << 10 }, 2, (const float[]){ 1 }, 1);
    pb_put_message(&g, 5, &t);
    pb_writer_release(&t);
    model_wrap(&deep, &g, 13);
    expect_damaged(deep.buf, deep.len, QS_EFORMAT, "tensor 'W': FLOAT has 4 bytes of data, expected "
                   "1073741824 elements", "short data");
    pb_writer_release(&deep);
    pb_writer_release(&g);
    /* Seven dimensions, negative dims. */
    pb_writer_init(&g);
    pb_writer_init(&t);
    tensor_f32_raw(&t, "W", (const int64_t[]){ 1, 1, 1, 1, 1, 1, 1 }, 7, (const float[]){ 1 }, 1);
    pb_put_message(&g, 5, &t);
    pb_writer_release(&t);
    model_wrap(&deep, &g, 13);
    expect_damaged(deep.buf, deep.len, QS_EUNSUPPORTED, "more than 6 dimensions", "rank 7");
    pb_writer_release(&deep);
    pb_writer_release(&g);
    pb_writer_init(&g);
    pb_writer_init(&t);
    tensor_f32_raw(&t, "W", (const int64_t[]){ -4 }, 1, NULL, 0);
    pb_put_message(&g, 5, &t);
    pb_writer_release(&t);
    model_wrap(&deep, &g, 13);
    expect_damaged(deep.buf, deep.len, QS_EFORMAT, "dimension 0 is negative", "negative dim");
    pb_writer_release(&deep);
    pb_writer_release(&g);
}

/* ---- hostile values: overflowing int64 arithmetic, names that are not UTF-8 */

/* A 1-D INT64 initializer. */
static void init_i64(PbWriter *g, const char *name, const int64_t *v, int n)
{
    PbWriter t;
    pb_writer_init(&t);
    put_dims(&t, 1, (const int64_t[]){ n }, 1);
    pb_put_varint(&t, 2, 7);
    pb_put_string(&t, 8, name);
    pb_put_bytes(&t, 9, v, (size_t)n * sizeof *v);
    pb_put_message(g, 5, &t);
    pb_writer_release(&t);
}

/* x (N, 4) and y (N, 4 or 1) as graph input and output. */
static void io_nx4(PbWriter *g, const char *x, const char *y, int64_t ycols)
{
    const bool sym[2] = { true, false };
    PbWriter vi;
    pb_writer_init(&vi);
    value_info(&vi, x, (const int64_t[]){ 1, 4 }, sym, 2);
    pb_put_message(g, 11, &vi);
    pb_writer_release(&vi);
    pb_writer_init(&vi);
    value_info(&vi, y, (const int64_t[]){ 1, ycols }, sym, 2);
    pb_put_message(g, 12, &vi);
    pb_writer_release(&vi);
}

/* y = Slice(x or a folded constant, start, end, axis 1 / 0, step); returns y on a fixed
 * x of 2 rows, or NULL with err set. fold: slice the constant [10..14] and add it to x. */
static Tensor *slice_run(bool fold, int64_t start, int64_t end, int64_t step, QsError *err)
{
    PbWriter g;
    pb_writer_init(&g);
    init_i64(&g, "st", &start, 1);
    init_i64(&g, "en", &end, 1);
    init_i64(&g, "ax", (const int64_t[]){ fold ? 0 : 1 }, 1);
    init_i64(&g, "sp", &step, 1);
    if (fold) {
        PbWriter t;
        pb_writer_init(&t);
        tensor_f32_raw(&t, "k", (const int64_t[]){ 5 }, 1, (const float[]){ 10, 11, 12, 13, 14 },
                       5);
        pb_put_message(&g, 5, &t);
        pb_writer_release(&t);
        node(&g, "Slice", "slice", (const char *[]){ "k", "st", "en", "ax", "sp" }, 5, "ks",
             NULL);
        node(&g, "Add", "add", (const char *[]){ "x", "ks" }, 2, "y", NULL);
    } else {
        node(&g, "Slice", "slice", (const char *[]){ "x", "st", "en", "ax", "sp" }, 5, "y", NULL);
    }
    io_nx4(&g, "x", "y", fold ? 4 : 1);
    Model *m = parse_graph(&g, 13, NULL, err);
    pb_writer_release(&g);
    if (!m)
        return NULL;
    const float xv[8] = { 0, 1, 2, 3, 100, 101, 102, 103 };
    Tensor xt = tensor_view(DT_F32, shape_of(2, 2LL, 4LL), (void *)xv);
    Tensor *y = tu_run_graph(m, &xt);
    model_free(m);
    return y;
}

/* Slice steps at the int64 limits (issue 14, finding 4): one element, never an overflow,
 * both folded on constants and at run time. */
static void test_slice_extreme_steps(void)
{
    QsError err = { 0 };
    /* folded: [10..14][1:5:INT64_MAX] = [11]; [10..14][INT64_MAX:-INT64_MAX:INT64_MIN] =
     * [14] (start clamped to the last element); added to x (N, 4) by broadcasting */
    const struct {
        int64_t start, end, step;
        float want;
    } folds[] = { { 1, 5, INT64_MAX, 11 }, { INT64_MAX, -INT64_MAX, INT64_MIN, 14 },
                  { -1, INT64_MIN + 1, INT64_MIN, 14 }, { 0, INT64_MAX, INT64_MAX, 10 } };
    for (size_t i = 0; i < sizeof folds / sizeof folds[0]; i++) {
        Tensor *y = slice_run(true, folds[i].start, folds[i].end, folds[i].step, &err);
        if (!CHECK(y != NULL)) {
            fprintf(stderr, "fold slice %zu: %s\n", i, err.msg);
            continue;
        }
        CHECK(y->shape.ndim == 2 && y->shape.dim[0] == 2 && y->shape.dim[1] == 4);
        CHECK(tensor_f32(y)[0] == folds[i].want && tensor_f32(y)[5] == 101 + folds[i].want);
        tensor_free(y);
    }
    /* at run time, on axis 1 of x = [[0, 1, 2, 3], [100, 101, 102, 103]] */
    const struct {
        int64_t start, end, step;
        float want0, want1;
    } runs[] = { { 1, 4, INT64_MAX, 1, 101 }, { INT64_MAX, -INT64_MAX, -INT64_MAX, 3, 103 },
                 { 2, 0, -INT64_MAX, 2, 102 } };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        Tensor *y = slice_run(false, runs[i].start, runs[i].end, runs[i].step, &err);
        if (!CHECK(y != NULL)) {
            fprintf(stderr, "run-time slice %zu: %s\n", i, err.msg);
            continue;
        }
        CHECK(y->shape.ndim == 2 && y->shape.dim[0] == 2 && y->shape.dim[1] == 1);
        CHECK(tensor_f32(y)[0] == runs[i].want0 && tensor_f32(y)[1] == runs[i].want1);
        tensor_free(y);
    }
    /* INT64_MIN in a Slice parameter of a run-time value is the importer's batch symbol
     * (docs/onnx.md): refused by name rather than mistaken */
    CHECK(slice_run(false, 0, 4, INT64_MIN, &err) == NULL);
    expect_error("step INT64_MIN", err.code, &err, QS_EUNSUPPORTED,
                 "test.onnx: Slice 'slice': steps holds the batch size");
}

/* Folded int64 arithmetic that leaves int64 is an error naming the node. */
static void test_fold_int_overflow(void)
{
    static const struct {
        const char *op;
        int64_t a, b;
        const char *msg;
    } cases[] = {
        { "Add", INT64_MAX, 1, "Add 'calc': integer overflow: 9223372036854775807 + 1 does not "
                               "fit in int64" },
        { "Sub", INT64_MIN + 1, 2, "Sub 'calc': integer overflow: -9223372036854775807 - 2 does "
                                   "not fit in int64" },
        { "Mul", 1LL << 32, 1LL << 31, "Mul 'calc': integer overflow: 4294967296 * 2147483648 "
                                       "does not fit in int64" },
        { "Pow", 3, 40, "Pow 'calc': integer overflow: 3 ^ 40 does not fit in int64" },
        { "Pow", 2, 1000, "Pow 'calc': integer overflow: 2 ^ 1000 does not fit in int64" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        PbWriter g;
        pb_writer_init(&g);
        init_i64(&g, "a", &cases[i].a, 1);
        init_i64(&g, "b", &cases[i].b, 1);
        node(&g, cases[i].op, "calc", (const char *[]){ "a", "b" }, 2, "s", NULL);
        node(&g, "Reshape", "reshape", (const char *[]){ "x", "s" }, 2, "y", NULL);
        io_nx4(&g, "x", "y", 4);
        QsError err = { 0 };
        Model *m = parse_graph(&g, 13, NULL, &err);
        CHECK(m == NULL);
        model_free(m);
        expect_error(cases[i].op, err.code, &err, QS_EINVAL, cases[i].msg);
        pb_writer_release(&g);
    }
    /* Range over the whole int64 line in 4 steps: exact values, no overflow */
    PbWriter g;
    pb_writer_init(&g);
    const int64_t lo = INT64_MIN + 1, hi = INT64_MAX, d = 1LL << 62;
    init_i64(&g, "lo", &lo, 1);
    init_i64(&g, "hi", &hi, 1);
    init_i64(&g, "d", &d, 1);
    node(&g, "Range", "range", (const char *[]){ "lo", "hi", "d" }, 3, "r", NULL);
    node(&g, "Shape", "shape", (const char *[]){ "r" }, 1, "n", NULL);
    node(&g, "Reshape", "reshape", (const char *[]){ "x", "n" }, 2, "y", NULL);
    io_nx4(&g, "x", "y", 4);
    QsError err = { 0 };
    Model *m = parse_graph(&g, 13, NULL, &err);
    /* 4 elements: x (N, 4) reshaped to (4) works at batch 1 only, so the import stops at
     * the batch rule; the Range itself must have folded to 4 values */
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "range") == NULL && strstr(err.msg, "overflow") == NULL);
    model_free(m);
    pb_writer_release(&g);
}

/* The batch size B in shape arithmetic (onnx_sym.c): x (N, 4) reshaped to
 * (Shape(x)[0] OP k, cols). 2*B rows of 2 fold the batch into dim 0 and run at batch 3 as a
 * plain reshape; B + 0 copies it; B / 2 and B == 2 depend on B and are refused by name. */
static void test_batch_arithmetic(void)
{
    static const struct {
        const char *op;
        int64_t k, cols;
        const char *msg;
    } cases[] = {
        { "Mul", 2, 2, NULL },
        { "Add", 0, 4, NULL },
        { "Div", 2, 4, "Div 'calc': Div of (1*B +0) and (0*B +2), B the batch size" },
        { "Equal", 2, 4, "Equal 'calc': Equal of (1*B +0) and (0*B +2), B the batch size" },
    };
    const float xv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        PbWriter g;
        pb_writer_init(&g);
        const int64_t zero = 0;
        init_i64(&g, "i0", &zero, 1);
        init_i64(&g, "k", &cases[i].k, 1);
        init_i64(&g, "cols", &cases[i].cols, 1);
        node(&g, "Shape", "shape", (const char *[]){ "x" }, 1, "s", NULL);
        node(&g, "Gather", "batch", (const char *[]){ "s", "i0" }, 2, "b", NULL);
        node(&g, cases[i].op, "calc", (const char *[]){ "b", "k" }, 2, "c", NULL);
        PbWriter at;
        pb_writer_init(&at);
        pb_put_string(&at, 1, "axis");
        pb_put_varint(&at, 3, 0);
        pb_put_varint(&at, 20, 2); /* INT */
        node(&g, "Concat", "cat", (const char *[]){ "c", "cols" }, 2, "t", &at);
        pb_writer_release(&at);
        node(&g, "Reshape", "reshape", (const char *[]){ "x", "t" }, 2, "y", NULL);
        io_nx4(&g, "x", "y", cases[i].cols);
        QsError err = { 0 };
        Model *m = parse_graph(&g, 13, NULL, &err);
        pb_writer_release(&g);
        if (cases[i].msg) {
            CHECK(m == NULL);
            expect_error(cases[i].op, err.code, &err, QS_EUNSUPPORTED, cases[i].msg);
            model_free(m);
            continue;
        }
        if (!CHECK_OK(m ? QS_OK : err.code, &err))
            continue;
        Tensor x = tensor_view(DT_F32, shape_of(2, 3LL, 4LL), (void *)xv);
        Tensor *y = tu_run_graph(m, &x);
        if (CHECK(y != NULL) && CHECK(y->shape.dim[0] == 12 / cases[i].cols) &&
            CHECK(y->shape.dim[1] == cases[i].cols))
            CHECK(memcmp(tensor_f32(y), xv, sizeof xv) == 0);
        tensor_free(y);
        model_free(m);
    }
}

/* A one-node model Relu(x) -> y whose names the caller chooses. */
static Model *relu_named(const char *node_name, const char *x, const char *y, QsError *err)
{
    PbWriter g;
    pb_writer_init(&g);
    node(&g, "Relu", node_name, (const char *[]){ x }, 1, y, NULL);
    io_nx4(&g, x, y, 4);
    Model *m = parse_graph(&g, 13, NULL, err);
    pb_writer_release(&g);
    return m;
}

/* Names that are not UTF-8 or hold control characters are refused where they are read
 * (issue 14, finding 5); valid multi-byte names load and survive a .qsm round trip. */
static void test_hostile_names(void)
{
    static const struct {
        const char *node, *x, *y, *msg;
    } cases[] = {
        { "r\xffz", "x", "y", "name is not valid UTF-8 (byte 0xff at offset 1)" },
        { "r", "x\xc0\xafx", "y", "input name is not valid UTF-8 (byte 0xc0 at offset 1)" },
        { "r", "x", "y\xed\xa0\x80", "output name is not valid UTF-8 (byte 0xed at offset 1)" },
        { "r", "x", "y\xf4\x90\x80\x80", "output name is not valid UTF-8 (byte 0xf4 at offset 1)" },
        { "caf\xc3", "x", "y", "name is not valid UTF-8 (byte 0xc3 at offset 3)" },
        { "r\n2", "x", "y", "name contains the control character 0x0a at offset 1" },
        { "r", "x\x1b[31m", "y", "input name contains the control character 0x1b at offset 1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        QsError err = { 0 };
        Model *m = relu_named(cases[i].node, cases[i].x, cases[i].y, &err);
        CHECK(m == NULL);
        model_free(m);
        expect_error(cases[i].msg, err.code, &err, QS_EFORMAT, cases[i].msg);
        CHECK(strncmp(err.msg, "test.onnx: NodeProto at byte ", 29) == 0);
    }
    /* graph input names are ValueInfoProtos; the NodeProto comes first in the file */
    QsError err = { 0 };
    PbWriter g, vi;
    pb_writer_init(&g);
    pb_writer_init(&vi);
    value_info(&vi, "in\x7f", (const int64_t[]){ 1, 4 }, (const bool[]){ true, false }, 2);
    pb_put_message(&g, 11, &vi);
    pb_writer_release(&vi);
    Model *m = parse_graph(&g, 13, NULL, &err);
    CHECK(m == NULL);
    expect_error("value_info", err.code, &err, QS_EFORMAT,
                 "test.onnx: ValueInfoProto at byte 19: name contains the control character "
                 "0x7f at offset 2");
    pb_writer_release(&g);
    /* an attribute's string value must be UTF-8 too */
    PbWriter at;
    pb_writer_init(&g);
    pb_writer_init(&at);
    pb_put_string(&at, 1, "auto_pad");
    pb_put_string(&at, 4, "SAME\xe2\x82");
    pb_put_varint(&at, 20, 3);
    node(&g, "MaxPool", "pool", (const char *[]){ "x" }, 1, "y", &at);
    io_nx4(&g, "x", "y", 4);
    m = parse_graph(&g, 13, NULL, &err);
    CHECK(m == NULL);
    expect_error("attribute string", err.code, &err, QS_EFORMAT,
                 "string value is not valid UTF-8 (byte 0xe2 at offset 4)");
    pb_writer_release(&at);
    pb_writer_release(&g);

    /* Valid UTF-8 names (2-, 3- and 4-byte) load, save to .qsm and load back unchanged. */
    const char *nn = "r\xc3\xa9lu", *xn = "\xe5\x85\xa5\xe5\x8a\x9b", *yn = "y\xf0\x9f\x98\x80";
    m = relu_named(nn, xn, yn, &err);
    if (!CHECK(m != NULL)) {
        fprintf(stderr, "utf-8 names: %s\n", err.msg);
        return;
    }
    void *buf = NULL;
    size_t len = 0;
    if (CHECK_OK(qsm_serialize(m, &buf, &len, &err), &err)) {
        Model *back = qsm_parse(buf, len, "roundtrip.qsm", &err);
        if (CHECK(back != NULL)) {
            CHECK(graph_find_node(&back->graph, nn) >= 0);
            CHECK(graph_find_value(&back->graph, xn) >= 0 && graph_find_value(&back->graph, yn) >= 0);
        } else {
            fprintf(stderr, "round trip: %s\n", err.msg);
        }
        model_free(back);
    }
    free(buf);
    model_free(m);
}

/* Generated constants take the layer's whole name: two Negs whose names share their first
 * 300 bytes used to be cut to one name and loop forever looking for a free one. */
static void test_long_names(void)
{
    char a[400], b[400];
    memset(a, 'n', 300);
    memcpy(b, a, 300);
    strcpy(a + 300, "_a");
    strcpy(b + 300, "_b");
    PbWriter g;
    pb_writer_init(&g);
    node(&g, "Neg", a, (const char *[]){ "x" }, 1, "h", NULL);
    node(&g, "Neg", b, (const char *[]){ "h" }, 1, "y", NULL);
    io_nx4(&g, "x", "y", 4);
    QsError err = { 0 };
    Model *m = parse_graph(&g, 13, NULL, &err);
    if (CHECK(m != NULL)) {
        const float xv[4] = { 1, -2, 3, -4 };
        Tensor xt = tensor_view(DT_F32, shape_of(2, 1LL, 4LL), (void *)xv);
        Tensor *y = tu_run_graph(m, &xt);
        if (CHECK(y != NULL))
            expect_close("neg neg", tensor_f32(y), xv, 4, 0, 0);
        tensor_free(y);
    } else {
        fprintf(stderr, "long names: %s\n", err.msg);
    }
    model_free(m);
    pb_writer_release(&g);
}

static void test_protobuf(void)
{
    /* Varints: 300 = ac 02; 10-byte maximum; an 11th byte or a 10th byte > 1 fails. */
    const uint8_t v300[] = { 0xac, 0x02 };
    size_t pos = 0;
    uint64_t v;
    CHECK(pb_varint(v300, 2, &pos, &v) && v == 300 && pos == 2);
    const uint8_t vmax[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    pos = 0;
    CHECK(pb_varint(vmax, 10, &pos, &v) && v == UINT64_MAX);
    const uint8_t vbad[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
    pos = 0;
    CHECK(!pb_varint(vbad, 10, &pos, &v));
    pos = 0;
    CHECK(!pb_varint(vmax, 5, &pos, &v));
    /* Writer -> reader round trip of every wire type, packed and unpacked. */
    PbWriter w;
    pb_writer_init(&w);
    pb_put_int64(&w, 1, -5);
    pb_put_float(&w, 2, 1.5f);
    pb_put_string(&w, 3, "abc");
    const int64_t ints[3] = { 1, -1, 1LL << 40 };
    pb_put_packed_int64(&w, 4, ints, 3);
    pb_put_varint(&w, 4, 7);
    CHECK_OK(pb_writer_status(&w, NULL), NULL);
    PbReader r;
    PbField f;
    QsError err = { 0 };
    pb_reader_init(&r, w.buf, w.len, "Test");
    int k = 0;
    uint64_t got[8];
    int64_t n_ints = 0;
    while (pb_next(&r, &f, &err) == 1) {
        if (k == 0)
            CHECK(f.num == 1 && f.wire == PB_VARINT && (int64_t)f.v == -5);
        if (k == 1) {
            float fl;
            uint32_t u = (uint32_t)f.v;
            memcpy(&fl, &u, 4);
            CHECK(f.num == 2 && f.wire == PB_I32 && fl == 1.5f);
        }
        if (k == 2)
            CHECK(f.num == 3 && f.len == 3 && memcmp(f.data, "abc", 3) == 0);
        if (f.num == 4) {
            CHECK(pb_count_packed(&r, &f, PB_VARINT, &err) == (f.wire == PB_LEN ? 3 : 1));
            n_ints += pb_read_packed(&r, &f, PB_VARINT, got + n_ints, 8 - n_ints, &err);
        }
        k++;
    }
    CHECK(k == 5 && n_ints == 4 && (int64_t)got[1] == -1 && (int64_t)got[2] == (1LL << 40) &&
          got[3] == 7);
    /* A packed fixed32 field whose length is not a multiple of 4. */
    const uint8_t odd[] = { 0x22, 0x03, 1, 2, 3 };
    pb_reader_init(&r, odd, sizeof odd, "Test");
    CHECK(pb_next(&r, &f, &err) == 1);
    CHECK(pb_count_packed(&r, &f, PB_I32, &err) == -1);
    expect_error("packed odd", err.code, &err, QS_EFORMAT, "not a multiple of 4");
    pb_writer_release(&w);
}

/* A node with several outputs (Split) and attributes (AttributeProto writers). */
static void node_outs(PbWriter *g, const char *op, const char *const *in, int nin,
                      const char *const *out, int nout, const PbWriter *attrs, int nattrs)
{
    PbWriter n;
    pb_writer_init(&n);
    for (int i = 0; i < nin; i++)
        pb_put_string(&n, 1, in[i]);
    for (int i = 0; i < nout; i++)
        pb_put_string(&n, 2, out[i]);
    pb_put_string(&n, 3, op);
    pb_put_string(&n, 4, op);
    for (int i = 0; i < nattrs; i++)
        pb_put_bytes(&n, 5, attrs[i].buf, attrs[i].len);
    pb_put_message(g, 1, &n);
    pb_writer_release(&n);
}

/* An AttributeProto: ints (n >= 0) or, with n < 0, the int v[0]. */
static void attr_pb(PbWriter *a, const char *name, const int64_t *v, int n)
{
    pb_writer_init(a);
    pb_put_string(a, 1, name);
    if (n < 0) {
        pb_put_varint(a, 3, (uint64_t)v[0]);
        pb_put_varint(a, 20, 2); /* INT */
    } else {
        pb_put_packed_int64(a, 8, v, n);
        pb_put_varint(a, 20, 7); /* INTS */
    }
}

static void io_info(PbWriter *g, int field, const char *name, const int64_t *d, int nd)
{
    const bool sym[3] = { true, false, false };
    PbWriter vi;
    pb_writer_init(&vi);
    value_info(&vi, name, d, sym, nd);
    pb_put_message(g, field, &vi);
    pb_writer_release(&vi);
}

/* x (N, 6) -> Split on axis `axis` into a and b -> Concat(b, a) -> y. sizes: the split as
 * an input (opset 13) or attribute (opset 11), or NULL for equal parts. */
static Model *split_model(int opset, const int64_t *sizes, int64_t axis, QsError *err)
{
    PbWriter g, at[2], t;
    pb_writer_init(&g);
    attr_pb(&at[0], "axis", &axis, -1);
    int nat = 1;
    if (sizes && opset < 13)
        attr_pb(&at[nat++], "split", sizes, 2);
    if (sizes && opset >= 13) {
        pb_writer_init(&t);
        pb_put_packed_int64(&t, 1, (const int64_t[]){ 2 }, 1);
        pb_put_varint(&t, 2, 7);
        pb_put_packed_int64(&t, 7, sizes, 2);
        pb_put_string(&t, 8, "sz");
        pb_put_message(&g, 5, &t);
        pb_writer_release(&t);
    }
    node_outs(&g, "Split", (const char *[]){ "x", "sz" }, sizes && opset >= 13 ? 2 : 1,
              (const char *[]){ "a", "b" }, 2, at, nat);
    for (int i = 0; i < nat; i++)
        pb_writer_release(&at[i]);
    attr_pb(&at[0], "axis", (const int64_t[]){ 1 }, -1);
    node_outs(&g, "Concat", (const char *[]){ "b", "a" }, 2, (const char *[]){ "y" }, 1, at, 1);
    pb_writer_release(&at[0]);
    io_info(&g, 11, "x", (const int64_t[]){ 1, 6 }, 2);
    io_info(&g, 12, "y", (const int64_t[]){ 1, 6 }, 2);
    Model *m = parse_graph(&g, opset, NULL, err);
    pb_writer_release(&g);
    return m;
}

/* Split: each output a Slice of the axis; the sizes from the input, the attribute or
 * equal parts; sizes that do not cover the axis and the batch axis are refused. */
static void test_split(void)
{
    QsError err = { 0 };
    const float xv[12] = { 0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15 };
    Tensor *x = tensor_new(DT_F32, shape_of(2, 2LL, 6LL), &err);
    memcpy(tensor_f32(x), xv, sizeof xv);
    static const float want24[12] = { 2, 3, 4, 5, 0, 1, 12, 13, 14, 15, 10, 11 },
                       want33[12] = { 3, 4, 5, 0, 1, 2, 13, 14, 15, 10, 11, 12 };
    const int64_t s24[2] = { 2, 4 };
    struct { int opset; const int64_t *sizes; int64_t axis; const float *want; } ok[] = {
        { 13, s24, 1, want24 }, { 11, s24, -1, want24 }, { 13, NULL, 1, want33 } };
    for (int k = 0; k < 3; k++) {
        Model *m = split_model(ok[k].opset, ok[k].sizes, ok[k].axis, &err);
        if (!CHECK_OK(m ? QS_OK : err.code, &err))
            continue;
        Tensor *y = tu_run_graph(m, x);
        if (CHECK(y != NULL) && CHECK(tensor_numel(y) == 12))
            CHECK(memcmp(tensor_f32(y), ok[k].want, sizeof want24) == 0);
        tensor_free(y);
        model_free(m);
    }
    CHECK(split_model(13, (const int64_t[]){ 2, 3 }, 1, &err) == NULL);
    expect_error("split sizes", err.code, &err, QS_EINVAL,
                 "Split 'Split': 2 split sizes summing to 5 for 2 outputs of an axis of size 6");
    CHECK(split_model(13, s24, 0, &err) == NULL);
    expect_error("split batch", err.code, &err, QS_EUNSUPPORTED,
                 "axis 0: only non-batch axes are supported");
    tensor_free(x);
}

/* A detector's tail: boxes = Sigmoid(x) (N, 3, 4), scores = Transpose(x) (N, 4, 3) into
 * NonMaxSuppression, whose indices are the graph output "sel" beside "keep" = Relu(x).
 * The import stops before the NMS: "keep" stays, "sel" goes, the boxes and scores become
 * outputs, and the metadata names the node. */
static void test_nms_stop(void)
{
    QsError err = { 0 };
    PbWriter g, at;
    pb_writer_init(&g);
    node(&g, "Sigmoid", "sig", (const char *[]){ "x" }, 1, "boxes", NULL);
    attr_pb(&at, "perm", (const int64_t[]){ 0, 2, 1 }, 3);
    node(&g, "Transpose", "tr", (const char *[]){ "x" }, 1, "scores", &at);
    pb_writer_release(&at);
    node(&g, "Relu", "relu", (const char *[]){ "x" }, 1, "keep", NULL);
    node(&g, "NonMaxSuppression", "nms", (const char *[]){ "boxes", "scores" }, 2, "sel", NULL);
    node(&g, "Identity", "after", (const char *[]){ "sel" }, 1, "sel2", NULL);
    io_info(&g, 11, "x", (const int64_t[]){ 1, 3, 4 }, 3);
    io_info(&g, 12, "keep", (const int64_t[]){ 1, 3, 4 }, 3);
    io_info(&g, 12, "sel2", (const int64_t[]){ 1, 3 }, 2);
    Model *m = parse_graph(&g, 13, NULL, &err);
    pb_writer_release(&g);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    const Graph *gr = &m->graph;
    static const char *const want[3] = { "keep", "boxes", "scores" };
    if (CHECK(gr->n_outputs == 3))
        for (int i = 0; i < 3; i++)
            CHECK(strcmp(gr->values[gr->outputs[i]].name, want[i]) == 0);
    const char *note = model_meta_get(m, "onnx_stopped_before");
    CHECK(note && strstr(note, "NonMaxSuppression 'nms': qscope has no NMS; the model stops "
                                "before it (1 graph output computed from it dropped) and "
                                "outputs the boxes and scores it would filter: 'boxes', "
                                "'scores'"));
    model_free(m);
}

/* A Split of a view (two Transposes that leave the batch at axis 0, onnx_view.h): the view
 * is materialized for the Split, and every output is a Slice of that value. x (N, 3, 4) ->
 * (N, 4, 3) -> Split [1, 2] on axis 2 -> Concat(b, a). */
static void test_split_view(void)
{
    QsError err = { 0 };
    PbWriter g, at, t;
    pb_writer_init(&g);
    attr_pb(&at, "perm", (const int64_t[]){ 1, 0, 2 }, 3);
    node(&g, "Transpose", "t0", (const char *[]){ "x" }, 1, "x0", &at);
    pb_writer_release(&at);
    attr_pb(&at, "perm", (const int64_t[]){ 1, 2, 0 }, 3);
    node(&g, "Transpose", "t1", (const char *[]){ "x0" }, 1, "x1", &at);
    pb_writer_release(&at);
    pb_writer_init(&t);
    pb_put_packed_int64(&t, 1, (const int64_t[]){ 2 }, 1);
    pb_put_varint(&t, 2, 7);
    pb_put_packed_int64(&t, 7, (const int64_t[]){ 1, 2 }, 2);
    pb_put_string(&t, 8, "sz");
    pb_put_message(&g, 5, &t);
    pb_writer_release(&t);
    attr_pb(&at, "axis", (const int64_t[]){ 2 }, -1);
    node_outs(&g, "Split", (const char *[]){ "x1", "sz" }, 2, (const char *[]){ "a", "b" }, 2,
              &at, 1);
    pb_writer_release(&at);
    attr_pb(&at, "axis", (const int64_t[]){ 2 }, -1);
    node_outs(&g, "Concat", (const char *[]){ "b", "a" }, 2, (const char *[]){ "y" }, 1, &at, 1);
    pb_writer_release(&at);
    io_info(&g, 11, "x", (const int64_t[]){ 1, 3, 4 }, 3);
    io_info(&g, 12, "y", (const int64_t[]){ 1, 4, 3 }, 3);
    Model *m = parse_graph(&g, 13, NULL, &err);
    pb_writer_release(&g);
    if (!CHECK_OK(m ? QS_OK : err.code, &err))
        return;
    Tensor *x = tensor_new(DT_F32, shape_of(3, 2LL, 3LL, 4LL), &err);
    for (int i = 0; i < 24; i++)
        tensor_f32(x)[i] = (float)i;
    Tensor *y = tu_run_graph(m, x);
    if (CHECK(y != NULL) && CHECK(tensor_numel(y) == 24))
        for (int n = 0; n < 2; n++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 3; k++) /* y[n, j, k] = x[n, (k + 1) % 3, j] */
                    CHECK(tensor_f32(y)[n * 12 + j * 3 + k] ==
                          tensor_f32(x)[n * 12 + ((k + 1) % 3) * 4 + j]);
    tensor_free(y);
    tensor_free(x);
    model_free(m);
}

int main(void)
{
    test_protobuf();
    test_fixtures();
    test_hand_models();
    test_mod();
    test_einsum();
    test_graph_rules();
    test_damaged();
    test_slice_extreme_steps();
    test_fold_int_overflow();
    test_batch_arithmetic();
    test_hostile_names();
    test_long_names();
    test_split();
    test_split_view();
    test_nms_stop();
    return test_summary("onnx_import");
}
