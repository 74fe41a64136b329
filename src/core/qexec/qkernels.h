/* Pieces of the integer kernels shared by the step files of the executor (qkernels.c: the
 * step table; qkernels_linq.c: int8-static linear units; qkernels_requant.c: the target's
 * requantization; qkernels_bytes.c: byte transposes, max and clamp; qkernels_add.c: the int8 Add; qkernels_dw*.c: int8 depthwise). Internal to
 * qexec. */
#ifndef QS_QKERNELS_H
#define QS_QKERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kern/dwconv_flat.h"
#include "kern/simd.h"
#include "qexec/qexec_internal.h"

static inline size_t qk_align(size_t n) { return (n + QX_ALIGN - 1) & ~(size_t)(QX_ALIGN - 1); }

/* Carves `bytes` off the scratch cursor (kept 64-byte aligned). */
static inline void *qk_take(char **cur, size_t bytes)
{
    void *p = *cur;
    *cur += qk_align(bytes);
    return p;
}

/* y[i sy] = the requantization of sat32(acc[i sa] + corr) under r.rule
 * (quant_requant_rule), clamped to [lo, hi], for 0 <= i < n. Exact integer arithmetic (the
 * fp32 rule's float steps are exact too), so the result depends on nothing but the
 * inputs. */
void qk_requant_row(const int32_t *acc, int64_t sa, int64_t n, int64_t corr, Requant r,
                    int32_t z, int32_t lo, int32_t hi, int8_t *y, int64_t sy);

/* A unit's per-channel requantization constants as lanes (structure of arrays), made at
 * lowering so that a SIMD epilogue loads 8 channels' constants at once. rule: the rule
 * every channel shares, or -1 when the lanes cannot express it (a Q31 shift outside
 * [1, 62]): then only the scalar rows run.
 *   QRQ_Q31_EVEN: m0, a = 31 + shift, b = 2^(a-1) - 1 (the rounding bias);
 *   QRQ_GEMMLOWP: m0, a = left shift, b = right shift, c = 2^b - 1, d = c >> 1;
 *   QRQ_FP32:     scale. */
typedef struct QkRqVec {
    int rule;
    int64_t *m0, *a, *b, *c, *d;   /* (OC) each */
    float *scale;                  /* (OC) */
} QkRqVec;

/* Fills v for n channels (v's arrays owned by it: qk_rqvec_free). */
void qk_rqvec_make(const Requant *rq, int64_t n, QkRqVec *v);
void qk_rqvec_free(QkRqVec *v);
/* v's lanes from channel c0 on. */
QkRqVec qk_rqvec_at(const QkRqVec *v, int64_t c0);

/* A block of GEMM results, rows x n channels (row stride ld): y[i ys + j] = the
 * requantization of sat32(acc[i ld + j] + corr[j]) under rq[j], the same integers as
 * qk_requant_row; the constants of each group of channels are read once for all the rows.
 * level picks the version (the SIMD one needs v->rule >= 0). */
void qk_requant_block(const int32_t *acc, int64_t ld, int64_t rows, int64_t n,
                      const int64_t *corr, const Requant *rq, const QkRqVec *v, int32_t z,
                      int32_t lo, int32_t hi, int8_t *y, int64_t ys, SimdLevel level);
/* dst[j ld + i] = src[i ls + j] for i < rows, j < cols: a byte transpose, 16 x 16 tiles in
 * SSE2 registers on x86-64 (qkernels_bytes.c). */
void qk_transpose_i8(const int8_t *src, int64_t ls, int64_t rows, int64_t cols, int8_t *dst,
                     int64_t ld);
/* m[i] = max(m[i], x[i]) for i < n (qkernels_bytes.c). */
void qk_max_i8(int8_t *m, const int8_t *x, int64_t n);
/* y[o] = the max of r0[2o], r0[2o + 1], r1[2o], r1[2o + 1] for o < n: a 2x2, stride 2
 * MaxPool row (qkernels_bytes.c). */
