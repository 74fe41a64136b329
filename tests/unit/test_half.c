/* IEEE half conversions. Hand cases (ties to even, subnormals, overflow at 65520, NaN
 * payloads); all 65536 halves decoded against an independent ldexp computation and
 * round-tripped; about 1.2 million floats (every float whose bits are a multiple of 4099,
 * every exact midpoint between consecutive halves and its two float neighbours) encoded
 * against an independent reference that rounds in double; the F16C and portable paths
 * compared bit for bit on all of them; the bulk functions against the scalar ones. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "base/half.h"
#include "test_util.h"

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static bool have_f16c;

/* ---- an independent reference: decode with ldexp, encode by rounding in double ---- */

static double ref_value[0x7c01]; /* value of each non-negative finite half, and Inf */

static void ref_init(void)
{
    for (int h = 0; h <= 0x7c00; h++) {
        int e = h >> 10, m = h & 0x3ff;
        ref_value[h] = e == 0x1f ? INFINITY : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    }
}

/* Round to nearest, ties to even, in double (exact: a float has 24 bits, the quotient
 * by a power of two is exact, and nearbyint rounds ties to even). */
static uint16_t ref_from_float(float x)
{
    uint16_t sign = (uint16_t)((bits_of(x) >> 16) & 0x8000);
    double a = fabs((double)x);
    if (a >= 65520.0)
        return sign | 0x7c00;
    double ulp;
    if (a < 0x1p-14) {
        ulp = 0x1p-24;
    } else {
        int e;
        frexp(a, &e); /* a in [2^(e-1), 2^e): 10 fraction bits below the leading one */
        ulp = ldexp(1.0, e - 11);
    }
    double r = nearbyint(a / ulp) * ulp;
    int lo = 0, hi = 0x7bff; /* r is a finite half: find it */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (ref_value[mid] < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (ref_value[lo] != r) {
        fprintf(stderr, "  reference broke on %a\n", (double)x);
        return 0xffff;
    }
    return sign | (uint16_t)lo;
}

/* ---- hand cases, on whichever path is active ---- */

static void hand_cases(const char *path)
{
    struct {
        float x;
        uint16_t h;
    } enc[] = {
        { 1.0f, 0x3c00 },
        { -2.0f, 0xc000 },
        { 0.0f, 0x0000 },
        { -0.0f, 0x8000 },
        { 65504.0f, 0x7bff },
        { 65519.99609375f, 0x7bff },    /* just below the midpoint to 65536 */
        { 65520.0f, 0x7c00 },           /* the midpoint: ties to even, which is Inf */
        { 1e9f, 0x7c00 },
        { -1e9f, 0xfc00 },
        { INFINITY, 0x7c00 },
        { -INFINITY, 0xfc00 },
        { 0x1p-24f, 0x0001 },           /* smallest subnormal */
        { 0x1p-25f, 0x0000 },           /* half of it: tie to even 0 */
        { 0x1.000002p-25f, 0x0001 },    /* just above the tie */
        { -0x1p-25f, 0x8000 },
        { 0x1.8p-24f, 0x0002 },         /* 1.5 ulp: tie between 1 and 2, even is 2 */
        { 0x1.4p-23f, 0x0002 },         /* 2.5 ulp: tie between 2 and 3, even is 2 */
        { 0x1.ff8p-15f, 0x03ff },       /* 1023 subnormal ulps: the largest subnormal */
        { 0x1.ffcp-15f, 0x0400 },       /* 1023.5 ulps: ties up to the smallest normal */
        { 0x1p-14f, 0x0400 },
        { 1e-45f, 0x0000 },             /* float subnormal */
        { -1e-45f, 0x8000 },
        { 1.00048828125f, 0x3c00 },     /* 1 + 2^-11: tie, even is 1 */
        { 1.00146484375f, 0x3c02 },     /* 1 + 3 * 2^-11: tie, even is 1 + 2^-9 */
        { 1.0009765625f, 0x3c01 },      /* 1 + 2^-10 exactly */
        { 0.333333333f, 0x3555 },
        { 2048.0f + 1.0f, 0x6800 },     /* ulp 2 at 2048: 2049 ties to 2048 */
        { 2048.0f + 3.0f, 0x6802 },     /* 2051 ties to 2052 */
    };
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
        uint16_t h = half_from_float(enc[i].x);
        if (!CHECK(h == enc[i].h))
            fprintf(stderr, "  %s: half_from_float(%a) = 0x%04x, want 0x%04x\n", path,
                    (double)enc[i].x, h, enc[i].h);
    }
    struct {
        uint16_t h;
        uint32_t f;
    } dec[] = {
        { 0x3c00, 0x3f800000 }, { 0x7bff, bits_of(65504.0f) }, { 0x0001, bits_of(0x1p-24f) },
        { 0x03ff, bits_of(0x1.ff8p-15f) }, { 0x0400, bits_of(0x1p-14f) },
        { 0x8000, 0x80000000 }, { 0x7c00, 0x7f800000 }, { 0xfc00, 0xff800000 },
        { 0x3555, bits_of(0.333251953125f) },
        /* NaN: quiet bit set, payload moved to the top, sign kept */
        { 0x7e00, 0x7fc00000 }, { 0x7c01, 0x7fc02000 }, { 0xfd00, 0xffe00000 },
        { 0x7fff, 0x7fffe000 },
    };
    for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
        uint32_t f = bits_of(half_to_float(dec[i].h));
        if (!CHECK(f == dec[i].f))
            fprintf(stderr, "  %s: half_to_float(0x%04x) = 0x%08x, want 0x%08x\n", path,
                    dec[i].h, f, dec[i].f);
    }
    /* float NaN -> half: quiet, top 10 payload bits kept, sign kept */
    struct {
        uint32_t f;
        uint16_t h;
    } nan[] = {
        { 0x7fc00000, 0x7e00 }, { 0xffc00000, 0xfe00 }, { 0x7f800001, 0x7e00 },
        { 0x7fa00000, 0x7f00 }, { 0x7fffffff, 0x7fff }, { 0xff802000, 0xfe01 },
    };
    for (size_t i = 0; i < sizeof nan / sizeof nan[0]; i++) {
        uint16_t h = half_from_float(float_of(nan[i].f));
        if (!CHECK(h == nan[i].h))
            fprintf(stderr, "  %s: half_from_float(0x%08x) = 0x%04x, want 0x%04x\n", path,
                    nan[i].f, h, nan[i].h);
    }
}

