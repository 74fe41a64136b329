/* The device profile table: one row per deployment target (`target=esp32s3|cortex-m|
 * edgetpu`). A row names the device and the runtime that runs the .tflite file on it, the
 * integer arithmetic that runtime implies (a name of `quant target=`, kept as text), which
 * TFLite builtin ops the runtime has and what else it requires, and the cost table the
 * latency estimate uses. docs/devices.md gives the source of every figure. */
#ifndef QS_DEVTARGET_H
#define QS_DEVTARGET_H

#include <stdbool.h>

/* What an op's work is counted in and which cost it takes (devgraph.h counts them).
 * The per-MAC classes count multiply-accumulates; pools count the window elements read;
 * the rest count output elements. */
typedef enum {
    DC_CONV = 0,   /* CONV_2D, TRANSPOSE_CONV, BATCH_MATMUL: per MAC */
    DC_DEPTHWISE,  /* DEPTHWISE_CONV_2D: per MAC */
    DC_FC,         /* FULLY_CONNECTED: per MAC */
    DC_POOL_MAX,   /* MAX_POOL_2D, REDUCE_MAX: per window element read */
    DC_POOL_AVG,   /* AVERAGE_POOL_2D, MEAN, SUM: per window (or reduced) element read */
    DC_BINARY,     /* ADD, SUB, MUL, DIV, MINIMUM, MAXIMUM, ...: per output element */
    DC_ACT,        /* RELU, RELU6, LEAKY_RELU: per output element */
    DC_TRANSC,     /* SOFTMAX, LOGISTIC, TANH, HARD_SWISH, SQRT, ...: per output element */
    DC_MOVE,       /* RESHAPE, CONCATENATION, TRANSPOSE, PAD, RESIZE, slices, QUANTIZE,
                      DEQUANTIZE: per output element */
    DC_COUNT
} DevCostClass;

extern const char *const dev_cost_class_names[DC_COUNT];

/* Cycles per counted unit on one processor, for int8 and for float kernels. */
typedef struct DevCost {
    const char *cpu;            /* "ESP32-S3 (Xtensa LX7) at 240 MHz" */
    double clock_hz;
    double int8[DC_COUNT];
    double flt[DC_COUNT];
    /* int8 CONV_2D by input channels per group: [0] below 16, [1] 16 to 63, [2] 64 and
       more (esp-nn's vector path needs wide channels); 0: int8[DC_CONV] for all */
    double conv_tiers[3];
} DevCost;

typedef enum {
    DEV_RUNTIME_TFLM = 0, /* TensorFlow Lite Micro: the interpreter plans a tensor arena */
    DEV_RUNTIME_EDGETPU,  /* the Edge TPU compiler maps a prefix of the graph to the TPU;
                             the rest runs in TFLite on the host CPU */
} DevRuntime;

typedef struct DeviceTarget {
    const char *name;           /* "esp32s3" */
    const char *device;         /* what it stands for */
    const char *runtime_name;   /* "TensorFlow Lite Micro + esp-nn" */
    DevRuntime runtime;
    /* The integer arithmetic the runtime implies, as a `quant target=` name (quant/target.h,
       linked by name at merge), and what is known about it. */
    const char *arithmetic;
    const char *arithmetic_note;
    const char *ops;            /* the TFLite builtin ops the runtime has, space-separated */
    const char *ops_source;     /* where that list comes from */
    const DevCost *cost;        /* the device's processor */
    const DevCost *host;        /* Edge TPU: the host CPU that runs the ops not mapped */
    const char *cost_source;    /* a one-line pointer to docs/devices.md */
} DeviceTarget;

enum { DEVICE_TARGET_COUNT = 3 };
extern const DeviceTarget device_targets[DEVICE_TARGET_COUNT];

/* The row named `name`, or NULL. */
const DeviceTarget *device_target_find(const char *name);
/* Whether the target's runtime has TFLite builtin op `builtin`. */
bool device_target_has_op(const DeviceTarget *t, const char *builtin);

#endif
