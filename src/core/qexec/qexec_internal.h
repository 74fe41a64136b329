/* Internals of the quantized executor, shared by its three files:
 *   qexec.c        the public API (qexec.h): build/free, the executors' run loop with its
 *                  per-value representations, node-local runs, inspection;
 *   qexec_lower.c  lowering a plan onto a model: units and their folded weights (from
 *                  graph/linear_unit.h), each node's step (from its op table row), weight
 *                  quantization, activation quantization parameters, QLayerInfo;
 *   qkernels.c     the step table: integer kernels, their fake-quant twins, float steps.
 * Nothing here is part of qexec.h's contract; docs/quantization.md states the rules. */
#ifndef QS_QEXEC_INTERNAL_H
#define QS_QEXEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/geometry.h"
#include "quant/target.h"
#include "qexec/qexec.h"
#include "qexec/qgemm.h"

#define QX_MAX_IN 64
#define QX_ALIGN 64

/* How a linear unit computes: rows against (OC, K) weights, im2row + qgemm per group, or
 * a direct depthwise loop. */
typedef enum { LIN_GEMM = 0, LIN_CONV, LIN_DW } LinKind;

/* Conv and pool attributes (parsed with the node; 1-D runs as 2-D with H = 1). */
typedef struct ConvAttrs {
    int sp;                            /* spatial rank: 1 or 2 */
    Window w;
    int64_t group;
    bool ceil_mode, include_pad;       /* pools only */
} ConvAttrs;

/* How ONNX Runtime (CPU, x86-64) runs an int8-static linear unit of the QDQ export
 * (target `ort`; qexec_ort.c decides it as ONNX Runtime's graph optimizer does). */
typedef enum {
    LORT_QLINEAR = 0,  /* fused into QLinearConv / QGemm: the target's requantization */
    LORT_INT_TO_FLOAT, /* MatMul + Add: MatMulIntegerToFloat, float Add of the bias, Q */
    LORT_FLOAT_CONV,   /* left unfused: DequantizeLinear, MLAS float Conv, QuantizeLinear */
} LinOrt;

/* A linear unit (graph/linear_unit.h) lowered: its BatchNorm folded, its activation fused,
 * its weights at the step's precision. */
typedef struct LinUnit {
    LinKind kind;
    int64_t oc, k;           /* output channels (features) and products per output */
    ConvAttrs ca;            /* LIN_CONV, LIN_DW */
    Shape wshape;            /* conv: the weight's own shape (OC, C/group, KH[, KW]); gemm: (OC, K) */
    Node fnode;              /* the head node with inputs (x, W, b): runs the float conv */
    int fnode_in[3];
    float *wf;               /* (OC, K) folded float weights */
    float *bf;               /* (OC) folded float bias (zeros when the unit has none) */
    bool has_bias;
    bool has_act;
    float act_lo, act_hi;    /* float clamp of the fused activation (has_act) */
    /* fp16 */
    uint16_t *wh, *bh;       /* (OC, K), (OC) stored halves */
    float *whf, *bhf;        /* the same converted to float once */
    /* int8 (dynamic and static) */
    int8_t *wq;              /* (OC, K) symmetric, restricted range */
    float *ws;               /* (OC) weight scale of each output channel */
    int n_wscales;           /* OC, or 1 per-tensor */
    int32_t *sumw;           /* (OC) sum_k wq: the zero-point correction */
    float *wfq;              /* (OC, K) ws * wq: the weights the fake-quant run uses */
    /* int8-static */
    QParams in_qp, out_qp;
    int32_t *bq;             /* (OC) round_half_even(b / (s_in s_w)) */
    float *bfq;              /* (OC) the int32 bias dequantized, for the fake-quant run */
    Requant *rq;             /* (OC) s_in s_w / s_out, in the target's form */
    int64_t *corr;           /* (OC) bq - z_in sumw: the constant added to each accumulator */
    struct QkRqVec *rv;      /* rq as SIMD lanes (qkernels.h) */
    QPacked *wp;             /* [group] each group's (OCG, K) weights packed for qgemm at
                                lowering (LIN_GEMM, LIN_CONV), NULL for LIN_DW */
    int n_wp;
    int32_t lo, hi;          /* output clamp: [qmin, qmax] with the fused activation */
    LinOrt ort;              /* target ort: how ONNX Runtime runs it (else LORT_QLINEAR) */
} LinUnit;

