/* One file for the three levels: each kernel is a compare, a blend and an add. */
#include "kern/backward.h"

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "kern/pool.h"
#include "kern/simd.h"

/* ---- Relu and Clip: dx += dy where the mask passes --------------------------------- */

typedef struct PassJob {
    const float *x, *dy;
    float *dx;
    float lo, hi;
    bool relu; /* !(x <= 0), else lo <= x <= hi */
} PassJob;

/* Inlined into the vector kernels for their tails: a tail call from them into plain SSE
 * code would skip their vzeroupper, and the dirty upper halves would slow every later
 * SSE instruction of the process. */
static inline __attribute__((always_inline)) void pass_scalar(const PassJob *j, int64_t b,
                                                              int64_t e)
{
    for (int64_t i = b; i < e; i++)
        if (j->relu ? !(j->x[i] <= 0.0f) : j->x[i] >= j->lo && j->x[i] <= j->hi)
            j->dx[i] += j->dy[i];
}

__attribute__((target("avx2,fma"))) static void pass_avx2(const PassJob *j, int64_t b,
                                                            int64_t e)
{
    __m256 lo = _mm256_set1_ps(j->lo), hi = _mm256_set1_ps(j->hi), zero = _mm256_setzero_ps();
    int64_t i = b;
    for (; i + 8 <= e; i += 8) {
        __m256 x = _mm256_loadu_ps(j->x + i), d = _mm256_loadu_ps(j->dx + i);
        __m256 m = j->relu ? _mm256_cmp_ps(x, zero, _CMP_NLE_UQ)
                           : _mm256_and_ps(_mm256_cmp_ps(x, lo, _CMP_GE_OQ),
                                           _mm256_cmp_ps(x, hi, _CMP_LE_OQ));
        __m256 s = _mm256_add_ps(d, _mm256_loadu_ps(j->dy + i));
        _mm256_storeu_ps(j->dx + i, _mm256_blendv_ps(d, s, m));
    }
    pass_scalar(j, i, e);
}

__attribute__((target("avx512f"))) static void pass_avx512(const PassJob *j, int64_t b,
                                                             int64_t e)
{
    __m512 lo = _mm512_set1_ps(j->lo), hi = _mm512_set1_ps(j->hi), zero = _mm512_setzero_ps();
    int64_t i = b;
    for (; i + 16 <= e; i += 16) {
        __m512 x = _mm512_loadu_ps(j->x + i), d = _mm512_loadu_ps(j->dx + i);
        __mmask16 m = j->relu ? _mm512_cmp_ps_mask(x, zero, _CMP_NLE_UQ)
                              : _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ) &
                                    _mm512_cmp_ps_mask(x, hi, _CMP_LE_OQ);
        _mm512_storeu_ps(j->dx + i, _mm512_mask_add_ps(d, m, d, _mm512_loadu_ps(j->dy + i)));
    }
    pass_scalar(j, i, e);
}

static void pass_range(void *ctx, int64_t b, int64_t e)
{
    const PassJob *j = ctx;
    switch (simd_level()) {
    case SIMD_AVX512:
        pass_avx512(j, b, e);
        break;
    case SIMD_AVX2:
        pass_avx2(j, b, e);
        break;
    default:
        pass_scalar(j, b, e);
    }
}

void backward_relu_f32(const float *x, const float *dy, float *dx, int64_t n)
{
    PassJob j = { x, dy, dx, 0.0f, 0.0f, true };
    pool_for(n, 1 << 14, pass_range, &j); /* as clamp_f32: no thread for less than 64 KB */
}

void backward_clip_f32(const float *x, const float *dy, float *dx, int64_t n, float lo,
                       float hi)
{
    PassJob j = { x, dy, dx, lo, hi, false };
    pool_for(n, 1 << 14, pass_range, &j);
}

/* ---- FakeQuant ---------------------------------------------------------------------
 * The vector levels compute the term's factor in float: inside the grid r - v, which is
 * exact in float (r = rint(v) is within 1/2 of v, so r - v is a multiple of v's ulp below
 * 2^-1 in magnitude, or v itself when r = 0), hence (double)(r - v) equals the
 * definition's (double)r - (double)v; lo below and hi above. The product dy * factor is
 * taken in double lanes, and the terms are added to the sum one at a time, in order,
 * skipping NaN codes (no term), as the definition does. */

static inline __attribute__((always_inline)) double
fqb_scalar(const float *x, const float *dy, float *dx, int64_t b, int64_t e, float s, float lo,
           float hi, bool want, double acc) /* inlined: as pass_scalar */
{
    for (int64_t i = b; i < e; i++) {
        float v = x[i] / s, r = rintf(v);
        if (r >= lo && r <= hi) {
            if (dx)
                dx[i] += dy[i];
            if (want)
                acc += (double)dy[i] * ((double)r - (double)v);
        } else if (want && r < lo) {
            acc += (double)dy[i] * lo;
        } else if (want && r > hi) {
            acc += (double)dy[i] * hi;
        } /* NaN: no gradient at all */
    }
    return acc;
}

