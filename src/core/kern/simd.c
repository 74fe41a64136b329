#include "kern/simd.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[SIMD_COUNT] = { "scalar", "avx2", "avx512" };

static int cap = -1; /* -1: not read from the environment yet */

SimdLevel simd_detected(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return SIMD_AVX2;
#endif
    return SIMD_SCALAR;
}

bool simd_parse(const char *s, SimdLevel *out)
{
    for (int i = 0; i < SIMD_COUNT; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (SimdLevel)i;
            return true;
        }
    return false;
}

SimdLevel simd_level(void)
{
    if (cap < 0) {
        SimdLevel l;
        cap = simd_parse(getenv("QSCOPE_SIMD"), &l) ? (int)l : SIMD_COUNT - 1;
    }
    SimdLevel have = simd_detected();
    return (int)have < cap ? have : (SimdLevel)cap;
}

void simd_cap(SimdLevel l) { cap = (int)l; }

const char *simd_name(SimdLevel l) { return (int)l >= 0 && l < SIMD_COUNT ? names[l] : "?"; }
