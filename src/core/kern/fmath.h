/* qscope's own elementary functions, the ones every op, loss and optimizer calls instead of
 * libm's. glibc picks its exp, log, pow, sin, ... per CPU at run time (FMA variants), and
 * those are not correctly rounded, so the same call can give different bits on two
 * x86-64 machines. These use only IEEE + - * / (correctly rounded, no fma, the build has
 * -ffp-contract=off) in a fixed order, so they give the same bits everywhere
 * (docs/reproducibility.md).
 *
 * The float functions compute in double and round once, so they are nearly always
 * correctly rounded; tests/unit/test_fmath.c measures every function against a
 * higher-precision reference over a dense sweep and bounds its error in ULPs (the measured
 * figures are in docs/reproducibility.md). Specials follow C99 Annex F: NaN in gives NaN,
 * +-inf and overflow/underflow give the limit (exp(+inf) = inf, exp(-inf) = 0, log(0) =
 * -inf, log(x < 0) = NaN, tanh(+-inf) = +-1, erf(+-inf) = +-1), and -0 stays -0 where the
 * function is odd. sqrt, fabs, floor and friends are exact in IEEE and stay libm's; every
 * other libm elementary function is kept out of src/ by tests/scripts/libm_calls.sh. */
#ifndef QS_FMATH_H
#define QS_FMATH_H

#include <stdint.h>

/* float: computed in double, one rounding at the end. */
float fm_expf(float x);
float fm_logf(float x);
float fm_tanhf(float x);
float fm_erff(float x);
float fm_erfcf(float x);
/* C99 powf, special cases included (pow(x, 0) = 1, negative x only to integer powers). */
float fm_powf(float x, float y);

/* double: within a few ULPs (test_fmath states the bound). */
double fm_exp(double x);
double fm_exp2(double x);
double fm_log(double x);
/* log(1 + x), accurate for small x. */
double fm_log1p(double x);
/* C99 pow, as exp(y log x): the rounding of y log x costs up to 2 + 3 |y log x| ulps
 * (test_fmath), so prefer fm_powi for integer powers. */
double fm_pow(double x, double y);
/* x^n for an integer n (Adam's bias corrections, step decay), by binary powering in
 * double-double: exact powers stay exact, the others round correctly but for rare cases. */
double fm_powi(double x, int64_t n);
/* log base 10, as log(x) / ln 10 (SQNRs in dB). */
double fm_log10(double x);
/* cos(pi x), the cosine schedule's curve; exact at multiples of 1/2. */
double fm_cospi(double x);
/* sin and cos in radians (the synthetic data's waves and rotations). Within an ulp for
 * |x| <= 2^20 (test_fmath), where the reduction by pi/2 is exact; beyond, x is reduced
 * modulo the double nearest 2 pi first, so the result keeps the same bits on every machine
 * and stays in [-1, 1] but loses accuracy as |x| grows (arguments in qscope stay below a
 * few hundred radians). sin keeps -0. */
double fm_sin(double x);
double fm_cos(double x);

#endif
