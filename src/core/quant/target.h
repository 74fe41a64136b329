/* Deployment targets: the integer arithmetic each runtime applies, one table row per target.
 * `quant target=NAME` puts a row's index in QuantOpts.target; lowering (qexec_lower.c) asks
 * the row how to turn real multipliers into the runtime's parameters, and the integer
 * kernels (qkernels.c) apply the row's rules, so the integer executor computes what that
 * runtime computes. docs/quantization.md ("Targets") states every rule and the source file
 * of the runtime it follows. qscope (row 0, the default) is the project's own arithmetic:
 * one rounding, ties to even, everywhere. */
#ifndef QS_TARGET_H
#define QS_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/quant.h"

typedef enum { QTGT_QSCOPE = 0, QTGT_XNNPACK, QTGT_TFLM, QTGT_ORT, QTGT_COUNT } QTargetKind;

/* Add of two int8 tensors (same shape) into a third. */
typedef enum {
    TADD_EXACT = 0,  /* qscope: M_i = round(s_i / s_out 2^S), one rounding of the int64 sum */
    TADD_TFLITE,     /* TFLite/TFLM: inputs << 20, each scaled by a Q31 multiplier of
                        s_i / (2 max s), summed, then the output multiplier (all gemmlowp) */
    TADD_XNNPACK,    /* XNNPACK qs8-vadd: 21-bit multipliers, + rounding constant, >> shift */
    TADD_ORT,        /* ONNX Runtime QLinearAdd (MLAS, AVX2): float ratios with FMA */
} TargetAddRule;

/* AveragePool with a window. */
typedef enum {
    TAVG_REQUANT = 0, /* qscope: sum (q - z_in) requantized by s_in / (count s_out) */
    TAVG_TFLITE,      /* TFLite builtin: sum of the raw codes, (sum +- count/2) / count
                         truncated (ties away from zero); the output keeps the input's
                         parameters (tied) */
    TAVG_ORT,         /* ONNX Runtime QLinearAveragePool: float average of the dequantized
                         taps, then nearbyint(avg / s_out + z_out) */
} TargetAvgRule;

/* GlobalAveragePool (a MEAN over the spatial axes when exported to TFLite). */
typedef enum {
    TMEAN_REQUANT = 0, /* qscope: as TAVG_REQUANT with count = H W */
    TMEAN_TFLITE,      /* TFLM MEAN: QuantizeMultiplier(s_in / s_out), folded with 1 / n by
                          an integer division, then MultiplyByQuantizedMultiplier */
    TMEAN_XNNPACK,     /* XNNPACK mean (qs8): float scale (s_in / s_out) (1 / n), float zero
                          point z_out - n z_in scale, nearbyint */
    TMEAN_ORT,         /* ONNX Runtime QLinearGlobalAveragePool: float scale
                          s_in / (s_out n), the int32 sum - n z_in times it, round to even */
} TargetMeanRule;

/* Concat of inputs whose parameters differ from the output's (equal ones are copied). */
typedef enum {
    TCAT_REQUANT = 0, /* the row's requantization of (q - z_in) by s_in / s_out */
    TCAT_DQ_Q,        /* ONNX Runtime QLinearConcat: quantize(dequantize(q)) in float */
} TargetCatRule;

/* The integer code of a fused activation's bound (ReLU's 0, ReLU6's 6, Clip's min/max). */
typedef enum {
    TCLAMP_EVEN = 0,  /* qscope, ONNX Runtime (a float Clip before QuantizeLinear): quant_q */
    TCLAMP_XNNPACK,   /* xnn_qs8_quantize: lrintf(v / s + z), clamped to int8 */
    TCLAMP_TFLITE,    /* CalculateActivationRangeQuantized: z + round_half_away(v / s) */
} TargetClampRule;

