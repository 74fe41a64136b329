/* Model specs from text: the JSON parse, key checking, layer parameters, and building the
 * seeded model they describe (graph, weights, shape inference). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "native/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 1);
    if (!json)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    QsError err = { 0 };
    model_free(spec_parse(json, "fuzz.json", 1, &err));
    free(json);
    return 0;
}
