/* Dataset helpers: split names, x preprocessing (dtype conversion, scale/mean/std, NaN and
 * Inf rejection leaving x untouched), label/target preparation, truncation and release. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "test_util.h"

static Tensor *make(DType dt, Shape s, const void *data)
{
    QsError err = { 0 };
    Tensor *t = tensor_new(dt, s, &err);
    if (!t) {
        fprintf(stderr, "tensor_new: %s\n", err.msg);
        exit(2);
    }
    memcpy(t->data, data, tensor_bytes(t));
    return t;
}

static void test_splits(void)
{
    /* Walk every row: name and find are inverses. */
    for (int s = 0; s < SPLIT_COUNT; s++) {
        const char *n = split_name((SplitId)s);
        CHECK(n && *n && split_find(n) == s);
    }
    CHECK(strcmp(split_name(SPLIT_CALIB), "calib") == 0);
    CHECK(strcmp(split_name(SPLIT_EVAL), "eval") == 0);
    CHECK(strcmp(split_name(SPLIT_TRAIN), "train") == 0);
    CHECK(split_find("test") == -1 && split_find("") == -1 && split_find("Calib") == -1);
}

static void test_prepare_x(void)
{
    QsError err = { 0 };
    /* u8 with (x * 1 - 128) / 2: every result exact in float. */
    static const uint8_t u8[] = { 0, 255, 128, 1, 2, 3 };
    Tensor *x = make(DT_U8, shape_of(2, (int64_t)2, (int64_t)3), u8);
    if (CHECK_OK(dataset_prepare_x(&x, 1.0f, 128.0f, 2.0f, &err), &err)) {
        static const float want[] = { -64.0f, 63.5f, 0.0f, -63.5f, -63.0f, -62.5f };
        CHECK(x->dtype == DT_F32 && x->shape.ndim == 2 && x->shape.dim[1] == 3);
        expect_close("u8 prep", tensor_f32(x), want, 6, 0, 0);
    }
    tensor_free(x);

    /* The common MNIST recipe: scale = 1/255, mean 0.1307, std 0.3081. Expected values use
     * the same float expression, so any difference is a wrong formula or order. */
    const float sc = 1.0f / 255.0f, mu = 0.1307f, sd = 0.3081f;
    x = make(DT_U8, shape_of(1, (int64_t)6), u8);
    if (CHECK_OK(dataset_prepare_x(&x, sc, mu, sd, &err), &err)) {
        float want[6];
        for (int i = 0; i < 6; i++)
            want[i] = ((float)u8[i] * sc - mu) / sd;
        expect_close("mnist prep", tensor_f32(x), want, 6, 0, 0);
        /* Against the exact (1 - .1307)/.3081 = 2.82148653: a few float roundings of a
         * value near 3 stay well inside 1e-6. */
        CHECK(fabsf(tensor_f32(x)[1] - 2.82148653f) < 1e-6f);
    }
    tensor_free(x);

    /* Each integer dtype converts exactly (values chosen representable in f32). */
    static const int8_t i8[] = { -128, -1, 0, 127 };
    static const int32_t i32[] = { -16777216, -1, 0, 16777216 };
    static const int64_t i64[] = { -((int64_t)1 << 40), -1, 0, (int64_t)1 << 62 };
    const struct {
        DType dt;
        const void *data;
        float want[4];
    } conv[] = {
        { DT_I8, i8, { -128, -1, 0, 127 } },
        { DT_I32, i32, { -16777216.0f, -1, 0, 16777216.0f } },
        { DT_I64, i64, { -1099511627776.0f, -1, 0, 4611686018427387904.0f } },
    };
    for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++) {
        x = make(conv[i].dt, shape_of(2, (int64_t)4, (int64_t)1), conv[i].data);
        if (CHECK_OK(dataset_prepare_x(&x, 1, 0, 1, &err), &err))
            expect_close(dtype_name(conv[i].dt), tensor_f32(x), conv[i].want, 4, 0, 0);
        tensor_free(x);
    }

    /* f16 -> f32 must agree bit for bit with numpy's astype (incl. subnormals). */
    Tensor *h = test_load_npy("data/f2.npy"), *ref = test_load_npy("data/f2_as_f4.npy");
    CHECK(h->dtype == DT_F16);
    if (CHECK_OK(dataset_prepare_x(&h, 1, 0, 1, &err), &err))
        CHECK(h->dtype == DT_F32 && shape_equal(&h->shape, &ref->shape) &&
              memcmp(h->data, ref->data, tensor_bytes(ref)) == 0);
    tensor_free(h);
    tensor_free(ref);

    /* f32 is transformed in place (the same tensor object is kept). */
    static const float f[] = { 1, 2, 3, 4 };
    x = make(DT_F32, shape_of(1, (int64_t)4), f);
    Tensor *before = x;
    if (CHECK_OK(dataset_prepare_x(&x, 2, 1, 0.5f, &err), &err)) {
        static const float want[] = { 2, 6, 10, 14 };
        CHECK(x == before);
        expect_close("f32 in place", tensor_f32(x), want, 4, 0, 0);
    }
    tensor_free(x);
}

