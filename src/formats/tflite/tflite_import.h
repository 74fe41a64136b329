/* .tflite import (docs/formats.md, "TFLite models"): a flatbuffer checked by the structural
 * verifier (tflite_verify.h: every offset, vector, index and buffer range) and then read
 * into qscope's graph, one row per builtin operator (tflite_import_ops.c).
 *
 * The graph is the file's float twin: float32 constants as they are, float16 and int8/uint8
 * constants dequantized (scale per tensor or per channel), int32 biases times their scale;
 * QUANTIZE and DEQUANTIZE of activations are identities, so an int8 activation becomes the
 * float value it stands for, and the file's (scale, zero point) of every activation is kept
 * (TflImportQuant) for the integer plan.
 *
 * Layout: a tensor the file holds channels last (a rank-4 graph input that a convolution,
 * pool or spatial MEAN reads, and everything those write) is qscope's NCHW value; TRANSPOSE
 * to or from that order is then a change of view, not a node, and an op that needs the
 * file's own order gets a Transpose. So a file qscope exported loads back as the graph it
 * came from, inputs and outputs in qscope's order. */
#ifndef QS_TFLITE_IMPORT_H
#define QS_TFLITE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/model.h"
#include "quant/calib.h"
#include "quant/plan.h"

/* A quantized tensor of the file as the graph sees it: a value's activation parameters,
 * or the int8 weights (OC rows in qscope's order: OIHW, or (out, in)) and int32 bias of
 * the linear node that reads them. */
typedef struct TflQValue {
    char *value;              /* the graph value (owned) */
    float scale;
    int32_t zero_point;
    int type;                 /* TFL_INT8 or TFL_UINT8 as stored (uint8: zero point - 128
                                 already applied, the int8 grid qscope runs) */
} TflQValue;

typedef struct TflQWeights {
    char *node;               /* the Conv or Dense node (owned) */
    int64_t oc, k;
    int8_t *codes;            /* [oc * k] qscope's order (owned) */
    int n_scales;             /* 1 or oc */
    float *scales;            /* [n_scales] (owned) */
    int32_t *bias;            /* [oc] int32 codes, or NULL (float bias or none) (owned) */
} TflQWeights;

typedef struct TflImportQuant {
    const char *variant;      /* "fp32", "fp16", "dynamic", "int8" (what the file is) */
    char target[32];          /* the qscope target its description names, "" if none */
    int n_values;
    TflQValue *values;
    int n_weights;
    TflQWeights *weights;
    int n_float;
    char **float_nodes;       /* nodes the file runs on float data (owned) */
} TflImportQuant;

void tflite_import_quant_release(TflImportQuant *q);

/* The plan and calibration of a quantized file for the graph m it was read into: mode
 * int8-static (an "int8" file), int8-dyn ("dynamic"), fp16 or fp32; the target the file's
 * description names (else tflm, TFLite's reference arithmetic); weight granularity per
 * channel unless every weight has one scale; nodes the file runs in float pinned to fp32.
 * *cal (initialised here) holds empty statistics and the file's parameters as imported
 * ones (quant/qimport.h): nothing is derived from ranges. source names the file in it. */
QsStatus tflite_import_plan(const Model *m, const TflImportQuant *q, const char *source,
                            Plan *plan, Calibration *cal, QsError *err);

/* The same for another float model sm of the network the file fm holds (`variant
 * import`): values paired by name when every quantized value and input of the file has a
 * namesake of the same shape in sm, else by position (inputs, then the layers in run
 * order with BatchNormalization folded and identities aside, op kinds and shapes checked);
 * each of the file's int8 layers goes to the linear layer of sm writing its output, whose
 * weights must have the same (OC, K). QS_EINVAL says where they do not pair. *plan and
 * *cal are for sm. */
QsStatus tflite_pair_plan(const Model *sm, const Model *fm, const TflImportQuant *q,
                          const char *source, Plan *plan, Calibration *cal, QsError *err);

/* Reads the file at path. q may be NULL (the float twin only); else it receives what the
 * file says of quantization (release with tflite_import_quant_release). QS_EFORMAT names
 * what is wrong; QS_EUNSUPPORTED an operator or form the reader does not take. */
Model *tflite_load_ex(const char *path, TflImportQuant *q, QsError *err);
Model *tflite_load(const char *path, QsError *err);
/* The same from bytes in memory (the fuzz harness). */
Model *tflite_import_buffer(const void *buf, size_t len, TflImportQuant *q, QsError *err);

#endif