/* ---- all 65536 halves ---- */

static void all_halves(void)
{
    int bad_ref = 0, bad_trip = 0, bad_paths = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        half_force_portable(true);
        float p = half_to_float((uint16_t)h);
        uint16_t back = half_from_float(p);
        bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            /* NaN: stays NaN with its sign and the quiet bit set */
            uint32_t b = bits_of(p);
            bad_ref += !(isnan(p) && (b >> 31) == (h >> 15) && (b & 0x400000));
            bad_trip += back != (h | 0x200);
        } else {
            double want = ref_value[h & 0x7fff] * ((h & 0x8000) ? -1.0 : 1.0);
            bad_ref += (double)p != want || (signbit(p) != 0) != ((h & 0x8000) != 0);
            bad_trip += back != h;
        }
        if (have_f16c) {
            half_force_portable(false);
            float f = half_to_float((uint16_t)h);
            bad_paths += bits_of(f) != bits_of(p) || half_from_float(f) != back;
        }
    }
    half_force_portable(false);
    CHECK(bad_ref == 0);
    CHECK(bad_trip == 0);
    CHECK(bad_paths == 0);
    if (bad_ref || bad_trip || bad_paths)
        fprintf(stderr, "  all halves: %d decode, %d round-trip, %d F16C/portable mismatches\n",
                bad_ref, bad_trip, bad_paths);
}

/* ---- about 1.2 million floats ---- */

static int float_cases;
static int bad_enc, bad_enc_paths;

