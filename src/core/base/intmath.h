/* Small integer helpers shared by kernels and ops. */
#ifndef QS_BASE_INTMATH_H
#define QS_BASE_INTMATH_H

#include <stdint.h>

/* Greatest common divisor of two non-negative values (gcd(a, 0) = a). */
static inline int64_t gcd_i64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

#endif
