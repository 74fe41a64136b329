/* TFLite export (docs/tflite.md): a lowered plan written as a .tflite flatbuffer by the
 * published schema, one subgraph, static shapes. The file's variant follows the plan:
 *   - fp32: the float graph; BatchNormalization folded into its convolution or dense layer
 *     and Relu/Relu6 fused, as the TFLite converter does;
 *   - fp16: each linear unit's weights and bias as float16 buffers, each behind a
 *     DEQUANTIZE to float32 (the converter's layout); arithmetic in float32;
 *   - dynamic (int8-dyn): int8 symmetric weights (per channel or per tensor, as the plan
 *     says) with float bias and float activations: the runtime's hybrid kernels quantize
 *     activations per batch row;
 *   - int8 (int8-static): TFLite's quantization spec: int8 weights symmetric, per channel
 *     on CONV_2D (quantized dimension 0) and DEPTHWISE_CONV_2D (3), int32 bias at
 *     s_in * s_w with zero point 0, int8 activations with the plan's calibrated scale and
 *     zero point; layers the plan runs in float sit between DEQUANTIZE and QUANTIZE.
 * Layout: qscope graphs are NCHW; the file is NHWC. Rank-4 values that convolutions,
 * pools or resizes read or write are channels-last in the file, graph inputs and outputs
 * included (rank-3 (N, C, W) ones as (N, W, C)); a reshape of such a value is preceded by
 * a TRANSPOSE back to qscope's order, so results are exact. */
#ifndef QS_TFLITE_EXPORT_H
#define QS_TFLITE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "qexec/qexec.h"

typedef enum { TFLIO_FLOAT = 0, TFLIO_INT8, TFLIO_UINT8 } TflIo;

typedef struct TfliteOpts {
    TflIo io;                 /* graph inputs and outputs: float (QUANTIZE/DEQUANTIZE at the
                                 edges of int8 files), int8, or uint8 (int8 files only) */
    int64_t batch;            /* the static batch (>= 1) */
    const char *target;       /* the plan's arithmetic target, named in the description
                                 (NULL: none) */
    const float *const *bias_corr; /* [n_nodes] the bias corrections q was built with, or
                                      NULL: int8-dyn biases are written with them */
} TfliteOpts;

/* What was written, for the export result. */
typedef struct TfliteInfo {
    const char *variant;      /* "fp32", "fp16", "dynamic", "int8" */
    int n_ops, n_tensors;
    char io_layout[256];      /* "x:NHWC -> heat:NHWC" */
} TfliteInfo;

/* The variant a plan exports as (see above). */
const char *tflite_variant_name(const QModel *q);

/* The flatbuffer of q (verified, tflite_verify.h); caller frees *out with free. info may
 * be NULL. Errors name the layer (an op TFLite lacks, a rule the plan's numbers break). */
QsStatus tflite_serialize_plan(const QModel *q, const TfliteOpts *o, void **out, size_t *len,
                               TfliteInfo *info, QsError *err);
/* The same written to path through the crash-safe writer (io/fileio.h). */
QsStatus tflite_save_plan(const char *path, const QModel *q, const TfliteOpts *o,
                          TfliteInfo *info, QsError *err);

#endif
