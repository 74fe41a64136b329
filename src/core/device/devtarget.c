/* The figures below and their sources: docs/devices.md. "assumed" there means no published
 * measurement was found; such figures are stated so that they can be replaced. */
#include "device/devtarget.h"

#include <string.h>

const char *const dev_cost_class_names[DC_COUNT] = {
    "conv", "depthwise", "fc", "pool-max", "pool-avg", "binary", "act", "transc", "move",
};

/* esp-nn README (espressif/esp-nn d45b843), ESP32-S3 kernel table at 240 MHz, the
 * "Optimized" column: ticks divided by the MACs, window elements or output elements of each
 * row's shape. Float: no published figure; the same table's "ANSI C" column (the reference C
 * loops on int8) stands in for TFLM's float reference kernels (assumed); move: assumed. */
static const DevCost esp32s3_cost = {
    .cpu = "ESP32-S3 (Xtensa LX7) at 240 MHz",
    .clock_hz = 240e6,
    .int8 = { [DC_CONV] = 2.382, [DC_DEPTHWISE] = 4.996, [DC_FC] = 1.326,
              [DC_POOL_MAX] = 1.703, [DC_POOL_AVG] = 4.183, [DC_BINARY] = 46.09,
              [DC_ACT] = 0.0607, [DC_TRANSC] = 43.39, [DC_MOVE] = 2.0 },
    .flt = { [DC_CONV] = 11.51, [DC_DEPTHWISE] = 31.46, [DC_FC] = 10.38,
             [DC_POOL_MAX] = 13.33, [DC_POOL_AVG] = 15.14, [DC_BINARY] = 174.2,
             [DC_ACT] = 0.697, [DC_TRANSC] = 59.41, [DC_MOVE] = 2.0 },
    .conv_tiers = { 6.347, 2.382, 0.808 },
};

/* Assumed throughout: a Cortex-M7 at 216 MHz (STM32F7-class) running TFLM with CMSIS-NN
 * int8 kernels and the reference float kernels on its single-precision FPU. */
static const DevCost cortexm_cost = {
    .cpu = "Cortex-M7 at 216 MHz (assumed)",
    .clock_hz = 216e6,
    .int8 = { [DC_CONV] = 1.5, [DC_DEPTHWISE] = 2.5, [DC_FC] = 1.2, [DC_POOL_MAX] = 1.0,
              [DC_POOL_AVG] = 1.5, [DC_BINARY] = 4.0, [DC_ACT] = 0.5, [DC_TRANSC] = 20.0,
              [DC_MOVE] = 1.0 },
    .flt = { [DC_CONV] = 6.0, [DC_DEPTHWISE] = 8.0, [DC_FC] = 5.0, [DC_POOL_MAX] = 3.0,
             [DC_POOL_AVG] = 3.0, [DC_BINARY] = 8.0, [DC_ACT] = 2.0, [DC_TRANSC] = 60.0,
             [DC_MOVE] = 2.0 },
};

/* The Edge TPU's clock and per-op throughput are not published; Coral states a 4 TOPS
 * peak (2e12 MAC/s). Assumed: 10 % of the peak, expressed on a notional 1 GHz clock (one
 * cycle = 1 ns), for every op class it maps. Float ops never map. */
static const DevCost edgetpu_cost = {
    .cpu = "Edge TPU (4 TOPS peak; notional 1 GHz clock, assumed 10 % utilisation)",
    .clock_hz = 1e9,
    .int8 = { [DC_CONV] = 0.005, [DC_DEPTHWISE] = 0.005, [DC_FC] = 0.005,
              [DC_POOL_MAX] = 0.005, [DC_POOL_AVG] = 0.005, [DC_BINARY] = 0.005,
              [DC_ACT] = 0.005, [DC_TRANSC] = 0.005, [DC_MOVE] = 0.005 },
};

/* Assumed: the Coral Dev Board's host (NXP i.MX 8M, Cortex-A53 at 1.5 GHz) running TFLite's
 * CPU kernels for the ops the compiler leaves to it. */
static const DevCost edgetpu_host_cost = {
    .cpu = "Cortex-A53 at 1.5 GHz (Coral Dev Board host; assumed)",
    .clock_hz = 1.5e9,
    .int8 = { [DC_CONV] = 0.25, [DC_DEPTHWISE] = 0.5, [DC_FC] = 0.25, [DC_POOL_MAX] = 0.5,
              [DC_POOL_AVG] = 0.5, [DC_BINARY] = 1.0, [DC_ACT] = 0.5, [DC_TRANSC] = 10.0,
              [DC_MOVE] = 0.5 },
    .flt = { [DC_CONV] = 0.5, [DC_DEPTHWISE] = 1.0, [DC_FC] = 0.5, [DC_POOL_MAX] = 1.0,
             [DC_POOL_AVG] = 1.0, [DC_BINARY] = 1.0, [DC_ACT] = 0.5, [DC_TRANSC] = 10.0,
             [DC_MOVE] = 0.5 },
};

