/* .qsm from a buffer: the safetensors header, the JSON graph metadata, tensor offsets and
 * dtypes, node references, and graph finalization (shape inference) of what validates. */
#include <stddef.h>
#include <stdint.h>

#include "native/qsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    QsError err = { 0 };
    Model *m = qsm_parse(data, size, "fuzz.qsm", &err);
    model_free(m);
    return 0;
}
