/* Sub-models for deployment: the nodes that compute some values of a model from some
 * others, as a model of their own (a Deep Sets encoder and its policy head, shipped to two
 * processors). The chosen input values become the part's graph inputs with their shapes;
 * constants are copied; node and value names are kept, so a plan's pins, a calibration's
 * ranges and layer names carry over (extract_plan, extract_calib).
 *
 * A model can name its parts in its metadata "parts" (written by model specs, see
 * docs/specs.md): "NAME=IN,IN>OUT,OUT;NAME=...", each list of value names. */
#ifndef QS_EXTRACT_H
#define QS_EXTRACT_H

#include "ptq/biascorr.h"
#include "quant/calib.h"
#include "base/error.h"
#include "graph/model.h"
#include "quant/plan.h"

#define EXTRACT_MAX_IO 8
#define EXTRACT_MAX_PARTS 8

typedef struct Extract {
    Model *m;           /* the part; owned */
    int *node_from;     /* [m->graph.n_nodes] the source node index of each node; owned */
    int *value_from;    /* [m->graph.n_values] the source value index of each value; owned */
} Extract;

/* The part of m computing the values named `outputs` (in that order) from the values named
 * `inputs` (graph inputs or node outputs of m, in the part's input order). Fails with
 * QS_ENOTFOUND for an unknown name, QS_EINVAL for a constant named as an input or output,
 * an output that needs a graph input of m not among `inputs`, or an input no output needs.
 * Metadata is copied except "parts", "variants" and "picked"; "task" and "labels" only
 * when the outputs are m's outputs. *out is filled on success (release with
 * extract_release) and left empty on failure. */
QsStatus extract_model(const Model *m, int n_in, const char *const *inputs, int n_out,
                       const char *const *outputs, Extract *out, QsError *err);
void extract_release(Extract *x);

/* The source plan for the part: the same mode and options, each node's pin carried over.
 * dst is initialised here (release with plan_release). */
void extract_plan(const Extract *x, const Plan *src, Plan *dst);
/* The source calibration for the part: each value's statistics carried over (the part's
 * inputs get the statistics of the values they were cut at). dst is initialised here
 * (release with calib_release). */
void extract_calib(const Extract *x, const Calibration *src, Calibration *dst);

/* The source's bias correction for the part: each unit head's vector carried over, its plan
 * extracted, a new gen. An empty source gives an empty correction. dst is initialised here
 * (release with biascorr_release). */
void extract_bias_corr(const Extract *x, const BiasCorr *src, BiasCorr *dst);

typedef struct ExtractPart {
    char name[64];
    int n_in, n_out;
    char in[EXTRACT_MAX_IO][128];
    char out[EXTRACT_MAX_IO][128];
} ExtractPart;

/* Parses m's "parts" metadata into parts[max]; returns the count (0 when m names none) or
 * -1 with QS_EFORMAT in err when the text is malformed. */
int extract_parts(const Model *m, ExtractPart *parts, int max, QsError *err);
/* extract_model for the part named `name` of m's "parts"; QS_ENOTFOUND lists the parts. */
QsStatus extract_part(const Model *m, const char *name, Extract *out, QsError *err);

#endif
