/* IDX through its path (a memfd): the magic and type byte, big-endian dimensions, and the
 * gzip path (inflate, size bounds, trailing data) when the input starts with gzip's magic. */
#include <stddef.h>
#include <stdint.h>

#include "arrays/idx.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_path(data, size);
    if (!path)
        return 0;
    QsError err = { 0 };
    tensor_free(idx_load(path, &err));
    return 0;
}
