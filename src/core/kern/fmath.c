/* Elementary functions from + - * / alone (fmath.h says why). The methods are textbook:
 * exp: x = k ln2 + r, |r| <= ln2/2 (Cody-Waite, ln2 split so k ln2_hi is exact), then
 *      exp(r) by its Taylor series to r^13 (truncation below 2^-60), scaled by 2^k.
 * log: x = 2^e m, m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact), s = f / (2 + f):
 *      log(1 + f) = 2 atanh(s) = f - hfsq + s (hfsq + R), hfsq = f^2 / 2,
 *      R = 2 s^2/3 + 2 s^4/5 + ... (to s^22: |s| <= 0.172 puts the rest below 2^-60).
 * erf: for |x| < 2, erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!! (all
 *      terms positive, no cancellation); beyond, erfc(x) by its continued fraction
 *      exp(-x^2)/sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))), fixed depth.
 * tanh: (e - 1) / (e + 1) with e - 1 = expm1(2|x|) from its own series near 0.
 * Ldexp and frexp are exact, so libm's are used. */
#include "kern/fmath.h"

#include <math.h>
#include <stdbool.h>

#define LN2_HI 0x1.62e42fee00000p-1 /* ln 2 to 32 bits: k * LN2_HI is exact */
#define LN2_LO 0x1.a39ef35793c76p-33 /* ln 2 - LN2_HI */
#define LOG2E 0x1.71547652b82fep+0
#define INV_SQRT_PI 0x1.20dd750429b6dp-1
#define TWO_INV_SQRT_PI 0x1.20dd750429b6dp+0
#define PI_D 0x1.921fb54442d18p+1
#define ROUND_MAGIC 0x1.8p52 /* adding and subtracting it rounds |v| < 2^51 to an integer */
#define ERF_SPLIT 2.0         /* below: the series; from here on: the continued fraction */
#define ERFC_CF_DEPTH 50      /* error below 2^-50 at x = 2 (test_fmath measures it) */

/* 1 / n!, n = 0 .. 13. */
static const double inv_fact[14] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0,
};

/* sum_{n=from}^{13} r^(n-from) / n!, by Horner. */
static double exp_taylor(double r, int from)
{
    double q = inv_fact[13];
    for (int n = 12; n >= from; n--)
        q = inv_fact[n] + r * q;
    return q;
}

double fm_exp(double x)
{
    if (x != x)
        return x + x;
    if (x > 710.0)
        return HUGE_VAL;
    if (x < -746.0)
        return 0.0;
    double kd = (x * LOG2E + ROUND_MAGIC) - ROUND_MAGIC;
    double r = (x - kd * LN2_HI) - kd * LN2_LO;
    return ldexp(1.0 + r * exp_taylor(r, 1), (int)kd);
}

double fm_exp2(double x)
{
    if (x != x)
        return x + x;
    if (x > 1025.0)
        return HUGE_VAL;
    if (x < -1076.0)
        return 0.0;
    double kd = (x + ROUND_MAGIC) - ROUND_MAGIC, f = x - kd; /* exact, |f| <= 1/2 */
    double r = f * LN2_HI + f * LN2_LO;
    return ldexp(1.0 + r * exp_taylor(r, 1), (int)kd);
}

/* expm1 for y >= 0: its own series where exp(y) - 1 would cancel. */
static double expm1_pos(double y)
{
    if (y < 0.5 * LN2_HI)
        return y * exp_taylor(y, 1);
    return fm_exp(y) - 1.0;
}

double fm_log(double x)
{
    if (x != x)
        return x + x;
    if (x < 0.0)
        return NAN;
    if (x == 0.0)
        return -HUGE_VAL;
    if (x == HUGE_VAL)
        return x;
    int e;
    double m = frexp(x, &e); /* exact; m in [0.5, 1) */
    if (m < 0x1.6a09e667f3bcdp-1) { /* sqrt(1/2) */
        m *= 2.0;
        e--;
    }
    double f = m - 1.0, s = f / (2.0 + f), z = s * s, hfsq = 0.5 * f * f;
    double R = 2.0 / 23;
    for (int d = 21; d >= 3; d -= 2)
        R = 2.0 / d + z * R;
    R *= z;
    double ed = (double)e;
    return ed * LN2_HI + (f - (hfsq - (s * (hfsq + R) + ed * LN2_LO)));
}

/* Kahan's log1p: log(u) x / (u - 1), u = 1 + x rounded, cancels u's rounding error. */
double fm_log1p(double x)
{
    if (x != x)
        return x + x;
    if (x > 0x1p53)
        return fm_log(x);
    double u = 1.0 + x;
    if (u == 1.0)
        return x;
    return fm_log(u) * (x / (u - 1.0));
}

/* Double-double products (Dekker: Veltkamp's split into 26-bit halves makes every partial
 * product exact), so binary powering keeps ~100 bits and x^n is nearly always correctly
 * rounded; exact powers stay exact. */
static void split26(double a, double *hi, double *lo)
{
    double t = 134217729.0 * a; /* 2^27 + 1 */
    *hi = t - (t - a);
    *lo = a - *hi;
}