/* Mul of two int8 tensors: the int32 product p = (a - z_a)(b - z_b) onto the output grid. */
typedef enum {
    TMUL_REQUANT = 0, /* the row's linear requantization of p by s_a s_b / s_out
                         (target_requant_linear): TFLite's MUL (gemmlowp), XNNPACK's
                         qs8-vmul (fp32), qscope's one rounding */
    TMUL_ORT,         /* ONNX Runtime QLinearMul (MLAS qlmul.cpp, SSE2): rint((float)p
                         ((s_a s_b) / s_out) + (float)z_out) in float, saturated */
} TargetMulRule;

/* Softmax of int8 codes along one axis onto the output grid. */
typedef enum {
    TSM_FLOAT = 0,   /* qscope: the float Softmax (ops/softmax.h softmax_span: double sums of
                        fmath exp) of the dequantized span, then quant_q */
    TSM_TFLITE,      /* TFLite's builtin int8 SOFTMAX as LiteRT runs it on x86 and wasm
                        (optimized_ops::Softmax): a float table expf((-s_in) d) of the
                        distance d to the span's largest code, a float sum in order,
                        inv = 1 / (sum s_out), round half away (t inv) + z_out, clamped */
    TSM_ORT,         /* ONNX Runtime QLinearSoftmax (MLAS, AVX-512 kernel): a float table
                        exp((bias - d) s_in) in double, sums in 16 lanes over 32-code blocks
                        then the rest in order, scale = (1 / sum) floor(1 / s_out); each code
                        fma(t, scale, z_out) rounded to even, saturated to int8 */
    TSM_TFLM,        /* TensorFlow Lite Micro's reference int8 Softmax (and esp-nn's and
                        CMSIS-NN's arm_softmax_s8, the same steps): gemmlowp fixed point;
                        d = code - max scaled into Q5.26 by the Q31 multiplier of s_in 2^26
                        (codes with d < diff_min give -128), exp_on_negative_values, the sum
                        in Q12.19, its reciprocal by Newton-Raphson, each code
                        RoundingDivideByPOT(exp / sum) - 128 (quant/target_softmax_tflm.c) */
} TargetSoftmaxRule;

/* int8-dyn: how a linear unit's float input is quantized at run time (the runtime's hybrid
 * kernels), and how the int32 sum becomes float. */
typedef enum {
    TDYN_SAMPLE = 0,  /* qscope: one asymmetric quant_params range per sample, half to even;
                         y = (s_x s_w[c]) acc + b */
    TDYN_XNNPACK,     /* XNNPACK qd8 (LiteRT's dynamic-range FULLY_CONNECTED and CONV_2D):
                         one range per row of a dense layer's (rows, K) input, per image of
                         a convolution's; y = ((float)acc s_x) s_w[c] + b */
    TDYN_TFLITE,      /* TFLite's builtin hybrid kernels (AsymmetricQuantizeFloats): the
                         same spans, the range's parameters in double, round half away;
                         y = ((float)acc s_x) s_w[c] + b (the order closest to LiteRT's
                         depthwise, which is not bit-exact: docs/quantization.md) */
} TargetDynRule;

typedef struct QTargetDef {
    const char *name;          /* in commands, results and files: "tflm" */
    const char *runtime;       /* what it stands for, for help and docs */
    int requant;               /* QRequantRule of linear units (per output channel) */
    TargetAddRule add;
    TargetAvgRule avgpool;
    TargetMeanRule mean;
    TargetCatRule concat;
    TargetClampRule clamp;
    /* Ties the runtime's converter makes (TFLite's quantization spec): concat inputs take
     * the output's parameters, so the concat is a copy; an average pool's output keeps its
     * input's. MaxPool, Relu/Clip, Resize and the layout ops keep their input's on every
     * target. */
    bool tie_concat;
    bool tie_avgpool;
    /* int8 Softmax and Sigmoid outputs have the spec's fixed parameters, scale 1/256 and
     * zero point -128 (they run as float fallbacks here; their output quantizes so) */
    bool fixed_prob_out;
    /* int8 Softmax outputs have scale 1/256 and zero point qmin (fixed_prob_out, or ONNX
     * Runtime's QDQ quantizer: operators/softmax.py) */
    bool fixed_softmax_out;
    TargetSoftmaxRule softmax;
    TargetMulRule mul;
    /* ONNX Runtime: a linear unit runs as the runtime's graph optimizer leaves the QDQ
     * export's group (fused QLinear kernel, MatMulIntegerToFloat, or float Conv between
     * DequantizeLinear and QuantizeLinear; qexec_ort.c) */
    bool ort_graph;
    TargetDynRule dyn;       /* dense layers and convolutions */
    TargetDynRule dyn_dw;    /* depthwise convolutions */
} QTargetDef;

