/* Data splits and the preprocessing that turns loaded arrays into model inputs. */
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/budget.h"
#include "data/prep.h"
#include "data/stream.h"

static const char *const split_names[SPLIT_COUNT] = {
    [SPLIT_CALIB] = "calib",
    [SPLIT_EVAL] = "eval",
    [SPLIT_TRAIN] = "train",
};

const char *split_name(SplitId s)
{
    return (unsigned)s < SPLIT_COUNT ? split_names[s] : "?";
}

int split_find(const char *name)
{
    for (int s = 0; s < SPLIT_COUNT; s++)
        if (strcmp(split_names[s], name) == 0)
            return s;
    return -1;
}

void dataset_release(Dataset *d)
{
    if (!d)
        return;
    for (int k = 0; k < d->n_x; k++)
        tensor_free(d->x[k]);
    tensor_free(d->y);
    tensor_free(d->aux);
    free(d->x_path);
    free(d->y_path);
    for (int k = 0; k < DATA_MAX_INPUTS; k++)
        stream_free(d->stream[k]);
    memset(d, 0, sizeof *d);
}

void dataset_adopt_source(Dataset *d, int k, DataSource src)
{
    QS_ASSERT(k >= 0 && k < DATA_MAX_INPUTS);
    tensor_free(d->x[k]);
    stream_free(d->stream[k]);
    /* x[k] describes the input for everything that reads shapes; its rows stay in src */
    d->x[k] = xmalloc(sizeof *d->x[k]);
    *d->x[k] = tensor_view(DT_F32, src.shape, NULL);
    d->stream[k] = stream_new(src);
    if (d->n_x <= k)
        d->n_x = k + 1;
}

bool dataset_streamed(const Dataset *d, int k)
{
    return k >= 0 && k < DATA_MAX_INPUTS && d->stream[k];
}

const Tensor *dataset_input_tensor(const Dataset *d, int k, Tensor **owned, QsError *err)
{
    *owned = NULL;
    if (!dataset_streamed(d, k))
        return d->x[k];
    Budget budget = { .limit = budget_max() };
    char what[64];
    snprintf(what, sizeof what, "all samples of input %d read from its file", k);
    if (budget_charge(&budget, tensor_numel(d->x[k]), sizeof(float), what, err))
        return NULL;
    Tensor *t = tensor_new(DT_F32, d->x[k]->shape, err);
    if (!t)
        return NULL;
    if (stream_read(d->stream[k], 0, t->shape.dim[0], tensor_f32(t), err)) {
        tensor_free(t);
        return NULL;
    }
    return *owned = t;
}

int64_t dataset_len(const Dataset *d)
{
    return d && d->n_x > 0 && d->x[0]->shape.ndim > 0 ? d->x[0]->shape.dim[0] : 0;
}

static int64_t dataset_rows(const Tensor *t)
{
    return t->shape.ndim > 0 ? t->shape.dim[0] : -1;
}

QsStatus dataset_check(const Dataset *d, QsError *err)
{
    if (d->n_x < 1 || d->n_x > DATA_MAX_INPUTS)
        return qs_fail(err, QS_EINVAL, "a split needs 1 to %d inputs, got %d", DATA_MAX_INPUTS,
                       d->n_x);
    int64_t n = dataset_rows(d->x[0]);
    if (n < 0)
        return qs_fail(err, QS_ESHAPE, "samples need a leading sample dimension");
    for (int k = 1; k < d->n_x; k++)
        if (dataset_rows(d->x[k]) != n)
            return qs_fail(err, QS_ESHAPE, "input %d holds %lld samples, input 0 holds %lld", k,
                           (long long)dataset_rows(d->x[k]), (long long)n);
    if (d->y && dataset_rows(d->y) != n)
        return qs_fail(err, QS_ESHAPE, "%lld samples but %lld labels", (long long)n,
                       (long long)dataset_rows(d->y));
    if (d->aux && dataset_rows(d->aux) != n)
        return qs_fail(err, QS_ESHAPE, "%lld samples but %lld rows of task extras (aux)",
                       (long long)n, (long long)dataset_rows(d->aux));
    return QS_OK;
}

/* Integer labels widened to i64; NULL: not an integer type. */
static void dataset_lab_u8(const void *src, int64_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = ((const uint8_t *)src)[i];
}
static void dataset_lab_i8(const void *src, int64_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = ((const int8_t *)src)[i];
}
static void dataset_lab_i32(const void *src, int64_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = ((const int32_t *)src)[i];
}
static void (*const dataset_to_i64[DT_COUNT])(const void *, int64_t *, size_t) = {
    [DT_U8] = dataset_lab_u8, [DT_I8] = dataset_lab_i8, [DT_I32] = dataset_lab_i32,
};

