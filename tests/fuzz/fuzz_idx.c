/* IDX through its path (a memfd): the magic and type byte, big-endian dimensions, and the
 * gzip path (inflate, size bounds, trailing data) when the input starts with gzip's magic.
 * Then the in-place path of a large file's split: idx_layout on the bytes, and when it
 * accepts them, every row read and decoded through rowfile_source. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arrays/idx.h"
#include "arrays/rowfile.h"
#include "fuzz_file.h"
#include "io/fileio.h"

static void read_rows(const char *path, const uint8_t *data, size_t size)
{
    QsError err = { 0 };
    RowLayout lay;
    bool gz;
    if (idx_layout(path, data, size, &lay, &gz, &err) || gz)
        return;
    size_t bytes;
    FILE *f = fileio_open_read_sized(path, &bytes, &err);
    DataSource src;
    if (!f || rowfile_source(f, path, bytes, &lay, &src, &err))
        return;
    int64_t n = src.shape.dim[0];
    size_t row = dtype_size(src.dtype) * (size_t)shape_span(&src.shape, 1, src.shape.ndim);
    /* the rows fit the input (the layout checked it), so this is at most a few times it */
    void *dst = malloc(row * (size_t)n + 1);
    if (dst)
        (void)src.read(src.self, 0, n, dst, &err);
    free(dst);
    src.close(src.self);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_path(data, size);
    if (!path)
        return 0;
    QsError err = { 0 };
    tensor_free(idx_load(path, &err));
    read_rows(path, data, size);
    return 0;
}
