/* NumPy .npy arrays (format versions 1.0, 2.0 and 3.0), C order only.
 * Reference: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#ifndef QS_NPY_H
#define QS_NPY_H

#include <stddef.h>

#include "base/error.h"
#include "base/tensor.h"
#include "arrays/rowfile.h"

/* Parses an in-memory .npy image. Supported dtypes: <f4 <f8 (converted to f32) <f2 |u1
 * |i1 <i4 <i8 (and '=' or '|' byte orders where they mean little-endian). Fortran order,
 * object arrays, big-endian and other dtypes are rejected with a message naming `what`
 * (usually the file name). Every size is checked against len before allocating.
 * Returns a new tensor; caller frees with tensor_free. NULL with err set on failure. */
Tensor *npy_parse(const void *buf, size_t len, const char *what, QsError *err);
/* Reads and parses a file. */
Tensor *npy_load(const char *path, QsError *err);
/* Where the data of the .npy image buf (a file's first len bytes, usually mapped) lies and
 * how to decode it: npy_parse's checks without reading the data, for reading its rows from
 * the file (arrays/rowfile.h). */
QsStatus npy_layout(const void *buf, size_t len, const char *what, RowLayout *out,
                    QsError *err);
/* Serialises t (any DType) as a version 1.0 .npy image into a new buffer; caller frees
 * *out with free. */
QsStatus npy_serialize(const Tensor *t, void **out, size_t *out_len, QsError *err);
/* Writes t to path through path.tmp and rename. */
QsStatus npy_save(const char *path, const Tensor *t, QsError *err);

#endif
