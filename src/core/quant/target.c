/* The target table and the per-target parameters of requantization, Add and mean. Each
 * rule follows the runtime's source file named beside it in docs/quantization.md
 * ("Targets"); tests/unit/test_target.c checks them on hand-worked cases. */
#include "quant/target.h"

#include <math.h>
#include <string.h>

const QTargetDef target_table[QTGT_COUNT] = {
    [QTGT_QSCOPE] = { .name = "qscope", .runtime = "qscope's own arithmetic (one rounding, "
                      "ties to even)", .requant = QRQ_Q31_EVEN, .add = TADD_EXACT,
                      .avgpool = TAVG_REQUANT, .mean = TMEAN_REQUANT, .concat = TCAT_REQUANT },
    [QTGT_XNNPACK] = { .name = "xnnpack", .runtime = "LiteRT / TFLite with its default "
                       "XNNPACK delegate (phones, desktops, LiteRT.js)", .requant = QRQ_FP32,
                       .add = TADD_XNNPACK, .avgpool = TAVG_TFLITE, .mean = TMEAN_XNNPACK,
                       .concat = TCAT_REQUANT, .clamp = TCLAMP_XNNPACK, .tie_concat = true,
                       .tie_avgpool = true, .fixed_prob_out = true,
                       .fixed_softmax_out = true, .softmax = TSM_TFLITE, .dyn = TDYN_XNNPACK,
                       .dyn_dw = TDYN_TFLITE },
    [QTGT_TFLM] = { .name = "tflm", .runtime = "TensorFlow Lite Micro, the TFLite reference "
                    "kernels, esp-nn", .requant = QRQ_GEMMLOWP, .add = TADD_TFLITE,
                    .avgpool = TAVG_TFLITE, .mean = TMEAN_TFLITE, .concat = TCAT_REQUANT,
                    .clamp = TCLAMP_TFLITE, .tie_concat = true, .tie_avgpool = true,
                    .fixed_prob_out = true, .fixed_softmax_out = true, .softmax = TSM_TFLM,
                    .dyn = TDYN_TFLITE, .dyn_dw = TDYN_TFLITE },
    [QTGT_ORT] = { .name = "ort", .runtime = "ONNX Runtime (CPU, QDQ fused into QLinear "
                   "kernels)", .requant = QRQ_FP32, .add = TADD_ORT, .avgpool = TAVG_ORT,
                   .mean = TMEAN_ORT, .concat = TCAT_DQ_Q, .fixed_softmax_out = true,
                   .softmax = TSM_ORT, .mul = TMUL_ORT, .ort_graph = true },
};

int target_find(const char *name)
{
    for (int i = 0; i < QTGT_COUNT; i++)
        if (strcmp(target_table[i].name, name) == 0)
            return i;
    return -1;
}

const QTargetDef *target_of(int target)
{
    return &target_table[target >= 0 && target < QTGT_COUNT ? target : QTGT_QSCOPE];
}

/* The code of the real value v on grid p as t's runtime computes an activation bound. */
static int64_t target_clamp_code(const QTargetDef *t, float v, const QParams *p)
{
    switch (t->clamp) {
    case TCLAMP_XNNPACK: { /* requantization.h xnn_qs8_quantize */
        float f = v / p->scale + (float)p->zero_point;
        f = f > -128.0f ? f : -128.0f;
        f = f < 127.0f ? f : 127.0f;
        return lrintf(f);
    }
    case TCLAMP_TFLITE: { /* kernel_util.cc CalculateActivationRangeQuantizedImpl */
        double r = round((double)(v / p->scale)); /* TfLiteRound: ties away from zero */
        r = r != r ? 0.0 : r < -2147483648.0 ? -2147483648.0 : r > 2147483647.0 ? 2147483647.0 : r;
        return (int64_t)p->zero_point + (int64_t)r;
    }
    default:
        return quant_q(v, p);
    }
}

