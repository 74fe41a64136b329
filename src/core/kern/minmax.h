/* The smallest and largest finite values of a run of floats: base/quant.h's
 * quant_finite_range, the same bits at every SIMD level (signed zeros included: when the
 * extreme is a zero, it is the first zero of the run, as the scalar scan keeps it). */
#ifndef QS_MINMAX_H
#define QS_MINMAX_H

#include <stdbool.h>
#include <stdint.h>

/* *lo, *hi; false (and 0, 0) when no value is finite. */
bool finite_range_f32(const float *x, int64_t n, float *lo, float *hi);

#endif
