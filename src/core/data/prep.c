/* Conversion to float32 and preprocessing of samples (prep.h). */
#include "data/prep.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* IEEE half -> float, exact for every input (subnormals, infinities, NaN payloads). */
static float prep_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | man << 13;
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise into float's wider exponent range */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400u));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ffu) << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void prep_cvt_f16(const void *src, float *dst, size_t n)
{
    const uint16_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = prep_half_to_float(s[i]);
}
static void prep_cvt_u8(const void *src, float *dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = s[i];
}
static void prep_cvt_i8(const void *src, float *dst, size_t n)
{
    const int8_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = s[i];
}
static void prep_cvt_i32(const void *src, float *dst, size_t n)
{
    const int32_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)s[i];
}
static void prep_cvt_i64(const void *src, float *dst, size_t n)
{
    const int64_t *s = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)s[i];
}

/* To-f32 converters by dtype; DT_F32 needs none. */
static void (*const prep_cvt[DT_COUNT])(const void *, float *, size_t) = {
    [DT_F16] = prep_cvt_f16, [DT_U8] = prep_cvt_u8,   [DT_I8] = prep_cvt_i8,
    [DT_I32] = prep_cvt_i32, [DT_I64] = prep_cvt_i64,
};

bool prep_converts(DType dtype)
{
    return (unsigned)dtype < DT_COUNT && prep_cvt[dtype];
}

void prep_to_f32(DType dtype, const void *src, float *dst, size_t n)
{
    prep_cvt[dtype](src, dst, n);
}

QsStatus prep_check_params(float scale, float mean, float std, QsError *err)
{
    if (!isfinite(scale) || !isfinite(mean) || !isfinite(std) || std == 0.0f)
        return qs_fail(err, QS_EINVAL, "preprocessing scale=%g mean=%g std=%g: all must be "
                       "finite and std non-zero", (double)scale, (double)mean, (double)std);
    return QS_OK;
}

const char *prep_nonfinite_name(float v)
{
    return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

QsStatus prep_check(const float *v, size_t n, size_t first, size_t per, float scale,
                    float mean, float std, QsError *err)
{
    for (size_t j = 0; j < n; j++) {
        float y = (v[j] * scale - mean) / std;
        if (isfinite(v[j]) && isfinite(y))
            continue;
        size_t i = first + j;
        if (!isfinite(v[j]))
            return qs_fail(err, QS_EFORMAT, "sample %zu, element %zu is %s", i / per, i % per,
                           prep_nonfinite_name(v[j]));
        return qs_fail(err, QS_EFORMAT, "sample %zu, element %zu (%g) becomes %s after "
                       "scale=%g mean=%g std=%g", i / per, i % per, (double)v[j],
                       prep_nonfinite_name(y), (double)scale, (double)mean, (double)std);
    }
    return QS_OK;
}

void prep_apply(float *v, size_t n, float scale, float mean, float std)
{
    if (scale != 1.0f || mean != 0.0f || std != 1.0f)
        for (size_t i = 0; i < n; i++)
            v[i] = (v[i] * scale - mean) / std;
}
