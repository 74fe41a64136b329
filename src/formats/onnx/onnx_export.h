/* ONNX export (opset 17, IR 8), written with qscope's own protobuf writer. Layouts
 * (docs/onnx.md, "Export"):
 *   - fp32: the float graph, one ONNX node per qscope node (SiLU and Gelu as their
 *     standard decompositions), constants as float initializers;
 *   - int8-static: QDQ, as ONNX Runtime's quantize_static(QuantFormat.QDQ) lays it out:
 *     QuantizeLinear/DequantizeLinear pairs on every value the integer executor holds as
 *     int8, with its calibrated scale and zero point; int8 weights behind a per-channel
 *     DequantizeLinear on axis 0 (BatchNormalization folded into them, as the executor
 *     folds it), int32 biases with scale s_in * s_w; layers pinned to fp32 stay float,
 *     layers pinned to fp16 are written as below;
 *   - fp16: weights as FLOAT16 initializers behind a Cast to float, and every fp16 step's
 *     output rounded to half by a Cast pair, so ONNX Runtime computes what qscope's fp16
 *     executor computes (float32 arithmetic, half storage);
 *   - mixed plans: every layer reads each input as the executor hands it over at the
 *     border between precisions (quantized with the value's parameters, rounded to half,
 *     or as its producer left it; onnx_export_write.h, "Forms of a value"). */
#ifndef QS_ONNX_EXPORT_H
#define QS_ONNX_EXPORT_H

#include <stddef.h>

#include "base/error.h"
#include "graph/model.h"
#include "qexec/qexec.h"

/* The float graph of m. Caller frees *out with free. */
QsStatus onnx_serialize(const Model *m, void **out, size_t *out_len, QsError *err);
/* The same written to path (path.tmp, then renamed). */
QsStatus onnx_save(const char *path, const Model *m, QsError *err);

/* The lowered plan q (its model, plan and calibration): fp32, fp16 or int8-static, by the
 * plan's mode (a mode of int8-dyn is refused: ONNX has no per-sample dynamic layout that
 * matches it). Caller frees *out with free. */
QsStatus onnx_serialize_plan(const QModel *q, void **out, size_t *out_len, QsError *err);
QsStatus onnx_save_plan(const char *path, const QModel *q, QsError *err);

/* The ONNX op qscope op `op` (an OpType) is exported as (the last node of a decomposition:
 * SiLU and Gelu end in Mul), or NULL when it has no ONNX form; *why_not (when not NULL)
 * then receives the reason, and NULL otherwise. */
const char *onnx_export_op(int op, const char **why_not);

#endif