/* Adds terms[k] for each set bit k of `has` (of `lanes`), in increasing k. */
static inline double fqb_sum(const double *terms, unsigned has, int lanes, double acc)
{
    unsigned all = (1u << lanes) - 1u;
    if (has == all)
        for (int k = 0; k < lanes; k++)
            acc += terms[k];
    else
        for (int k = 0; k < lanes; k++)
            if (has >> k & 1u)
                acc += terms[k];
    return acc;
}

__attribute__((target("avx2,fma"))) static double
fqb_avx2(const float *x, const float *dy, float *dx, int64_t n, float s, float lo, float hi,
         bool want, double acc)
{
    __m256 vs = _mm256_set1_ps(s), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    double terms[8];
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), vs), d = _mm256_loadu_ps(dy + i);
        __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 below = _mm256_cmp_ps(r, vlo, _CMP_LT_OQ), above = _mm256_cmp_ps(r, vhi, _CMP_GT_OQ);
        __m256 in = _mm256_and_ps(_mm256_cmp_ps(r, vlo, _CMP_GE_OQ), _mm256_cmp_ps(r, vhi, _CMP_LE_OQ));
        if (dx) {
            __m256 g = _mm256_loadu_ps(dx + i);
            _mm256_storeu_ps(dx + i, _mm256_blendv_ps(g, _mm256_add_ps(g, d), in));
        }
        if (!want)
            continue;
        __m256 f = _mm256_blendv_ps(_mm256_blendv_ps(vhi, vlo, below), _mm256_sub_ps(r, v), in);
        __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
        __m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
        _mm256_storeu_pd(terms, _mm256_mul_pd(d0, _mm256_cvtps_pd(_mm256_castps256_ps128(f))));
        _mm256_storeu_pd(terms + 4, _mm256_mul_pd(d1, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1))));
        unsigned has = (unsigned)_mm256_movemask_ps(_mm256_or_ps(in, _mm256_or_ps(below, above)));
        acc = fqb_sum(terms, has, 8, acc);
    }
    return fqb_scalar(x, dy, dx, i, n, s, lo, hi, want, acc);
}

__attribute__((target("avx512f"))) static double
fqb_avx512(const float *x, const float *dy, float *dx, int64_t n, float s, float lo, float hi,
           bool want, double acc)
{
    __m512 vs = _mm512_set1_ps(s), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    double terms[16];
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + i), vs), d = _mm512_loadu_ps(dy + i);
        __m512 r = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __mmask16 below = _mm512_cmp_ps_mask(r, vlo, _CMP_LT_OQ);
        __mmask16 above = _mm512_cmp_ps_mask(r, vhi, _CMP_GT_OQ);
        __mmask16 in = _mm512_cmp_ps_mask(r, vlo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(r, vhi, _CMP_LE_OQ);
        if (dx) {
            __m512 g = _mm512_loadu_ps(dx + i);
            _mm512_storeu_ps(dx + i, _mm512_mask_add_ps(g, in, g, d));
        }
        if (!want)
            continue;
        __m512 f = _mm512_mask_blend_ps(in, _mm512_mask_blend_ps(below, vhi, vlo), _mm512_sub_ps(r, v));
        __m256 d1 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(d), 1));
        __m256 f1 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1));
        _mm512_storeu_pd(terms, _mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(d)),
                                              _mm512_cvtps_pd(_mm512_castps512_ps256(f))));
        _mm512_storeu_pd(terms + 8, _mm512_mul_pd(_mm512_cvtps_pd(d1), _mm512_cvtps_pd(f1)));
        acc = fqb_sum(terms, (unsigned)(in | below | above), 16, acc);
    }
    return fqb_scalar(x, dy, dx, i, n, s, lo, hi, want, acc);
}

void backward_fakequant_f32(const float *x, const float *dy, float *dx, int64_t n, float s,
                            float lo, float hi, double *acc)
{
    bool want = acc != NULL;
    double a = want ? *acc : 0.0;
    switch (simd_level()) {
    case SIMD_AVX512:
        a = fqb_avx512(x, dy, dx, n, s, lo, hi, want, a);
        break;
    case SIMD_AVX2:
        a = fqb_avx2(x, dy, dx, n, s, lo, hi, want, a);
        break;
    default:
        a = fqb_scalar(x, dy, dx, 0, n, s, lo, hi, want, a);
    }
    if (want)
        *acc = a;
}