void target_clamp(const QTargetDef *t, const QParams *p, float fl, float fh, int32_t *lo,
                  int32_t *hi)
{
    int64_t ql = target_clamp_code(t, fl, p), qh = target_clamp_code(t, fh, p);
    *lo = (int32_t)(ql > p->qmin ? ql : p->qmin);
    *hi = (int32_t)(qh < p->qmax ? qh : p->qmax);
}

QParams target_prob_qparams(int32_t qmin, int32_t qmax)
{
    return (QParams){ .scale = 1.0f / 256.0f, .zero_point = qmin, .qmin = qmin, .qmax = qmax };
}

static QsStatus target_range_fail(const char *what, double m, QsError *err)
{
    return qs_fail(err, QS_EINVAL, "%s: requantization multiplier %g is out of range", what, m);
}

QsStatus target_requant_ratio(const QTargetDef *t, double m, float fm, Requant *r,
                              const char *what, QsError *err)
{
    if (!(m > 0.0) || !(m < 2147483648.0))
        return target_range_fail(what, m, err);
    switch (t->requant) {
    case QRQ_GEMMLOWP:
        *r = quant_requant_make_gemmlowp(m);
        break;
    case QRQ_FP32:
        if (!(fm > 0.0f) || !isfinite(fm))
            return target_range_fail(what, m, err);
        *r = quant_requant_make_fp32(fm);
        break;
    default:
        *r = quant_requant_make(m);
        break;
    }
    return QS_OK;
}

QsStatus target_requant_linear(const QTargetDef *t, float s_in, float s_w, float s_out,
                               Requant *r, const char *what, QsError *err)
{
    /* TFLite: double (s_in * s_w) / s_out (kernel_util.cc); XNNPACK and ONNX Runtime: the
     * same expression in float32 (convolution-nhwc.c, qlinearconv.cc) */
    double m = (double)s_in * (double)s_w / (double)s_out;
    float fm = s_in * s_w / s_out;
    if (t == &target_table[QTGT_XNNPACK] && fm >= 256.0f)
        return qs_fail(err, QS_EINVAL, "%s: XNNPACK refuses a requantization scale of %g "
                       "(>= 256)", what, (double)fm);
    return target_requant_ratio(t, m, fm, r, what, err);
}

/* ---- int8-dyn activations ------------------------------------------------------------ */

/* tensorflow/lite/kernels/internal/reference/portable_tensor_utils.cc
 * PortableAsymmetricQuantizeFloats: the range with 0, its scale and nudged zero point in
 * double (the zero point from the end with the smaller error, rounded half away) */
static void target_dyn_tflite(float lo, float hi, TargetDyn *d)
{
    const double qmin = -128.0, qmax = 127.0;
    double rmin = lo < 0.0f ? lo : 0.0, rmax = hi > 0.0f ? hi : 0.0;
    d->rule = TDYN_TFLITE;
    d->qp = (QParams){ .scale = 1.0f, .zero_point = 0, .qmin = -128, .qmax = 127 };
    d->scale = 1.0f;
    d->inv = 0.0f; /* an all-zero range quantizes to zeros */
    if (rmin == rmax)
        return;
    double scale = (rmax - rmin) / (qmax - qmin);
    double zmin = qmin - rmin / scale, zmax = qmax - rmax / scale;
    double emin = fabs(qmin) + fabs(rmin / scale), emax = fabs(qmax) + fabs(rmax / scale);
    double z = emin < emax ? zmin : zmax;
    d->qp.zero_point = z <= qmin ? -128 : z >= qmax ? 127 : (int32_t)round(z);
    d->scale = (float)scale;
    d->qp.scale = d->scale;
    d->inv = 1.0f / d->scale;
}