typedef enum {
    STEP_FLOAT = 0,  /* one node, op forward on float (fp32, fallbacks, int8-dyn others) */
    STEP_HALF,       /* one node at fp16: half inputs and constants, output rounded */
    STEP_LIN_HALF,   /* linear unit at fp16 */
    STEP_LIN_DYN,    /* linear unit, int8 dynamic */
    STEP_LIN_Q,      /* linear unit, int8 static */
    STEP_Q_ADD,
    STEP_Q_CONCAT,
    STEP_Q_MAXPOOL,
    STEP_Q_AVGPOOL,  /* AveragePool and GlobalAveragePool */
    STEP_Q_CLAMP,    /* standalone Relu / Clip */
    STEP_Q_COPY,     /* Flatten, Reshape, Identity, Dropout */
    STEP_Q_GATHER,   /* Resize (nearest) */
    STEP_Q_MATMUL,   /* MatMul of two int8 activations */
    STEP_Q_TABLE,    /* a unary op as a 256-entry table of codes (Sigmoid, Tanh, ...) */
    STEP_Q_SOFTMAX,  /* Softmax of int8 codes by the target's rule */
    STEP_Q_MUL,      /* Mul of two int8 activations, numpy broadcasting */
    STEP_COUNT
} StepKind;

/* Representations of a value at run time. */
enum { REP_F = 1, REP_Q = 2, REP_H = 4 };

typedef struct Step {
    StepKind kind;
    PrecKind prec;
    int head, last;          /* node indices: the unit's first and last node */
    int out;                 /* value written: the last node's output */
    int in_rep;              /* how the head's non-constant inputs are read */
    int out_rep;             /* how the output is produced */
    LinUnit *lin;            /* STEP_LIN_* */
    const QTargetDef *target; /* the plan's target row (int8 steps) */
    /* STEP_Q_ADD: the target's Add parameters */
    TargetAdd add;
    /* STEP_Q_CONCAT: per input, identity or a requantization (TCAT_REQUANT) */
    bool *same;
    Requant *rq_in;
    /* STEP_Q_AVGPOOL (TAVG_REQUANT): rq_count[c - 1] = s_in / (c s_out) for window counts c */
    Requant *rq_count;
    int64_t n_count;
    bool global;             /* GlobalAveragePool: `mean` holds its parameters */
    TargetMean mean;
    TargetAvgRule avg;       /* AveragePool's rule (the target's) */
    ConvAttrs pa;            /* pools */
    /* STEP_Q_CLAMP (and STEP_Q_MATMUL's output clamp) */
    int32_t lo, hi;
    /* STEP_Q_MATMUL, STEP_Q_MUL: s_a s_b / s_out in the target's form
     * (target_requant_linear) */
    Requant rq;
    /* STEP_Q_TABLE: output code of each input code c at [c + 128] */
    int8_t *table;
    /* STEP_Q_SOFTMAX: the target's rule and its exp table */
    TargetSoftmax *softmax;
    /* int8 steps */
    QParams out_qp;
    QParams *in_qps;         /* [head's n_in] parameters of int8 inputs (ADD, CONCAT, pools) */
    /* STEP_HALF: the half-rounded copies of constant inputs (NULL: use the graph's) */
    const Tensor **hconst;
} Step;

typedef struct VInfo {
    bool has_qp;             /* flows as int8 somewhere in an int8-static step */
    QParams qp;
    int qp_src;              /* the value whose calibrated range gave qp */
    float clip_lo, clip_hi;  /* that range */
    bool half_exact;         /* produced by an fp16 step: already rounded to half */
    int reps;                /* REP_* slots this value needs */
} VInfo;

/* Executor state: one per executor, sized per batch and reused. */
typedef struct ExecState {
    QModel *q;
    bool fake;
    bool local;              /* node-local runs: inputs come from the float model, so
                                fp16 steps round them even where the full run need not */
    int64_t batch;           /* 0: not sized yet */
    Shape *shapes;           /* [n_values] */
    float **f;               /* [n_values] float slot (graph inputs: the caller's data) */
    void **qv;               /* [n_values] int8 slot (fake: float holding s (q - z)) */
    float **h;               /* [n_values] half-rounded copy */
    uint8_t *ok;             /* [n_values] REP_* valid in the current forward */
    void *arena;
    size_t arena_bytes;
    void *scratch;
    size_t scratch_bytes;
    Tensor *outs;            /* [n_outputs] */
} ExecState;

struct QModel {
    const Model *m;
    const Graph *g;
    int n_values;            /* g->n_values, so qmodel_free never reads the model */
    Plan plan;
    int n_steps;
    Step *steps;
    int *step_of;            /* [n_nodes] the step that runs each node */
    QLayerInfo *info;        /* [n_nodes] */
    VInfo *vi;               /* [n_values] */
    Tensor **hconst;         /* [n_values] half-rounded constants, owned */
    int64_t deployed_bytes;
    ExecState st_int, st_fake, st_local;
};

