/* Standard normal deviates from the seeded generator (synthetic data's noise and
 * directions, tests' Gaussian data). It lives beside fmath rather than in base/rng.c
 * because it is built on fmath's log and cospi (base comes before kern), so that the same
 * seed gives the same deviates on every machine (docs/reproducibility.md). */
#ifndef QS_NORMAL_H
#define QS_NORMAL_H

#include "base/rng.h"

/* One standard normal deviate (Box-Muller, the cosine branch); two uniforms per call. */
double rng_normal(Rng *r);

#endif
