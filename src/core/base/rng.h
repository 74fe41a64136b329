/* A small seeded generator (splitmix64 seeding xoshiro256**), so that the same seed gives
 * the same numbers on every machine and libc: shuffles, weight init, synthetic data. */
#ifndef QS_RNG_H
#define QS_RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Uniform integer in [0, n), without modulo bias. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Normal deviates: kern/normal.h (built on kern/fmath.h, which comes after base). */

#endif
