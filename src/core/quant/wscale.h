/* The weight scales of integer weights (docs/quantization.md, "Weights"): symmetric,
 * restricted range of `bits`, one scale per output channel or one for the tensor, each
 * from the range of the weights it covers widened to contain 0. One rule, read by the
 * executor's lowering (qexec), QAT's weight FakeQuant (qat) and inspection (ptq/wstats.h),
 * so what inspection reports is what runs. */
#ifndef QS_WSCALE_H
#define QS_WSCALE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/quant.h"

/* w is (oc, k) row-major; qp[oc] receives each channel's parameters (all equal when
 * per_tensor). */
void wscale_params(const float *w, int64_t oc, int64_t k, int bits, bool per_tensor,
                   QParams *qp);

#endif
