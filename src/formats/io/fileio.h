/* Whole-file reads and crash-safe writes shared by every format. */
#ifndef QS_FILEIO_H
#define QS_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* Opens path for reading (binary), refusing anything but a regular file: a FIFO, device,
 * socket or directory fails at once with "PATH is not a regular file (a FIFO)" instead of
 * blocking or reading forever. Every reader of user-named files goes through it (directly
 * or through fileio_read). NULL and QS_EIO with the system's reason on failure. */
FILE *fileio_open_read(const char *path, QsError *err);
/* fileio_open_read, and the file's size in *bytes; a size that cannot be held in memory
 * (over SIZE_MAX - 1) is QS_ENOMEM. */
FILE *fileio_open_read_sized(const char *path, size_t *bytes, QsError *err);

/* Reads the whole file into a new buffer (NUL-terminated one byte past *len, so text
 * parsers may use it as a string); only regular files (fileio_open_read). Caller frees *buf with free. QS_EIO names the file and
 * the system's reason; QS_ENOMEM names the size. */
QsStatus fileio_read(const char *path, void **buf, size_t *len, QsError *err);

/* Writes len bytes to "path.tmp", flushes it to disk, then renames it over path, so a
 * crash never leaves a half-written file under the real name. */
QsStatus fileio_write_atomic(const char *path, const void *buf, size_t len, QsError *err);

/* True when path ends with suffix (case-sensitive). */
int fileio_has_suffix(const char *path, const char *suffix);

#endif
