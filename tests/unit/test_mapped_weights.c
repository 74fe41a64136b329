/* Weights left in the model's file (io/filemap.h, Model.maps): a .qsm loads with its
 * tensors viewing the file's mapping; writing to every weight in place (what QAT, CLE,
 * bias correction, training and fold transforms do) changes the model but never the file;
 * saving the changed model over its own file while it is mapped works and reloads the new
 * values; a tensor at a misaligned offset is copied into the arena with its exact bytes;
 * model_pack keeps mapped views where they are; a clone copies them. (Data files read in
 * place: test_stream_data.c.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrays/datafile.h"
#include "arrays/npy.h"
#include "data/dataset.h"
#include "graph/model.h"
#include "io/fileio.h"
#include "native/qsm.h"
#include "test_util.h"

static char *temp_copy(const char *src, const char *tag)
{
    void *buf;
    size_t len;
    QsError err = { 0 };
    QS_ASSERT(!fileio_read(src, &buf, &len, &err));
    char *path = malloc(256);
    snprintf(path, 256, "%s/qs_mapped_%s_%d.qsm", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             tag, (int)getpid());
    QS_ASSERT(!fileio_write_atomic(path, buf, len, &err));
    free(buf);
    return path;
}

static bool file_equals(const char *path, const void *want, size_t len)
{
    void *buf;
    size_t got;
    QsError err = { 0 };
    if (fileio_read(path, &buf, &got, &err))
        return false;
    bool same = got == len && memcmp(buf, want, len) == 0;
    free(buf);
    return same;
}

static void test_mutation_leaves_file(void)
{
    char *path = temp_copy("models/mnist_cnn.qsm", "cnn");
    void *orig;
    size_t orig_len;
    QsError err = { 0 };
    CHECK_OK(fileio_read(path, &orig, &orig_len, &err), &err);
    Model *m = qsm_load(path, &err);
    if (!CHECK(m))
        return;
    Graph *g = &m->graph;
    size_t params = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == VAL_CONST) {
            params += tensor_bytes(g->values[i].data);
            CHECK(model_maps(m, g->values[i].data->data)); /* qscope's files are aligned */
        }
    CHECK(params > 0 && model_mapped_bytes(m) == params);
    CHECK(m->n_maps == 1);

    /* every weight written in place */
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == VAL_CONST && g->values[i].data->dtype == DT_F32) {
            float *w = tensor_f32(g->values[i].data);
            for (int64_t k = 0; k < shape_numel(&g->values[i].data->shape); k++)
                w[k] = w[k] * 0.5f + 1.0f;
        }
    CHECK(file_equals(path, orig, orig_len));

    /* model_pack leaves mapped views in place (no copy of the weights) */
    const void *first = NULL;
    for (int i = 0; i < g->n_values && !first; i++)
        if (g->values[i].kind == VAL_CONST)
            first = g->values[i].data->data;
    CHECK_OK(model_pack(m, &err), &err);
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == VAL_CONST) {
            CHECK(model_maps(m, g->values[i].data->data));
            break;
        }
    CHECK(model_mapped_bytes(m) == params);

    /* a clone owns copies: a write to it shows neither in m nor in the file */
    Model *c = model_clone(m, &err);
    if (CHECK(c)) {
        CHECK(c->n_maps == 0 && model_mapped_bytes(c) == 0);
        int v = -1;
        for (int i = 0; i < g->n_values && v < 0; i++)
            if (g->values[i].kind == VAL_CONST && g->values[i].data->dtype == DT_F32)
                v = i;
        float before = tensor_f32(g->values[v].data)[0];
        tensor_f32(c->graph.values[v].data)[0] = before + 7.0f;
        CHECK(tensor_f32(g->values[v].data)[0] == before);
        model_free(c);
    }

    /* saved over its own (mapped) file: rename keeps the mapped old file intact, and the
     * file now holds the changed weights */
    float want = tensor_f32(g->values[graph_find_value(g, "conv1.weight")].data)[3];
    CHECK_OK(qsm_save(path, m, &err), &err);
    CHECK(tensor_f32(g->values[graph_find_value(g, "conv1.weight")].data)[3] == want);
    CHECK(!file_equals(path, orig, orig_len));
    Model *r = qsm_load(path, &err);
    if (CHECK(r)) {
        const Graph *h = &r->graph;
        CHECK(tensor_f32(h->values[graph_find_value(h, "conv1.weight")].data)[3] == want);
        model_free(r);
    }
    model_free(m);
    free(orig);
    unlink(path);
    free(path);
}

/* A file from another writer: a 2-byte tensor first, so the float tensor after it lies at
 * an odd offset and must be copied. */
static void test_misaligned_copied(void)
{
    const char *graph = "{\\\"inputs\\\":[{\\\"name\\\":\\\"x\\\",\\\"shape\\\":[4]}],"
                        "\\\"outputs\\\":[\\\"y\\\"],\\\"nodes\\\":[{\\\"name\\\":\\\"y\\\","
                        "\\\"op\\\":\\\"Add\\\",\\\"inputs\\\":[\\\"x\\\",\\\"b\\\"],"
                        "\\\"output\\\":\\\"y\\\",\\\"attrs\\\":{}}],\\\"params\\\":[]}";
    char hdr[1024];
    int n = snprintf(hdr, sizeof hdr,
                     "{\"__metadata__\":{\"format\":\"qsm\",\"qsm.version\":\"1\","
                     "\"qsm.graph\":\"%s\"},"
                     "\"pad\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[2,18]}}",
                     graph);
    QS_ASSERT(n > 0 && (size_t)n < sizeof hdr - 64);
    while ((8 + n) % 64)
        hdr[n++] = ' ';
    const float b[4] = { 1.5f, -2.25f, 3.0f, 0x1.fffffep-3f };
    unsigned char file[1200];
    uint64_t hl = (uint64_t)n;
    for (int i = 0; i < 8; i++)
        file[i] = (unsigned char)(hl >> (8 * i));
    memcpy(file + 8, hdr, (size_t)n);
    file[8 + n] = 1;
    file[9 + n] = 2;
    memcpy(file + 10 + n, b, sizeof b);
    size_t len = 10 + (size_t)n + sizeof b;
    char path[256];
    snprintf(path, sizeof path, "%s/qs_mapped_odd_%d.qsm",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    QsError err = { 0 };
    QS_ASSERT(!fileio_write_atomic(path, file, len, &err));
    Model *m = qsm_load(path, &err);
    if (CHECK_OK(m ? QS_OK : err.code, &err)) {
        const Tensor *t = m->graph.values[graph_find_value(&m->graph, "b")].data;
        CHECK(!model_maps(m, t->data)); /* copied into the arena */
        CHECK((uintptr_t)t->data % sizeof(float) == 0);
        CHECK(memcmp(t->data, b, sizeof b) == 0);
        CHECK(model_mapped_bytes(m) == 2); /* the byte tensor stays in the file */
        model_free(m);
    }
    unlink(path);
}

int main(void)
{
    test_mutation_leaves_file();
    test_misaligned_copied();
    return test_summary("mapped_weights");
}
