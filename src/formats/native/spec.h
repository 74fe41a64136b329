/* Model specs: a small JSON file that lists an input and a sequence of layers, from which
 * `init` builds a model with seeded initialisation. Format: docs/specs.md. */
#ifndef QS_SPEC_H
#define QS_SPEC_H

#include <stdint.h>

#include "base/error.h"
#include "graph/model.h"

/* Builds the model described by the spec file. `seed` overrides the spec's "seed" when
 * non-negative. Unknown keys are errors (they are usually typos). Caller frees with
 * model_free. */
Model *spec_load(const char *path, int64_t seed, QsError *err);
/* The same from JSON text; `what` names it in messages. */
Model *spec_parse(const char *json, const char *what, int64_t seed, QsError *err);

#endif
