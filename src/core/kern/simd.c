#include "kern/simd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[SIMD_COUNT] = { "scalar", "avx2", "avx512" };

/* -1: not known yet. Atomic: any thread may be the first to ask; every one computes the
 * same value. Kernels ask per call, so the CPU is probed once, not per call. */
static atomic_int cap = -1, detected = -1;

static SimdLevel probe(void)
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

SimdLevel simd_detected(void)
{
    int l = atomic_load_explicit(&detected, memory_order_relaxed);
    if (l < 0) {
        l = (int)probe();
        atomic_store_explicit(&detected, l, memory_order_relaxed);
    }
    return (SimdLevel)l;
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
    int c = atomic_load_explicit(&cap, memory_order_relaxed);
    if (c < 0) {
        SimdLevel l;
        c = simd_parse(getenv("QSCOPE_SIMD"), &l) ? (int)l : SIMD_COUNT - 1;
        atomic_store_explicit(&cap, c, memory_order_relaxed);
    }
    SimdLevel have = simd_detected();
    return (int)have < c ? have : (SimdLevel)c;
}

void simd_cap(SimdLevel l) { atomic_store_explicit(&cap, (int)l, memory_order_relaxed); }

const char *simd_name(SimdLevel l) { return (int)l >= 0 && l < SIMD_COUNT ? names[l] : "?"; }
