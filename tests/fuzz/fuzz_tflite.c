/* The TFLite structural verifier on arbitrary bytes: it reads every offset, vtable, vector
 * and string of a flatbuffer, so it must refuse anything malformed without reading out of
 * bounds. The exporter runs it on its own files; this harness holds it to the standard of
 * the readers of untrusted input. */
#include <stddef.h>
#include <stdint.h>

#include "tflite/tflite_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    QsError err = { 0 };
    TflSummary s;
    if (tflite_verify(data, size, &s, &err) == QS_OK)
        tflite_summary_release(&s);
    return 0;
}
