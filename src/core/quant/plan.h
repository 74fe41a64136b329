/* Precisions and precision plans. The precision table says, per precision, how weights
 * are stored and how activations are treated; a plan gives every layer a precision (the
 * whole-model mode, or a per-layer pin for fallbacks) and the quantization options. The
 * float model is never changed by a plan: qexec.h derives what a plan needs. */
#ifndef QS_PLAN_H
#define QS_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef enum { PREC_FP32 = 0, PREC_FP16, PREC_INT8_DYN, PREC_INT8_STATIC, PREC_COUNT } PrecKind;

typedef struct PrecisionDef {
    const char *name;          /* "fp32", "fp16", "int8-dyn", "int8-static" */
    const char *weights;       /* how weights are stored, for `help` and docs */
    const char *activations;   /* how activations are treated */
    int weight_bytes;          /* bytes per stored weight (4, 2, 1, 1) */
    bool needs_calibration;    /* activation ranges come from calibration */
} PrecisionDef;

extern const PrecisionDef precision_table[PREC_COUNT];
int precision_find(const char *name); /* -1 when unknown */

typedef struct QuantOpts {
    bool wgran_tensor;   /* false (default): one weight scale per output channel */
    int observer;        /* ObserverKind for activation ranges (default OBS_MINMAX) */
    double pct;          /* percentile observer: 99.99 by default */
    int bits;            /* 2..8 (default 8), for weights and activations */
    bool act_symmetric;  /* false (default): asymmetric activations */
} QuantOpts;

QuantOpts plan_default_opts(void);
/* QuantOpts.wgran_tensor as a name: [0] "channel", [1] "tensor". */
extern const char *const quant_wgran_names[2];

typedef struct Plan {
    PrecKind mode;       /* the whole model's precision */
    int n_nodes;
    int8_t *pin;         /* [n_nodes] -1: follows mode; else a PrecKind pinned to that node */
    QuantOpts q;
} Plan;

/* A plan for a graph of n_nodes nodes in mode fp32 with default options, no pins. */
void plan_init(Plan *p, int n_nodes);
void plan_release(Plan *p);
void plan_copy(Plan *dst, const Plan *src); /* dst is initialised here */
bool plan_equal(const Plan *a, const Plan *b);
/* The mode's name, or "<mode>+pins" when layers are pinned; a static string. */
const char *plan_label(const Plan *p);

/* The precision node `node` runs at. */
PrecKind plan_node_prec(const Plan *p, int node);

#endif
