/* The native model format .qsm: a safetensors container whose metadata holds the graph.
 * Layout and rules: docs/formats.md. */
#ifndef QS_QSM_H
#define QS_QSM_H

#include <stddef.h>

#include "base/error.h"
#include "graph/model.h"

/* Loads and validates a model (every length, offset, dtype, shape and node reference is
 * checked before allocating or reading) and finalizes its graph. Caller frees with
 * model_free. NULL with err set ("FILE: what and where") on failure. The file is mapped,
 * not read: tensors at their element's alignment in it stay there (Model.maps), the others
 * are copied into the model's arena. */
Model *qsm_load(const char *path, QsError *err);
/* Parses an in-memory image (every tensor copied); `what` names it in messages. */
Model *qsm_parse(const void *buf, size_t len, const char *what, QsError *err);
/* Writes path.tmp, then renames it over path. */
QsStatus qsm_save(const char *path, const Model *m, QsError *err);
/* Serialises into a new buffer; caller frees *out with free. */
QsStatus qsm_serialize(const Model *m, void **out, size_t *out_len, QsError *err);

#endif
