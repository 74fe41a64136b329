/* qscope's own elementary functions (src/core/kern/fmath.c): their error in ULPs over a
 * dense sweep against a more precise reference, and their special values.
 *
 * References: the float functions against glibc's double functions (error below 1e-15
 * relative, far under a float ULP's 6e-8); the double functions against glibc's long
 * double ones (64-bit significand, 2^-11 of a double ULP). The sweeps step through the
 * IEEE bit patterns of the range, so every binade gets the same density. The bounds are
 * the measured maxima (printed, docs/reproducibility.md) rounded up; a float function
 * within 1 ULP is faithfully rounded. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kern/fmath.h"
#include "test_util.h"

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* |got - ref| in ULPs of the format at ref (mantissa bits p, smallest exponent emin). */
static double ulps(long double got, long double ref, int p, int emin)
{
    if (ref == 0.0L)
        return got == 0.0L ? 0.0 : INFINITY;
    int e;
    frexpl(ref, &e);
    int ue = (e - 1 < emin ? emin : e - 1) - (p - 1);
    return (double)(fabsl(got - ref) / ldexpl(1.0L, ue));
}

typedef float (*FloatFn)(float);
typedef double (*DoubleRef)(double);

/* Max ULP error of f against ref over the floats from lo up to hi (same sign, |lo| <=
 * |hi|), stepping `step` bit patterns. */
static double sweep_f(FloatFn f, DoubleRef ref, float lo, float hi, uint32_t step, float *worst)
{
    double max = 0.0;
    uint32_t a = f2u(lo), b = f2u(hi);
    for (uint64_t u = a; u <= b; u += step) {
        float x = u2f((uint32_t)u);
        double e = ulps(f(x), ref(x), 24, -126);
        if (e > max) {
            max = e;
            *worst = x;
        }
    }
    return max;
}

static void check_f(const char *name, FloatFn f, DoubleRef ref, float lo, float hi,
                    double bound)
{
    float w1 = 0.0f, w2 = 0.0f;
    double m = 0.0;
    if (lo < 0.0f) {
        m = sweep_f(f, ref, -0.0f, lo, 97, &w1);
        lo = 0.0f;
    }
    double m2 = sweep_f(f, ref, lo, hi, 97, &w2);
    if (m2 > m) {
        m = m2;
        w1 = w2;
    }
    printf("  %-10s max error %.4f ulp (at %.9g)\n", name, m, w1);
    char label[64];
    snprintf(label, sizeof label, "%s within %.2f ulp", name, bound);
    test_check(m <= bound, __FILE__, __LINE__, label);
}

typedef double (*DoubleFn)(double);
typedef long double (*LongRef)(long double);

static double sweep_d(DoubleFn f, LongRef ref, double lo, double hi, uint64_t count,
                      double *worst)
{
    double max = 0.0;
    uint64_t a = d2u(lo), b = d2u(hi), step = (b - a) / count | 1;
    for (uint64_t u = a; u <= b; u += step) {
        double x = u2d(u);
        double e = ulps(f(x), ref(x), 53, -1022);
        if (e > max) {
            max = e;
            *worst = x;
        }
    }
    return max;
}

static void check_d(const char *name, DoubleFn f, LongRef ref, double lo, double hi,
                    double bound)
{
    double w1 = 0.0, w2 = 0.0, m = 0.0;
    if (lo < 0.0) {
        m = sweep_d(f, ref, -0.0, lo, 2000000, &w1);
        lo = 0.0;
    }
    double m2 = sweep_d(f, ref, lo, hi, 2000000, &w2);
    if (m2 > m) {
        m = m2;
        w1 = w2;
    }
    printf("  %-10s max error %.4f ulp (at %.17g)\n", name, m, w1);
    char label[64];
    snprintf(label, sizeof label, "%s within %.2f ulp", name, bound);
    test_check(m <= bound, __FILE__, __LINE__, label);
}

static double ref_log(double x) { return log(x); }
static double ref_exp(double x) { return exp(x); }
static double ref_tanh(double x) { return tanh(x); }
static double ref_erf(double x) { return erf(x); }
static double ref_erfc(double x) { return erfc(x); }
static long double ref_expl(long double x) { return expl(x); }
static long double ref_exp2l(long double x) { return exp2l(x); }
static long double ref_logl(long double x) { return logl(x); }
static long double ref_log1pl(long double x) { return log1pl(x); }
static long double ref_log10l(long double x) { return log10l(x); }
static long double ref_sinl(long double x) { return sinl(x); }
static long double ref_cosl(long double x) { return cosl(x); }
/* cos(pi x) with the argument reduced exactly first, so that near the zeros the reference
 * keeps its relative accuracy (cosl(pi x) would not: pi x is rounded). */
