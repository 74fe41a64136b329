/* IEEE 754 binary16 conversions. The portable path is integer bit manipulation, so it does
 * not depend on the floating-point environment (rounding mode, FTZ/DAZ); the F16C path
 * passes an explicit round-to-nearest-even immediate, so it does not either. NaNs follow
 * what F16C does, so both paths agree on every bit:
 *   float -> half: sign kept, quiet bit set, top 10 payload bits kept;
 *   half -> float: sign kept, quiet bit set, payload shifted into the top bits. */
#include "base/half.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HALF_HAVE_F16C 1
#else
#define HALF_HAVE_F16C 0
#endif

#if HALF_HAVE_F16C && defined(__clang__)
/* Clang (up to 15 at least) rejects "f16c" in __builtin_cpu_supports: read CPUID.1:ECX
 * bit 29 directly. The OS side (saved YMM state) is covered by the "avx" check. */
#include <cpuid.h>
static bool half_cpu_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1);
}
#elif HALF_HAVE_F16C
static bool half_cpu_f16c(void)
{
    return __builtin_cpu_supports("f16c");
}
#endif

static uint32_t half_bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float half_float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static uint16_t half_from_float_portable(float x)
{
    uint32_t f = half_bits_of(x);
    uint32_t sign = (f >> 16) & 0x8000u;
    uint32_t a = f & 0x7fffffffu;
    if (a >= 0x7f800000u) { /* Inf, NaN */
        if (a == 0x7f800000u)
            return (uint16_t)(sign | 0x7c00u);
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    if (a >= 0x477ff000u) /* >= 65520 = 65504 + half an ulp: the tie goes to even, Inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* >= 2^-14: a normal half */
        uint32_t h = (a - 0x38000000u) >> 13; /* rebias the exponent 127 -> 15 */
        uint32_t rem = a & 0x1fffu;
        /* a carry out of the mantissa correctly bumps the exponent */
        h += rem > 0x1000u || (rem == 0x1000u && (h & 1u));
        return (uint16_t)(sign | h);
    }
    if (a <= 0x33000000u) /* <= 2^-25, half the smallest subnormal: ties to even, 0 */
        return (uint16_t)sign;
    /* Subnormal half: m = round_even(|x| / 2^-24), |x| = mant * 2^(e - 150). m can reach
     * 1024, which is the bit pattern of the smallest normal, as it should. */
    uint32_t e = a >> 23;
    uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t m = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    m += rem > halfway || (rem == halfway && (m & 1u));
    return (uint16_t)(sign | m);
}

static float half_to_float_portable(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f)
        return half_float_of(sign | 0x7f800000u | (man ? 0x400000u | man << 13 : 0));
    if (exp != 0)
        return half_float_of(sign | (exp + 112) << 23 | man << 13);
    if (man == 0)
        return half_float_of(sign);
    /* subnormal: man * 2^-24 with the leading 1 at bit p becomes 2^(p-24) * 1.xxx */
    int p = 31 - __builtin_clz(man);
    return half_float_of(sign | (uint32_t)(p + 103) << 23 | ((man << (23 - p)) & 0x7fffffu));
}

static void half_from_float_array_portable(const float *x, int64_t n, uint16_t *h)
{
    for (int64_t i = 0; i < n; i++)
        h[i] = half_from_float_portable(x[i]);
}

static void half_to_float_array_portable(const uint16_t *h, int64_t n, float *x)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = half_to_float_portable(h[i]);
}

static void half_round_array_portable(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = half_to_float_portable(half_from_float_portable(x[i]));
}

#if HALF_HAVE_F16C
#define HALF_F16C __attribute__((target("avx,f16c")))

HALF_F16C static uint16_t half_from_float_f16c(float x)
{
    __m128i h = _mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT);
    return (uint16_t)_mm_extract_epi16(h, 0);
}

HALF_F16C static float half_to_float_f16c(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

HALF_F16C static void half_from_float_array_f16c(const float *x, int64_t n, uint16_t *h)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(h + i), v);
    }
    for (; i < n; i++)
        h[i] = half_from_float_f16c(x[i]);
}

HALF_F16C static void half_to_float_array_f16c(const uint16_t *h, int64_t n, float *x)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++)
        x[i] = half_to_float_f16c(h[i]);
}

HALF_F16C static void half_round_array_f16c(float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(v));
    }
    for (; i < n; i++)
        x[i] = half_to_float_f16c(half_from_float_f16c(x[i]));
}
#endif

/* Chosen once by the constructor; only half_force_portable changes it afterwards. Relaxed
 * atomics make a concurrent change well defined (any reader sees one of the two paths,
 * which give the same bits). */
static atomic_bool half_f16c_present, half_f16c_on;

__attribute__((constructor)) static void half_init(void)
{
#if HALF_HAVE_F16C
    __builtin_cpu_init(); /* constructors may run before libgcc's own */
    bool ok = __builtin_cpu_supports("avx") && half_cpu_f16c();
#else
    bool ok = false;
#endif
    atomic_store_explicit(&half_f16c_present, ok, memory_order_relaxed);
    atomic_store_explicit(&half_f16c_on, ok, memory_order_relaxed);
}

static bool half_f16c(void)
{
    return atomic_load_explicit(&half_f16c_on, memory_order_relaxed);
}

void half_force_portable(bool on)
{
    bool present = atomic_load_explicit(&half_f16c_present, memory_order_relaxed);
    atomic_store_explicit(&half_f16c_on, present && !on, memory_order_relaxed);
}

bool half_uses_f16c(void)
{
    return half_f16c();
}

uint16_t half_from_float(float x)
{
#if HALF_HAVE_F16C
    if (half_f16c())
        return half_from_float_f16c(x);
#endif
    return half_from_float_portable(x);
}

float half_to_float(uint16_t h)
{
#if HALF_HAVE_F16C
    if (half_f16c())
        return half_to_float_f16c(h);
#endif
    return half_to_float_portable(h);
}

void half_from_float_array(const float *x, int64_t n, uint16_t *h)
{
#if HALF_HAVE_F16C
    if (half_f16c()) {
        half_from_float_array_f16c(x, n, h);
        return;
    }
#endif
    half_from_float_array_portable(x, n, h);
}

void half_to_float_array(const uint16_t *h, int64_t n, float *x)
{
#if HALF_HAVE_F16C
    if (half_f16c()) {
        half_to_float_array_f16c(h, n, x);
        return;
    }
#endif
    half_to_float_array_portable(h, n, x);
}

void half_round_array(float *x, int64_t n)
{
#if HALF_HAVE_F16C
    if (half_f16c()) {
        half_round_array_f16c(x, n);
        return;
    }
#endif
    half_round_array_portable(x, n);
}