void target_dyn_params(TargetDynRule rule, const float *x, int64_t n, int bits, TargetDyn *d)
{
    float lo, hi;
    quant_finite_range(x, n, &lo, &hi);
    memset(d, 0, sizeof *d);
    if (rule == TDYN_TFLITE && bits == 8) {
        target_dyn_tflite(lo, hi, d);
        return;
    }
    if (rule != TDYN_XNNPACK || bits != 8) {
        d->rule = TDYN_SAMPLE;
        d->qp = quant_params(lo, hi, bits, false);
        d->scale = d->qp.scale;
        return;
    }
    /* google/XNNPACK src/xnnpack/quantization.h xnn_qd8_asymmetric_quantization_params and
     * src/operators: xnn_compute_f32_qd8_convert */
    const float qmin = -128.0f, qmax = 127.0f;
    float rmin = lo < 0.0f ? lo : 0.0f, rmax = hi > 0.0f ? hi : 0.0f;
    float inv = rmin == rmax ? 1.0f : (qmax - qmin) / (rmax - rmin);
    float dmin = rmin * inv, dmax = rmax * inv;
    float zp = (qmin + dmin) + (qmax + dmax) > 0.0f ? qmin - dmin : qmax - dmax;
    zp = zp > qmin ? zp : qmin;
    zp = zp < qmax ? zp : qmax;
    d->rule = TDYN_XNNPACK;
    d->qp = (QParams){ .zero_point = (int32_t)lrintf(zp), .qmin = -128, .qmax = 127 };
    d->scale = 1.0f / inv; /* what the qd8 GEMM multiplies the sum by */
    /* The convert multiplies by inv itself (as in the LiteRT 2.5.3 build the peer test runs:
     * 1 / scale, which some XNNPACK versions use instead, can differ from inv by an ulp and
     * flipped a code in one of 1000 MNIST rows) */
    d->inv = inv;
    d->qp.scale = d->scale;
}

void target_dyn_quantize(const TargetDyn *d, const float *x, int64_t n, int8_t *q)
{
    if (d->rule == TDYN_TFLITE) {
        for (int64_t i = 0; i < n; i++) {
            float v = roundf((float)d->qp.zero_point + x[i] * d->inv); /* TfLiteRound */
            v = v > -128.0f ? v : -128.0f; /* NaN takes -128 */
            q[i] = (int8_t)(v < 127.0f ? v : 127.0f);
        }
        return;
    }
    if (d->rule != TDYN_XNNPACK) {
        quant_array_i8(x, n, &d->qp, q);
        return;
    }
    /* f32-qs8-vcvt: x inv clamped to [qmin - z, qmax - z] in float, rounded to nearest even
     * (the magic-bias add), then z */
    const float lo = (float)(d->qp.qmin - d->qp.zero_point);
    const float hi = (float)(d->qp.qmax - d->qp.zero_point);
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] * d->inv;
        v = v > lo ? v : lo; /* NaN takes lo */
        v = v < hi ? v : hi;
        q[i] = (int8_t)((int32_t)lrintf(v) + d->qp.zero_point);
    }
}

/* ---- Add ------------------------------------------------------------------------------ */

static QsStatus target_add_exact(TargetAdd *p, const QParams *a, const QParams *b,
                                 const QParams *o, const char *what, QsError *err)
{
    double so = o->scale, r0 = a->scale / so, r1 = b->scale / so;
    double rmax = r0 > r1 ? r0 : r1;
    if (!(rmax < 0x1p40))
        return qs_fail(err, QS_EINVAL, "%s: input/output scale ratio %g is out of range", what,
                       rmax);
    int e;
    frexp(rmax, &e); /* rmax < 2^e */
    int shift = 30 - e;
    shift = shift < 0 ? 0 : shift > 62 ? 62 : shift;
    p->shift = shift;
    /* r * 2^shift < 2^40: below 2^30 once shifted, and rmax < 2^40 when shift is 0 */
    p->mult[0] = fconv_round(ldexp(r0, shift), 0, INT64_C(1) << 40, NULL);
    p->mult[1] = fconv_round(ldexp(r1, shift), 0, INT64_C(1) << 40, NULL);
    return QS_OK;
}