/* Returns a new f32 copy of t, or NULL (err set) when t's dtype has no converter. */
static Tensor *dataset_as_f32(const Tensor *t, QsError *err)
{
    if (!prep_converts(t->dtype))
        return qs_fail(err, QS_EUNSUPPORTED, "cannot convert %s data to f32",
                       (unsigned)t->dtype < DT_COUNT ? dtype_name(t->dtype) : "?"), NULL;
    Tensor *f = tensor_new(DT_F32, t->shape, err);
    if (f)
        prep_to_f32(t->dtype, t->data, f->data, (size_t)tensor_numel(t));
    return f;
}

QsStatus dataset_prepare_x(Tensor **x, float scale, float mean, float std, QsError *err)
{
    Tensor *t = *x;
    char sbuf[160];
    if (prep_check_params(scale, mean, std, err))
        return err->code;
    if (t->shape.ndim < 1)
        return qs_fail(err, QS_ESHAPE, "samples must have a leading N dimension, got shape %s",
                       shape_format(&t->shape, sbuf, sizeof sbuf));
    /* Work on a converted copy, or check before writing in place, so that on failure *x
     * is exactly as it was. */
    Tensor *conv = NULL;
    if (t->dtype != DT_F32) {
        conv = dataset_as_f32(t, err);
        if (!conv)
            return err->code;
    }
    float *v = conv ? conv->data : t->data;
    size_t n = (size_t)tensor_numel(t);
    size_t per = t->shape.dim[0] ? n / (size_t)t->shape.dim[0] : 0;
    if (prep_check(v, n, 0, per, scale, mean, std, err)) {
        tensor_free(conv);
        return QS_EFORMAT;
    }
    prep_apply(v, n, scale, mean, std);
    if (conv) {
        tensor_free(t);
        *x = conv;
    }
    return QS_OK;
}

QsStatus dataset_prepare_input(Dataset *d, int k, float scale, float mean, float std,
                               QsError *err)
{
    if (!dataset_streamed(d, k))
        return dataset_prepare_x(&d->x[k], scale, mean, std, err);
    char sbuf[160];
    if (prep_check_params(scale, mean, std, err))
        return err->code;
    if (d->x[k]->shape.ndim < 1)
        return qs_fail(err, QS_ESHAPE, "samples must have a leading N dimension, got shape %s",
                       shape_format(&d->x[k]->shape, sbuf, sizeof sbuf));
    return stream_prepare(d->stream[k], d->x[k]->shape.dim[0], scale, mean, std, err);
}

QsStatus dataset_prepare_y(Tensor **y, int64_t n, QsError *err)
{
    Tensor *t = *y;
    char sbuf[160];
    if (t->shape.ndim < 1)
        return qs_fail(err, QS_ESHAPE, "targets must have a leading N dimension, got shape %s",
                       shape_format(&t->shape, sbuf, sizeof sbuf));
    if (t->shape.dim[0] != n)
        return qs_fail(err, QS_ESHAPE, "%lld targets for %lld samples (shape %s)",
                       (long long)t->shape.dim[0], (long long)n,
                       shape_format(&t->shape, sbuf, sizeof sbuf));
    size_t numel = (size_t)tensor_numel(t);

    if (dtype_table[t->dtype].is_float) {
        Tensor *conv = NULL;
        if (t->dtype != DT_F32 && !(conv = dataset_as_f32(t, err)))
            return err->code;
        const float *v = conv ? conv->data : t->data;
        size_t per = n ? numel / (size_t)n : 0;
        for (size_t i = 0; i < numel; i++)
            if (!isfinite(v[i])) {
                tensor_free(conv);
                return qs_fail(err, QS_EFORMAT, "target of sample %zu, element %zu is %s",
                               i / per, i % per, prep_nonfinite_name(v[i]));
            }
        if (conv) {
            tensor_free(t);
            *y = conv;
        }
        return QS_OK;
    }

    /* Class indices: (N,) or the (N, 1) column that Keras-style pipelines save. */
    if (!(t->shape.ndim == 1 || (t->shape.ndim == 2 && t->shape.dim[1] == 1)))
        return qs_fail(err, QS_ESHAPE, "integer labels must have shape (N,) or (N, 1), got %s",
                       shape_format(&t->shape, sbuf, sizeof sbuf));
    Shape s1 = shape_of(1, n);
    if (t->dtype == DT_I64) {
        t->shape = s1;
        return QS_OK;
    }
    if (!dataset_to_i64[t->dtype])
        return qs_fail(err, QS_EUNSUPPORTED, "labels of type %s are not supported",
                       dtype_name(t->dtype));
    Tensor *conv = tensor_new(DT_I64, s1, err);
    if (!conv)
        return err->code;
    dataset_to_i64[t->dtype](t->data, conv->data, numel);
    tensor_free(t);
    *y = conv;
    return QS_OK;
}

