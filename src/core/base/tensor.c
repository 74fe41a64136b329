#include "base/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Shape shape_make(int ndim, const int64_t *dims)
{
    Shape s = { .ndim = ndim };
    QS_ASSERT(ndim >= 0 && ndim <= QS_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        s.dim[i] = dims[i];
    return s;
}

Shape shape_of(int ndim, ...)
{
    Shape s = { .ndim = ndim };
    QS_ASSERT(ndim >= 0 && ndim <= QS_MAX_DIMS);
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++)
        s.dim[i] = va_arg(ap, int64_t);
    va_end(ap);
    return s;
}

/* Saturates at INT64_MAX: shapes come from files, and a product that does not fit must reach
 * the size checks as "too large", never wrap (signed overflow is undefined). A zero dim makes
 * the product 0 wherever it stands. */
int64_t shape_span(const Shape *s, int from, int to)
{
    int64_t n = 1;
    bool overflow = false;
    for (int i = from; i < to; i++) {
        if (s->dim[i] == 0)
            return 0;
        overflow = overflow || __builtin_mul_overflow(n, s->dim[i], &n);
    }
    return overflow ? INT64_MAX : n;
}

int64_t shape_numel(const Shape *s)
{
    return shape_span(s, 0, s->ndim);
}

void shape_broadcast_strides(const Shape *s, const Shape *o, int64_t *st)
{
    int64_t run = 1;
    for (int i = o->ndim - 1; i >= 0; i--) {
        int j = s->ndim - o->ndim + i;
        int64_t d = j >= 0 ? s->dim[j] : 1;
        st[i] = d == 1 ? 0 : run;
        run *= d;
    }
}

bool shape_equal(const Shape *a, const Shape *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

char *shape_format(const Shape *s, char *buf, size_t cap)
{
    size_t used = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, cap - used, "(");
    for (int i = 0; i < s->ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "",
                                 (long long)s->dim[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, ")");
    return buf;
}

QsStatus shape_checked_bytes(const Shape *s, size_t elem_size, size_t *bytes, const char *what,
                             QsError *err)
{
    if (s->ndim < 0 || s->ndim > QS_MAX_DIMS)
        return qs_fail(err, QS_ESHAPE, "%s: %d dimensions (at most %d supported)", what, s->ndim,
                       QS_MAX_DIMS);
    /* The non-zero dims must fit even when a zero one makes the tensor empty: loops over the
     * outer dims of an empty tensor still count through them. */
    size_t n = elem_size;
    bool empty = false;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dim[i] < 0)
            return qs_fail(err, QS_ESHAPE, "%s: negative dimension %lld", what,
                           (long long)s->dim[i]);
        if (s->dim[i] == 0)
            empty = true;
        else if (__builtin_mul_overflow(n, (size_t)s->dim[i], &n) || n > (size_t)INT64_MAX)
            return qs_fail(err, QS_ESHAPE, "%s: size overflows", what);
    }
    *bytes = empty ? 0 : n;
    return QS_OK;
}

QsStatus tensor_init(Tensor *t, DType dtype, Shape shape, QsError *err)
{
    size_t bytes;
    memset(t, 0, sizeof *t);
    if (shape_checked_bytes(&shape, dtype_size(dtype), &bytes, "tensor", err))
        return err ? err->code : QS_ESHAPE;
    void *data = calloc(1, bytes ? bytes : 1);
    if (!data)
        return qs_fail(err, QS_ENOMEM, "cannot allocate %zu bytes for a tensor", bytes);
    t->dtype = dtype;
    t->shape = shape;
    t->data = data;
    t->owns_data = true;
    return QS_OK;
}

Tensor *tensor_new(DType dtype, Shape shape, QsError *err)
{
    Tensor *t = xmalloc(sizeof *t);
    if (tensor_init(t, dtype, shape, err)) {
        free(t);
        return NULL;
    }
    return t;
}

Tensor tensor_view(DType dtype, Shape shape, void *data)
{
    return (Tensor){ .dtype = dtype, .shape = shape, .data = data, .owns_data = false };
}

Tensor *tensor_clone(const Tensor *src, QsError *err)
{
    Tensor *t = tensor_new(src->dtype, src->shape, err);
    if (t)
        memcpy(t->data, src->data, tensor_bytes(src));
    return t;
}

void tensor_release(Tensor *t)
{
    if (t && t->owns_data)
        free(t->data);
    if (t) {
        t->data = NULL;
        t->owns_data = false;
    }
}

void tensor_free(Tensor *t)
{
    if (!t)
        return;
    tensor_release(t);
    free(t);
}

int64_t tensor_numel(const Tensor *t) { return shape_numel(&t->shape); }
size_t tensor_bytes(const Tensor *t) { return (size_t)tensor_numel(t) * dtype_size(t->dtype); }