/* TFLite add_common.cc / reference_integer_ops/add.h: left shift 20 for int8 */
static QsStatus target_add_tflite(TargetAdd *p, const QParams *a, const QParams *b,
                                  const QParams *o, const char *what, QsError *err)
{
    double twice_max = 2.0 * (double)(a->scale > b->scale ? a->scale : b->scale);
    double m_out = twice_max / ((double)(1 << 20) * (double)o->scale);
    if (!(m_out < 1.0))
        return qs_fail(err, QS_EINVAL, "%s: TFLite's ADD needs s_out > 2 max(s_a, s_b) / 2^20 "
                       "(output multiplier %g)", what, m_out);
    p->in[0] = quant_requant_make_gemmlowp((double)a->scale / twice_max);
    p->in[1] = quant_requant_make_gemmlowp((double)b->scale / twice_max);
    p->out = quant_requant_make_gemmlowp(m_out);
    return QS_OK;
}

/* XNNPACK microparams-init.c, xnn_init_qs8_add_minmax_scalar_params; false when XNNPACK
 * refuses the ratios */
static bool target_add_xnnpack(TargetAdd *p, const QParams *a, const QParams *b,
                               const QParams *o)
{
    float ra = a->scale / o->scale, rb = b->scale / o->scale;
    float rmax = ra > rb ? ra : rb;
    if (!(ra >= 0x1p-10f && rb >= 0x1p-10f && rmax < 0x1p8f))
        return false;
    int e;
    frexpf(rmax, &e); /* rmax = f 2^e, f in [0.5, 1): the biased exponent's value is e - 1 */
    int shift = 20 - (e - 1);
    p->shift = shift;
    /* ratio * 2^shift is exact in float; lrintf rounds it to nearest, ties to even */
    p->xm[0] = (int32_t)lrintf(ldexpf(ra, shift));
    p->xm[1] = (int32_t)lrintf(ldexpf(rb, shift));
    p->xbias = (INT32_C(1) << (shift - 1)) - p->xm[0] * a->zero_point - p->xm[1] * b->zero_point;
    return true;
}

QsStatus target_add_make(const QTargetDef *t, const QParams *a, const QParams *b,
                         const QParams *o, TargetAdd *p, const char *what, QsError *err)
{
    memset(p, 0, sizeof *p);
    p->rule = t->add;
    p->za = a->zero_point;
    p->zb = b->zero_point;
    p->zo = o->zero_point;
    p->lo = o->qmin;
    p->hi = o->qmax;
    switch (t->add) {
    case TADD_XNNPACK:
        if (target_add_xnnpack(p, a, b, o))
            return QS_OK;
        p->rule = TADD_TFLITE; /* LiteRT runs TFLite's builtin ADD on what XNNPACK refuses */
        return target_add_tflite(p, a, b, o, what, err);
    case TADD_TFLITE:
        return target_add_tflite(p, a, b, o, what, err);
    case TADD_ORT:
        /* qladd_avx2.cpp: the fixed part in plain float arithmetic */
        p->ratio[0] = a->scale / o->scale;
        p->ratio[1] = b->scale / o->scale;
        p->fixed = (float)o->zero_point - (p->ratio[0] * (float)a->zero_point +
                                           p->ratio[1] * (float)b->zero_point);
        return QS_OK;
    default:
        return target_add_exact(p, a, b, o, what, err);
    }
}

