/* A structural verifier of TFLite flatbuffers (schema: tflite_schema.h), run by the
 * exporter on its own output before the file is renamed into place, and by the tests on
 * every export. It checks:
 *   - the container: size, the root offset, the "TFL3" identifier; every table's vtable in
 *     range, of even size >= 4, 2-aligned, its inline size and field offsets inside the
 *     buffer; every uoffset in range, 4-aligned and pointing forward; every vector's and
 *     string's length within the buffer, its elements aligned (Buffer.data to 16 is not
 *     required: readers accept 4), strings NUL-terminated;
 *   - the model: schema version 3, one or more subgraphs, buffer 0 empty; each tensor's
 *     type known, dims >= 1, buffer index in range, a constant's buffer holding exactly
 *     shape x type size bytes, quantization scales and zero points of one length (1, or
 *     the quantized dimension's size), scales finite and > 0; each operator's opcode index
 *     in range, inputs (-1: omitted) and outputs in range; the subgraph's inputs and
 *     outputs in range; every non-constant operator input produced by an earlier operator
 *     or a subgraph input; metadata buffer indices in range; option tables of the kinds
 *     tflite_model.h's TflOpts holds read into TflSumOp.opt, their enums in range.
 * On success *s (when not NULL) receives a summary for tests and reports. */
#ifndef QS_TFLITE_VERIFY_H
#define QS_TFLITE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "tflite/tflite_model.h"

typedef struct TflSumTensor {
    int type;
    int nd;
    int32_t dim[8];
    uint32_t buffer;
    size_t data_len;          /* bytes of its buffer (0: an activation) */
    const uint8_t *data;      /* into the verified buffer */
    int n_q;                  /* quantization entries */
    const float *scale;       /* [n_q], into the buffer (4-aligned) */
    const int64_t *zero_point;/* [n_q], into the buffer (8-aligned) */
    int qdim;
    const char *name;         /* NUL-terminated, into the buffer ("" when absent) */
} TflSumTensor;

typedef struct TflSumOp {
    int code;                 /* BuiltinOperator */
    int version;
    int n_in, n_out;
    int in[8], out[2];        /* the first 8 inputs and 2 outputs */
    const int32_t *ins;       /* [n_in] every input (-1: omitted), into the buffer */
    int options_type;
    TflOpts opt;              /* the option fields qscope reads (TflOpts; kind 0: none) */
} TflSumOp;

typedef struct TflSummary {
    int n_tensors, n_ops, n_opcodes, n_buffers, n_inputs, n_outputs;
    TflSumTensor *tensors;    /* [n_tensors] */
    TflSumOp *ops;            /* [n_ops] */
    int inputs[16], outputs[16];
    char description[256];
} TflSummary;

/* QS_EFORMAT naming the first fault ("tflite: tensor 3: buffer holds 12 bytes, shape x
 * type needs 4 x 4"). s may be NULL; otherwise release it with tflite_summary_release. */
QsStatus tflite_verify(const void *buf, size_t len, TflSummary *s, QsError *err);
void tflite_summary_release(TflSummary *s);

#endif
