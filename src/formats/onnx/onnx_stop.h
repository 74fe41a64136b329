#ifndef QS_ONNX_STOP_H
#define QS_ONNX_STOP_H

#include "onnx/onnx_values.h"

/* Detector exports that end in NonMaxSuppression: qscope has no NMS (its output count
 * depends on the data), so the import stops before it. Every graph output computed from
 * an NMS (in the file's node order, which ONNX makes topological) is dropped and the
 * inputs of each NMS, the boxes and the scores it would filter, become graph outputs
 * instead; the model's metadata "onnx_stopped_before" names the first NMS node and the
 * new outputs, for `load` to say. A graph without NMS is left alone. */
QsStatus ox_stop_before_nms(Ox *x, QsError *err);

#endif
