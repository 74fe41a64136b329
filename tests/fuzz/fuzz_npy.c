/* .npy from a buffer: the magic and version, the header dict (descr, fortran_order,
 * shape), and the size checks before the data is converted. */
#include <stddef.h>
#include <stdint.h>

#include "arrays/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    QsError err = { 0 };
    tensor_free(npy_parse(data, size, "fuzz.npy", &err));
    return 0;
}
