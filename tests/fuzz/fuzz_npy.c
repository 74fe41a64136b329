/* .npy from a buffer: the magic and version, the header dict (descr, fortran_order,
 * shape), and the size checks before the data is converted; then the same header through
 * npy_layout, which locates the rows that a large file's split reads in place. */
#include <stddef.h>
#include <stdint.h>

#include "arrays/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    QsError err = { 0 };
    tensor_free(npy_parse(data, size, "fuzz.npy", &err));
    RowLayout lay;
    (void)npy_layout(data, size, "fuzz.npy", &lay, &err);
    return 0;
}
