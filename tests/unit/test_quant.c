/* Affine quantization arithmetic with exact expected values: integer ranges for every bit
 * width, quant_params by hand (symmetric/asymmetric, ranges without 0, degenerate and
 * non-finite bounds), round-half-to-even ties, clamping, zero points, per-channel weights,
 * the bulk functions against the scalar ones, and requantization against an independent
 * long double reference (64-bit mantissa: acc * m0 < 2^63 and its scaling by a power of
 * two are exact, and nearbyintl rounds ties to even) on edge and random inputs. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/quant.h"
#include "test_util.h"

_Static_assert(LDBL_MANT_DIG >= 64, "the requant reference needs an exact 64-bit mantissa");

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * 0x1p-53;
}

static bool same_float(float a, float b)
{
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

/* Checks p against an expected scale (bit-exact) and zero point, printing on mismatch. */
static void expect_params(const char *label, QParams p, float scale, int32_t z, int32_t qmin,
                          int32_t qmax)
{
    bool ok = same_float(p.scale, scale) && p.zero_point == z && p.qmin == qmin &&
              p.qmax == qmax;
    if (!test_check(ok, __FILE__, __LINE__, label))
        fprintf(stderr, "  %s: got s=%a z=%d [%d, %d], want s=%a z=%d [%d, %d]\n", label,
                (double)p.scale, p.zero_point, p.qmin, p.qmax, (double)scale, z, qmin, qmax);
}

static void test_range(void)
{
    for (int b = 2; b <= 8; b++) {
        int32_t lo, hi, half = 1 << (b - 1);
        quant_range(b, true, &lo, &hi);
        CHECK(lo == -(half - 1) && hi == half - 1);
        quant_range(b, false, &lo, &hi);
        CHECK(lo == -half && hi == half - 1);
    }
    int32_t lo, hi;
    quant_range(8, true, &lo, &hi);
    CHECK(lo == -127 && hi == 127);
    quant_range(8, false, &lo, &hi);
    CHECK(lo == -128 && hi == 127);
    quant_range(2, true, &lo, &hi);
    CHECK(lo == -1 && hi == 1);
    quant_range(2, false, &lo, &hi);
    CHECK(lo == -2 && hi == 1);
    quant_range(4, false, &lo, &hi);
    CHECK(lo == -8 && hi == 7);
}

