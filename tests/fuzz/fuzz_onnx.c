/* ONNX from a buffer: the protobuf wire codec, ModelProto/GraphProto/TensorProto
 * decoding, the import table, constant folding and graph finalization. External data is
 * rejected (no folder is given), so the harness never opens a file. */
#include <stddef.h>
#include <stdint.h>

#include "onnx/onnx_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    QsError err = { 0 };
    Model *m = onnx_parse(data, size, NULL, "fuzz.onnx", &err);
    model_free(m);
    return 0;
}
