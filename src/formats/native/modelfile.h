/* Opens and writes models by file suffix through a format table: .qsm, and .onnx (import,
 * and the float graph on save; quantized ONNX layouts are the `export` command's). */
#ifndef QS_MODELFILE_H
#define QS_MODELFILE_H

#include "base/error.h"
#include "graph/model.h"

/* Adds a read-only format of a later wing (tflite/: `.tflite`), whose reader this wing
 * cannot name; the front end registers it once at start (app_init). Idempotent. */
void modelfile_register(const char *suffix, Model *(*load)(const char *path, QsError *err));

/* The i-th suffix the table reads (".qsm", ".onnx"), NULL past the last: for help, the man
 * page and completion. */
const char *modelfile_suffix(int i);

/* Caller frees with model_free. Unknown suffixes fail listing the supported ones
 * (QS_EUNSUPPORTED); content that fails a check is QS_EFORMAT. */
Model *modelfile_load(const char *path, QsError *err);
QsStatus modelfile_save(const char *path, const Model *m, QsError *err);
/* Writes m with n metadata keys set to vals (NULL: removed) in the file only: m's own
 * metadata is as before afterwards (a variant's file carries "variants" and
 * "current_variant" that the session's model must not). */
QsStatus modelfile_save_meta(const char *path, Model *m, int n, const char *const *keys,
                             const char *const *vals, QsError *err);

#endif