static inline int32_t target_clamp64(int64_t v, int32_t lo, int32_t hi)
{
    return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

int32_t target_add_apply(const TargetAdd *p, int32_t a, int32_t b)
{
    switch (p->rule) {
    case TADD_TFLITE: {
        int32_t sa = quant_mul_gemmlowp((a - p->za) * (1 << 20), p->in[0].m0, -p->in[0].shift);
        int32_t sb = quant_mul_gemmlowp((b - p->zb) * (1 << 20), p->in[1].m0, -p->in[1].shift);
        int64_t v = (int64_t)quant_mul_gemmlowp(sa + sb, p->out.m0, -p->out.shift) + p->zo;
        return target_clamp64(v, p->lo, p->hi);
    }
    case TADD_XNNPACK: {
        int32_t acc = p->xbias + a * p->xm[0] + b * p->xm[1];
        return target_clamp64((int64_t)(acc >> p->shift) + p->zo, p->lo, p->hi);
    }
    case TADD_ORT: {
        float v = fmaf((float)b, p->ratio[1], p->fixed);
        v = fmaf((float)a, p->ratio[0], v);
        /* cvtps2dq (ties to even), then saturating packs to int8 */
        return quant_round_fp32(v, p->lo, p->hi);
    }
    default: {
        int64_t acc = p->mult[0] * ((int64_t)a - p->za) + p->mult[1] * ((int64_t)b - p->zb);
        return target_clamp64((int64_t)p->zo + quant_rshift_even(acc, p->shift), p->lo, p->hi);
    }
    }
}

/* ---- mean ----------------------------------------------------------------------------- */

QsStatus target_mean_make(const QTargetDef *t, const QParams *in, const QParams *out,
                          int64_t n, TargetMean *p, const char *what, QsError *err)
{
    memset(p, 0, sizeof *p);
    p->rule = t->mean;
    p->n = n;
    p->zi = in->zero_point;
    p->zo = out->zero_point;
    p->lo = out->qmin;
    p->hi = out->qmax;
    double m = (double)in->scale / ((double)n * (double)out->scale);
    switch (t->mean) {
    case TMEAN_TFLITE: {
        /* reduce_common.cc / reference reduce.h: the multiplier of s_in / s_out, then
         * m0' = (m0 << k) / n and shift - k, k = floor(log2 n) capped at 32 and 31 + shift */
        Requant r = quant_requant_make_gemmlowp((double)in->scale / (double)out->scale);
        int tshift = -r.shift, k = 0;
        while (k < 62 && (INT64_C(2) << k) <= n)
            k++;
        k = k < 32 ? k : 32;
        k = k < 31 + tshift ? k : 31 + tshift;
        p->rq = r;
        p->rq.m0 = (int32_t)(((int64_t)r.m0 << k) / n);
        p->rq.shift = -(tshift - k);
        return QS_OK;
    }
    case TMEAN_XNNPACK:
        /* reduce-nd.c and microparams-init.c: float (s_in / s_out) * (1 / n); the zero
         * point z_out - (n z_in) scale in float; the sum of raw codes */
        p->scale = (in->scale / out->scale) * (1.0f / (float)n);
        p->zfix = (float)out->zero_point - (float)(int32_t)(n * in->zero_point) * p->scale;
        return QS_OK;
    case TMEAN_ORT:
        /* qlgavgpool.cpp: s_in / (s_out * n) in float, applied to sum - n z_in */
        p->scale = in->scale / (out->scale * (float)n);
        p->rq = quant_requant_make_fp32(p->scale);
        return QS_OK;
    default:
        return target_requant_ratio(t, m, (float)m, &p->rq, what, err);
    }
}

int32_t target_mean_apply(const TargetMean *p, int32_t raw_sum)
{
    int32_t acc = raw_sum - p->zi * (int32_t)p->n;
    switch (p->rule) {
    case TMEAN_TFLITE:
        return target_clamp64((int64_t)quant_mul_gemmlowp(acc, p->rq.m0, -p->rq.shift) + p->zo,
                              p->lo, p->hi);
    case TMEAN_XNNPACK:
        return quant_round_fp32((float)raw_sum * p->scale + p->zfix, p->lo, p->hi);
    default: /* TMEAN_REQUANT, TMEAN_ORT */
        return quant_requant_rule(acc, &p->rq, p->zo, p->lo, p->hi);
    }
}

/* ---- average pool ----------------------------------------------------------------------- */

int32_t target_avg_tflite(int32_t raw_sum, int32_t count)
{
    /* integer division truncates toward zero: ties go away from zero */
    return raw_sum > 0 ? (raw_sum + count / 2) / count : (raw_sum - count / 2) / count;
}

int32_t target_avg_ort(float avg, float s_out, int32_t z_out, int32_t lo, int32_t hi)
{
    /* qlinear_pool.cc quantize_value: nearbyintf(y / y_scale + y_zero_point), clamped */
    return quant_round_fp32(avg / s_out + (float)z_out, lo, hi);
}
