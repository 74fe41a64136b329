/* int8 Softmax as the runtimes compute it (quant/target.h TargetSoftmaxRule). TSM_TFLM's
 * fixed point is in target_softmax_tflm.c; the two float rules here look up exp of each code's distance d = max - code to its span's largest code in a
 * 256-entry float table, so only the input scale matters; they differ in the table, the
 * order of the sum and the rounding. docs/quantization.md ("Targets") names the sources:
 *   TSM_TFLITE: tensorflow/lite/kernels/internal/optimized/optimized_ops.h Softmax (int8 in,
 *               int8 out) with PopulateSoftmaxLookupTable;
 *   TSM_ORT:    onnxruntime/contrib_ops/cpu/quantization/qlinear_softmax.cc (the table) and
 *               onnxruntime/core/mlas/lib/qsoftmax_kernel_avx512.cpp (the span). */
#include <float.h>
#include <math.h>

#include "kern/fmath.h"
#include "quant/target.h"

/* TFLite: table[d] = expf((-s_in beta) d), beta = 1. */
static void sm_table_tflite(float s_in, float *t)
{
    float scale = -s_in;
    for (int d = 0; d < 256; d++)
        t[d] = fm_expf(scale * (float)d);
}

/* ONNX Runtime: exp((255 - d - 255 + bias) s_in) in double, bias = max(0, log(FLT_MAX /
 * len) - 5) / s_in, so that len values of the largest entry cannot overflow a float sum. */
static void sm_table_ort(float s_in, int64_t len, float *t)
{
    double bias = fm_log((double)(FLT_MAX / (float)len)) - 5.0;
    bias = (bias > 0.0 ? bias : 0.0) / (double)s_in;
    for (int d = 0; d < 256; d++)
        t[d] = (float)fm_exp(((double)(255 - d) - 255.0 + bias) * (double)s_in);
}

void target_softmax_make(const QTargetDef *t, const QParams *in, const QParams *out,
                         int64_t len, TargetSoftmax *p)
{
    p->rule = t->softmax;
    p->in = *in;
    p->out = *out;
    p->yscale = floorf(1.0f / out->scale);
    if (p->rule == TSM_TFLITE)
        sm_table_tflite(in->scale, p->exp);
    else if (p->rule == TSM_ORT)
        sm_table_ort(in->scale, len > 0 ? len : 1, p->exp);
    else if (p->rule == TSM_TFLM)
        target_softmax_tflm_params(in->scale, &p->mult, &p->lshift, &p->diff_min);
}

static int8_t sm_clamp8(int32_t v, const QParams *o)
{
    return (int8_t)(v < o->qmin ? o->qmin : v > o->qmax ? o->qmax : v);
}

static void sm_span_tflite(const TargetSoftmax *p, const int8_t *x, int8_t *y, int64_t len,
                           int64_t step, int32_t mx)
{
    float sum = 0.0f;
    for (int64_t j = 0; j < len; j++)
        sum += p->exp[mx - x[j * step]];
    float inv = 1.0f / (sum * p->out.scale);
    for (int64_t j = 0; j < len; j++) {
        float prob = p->exp[mx - x[j * step]] * inv;
        y[j * step] = sm_clamp8((int32_t)roundf(prob) + p->out.zero_point, &p->out);
    }
}

/* The AVX-512 kernel's sum: 16 lanes over blocks of 32 (lane l takes codes i + l and
 * i + 16 + l), the lanes folded pairwise (blocks of four, then within a block), then the
 * rest added in order. */
static float sm_sum_ort(const float *t, int64_t len)
{
    float lane[16] = { 0 };
    int64_t i = 0;
    for (; i + 32 <= len; i += 32)
        for (int h = 0; h < 32; h += 16)
            for (int l = 0; l < 16; l++)
                lane[l] += t[i + h + l];
    float v[4];
    for (int k = 0; k < 4; k++)
        v[k] = (lane[k] + lane[4 + k]) + (lane[8 + k] + lane[12 + k]);
    float total = (v[0] + v[1]) + (v[2] + v[3]);
    for (; i < len; i++)
        total += t[i];
    return total;
}

/* Each code: fma(t, scale, z_out) rounded to even, saturated to int8. (The kernel's source
 * casts the codes past its 16-code blocks to int8 without saturating, which would turn
 * 128, a probability within half a step of 1, into -128; onnxruntime-node 1.31.1 gives 127
 * there: measured by tests/onnx/softmax_ort.sh, which has such codes.) */
static void sm_span_ort(const TargetSoftmax *p, const int8_t *x, int8_t *y, int64_t len,
                        int64_t step, int32_t mx, float *tmp)
{
    for (int64_t j = 0; j < len; j++)
        tmp[j] = p->exp[mx - x[j * step]];
    float scale = (1.0f / sm_sum_ort(tmp, len)) * p->yscale;
    float zp = (float)p->out.zero_point;
    for (int64_t j = 0; j < len; j++) {
        int32_t v = (int32_t)nearbyintf(fmaf(tmp[j], scale, zp));
        y[j * step] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
}

void target_softmax_span(const TargetSoftmax *p, const int8_t *x, int8_t *y, int64_t len,
                         int64_t step, float *tmp)
{
    int32_t mx = -128;
    for (int64_t j = 0; j < len; j++)
        mx = x[j * step] > mx ? x[j * step] : mx;
    if (p->rule == TSM_ORT)
        sm_span_ort(p, x, y, len, step, mx, tmp);
    else if (p->rule == TSM_TFLM)
        target_softmax_tflm_span(p, x, y, len, step, mx);
    else
        sm_span_tflite(p, x, y, len, step, mx);
}
