/* The rows `compare`, `pick` and `report` share: FP32, FP16, INT8 dynamic and INT8 static
 * under the current options (no pins), then every saved variant, each scored on the same
 * split against the FP32 outputs. When the model names parts (sub-models deployed apart,
 * extract.h), each row also holds each part's deployed bytes under the row's plan. */
#ifndef QS_VARIANT_ROWS_H
#define QS_VARIANT_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/job.h"
#include "eval/metrics.h"
#include "session/extract.h"
#include "session/session.h"

typedef struct VariantRow {
    char name[64];
    PrecKind mode;
    const char *target;   /* plan_target_name: the runtime its INT8 figures follow, or NULL */
    bool current;         /* the session's current plan */
    bool evaluated;       /* false: see note */
    char note[64];        /* e.g. "needs calibrate" */
    double metric;        /* accuracy, or MSE for regression */
    double drop;          /* FP32's metric minus this (MSE: this minus FP32's) */
    double agreement;     /* top-1 agreement with FP32 */
    double sqnr_db;       /* output SQNR against FP32 */
    int64_t bytes;        /* deployed bytes (qmodel_deployed_bytes; float: parameter bytes) */
    double ms;            /* measured milliseconds per sample */
    int64_t part_bytes[EXTRACT_MAX_PARTS]; /* deployed bytes of each part (VariantRows
                                              .part), by the same rule as bytes */
    char unfit[128];       /* not empty: why the row cannot run on the device it is judged
                             for (device/device_rows.h); pick then fails it */
} VariantRow;

typedef struct VariantRows {
    int n;
    VariantRow *rows;     /* owned */
    double fp32_metric;
    TaskKind task;
    int64_t samples;
    const char *split;    /* static */
    int n_parts;          /* the model's parts (metadata "parts"; extract.h), 0: none */
    char part[EXTRACT_MAX_PARTS][64]; /* their names */
} VariantRows;

/* Scores every row of session s on split `split_name` (labelled), first n samples (n <= 0:
 * all), in batches of the session's batch option. Progress and cancellation through job. */
QsStatus variant_rows_collect(Session *s, const char *split_name, int64_t n, const JobCtx *job,
                              VariantRows *out, QsError *err);
/* The same for the one row called `name` (a precision's or a variant's; no row when none
 * has that name), e.g. a winner scored again on another split. */
QsStatus variant_rows_collect_one(Session *s, const char *split_name, int64_t n,
                                  const char *name, const JobCtx *job, VariantRows *out,
                                  QsError *err);
void variant_rows_release(VariantRows *v);

#endif
