/* IEEE 754 binary16 ("half") conversion: round half to even, NaN and Inf kept, subnormals
 * exact. Uses F16C instructions where the CPU has them (chosen once at start-up) and a
 * portable path otherwise; both give identical bits (tested). */
#ifndef QS_HALF_H
#define QS_HALF_H

#include <stdbool.h>
#include <stdint.h>

uint16_t half_from_float(float x);
float half_to_float(uint16_t h);

/* Bulk conversions of n values. */
void half_from_float_array(const float *x, int64_t n, uint16_t *h);
void half_to_float_array(const uint16_t *h, int64_t n, float *x);
/* x = half_to_float(half_from_float(x)) in place: rounds values to what FP16 can hold.
 * 65504 is the largest half; |x| >= 65520 rounds to +-Inf (as on an FP16 device), and
 * 65504 < |x| < 65520 rounds down to 65504. */
void half_round_array(float *x, int64_t n);

/* Forces the portable path (for tests and benchmarks); returns whether F16C is in use. */
void half_force_portable(bool on);
bool half_uses_f16c(void);

#define HALF_MAX 65504.0f

#endif