static long double ref_cospil(long double x)
{
    long double t = fmodl(fabsl(x), 2.0L), s = 1.0L;
    if (t > 1.0L)
        t = 2.0L - t;
    if (t > 0.5L) {
        t = 1.0L - t;
        s = -1.0L;
    }
    return s * sinl(3.14159265358979323846264338327950288L * (0.5L - t));
}

/* x^n for n = 1 .. nmax (every `step`-th) and its reciprocal power, against powl. */
static void check_powi(double x, int64_t nmax, int64_t step, double bound)
{
    double max = 0.0;
    int64_t worst = 0;
    for (int64_t n = 1; n <= nmax; n += step) {
        double e = ulps(fm_powi(x, n), powl(x, (long double)n), 53, -1022);
        double e2 = ulps(fm_powi(x, -n), powl(x, (long double)-n), 53, -1022);
        e = e2 > e ? e2 : e;
        if (e > max) {
            max = e;
            worst = n;
        }
    }
    printf("  %g^n      max error %.4f ulp (at n = %lld)\n", x, max, (long long)worst);
    char label[64];
    snprintf(label, sizeof label, "%g^n within %.2f ulp", x, bound);
    test_check(max <= bound, __FILE__, __LINE__, label);
}

/* powf and pow on a grid of bases in (0, 16] and exponents in [-24, 24] where the float
 * result is normal, and negative bases to integer powers. pow's error grows with the
 * rounding of y log x: its bound is 2 + 3 |y log x| ulps (measured: the worst ratio). */
static void check_pow(void)
{
    double maxf = 0.0, ratio = 0.0;
    for (int i = 1; i <= 1600; i++) {
        for (int j = -240; j <= 240; j++) {
            float x = (float)i / 100.0f + (float)j * 1e-5f, y = (float)j / 10.0f + 0.0123f;
            double want = pow((double)x, (double)y);
            if (!(want >= FLT_MIN && want <= FLT_MAX))
                continue;
            double ef = ulps(fm_powf(x, y), want, 24, -126);
            double ed = ulps(fm_pow(x, y), powl(x, y), 53, -1022);
            double r = ed / (2.0 + 3.0 * fabs((double)y * log((double)x)));
            maxf = ef > maxf ? ef : maxf;
            ratio = r > ratio ? r : ratio;
        }
    }
    for (int i = 1; i <= 200; i++)
        for (int j = -20; j <= 20; j++) {
            double ef = ulps(fm_powf(-(float)i / 16.0f, (float)j), pow(-i / 16.0, j), 24, -126);
            maxf = ef > maxf ? ef : maxf;
        }
    printf("  powf       max error %.4f ulp\n  pow        max error / (2 + 3 |y log x|) = %.4f\n",
           maxf, ratio);
    CHECK(maxf <= 0.51);
    CHECK(ratio <= 1.0);
}

/* sin and cos next to their zeros, where the reduction by pi/2 cancels most: the doubles
 * nearest k pi/2 and a few ulps around them, k up to 1,043,000 (every 4099th: up to
 * fmath's exact bound, 1.6e6), where the sweep above steps too coarsely to land. */
static void check_trig_zeros(void)
{
    const long double pio2 = 1.57079632679489661923132169163975144L;
    double max = 0.0, worst = 0.0;
    for (int64_t k = 1; k <= 1043000; k += 4099) { /* k pi/2 up to fmath's exact bound */
        double x0 = (double)(k * pio2);
        for (int d = -3; d <= 3; d++) {
            double x = u2d(d2u(x0) + (uint64_t)(int64_t)d);
            double e = ulps(fm_sin(x), sinl(x), 53, -1022);
            double e2 = ulps(fm_cos(x), cosl(x), 53, -1022);
            e = e2 > e ? e2 : e;
            if (e > max) {
                max = e;
                worst = x;
            }
        }
    }
    printf("  sin, cos near k pi/2: max error %.4f ulp (at %.17g)\n", max, worst);
    CHECK(max <= 1.0);
}

