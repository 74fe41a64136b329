/* TSM_TFLM: TensorFlow Lite Micro's int8 Softmax (quant/target.h), all in int32 fixed
 * point. The facts come from tensorflow/tflite-micro: micro/kernels/softmax_common.cc
 * (CalculateSoftmaxParams: PreprocessSoftmaxScaling and CalculateInputRadius with 5 integer
 * bits), kernels/internal/reference/softmax.h (the int8 kernel), kernels/internal/common.h
 * (GetReciprocal, MultiplyByQuantizedMultiplierGreaterThanOne without
 * TFLITE_SINGLE_ROUNDING) and gemmlowp's fixedpoint/fixedpoint.h (exp_on_negative_values,
 * one_over_one_plus_x_for_x_in_0_1). docs/quantization.md ("Targets") states the rule;
 * scripts/fixtures/make_softmax_tflm.py is an independent integer model of it. */
#include <math.h>

#include "quant/target.h"

enum { SM_DIFF_BITS = 5, SM_ACCUM_BITS = 12 };

/* gemmlowp's int32 Add is a plain addition; the device's wraps, so wrap here too. */
static int32_t fx_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* SaturatingRoundingMultiplyByPOT with a positive exponent: x 2^e, saturated. */
static int32_t fx_sat_shl(int32_t x, int e)
{
    int32_t thr = (int32_t)((INT64_C(1) << (31 - e)) - 1);
    if (x > thr)
        return INT32_MAX;
    if (x < -thr)
        return INT32_MIN;
    return (int32_t)((uint32_t)x << e);
}

/* exp(a) for a Q0.31 a in [-1/4, 0): the Taylor expansion around -1/8. */
static int32_t fx_exp_quarter(int32_t a)
{
    const int32_t exp_m1_8 = 1895147668, third = 715827883;
    int32_t x = fx_add(a, INT32_C(1) << 28);
    int32_t x2 = quant_srdhm(x, x), x3 = quant_srdhm(x2, x), x4 = quant_srdhm(x2, x2);
    int32_t x4_4 = quant_rdivpot(x4, 2);
    int32_t poly = quant_rdivpot(fx_add(quant_srdhm(fx_add(x4_4, x3), third), x2), 1);
    return fx_add(exp_m1_8, quant_srdhm(exp_m1_8, fx_add(x, poly)));
}

int32_t target_softmax_tflm_exp(int32_t a)
{
    /* Q0.31 exp(-2^k) for k = -2 .. 4: one factor per bit of the whole quarters */
    static const int32_t factor[7] = { 1672461947, 1302514674, 790015084, 290630308,
                                       39332535, 720401, 242 };
    const int frac = 31 - SM_DIFF_BITS;      /* Q5.26 */
    const int32_t quarter = INT32_C(1) << (frac - 2);
    int32_t mod = (a & (quarter - 1)) - quarter;
    int32_t r = fx_exp_quarter(fx_sat_shl(mod, SM_DIFF_BITS));
    int32_t rem = (int32_t)((uint32_t)mod - (uint32_t)a);
    for (int k = 0; k < 7; k++)
        if (rem & (INT32_C(1) << (frac - 2 + k)))
            r = quant_srdhm(r, factor[k]);
    return a == 0 ? INT32_MAX : r;
}

/* 1 / (1 + a) for a Q0.31 a in [0, 1), as a Q0.31: three Newton-Raphson steps. */
static int32_t fx_one_over_one_plus(int32_t a)
{
    int64_t s = (int64_t)a + INT32_MAX;
    int32_t half = (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
    int32_t x = fx_add(1515870810, quant_srdhm(half, -1010580540));
    for (int i = 0; i < 3; i++) {
        int32_t one_minus = (int32_t)((INT32_C(1) << 29) - quant_srdhm(half, x));
        x = fx_add(x, fx_sat_shl(quant_srdhm(x, one_minus), 2));
    }
    return fx_sat_shl(x, 1);
}

void target_softmax_tflm_params(float s_in, int32_t *mult, int *lshift, int32_t *diff_min)
{
    /* PreprocessSoftmaxScaling with beta = 1: s_in 2^26 in double, capped at 2^31 - 1 */
    double real = (double)s_in * (double)(INT64_C(1) << (31 - SM_DIFF_BITS));
    double cap = (double)(INT64_C(1) << 31) - 1.0;
    Requant r = quant_requant_make_gemmlowp(real < cap ? real : cap);
    *mult = r.m0;
    /* TFLM refuses (TFLITE_CHECK) a multiplier <= 1, i.e. s_in <= 2^-26: no shift here */
    *lshift = -r.shift > 0 ? -r.shift : 0;
    /* CalculateInputRadius(5, lshift, 31): floor(31 2^26 / 2^lshift) */
    double radius = floor(31.0 * (double)(INT64_C(1) << (31 - SM_DIFF_BITS)) /
                          (double)(INT64_C(1) << *lshift));
    *diff_min = -(int32_t)radius;
}

/* The Q5.26 exp argument of a code at distance diff (<= 0) to the span's largest:
 * MultiplyByQuantizedMultiplierGreaterThanOne. diff >= diff_min keeps diff 2^lshift in
 * int32. */
static int32_t sm_scaled_diff(const TargetSoftmax *p, int32_t diff)
{
    return quant_srdhm((int32_t)((int64_t)diff * (INT64_C(1) << p->lshift)), p->mult);
}

void target_softmax_tflm_span(const TargetSoftmax *p, const int8_t *x, int8_t *y,
                              int64_t len, int64_t step, int32_t mx)
{
    int32_t sum = 0;                          /* Q12.19 */
    for (int64_t j = 0; j < len; j++) {
        int32_t d = (int32_t)x[j * step] - mx;
        if (d >= p->diff_min)
            sum = fx_add(sum, quant_rdivpot(target_softmax_tflm_exp(sm_scaled_diff(p, d)),
                                            SM_ACCUM_BITS)); /* Rescale<12> */
    }
    /* GetReciprocal: sum normalised to [1, 2), minus one, inverted; sum >= 2^19 (the
     * largest code's exp is 1) */
    int headroom = sum != 0 ? __builtin_clz((uint32_t)sum) : 31; /* 0 only if it wrapped */
    int over_unit = SM_ACCUM_BITS - headroom;
    int32_t scale = fx_one_over_one_plus(
        (int32_t)(((uint32_t)sum << headroom) - UINT32_C(0x80000000)));
    /* TFLM stops (TFLITE_CHECK) when the exponent passes 31: an exp sum of 512 or more */
    int e = over_unit + 31 - 8;
    e = e < 0 ? 0 : e > 31 ? 31 : e;
    for (int64_t j = 0; j < len; j++) {
        int32_t d = (int32_t)x[j * step] - mx;
        int32_t v = -128;
        if (d >= p->diff_min) {
            int32_t ex = target_softmax_tflm_exp(sm_scaled_diff(p, d));
            v = quant_rdivpot(quant_srdhm(scale, ex), e) - 128;
            v = v < -128 ? -128 : v > 127 ? 127 : v;
        }
        y[j * step] = (int8_t)v;
    }
}