void dataset_truncate(Dataset *d, int64_t n)
{
    int64_t len = dataset_len(d);
    if (n < 0)
        n = 0;
    if (n >= len)
        return;
    /* The buffers keep their size; only the leading dimension shrinks. A shorter tensor
     * is never grown: that would read past its buffer, and dataset_check or
     * dataset_prepare_y reports the count mismatch. */
    Tensor *all[DATA_MAX_INPUTS + 2] = { d->y, d->aux };
    for (int k = 0; k < d->n_x; k++)
        all[2 + k] = d->x[k];
    for (int k = 0; k < d->n_x + 2; k++)
        if (all[k] && all[k]->shape.ndim > 0 && all[k]->shape.dim[0] > n)
            all[k]->shape.dim[0] = n;
}

/* Moves rows [start, end) of t to the front and shrinks its leading dimension. */
static void drop_leading_rows(Tensor *t, int64_t start)
{
    if (!t || t->shape.ndim == 0)
        return;
    int64_t len = t->shape.dim[0];
    if (start > len)
        start = len;
    size_t row = (size_t)shape_span(&t->shape, 1, t->shape.ndim) * dtype_size(t->dtype);
    if (!t->owns_data) /* a view (a mapped file): move the view, never write the data */
        t->data = (char *)t->data + (size_t)start * row;
    else
        memmove(t->data, (char *)t->data + (size_t)start * row, (size_t)(len - start) * row);
    t->shape.dim[0] = len - start;
}

void dataset_skip(Dataset *d, int64_t start)
{
    if (start <= 0)
        return;
    for (int k = 0; k < d->n_x; k++) {
        if (dataset_streamed(d, k)) { /* move the window over the file */
            int64_t len = d->x[k]->shape.dim[0], drop = start < len ? start : len;
            stream_skip(d->stream[k], drop);
            d->x[k]->shape.dim[0] = len - drop;
        } else {
            drop_leading_rows(d->x[k], start);
        }
    }
    drop_leading_rows(d->y, start);
    drop_leading_rows(d->aux, start);
}

QsStatus data_batch_init(DataBatch *b, const Dataset *d, int64_t cap, bool streamed_only,
                         QsError *err)
{
    memset(b, 0, sizeof *b);
    b->n_x = d->n_x;
    for (int k = 0; k < d->n_x; k++) {
        if (streamed_only && !dataset_streamed(d, k))
            continue;
        Shape s = d->x[k]->shape;
        s.dim[0] = cap;
        if (!(b->x[k] = tensor_new(DT_F32, s, err))) {
            data_batch_release(b);
            return err->code;
        }
        b->ptrs[k] = b->x[k];
    }
    return QS_OK;
}

QsStatus data_batch_range(DataBatch *b, const Dataset *d, int64_t first, int64_t n,
                          QsError *err)
{
    for (int k = 0; k < d->n_x; k++) {
        const Tensor *x = d->x[k];
        Shape s = x->shape;
        s.dim[0] = n;
        if (dataset_streamed(d, k)) {
            if (stream_read(d->stream[k], first, n, tensor_f32(b->x[k]), err))
                return err->code;
            b->x[k]->shape.dim[0] = n;
            b->views[k] = *b->x[k];
        } else {
            int64_t per_sample = shape_span(&x->shape, 1, x->shape.ndim);
            b->views[k] = tensor_view(DT_F32, s, tensor_f32(x) + first * per_sample);
        }
        b->ptrs[k] = &b->views[k];
    }
    return QS_OK;
}

QsStatus data_batch_gather(DataBatch *b, const Dataset *d, const int64_t *idx, int64_t n,
                           QsError *err)
{
    for (int k = 0; k < b->n_x; k++) {
        const Tensor *src = d->x[k];
        size_t per = (size_t)shape_span(&src->shape, 1, src->shape.ndim);
        float *dst = tensor_f32(b->x[k]);
        for (int64_t j = 0; j < n; j++) {
            if (!dataset_streamed(d, k))
                memcpy(dst + (size_t)j * per, tensor_f32(src) + (size_t)idx[j] * per,
                       per * sizeof(float));
            else if (stream_read(d->stream[k], idx[j], 1, dst + (size_t)j * per, err))
                return err->code;
        }
        b->x[k]->shape.dim[0] = n;
    }
    return QS_OK;
}

void data_batch_release(DataBatch *b)
{
    for (int k = 0; k < b->n_x; k++)
        tensor_free(b->x[k]);
    memset(b, 0, sizeof *b);
}