static void test_params(void)
{
    /* Scales are the float expressions of the rule, so they compare bit for bit. */
    expect_params("asym [0,255]", quant_params(0, 255, 8, false), 1.0f, -128, -128, 127);
    expect_params("asym [-128,127]", quant_params(-128, 127, 8, false), 1.0f, 0, -128, 127);
    expect_params("asym [-51,204]", quant_params(-51, 204, 8, false), 1.0f, -77, -128, 127);
    expect_params("asym [-1,2]", quant_params(-1, 2, 8, false), 3.0f / 255.0f, -43, -128, 127);
    /* not containing 0: widened to [0, 3] and [-3, 0] */
    expect_params("asym [0.5,3]", quant_params(0.5f, 3, 8, false), 3.0f / 255.0f, -128, -128,
                  127);
    expect_params("asym [-3,-1]", quant_params(-3, -1, 8, false), 3.0f / 255.0f, 127, -128, 127);
    expect_params("sym [-0.5,127]", quant_params(-0.5f, 127, 8, true), 1.0f, 0, -127, 127);
    expect_params("sym [-1,2]", quant_params(-1, 2, 8, true), 2.0f / 127.0f, 0, -127, 127);
    expect_params("sym [2,5]", quant_params(2, 5, 8, true), 5.0f / 127.0f, 0, -127, 127);
    expect_params("sym [-3,-1]", quant_params(-3, -1, 8, true), 3.0f / 127.0f, 0, -127, 127);
    /* other widths */
    expect_params("asym4 [0,15]", quant_params(0, 15, 4, false), 1.0f, -8, -8, 7);
    expect_params("asym4 [-6,9]", quant_params(-6, 9, 4, false), 1.0f, -2, -8, 7);
    expect_params("sym4 [-14,7]", quant_params(-14, 7, 4, true), 2.0f, 0, -7, 7);
    expect_params("asym2 [-2,1]", quant_params(-2, 1, 2, false), 1.0f, 0, -2, 1);
    expect_params("asym2 [0,3]", quant_params(0, 3, 2, false), 1.0f, -2, -2, 1);
    expect_params("sym2 [-1,1]", quant_params(-1, 1, 2, true), 1.0f, 0, -1, 1);
    expect_params("sym2 [0,0.5]", quant_params(0, 0.5f, 2, true), 0.5f, 0, -1, 1);
    /* the zero point's own rounding ties to even: lo / s = -2.5 -> -2 */
    expect_params("asym2 [-2.5,0.5]", quant_params(-2.5f, 0.5f, 2, false), 1.0f, 0, -2, 1);
    /* degenerate and (almost) empty ranges: s = 1 */
    expect_params("asym [0,0]", quant_params(0, 0, 8, false), 1.0f, -128, -128, 127);
    expect_params("sym [0,0]", quant_params(0, 0, 8, true), 1.0f, 0, -127, 127);
    expect_params("asym [5,3] inverted", quant_params(5, 3, 8, false), 3.0f / 255.0f, -128,
                  -128, 127);
    expect_params("asym tiny", quant_params(0, 1e-40f, 8, false), 1.0f, -128, -128, 127);
    expect_params("sym tiny", quant_params(-1e-37f, 0, 8, true), 1.0f, 0, -127, 127);
    /* non-finite bounds: NaN counts as 0, +-inf as +-FLT_MAX */
    expect_params("asym NaN", quant_params(NAN, NAN, 8, false), 1.0f, -128, -128, 127);
    expect_params("asym [NaN,2]", quant_params(NAN, 2, 8, false), 2.0f / 255.0f, -128, -128,
                  127);
    expect_params("asym (+inf,-inf)", quant_params(INFINITY, -INFINITY, 8, false), 1.0f, -128,
                  -128, 127);
    expect_params("sym [-inf,1]", quant_params(-INFINITY, 1, 8, true), FLT_MAX / 127.0f, 0, -127,
                  127);
    QParams w = quant_params(-INFINITY, INFINITY, 8, false);
    CHECK(isfinite(w.scale) && w.scale > 0);
    CHECK(w.zero_point >= -128 && w.zero_point <= 127);
    CHECK(quant_q(0.0f, &w) == w.zero_point);
    CHECK(quant_q(FLT_MAX, &w) == 127 && quant_q(-FLT_MAX, &w) == -128);

    /* Random ranges, every width: 0 exact, lo and hi within half a step. */
    int bad = 0;
    for (int t = 0; t < 2000; t++) {
        int bits = 2 + t % 7;
        bool sym = t & 1;
        float a = (float)((rng_unit() - 0.7) * pow(10, (int)(rng_next() % 9) - 4));
        float b = (float)((rng_unit() - 0.3) * pow(10, (int)(rng_next() % 9) - 4));
        float lo = a < b ? a : b, hi = a < b ? b : a;
        QParams p = quant_params(lo, hi, bits, sym);
        int32_t qmin, qmax;
        quant_range(bits, sym, &qmin, &qmax);
        bool ok = p.scale > 0 && isfinite(p.scale) && p.qmin == qmin && p.qmax == qmax &&
                  p.zero_point >= qmin && p.zero_point <= qmax &&
                  quant_dq(quant_q(0.0f, &p), &p) == 0.0f;
        /* slack for float rounding of s, x / s and s (q - z), each relative 2^-24 of
         * values up to 255 s */
        double tol = p.scale * (0.5 + 1e-3);
        float elo = lo < 0 ? lo : 0, ehi = hi > 0 ? hi : 0;
        ok = ok && fabs(quant_dq(quant_q(ehi, &p), &p) - ehi) <= tol;
        ok = ok && fabs(quant_dq(quant_q(elo, &p), &p) - elo) <= tol;
        if (!ok && bad++ < 5)
            fprintf(stderr, "  [%a, %a] bits %d sym %d: s=%a z=%d\n", (double)lo, (double)hi,
                    bits, sym, (double)p.scale, p.zero_point);
    }
    CHECK(bad == 0);
}

