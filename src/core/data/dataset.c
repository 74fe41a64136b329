/* Data splits and the preprocessing that turns loaded arrays into model inputs. */
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
        if (d->map[k])
            munmap(d->map[k], d->map_bytes[k]);
    memset(d, 0, sizeof *d);
}

void dataset_adopt_map(Dataset *d, int k, void *addr, size_t bytes)
{
    if (!bytes || k < 0 || k >= DATA_MAX_INPUTS)
        return;
    if (d->map[k])
        munmap(d->map[k], d->map_bytes[k]);
    d->map[k] = addr;
    d->map_bytes[k] = bytes;
}

int64_t dataset_len(const Dataset *d)
{
    return d && d->n_x > 0 && d->x[0]->shape.ndim > 0 ? d->x[0]->shape.dim[0] : 0;
}

void dataset_batch(const Dataset *d, int64_t first, int64_t n, Tensor views[DATA_MAX_INPUTS],
                   const Tensor *ptrs[DATA_MAX_INPUTS])
{
    for (int k = 0; k < d->n_x; k++) {
        const Tensor *x = d->x[k];
        int64_t per_sample = shape_span(&x->shape, 1, x->shape.ndim);
        Shape s = x->shape;
        s.dim[0] = n;
        views[k] = tensor_view(DT_F32, s, tensor_f32(x) + first * per_sample);
        ptrs[k] = &views[k];
    }
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

/* IEEE half -> float, exact for every input (subnormals, infinities, NaN payloads). */
static float dataset_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | man << 13;
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise into float's wider exponent range */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400u));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ffu) << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void dataset_cvt_f16(const void *src, float *dst, size_t n)
{
    const uint16_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = dataset_half_to_float(s[i]);
}
static void dataset_cvt_u8(const void *src, float *dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = s[i];
}
static void dataset_cvt_i8(const void *src, float *dst, size_t n)
{
    const int8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = s[i];
}
static void dataset_cvt_i32(const void *src, float *dst, size_t n)
{
    const int32_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)s[i];
}
static void dataset_cvt_i64(const void *src, float *dst, size_t n)
{
    const int64_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)s[i];
}

/* To-f32 converters by dtype; DT_F32 needs none. */
static void (*const dataset_to_f32[DT_COUNT])(const void *, float *, size_t) = {
    [DT_F16] = dataset_cvt_f16, [DT_U8] = dataset_cvt_u8,   [DT_I8] = dataset_cvt_i8,
    [DT_I32] = dataset_cvt_i32, [DT_I64] = dataset_cvt_i64,
};

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

static const char *dataset_nonfinite_name(float v)
{
    return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

/* Returns a new f32 copy of t, or NULL (err set) when t's dtype has no converter. */
static Tensor *dataset_as_f32(const Tensor *t, QsError *err)
{
    if ((unsigned)t->dtype >= DT_COUNT || !dataset_to_f32[t->dtype])
        return qs_fail(err, QS_EUNSUPPORTED, "cannot convert %s data to f32",
                       (unsigned)t->dtype < DT_COUNT ? dtype_name(t->dtype) : "?"), NULL;
    Tensor *f = tensor_new(DT_F32, t->shape, err);
    if (f)
        dataset_to_f32[t->dtype](t->data, f->data, (size_t)tensor_numel(t));
    return f;
}

QsStatus dataset_prepare_x(Tensor **x, float scale, float mean, float std, QsError *err)
{
    Tensor *t = *x;
    char sbuf[160];
    if (!isfinite(scale) || !isfinite(mean) || !isfinite(std) || std == 0.0f)
        return qs_fail(err, QS_EINVAL, "preprocessing scale=%g mean=%g std=%g: all must be "
                       "finite and std non-zero", (double)scale, (double)mean, (double)std);
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
    for (size_t i = 0; i < n; i++) {
        float y = (v[i] * scale - mean) / std;
        if (!isfinite(v[i]) || !isfinite(y)) {
            if (!isfinite(v[i]))
                qs_fail(err, QS_EFORMAT, "sample %zu, element %zu is %s", i / per, i % per,
                        dataset_nonfinite_name(v[i]));
            else
                qs_fail(err, QS_EFORMAT, "sample %zu, element %zu (%g) becomes %s after "
                        "scale=%g mean=%g std=%g", i / per, i % per, (double)v[i],
                        dataset_nonfinite_name(y), (double)scale, (double)mean, (double)std);
            tensor_free(conv);
            return QS_EFORMAT;
        }
    }
    if (scale != 1.0f || mean != 0.0f || std != 1.0f)
        for (size_t i = 0; i < n; i++)
            v[i] = (v[i] * scale - mean) / std;
    if (conv) {
        tensor_free(t);
        *x = conv;
    }
    return QS_OK;
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
                               i / per, i % per, dataset_nonfinite_name(v[i]));
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
    for (int k = 0; k < d->n_x; k++)
        drop_leading_rows(d->x[k], start);
    drop_leading_rows(d->y, start);
    drop_leading_rows(d->aux, start);
}

QsStatus data_batch_init(DataBatch *b, const Dataset *d, int64_t cap, QsError *err)
{
    memset(b, 0, sizeof *b);
    for (int k = 0; k < d->n_x; k++) {
        Shape s = d->x[k]->shape;
        s.dim[0] = cap;
        if (!(b->x[k] = tensor_new(DT_F32, s, err))) {
            data_batch_release(b);
            return err->code;
        }
        b->ptrs[k] = b->x[k];
        b->n_x = k + 1;
    }
    return QS_OK;
}

void data_batch_gather(DataBatch *b, const Dataset *d, const int64_t *idx, int64_t n)
{
    for (int k = 0; k < b->n_x; k++) {
        const Tensor *src = d->x[k];
        size_t per = (size_t)shape_span(&src->shape, 1, src->shape.ndim);
        float *dst = tensor_f32(b->x[k]);
        for (int64_t j = 0; j < n; j++)
            memcpy(dst + (size_t)j * per, tensor_f32(src) + (size_t)idx[j] * per,
                   per * sizeof(float));
        b->x[k]->shape.dim[0] = n;
    }
}

void data_batch_release(DataBatch *b)
{
    for (int k = 0; k < b->n_x; k++)
        tensor_free(b->x[k]);
    memset(b, 0, sizeof *b);
}
