/* What `device`, `bench target=` and `pick target=` share: the target option and the size
 * a deployment file of a plan has (the hook the .tflite exporter takes over at merge). */
#ifndef QS_CMD_DEVICE_H
#define QS_CMD_DEVICE_H

#include "cmds/app.h"
#include "device/device_rows.h"
#include "text/args.h"

/* The target names (devtarget.h), for the option's kind. */
const char *choice_device_target(int i);
/* io=: float, int8. */
const char *choice_device_io(int i);

/* target= of a: *t the row (NULL when absent); io= (float, int8) into *io_int8. */
QsStatus device_target_arg(const CmdArgs *a, const DeviceTarget **t, bool *io_int8,
                           QsError *err);

/* DeviceSizeFn: the bytes the deployment file of plan p holds: the .tflite written in
 * memory (formats/tflite; float IO, batch 1), kind "tflite"; for a plan TFLite cannot hold,
 * the plan's deployed weight bytes (qmodel_deployed_bytes), kind "weights (...)". */
QsStatus device_file_bytes(void *ctx, const Model *m, const Plan *p, const Calibration *cal,
                           int64_t *bytes, const char **kind, QsError *err);

/* The fields `bench target=` adds for plan p of model m: target, est_ms (the estimate),
 * arena_bytes, size_bytes and size_kind; the same with the suffix _P per precision when
 * suffix is not NULL. */
QsStatus device_bench_fields(const Model *m, const Plan *p, const Calibration *cal,
                             const DeviceTarget *t, bool io_int8, const char *suffix,
                             Result *r, double *est_ms, int64_t *arena, QsError *err);

#endif