static void test_q(void)
{
    QParams p = { 1.0f, 0, -128, 127 };
    const float x[] = { 0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, -3.5f, 0.49999997f, -0.0f };
    const int32_t want[] = { 0, 2, 2, 4, 0, -2, -2, -4, 0, 0 };
    for (int i = 0; i < 10; i++)
        if (!CHECK(quant_q(x[i], &p) == want[i]))
            fprintf(stderr, "  q(%a) = %d, want %d\n", (double)x[i], quant_q(x[i], &p), want[i]);

    /* ties with a zero point: round(x / s) happens before z is added */
    QParams pz = { 0.5f, 10, -128, 127 };
    CHECK(quant_q(0.25f, &pz) == 10); /* 0.5 -> 0 */
    CHECK(quant_q(0.75f, &pz) == 12); /* 1.5 -> 2 */
    CHECK(quant_q(1.25f, &pz) == 12); /* 2.5 -> 2 */
    CHECK(quant_q(-0.75f, &pz) == 8);
    CHECK(quant_dq(12, &pz) == 1.0f && quant_dq(10, &pz) == 0.0f && quant_dq(-128, &pz) == -69.0f);

    /* clamping at qmin / qmax, with and without a zero point; infinities; NaN -> z */
    CHECK(quant_q(1000.0f, &p) == 127 && quant_q(-1000.0f, &p) == -128);
    CHECK(quant_q(127.5f, &p) == 127 && quant_q(-128.5f, &p) == -128);
    CHECK(quant_q(58.0f, &pz) == 126 && quant_q(58.5f, &pz) == 127 && quant_q(60.0f, &pz) == 127);
    CHECK(quant_q(-69.0f, &pz) == -128 && quant_q(-1e30f, &pz) == -128);
    CHECK(quant_q(INFINITY, &pz) == 127 && quant_q(-INFINITY, &pz) == -128);
    CHECK(quant_q(NAN, &pz) == 10 && quant_q(NAN, &p) == 0);
    QParams ps = { 1.0f, 0, -127, 127 }; /* symmetric: -x quantizes to -q */
    CHECK(quant_q(-1000.0f, &ps) == -127 && quant_q(1000.0f, &ps) == 127);
    CHECK(quant_q(-126.5f, &ps) == -126 && quant_q(126.5f, &ps) == 126);
    QParams p4 = { 0.25f, -3, -8, 7 }; /* 4-bit asymmetric */
    CHECK(quant_q(2.5f, &p4) == 7 && quant_q(2.375f, &p4) == 7 && quant_q(2.0f, &p4) == 5);
    CHECK(quant_q(-1.25f, &p4) == -8 && quant_q(-0.375f, &p4) == -5); /* -1.5 -> -2 */

    /* fake quantization */
    CHECK(isnan(quant_fake(NAN, &p)));
    CHECK(quant_fake(1.4f, &p) == 1.0f && quant_fake(2.5f, &p) == 2.0f);
    CHECK(quant_fake(1000.0f, &p) == 127.0f && quant_fake(-1000.0f, &p) == -128.0f);
    CHECK(quant_fake(0.3f, &pz) == 0.5f && quant_fake(100.0f, &pz) == 58.5f);
}

/* Per-output-channel symmetric weights: one QParams per row, scales chosen so that every
 * x / s is exact and the ties are real ties. */
