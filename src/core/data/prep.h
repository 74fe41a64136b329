/* Preprocessing shared by splits held in memory and splits read from a file batch by
 * batch: the same per-element conversion to float32 and the same x = (x * scale - mean) /
 * std, so both give the same floats. */
#ifndef QS_PREP_H
#define QS_PREP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/tensor.h"

/* Whether prep_to_f32 converts dtype (u8, i8, i32, i64, f16; f32 needs no conversion). */
bool prep_converts(DType dtype);
/* n elements of dtype at src to float32 at dst (prep_converts(dtype) must hold). */
void prep_to_f32(DType dtype, const void *src, float *dst, size_t n);
/* QS_EINVAL unless scale, mean and std are finite and std non-zero. */
QsStatus prep_check_params(float scale, float mean, float std, QsError *err);
/* Fails with QS_EFORMAT naming the first element of v[0 .. n) that is NaN or Inf or becomes
 * it after preprocessing; v[i] is element `first + i` of the split, of `per` elements per
 * sample (for the message). */
QsStatus prep_check(const float *v, size_t n, size_t first, size_t per, float scale,
                    float mean, float std, QsError *err);
/* "NaN", "+Inf" or "-Inf" for a value that is not finite. */
const char *prep_nonfinite_name(float v);
/* v = (v * scale - mean) / std in place, unless that is the identity. */
void prep_apply(float *v, size_t n, float scale, float mean, float std);

#endif
