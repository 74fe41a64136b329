/* The one checked float-to-integer conversion of the quantization arithmetic.
 *
 * C leaves converting a floating value to an integer type undefined when the value has no
 * representation there: NaN, +-Inf, or anything outside the type's range. Every place where
 * quantization turns a float into an integer (codes, zero points, int32 biases, fixed-point
 * multipliers) goes through fconv_round, which has a defined result for every input and says
 * what happened, so the caller can decide:
 *   - where a user's file or option brought the value (a NaN bias in a model, a NaN zero
 *     point), it is an error, or a rule stated in docs/quantization.md;
 *   - where the arithmetic defines it (a code beyond the int8 grid, an int32 bias beyond
 *     +-(2^31 - 1)), it is the documented saturation.
 * docs/quantization.md ("Float to integer") states the rule. */
#ifndef QS_FCONV_H
#define QS_FCONV_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum FconvHow {
    FCONV_EXACT,     /* finite, and inside [lo, hi] once rounded */
    FCONV_SATURATED, /* outside [lo, hi] (+-Inf included): the nearer bound */
    FCONV_NAN,       /* NaN: no integer stands for it; 0, clamped into [lo, hi] */
} FconvHow;

/* Whether the double d is exactly the int64 i (d = (double)i; 2^63 is no int64). */
static inline bool fconv_holds(double d, int64_t i)
{
    return d < 0x1p63 && (int64_t)d == i;
}

/* x rounded half to even (nearbyint under the default rounding mode: 0.5 -> 0, 1.5 -> 2,
 * -2.5 -> -2), then saturated to [lo, hi] (lo <= hi). NaN gives 0 clamped into [lo, hi].
 * *how (may be NULL) says which of the three happened. Defined for every x and every pair of
 * int64 bounds (beyond 2^53, where double cannot hold every integer, a value that rounds to
 * a bound's neighbourhood gives the bound). */
static inline int64_t fconv_round(double x, int64_t lo, int64_t hi, FconvHow *how)
{
    double r = nearbyint(x), dlo = (double)lo, dhi = (double)hi;
    FconvHow h = FCONV_EXACT;
    int64_t v;
    if (r != r) {
        h = FCONV_NAN;
        v = lo > 0 ? lo : hi < 0 ? hi : 0;
    } else if (r <= dlo) { /* -Inf too */
        h = r == dlo && fconv_holds(dlo, lo) ? FCONV_EXACT : FCONV_SATURATED;
        v = lo;
    } else if (r >= dhi) {
        h = r == dhi && fconv_holds(dhi, hi) ? FCONV_EXACT : FCONV_SATURATED;
        v = hi;
    } else {
        /* dlo < r < dhi with dlo, dhi in [-2^63, 2^63]: r is an integer that int64 holds */
        v = (int64_t)r;
    }
    if (how)
        *how = h;
    return v;
}

#endif
