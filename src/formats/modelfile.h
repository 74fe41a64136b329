/* Opens and writes models by file suffix through a format table: .qsm, and .onnx (import,
 * and the float graph on save; quantized ONNX layouts are the `export` command's). */
#ifndef QS_MODELFILE_H
#define QS_MODELFILE_H

#include "error.h"
#include "model.h"

/* Caller frees with model_free. Unknown suffixes fail listing the supported ones. */
Model *modelfile_load(const char *path, QsError *err);
QsStatus modelfile_save(const char *path, const Model *m, QsError *err);

#endif
