/* TFLite export, shared by its files: the export state (Tx), the forms a qscope value takes
 * in the file, and the helpers op rows use. tflite_export.c walks the plan and converts
 * forms; tflite_export_ops.c writes one row per qscope op.
 *
 * Forms of a value: a layout (TX_PLAIN: qscope's own dimension order; TX_CLAST: channels
 * last, rank 4 (N, C, H, W) as (N, H, W, C) and rank 3 (N, C, W) as (N, 1, W, C), so 1-D
 * convolutions and pools run as 2-D ones with H = 1) and a representation (TX_F float32,
 * TX_Q int8 with the value's quantization parameters from the plan). The producer writes
 * one form (its base); readers ask for theirs and get it through a TRANSPOSE (and RESHAPE
 * at rank 3), a QUANTIZE or a DEQUANTIZE made once per value and form. */
#ifndef QS_TFLITE_EXPORT_INT_H
#define QS_TFLITE_EXPORT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/linear_unit.h"
#include "graph/model.h"
#include "ops/geometry.h"
#include "qexec/qexec_view.h"
#include "tflite/tflite_export.h"
#include "tflite/tflite_model.h"
#include "tflite/tflite_schema.h"

enum { TX_PLAIN = 0, TX_CLAST = 1 };
enum { TX_F = 0, TX_Q = 1 };

/* How an op uses layouts: it needs channels-last data (convolutions, pools, resize), it
 * follows its inputs (elementwise ops, concat, reductions, remapping axes), or it needs
 * qscope's own order (reshapes, dense products). */
enum { TXL_SPATIAL = 0, TXL_FOLLOW, TXL_PLAIN };

typedef struct Tx {
    const Graph *g;
    const QModel *q;
    const TfliteOpts *o;
    TflModel t;
    Shape *shapes;            /* [n_values] at the export batch */
    LinearUnit *units;        /* [n_nodes] (graph/linear_unit.h) */
    int *head_of;             /* [n_nodes] */
    uint8_t *clast;           /* [n_values] the base layout of each value */
    int *reader;              /* [n_values] the one node reading it (-1: none or several,
                                 or a graph output) */
    bool *fused;              /* [n_nodes] written by its producer's op (a fused clamp) */
    int (*tens)[2][2];        /* [n_values][layout][repr] tensor index, -1: not made */
    int (*rounded)[2];        /* [n_values][layout] its int8 code dequantized (float), -1:
                                 not made */
    QsError *err;
    QsStatus st;
} Tx;

/* A node (or a unit's head) being written, as its plan step runs it. */
typedef struct TxNode {
    int ni;                   /* the node */
    const Node *n;
    QStepView s;              /* its step */
    bool q;                   /* runs on int8 (reads and writes TX_Q) */
    int out;                  /* the value it writes */
} TxNode;

typedef struct TxRow {
    int layout;               /* TXL_* */
    void (*write)(Tx *x, const TxNode *tn);
    const char *not_exportable; /* write NULL: why the op has no TFLite form */
} TxRow;

/* The row of op `op`. */
const TxRow *tx_row(int op);