static void test_per_channel(void)
{
    const float w[3][4] = {
        { -127.0f, 63.5f, 0.5f, 127.0f }, /* amax 127: s = 1 */
        { 254.0f, -3.0f, 5.0f, 1.0f },    /* amax 254: s = 2 */
        { 0.25f, -0.75f, 63.5f, 10.0f },  /* amax 63.5: s = 0.5 */
    };
    const int32_t want[3][4] = {
        { -127, 64, 0, 127 },
        { 127, -2, 2, 0 },
        { 0, -2, 127, 20 },
    };
    const float scales[3] = { 1.0f, 2.0f, 0.5f };
    for (int c = 0; c < 3; c++) {
        float lo = w[c][0], hi = w[c][0];
        for (int i = 1; i < 4; i++) {
            lo = w[c][i] < lo ? w[c][i] : lo;
            hi = w[c][i] > hi ? w[c][i] : hi;
        }
        QParams p = quant_params(lo, hi, 8, true);
        CHECK(p.scale == scales[c] && p.zero_point == 0);
        int8_t q[4];
        quant_array_i8(w[c], 4, &p, q);
        int32_t got[4];
        for (int i = 0; i < 4; i++)
            got[i] = q[i];
        CHECK(expect_equal_i32("per-channel row", got, want[c], 4));
    }
}

static void test_bulk(void)
{
    enum { N = 4096 };
    static float x[N], back[N];
    static int8_t q[N];
    const QParams params[] = {
        { 1.0f, 0, -128, 127 },        { 0.5f, 10, -128, 127 },
        { 3.0f / 255.0f, -43, -128, 127 }, { 2.0f / 127.0f, 0, -127, 127 },
        { 0.1f, -8, -8, 7 },           { 1e-30f, 0, -128, 127 },
        { 1e30f, 5, -128, 127 },       { 0.25f, -2, -2, 1 },
    };
    for (int i = 0; i < N; i++) {
        switch (i % 8) {
        case 0: x[i] = (float)((int)(rng_next() % 600) - 300) * 0.5f; break; /* ties */
        case 1: x[i] = (float)((rng_unit() - 0.5) * 300); break;
        case 2: x[i] = (float)((rng_unit() - 0.5) * 3); break;
        case 3: x[i] = (float)((rng_unit() - 0.5) * 1e-28); break;
        case 4: x[i] = (float)((int)(rng_next() % 64) - 32) * 0.025f; break; /* ties at s=0.1, 0.05 */
        default: x[i] = (float)((rng_unit() - 0.5) * pow(10, (int)(rng_next() % 12) - 4)); break;
        }
    }
    const float special[] = { NAN, -NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 0.0f, -0.0f,
                              FLT_MIN, 1e-45f, 127.5f, -128.5f, 4194304.5f, 8388609.0f };
    memcpy(x, special, sizeof special);
    for (size_t t = 0; t < sizeof params / sizeof params[0]; t++) {
        const QParams *p = &params[t];
        quant_array_i8(x, N, p, q);
        dequant_array_i8(q, N, p, back);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            bool ok = q[i] == quant_q(x[i], p) && same_float(back[i], quant_dq(q[i], p));
            if (!ok && bad++ < 5)
                fprintf(stderr, "  params %zu: x=%a: bulk %d, scalar %d\n", t, (double)x[i],
                        q[i], quant_q(x[i], p));
        }
        CHECK(bad == 0);
        /* an odd length at an odd offset: the blocked loop's remainder */
        memset(q, 0x55, sizeof q);
        quant_array_i8(x + 3, N - 5, p, q);
        bad = 0;
        for (int i = 0; i < N - 5; i++)
            bad += q[i] != quant_q(x[i + 3], p);
        for (int i = N - 5; i < N; i++)
            bad += q[i] != 0x55;
        CHECK(bad == 0);
        quant_array_i8(x + 1, 7, p, q);
        bad = 0;
        for (int i = 0; i < 7; i++)
            bad += q[i] != quant_q(x[i + 1], p);
        CHECK(bad == 0);
    }
    quant_array_i8(x, 0, &params[0], q); /* n = 0 touches nothing */
}

