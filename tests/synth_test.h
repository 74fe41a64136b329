/* Shared by the generator tests: n samples of generator `name` with knobs set from
 * (name, value-as-text) pairs ending with NULL (kv may be NULL). */
#ifndef QS_SYNTH_TEST_H
#define QS_SYNTH_TEST_H

#include <stdlib.h>
#include <string.h>

#include "data/synth.h"

static inline QsStatus synth_test_make(const char *name, Dataset *d, int64_t n, uint64_t seed,
                                       const char *const *kv, QsError *err)
{
    const SynthDef *def = synth_find(name);
    SynthArgs a;
    synth_args_init(def, &a, n, seed);
    for (int i = 0; kv && kv[i]; i += 2) {
        QsStatus st = synth_args_set(def, &a, kv[i], strtod(kv[i + 1], NULL), err);
        if (st)
            return st;
    }
    memset(d, 0, sizeof *d);
    return def->make(&a, d, err);
}

#endif
