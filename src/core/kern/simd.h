/* The SIMD level qscope's own kernels run at: the best the CPU has, or lower when asked.
 * Float kernels give the same bits at every level (docs/reproducibility.md), integer
 * kernels are exact, so forcing a level down changes speed only; tests do it to prove that.
 * QSCOPE_SIMD=scalar|avx2|avx512 in the environment caps the level at start-up. */
#ifndef QS_SIMD_H
#define QS_SIMD_H

#include <stdbool.h>

typedef enum { SIMD_SCALAR = 0, SIMD_AVX2, SIMD_AVX512, SIMD_COUNT } SimdLevel;

/* The level in use: min(what the CPU has, the cap). AVX2 means AVX2 and FMA; AVX512 means
 * AVX-512 F, BW, DQ and VL. */
SimdLevel simd_level(void);
/* The best level this CPU has, whatever the cap. */
SimdLevel simd_detected(void);
/* Caps the level (tests, `QSCOPE_SIMD`); a cap above the CPU's level is clipped. */
void simd_cap(SimdLevel cap);
const char *simd_name(SimdLevel l);
/* "scalar", "avx2", "avx512" -> level; false for anything else. */
bool simd_parse(const char *s, SimdLevel *out);

#endif
