/* qs_synth_npz: writes a seeded synthetic split (src/core/data/synth.h) as a stored .npz,
 * so a peer runtime can run on the same inputs as qscope's `data SPLIT synth:NAME` (qscope
 * itself generates them in memory only).
 *   qs_synth_npz NAME SEED N OUT.npz MEMBER[,MEMBER..]
 * MEMBER names the split's inputs in model-input order (a model's input names: `run`
 * reads a multi-input model's .npz by them, a single input as member x); the labels go in
 * member y and task extras, when the generator makes them, in aux (dataset.h).
 * Knobs stay at their defaults, as `data SPLIT synth:NAME seed=S n=N` leaves them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/npz.h"
#include "data/synth.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: qs_synth_npz NAME SEED N OUT.npz MEMBER[,MEMBER..]\n");
        return 2;
    }
    const SynthDef *def = synth_find(argv[1]);
    long long seed = atoll(argv[2]), n = atoll(argv[3]);
    if (!def || seed < 0 || n < 1) {
        fprintf(stderr, "qs_synth_npz: no generator '%s', or a bad seed or N\n", argv[1]);
        return 2;
    }
    SynthArgs sa;
    synth_args_init(def, &sa, n, (uint64_t)seed);
    Dataset d = { 0 };
    QsError err = { 0 };
    if (def->make(&sa, &d, &err)) {
        fprintf(stderr, "qs_synth_npz: %s\n", err.msg);
        return 1;
    }
    const char *names[DATA_MAX_INPUTS + 2];
    const Tensor *tensors[DATA_MAX_INPUTS + 2];
    char members[256];
    snprintf(members, sizeof members, "%s", argv[5]);
    int count = 0;
    for (char *tok = strtok(members, ","); tok; tok = strtok(NULL, ","), count++)
        if (count < d.n_x)
            names[count] = tok, tensors[count] = d.x[count];
    int status = 0;
    if (count != d.n_x) {
        fprintf(stderr, "qs_synth_npz: %s makes %d inputs, %d names given\n", argv[1], d.n_x,
                count);
        status = 2;
    } else {
        if (d.y)
            names[count] = "y", tensors[count++] = d.y;
        if (d.aux)
            names[count] = "aux", tensors[count++] = d.aux;
        if (npz_save(argv[4], names, tensors, count, &err)) {
            fprintf(stderr, "qs_synth_npz: %s\n", err.msg);
            status = 1;
        }
    }
    dataset_release(&d);
    return status;
}
