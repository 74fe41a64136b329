/* Dense row-major tensors of up to QS_MAX_DIMS dimensions. A tensor either owns its
 * data (tensor_new) or is a view into memory owned elsewhere (owns_data == 0). */
#ifndef QS_TENSOR_H
#define QS_TENSOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "base/dtype.h"
#include "base/error.h"

#define QS_MAX_DIMS 6

typedef struct Shape {
    int ndim;
    int64_t dim[QS_MAX_DIMS];
} Shape;

typedef struct Tensor {
    DType dtype;
    Shape shape;
    void *data;
    bool owns_data;
} Tensor;

/* Shape helpers. shape_make builds from a list; dims beyond ndim are zeroed. */
Shape shape_make(int ndim, const int64_t *dims);
Shape shape_of(int ndim, ...); /* shape_of(2, (int64_t)3, (int64_t)4) */
/* Element count; INT64_MAX when the product does not fit. */
int64_t shape_numel(const Shape *s);
bool shape_equal(const Shape *a, const Shape *b);
/* The element strides of s read as if broadcast to o (numpy rules, s aligned to o's last
 * axes): st[i] for each of o's axes, 0 where s has no axis or a 1. */
void shape_broadcast_strides(const Shape *s, const Shape *o, int64_t *st);
/* Writes "(2, 3, 4)" into buf; returns buf. */
char *shape_format(const Shape *s, char *buf, size_t cap);
/* Product of dims [from, to); INT64_MAX when it does not fit. */
int64_t shape_span(const Shape *s, int from, int to);

/* Checks ndim and dims and that numel * elem_size fits in size_t; sets *bytes.
 * Fails with QS_ESHAPE naming `what`. Used before allocating anything sized from input. */
QsStatus shape_checked_bytes(const Shape *s, size_t elem_size, size_t *bytes, const char *what,
                             QsError *err);

/* Allocates a zero-filled tensor. Returns NULL and sets err (QS_ENOMEM with the size,
 * or QS_ESHAPE) on failure. Caller frees with tensor_free. */
Tensor *tensor_new(DType dtype, Shape shape, QsError *err);
/* Initialises an embedded tensor with owned zeroed storage; release with tensor_release. */
QsStatus tensor_init(Tensor *t, DType dtype, Shape shape, QsError *err);
/* A non-owning view over data. */
Tensor tensor_view(DType dtype, Shape shape, void *data);
/* A deep copy. Caller frees with tensor_free. */
Tensor *tensor_clone(const Tensor *t, QsError *err);
void tensor_release(Tensor *t);
void tensor_free(Tensor *t);

int64_t tensor_numel(const Tensor *t);
size_t tensor_bytes(const Tensor *t);

static inline float *tensor_f32(const Tensor *t) { return (float *)t->data; }

#endif