/* ---- requantization ---- */

static int32_t ref_requant(int32_t acc, Requant r, int32_t z, int32_t lo, int32_t hi)
{
    long double v = ldexpl((long double)acc * (long double)r.m0, -(31 + r.shift));
    v = nearbyintl(v) + z;
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

static void test_requant_make(void)
{
    Requant r = quant_requant_make(0.5);
    CHECK(r.m0 == (1 << 30) && r.shift == 0);
    r = quant_requant_make(1.0);
    CHECK(r.m0 == (1 << 30) && r.shift == -1);
    r = quant_requant_make(0.75);
    CHECK(r.m0 == 1610612736 && r.shift == 0);
    r = quant_requant_make(0x1p-40); /* 2^30 * 2^-(31 + 39) */
    CHECK(r.m0 == (1 << 30) && r.shift == 39);
    r = quant_requant_make(3.0);
    CHECK(r.m0 == 1610612736 && r.shift == -2);
    /* m0 rounding up to 2^31: halved, shift one less */
    r = quant_requant_make(1.0 - 0x1p-40);
    CHECK(r.m0 == (1 << 30) && r.shift == -1);
    r = quant_requant_make(0.5 - 0x1p-45);
    CHECK(r.m0 == (1 << 30) && r.shift == 0);
    /* just below 1 without rounding up: 2^31 - 1 */
    r = quant_requant_make(1.0 - 0x1p-31);
    CHECK(r.m0 == INT32_MAX && r.shift == 0);
    /* ties of m * 2^31 go to even: 2^30 + 0.5 -> 2^30, 2^30 + 1.5 -> 2^30 + 2 */
    r = quant_requant_make(ldexp((1 << 30) + 0.5, -31));
    CHECK(r.m0 == (1 << 30) && r.shift == 0);
    r = quant_requant_make(ldexp((1 << 30) + 1.5, -31));
    CHECK(r.m0 == (1 << 30) + 2 && r.shift == 0);
    /* outside the contract: zero multiplier; infinity saturates */
    r = quant_requant_make(0.0);
    CHECK(r.m0 == 0 && r.shift == 0);
    r = quant_requant_make(-1.0);
    CHECK(r.m0 == 0);
    r = quant_requant_make(NAN);
    CHECK(r.m0 == 0);
    r = quant_requant_make(INFINITY);
    CHECK(r.m0 >= (1 << 30) && r.shift < -1000);
    CHECK(quant_requant(1, r, 0, -128, 127) == 127 && quant_requant(-1, r, 0, -128, 127) == -128);
    CHECK(quant_requant(0, r, 3, -128, 127) == 3);

    /* the documented bound: relative error at most 2^-31, m0 in [2^30, 2^31) */
    int bad = 0;
    for (int t = 0; t < 100000; t++) {
        double m = ldexp(0.5 + 0.5 * rng_unit(), (int)(rng_next() % 80) - 60);
        if (t < 3)
            m = t == 0 ? 0x1p-60 : t == 1 ? 0x1.fffffffffffffp30 : 0x1p-1074;
        r = quant_requant_make(m);
        double got = ldexp(r.m0, -(31 + r.shift)); /* exact */
        bool ok = r.m0 >= (1 << 30) && fabs(got - m) <= m * 0x1p-31;
        if (!ok && bad++ < 5)
            fprintf(stderr, "  make(%a) = {%d, %d}\n", m, r.m0, r.shift);
    }
    CHECK(bad == 0);
}

static void test_requant(void)
{
    /* ties exactly at .5 go to even, on both sides of 0 */
    Requant half = quant_requant_make(0.5), quarter = quant_requant_make(0.25);
    const int32_t acc[] = { 1, 3, 5, 7, -1, -3, -5, -7 };
    const int32_t want_half[] = { 0, 2, 2, 4, 0, -2, -2, -4 };
    for (int i = 0; i < 8; i++) {
        CHECK(quant_requant(acc[i], half, 0, INT32_MIN, INT32_MAX) == want_half[i]);
        CHECK(quant_requant(2 * acc[i], quarter, 0, INT32_MIN, INT32_MAX) == want_half[i]);
        CHECK(quant_requant(acc[i], half, 10, -128, 127) == want_half[i] + 10);
    }
    /* clamps: [lo, hi] = ReLU [z, 127], ReLU6-like [z, z + 60] */
    Requant one = quant_requant_make(1.0);
    CHECK(quant_requant(-5, one, -20, -20, 127) == -20);
    CHECK(quant_requant(100, one, -20, -20, 40) == 40);
    CHECK(quant_requant(30, one, -20, -20, 40) == 10);
    CHECK(quant_requant(1000, one, 0, -128, 127) == 127);
    CHECK(quant_requant(-1000, one, 0, -128, 127) == -128);
    /* extremes of acc; saturation for large m */
    Requant big = quant_requant_make(0x1p20);
    CHECK(quant_requant(INT32_MAX, big, 0, INT32_MIN, INT32_MAX) == INT32_MAX);
    CHECK(quant_requant(INT32_MIN, big, 0, INT32_MIN, INT32_MAX) == INT32_MIN);
    CHECK(quant_requant(INT32_MIN, big, -128, -128, 127) == -128);
    CHECK(quant_requant(3, big, 5, INT32_MIN, INT32_MAX) == 3 * (1 << 20) + 5);
    /* far outside the contract: still no overflow */
    Requant wild = { .m0 = INT32_MAX, .shift = -100 };
    CHECK(quant_requant(INT32_MAX, wild, 0, -128, 127) == 127);
    CHECK(quant_requant(-1, wild, 0, -128, 127) == -128);
    CHECK(quant_requant(0, wild, 7, -128, 127) == 7);
    /* shifted beyond 62 bits: everything rounds to 0 */
    Requant tiny = { .m0 = 1 << 30, .shift = 100 };
    CHECK(quant_requant(INT32_MIN, tiny, 3, -128, 127) == 3);
    /* |acc * m0| = 2^62 exactly, over 2^62 */
    Requant neg_edge = { .m0 = INT32_MIN, .shift = 31 };
    CHECK(quant_requant(INT32_MIN, neg_edge, 0, INT32_MIN, INT32_MAX) == 1);
    Requant tie63 = { .m0 = INT32_MIN, .shift = 32 }; /* 2^62 / 2^63 = 0.5: ties to 0 */
    CHECK(quant_requant(INT32_MIN, tie63, 0, INT32_MIN, INT32_MAX) == 0);

    /* against the long double reference */
    const double ms[] = { 1.0 - 0x1p-31, 1.0 - 0x1p-40, 0.999, 0.5, 1.0, 2.0, 0x1p-40, 1e-9,
                          0x1p-31, 3.0e-3, 0.0123, 1000.0, 0x1p30, 0x1.fffffffffp30 };
    const int32_t accs[] = { INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1, 0, 1, -1, 2, -2,
                             127, -128, 16384, -16383, 1 << 30, -(1 << 30), 123456789 };
    const int32_t zs[] = { 0, -128, 127, 5, -1000000 };
    int bad = 0, cases = 0;
    for (int mi = 0; mi < 14; mi++)
        for (int ai = 0; ai < 16; ai++)
            for (int zi = 0; zi < 5; zi++)
                for (int c = 0; c < 2; c++, cases++) {
                    Requant r = quant_requant_make(ms[mi]);
                    int32_t lo = c ? -128 : INT32_MIN, hi = c ? 127 : INT32_MAX;
                    int32_t got = quant_requant(accs[ai], r, zs[zi], lo, hi);
                    int32_t want = ref_requant(accs[ai], r, zs[zi], lo, hi);
                    if (got != want && bad++ < 5)
                        fprintf(stderr, "  requant(%d, m=%a, z=%d) = %d, reference %d\n",
                                accs[ai], ms[mi], zs[zi], got, want);
                }
    /* random: every bit width's clamp range, multipliers across the whole contract, and
     * accumulators built to land exactly on ties */
    for (int t = 0; t < 200000; t++, cases++) {
        int bits = 2 + t % 7;
        int32_t lo, hi;
        quant_range(bits, (t / 7) & 1, &lo, &hi);
        double m = ldexp(0.5 + 0.5 * rng_unit(), (int)(rng_next() % 70) - 60);
        Requant r = quant_requant_make(m);
        int32_t a = (int32_t)(uint32_t)rng_next();
        if (t % 3 == 0)
            a >>= rng_next() % 31;
        if (t % 5 == 0 && r.shift >= 0 && r.shift <= 23) {
            /* acc * m0 = (k + 1/2) 2^(31 + shift): a tie; 127 << 23 still fits in int32 */
            Requant p2 = { .m0 = 1 << 30, .shift = r.shift };
            r = p2;
            a = (int32_t)((int64_t)(2 * (int64_t)(rng_next() % 64) + 1) << r.shift);
            if (t % 10 == 0)
                a = -a;
        }
        int32_t z = lo + (int32_t)(rng_next() % (uint64_t)(hi - lo + 1));
        int32_t got = quant_requant(a, r, z, lo, hi), want = ref_requant(a, r, z, lo, hi);
        if (got != want && bad++ < 5)
            fprintf(stderr, "  requant(%d, {%d, %d}, z=%d, [%d, %d]) = %d, reference %d\n", a,
                    r.m0, r.shift, z, lo, hi, got, want);
    }
    printf("requant: %d cases against the reference\n", cases);
    CHECK(bad == 0);
}

static void test_rshift(void)
{
    CHECK(quant_rshift_even(5, 1) == 2 && quant_rshift_even(7, 1) == 4);
    CHECK(quant_rshift_even(-5, 1) == -2 && quant_rshift_even(-7, 1) == -4);
    CHECK(quant_rshift_even(6, 2) == 2 && quant_rshift_even(10, 2) == 2);
    CHECK(quant_rshift_even(-6, 2) == -2 && quant_rshift_even(-10, 2) == -2);
    CHECK(quant_rshift_even(9, 2) == 2 && quant_rshift_even(-9, 2) == -2); /* 2.25 */
    CHECK(quant_rshift_even(11, 2) == 3 && quant_rshift_even(-11, 2) == -3); /* 2.75 */
    CHECK(quant_rshift_even(12345, 0) == 12345 && quant_rshift_even(-1, 0) == -1);
    CHECK(quant_rshift_even(INT64_MAX, 62) == 2);
    CHECK(quant_rshift_even(INT64_MIN, 62) == -2);
    CHECK(quant_rshift_even(INT64_MIN, 63) == -1);
    CHECK(quant_rshift_even(INT64_C(1) << 61, 62) == 0); /* 0.5 */
    CHECK(quant_rshift_even(INT64_C(3) << 61, 62) == 2); /* 1.5 */
    int bad = 0;
    for (int t = 0; t < 100000; t++) {
        int64_t x = (int64_t)rng_next();
        int n = (int)(rng_next() % 63);
        if (t % 4 == 0 && n > 0) /* a tie */
            x = (int64_t)((uint64_t)(x >> n) << n) | (INT64_C(1) << (n - 1));
        int64_t want = (int64_t)nearbyintl(ldexpl((long double)x, -n));
        if (quant_rshift_even(x, n) != want && bad++ < 5)
            fprintf(stderr, "  rshift(%lld, %d) = %lld, want %lld\n", (long long)x, n,
                    (long long)quant_rshift_even(x, n), (long long)want);
    }
    CHECK(bad == 0);
}

int main(void)
{
    test_range();
    test_params();
    test_q();
    test_per_channel();
    test_bulk();
    test_requant_make();
    test_requant();
    test_rshift();
    return test_summary("quant");
}
