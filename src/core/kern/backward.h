/* Elementwise gradient kernels of the training ops: Relu's and Clip's pass masks and
 * FakeQuant's straight-through estimator with its LSQ scale gradient. Every level gives
 * the scalar definition's bits: the same float and double operations per element, and the
 * scale gradient's double sum taken element by element in increasing order (the vector
 * levels compute each term in lanes, then add the terms one at a time). */
#ifndef QS_BACKWARD_H
#define QS_BACKWARD_H

#include <stddef.h>
#include <stdint.h>

/* torch's threshold_backward: dx[i] += dy[i] where !(x[i] <= 0) (NaN passes). */
void backward_relu_f32(const float *x, const float *dy, float *dx, int64_t n);

/* torch's clamp_backward: dx[i] += dy[i] where lo <= x[i] <= hi (NaN blocks). */
void backward_clip_f32(const float *x, const float *dy, float *dx, int64_t n, float lo,
                       float hi);

/* FakeQuant's backward over a run sharing one grid (scale s, code range [lo, hi] of
 * r = rint(x / s) with the zero point taken out; ops/op_fakequant.c has the rule):
 * dx[i] += dy[i] where lo <= r <= hi (dx may be NULL), and when acc is not NULL,
 * *acc += dy (r - v) inside, dy lo below, dy hi above (v = x / s; NaN adds nothing), in
 * double, in increasing i. Any scale (the division and the comparisons are IEEE's). */
void backward_fakequant_f32(const float *x, const float *dy, float *dx, int64_t n, float s,
                            float lo, float hi, double *acc);

/* A bias's gradient over (n, c, hw) data: db[ch] = (float)(db[ch] + S) with S the double
 * sum of dy[(b c + ch) hw + i] over b, then i, in increasing order (one channel's sum is
 * one chain of adds; several channels' chains run side by side). */
void backward_channel_sums(const float *dy, int64_t n, int64_t c, int64_t hw, float *db);

/* dst[c * ld_dst + r] = src[r * ld_src + c] for r < rows, c < cols (copies; 8 x 8 blocks
 * in registers at AVX2 and above). */
void backward_transpose(const float *src, int64_t ld_src, int64_t rows, int64_t cols,
                        float *dst, int64_t ld_dst);

#endif