/* What a step reads and writes in one run. */
typedef struct StepIO {
    const Graph *g;
    const Shape *shapes;               /* [n_values] at this batch */
    const Tensor *in[QX_MAX_IN];       /* the head's inputs as the step reads them */
    Tensor out;                        /* the output slot (i8, or f32) */
    void *scratch;
    size_t scratch_bytes;
    bool fake;
    int bits;                          /* int8-dyn activation bits */
} StepIO;

typedef struct StepDef {
    const char *name;
    void (*run)(const Step *s, StepIO *io);
    /* Scratch bytes for this batch (io's shapes and in[] shapes set, data not). */
    size_t (*scratch)(const Step *s, const StepIO *io);
} StepDef;

extern const StepDef qkernels_step_table[STEP_COUNT];

/* A conv's sizes (1-D as 2-D with H = 1). */
typedef struct CDims {
    int64_t n, c, h, w;      /* input */
    int64_t oc, oh, ow;      /* output */
    int64_t cg, ocg;         /* channels per group, in and out */
} CDims;
CDims qk_dims(const ConvAttrs *a, const Shape *x, const Shape *y);

/* The float forward of a Dense-like product: y (rows, OC) = x (rows, K) w^T + b, exactly
 * as the Dense op computes it (bias rows, then one sgemm with beta 1). */
void qkernels_gemm_f32(const float *x, int64_t rows, int64_t k, const float *w, int64_t oc,
                       const float *b, float *y);

/* The pre-activation of linear unit s (STEP_LIN_Q or STEP_LIN_DYN) on float input x into
 * y, with the fake-quant twin's arithmetic and no activation or output rounding
 * (qmodel_unit_preact). Scratch: qkernels_preact_scratch bytes. */
size_t qkernels_preact_scratch(const Step *s, const Shape *x, const Shape *y);
void qkernels_preact(const Step *s, const Tensor *x, Tensor *y, void *scratch,
                     size_t scratch_bytes, int bits);

/* The integer step kind of node n at int8-static (its op row's OpInt8.step when the node
 * fits it), or STEP_FLOAT (a fallback). */
StepKind qexec_q_kind(const Graph *g, const Node *n);

/* The parameter ties a target's converter makes (QTargetDef.tie_concat, tie_avgpool),
 * qexec_ties.c: values in one group quantize with one range, the hull of the calibrated
 * ranges of its members that set their own parameters (the concat output, the input of a
 * pass-through chain). tied == NULL: the target ties nothing. */
typedef struct QexecTies {
    bool *tied;              /* [n_values] in a group joined by a tie */
    float *lo, *hi;          /* [n_values] the group's range (tied values) */
} QexecTies;

/* head_of: the head of the unit running each node (linear_group). */
QsStatus qexec_ties_build(const QModel *q, const Calibration *cal, const int *head_of,
                          QexecTies *t, QsError *err);
void qexec_ties_release(QexecTies *t);

/* Target ort (QTargetDef.ort_graph): sets each int8-static linear unit's LinOrt from the
 * export's graph as ONNX Runtime's optimizer transforms it (qexec_ort.c). After the steps
 * and their representations are lowered. */
void qexec_ort_plan(QModel *q);
/* The int8 output of a unit whose LinOrt is not LORT_QLINEAR, as ONNX Runtime computes
 * it; scratch: qexec_ort_scratch bytes. */
void qexec_ort_run(const Step *s, const Tensor *x, Tensor *y, void *scratch);
size_t qexec_ort_scratch(const Step *s, const Shape *x, const Shape *y);

/* Lowers q->plan onto q->m (q->m, q->g, q->plan set; everything else zero). corr: per-node
 * bias corrections or NULL (qmodel_build_ex). */
QsStatus qexec_lower(QModel *q, const Calibration *cal, const float *const *corr,
                     QsError *err);
/* Frees what qexec_lower made. */
void qexec_lower_release(QModel *q);
/* The target-dependent parameters of int8 step s (not a linear unit, not a table: Add,
 * Mul, MatMul, Softmax, Concat, the pools, a clamp's bounds) under target row T, from its
 * in_qps and out_qp. Lowering calls it with the plan's row; the per-target rerun
 * (qmodel_run_node_target) with another on a copy of the step, whose allocations
 * qexec_step_rules_release frees (set them NULL in the copy first). QS_EINVAL when T
 * cannot represent the step's parameters. */
QsStatus qexec_step_rules(const Graph *g, Step *s, const QTargetDef *T, QsError *err);
void qexec_step_rules_release(Step *s);

/* 64-byte aligned allocation of `bytes` (QS_ENOMEM naming `what` on failure). */
void *qexec_alloc(size_t bytes, const char *what, QsError *err);

#endif