static void test_prepare_x_errors(void)
{
    QsError err = { 0 };
    /* (3, 2, 2): NaN at sample 2, element 3 (flat index 11). */
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)i;
    v[11] = NAN;
    Tensor *x = make(DT_F32, shape_of(3, (int64_t)3, (int64_t)2, (int64_t)2), v), *orig = x;
    expect_error("nan", dataset_prepare_x(&x, 2, 0, 1, &err), &err, QS_EFORMAT,
                 "sample 2, element 3 is NaN");
    /* On failure nothing changed: the same tensor, the same values. */
    CHECK(x == orig && tensor_f32(x)[1] == 1.0f && tensor_f32(x)[10] == 10.0f);
    tensor_free(x);

    v[11] = 0;
    v[5] = -INFINITY;
    x = make(DT_F32, shape_of(2, (int64_t)4, (int64_t)3), v);
    expect_error("-inf", dataset_prepare_x(&x, 1, 0, 1, &err), &err, QS_EFORMAT,
                 "sample 1, element 2 is -Inf");
    tensor_free(x);

    /* Finite input that overflows after scaling. */
    v[5] = 3e38f;
    x = make(DT_F32, shape_of(2, (int64_t)4, (int64_t)3), v);
    expect_error("overflow", dataset_prepare_x(&x, 10, 0, 1, &err), &err, QS_EFORMAT,
                 "sample 1, element 2 (3e+38) becomes +Inf after scale=10");
    CHECK(tensor_f32(x)[5] == 3e38f && tensor_f32(x)[1] == 1.0f);
    tensor_free(x);

    /* f16 infinity and NaN are caught after conversion; the f16 tensor is kept. */
    static const uint16_t h[] = { 0x3c00, 0x7c00, 0x7e00, 0 };
    x = make(DT_F16, shape_of(2, (int64_t)2, (int64_t)2), h);
    orig = x;
    expect_error("f16 inf", dataset_prepare_x(&x, 1, 0, 1, &err), &err, QS_EFORMAT,
                 "sample 0, element 1 is +Inf");
    CHECK(x == orig && x->dtype == DT_F16);
    tensor_free(x);

    /* The f8 fixture's 1e300 became +Inf when narrowed: caught here, with its position. */
    x = test_load_npy("data/f8.npy");
    expect_error("f8 overflow", dataset_prepare_x(&x, 1, 0, 1, &err), &err, QS_EFORMAT,
                 "sample 3, element 0 is +Inf");
    tensor_free(x);

    x = make(DT_F32, shape_of(1, (int64_t)4), v);
    expect_error("std 0", dataset_prepare_x(&x, 1, 0, 0, &err), &err, QS_EINVAL, "std=0");
    expect_error("mean nan", dataset_prepare_x(&x, 1, NAN, 1, &err), &err, QS_EINVAL,
                 "must be finite");
    tensor_free(x);
    x = make(DT_F32, shape_of(0), v);
    expect_error("0-d x", dataset_prepare_x(&x, 1, 0, 1, &err), &err, QS_ESHAPE,
                 "leading N dimension");
    tensor_free(x);
    /* Empty data sets are fine. */
    x = make(DT_U8, shape_of(2, (int64_t)0, (int64_t)5), v);
    CHECK_OK(dataset_prepare_x(&x, 1, 0, 1, &err), &err);
    CHECK(x->dtype == DT_F32 && x->shape.dim[0] == 0);
    tensor_free(x);
}