/* ---- Bias gradients: eight channels' chains at once, each in its own order ---------- */

/* Eight channels' sums in double lanes: each block of positions transposed so that one
 * vector holds one position of the eight channels, then added in increasing position. */
typedef double ChanSums __attribute__((vector_size(64)));
#define CS_TILE 64

#define CHANNEL_SUMS8(SUF, TARGET)                                                          \
    __attribute__((target(TARGET))) static void sums8_##SUF(const float *p, int64_t n,      \
                                                            int64_t c, int64_t hw,          \
                                                            double *out)                    \
    {                                                                                       \
        float tmp[CS_TILE * 8] __attribute__((aligned(32)));                                \
        ChanSums a = { 0 };                                                                 \
        for (int64_t b = 0; b < n; b++)                                                     \
            for (int64_t i = 0; i < hw; i += CS_TILE) {                                     \
                int64_t cnt = hw - i < CS_TILE ? hw - i : CS_TILE;                          \
                backward_transpose(p + b * c * hw + i, hw, 8, cnt, tmp, 8);                 \
                for (int64_t k = 0; k < cnt; k++) {                                         \
                    typedef float F8 __attribute__((vector_size(32)));                      \
                    a += __builtin_convertvector(*(const F8 *)(tmp + k * 8), ChanSums);     \
                }                                                                           \
            }                                                                               \
        for (int j = 0; j < 8; j++)                                                         \
            out[j] = a[j];                                                                  \
    }

CHANNEL_SUMS8(avx2, "avx2")
CHANNEL_SUMS8(avx512, "avx512f")

void backward_channel_sums(const float *dy, int64_t n, int64_t c, int64_t hw, float *db)
{
    int64_t ch = 0;
    SimdLevel l = simd_level();
    for (; l != SIMD_SCALAR && ch + 8 <= c; ch += 8) {
        double a[8];
        if (l == SIMD_AVX512)
            sums8_avx512(dy + ch * hw, n, c, hw, a);
        else
            sums8_avx2(dy + ch * hw, n, c, hw, a);
        for (int j = 0; j < 8; j++)
            db[ch + j] = (float)(db[ch + j] + a[j]);
    }
    for (; ch + 8 <= c; ch += 8) {
        double a[8] = { 0.0 };
        for (int64_t b = 0; b < n; b++) {
            const float *p = dy + (b * c + ch) * hw;
            for (int64_t i = 0; i < hw; i++)
                for (int j = 0; j < 8; j++) /* unrolled: eight independent chains */
                    a[j] += p[j * hw + i];
        }
        for (int j = 0; j < 8; j++)
            db[ch + j] = (float)(db[ch + j] + a[j]);
    }
    for (; ch < c; ch++) {
        double acc = 0.0;
        for (int64_t b = 0; b < n; b++) {
            const float *p = dy + (b * c + ch) * hw;
            for (int64_t i = 0; i < hw; i++)
                acc += p[i];
        }
        db[ch] = (float)(db[ch] + acc);
    }
}

/* ---- Transposition -------------------------------------------------------------------- */

/* dst row r (dst + r * ld_dst, 8 floats) = column r of the 8 x 8 block at src (rows
 * src + r * ld_src): copies, in registers. */
__attribute__((target("avx2"))) static inline void t8x8(const float *src, int64_t ld_src, float *dst,
                                                  int64_t ld_dst)
{
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * ld_src);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* r[0..3]: columns 0, 1, 2, 3 of rows 0-3 (low) and 4-7 of ... in 128-bit halves */
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ld_dst, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ld_dst, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}

/* The 8 x 8 blocks of rows [0, r8) and columns [0, c8) (multiples of 8). */
__attribute__((target("avx2"))) static void t8_blocks(const float *src, int64_t ld_src,
                                                      int64_t r8, int64_t c8, float *dst,
                                                      int64_t ld_dst)
{
    for (int64_t r = 0; r < r8; r += 8)
        for (int64_t c = 0; c < c8; c += 8)
            t8x8(src + r * ld_src + c, ld_src, dst + c * ld_dst + r, ld_dst);
}

void backward_transpose(const float *src, int64_t ld_src, int64_t rows, int64_t cols,
                        float *dst, int64_t ld_dst)
{
    int64_t r8 = 0, c8 = 0;
    if (simd_level() >= SIMD_AVX2) {
        r8 = rows / 8 * 8;
        c8 = cols / 8 * 8;
        t8_blocks(src, ld_src, r8, c8, dst, ld_dst);
    }
    for (int64_t r = 0; r < rows; r++) /* what the blocks left: the last rows and columns */
        for (int64_t c = r < r8 ? c8 : 0; c < cols; c++)
            dst[c * ld_dst + r] = src[r * ld_src + c];
}
