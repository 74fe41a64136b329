/* `pick ... target=T` and `bench ... target=T`: the comparison rows (session/variant_rows.h)
 * judged on a device. Each evaluated row's latency becomes the target's ESTIMATE for the
 * row's plan (profile.h) and, when a size function is given, its bytes the size that
 * function returns (the hook for the .tflite file's size; without it the rows keep their
 * deployed bytes). A row whose ops the target's runtime lacks (TFLM: hybrid kernels, float16
 * DEQUANTIZE, missing builtins) is marked unfit, naming them. */
#ifndef QS_DEVICE_ROWS_H
#define QS_DEVICE_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "device/profile.h"
#include "session/variant_rows.h"

/* The size a deployment file of plan p on model m (calibration cal, NULL for a float plan)
 * has, in bytes, and what it counts ("weights", "tflite"). */
typedef QsStatus (*DeviceSizeFn)(void *ctx, const Model *m, const Plan *p,
                                 const Calibration *cal, int64_t *bytes, const char **kind,
                                 QsError *err);

/* The model and calibration row i of the rows variant_rows_collect made (the precision
 * rows first, in precision_table order, then the variants) runs on, and its plan (into
 * *plan, released by the caller). */
void device_row_plan(const Session *s, int i, Plan *plan, const Model **m,
                     const Calibration **cal);

/* Sets each evaluated row's ms to the target's estimate and, with size, its bytes (part
 * bytes stay the deployed bytes). v must come from variant_rows_collect. */
QsStatus device_rows_apply(const Session *s, VariantRows *v, const DeviceTarget *t,
                           bool io_int8, DeviceSizeFn size, void *size_ctx, QsError *err);

#endif
