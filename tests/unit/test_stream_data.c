/* Data files read in place (arrays/rowfile.h, data/stream.c): with the threshold lowered so
 * that small files stream, every format and element type that can stay in its file gives,
 * batch by batch and sample by sample, exactly the floats that reading it whole gives
 * (same conversion, same preprocessing, same skip/n window), the same NaN error, and clear
 * errors for a file shortened while in use, a header that claims more data than the file
 * holds and a stored .npz member whose CRC does not match. The real threshold is checked
 * once with a float32 .npy just over it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrays/datafile.h"
#include "arrays/idx.h"
#include "arrays/npy.h"
#include "arrays/npz.h"
#include "arrays/rowfile.h"
#include "data/dataset.h"
#include "io/fileio.h"
#include "test_util.h"

static char *temp_path(const char *tag, const char *ext)
{
    char *path = malloc(256);
    snprintf(path, 256, "%s/qs_stream_%s_%d%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             tag, (int)getpid(), ext);
    return path;
}

/* A (n, 3, 5) tensor of dtype with varied values (negative where the type allows). */
static Tensor *make_rows(DType dt, int64_t n)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(dt, shape_of(3, n, (int64_t)3, (int64_t)5), &err);
    QS_ASSERT(t);
    uint64_t st = (uint64_t)dt * 77 + 1;
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        uint64_t r = test_splitmix(&st);
        switch (dt) {
        case DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)r; break;
        case DT_I8: ((int8_t *)t->data)[i] = (int8_t)r; break;
        case DT_I32: ((int32_t *)t->data)[i] = (int32_t)(r >> 8) - (1 << 23); break;
        case DT_I64: ((int64_t *)t->data)[i] = (int64_t)(r >> 20) - ((int64_t)1 << 43); break;
        case DT_F16: ((uint16_t *)t->data)[i] = (uint16_t)(r & 0x7bffu); break; /* finite */
        default: tensor_f32(t)[i] = (float)((double)(int64_t)(r >> 11) / 3e12); break;
        }
    }
    return t;
}

/* Loads spec whole and streamed, applies the same window and preprocessing, and compares
 * every batch, a gather and the whole read-back, bit for bit. */
static void compare_paths(const char *label, const char *spec, int64_t skip, int64_t n,
                          float scale, float mean, float std)
{
    QsError err = { 0 };
    Dataset whole = { 0 }, str = { 0 };
    DataSource src;
    rowfile_set_min(0);
    QS_ASSERT(!datafile_open(spec, "x", &whole.x[0], NULL, &src, &err) && !src.read);
    whole.n_x = 1;
    rowfile_set_min(1);
    if (!CHECK_OK(datafile_open(spec, "x", &str.x[0], NULL, &src, &err), &err) ||
        !CHECK(src.read && !str.x[0])) {
        dataset_release(&whole);
        return;
    }
    dataset_adopt_source(&str, 0, src);
    CHECK(dataset_streamed(&str, 0) && str.n_x == 1);
    Dataset *both[2] = { &whole, &str };
    for (int i = 0; i < 2; i++) {
        dataset_skip(both[i], skip);
        dataset_truncate(both[i], n);
        CHECK_OK(dataset_prepare_input(both[i], 0, scale, mean, std, &err), &err);
    }
    int64_t len = dataset_len(&whole);
    CHECK(len == dataset_len(&str) && len == n);
    const float *want = tensor_f32(whole.x[0]);
    size_t per = (size_t)shape_span(&whole.x[0]->shape, 1, whole.x[0]->shape.ndim);
    DataBatch b;
    QS_ASSERT(!data_batch_init(&b, &str, 2, true, &err));
    bool same = true;
    for (int64_t first = 0; first < len; first += 2) {
        int64_t m = len - first < 2 ? len - first : 2;
        CHECK_OK(data_batch_range(&b, &str, first, m, &err), &err);
        same &= b.views[0].shape.dim[0] == m &&
                memcmp(tensor_f32(&b.views[0]), want + (size_t)first * per,
                       (size_t)m * per * sizeof(float)) == 0;
    }
    if (!same)
        fprintf(stderr, "  %s: batches differ from the whole read\n", label);
    CHECK(same);
    data_batch_release(&b);

    static const int64_t idx[3] = { 2, 0, 1 };
    QS_ASSERT(!data_batch_init(&b, &str, 3, false, &err));
    CHECK_OK(data_batch_gather(&b, &str, idx, 3, &err), &err);
    for (int j = 0; j < 3; j++)
        CHECK(memcmp(tensor_f32(b.x[0]) + j * per, want + idx[j] * per, per * 4) == 0);
    data_batch_release(&b);

    Tensor *owned;
    const Tensor *all = dataset_input_tensor(&str, 0, &owned, &err);
    CHECK(all && owned == all && memcmp(all->data, want, (size_t)len * per * 4) == 0);
    tensor_free(owned);
    dataset_release(&whole);
    dataset_release(&str);
}