/* Records the first failure and returns it. */
QsStatus tx_fail(Tx *x, QsStatus code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Value v's file dims in layout lay (at the export batch); returns the rank. */
int tx_dims(const Tx *x, int v, int lay, int64_t *dims);
/* The file axis of qscope axis a (>= 0) of a rank-r value in layout lay. */
int tx_axis(int r, int lay, int a);
/* Whether value v takes part in layouts at all (rank 3 or 4). */
bool tx_spatial_rank(const Tx *x, int v);

/* The tensor holding value v in layout lay and representation rep, made on first use. */
int tx_get(Tx *x, int v, int lay, int rep);
/* Value v in layout lay as an int8 step reads it, in float: its int8 code dequantized (the
 * TX_F form itself where an int8 step wrote v, else a DEQUANTIZE of its TX_Q form). */
int tx_get_rounded(Tx *x, int v, int lay);
/* A new activation tensor for value v's base form (layout x->clast[v], rep), registered
 * as that form; int8 carries the value's parameters. */
int tx_out(Tx *x, int v, int rep);
/* A new unnamed-value activation tensor (name, dims, type, quantization may be NULL). */
int tx_tmp(Tx *x, const char *name, int type, int nd, const int64_t *dims, const TflQuant *q);

/* Constants: float32, int32 (shapes, axes, biases) and any type with quantization. */
int tx_const_f32(Tx *x, const char *name, int nd, const int64_t *dims, const float *v);
int tx_const_i32(Tx *x, const char *name, int nd, const int64_t *dims, const int32_t *v);

/* The op version written for op code `code` on int8 (q) or float data. */
int tx_version(int code, bool q);
/* One operator writing tensor out. */
void tx_op(Tx *x, int code, bool q, const int *in, int n_in, int out, const TflOpts *opt);

/* The TFLite quantization of value v (its plan parameters); false when it has none. */
bool tx_value_quant(const Tx *x, int v, TflQuant *tq);
/* Refuses int8 parameters TFLite's int8 range cannot hold ([-128, 127] codes). */
bool tx_check_int8_range(Tx *x, const QParams *p, const char *layer);

/* The clamp node that alone reads node tn's output and can be fused into its op (a
 * fused_activation_function equal to the plan's clamp, float or int8 alike), or -1;
 * *act receives its TFL_ACT_*. */
int tx_fusable_clamp(const Tx *x, const TxNode *tn, int *act);

/* The fused activation of a float clamp [lo, hi] (TFL_ACT_*), or -1 when none fits. */
int tx_fused_act(float lo, float hi);
/* Whether the integer clamp TFLite derives for act on grid p is [lo, hi]. */
bool tx_act_matches_int8(int act, const QParams *p, int32_t lo, int32_t hi);

/* Node tn's non-constant input i in the layout of its output and its representation (an
 * int8 step written in float reads the input's int8 code, dequantized). */
int tx_op_in(Tx *x, const TxNode *tn, int i);
/* One op reading input 0 (plus n_extra constant inputs), writing the node's output. */
void tx_op_unary(Tx *x, const TxNode *tn, int code, const TflOpts *o, const int *extra,
                 int n_extra);
/* Constant value c broadcast against a rank-r output in layout lay (float32). */
int tx_broadcast_const(Tx *x, const TxNode *tn, int c, int r, int lay, const char *name);

/* Transformer and detector ops (tflite_export_seq.c): Slice (STRIDED_SLICE), Expand
 * (BROADCAST_TO), MatMul of two activations (BATCH_MATMUL), Pow (MUL, SQRT or POW), Sqrt
 * (SQRT), HardSigmoid (MUL, ADD, MAXIMUM, MINIMUM) and the Erf form of GELU (GELU). */
void tx_slice(Tx *x, const TxNode *tn);
void tx_expand(Tx *x, const TxNode *tn);
void tx_batch_matmul(Tx *x, const TxNode *tn);
void tx_pow(Tx *x, const TxNode *tn);
void tx_sqrt(Tx *x, const TxNode *tn);
void tx_erf(Tx *x, const TxNode *tn);
void tx_hardsigmoid(Tx *x, const TxNode *tn);
/* Writes GELU when Div node tn starts torch's Erf form of it (Div(x, sqrt 2), Erf,
 * Add(1), Mul(x), Mul(0.5), each read once), marking the other four nodes fused. */
bool tx_gelu(Tx *x, const TxNode *tn);

/* Linear units (tflite_export_unit.c): the unit headed by tn->ni. */
void tx_unit(Tx *x, const TxNode *tn);
/* The input of a window op (conv, pool) on value v read as rep, channels last: *padding
 * SAME or VALID when one gives the node's pads and output size, else (may_pad) a PAD op
 * of zeros (int8: of the zero point; a MaxPool's: PADV2 of the lowest value) before VALID;
 * anything else fails naming the node. */
int tx_window_input(Tx *x, const TxNode *tn, int v, int rep, const Window *w,
                    bool may_pad, int *padding);

#endif
