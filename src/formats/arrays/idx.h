/* IDX files (the MNIST format), plain or gzip-compressed (detected by magic bytes).
 * Reference: http://yann.lecun.com/exdb/mnist/ (magic 0x0000TTDD, big-endian dims). */
#ifndef QS_IDX_H
#define QS_IDX_H

#include <stdbool.h>

#include "arrays/rowfile.h"
#include "base/error.h"
#include "base/tensor.h"

/* Types: 0x08 u8, 0x09 i8, 0x0B i16 (to i32), 0x0C i32, 0x0D f32, 0x0E f64 (to f32).
 * Caller frees with tensor_free. */
Tensor *idx_load(const char *path, QsError *err);
/* Where the data of the IDX image buf (a file's first len bytes, usually mapped) lies and
 * how to decode it (big-endian to the types idx_load gives), with idx_load's checks; *gz
 * set (and nothing else) when the file is gzipped, which has no rows to read in place. */
QsStatus idx_layout(const char *path, const void *buf, size_t len, RowLayout *out, bool *gz,
                    QsError *err);
/* Writes a u8, i8, i32 or f32 tensor as IDX, gzip-compressed when path ends in ".gz". */
QsStatus idx_save(const char *path, const Tensor *t, QsError *err);

#endif
