/* The rows `compare`, `pick` and `report` share: FP32, FP16, INT8 dynamic and INT8 static
 * under the current options (no pins), then every saved variant, each scored on the same
 * split against the FP32 outputs. */
#ifndef QS_VARIANT_ROWS_H
#define QS_VARIANT_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"

typedef struct VariantRow {
    char name[64];
    PrecKind mode;
    bool current;         /* the session's current plan */
    bool evaluated;       /* false: see note */
    char note[64];        /* e.g. "needs calibrate" */
    double metric;        /* accuracy, or MSE for regression */
    double drop;          /* FP32's metric minus this (MSE: this minus FP32's) */
    double agreement;     /* top-1 agreement with FP32 */
    double sqnr_db;       /* output SQNR against FP32 */
    int64_t bytes;        /* deployed bytes (qmodel_deployed_bytes; float: parameter bytes) */
    double ms;            /* measured milliseconds per sample */
} VariantRow;

typedef struct VariantRows {
    int n;
    VariantRow *rows;     /* owned */
    double fp32_metric;
    TaskKind task;
    int64_t samples;
    const char *split;    /* static */
} VariantRows;

/* Scores every row on split `split_name` (labelled), first n samples (n <= 0: all). */
QsStatus variant_rows_collect(App *app, const char *split_name, int64_t n, VariantRows *out,
                              QsError *err);
void variant_rows_release(VariantRows *v);

#endif
