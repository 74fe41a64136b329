/* The synthetic data table and knob handling shared by the generators. */
#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const SynthDef synth_table[] = {
    { "balls", "64x64 images of balls (2-20 px) in clutter and noise; heat-map targets, "
               "object lists for detection metrics", synth_balls_knobs, synth_balls_make },
    { "deepsets", "driving scenarios: n peers x 6 features and 4 ego features; the action "
                  "of a rule-based expert and its unsafe actions", synth_deepsets_knobs,
      synth_deepsets_make },
    { "falls", "3-axis accelerometer windows: falls (about 10 %) and daily activities",
      synth_falls_knobs, synth_falls_make },
    { NULL, NULL, NULL, NULL },
};

const SynthDef *synth_find(const char *name)
{
    for (const SynthDef *d = synth_table; d->name; d++)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

void synth_args_init(const SynthDef *def, SynthArgs *a, int64_t n, uint64_t seed)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->seed = seed;
    for (int k = 0; k < SYNTH_MAX_KNOBS && def->knobs[k].name; k++)
        a->knob[k] = def->knobs[k].def;
}

QsStatus synth_args_set(const SynthDef *def, SynthArgs *a, const char *name, double value,
                        QsError *err)
{
    char names[256] = "";
    for (int k = 0; k < SYNTH_MAX_KNOBS && def->knobs[k].name; k++) {
        const SynthKnob *kn = &def->knobs[k];
        if (strcmp(kn->name, name) == 0) {
            if (!(value >= kn->lo && value <= kn->hi))
                return qs_fail(err, QS_EINVAL, "%s: %s=%g is outside [%g, %g]", def->name, name,
                               value, kn->lo, kn->hi);
            a->knob[k] = value;
            return QS_OK;
        }
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", kn->name);
    }
    return qs_fail(err, QS_EINVAL, "%s has no knob '%s' (knobs: %s)", def->name, name,
                   names[0] ? names : "none");
}
