/* ONNX import: a ModelProto (opsets 11 to 18 of the default domain) read with qscope's own
 * protobuf reader (protobuf.h) and turned into a qscope graph. Constant sub-graphs (shape
 * arithmetic, Constant nodes, anything whose inputs are all constants) are folded at
 * import; constant inputs that qscope takes as attributes (Clip min/max, Reshape shape,
 * Reduce axes, Pad pads, Resize scales/sizes, Squeeze/Unsqueeze axes) become attributes.
 * The rules, the supported ops and the external data policy: docs/onnx.md. */
#ifndef QS_ONNX_IMPORT_H
#define QS_ONNX_IMPORT_H

#include <stddef.h>

#include "base/error.h"
#include "graph/model.h"

/* Loads path (tensors with data_location EXTERNAL are read from files inside path's own
 * folder only). Caller frees with model_free. NULL with err set ("FILE: what and where")
 * on failure; every unsupported op is listed in one message. */
Model *onnx_load(const char *path, QsError *err);

/* Parses an in-memory image. `dir` is the folder external data is read from (NULL: such
 * tensors are rejected); `what` names the image in messages. */
Model *onnx_parse(const void *buf, size_t len, const char *dir, const char *what,
                  QsError *err);

#endif
