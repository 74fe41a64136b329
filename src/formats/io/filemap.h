/* Whole regular files mapped into memory, so a multi-gigabyte model's weights are read
 * from the page cache on demand instead of copied into an allocation.
 *
 * The mapping is private and writable: a write to a mapped page makes the kernel copy that
 * page for this process (copy-on-write), so code that mutates weights in place (QAT, CLE,
 * bias correction, init, fold transforms) can never change the file, and pages nobody
 * writes cost no memory beyond the page cache. The file must not be truncated while it is
 * mapped (reading a page past a shortened end raises SIGBUS); qscope itself replaces files
 * by rename (fileio_write_atomic), which leaves a mapped old file intact. */
#ifndef QS_FILEMAP_H
#define QS_FILEMAP_H

#include <stddef.h>

#include "base/error.h"

typedef struct FileMap {
    void *addr;   /* page-aligned start; a static empty buffer when bytes is 0 */
    size_t bytes; /* the file's size */
    int mapped;   /* addr must be munmap'ed (0 for an empty file) */
} FileMap;

/* Maps the regular file at path whole (fileio_open_read's checks: a FIFO, device or
 * directory is refused). QS_EIO names the file and the system's reason. Release with
 * filemap_release unless its ownership was handed to a model (model_adopt_mapping). */
QsStatus filemap_open(const char *path, FileMap *out, QsError *err);
/* Maps `bytes` bytes (the size fstat gave) of the open file fd; path only names it in
 * errors. The mapping does not keep fd's ownership: the caller still closes fd. */
QsStatus filemap_open_fd(int fd, size_t bytes, const char *path, FileMap *out, QsError *err);
void filemap_release(FileMap *fm);

#endif