/* The spec's fixed parameters of an int8 probability output (Softmax, Sigmoid) on grid
 * [qmin, qmax]: scale 1/256, zero point qmin (-128 at 8 bits). */
QParams target_prob_qparams(int32_t qmin, int32_t qmax);

extern const QTargetDef target_table[QTGT_COUNT];
/* The row of a plan's QuantOpts.target (qscope's for an index outside the table). */
const QTargetDef *target_of(int target);
int target_find(const char *name); /* -1 when unknown */

/* The requantization of a linear unit's channel: m = s_in s_w / s_out, computed as the
 * runtime computes it (double for the fixed-point rules, float32 s_in * s_w / s_out for
 * the float ones). QS_EINVAL naming `what` when the runtime cannot represent it. */
QsStatus target_requant_linear(const QTargetDef *t, float s_in, float s_w, float s_out,
                               Requant *r, const char *what, QsError *err);
/* The requantization of a plain rescale s_in / s_out (concat inputs, qscope's pools). */
QsStatus target_requant_ratio(const QTargetDef *t, double m, float fm, Requant *r,
                              const char *what, QsError *err);

/* The integer clamp [lo, hi] of the float range [fl, fh] on grid p under t's rule:
 * [max(qmin, code(fl)), min(qmax, code(fh))]. */
void target_clamp(const QTargetDef *t, const QParams *p, float fl, float fh, int32_t *lo,
                  int32_t *hi);

/* ---- int8-dyn activations ------------------------------------------------------------ */

/* The parameters of one span of a dynamic unit's input (a row or a sample, by the rule):
 * the codes are clamp(round_even(x inv) + zero_point) (TDYN_XNNPACK), or quant_q of x on
 * qp (TDYN_SAMPLE); scale is s_x, the scale the int32 sum is multiplied by. */
typedef struct TargetDyn {
    TargetDynRule rule;
    QParams qp;               /* zero point and grid; qp.scale == scale */
    float inv;                /* TDYN_XNNPACK, TDYN_TFLITE: the multiplier of the codes */
    float scale;
} TargetDyn;

/* The parameters of span x[n] under rule at `bits` (TDYN_XNNPACK and TDYN_TFLITE are int8
 * rules: any other width takes TDYN_SAMPLE's), from the finite values' min and max. */
void target_dyn_params(TargetDynRule rule, const float *x, int64_t n, int bits, TargetDyn *d);
/* The int8 codes of x[n] with d: TDYN_XNNPACK clamp(round_even(x inv) + z), TDYN_TFLITE
 * clamp(round_half_away((float)z + x inv)), TDYN_SAMPLE quant_q. */
void target_dyn_quantize(const TargetDyn *d, const float *x, int64_t n, int8_t *q);
/* The float value of one output from its int32 sum acc = sum (q - z) w (zero point taken
 * out), channel scale sw and float bias b. */
/* The rule of a dense layer or convolution (depthwise or not) on target t. */
static inline TargetDynRule target_dyn_rule(const struct QTargetDef *t, bool depthwise)
{
    return depthwise ? t->dyn_dw : t->dyn;
}
static inline float target_dyn_out(const TargetDyn *d, float sw, int64_t acc, float b)
{
    if (d->rule == TDYN_XNNPACK || d->rule == TDYN_TFLITE)
        return ((float)acc * d->scale) * sw + b;
    return (d->scale * sw) * (float)acc + b;
}

/* ---- Add --------------------------------------------------------------------------- */