/* a b - RN(a b), exactly (p = RN(a b) given). */
static double prod_error(double a, double b, double p)
{
    double a1, a2, b1, b2;
    split26(a, &a1, &a2);
    split26(b, &b1, &b2);
    return ((a1 * b1 - p) + a1 * b2 + a2 * b1) + a2 * b2;
}

/* Exact only while no partial product overflows or underflows: elsewhere (a result near
 * overflow or underflow anyway) the step is a plain product. */
static bool dd_safe(double a, double b)
{
    double p = fabs(a * b);
    return p > 0x1p-960 && p < 0x1p1000 && fabs(a) < 0x1p990 && fabs(b) < 0x1p990;
}

static void pow_step(double *hi, double *lo, double bh, double bl)
{
    double ah = *hi, p = ah * bh;
    if (!dd_safe(ah, bh)) {
        *hi = p;
        *lo = 0.0;
        return;
    }
    double e = prod_error(ah, bh, p) + (ah * bl + *lo * bh);
    *hi = p + e;
    *lo = e - (*hi - p);
}

double fm_powi(double x, int64_t n)
{
    uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    double rh = 1.0, rl = 0.0, bh = x, bl = 0.0;
    for (; u; u >>= 1) {
        if (u & 1)
            pow_step(&rh, &rl, bh, bl);
        if (u > 1)
            pow_step(&bh, &bl, bh, bl);
    }
    if (n >= 0)
        return rh;
    double q = 1.0 / rh;
    if (!dd_safe(q, rh))
        return q;
    /* One Newton step on 1 / (rh + rl): the residual 1 - q (rh + rl), with q rh exact. */
    double p = q * rh;
    return q + q * (((1.0 - p) - prod_error(q, rh, p)) - q * rl);
}

/* cos(a) and sin(a) for |a| <= pi/4 by their Taylor series to a^18 and a^19. */
static double cos_small(double a)
{
    double z = a * a, q = 0.0;
    for (int n = 18; n >= 2; n -= 2) {
        double c = 1.0;
        for (int k = 2; k <= n; k++)
            c /= k;
        q = (n % 4 == 0 ? c : -c) + z * q;
    }
    return 1.0 + z * q;
}

static double sin_small(double a)
{
    double z = a * a, q = 0.0;
    for (int n = 19; n >= 3; n -= 2) {
        double c = 1.0;
        for (int k = 2; k <= n; k++)
            c /= k;
        q = (n % 4 == 1 ? c : -c) + z * q;
    }
    return a + a * (z * q);
}

double fm_cospi(double x)
{
    if (x != x || x == HUGE_VAL || x == -HUGE_VAL)
        return NAN;
    double t = fabs(x);
    t -= 2.0 * floor(0.5 * t); /* exact: [0, 2) */
    if (t > 1.0)
        t = 2.0 - t;
    double sign = 1.0;
    if (t > 0.5) {
        t = 1.0 - t;
        sign = -1.0;
    }
    if (t == 0.5)
        return 0.0;
    return sign * (t <= 0.25 ? cos_small(PI_D * t) : sin_small(PI_D * (0.5 - t)));
}

/* erf(x) for 0 <= x < ERF_SPLIT by the positive series; the loop ends once a term no
 * longer changes the sum (at most ~40 terms at x = 2). */
static double erf_series(double x)
{
    double z2 = 2.0 * x * x, term = x, sum = x;
    for (int n = 0; n < 200 && term > sum * 0x1p-56; n++) {
        term *= z2 / (2 * n + 3);
        sum += term;
    }
    return TWO_INV_SQRT_PI * fm_exp(-x * x) * sum;
}

/* erfc(x) for x >= ERF_SPLIT by the continued fraction, evaluated from its tail. */
static double erfc_fraction(double x)
{
    double t = x;
    for (int k = ERFC_CF_DEPTH; k >= 1; k--)
        t = x + (0.5 * k) / t;
    return INV_SQRT_PI * fm_exp(-x * x) / t;
}

float fm_expf(float x)
{
    if (x != x)
        return x + x;
    if (x > 100.0f)
        return HUGE_VALF;
    if (x < -110.0f)
        return 0.0f;
    return (float)fm_exp(x);
}

float fm_logf(float x)
{
    return (float)fm_log(x);
}

float fm_tanhf(float x)
{
    if (x != x)
        return x + x;
    double a = fabs((double)x);
    if (a > 10.0)
        return copysignf(1.0f, x);
    double em = expm1_pos(2.0 * a);
    return copysignf((float)(em / (em + 2.0)), x);
}

float fm_erff(float x)
{
    if (x != x)
        return x + x;
    double a = fabs((double)x);
    return copysignf((float)(a < ERF_SPLIT ? erf_series(a) : 1.0 - erfc_fraction(a)), x);
}

/* erfc(-a) = 2 - erfc(a): no cancellation on either side. */
float fm_erfcf(float x)
{
    if (x != x)
        return x + x;
    double a = fabs((double)x);
    double c = a < ERF_SPLIT ? 1.0 - erf_series(a) : erfc_fraction(a);
    return (float)(x < 0.0f ? 2.0 - c : c);
}