/* MicroMutableOpResolver's Add* methods (tensorflow/tflite-micro 90b983c,
 * tensorflow/lite/micro/micro_mutable_op_resolver.h), as TFLite builtin names. */
static const char tflm_ops[] =
    "ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL "
    "BATCH_TO_SPACE_ND BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D "
    "COS CUMSUM DEPTH_TO_SPACE DEPTHWISE_CONV_2D DEQUANTIZE DIV DYNAMIC_UPDATE_SLICE "
    "EMBEDDING_LOOKUP ELU EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD "
    "FULLY_CONNECTED GATHER GATHER_ND GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION "
    "L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC "
    "LOG_SOFTMAX MAXIMUM MAX_POOL_2D MIRROR_PAD MEAN MINIMUM MUL NEG NOT_EQUAL PACK PAD PADV2 "
    "PRELU QUANTIZE READ_VARIABLE REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR "
    "RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX "
    "SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQUEEZE SQRT SQUARE SQUARED_DIFFERENCE "
    "STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE_CONV TRANSPOSE UNPACK "
    "UNIDIRECTIONAL_SEQUENCE_LSTM VAR_HANDLE WHILE ZEROS_LIKE";

/* Coral, "TensorFlow models on the Edge TPU", supported operations
 * (https://coral.ai/docs/edgetpu/models-intro/#supported-operations), as builtin names. */
static const char edgetpu_ops[] =
    "ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D EXPAND_DIMS FULLY_CONNECTED "
    "L2_NORMALIZATION LOGISTIC LSTM MAXIMUM MAX_POOL_2D MEAN MINIMUM MUL PACK PAD PRELU "
    "QUANTIZE REDUCE_MAX REDUCE_MIN RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR "
    "RESIZE_NEAREST_NEIGHBOR RSQRT SLICE SOFTMAX SPACE_TO_DEPTH SPLIT SQUEEZE STRIDED_SLICE "
    "SUB SUM SQUARED_DIFFERENCE TANH TRANSPOSE TRANSPOSE_CONV";

const DeviceTarget device_targets[DEVICE_TARGET_COUNT] = {
    { .name = "esp32s3", .device = "Espressif ESP32-S3",
      .runtime_name = "TensorFlow Lite Micro with esp-nn kernels", .runtime = DEV_RUNTIME_TFLM,
      .arithmetic = "tflm",
      .arithmetic_note = "esp-nn requantizes as TFLM's reference kernels (double rounding)",
      .ops = tflm_ops, .ops_source = "tflite-micro micro_mutable_op_resolver.h",
      .cost = &esp32s3_cost, .cost_source = "esp-nn README ESP32-S3 table; float assumed" },
    { .name = "cortex-m", .device = "Arm Cortex-M7 microcontroller",
      .runtime_name = "TensorFlow Lite Micro with CMSIS-NN kernels",
      .runtime = DEV_RUNTIME_TFLM, .arithmetic = "tflm",
      .arithmetic_note = "CMSIS-NN builds follow TFLM's reference requantization",
      .ops = tflm_ops, .ops_source = "tflite-micro micro_mutable_op_resolver.h",
      .cost = &cortexm_cost, .cost_source = "assumed (docs/devices.md)" },
    { .name = "edgetpu", .device = "Google Coral Edge TPU",
      .runtime_name = "Edge TPU compiler + TFLite on the host CPU",
      .runtime = DEV_RUNTIME_EDGETPU, .arithmetic = "unknown",
      .arithmetic_note = "the Edge TPU's requantization is not published; ops left to the "
                         "host run TFLite's CPU kernels (xnnpack or the builtin tflm rule)",
      .ops = edgetpu_ops, .ops_source = "coral.ai/docs/edgetpu/models-intro",
      .cost = &edgetpu_cost, .host = &edgetpu_host_cost,
      .cost_source = "assumed from Coral's 4 TOPS peak (docs/devices.md)" },
};

const DeviceTarget *device_target_find(const char *name)
{
    for (int i = 0; i < DEVICE_TARGET_COUNT; i++)
        if (strcmp(device_targets[i].name, name) == 0)
            return &device_targets[i];
    return NULL;
}

bool device_target_has_op(const DeviceTarget *t, const char *builtin)
{
    size_t len = strlen(builtin);
    for (const char *p = t->ops; (p = strstr(p, builtin)) != NULL; p += len) {
        bool starts = p == t->ops || p[-1] == ' ';
        bool ends = p[len] == '\0' || p[len] == ' ';
        if (starts && ends)
            return true;
    }
    return false;
}