static void test_npy_types(void)
{
    static const DType types[] = { DT_U8, DT_I8, DT_I32, DT_I64, DT_F16, DT_F32 };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char *path = temp_path(dtype_name(types[i]), ".npy");
        Tensor *t = make_rows(types[i], 9);
        QsError err = { 0 };
        QS_ASSERT(!npy_save(path, t, &err));
        compare_paths(path, path, 2, 6, 1.0f, 0.0f, 1.0f);
        compare_paths(path, path, 0, 9, 1.0f / 255.0f, 0.1307f, 0.3081f);
        tensor_free(t);
        unlink(path);
        free(path);
    }
}

/* An f8 .npy written by hand (qscope writes no f8): narrowed to f32 per batch. */
static void test_npy_f8(void)
{
    char *path = temp_path("f8", ".npy");
    char head[128];
    int n = snprintf(head, sizeof head, "{'descr': '<f8', 'fortran_order': False, "
                     "'shape': (5, 3), }");
    while ((10 + n + 1) % 64)
        head[n++] = ' ';
    head[n++] = '\n';
    size_t len = 10 + (size_t)n + 15 * 8;
    unsigned char *img = malloc(len);
    memcpy(img, "\x93NUMPY\x01\x00", 8);
    img[8] = (unsigned char)n;
    img[9] = 0;
    memcpy(img + 10, head, (size_t)n);
    for (int i = 0; i < 15; i++) {
        double v = (i - 7) / 3.0 + 1e-9 * i;
        memcpy(img + 10 + n + 8 * i, &v, 8);
    }
    QsError err = { 0 };
    QS_ASSERT(!fileio_write_atomic(path, img, len, &err));
    compare_paths("f8", path, 1, 4, 2.0f, 0.5f, 3.0f);
    free(img);
    unlink(path);
    free(path);
}

static void test_idx_and_npz(void)
{
    static const DType types[] = { DT_U8, DT_I8, DT_I32, DT_F32 };
    QsError err = { 0 };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char *path = temp_path(dtype_name(types[i]), "-ubyte");
        Tensor *t = make_rows(types[i], 8);
        QS_ASSERT(!idx_save(path, t, &err));
        compare_paths(path, path, 3, 5, 1.0f / 255.0f, 0.5f, 0.25f);
        tensor_free(t);
        unlink(path);
        free(path);
    }
    /* a stored .npz member, by default name and by ":member" */
    char *path = temp_path("stored", ".npz");
    Tensor *x = make_rows(DT_U8, 7), *y = make_rows(DT_I32, 7);
    const char *names[2] = { "x", "other" };
    const Tensor *ts[2] = { x, y };
    QS_ASSERT(!npz_save(path, names, ts, 2, &err));
    compare_paths("npz x", path, 1, 5, 1.0f / 255.0f, 0.0f, 1.0f);
    char spec[300];
    snprintf(spec, sizeof spec, "%s:other", path);
    compare_paths("npz other", spec, 0, 7, 1.0f, 0.0f, 1.0f);

    /* one flipped data byte: the CRC, checked before any row is used */
    void *buf;
    size_t len;
    QS_ASSERT(!fileio_read(path, &buf, &len, &err));
    ((unsigned char *)buf)[200] ^= 1;
    QS_ASSERT(!fileio_write_atomic(path, buf, len, &err));
    free(buf);
    rowfile_set_min(1);
    Tensor *out = NULL;
    DataSource src;
    QsStatus st = datafile_open(path, "x", &out, NULL, &src, &err);
    CHECK(expect_error("npz crc", st, &err, QS_EFORMAT, "CRC mismatch") && !src.read && !out);
    rowfile_set_min(0);
    tensor_free(x);
    tensor_free(y);
    unlink(path);
    free(path);
}

