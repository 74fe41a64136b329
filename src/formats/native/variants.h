/* Named variants in a .qsm file: each variant's plan and the activation clipping ranges
 * its calibration chose, stored as the JSON model metadata "variants" (docs/formats.md).
 * A loaded variant reproduces the saved variant's quantized outputs bit for bit. */
#ifndef QS_VARIANTS_H
#define QS_VARIANTS_H

#include <cJSON.h>

#include "base/error.h"
#include "graph/model.h"
#include "ptq/qstate.h"

/* Serialises qs's variants for model m; returns a new string (caller frees) or NULL when
 * there are none. Variants holding their own weights (QAT) are left out: their ranges do
 * not belong to m (pick's export writes such a variant with its weights). */
char *variants_to_json(const Model *m, const QuantState *qs, QsError *err);

/* Serialises variant v alone (a "variants" array of one) for the file of model m, which
 * must be the model v runs on: v->model for a variant holding its own weights (QAT), else
 * the session's. Returns a new string (caller frees), NULL on failure (err set). Used by
 * `save PATH variant=NAME` and pick's export. */
char *variants_one_to_json(const Model *m, const Variant *v, QsError *err);

/* Adds the variants described by json to qs (whose plans must be sized for m). Layer
 * names must exist in m. A loaded variant uses the min-max observer over the saved ranges,
 * which gives back exactly the saved ranges; the file records the observer that chose them
 * as "observer_was". */
QsStatus variants_from_json(const char *json, const Model *m, QuantState *qs, QsError *err);

/* The plan parts both variants and session files (sessionfile.h) write: mode, wgran, the
 * observer under observer_key ("observer_was" in variants, "observer" in sessions), pct,
 * bits, asym, target (when not qscope), pins and wgran_pins by layer name of g. */
void plan_json_fill(cJSON *o, const Graph *g, const Plan *p, const char *observer_key);
/* Reads them back into *out (initialised here for g, its observer minmax: the caller
 * reads its own observer key); fails with QS_EFORMAT "<where>: what is wrong". */
QsStatus plan_from_json(const cJSON *o, const char *where, const Graph *g, Plan *out,
                        QsError *err);

/* A bias correction as {"layer": [c0, c1, ...]} (exact float text), and back for plan p:
 * each layer must head a unit with one value per output channel (its output's channel
 * axis: 1 for Conv, the last otherwise). */
cJSON *bias_corr_json(const Graph *g, const BiasCorr *c);
QsStatus bias_corr_from_json(const cJSON *bc, const char *where, const Graph *g,
                             const Plan *p, BiasCorr *out, QsError *err);

#endif
