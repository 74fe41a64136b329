#include "kern/normal.h"

#include <math.h>

#include "kern/fmath.h"

double rng_normal(Rng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    /* cos(2 pi u2) as cospi(2 u2): 2 u2 is exact, so no rounded pi enters. */
    return sqrt(-2.0 * fm_log(u1)) * fm_cospi(2.0 * u2);
}
