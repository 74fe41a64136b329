/* ONNX import: values whose batch is not at axis 0. qscope keeps the batch at axis 0 (dim 0
 * may hold it folded with other dims, B*heads, as the outer factor); exporters move it,
 * e.g. nn.MultiheadAttention works on (tokens, batch, features) and Swin reads
 * qkv.permute(2, 0, ...)[i]. A Transpose that moves the batch makes a view (OxVal.view_q):
 * a run-time value Q with the batch exactly at its axis 0, and per view axis the Q axis it
 * reads and where the batch sits in it. Ops that act on the view's non-batch axes (MatMul
 * and Gemm by a constant weight, Add/Sub/Mul/Div by a constant over the last axis, Slice,
 * Gather, Transpose, Reshape) are emitted on Q and give views again; any other consumer
 * gets the view materialized (a Transpose of Q that keeps axis 0, then a Reshape whose
 * dim 0 is the batch with the dims folded into it), which needs the batch as the outer
 * factor of the view's axis 0, as qscope's batch-independence rule wants. */
#ifndef QS_ONNX_VIEW_H
#define QS_ONNX_VIEW_H

#include <stdbool.h>

#include "onnx/onnx_values.h"

/* Imports node c->n when it makes or reads a view (*done set), or materializes the views
 * it reads into c->in[] (*done false: the caller imports it as usual). */
QsStatus ox_view_import(OxCtx *c, bool *done);

#endif
