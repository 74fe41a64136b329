/* The Adam / AdamW update of a run of float32 parameters (train/optim.c has the rule): each
 * element in double from float32 inputs, rounded to float32 once per stored value, in the
 * same operations and order at every SIMD level (the vector levels run the scalar
 * definition's double operations in lanes), so every level gives the same bits. */
#ifndef QS_ADAM_H
#define QS_ADAM_H

#include <stdbool.h>
#include <stdint.h>

typedef struct AdamCoef {
    double b1, b2;        /* the betas */
    double one_b1, one_b2; /* 1 - b1, 1 - b2 */
    double step_size;     /* lr / (1 - b1^t) */
    double bc2_sqrt;      /* sqrt(1 - b2^t) */
    double eps;
    double wd;            /* Adam: L2 through the gradient (0: none) */
    double decay;         /* AdamW: 1 - lr wd, applied to w first */
    bool decoupled;       /* AdamW */
} AdamCoef;

/* w, m, v updated in place from the gradient g, n elements:
 *   adamw: w = (float)(w decay);  adam with wd != 0: g = (float)(g + wd w)
 *   m = (float)(b1 m + one_b1 g);  v = (float)(b2 v + one_b2 g g)
 *   w = (float)(w - step_size m / (sqrt(v) / bc2_sqrt + eps))   (new m and v) */
void adam_update_f32(float *w, const float *g, float *m, float *v, int64_t n,
                     const AdamCoef *c);

#endif