typedef struct TargetAdd {
    TargetAddRule rule;
    int32_t za, zb, zo, lo, hi;
    int64_t mult[2];           /* TADD_EXACT */
    int shift;                 /* TADD_EXACT, TADD_XNNPACK */
    Requant in[2], out;        /* TADD_TFLITE (gemmlowp) */
    int32_t xm[2], xbias;      /* TADD_XNNPACK */
    float ratio[2], fixed;     /* TADD_ORT */
} TargetAdd;

/* The parameters of an Add a (sa, za) + b (sb, zb) -> (so, zo) clamped to [lo, hi] under
 * t's rule. A ratio XNNPACK refuses (s_i / s_out outside [2^-10, 2^8)) makes LiteRT run
 * TFLite's builtin ADD instead: the rule becomes TADD_TFLITE. QS_EINVAL when out of range. */
QsStatus target_add_make(const QTargetDef *t, const QParams *a, const QParams *b,
                         const QParams *o, TargetAdd *p, const char *what, QsError *err);
/* One element. */
int32_t target_add_apply(const TargetAdd *p, int32_t a, int32_t b);

/* ---- Softmax ------------------------------------------------------------------------ */

typedef struct TargetSoftmax {
    TargetSoftmaxRule rule;
    QParams in, out;
    float exp[256];            /* TSM_TFLITE, TSM_ORT: exp at distance d = max - code */
    float yscale;              /* TSM_ORT: floor(1 / s_out) */
    int32_t mult, diff_min;    /* TSM_TFLM: the Q31 input multiplier, the smallest distance */
    int lshift;                /* TSM_TFLM: the input multiplier's left shift */
} TargetSoftmax;

/* The parameters of a Softmax over spans of len codes (in -> out) under t's rule. */
void target_softmax_make(const QTargetDef *t, const QParams *in, const QParams *out,
                         int64_t len, TargetSoftmax *p);
/* One span of len int8 codes at stride `step` (TSM_TFLITE, TSM_ORT, TSM_TFLM; TSM_FLOAT
 * runs in the kernel, which has the float op); tmp: len floats. */
void target_softmax_span(const TargetSoftmax *p, const int8_t *x, int8_t *y, int64_t len,
                         int64_t step, float *tmp);
/* TSM_TFLM (quant/target_softmax_tflm.c): TFLM's prepare-time parameters of input scale
 * s_in (beta 1): input_multiplier, input_left_shift, diff_min. */
void target_softmax_tflm_params(float s_in, int32_t *mult, int *lshift, int32_t *diff_min);
/* gemmlowp's exp_on_negative_values of a Q5.26 a <= 0, as a Q0.31. */
int32_t target_softmax_tflm_exp(int32_t a);
/* One span whose largest code is mx. Assumes TFLM's output parameters (1/256, -128). */
void target_softmax_tflm_span(const TargetSoftmax *p, const int8_t *x, int8_t *y,
                              int64_t len, int64_t step, int32_t mx);

/* ---- GlobalAveragePool / mean ------------------------------------------------------- */

typedef struct TargetMean {
    TargetMeanRule rule;
    int64_t n;                 /* values per output */
    int32_t zi, zo, lo, hi;
    Requant rq;                /* TMEAN_REQUANT: s_in / (n s_out); TMEAN_TFLITE: the folded
                                  multiplier */
    float scale, zfix;         /* TMEAN_XNNPACK, TMEAN_ORT */
} TargetMean;

QsStatus target_mean_make(const QTargetDef *t, const QParams *in, const QParams *out,
                          int64_t n, TargetMean *p, const char *what, QsError *err);
/* The output code from the sum of the n raw input codes. */
int32_t target_mean_apply(const TargetMean *p, int32_t raw_sum);

/* ---- AveragePool (windowed) ---------------------------------------------------------- */

/* TAVG_TFLITE: the average of raw codes, (sum +- count/2) / count truncated toward zero. */
int32_t target_avg_tflite(int32_t raw_sum, int32_t count);
/* TAVG_ORT: nearbyint(avg / s_out + z_out) of a float average, clamped to [lo, hi]. */
int32_t target_avg_ort(float avg, float s_out, int32_t z_out, int32_t lo, int32_t hi);

#endif