/* The same NaN message (sample and element within the window) both ways. */
static void test_nan_message(void)
{
    char *path = temp_path("nan", ".npy");
    Tensor *t = make_rows(DT_F32, 6);
    tensor_f32(t)[4 * 15 + 7] = NAN;
    QsError err = { 0 }, e1 = { 0 }, e2 = { 0 };
    QS_ASSERT(!npy_save(path, t, &err));
    Dataset a = { 0 }, b = { 0 };
    DataSource src;
    QS_ASSERT(!datafile_open(path, "x", &a.x[0], NULL, NULL, &err));
    a.n_x = 1;
    rowfile_set_min(1);
    QS_ASSERT(!datafile_open(path, "x", &b.x[0], NULL, &src, &err) && src.read);
    rowfile_set_min(0);
    dataset_adopt_source(&b, 0, src);
    dataset_skip(&a, 1);
    dataset_skip(&b, 1);
    QsStatus s1 = dataset_prepare_input(&a, 0, 1.0f, 0.0f, 1.0f, &e1);
    QsStatus s2 = dataset_prepare_input(&b, 0, 1.0f, 0.0f, 1.0f, &e2);
    CHECK(expect_error("nan whole", s1, &e1, QS_EFORMAT, "sample 3, element 7 is NaN"));
    CHECK(s2 == s1 && strcmp(e1.msg, e2.msg) == 0);
    dataset_release(&a);
    dataset_release(&b);
    tensor_free(t);
    unlink(path);
    free(path);
}

/* Declared sizes checked against the file before anything is read; a file shortened while
 * in use is a read error naming it, not a crash. */
static void test_hostile(void)
{
    char *path = temp_path("short", "-ubyte");
    Tensor *t = make_rows(DT_U8, 10);
    QsError err = { 0 };
    QS_ASSERT(!idx_save(path, t, &err));
    QS_ASSERT(truncate(path, 4 + 4 * 3 + 15 * 9) == 0); /* nine of ten rows */
    rowfile_set_min(1);
    Tensor *out = NULL;
    DataSource src;
    QsStatus st = datafile_open(path, "x", &out, NULL, &src, &err);
    CHECK(expect_error("idx truncated", st, &err, QS_EFORMAT, "truncated") && !src.read);

    QS_ASSERT(!idx_save(path, t, &err));
    Dataset d = { 0 };
    QS_ASSERT(!datafile_open(path, "x", &d.x[0], NULL, &src, &err) && src.read);
    dataset_adopt_source(&d, 0, src);
    CHECK_OK(dataset_prepare_input(&d, 0, 1.0f, 0.0f, 1.0f, &err), &err);
    QS_ASSERT(truncate(path, 4 + 4 * 3 + 15 * 4) == 0); /* shortened while in use */
    DataBatch b;
    QS_ASSERT(!data_batch_init(&b, &d, 4, true, &err));
    CHECK_OK(data_batch_range(&b, &d, 0, 4, &err), &err);
    st = data_batch_range(&b, &d, 4, 4, &err);
    CHECK(expect_error("shortened", st, &err, QS_EIO, "shortened since it was opened"));
    data_batch_release(&b);
    dataset_release(&d);
    rowfile_set_min(0);
    tensor_free(t);
    unlink(path);
    free(path);
}

/* At the real threshold: a float32 .npy just over it streams, one just under is read. */
static void test_threshold(void)
{
    int64_t n = (int64_t)(ROWFILE_MIN / (4096 * 4)) + 4;
    char *path = temp_path("big", ".npy");
    QsError err = { 0 };
    Tensor *t = tensor_new(DT_F32, shape_of(2, n, (int64_t)4096), &err);
    QS_ASSERT(t);
    for (int64_t i = 0; i < n * 4096; i++)
        tensor_f32(t)[i] = (float)(i % 1000003);
    QS_ASSERT(!npy_save(path, t, &err));
    Dataset d = { 0 };
    DataSource src;
    if (CHECK_OK(datafile_open(path, "x", &d.x[0], NULL, &src, &err), &err) &&
        CHECK(src.read && !d.x[0])) {
        dataset_adopt_source(&d, 0, src);
        CHECK(dataset_len(&d) == n);
        dataset_skip(&d, 3);
        CHECK_OK(dataset_prepare_input(&d, 0, 1.0f, 0.0f, 1.0f, &err), &err);
        DataBatch b;
        QS_ASSERT(!data_batch_init(&b, &d, 1, true, &err));
        CHECK_OK(data_batch_range(&b, &d, n - 4, 1, &err), &err);
        CHECK(tensor_f32(&b.views[0])[5] == (float)(((n - 1) * 4096 + 5) % 1000003));
        data_batch_release(&b);
    }
    dataset_release(&d);
    tensor_free(t);
    unlink(path);

    t = make_rows(DT_F32, 2);
    QS_ASSERT(!npy_save(path, t, &err));
    Tensor *out = NULL;
    CHECK_OK(datafile_open(path, "x", &out, NULL, &src, &err), &err);
    CHECK(out && out->owns_data && !src.read);
    tensor_free(out);
    tensor_free(t);
    unlink(path);
    free(path);
}

int main(void)
{
    test_npy_types();
    test_npy_f8();
    test_idx_and_npz();
    test_nan_message();
    test_hostile();
    test_threshold();
    return test_summary("stream_data");
}
