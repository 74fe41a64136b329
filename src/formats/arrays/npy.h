/* NumPy .npy arrays (format versions 1.0, 2.0 and 3.0), C order only.
 * Reference: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#ifndef QS_NPY_H
#define QS_NPY_H

#include <stddef.h>

#include "base/error.h"
#include "base/tensor.h"
#include "io/filemap.h"

/* Parses an in-memory .npy image. Supported dtypes: <f4 <f8 (converted to f32) <f2 |u1
 * |i1 <i4 <i8 (and '=' or '|' byte orders where they mean little-endian). Fortran order,
 * object arrays, big-endian and other dtypes are rejected with a message naming `what`
 * (usually the file name). Every size is checked against len before allocating.
 * Returns a new tensor; caller frees with tensor_free. NULL with err set on failure. */
Tensor *npy_parse(const void *buf, size_t len, const char *what, QsError *err);
/* Reads and parses a file. */
Tensor *npy_load(const char *path, QsError *err);
/* Files of at least NPY_MAP_MIN bytes holding little-endian float32 are not read but mapped
 * (io/filemap.h): the tensor views the mapping (owns_data false) and *map holds it, for
 * the caller to release after the tensor (a split keeps it: dataset_adopt_map), so
 * calibration and evaluation read the samples from the page cache batch by batch and a file
 * larger than memory can be used. Other files are read as npy_load does (*map then holds
 * nothing). Writing to the tensor copies the pages written (the mapping is private). */
#define NPY_MAP_MIN ((size_t)64 << 20)
Tensor *npy_load_mapped(const char *path, FileMap *map, QsError *err);
/* Serialises t (any DType) as a version 1.0 .npy image into a new buffer; caller frees
 * *out with free. */
QsStatus npy_serialize(const Tensor *t, void **out, size_t *out_len, QsError *err);
/* Writes t to path through path.tmp and rename. */
QsStatus npy_save(const char *path, const Tensor *t, QsError *err);

#endif
