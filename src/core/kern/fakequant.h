/* Fake quantization of a run of values sharing one grid, the inner loop of QAT's
 * FakeQuantize op: y = s * clamp(rint(x / s), lo, hi), NaN kept, with lo = qmin - z and
 * hi = qmax - z. The same bits as base/quant.h's quant_fake (x / s in float, ties to even,
 * saturation, a zero of either sign giving +0) at every SIMD level, for a finite scale
 * s > 0; quant_fake stays the definition for every other scale. */
#ifndef QS_FAKEQUANT_H
#define QS_FAKEQUANT_H

#include <stdint.h>

/* y may be x. lo <= 0 <= hi, both integers of magnitude below 2^24. */
void fakequant_f32(const float *x, float *y, int64_t n, float s, float lo, float hi);

#endif
