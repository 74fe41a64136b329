/* Quantization parameters imported from a deployed file (a .tflite's scales, zero points,
 * int8 weight codes and int32 biases: tflite/tflite_import.h) rather than derived from
 * calibrated ranges. A Calibration carries them (calib.h, `imported`): lowering
 * (qexec/qexec_lower.c) takes an imported value's (scale, zero point) as they are, skips
 * the target's parameter ties (the file holds its parameters tied already), and runs an
 * imported unit on the file's codes, weight scales and bias codes, so the integer run
 * computes what the file says, nothing recomputed. Shared by reference between the
 * session's calibration and its variants' snapshots (single-threaded counting). */
#ifndef QS_QIMPORT_H
#define QS_QIMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/quant.h"

typedef struct QImportUnit {
    int64_t oc, k;            /* the unit's output channels and inputs per channel */
    int8_t *codes;            /* [oc * k] in the unit's own order (OIHW, or (out, in)) */
    int n_scales;             /* 1 (per tensor) or oc */
    float *scales;            /* [n_scales] */
    int32_t *bias;            /* [oc] int32 codes at scale s_in * s_w[c], or NULL: none */
} QImportUnit;

typedef struct QImport {
    int refs;
    int n_values;
    bool *has_qp;             /* [n_values] */
    QParams *qp;              /* [n_values] int8 grids ([-128, 127]) */
    int n_nodes;
    QImportUnit **unit;       /* [n_nodes] by unit head; NULL: derived as usual */
    char source[64];          /* where they came from, for results ("file.tflite") */
} QImport;

/* Empty tables for a graph of n_values values and n_nodes nodes; one reference. */
QImport *qimport_new(int n_values, int n_nodes);
QImport *qimport_ref(QImport *q);
/* Drops a reference (NULL: nothing); the last frees it. */
void qimport_unref(QImport *q);
/* Imported parameters of value v, or NULL. */
const QParams *qimport_value(const QImport *q, int v);
/* Imported weights of the unit headed by node, or NULL. */
const QImportUnit *qimport_unit(const QImport *q, int node);

#endif
