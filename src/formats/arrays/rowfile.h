/* The rows of an array stored uncompressed in a file (a .npy, a plain IDX file, a stored
 * .npz member), read where they lie with pread as a split asks for them (data/source.h):
 * how a data file larger than memory is used. Not mapped: the pages of a mapping count
 * toward the process's resident memory until the kernel needs them back, and a file
 * shortened while mapped kills the process (SIGBUS) where a read reports an error. */
#ifndef QS_ROWFILE_H
#define QS_ROWFILE_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/tensor.h"
#include "data/source.h"

/* Data files of at least rowfile_min() bytes (ROWFILE_MIN unless a test lowers it; a .npz:
 * a member's data) stay in their file when they can (datafile_open); smaller ones are
 * read whole as before. */
#define ROWFILE_MIN ((uint64_t)64 << 20)
uint64_t rowfile_min(void);
/* For tests: streams small files too, so every format's path runs on small fixtures;
 * 0 restores ROWFILE_MIN. */
void rowfile_set_min(uint64_t bytes);

/* File bytes of n elements -> n elements of the delivered dtype. */
typedef void (*RowDecodeFn)(const unsigned char *src, void *dst, size_t n);

/* Where an array's data lies in its file and how to turn it into elements. */
typedef struct RowLayout {
    uint64_t offset;    /* the first data byte */
    Shape shape;        /* (N, ...) */
    size_t file_elem;   /* bytes per element in the file */
    DType dtype;        /* what rows are delivered as (DataSource.dtype) */
    RowDecodeFn decode; /* NULL: the file's bytes are already dtype, native order */
} RowLayout;

/* A source of the rows of lay in f (which it takes over and closes, also on failure); size
 * is the file's size when the layout was read: the data must lie within it (QS_EFORMAT
 * otherwise, naming path). A 0-d array cannot be a split (QS_ESHAPE). */
QsStatus rowfile_source(FILE *f, const char *path, uint64_t size, const RowLayout *lay,
                        DataSource *out, QsError *err);

/* The CRC-32 (zlib's) of bytes [off, off + len) of f, read in chunks. QS_EIO on a short
 * read. */
QsStatus rowfile_crc32(FILE *f, const char *path, uint64_t off, uint64_t len, uint32_t *crc,
                       QsError *err);

#endif
