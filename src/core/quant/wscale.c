#include "quant/wscale.h"

void wscale_params(const float *w, int64_t oc, int64_t k, int bits, bool per_tensor,
                   QParams *qp)
{
    float tlo = 0.0f, thi = 0.0f;
    for (int64_t c = 0; c < oc; c++) {
        float lo = 0.0f, hi = 0.0f;
        for (int64_t i = 0; i < k; i++) {
            float v = w[c * k + i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        qp[c] = quant_params(lo, hi, bits, true);
        tlo = lo < tlo ? lo : tlo;
        thi = hi > thi ? hi : thi;
    }
    if (per_tensor) {
        QParams t = quant_params(tlo, thi, bits, true);
        for (int64_t c = 0; c < oc; c++)
            qp[c] = t;
    }
}
