/* The TFLite reader on arbitrary bytes: the structural verifier (every offset, vtable,
 * vector and string of the flatbuffer) and then the import into a graph (operators, forms,
 * constants dequantized, the budget, shapes checked against the operators), which must
 * refuse anything malformed without reading out of bounds or allocating what the file
 * merely declares. */
#include <stddef.h>
#include <stdint.h>

#include "tflite/tflite_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    QsError err = { 0 };
    TflImportQuant q;
    Model *m = tflite_import_buffer(data, size, &q, &err);
    if (m) {
        tflite_import_quant_release(&q);
        model_free(m);
    }
    return 0;
}