void qk_maxpool2x2_row(const int8_t *r0, const int8_t *r1, int64_t n, int8_t *y);
/* The sum of x[0 .. n); the caller keeps 128 n within int32 (qkernels_bytes.c). */
int32_t qk_sum_i8(const int8_t *x, int64_t n);
/* y[i] = clamp(x[i], lo, hi) for i < n, lo <= hi (qkernels_bytes.c). */
void qk_clamp_i8(const int8_t *x, int8_t *y, int64_t n, int8_t lo, int8_t hi);
/* The AVX-512 versions (qkernels_requant_avx512.c): a block, and a contiguous row of one
 * channel whose constants are lane 0 of v. */
void qk_requant_block_avx512(const int32_t *acc, int64_t ld, int64_t rows, int64_t n,
                             const int64_t *corr, const QkRqVec *v, int32_t z, int32_t lo,
                             int32_t hi, int8_t *y, int64_t ys);
void qk_requant_row_avx512(const int32_t *acc, int64_t n, int64_t corr, const QkRqVec *v,
                           int32_t z, int32_t lo, int32_t hi, int8_t *y);
/* qk_requant_row on a contiguous row with the best version for level. */
void qk_requant_row_at(const int32_t *acc, int64_t n, int64_t corr, const Requant *r,
                       const QkRqVec *v, int32_t z, int32_t lo, int32_t hi, int8_t *y,
                       SimdLevel level);

/* A row of n accumulators of one channel (constants r, lane 0 of v) requantized into runs
 * of a plane: accumulator t goes to column p = p0 + t, stored at y + (p / hw) ys + p % hw
 * (a channel's plane in consecutive samples, ys apart). The same integers as
 * qk_requant_row. */
void qk_requant_runs(const int32_t *acc, int64_t n, int64_t p0, int64_t hw, int64_t corr,
                     const Requant *r, const QkRqVec *v, int32_t z, int32_t lo, int32_t hi,
                     int8_t *y, int64_t ys, SimdLevel level);
void qk_requant_runs_avx512(const int32_t *acc, int64_t n, int64_t p0, int64_t hw,
                            int64_t corr, const QkRqVec *v, int32_t z, int32_t lo, int32_t hi,
                            int8_t *y, int64_t ys);

/* np consecutive channels' planes of ohw accumulators each, contiguous in acc and in y
 * (one sample's planes of a depthwise conv): acc[k ohw + p] -> y[k ohw + p] under channel
 * k's constants (rq[k], lane k of v) and bias corr[k]. The same integers as
 * qk_requant_row; small planes share vectors (a plane per call would cost more than its
 * few lanes). */
void qk_requant_planes(const int32_t *acc, int64_t np, int64_t ohw, const int32_t *corr,
                       const Requant *rq, const QkRqVec *v, int32_t z, int32_t lo, int32_t hi,
                       int8_t *y, SimdLevel level);
void qk_requant_planes_avx512(const int32_t *acc, int64_t np, int64_t ohw,
                              const int32_t *corr, const QkRqVec *v, int32_t z, int32_t lo,
                              int32_t hi, int8_t *y);

/* The int8 Add of n elements under the qscope rule (ad->rule == TADD_EXACT, out: the
 * output's parameters; qkernels_add.c), target_add_apply's integers; level picks the
 * version (the AVX-512 one lives with the requantization lanes, in
 * qkernels_requant_avx512.c). */
void qk_add_exact(const TargetAdd *ad, const QParams *out, const int8_t *a, const int8_t *b,
                  int8_t *y, int64_t n, SimdLevel level);
void qk_add_exact_avx512(const TargetAdd *ad, const QParams *out, const int8_t *a,
                         const int8_t *b, int8_t *y, int64_t n);

/* STEP_Q_MATMUL (qkernels_matmul.c): MatMul of two int8 activations, int32 sums requantized
 * by s->rq; behind io->fake, the float MatMul on dequantized inputs, fake-quantized. Its
 * scratch is the float op's (the fake run's). */
void qk_step_matmul_run(const Step *s, StepIO *io);

/* STEP_Q_TABLE (qkernels_table.c): each int8 code looked up in s->table; behind io->fake,
 * the float op on dequantized inputs, fake-quantized. Scratch: the float op's. */
void qk_step_table_run(const Step *s, StepIO *io);