static void one_float(float x)
{
    float_cases++;
    half_force_portable(true);
    uint16_t p = half_from_float(x);
    if (isnan(x)) {
        uint32_t b = bits_of(x);
        uint16_t want = (uint16_t)(((b >> 16) & 0x8000) | 0x7e00 | ((b >> 13) & 0x3ff));
        bad_enc += p != want;
    } else if (p != ref_from_float(x)) {
        if (bad_enc++ < 5)
            fprintf(stderr, "  half_from_float(%a) = 0x%04x, reference 0x%04x\n", (double)x, p,
                    ref_from_float(x));
    }
    if (have_f16c) {
        half_force_portable(false);
        uint16_t f = half_from_float(x);
        if (f != p && bad_enc_paths++ < 5)
            fprintf(stderr, "  %a (0x%08x): F16C 0x%04x, portable 0x%04x\n", (double)x,
                    bits_of(x), f, p);
    }
}

static void many_floats(void)
{
    for (uint64_t k = 0; k * 4099u <= 0xffffffffu; k++)
        one_float(float_of((uint32_t)(k * 4099u)));
    /* every rounding boundary: the exact midpoint between consecutive halves (12 bits,
     * exact in float) and the floats on either side, both signs; 65520 is the last */
    for (int h = 0; h < 0x7c00; h++) {
        float lo = (float)ref_value[h];
        float hi = h == 0x7bff ? 65536.0f : (float)ref_value[h + 1];
        float mid = (lo + hi) / 2;
        float cases[4] = { mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY), lo };
        for (int c = 0; c < 4; c++) {
            one_float(cases[c]);
            one_float(-cases[c]);
        }
    }
    half_force_portable(false);
    printf("half: %d floats encoded\n", float_cases);
    CHECK(float_cases > 1200000);
    CHECK(bad_enc == 0);
    CHECK(bad_enc_paths == 0);
}

/* ---- bulk functions against the scalar ones, on both paths ---- */

static void bulk(const char *path)
{
    enum { N = 1000 };
    static float x[N], back[N], rounded[N];
    static uint16_t h[N];
    uint32_t s = 7;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        /* mostly ordinary values, with a spread of exponents, some beyond 65504 and NaNs */
        x[i] = i % 97 == 0 ? NAN : ldexpf((float)(s >> 8) / 16777216.0f - 0.5f, (int)(s % 40) - 24);
    }
    x[1] = 70000.0f;
    x[2] = -65520.0f;
    x[3] = 65519.0f;
    static const int64_t ns[] = { 0, 1, 7, 8, 9, 31, N };
    for (int t = 0; t < 7; t++) {
        int64_t n = ns[t];
        memset(h, 0, sizeof h);
        half_from_float_array(x, n, h);
        half_to_float_array(h, n, back);
        memcpy(rounded, x, sizeof x);
        half_round_array(rounded, n);
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            uint16_t hs = half_from_float(x[i]);
            float fs = half_to_float(hs);
            bad += h[i] != hs || bits_of(back[i]) != bits_of(fs) ||
                   bits_of(rounded[i]) != bits_of(fs);
        }
        for (int64_t i = n; i < N; i++) /* nothing past n touched */
            bad += h[i] != 0 || bits_of(rounded[i]) != bits_of(x[i]);
        if (!CHECK(bad == 0))
            fprintf(stderr, "  %s: bulk n=%lld: %d mismatches\n", path, (long long)n, bad);
    }
    /* half_round_array saturates to Inf like a device would */
    CHECK(isinf(rounded[1]) && rounded[1] > 0);
    CHECK(isinf(rounded[2]) && rounded[2] < 0);
    CHECK(rounded[3] == 65504.0f);
    CHECK(isnan(rounded[0]));
}

int main(void)
{
    ref_init();
    half_force_portable(false);
    have_f16c = half_uses_f16c();
#if defined(__x86_64__) || defined(__i386__)
    /* CPUID.1:ECX bit 29 (F16C), as half.c reads it under Clang */
    unsigned a, b, c, d;
    __builtin_cpu_init();
    CHECK(have_f16c == (__builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) &&
                        ((c >> 29) & 1)));
#endif
    printf("half: F16C path %s\n", have_f16c ? "present and tested against portable"
                                             : "absent (portable only)");
    half_force_portable(true);
    CHECK(!half_uses_f16c());
    hand_cases("portable");
    bulk("portable");
    half_force_portable(false);
    CHECK(half_uses_f16c() == have_f16c);
    if (have_f16c) {
        hand_cases("f16c");
        bulk("f16c");
    }
    all_halves();
    many_floats();
    return test_summary("half");
}
