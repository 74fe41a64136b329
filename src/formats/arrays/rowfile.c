/* Rows of an uncompressed array read from its file on demand (rowfile.h). */
#include "arrays/rowfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static uint64_t rowfile_threshold = ROWFILE_MIN;

uint64_t rowfile_min(void)
{
    return rowfile_threshold;
}

void rowfile_set_min(uint64_t bytes)
{
    rowfile_threshold = bytes ? bytes : ROWFILE_MIN;
}

typedef struct RowFile {
    FILE *f;
    char *path;
    RowLayout lay;
    size_t row_bytes;    /* file bytes per row */
    unsigned char *raw;  /* file bytes of the last read, when they need decoding */
    size_t raw_bytes;
} RowFile;

/* Reads exactly n bytes at off, or fails naming the file. */
static QsStatus rowfile_pread(FILE *f, const char *path, void *dst, size_t n, uint64_t off,
                              QsError *err)
{
    unsigned char *p = dst;
    while (n > 0) {
        ssize_t got = pread(fileno(f), p, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return qs_fail(err, QS_EIO, "%s: read at byte %llu failed: %s", path,
                           (unsigned long long)off, strerror(errno));
        if (got == 0)
            return qs_fail(err, QS_EIO, "%s: ends before byte %llu (shortened since it was "
                           "opened?)", path, (unsigned long long)off);
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return QS_OK;
}

static QsStatus rowfile_read(void *self, int64_t first, int64_t n, void *dst, QsError *err)
{
    RowFile *r = self;
    QS_ASSERT(first >= 0 && n >= 0 && first + n <= r->lay.shape.dim[0]);
    size_t bytes = (size_t)n * r->row_bytes;
    uint64_t off = r->lay.offset + (uint64_t)first * r->row_bytes;
    if (!r->lay.decode)
        return rowfile_pread(r->f, r->path, dst, bytes, off, err);
    if (bytes > r->raw_bytes) {
        free(r->raw);
        r->raw = malloc(bytes);
        r->raw_bytes = r->raw ? bytes : 0;
        if (!r->raw)
            return qs_fail(err, QS_ENOMEM, "%s: cannot allocate %zu bytes to read samples",
                           r->path, bytes);
    }
    if (rowfile_pread(r->f, r->path, r->raw, bytes, off, err))
        return err->code;
    r->lay.decode(r->raw, dst, bytes / r->lay.file_elem);
    return QS_OK;
}

static void rowfile_close(void *self)
{
    RowFile *r = self;
    fclose(r->f);
    free(r->path);
    free(r->raw);
    free(r);
}

QsStatus rowfile_source(FILE *f, const char *path, uint64_t size, const RowLayout *lay,
                        DataSource *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    if (lay->shape.ndim < 1) {
        fclose(f);
        return qs_fail(err, QS_ESHAPE, "%s: samples must have a leading N dimension, got a "
                       "0-d array", path);
    }
    uint64_t row = lay->file_elem, total, end;
    for (int i = 1; i < lay->shape.ndim; i++)
        if (__builtin_mul_overflow(row, (uint64_t)lay->shape.dim[i], &row))
            row = UINT64_MAX;
    if (row == UINT64_MAX || row > SIZE_MAX ||
        __builtin_mul_overflow(row, (uint64_t)lay->shape.dim[0], &total) ||
        __builtin_add_overflow(lay->offset, total, &end) || end > size) {
        fclose(f);
        return qs_fail(err, QS_EFORMAT, "%s: the data (%lld rows of %llu bytes at offset "
                       "%llu) runs past the end of the file (%llu bytes)", path,
                       (long long)lay->shape.dim[0], (unsigned long long)row,
                       (unsigned long long)lay->offset, (unsigned long long)size);
    }
    RowFile *r = xcalloc(1, sizeof *r);
    r->f = f;
    r->path = xstrdup(path);
    r->lay = *lay;
    r->row_bytes = (size_t)row;
    *out = (DataSource){ .dtype = lay->dtype, .shape = lay->shape, .read = rowfile_read,
                         .close = rowfile_close, .self = r };
    return QS_OK;
}

QsStatus rowfile_crc32(FILE *f, const char *path, uint64_t off, uint64_t len, uint32_t *crc,
                       QsError *err)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = xmalloc(CHUNK);
    uLong c = crc32_z(0L, Z_NULL, 0);
    QsStatus st = QS_OK;
    while (len > 0 && !st) {
        size_t n = len < CHUNK ? (size_t)len : CHUNK;
        if (!(st = rowfile_pread(f, path, buf, n, off, err)))
            c = crc32_z(c, buf, n);
        off += n;
        len -= n;
    }
    free(buf);
    *crc = (uint32_t)c;
    return st;
}
