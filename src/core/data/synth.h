/* Seeded synthetic data sets for the deployment workflows (models/README.md says what
 * each models and how its labels are made). A generator fills a Dataset from a seed and a
 * few named knobs; the same (generator, knobs, seed, n) always gives the same bytes, on
 * every machine, because every random draw comes from rng.h and all arithmetic that
 * decides a label is done in double with no library call whose result may differ between
 * libm versions on the decision path; the signal shapes' sin, cos and exp are kern/fmath.h's,
 * so the inputs are the same bytes everywhere too. */
#ifndef QS_SYNTH_H
#define QS_SYNTH_H

#include <stdint.h>

#include "data/dataset.h"
#include "base/error.h"

/* One knob of a generator: its name, default and allowed range, and what it does. */
typedef struct SynthKnob {
    const char *name;
    double def, lo, hi;
    const char *help;
} SynthKnob;

#define SYNTH_MAX_KNOBS 8

typedef struct SynthArgs {
    int64_t n;                      /* samples, >= 1 */
    uint64_t seed;
    double knob[SYNTH_MAX_KNOBS];   /* values in the order of SynthDef.knobs, defaults
                                       filled in by synth_args_init */
} SynthArgs;

typedef struct SynthDef {
    const char *name;               /* "balls", "deepsets", "falls" */
    const char *about;              /* one line for `help data` and docs */
    const SynthKnob *knobs;         /* NULL-name terminated, at most SYNTH_MAX_KNOBS */
    /* Fills *out (zeroed by the caller) with n samples: inputs, y and aux as dataset.h
     * describes; x_path is set by the caller. On failure out holds nothing. */
    QsStatus (*make)(const SynthArgs *a, Dataset *out, QsError *err);
} SynthDef;

/* The generators, NULL-name terminated. */
extern const SynthDef synth_table[];
/* Generator by name, or NULL. */
const SynthDef *synth_find(const char *name);
/* n, seed and every knob at its default. */
void synth_args_init(const SynthDef *def, SynthArgs *a, int64_t n, uint64_t seed);
/* Sets knob `name`; QS_EINVAL when the generator has no such knob (listing them) or the
 * value is out of range. */
QsStatus synth_args_set(const SynthDef *def, SynthArgs *a, const char *name, double value,
                        QsError *err);

/* The generators (synth_*.c). */
QsStatus synth_balls_make(const SynthArgs *a, Dataset *out, QsError *err);
QsStatus synth_deepsets_make(const SynthArgs *a, Dataset *out, QsError *err);
QsStatus synth_falls_make(const SynthArgs *a, Dataset *out, QsError *err);
extern const SynthKnob synth_balls_knobs[], synth_deepsets_knobs[], synth_falls_knobs[];

#endif