static void test_accuracy(void)
{
    /* Ranges: where the result is neither an overflow nor a constant. */
    check_f("expf", fm_expf, ref_exp, -104.0f, 88.72f, 0.51);
    check_f("logf", fm_logf, ref_log, FLT_TRUE_MIN, FLT_MAX, 0.51);
    check_f("tanhf", fm_tanhf, ref_tanh, -10.0f, 10.0f, 0.51);
    check_f("erff", fm_erff, ref_erf, -6.0f, 6.0f, 0.51);
    check_f("erfcf", fm_erfcf, ref_erfc, -6.0f, 10.5f, 0.51);
    check_d("exp", fm_exp, ref_expl, -745.0, 709.7, 1.5);
    check_d("exp2", fm_exp2, ref_exp2l, -1074.0, 1023.9, 1.5);
    check_d("log", fm_log, ref_logl, DBL_TRUE_MIN, DBL_MAX, 1.0);
    check_d("log1p", fm_log1p, ref_log1pl, -0.999, 1e6, 3.0);
    check_d("cospi", fm_cospi, ref_cospil, 0.0, 4.0, 2.0);
    check_d("log10", fm_log10, ref_log10l, DBL_TRUE_MIN, DBL_MAX, 2.0);
    check_d("sin", fm_sin, ref_sinl, -0x1p20, 0x1p20, 1.0);
    check_d("cos", fm_cos, ref_cosl, -0x1p20, 0x1p20, 1.0);
    check_trig_zeros();
    check_pow();
    check_powi(0.999, 100000, 7, 0.51);
    check_powi(0.9, 6000, 1, 0.51); /* results down to 2^-912 */
}

static bool same_bits_f(float a, float b) { return f2u(a) == f2u(b); }

