/* What the session file's writer and reader share (sessionfile.h): member names and the
 * calibration's JSON form. Private to sessionfile_*.c. */
#ifndef QS_SESSIONFILE_INTERNAL_H
#define QS_SESSIONFILE_INTERNAL_H

#include <cJSON.h>

#include "base/error.h"
#include "graph/graph.h"
#include "quant/calib.h"
#include "quant/qimport.h"

#define SESSIONFILE_FORMAT "qscope-session"
#define SESSIONFILE_VERSION 1
#define SESSIONFILE_MAX_VARIANTS 1024 /* what a reader accepts, so what a writer writes */

/* The member holding input k of a split ("eval_x0"), its labels ("eval_y") or extras
 * ("eval_aux"). */
void sessionfile_split_member(const char *split, const char *part, int k, char *buf,
                              size_t cap);

/* A calibration as {"samples", "ma_momentum", "values": {"name": {statistics}}}, every
 * double as exact decimal text (%.17g); a statistic at its initial infinity is left out. */
cJSON *sessionfile_calib_json(const Graph *g, const Calibration *c);
/* Reads it back for graph g (*out initialised here); QS_EFORMAT "<where>: what". */
QsStatus sessionfile_calib_from_json(const cJSON *o, const char *where, const Graph *g,
                                     Calibration *out, QsError *err);

/* Imported parameters (quant/qimport.h) as {"source", "values": {"name": [scale, zero
 * point, qmin, qmax]}, "units": [{"node", "oc", "bias"}]}; unit j's int8 codes, f32 weight
 * scales and i32 biases become the members PREFIX_unitJ_codes, _scales and _bias through
 * add (which takes the tensor). NULL with err set when a tensor cannot be made. */
typedef void (*SfAddMember)(void *ctx, const char *name, Tensor *t);
cJSON *sessionfile_import_json(const Graph *g, const QImport *q, const char *prefix,
                               SfAddMember add, void *ctx, QsError *err);
/* Reads them back for graph g, the members through get (a tensor of that dtype the caller
 * frees, NULL with err set), every value checked; *out has one reference. */
typedef Tensor *(*SfGetMember)(void *ctx, const char *name, int dtype);
QsStatus sessionfile_import_from_json(const cJSON *o, const char *where, const char *prefix,
                                      const Graph *g, SfGetMember get, void *ctx,
                                      QImport **out, QsError *err);

#endif