/* STEP_Q_SOFTMAX (qkernels_softmax.c): each span along the axis by the target's rule
 * (s->softmax); behind io->fake, the float op on dequantized inputs, fake-quantized.
 * Scratch: one span of floats. */
void qk_step_softmax_run(const Step *s, StepIO *io);
size_t qk_step_softmax_scratch(const Step *s, const StepIO *io);

/* STEP_Q_MUL (qkernels_bcast.c): (a - z_a)(b - z_b) requantized by s->rq (the target's
 * linear rule, or ONNX Runtime's float one), numpy broadcasting; behind io->fake, the float
 * Mul of the dequantized inputs, fake-quantized. No scratch. */
void qk_step_mul_run(const Step *s, StepIO *io);
/* STEP_Q_ADD when the operands' shapes differ from the output's: target_add_apply (or the
 * fake twin's float sum) at each output element's broadcast offsets. */
void qk_add_broadcast(const Step *s, StepIO *io);

/* Row r of the im2row matrix of one sample and group, r = oh OW + ow: (CG*KH*KW) taps from
 * x (CG, H, W); taps outside the input read the zero point zp, the quantized 0, so
 * padding adds nothing once the zero-point correction is applied. */
void qk_im2row_row(const ConvAttrs *a, const CDims *d, const int8_t *x, int8_t zp,
                   int64_t oh, int64_t ow, int8_t *r);
/* Rows r0 .. r1 - 1 of the im2row matrix of the whole batch x (N, C, H, W) for group g:
 * row r is pixel r % (OH OW) of sample r / (OH OW). A pointwise conv is a transpose. */
void qk_im2row_rows(const ConvAttrs *a, const CDims *d, const int8_t *x, int64_t g, int8_t zp,
                    int64_t r0, int64_t r1, int8_t *col);
/* Every row of one sample and group into col (OH*OW, CG*KH*KW). */
void qk_im2row(const ConvAttrs *a, const CDims *d, const int8_t *x, int8_t zp, int8_t *col);

/* Depthwise, one output plane: acc (OH*OW) = sum over the taps inside the input of
 * (x - zp) w, which equals padding with zp. The scalar reference walks one kernel tap at a
 * time over its valid output rectangle; the SIMD versions (level) keep each output vector
 * in registers across the taps: AVX-512 reads the input itself with the taps outside it
 * masked off, AVX2 copies the plane into pad with zp around it (qk_dw_pad_bytes bytes;
 * NULL: the reference runs). The same integers at every level. */
size_t qk_dw_pad_bytes(const ConvAttrs *a, const CDims *d);
void qk_dw_plane(const ConvAttrs *a, const CDims *d, const int8_t *xp, const int8_t *wk,
                 int32_t zp, int32_t *acc, int8_t *pad, SimdLevel level);
/* The same where the bytes xp - before .. xp + after - 1 (the input tensor around the
 * plane, after >= H W) may be read: the AVX-512 version then masks fewer loads. */
void qk_dw_plane_in(const ConvAttrs *a, const CDims *d, const int8_t *xp, int64_t before,
                    int64_t after, const int8_t *wk, int32_t zp, int32_t *acc, int8_t *pad,
                    SimdLevel level);
/* Depthwise across planes (kern/dwconv_flat.h): the planes per block of the map (1 when
 * there is none), whether the flat kernel runs this unit at level (one channel
 * multiplier, stride 1, the same size, a map that pays: then *f is built), and one block
 * of np consecutive planes of one sample (x its first input plane, wk its first channel's
 * taps) into acc (np OH OW), the same integers as qk_dw_plane's. */
int64_t qk_dw_block_planes(const ConvAttrs *a, const CDims *d);
bool qk_dw_flat_map(const ConvAttrs *a, const CDims *d, SimdLevel level, DwFlat *f);
void qk_dw_block(const DwFlat *f, const int8_t *x, const int8_t *wk, int64_t np, int32_t zp,
                 int32_t *acc);

/* STEP_LIN_Q's integer run (LORT_QLINEAR units; others go to qexec_ort_run) and its
 * scratch (qkernels_linq.c). */
void qk_lin_q_int(const Step *s, StepIO *io);
size_t qk_lin_q_int_scratch(const Step *s, const StepIO *io);

#endif