static void test_prepare_y(void)
{
    QsError err = { 0 };
    static const uint8_t u8[] = { 0, 9, 255, 3 };
    static const int8_t i8[] = { -1, 0, 5, 127 };
    static const int32_t i32[] = { 0, 1, 2, 2147483647 };
    static const int64_t i64[] = { 0, 1, 2, INT64_MAX };
    const struct {
        DType dt;
        const void *data;
        int64_t want[4];
    } rows[] = {
        { DT_U8, u8, { 0, 9, 255, 3 } },
        { DT_I8, i8, { -1, 0, 5, 127 } },
        { DT_I32, i32, { 0, 1, 2, 2147483647 } },
        { DT_I64, i64, { 0, 1, 2, INT64_MAX } },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (int col = 0; col < 2; col++) {
            /* (N,) and the (N, 1) column both become (N,) i64. */
            Shape s = col ? shape_of(2, (int64_t)4, (int64_t)1) : shape_of(1, (int64_t)4);
            Tensor *y = make(rows[i].dt, s, rows[i].data);
            if (CHECK_OK(dataset_prepare_y(&y, 4, &err), &err))
                CHECK(y->dtype == DT_I64 && y->shape.ndim == 1 && y->shape.dim[0] == 4 &&
                      memcmp(y->data, rows[i].want, sizeof rows[i].want) == 0);
            tensor_free(y);
        }

    Tensor *y = make(DT_U8, shape_of(1, (int64_t)4), u8);
    expect_error("count", dataset_prepare_y(&y, 5, &err), &err, QS_ESHAPE,
                 "4 targets for 5 samples");
    tensor_free(y);
    y = make(DT_I32, shape_of(2, (int64_t)2, (int64_t)2), i32);
    expect_error("int 2-d", dataset_prepare_y(&y, 2, &err), &err, QS_ESHAPE,
                 "integer labels must have shape (N,) or (N, 1), got (2, 2)");
    tensor_free(y);
    y = make(DT_I32, shape_of(0), i32);
    expect_error("0-d", dataset_prepare_y(&y, 1, &err), &err, QS_ESHAPE, "leading N");
    tensor_free(y);

    /* Float targets keep their shape; f16 becomes f32. */
    static const float f[] = { 0.5f, 1, -2, 3 };
    y = make(DT_F32, shape_of(2, (int64_t)2, (int64_t)2), f);
    Tensor *orig = y;
    CHECK_OK(dataset_prepare_y(&y, 2, &err), &err);
    CHECK(y == orig && y->dtype == DT_F32 && y->shape.ndim == 2);
    tensor_free(y);
    static const uint16_t h[] = { 0x3800, 0x3c00, 0xc000, 0x4200 };
    y = make(DT_F16, shape_of(2, (int64_t)2, (int64_t)2), h);
    if (CHECK_OK(dataset_prepare_y(&y, 2, &err), &err)) {
        static const float want[] = { 0.5f, 1, -2, 3 };
        CHECK(y->dtype == DT_F32);
        expect_close("f16 targets", tensor_f32(y), want, 4, 0, 0);
    }
    tensor_free(y);
    const float fn[] = { 0.5f, 1, NAN, 3 };
    y = make(DT_F32, shape_of(2, (int64_t)2, (int64_t)2), fn);
    expect_error("nan target", dataset_prepare_y(&y, 2, &err), &err, QS_EFORMAT,
                 "target of sample 1, element 0 is NaN");
    tensor_free(y);
}

static void test_truncate_release(void)
{
    QsError err = { 0 };
    Dataset d = { 0 };
    CHECK(dataset_len(&d) == 0);
    d.x[0] = tensor_new(DT_F32, shape_of(2, (int64_t)10, (int64_t)3), &err);
    d.n_x = 1;
    d.y = tensor_new(DT_I64, shape_of(1, (int64_t)10), &err);
    d.x_path = xstrdup("x.npy");
    d.y_path = xstrdup("y.npy");
    CHECK(dataset_len(&d) == 10);
    dataset_truncate(&d, 4);
    CHECK(dataset_len(&d) == 4 && d.x[0]->shape.dim[1] == 3 && d.y->shape.dim[0] == 4);
    dataset_truncate(&d, 100); /* n beyond len: unchanged */
    CHECK(dataset_len(&d) == 4);
    /* A shorter y is never grown past its buffer (prepare_y reports the mismatch). */
    tensor_free(d.y);
    d.y = tensor_new(DT_I64, shape_of(1, (int64_t)2), &err);
    dataset_truncate(&d, 3);
    CHECK(dataset_len(&d) == 3 && d.y->shape.dim[0] == 2);
    dataset_truncate(&d, 0);
    CHECK(dataset_len(&d) == 0 && d.y->shape.dim[0] == 0);
    dataset_release(&d);
    CHECK(d.x[0] == NULL && d.y == NULL && d.x_path == NULL && d.y_path == NULL);
    dataset_release(&d); /* twice is harmless */
    dataset_release(NULL);
}

/* Two inputs, labels and task extras move together through check, skip, truncate, batch
 * views and index gathers. */
static void test_multi_input(void)
{
    QsError err = { 0 };
    Dataset d = { 0 };
    d.n_x = 2;
    d.x[0] = tensor_new(DT_F32, shape_of(3, (int64_t)5, (int64_t)2, (int64_t)3), &err);
    d.x[1] = tensor_new(DT_F32, shape_of(2, (int64_t)5, (int64_t)4), &err);
    d.y = tensor_new(DT_I64, shape_of(1, (int64_t)5), &err);
    d.aux = tensor_new(DT_F32, shape_of(2, (int64_t)5, (int64_t)5), &err);
    /* sample i: input 0 holds 100 i + j, input 1 holds 1000 i + j, y = i, aux 10 i + j */
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 6; j++)
            tensor_f32(d.x[0])[i * 6 + j] = (float)(100 * i + j);
        for (int j = 0; j < 4; j++)
            tensor_f32(d.x[1])[i * 4 + j] = (float)(1000 * i + j);
        for (int j = 0; j < 5; j++)
            tensor_f32(d.aux)[i * 5 + j] = (float)(10 * i + j);
        ((int64_t *)d.y->data)[i] = i;
    }
    CHECK_OK(dataset_check(&d, &err), &err);

    DataBatch r;
    CHECK_OK(data_batch_init(&r, &d, 2, true, &err), &err);
    CHECK(r.x[0] == NULL && r.x[1] == NULL); /* in memory: viewed, no buffers */
    CHECK_OK(data_batch_range(&r, &d, 3, 2, &err), &err);
    Tensor *views = r.views;
    CHECK(r.ptrs[0] == &views[0] && r.ptrs[1] == &views[1]);
    CHECK(views[0].shape.dim[0] == 2 && views[0].shape.dim[1] == 2 && views[0].shape.dim[2] == 3);
    CHECK(tensor_f32(&views[0])[0] == 300.0f && tensor_f32(&views[1])[4] == 4000.0f);
    CHECK(tensor_f32(&views[0]) == tensor_f32(d.x[0]) + 3 * 6);
    data_batch_release(&r);

    DataBatch b;
    CHECK_OK(data_batch_init(&b, &d, 3, false, &err), &err);
    static const int64_t idx[3] = { 4, 0, 2 };
    CHECK_OK(data_batch_gather(&b, &d, idx, 3, &err), &err);
    CHECK(b.n_x == 2 && b.ptrs[1] == b.x[1] && b.x[0]->shape.dim[0] == 3);
    CHECK(tensor_f32(b.x[0])[0] == 400.0f && tensor_f32(b.x[0])[6 + 5] == 5.0f &&
          tensor_f32(b.x[1])[2 * 4 + 3] == 2003.0f);
    CHECK_OK(data_batch_gather(&b, &d, idx + 1, 1, &err), &err);
    CHECK(b.x[1]->shape.dim[0] == 1 && tensor_f32(b.x[1])[0] == 0.0f);
    data_batch_release(&b);
    CHECK(b.n_x == 0 && b.x[0] == NULL);

    dataset_skip(&d, 1);
    CHECK(dataset_len(&d) == 4 && d.x[1]->shape.dim[0] == 4 && d.aux->shape.dim[0] == 4);
    CHECK(tensor_f32(d.x[1])[0] == 1000.0f && tensor_f32(d.aux)[0] == 10.0f &&
          ((int64_t *)d.y->data)[0] == 1);
    dataset_truncate(&d, 2);
    CHECK(d.x[0]->shape.dim[0] == 2 && d.x[1]->shape.dim[0] == 2 && d.y->shape.dim[0] == 2 &&
          d.aux->shape.dim[0] == 2);
    CHECK_OK(dataset_check(&d, &err), &err);

    /* counts that disagree are named */
    d.x[1]->shape.dim[0] = 1;
    expect_error("input counts", dataset_check(&d, &err), &err, QS_ESHAPE,
                 "input 1 holds 1 samples, input 0 holds 2");
    d.x[1]->shape.dim[0] = 2;
    d.aux->shape.dim[0] = 1;
    expect_error("aux count", dataset_check(&d, &err), &err, QS_ESHAPE,
                 "2 samples but 1 rows of task extras");
    d.aux->shape.dim[0] = 2;
    d.y->shape.dim[0] = 3;
    expect_error("label count", dataset_check(&d, &err), &err, QS_ESHAPE, "2 samples but 3 labels");
    dataset_release(&d);
    CHECK(d.n_x == 0 && d.x[1] == NULL && d.aux == NULL);
    expect_error("empty", dataset_check(&d, &err), &err, QS_EINVAL, "needs 1 to 4 inputs");
}

int main(void)
{
    test_multi_input();
    test_splits();
    test_prepare_x();
    test_prepare_x_errors();
    test_prepare_y();
    test_truncate_release();
    return test_summary("test_dataset");
}