static void test_specials(void)
{
    const float inf = INFINITY;
    CHECK(isnan(fm_expf(NAN)) && isnan(fm_logf(NAN)) && isnan(fm_tanhf(NAN)));
    CHECK(isnan(fm_erff(NAN)) && isnan(fm_erfcf(NAN)));
    CHECK(isnan(fm_exp(NAN)) && isnan(fm_log(NAN)) && isnan(fm_log1p(NAN)));
    CHECK(isnan(fm_cospi(NAN)) && isnan(fm_cospi(INFINITY)));
    /* exp: limits, overflow, underflow to subnormals and 0 */
    CHECK(fm_expf(inf) == inf && fm_expf(-inf) == 0.0f && fm_expf(0.0f) == 1.0f);
    CHECK(fm_expf(-0.0f) == 1.0f && fm_expf(89.0f) == inf && fm_expf(-104.0f) == 0.0f);
    CHECK(fm_expf(-100.0f) > 0.0f && fm_expf(-100.0f) < FLT_MIN); /* subnormal */
    CHECK(fm_exp(INFINITY) == INFINITY && fm_exp(-INFINITY) == 0.0 && fm_exp(0.0) == 1.0);
    CHECK(fm_exp(710.0) == INFINITY && fm_exp(-746.0) == 0.0);
    CHECK(fm_exp(-740.0) > 0.0 && fm_exp(-740.0) < DBL_MIN);
    CHECK(fm_exp2(-3.0) == 0.125 && fm_exp2(1024.0) == INFINITY && fm_exp2(-1074.0) == DBL_TRUE_MIN);
    CHECK(fm_exp2(-INFINITY) == 0.0 && fm_exp2(INFINITY) == INFINITY && fm_exp2(10.0) == 1024.0);
    /* log: 0, negatives, inf, 1 */
    CHECK(fm_logf(0.0f) == -inf && fm_logf(-0.0f) == -inf && isnan(fm_logf(-1.0f)));
    CHECK(fm_logf(inf) == inf && fm_logf(1.0f) == 0.0f && !signbit(fm_logf(1.0f)));
    CHECK(fm_log(0.0) == -INFINITY && isnan(fm_log(-1e-300)) && fm_log(1.0) == 0.0);
    CHECK(fm_log1p(-1.0) == -INFINITY && isnan(fm_log1p(-2.0)) && fm_log1p(INFINITY) == INFINITY);
    CHECK(fm_log1p(0.0) == 0.0 && signbit(fm_log1p(-0.0)) && fm_log1p(1e-300) == 1e-300);
    /* odd functions keep -0; limits */
    CHECK(same_bits_f(fm_tanhf(-0.0f), -0.0f) && same_bits_f(fm_erff(-0.0f), -0.0f));
    CHECK(fm_tanhf(inf) == 1.0f && fm_tanhf(-inf) == -1.0f && fm_tanhf(20.0f) == 1.0f);
    CHECK(fm_erff(inf) == 1.0f && fm_erff(-inf) == -1.0f);
    CHECK(fm_erfcf(inf) == 0.0f && fm_erfcf(-inf) == 2.0f && fm_erfcf(0.0f) == 1.0f);
    CHECK(fm_erfcf(12.0f) == 0.0f && fm_erfcf(10.0f) > 0.0f);
    /* tiny arguments: tanh x = x, erf x = 2x/sqrt(pi), exactly rounded */
    CHECK(fm_tanhf(1e-30f) == 1e-30f && fm_tanhf(FLT_TRUE_MIN) == FLT_TRUE_MIN);
    CHECK(fm_erff(1e-30f) == (float)(1e-30f * 1.1283791670955126));
    /* powi and cospi at exact points */
    CHECK(fm_powi(0.5, 3) == 0.125 && fm_powi(2.0, -2) == 0.25 && fm_powi(-2.0, 3) == -8.0);
    CHECK(fm_powi(0.0, 2) == 0.0 && fm_powi(NAN, 0) == 1.0);
    /* pow: C99 Annex F's table */
    CHECK(fm_powf(NAN, 0.0f) == 1.0f && fm_powf(1.0f, NAN) == 1.0f && isnan(fm_powf(2.0f, NAN)));
    CHECK(isnan(fm_powf(-8.0f, 1.0f / 3.0f)) && fm_powf(-2.0f, 3.0f) == -8.0f);
    CHECK(fm_powf(-1.0f, inf) == 1.0f && fm_powf(0.5f, inf) == 0.0f && fm_powf(0.5f, -inf) == inf);
    CHECK(same_bits_f(fm_powf(-0.0f, 3.0f), -0.0f) && same_bits_f(fm_powf(-0.0f, 2.0f), 0.0f));
    CHECK(fm_powf(-0.0f, -3.0f) == -inf && fm_powf(0.0f, -0.5f) == inf);
    CHECK(same_bits_f(fm_powf(-inf, -3.0f), -0.0f) && fm_powf(-inf, 3.0f) == -inf);
    CHECK(fm_powf(-inf, 0.5f) == inf && fm_powf(inf, -1.0f) == 0.0f && fm_powf(10.0f, 39.0f) == inf);
    CHECK(fm_powf(2.0f, 10.0f) == 1024.0f && fm_powf(4.0f, 0.5f) == 2.0f && fm_powf(10.0f, -46.0f) == 0.0f);
    CHECK(fm_cospi(0.0) == 1.0 && fm_cospi(1.0) == -1.0 && fm_cospi(0.5) == 0.0);
    CHECK(fm_cospi(2.0) == 1.0 && fm_cospi(-1.0) == -1.0 && fm_cospi(1e300) == 1.0);
    /* sin, cos: NaN for NaN and inf, sin keeps -0 and tiny x, cos 0 = 1 */
    CHECK(isnan(fm_sin(NAN)) && isnan(fm_sin(INFINITY)) && isnan(fm_cos(-INFINITY)));
    CHECK(signbit(fm_sin(-0.0)) && fm_sin(-0.0) == 0.0 && fm_sin(1e-300) == 1e-300);
    CHECK(fm_sin(DBL_TRUE_MIN) == DBL_TRUE_MIN && fm_cos(0.0) == 1.0 && fm_cos(-1e-20) == 1.0);
    CHECK(fm_sin(-2.0) == -fm_sin(2.0) && fm_cos(-2.0) == fm_cos(2.0));
    /* beyond 2^20: reduced modulo 2 pi first, bounded and finite, never an overflow */
    CHECK(fabs(fm_sin(1e300)) <= 1.0 && fabs(fm_cos(-1e300)) <= 1.0);
    CHECK(fabs(fm_sin(DBL_MAX)) <= 1.0 && fabs(fm_cos(-DBL_MAX)) <= 1.0);
    CHECK(fabs(fm_sin(3e6) - sin(3e6)) < 1e-9 && fabs(fm_cos(3e6) - cos(3e6)) < 1e-9);
    /* log10: exact at 1 and at the powers of ten a dB figure meets */
    CHECK(fm_log10(1.0) == 0.0 && fm_log10(0.0) == -INFINITY && isnan(fm_log10(-1.0)));
    CHECK(fm_log10(INFINITY) == INFINITY && isnan(fm_log10(NAN)));
    CHECK(fm_log10(10.0) == 1.0 && fm_log10(100.0) == 2.0 && fm_log10(1e-3) == -3.0);
}

int main(void)
{
    test_accuracy();
    test_specials();
    return test_summary("fmath");
}
