/* A TFLite model being assembled (one subgraph): tensors, constant buffers, operators with
 * their builtin options, and the serialization into a "TFL3" flatbuffer (flatbuf.h) by the
 * schema (tflite_schema.h). The exporter adds to it in run order; nothing here knows
 * qscope's graph. */
#ifndef QS_TFLITE_MODEL_H
#define QS_TFLITE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

enum { TFL_MAX_DIMS = 6, TFL_MAX_OP_IN = 4 };

/* Per-tensor (n 1) or per-axis (n = dim[qdim]) affine parameters; n 0: none. */
typedef struct TflQuant {
    int n;
    float *scale;
    int64_t *zero_point;
    int qdim;
} TflQuant;

typedef struct TflTensor {
    char *name;
    int type;                 /* TFL_FLOAT32, ... */
    int nd;
    int32_t dim[TFL_MAX_DIMS];
    int buffer;               /* 0: no data (an activation) */
    TflQuant q;
} TflTensor;

/* Builtin options: the fields of the option table `kind` (TFL_OPT_*) that qscope sets. */
typedef struct TflOpts {
    int kind;
    int padding, stride_w, stride_h, filter_w, filter_h, dilation_w, dilation_h;
    int act;                  /* fused_activation_function */
    int depth_multiplier;
    int axis;                 /* concatenation */
    bool keep_dims, keep_num_dims, asymmetric_inputs;
    bool align_corners, half_pixel_centers;
    float beta, alpha;
    int end_mask;             /* strided slice */
} TflOpts;

typedef struct TflOp {
    int code;                 /* BuiltinOperator */
    int version;
    int in[TFL_MAX_OP_IN], n_in;
    int out;
    TflOpts opt;
} TflOp;

typedef struct TflModel {
    TflTensor *tensors;
    int n_tensors, cap_tensors;
    struct { void *data; size_t len; } *buffers; /* [0] is the empty sentinel */
    int n_buffers, cap_buffers;
    TflOp *ops;
    int n_ops, cap_ops;
    int *inputs, n_inputs;
    int *outputs, n_outputs;
    char *description;
    char *min_runtime;        /* "min_runtime_version" metadata, or NULL */
} TflModel;

void tfl_model_init(TflModel *m);
void tfl_model_release(TflModel *m);

/* An activation tensor (dims nd values); returns its index. q may be NULL (copied). */
int tfl_tensor(TflModel *m, const char *name, int type, int nd, const int64_t *dim,
               const TflQuant *q);
/* A constant tensor with its own buffer holding `bytes` bytes copied from data. */
int tfl_const(TflModel *m, const char *name, int type, int nd, const int64_t *dim,
              const void *data, size_t bytes, const TflQuant *q);
/* One operator; `opt` may be NULL (no options). */
void tfl_op(TflModel *m, int code, int version, const int *in, int n_in, int out,
            const TflOpts *opt);
void tfl_add_input(TflModel *m, int tensor);
void tfl_add_output(TflModel *m, int tensor);

/* Per-tensor parameters (one scale, one zero point). */
TflQuant tfl_quant1(float scale, int64_t zero_point);
/* n per-axis scales on axis qdim with zero points 0 (copied). */
TflQuant tfl_quant_axis(const float *scales, int n, int qdim);
void tfl_quant_release(TflQuant *q);

/* Bytes per element of a TensorType, 0 when qscope does not write it. */
size_t tfl_type_size(int type);

/* The flatbuffer; caller frees *out with free. */
QsStatus tfl_serialize(const TflModel *m, void **out, size_t *len, QsError *err);

#endif
